//! Scheduled functions' Lambda glue, the counterpart of [`crate::http`] for the sweeps that
//! EventBridge starts: its scheduled event says only when it fired, and every sweep answers
//! its report.

use serde::Serialize;
use serde_json::Value;
use std::future::Future;

use crate::error::InternalError;

/// Logs when the schedule fired, runs `sweep`, and answers its report as JSON.
pub async fn answer<R: Serialize>(
    event: &Value,
    sweep: impl Future<Output = Result<R, InternalError>>,
) -> Result<Value, lambda_http::Error> {
    let fired = event["time"].as_str().unwrap_or("unknown");
    tracing::info!(fired, "scheduled sweep");
    Ok(serde_json::to_value(sweep.await?)?)
}
