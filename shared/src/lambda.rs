//! Every function's `main`, in one place: the cold start (JSON logs, configuration, AWS
//! clients) and the run loop, over HTTP (API Gateway) or over events (a schedule, an IAM
//! invoke). A function's `main.rs` only names what to build and which method answers.

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Body, Error, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;

use crate::config::Config;

/// Logging first, then the configuration (a missing or malformed variable fails the cold
/// start) and the AWS SDK's configuration from the standard environment.
pub async fn cold_start() -> Result<(aws_config::SdkConfig, Config), Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    Ok((crate::aws_config().await, config))
}

/// Serves API Gateway requests with `handle` on `service`, which lives as long as the process.
pub async fn serve_http<S, F, Fut>(service: S, handle: F) -> Result<(), Error>
where
    S: Sync + 'static,
    F: Fn(&'static S, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send,
{
    let service: &'static S = Box::leak(Box::new(service));
    lambda_http::run(service_fn(move |req| handle(service, req))).await
}

/// Serves events (EventBridge's schedule, an IAM invoke, an SQS batch) with `handle` on
/// `service`.
pub async fn serve_events<S, E, R, F, Fut>(service: S, handle: F) -> Result<(), Error>
where
    S: Sync + 'static,
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(&'static S, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    let service: &'static S = Box::leak(Box::new(service));
    lambda_runtime::run(service_fn(move |event| handle(service, event))).await
}
