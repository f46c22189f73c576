//! Lambda entry point: wiring only. Runs on the schedule the template declares.

use latchkey_janitor::Janitor;
use latchkey_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_events(Janitor::new(&aws, &config), Janitor::on_schedule).await
}
