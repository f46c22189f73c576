//! Lambda entry point: wiring only. The handler lives in the crate's library.

use latchkey_console::{Config, Service};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    latchkey_shared::telemetry::init();
    // Everything the console serves is compiled in: no AWS client, only how to sign in.
    let service = Service::new(&Config::from_env());
    latchkey_shared::lambda::serve_http(service, Service::handle).await
}
