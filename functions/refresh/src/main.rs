//! Lambda entry point: wiring only. The sweep runs on the schedule the template declares.
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use latchkey_refresh::Sweeper;
use latchkey_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_events(Sweeper::new(&aws, &config)?, Sweeper::on_schedule).await
}
