//! Fresh at any scale: the scheduled sweep only finds what is due (reading every shard of the
//! sparse due indexes in parallel, never the table) and hands it to a queue; workers consume
//! the queue, as many at once as the template allows, each job one refresh or one health check
//! under the credential's single-flight lease. SQS and Lambda's event source mapping carry the
//! retries, the isolation per job and the dead letters; the sweep stays one cheap invocation
//! however many credentials fall due.

use lambda_runtime::LambdaEvent;
use latchkey_shared::config::{Config, ConfigError};
use latchkey_shared::error::InternalError;
use latchkey_shared::ports::{Job, Ports, WorkQueue};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

mod worker;

pub use worker::{CheckReport, WorkReport, Worker, SWEEP_ACTOR};

/// What one sweep found and handed to the workers.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Items read from the refresh due index.
    pub items_read: usize,
    /// Refreshes enqueued: tokens that fall due before the next sweep.
    pub due: usize,
    /// Health checks enqueued: checks due now.
    pub checks_due: usize,
}

pub struct Sweeper {
    ports: Ports,
    queue: Arc<dyn WorkQueue>,
    /// Health checks are looked for only when they are on.
    checks: bool,
    period: Duration,
}

impl Sweeper {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Result<Self, ConfigError> {
        Ok(Self::with_ports(
            latchkey_shared::aws::ports(aws, config),
            latchkey_shared::aws::work_queue(aws, config)?,
            config,
        ))
    }

    pub fn with_ports(ports: Ports, queue: Arc<dyn WorkQueue>, config: &Config) -> Self {
        Self {
            ports,
            queue,
            checks: config.health_check_period.is_some(),
            period: config.refresh_period,
        }
    }

    /// The Lambda handler: the schedule's event says only when it fired; every sweep is the same.
    pub async fn on_schedule(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        latchkey_shared::schedule::answer(&event.payload, self.sweep()).await
    }

    /// Enqueues the refreshes that fall due before the next sweep (so nothing waits a period),
    /// then the health checks due now. A failure part-way leaves the rest due: the schedule's
    /// retry or the next sweep enqueues them, and a job enqueued twice is done once.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<SweepReport, InternalError> {
        let now = self.ports.now();
        let horizon = (now + self.period).unix_timestamp();
        let (due, items_read) = self.ports.store.due_for_refresh(horizon).await?;
        let refreshes: Vec<Job> = due
            .into_iter()
            .map(|id| Job::Refresh {
                id,
                due_by: horizon,
            })
            .collect();
        self.queue.enqueue(&refreshes).await?;
        let mut checks = Vec::new();
        if self.checks {
            let at = now.unix_timestamp();
            let (due, _) = self.ports.store.due_for_check(at).await?;
            checks = due
                .into_iter()
                .map(|id| Job::Check { id, due_by: at })
                .collect();
            self.queue.enqueue(&checks).await?;
        }
        let report = SweepReport {
            items_read,
            due: refreshes.len(),
            checks_due: checks.len(),
        };
        tracing::info!(
            items_read = report.items_read,
            due = report.due,
            checks_due = report.checks_due,
            "refresh sweep done: work enqueued"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
