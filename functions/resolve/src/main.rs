//! Lambda entry point: wiring only. Invoked by the data platform with IAM, not over HTTP.
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use latchkey_resolve::Resolver;
use latchkey_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_events(Resolver::new(&aws, &config), Resolver::on_invoke).await
}
