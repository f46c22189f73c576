//! Lambda entry point: wiring only. Invoked by the data platform with IAM, not over HTTP.
// The handler's futures nest deep (SDK, HTTP client, OAuth); a clean build needs the room.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey_resolve::Resolver;
use latchkey_shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey_shared::telemetry::init();
    let config = Config::from_env()?;
    let resolver = Resolver::new(&latchkey_shared::aws_config().await, &config);
    let resolver = &resolver;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Error>(resolver.handle(event.payload).await)
        },
    ))
    .await
}
