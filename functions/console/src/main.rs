//! Lambda entry point: wiring only. The handler lives in the crate's library.

use lambda_http::{run, service_fn, Error, Request};
use latchkey_console::{Config, Service};

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey_shared::telemetry::init();
    // Everything the console serves is compiled in: no AWS client, only how to sign in.
    let service = Service::new(&Config::from_env());
    let service = &service;
    run(service_fn(move |req: Request| async move {
        service.handle(req).await
    }))
    .await
}
