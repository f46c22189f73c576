//! The refresh sweep: every period, refresh what is due before the next sweep, then run the
//! scheduled health checks that are due, each with bounded concurrency. It reads only the
//! sparse due indexes, never the table.

use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use latchkey_shared::checker::{CheckOutcome, Checker};
use latchkey_shared::config::Config;
use latchkey_shared::error::InternalError;
use latchkey_shared::ports::{ConnectionTester, Ports, SecretStore, TestAllowance, TokenEndpoint};
use latchkey_shared::refresh::{RefreshOutcome, Refresher, When};
use latchkey_shared::status::Verdict;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Who the history says refreshed a credential when nobody asked.
pub const SWEEP_ACTOR: &str = "service:refresh";

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Items read from the due index.
    pub items_read: usize,
    pub due: usize,
    pub refreshed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub reauth_required: usize,
    pub errors: usize,
    /// The scheduled health checks of the same run.
    pub checks: CheckReport,
}

/// What the health checks of one sweep did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    pub due: usize,
    pub valid: usize,
    pub invalid: usize,
    pub inconclusive: usize,
    /// Busy, no longer due, rate limited (retried next sweep) or changed meanwhile.
    pub skipped: usize,
    pub errors: usize,
}

pub struct Sweeper {
    ports: Ports,
    secrets: Arc<dyn SecretStore>,
    provider: Arc<dyn TokenEndpoint>,
    tester: Arc<dyn ConnectionTester>,
    /// Health checks: every this long (`None`: off), within the organisation's test allowance.
    check_period: Option<Duration>,
    allowance: TestAllowance,
    margin: Option<Duration>,
    period: Duration,
    concurrency: usize,
}

impl Sweeper {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        Self::with_concurrency(aws, config, config.refresh_concurrency)
    }

    pub fn with_concurrency(
        aws: &aws_config::SdkConfig,
        config: &Config,
        concurrency: usize,
    ) -> Self {
        Self::with_ports(
            latchkey_shared::aws::ports(aws, config),
            latchkey_shared::aws::secrets(aws, config),
            Arc::new(latchkey_shared::testers::Testers::from_config(config)),
            config,
            concurrency,
        )
    }

    /// `outbound` is both the provider's token endpoint and the connection testers.
    pub fn with_ports<O: TokenEndpoint + ConnectionTester + 'static>(
        ports: Ports,
        secrets: Arc<dyn SecretStore>,
        outbound: Arc<O>,
        config: &Config,
        concurrency: usize,
    ) -> Self {
        Self {
            ports,
            secrets,
            provider: outbound.clone(),
            tester: outbound,
            check_period: config.health_check_period,
            allowance: config.test_rate,
            margin: config.refresh_margin,
            period: config.refresh_period,
            concurrency: concurrency.max(1),
        }
    }

    /// The Lambda handler: the schedule's event says only when it fired; every sweep is the same.
    pub async fn on_schedule(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        latchkey_shared::schedule::answer(&event.payload, self.sweep()).await
    }

    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<SweepReport, InternalError> {
        // Whatever falls due before the next sweep is refreshed now, so nothing waits a period.
        let now = self.ports.now();
        let horizon = now + self.period;
        let (due, items_read) = self
            .ports
            .store
            .due_for_refresh(horizon.unix_timestamp())
            .await?;
        let refresher = Refresher {
            ports: &self.ports,
            secrets: &*self.secrets,
            provider: &*self.provider,
            margin: self.margin,
        };
        let outcomes: Vec<Result<RefreshOutcome, InternalError>> = stream::iter(&due)
            .map(|id| refresher.refresh(id, When::DueBy(horizon), SWEEP_ACTOR))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut report = SweepReport {
            items_read,
            due: due.len(),
            ..SweepReport::default()
        };
        for outcome in outcomes {
            match outcome {
                Ok(RefreshOutcome::Refreshed { .. }) => report.refreshed += 1,
                Ok(RefreshOutcome::Skipped { .. }) => report.skipped += 1,
                Ok(RefreshOutcome::Failed { .. }) => report.failed += 1,
                Ok(RefreshOutcome::ReauthRequired) => report.reauth_required += 1,
                Err(e) => {
                    tracing::error!(error = %e, "refresh failed unexpectedly");
                    report.errors += 1;
                }
            }
        }
        // A failing check query leaves the refreshes reported: they happened.
        match self.check(now).await {
            Ok(checks) => report.checks = checks,
            Err(e) => {
                tracing::error!(error = %e, "health checks not run");
                report.checks.errors += 1;
            }
        }
        // Numeric fields: the template's metric filter counts `failed` from this line.
        tracing::info!(
            items_read = report.items_read,
            due = report.due,
            refreshed = report.refreshed,
            skipped = report.skipped,
            failed = report.failed,
            reauth_required = report.reauth_required,
            errors = report.errors,
            "refresh sweep done"
        );
        Ok(report)
    }

    /// Runs the health checks due by `now`.
    pub async fn check(&self, now: time::OffsetDateTime) -> Result<CheckReport, InternalError> {
        let Some(period) = self.check_period else {
            return Ok(CheckReport::default());
        };
        let (due, _) = self.ports.store.due_for_check(now.unix_timestamp()).await?;
        let checker = Checker {
            ports: &self.ports,
            secrets: &*self.secrets,
            tester: &*self.tester,
            allowance: self.allowance,
            period,
        };
        let outcomes: Vec<Result<CheckOutcome, InternalError>> = stream::iter(&due)
            .map(|id| checker.check(id, now))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut report = CheckReport {
            due: due.len(),
            ..CheckReport::default()
        };
        for outcome in outcomes {
            match outcome {
                Ok(CheckOutcome::Checked(Verdict::Valid)) => report.valid += 1,
                Ok(CheckOutcome::Checked(Verdict::Invalid)) => report.invalid += 1,
                Ok(CheckOutcome::Checked(Verdict::Inconclusive)) => report.inconclusive += 1,
                Ok(_) => report.skipped += 1,
                Err(e) => {
                    tracing::error!(error = %e, "health check failed unexpectedly");
                    report.errors += 1;
                }
            }
        }
        tracing::info!(
            due = report.due,
            valid = report.valid,
            invalid = report.invalid,
            inconclusive = report.inconclusive,
            skipped = report.skipped,
            errors = report.errors,
            "health checks done"
        );
        Ok(report)
    }
}
