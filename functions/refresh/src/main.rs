//! Lambda entry point: wiring only. Runs on the schedule the template declares.
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error};
use latchkey_refresh::Sweeper;
use latchkey_shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey_shared::telemetry::init();
    let config = Config::from_env()?;
    let sweeper = Sweeper::new(&latchkey_shared::aws_config().await, &config);
    let sweeper = &sweeper;
    run(service_fn(move |event| sweeper.on_schedule(event))).await
}
