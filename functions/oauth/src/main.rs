//! Lambda entry point: wiring only. The handler lives in the crate's library.
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use latchkey_oauth::Service;
use latchkey_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_http(Service::new(&aws, &config), Service::handle).await
}
