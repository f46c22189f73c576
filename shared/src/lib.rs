//! Latchkey's common crate: everything the functions share.

pub mod api;
pub mod authz;
pub mod aws;
pub mod cache;
pub mod catalog;
#[cfg(feature = "testers")]
pub mod checker;
pub mod commit;
pub mod config;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod events;
pub mod guard;
pub mod handler;
pub mod health;
pub mod http;
pub mod lambda;
#[cfg(test)]
mod module_graph;
#[cfg(feature = "testers")]
pub mod oauth;
pub mod openapi;
#[cfg(feature = "testers")]
pub mod outbound;
pub mod page;
pub mod ports;
pub mod queue;
pub mod record;
#[cfg(feature = "testers")]
pub mod refresh;
pub mod schedule;
pub mod secret_routing;
pub mod secret_versions;
pub mod status;
pub mod store;
#[cfg(feature = "testers")]
pub mod target;
pub mod telemetry;
#[cfg(feature = "testers")]
pub mod testers;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validity;
pub mod vault;

/// AWS clients built once at cold start from the standard environment (`AWS_ENDPOINT_URL` and
/// friends): the same code path against AWS and the local emulator.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
