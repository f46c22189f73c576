//! Lambda entry point: wiring only. The handler lives in the crate's library.

use lambda_http::{run, service_fn, Error, Request};
use latchkey_console::Service;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey_shared::telemetry::init();
    // Everything the console serves is compiled in: no configuration, no AWS client.
    let service = Service::new();
    run(service_fn(move |req: Request| async move {
        service.handle(req).await
    }))
    .await
}
