//! Lambda entry point: wiring only. The handler lives in the crate's library.
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use lambda_http::{run, service_fn, Error, Request};
use latchkey_shared::config::Config;
use latchkey_test_connection::Service;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey_shared::telemetry::init();
    let config = Config::from_env()?;
    let service = Service::new(&latchkey_shared::aws_config().await, &config);
    let service = &service;
    run(service_fn(move |req: Request| async move {
        service.handle(req).await
    }))
    .await
}
