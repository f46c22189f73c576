//! The refresh worker: one SQS batch of jobs at a time, each a refresh or a health check of one
//! credential, with bounded concurrency. Its answer names only the messages to deliver again
//! (`ReportBatchItemFailures`): a job the service could not finish (a store or secret-store
//! error) or a message that is not a job (a poison message, dead-lettered after the queue's
//! receive limit). A job that ran is done, whatever its outcome: a provider's refusal is recorded
//! on the credential and retried by the refresh rules, not by the queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use latchkey_shared::checker::{CheckOutcome, Checker};
use latchkey_shared::config::Config;
use latchkey_shared::error::InternalError;
use latchkey_shared::ports::{
    ConnectionTester, Job, Ports, SecretStore, TestAllowance, TokenEndpoint,
};
use latchkey_shared::refresh::{RefreshOutcome, Refresher, When};
use latchkey_shared::status::Verdict;
use serde::Serialize;
use std::ops::AddAssign;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Who the history says refreshed a credential when nobody asked.
pub const SWEEP_ACTOR: &str = "service:refresh";

/// What the workers did: with one batch, or summed over the batches of a sweep.
#[derive(Debug, Default, Serialize, PartialEq, Eq, Clone, Copy)]
pub struct WorkReport {
    pub refreshed: usize,
    /// Busy (another refresh holds the lease), no longer due, gone, or not refreshable.
    pub skipped: usize,
    pub failed: usize,
    pub reauth_required: usize,
    /// Jobs left for redelivery: the service failed, or the message is not a job.
    pub errors: usize,
    pub checks: CheckReport,
}

/// What the health checks did.
#[derive(Debug, Default, Serialize, PartialEq, Eq, Clone, Copy)]
pub struct CheckReport {
    pub valid: usize,
    pub invalid: usize,
    pub inconclusive: usize,
    /// Busy, no longer due, rate limited (the next sweep finds it still due), changed
    /// meanwhile, or checks turned off since the job was enqueued.
    pub skipped: usize,
}

impl AddAssign for WorkReport {
    fn add_assign(&mut self, o: Self) {
        self.refreshed += o.refreshed;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.reauth_required += o.reauth_required;
        self.errors += o.errors;
        self.checks.valid += o.checks.valid;
        self.checks.invalid += o.checks.invalid;
        self.checks.inconclusive += o.checks.inconclusive;
        self.checks.skipped += o.checks.skipped;
    }
}

pub struct Worker {
    ports: Ports,
    secrets: Arc<dyn SecretStore>,
    provider: Arc<dyn TokenEndpoint>,
    tester: Arc<dyn ConnectionTester>,
    /// Health checks: every this long (`None`: off), within the organisation's test allowance.
    check_period: Option<Duration>,
    allowance: TestAllowance,
    margin: Option<Duration>,
    concurrency: usize,
}

impl Worker {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        // One client for both: the testers are also the providers' token endpoint.
        let outbound = Arc::new(latchkey_shared::testers::Testers::from_config(config));
        Self::with_ports(
            latchkey_shared::aws::ports(aws, config),
            latchkey_shared::aws::secrets(aws, config),
            outbound.clone(),
            outbound,
            config,
        )
    }

    pub fn with_ports(
        ports: Ports,
        secrets: Arc<dyn SecretStore>,
        provider: Arc<dyn TokenEndpoint>,
        tester: Arc<dyn ConnectionTester>,
        config: &Config,
    ) -> Self {
        Self {
            ports,
            secrets,
            provider,
            tester,
            check_period: config.health_check_period,
            allowance: config.test_rate,
            margin: config.refresh_margin,
            concurrency: config.refresh_concurrency.max(1),
        }
    }

    /// The Lambda handler: the batch's failures, for the event source mapping to redeliver.
    pub async fn on_batch(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        Ok(self.work(event.payload).await.1)
    }

    /// Runs every job of the batch; what happened, and which messages failed.
    pub async fn work(&self, batch: SqsEvent) -> (WorkReport, SqsBatchResponse) {
        let done: Vec<(Option<String>, WorkReport)> = stream::iter(batch.records)
            .map(|message| async move {
                let report = self.message(&message).await;
                (message.message_id, report)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut report = WorkReport::default();
        let mut response = SqsBatchResponse::default();
        for (message_id, one) in done {
            if one.errors > 0 {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
            report += one;
        }
        tracing::info!(
            refreshed = report.refreshed,
            skipped = report.skipped,
            failed = report.failed,
            reauth_required = report.reauth_required,
            errors = report.errors,
            checks_valid = report.checks.valid,
            checks_invalid = report.checks.invalid,
            checks_inconclusive = report.checks.inconclusive,
            checks_skipped = report.checks.skipped,
            "refresh batch done"
        );
        (report, response)
    }

    async fn message(&self, message: &SqsMessage) -> WorkReport {
        let mut report = WorkReport::default();
        let job = serde_json::from_str::<Job>(message.body.as_deref().unwrap_or_default());
        let Ok(job) = job else {
            // Only the message id: the body is not ours to log.
            tracing::error!(message_id = ?message.message_id, "not a job: left for the dead-letter queue");
            report.errors = 1;
            return report;
        };
        match self.run(&job).await {
            Ok(done) => report += done,
            Err(e) => {
                tracing::error!(error = %e, ?job, "job failed: left for redelivery");
                report.errors = 1;
            }
        }
        report
    }

    /// One job, counted.
    pub async fn run(&self, job: &Job) -> Result<WorkReport, InternalError> {
        let mut report = WorkReport::default();
        match job {
            Job::Refresh { id, due_by } => {
                let refresher = Refresher {
                    ports: &self.ports,
                    secrets: &*self.secrets,
                    provider: &*self.provider,
                    margin: self.margin,
                };
                match refresher
                    .refresh(id, When::DueBy(at(*due_by)?), SWEEP_ACTOR)
                    .await?
                {
                    RefreshOutcome::Refreshed { .. } => report.refreshed = 1,
                    RefreshOutcome::Skipped { .. } => report.skipped = 1,
                    RefreshOutcome::Failed { .. } => report.failed = 1,
                    RefreshOutcome::ReauthRequired => report.reauth_required = 1,
                }
            }
            Job::Check { id, due_by } => {
                let Some(period) = self.check_period else {
                    report.checks.skipped = 1;
                    return Ok(report);
                };
                let checker = Checker {
                    ports: &self.ports,
                    secrets: &*self.secrets,
                    tester: &*self.tester,
                    allowance: self.allowance,
                    period,
                };
                match checker.check(id, at(*due_by)?).await? {
                    CheckOutcome::Checked(Verdict::Valid) => report.checks.valid = 1,
                    CheckOutcome::Checked(Verdict::Invalid) => report.checks.invalid = 1,
                    CheckOutcome::Checked(Verdict::Inconclusive) => report.checks.inconclusive = 1,
                    _ => report.checks.skipped = 1,
                }
            }
        }
        Ok(report)
    }
}

fn at(unix: i64) -> Result<OffsetDateTime, InternalError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|e| InternalError::new(e.to_string()))
}
