//! One scheduled health check of one credential ([`crate::health`] keeps the schedule): the
//! same tester, rate limit and status rules as a person's test (so `inconclusive` never
//! changes a status), recorded with the trigger `scheduled_check`, and the next check put at
//! the credential's phase of the next period, in the same write.

use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;

use crate::domain::CredentialId;
use crate::error::InternalError;
use crate::health::{next_after, schedule, wants_checks};
use crate::ports::{ConnectionTester, Ports, SecretReader, TestAllowance};
use crate::record::HistoryAction;
use crate::status::{Trigger, Verdict};
use crate::target::Target;
use crate::validity::{record, Recorded};

/// Who the history says tested a credential when nobody asked.
pub const CHECK_ACTOR: &str = "service:health-check";

/// How long one check may hold a credential: longer than a test may take.
const LEASE: Duration = Duration::from_secs(60);

/// How one scheduled check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Tested; the verdict is recorded (a status change only for valid or invalid).
    Checked(Verdict),
    /// Someone else holds the credential's lease (a refresh, another sweep's check).
    Busy,
    /// Not due (any more), no longer checked (opted out, deleted, token-based) or gone.
    NotDue,
    /// The organisation used its connection tests for this minute: the next sweep retries.
    RateLimited,
    /// The credential changed during the test: the verdict is about details it no longer has.
    ChangedMeanwhile,
}

pub struct Checker<'a> {
    pub ports: &'a Ports,
    pub secrets: &'a dyn SecretReader,
    pub tester: &'a dyn ConnectionTester,
    /// The organisation's allowance is shared with people's tests; checks have no user's.
    pub allowance: TestAllowance,
    pub period: Duration,
}

impl Checker<'_> {
    /// Checks `id` if its check is due by `by`.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn check(
        &self,
        id: &CredentialId,
        by: OffsetDateTime,
    ) -> Result<CheckOutcome, InternalError> {
        let leased = self.ports.leased(id, LEASE, self.check_leased(id, by));
        Ok(leased.await?.unwrap_or(CheckOutcome::Busy))
    }

    async fn check_leased(
        &self,
        id: &CredentialId,
        by: OffsetDateTime,
    ) -> Result<CheckOutcome, InternalError> {
        let Some(credential) = self.ports.store.get(id).await? else {
            return Ok(CheckOutcome::NotDue);
        };
        let Some(due) = credential
            .check_due
            .filter(|d| *d <= by.unix_timestamp())
            .and_then(|d| OffsetDateTime::from_unix_timestamp(d).ok())
        else {
            return Ok(CheckOutcome::NotDue);
        };
        if !wants_checks(&credential, Some(self.period)) {
            return Ok(CheckOutcome::NotDue);
        }
        let secrets = self
            .secrets
            .read(credential.secret_owner(), &credential.secret_version)
            .await?;
        // Counted once the test can run: a check that cannot does not spend the allowance.
        let org_only = TestAllowance {
            per_user: 0,
            per_org: self.allowance.per_org,
        };
        let now = self.ports.now();
        let store = &self.ports.store;
        let counted = store.count_test(&credential.org_id, CHECK_ACTOR, org_only, now);
        if counted.await?.is_some() {
            return Ok(CheckOutcome::RateLimited);
        }
        let observation = self.tester.test(&Target::of(&credential, &secrets)).await;
        // The same time of the next period; after a backlog, the first such time from now.
        let mut scheduled = credential.clone();
        let next = next_after(&credential, self.period, due.max(self.ports.now()));
        schedule(&mut scheduled, Some(next));
        let recorded = record(
            self.ports,
            &scheduled,
            &observation,
            Trigger::ScheduledCheck,
            HistoryAction::Tested,
            CHECK_ACTOR,
        )
        .await?;
        tracing::info!(result = ?observation.result, code = %observation.code, "scheduled check");
        Ok(match recorded {
            Recorded::Stale => CheckOutcome::ChangedMeanwhile,
            _ => CheckOutcome::Checked(observation.result),
        })
    }
}
