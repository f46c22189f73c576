//! Lambda entry point: wiring only. The handler lives in the crate's library.

use latchkey_shared::lambda;
use latchkey_sharing::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_http(Service::new(&aws, &config), Service::handle).await
}
