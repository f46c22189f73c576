//! Lambda entry point: wiring only. The worker consumes the refresh queue (SQS event source).
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use latchkey_refresh::Worker;
use latchkey_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_events(Worker::new(&aws, &config), Worker::on_batch).await
}
