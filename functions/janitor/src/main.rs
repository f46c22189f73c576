//! Lambda entry point: wiring only. Runs on the schedule the template declares.

use lambda_runtime::{run, service_fn, Error};
use latchkey_janitor::Janitor;
use latchkey_shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey_shared::telemetry::init();
    let config = Config::from_env()?;
    let janitor = Janitor::new(&latchkey_shared::aws_config().await, &config);
    let janitor = &janitor;
    run(service_fn(move |event| janitor.on_schedule(event))).await
}
