//! Lambda entry point: wiring only. The operator invokes it (no schedule, no route).

use latchkey_migrate::Migrator;
use latchkey_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (aws, config) = lambda::cold_start().await?;
    lambda::serve_events(Migrator::new(&aws, &config), Migrator::on_invoke).await
}
