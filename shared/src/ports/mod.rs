//! The ports: what the use cases need from the outside world, as narrow traits. The AWS
//! adapters implement them ([`crate::store::Store`] over DynamoDB, [`crate::vault::Vault`] over
//! Secrets Manager, [`crate::events::Events`] over EventBridge, [`SystemClock`]; built by
//! [`crate::aws`]); the in-memory ones in `crate::testing` (feature `testing`) let the handlers' logic be tested without an
//! emulator. A function is handed only the ports its IAM role lets it use: [`Ports`] always,
//! the secret store only where the role may read or write secrets (not sharing).
//!
//! Retries that do not depend on the backend (a batch read's unprocessed keys, a counter's
//! transaction conflicts) are the traits' provided methods, so they are tested against the
//! in-memory adapters with the faults the serial emulator never produces.

use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use crate::catalog::SecretFields;
use crate::domain::{CredentialId, Principal, Role};
use crate::error::InternalError;
use crate::record::{CredentialRecord, HistoryEntry};

mod items;

pub use items::{
    Change, Exhausted, Expiry, Grants, IdempotencyKey, IdempotencyRecord, OAuthPending, Pending,
    SecretOwner, TaggedSecret, TestAllowance, Usage, UsageChange, WriteOutcome, BATCH_GET_LIMIT,
};

/// How one attempt to count a connection test went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Yes,
    Over(Exhausted),
    /// Another test's transaction touched the same counter at the same moment.
    Conflict,
}

/// Where credentials' metadata, ACLs, history, usages and the service's bookkeeping live.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The credential's metadata and ACL, strongly consistent.
    async fn get(&self, id: &CredentialId) -> Result<Option<CredentialRecord>, InternalError>;

    /// One batch read of at most [`BATCH_GET_LIMIT`] credentials: those found (missing ones
    /// left out, order not kept) and the ids the backend left unprocessed.
    async fn get_batch(
        &self,
        ids: &[CredentialId],
    ) -> Result<(Vec<CredentialRecord>, Vec<CredentialId>), InternalError>;

    /// Metadata, grants, history and idempotency key in one transaction; see [`Change`].
    async fn write(&self, change: Change<'_>) -> Result<WriteOutcome, InternalError>;

    /// Credential ids granted to `principal` of `org`, ascending, strictly after `after`, and
    /// whether more may follow.
    async fn granted_to(
        &self,
        org: &str,
        principal: &Principal,
        after: Option<&CredentialId>,
        limit: i32,
    ) -> Result<(Vec<(CredentialId, Role)>, bool), InternalError>;

    /// A history line on its own (a use, which changes nothing else).
    async fn append_history(
        &self,
        id: &CredentialId,
        entry: &HistoryEntry,
    ) -> Result<(), InternalError>;

    /// History, newest first; `after` is the position the previous page ended on.
    async fn history(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), InternalError>;

    /// Adds or removes a usage with its history line, only while the credential exists and is
    /// not deleted; false when it is gone or deleted.
    async fn write_usage(
        &self,
        id: &CredentialId,
        change: UsageChange<'_>,
        history: &HistoryEntry,
    ) -> Result<bool, InternalError>;

    async fn usage(
        &self,
        id: &CredentialId,
        kind: &str,
        resource_id: &str,
    ) -> Result<Option<Usage>, InternalError>;

    /// Usages by kind and resource id; `after` is the position the previous page ended on.
    async fn usages(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<Usage>, Option<String>), InternalError>;

    async fn usage_count(&self, id: &CredentialId) -> Result<usize, InternalError>;

    async fn idempotency(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InternalError>;

    /// Takes the refresh lease of a credential until `now + for_how_long`, unless another
    /// holder's has not run out by `now`.
    async fn take_lease(
        &self,
        id: &CredentialId,
        owner: &str,
        now: OffsetDateTime,
        for_how_long: Duration,
    ) -> Result<bool, InternalError>;

    /// Releases a lease this holder took (and nobody else's).
    async fn release_lease(&self, id: &CredentialId, owner: &str) -> Result<(), InternalError>;

    /// Remembers an authorization request until its `expires_at`, keyed by its `state`.
    async fn put_oauth_state(
        &self,
        state: &str,
        pending: &OAuthPending,
    ) -> Result<(), InternalError>;

    /// Reads and deletes, atomically, the authorization request for `state` (whether or not it
    /// has expired: that is the caller's to judge).
    async fn take_oauth_state(&self, state: &str) -> Result<Option<OAuthPending>, InternalError>;

    /// One attempt to count a connection test against the allowances of `minute` (epoch
    /// minutes) with a limit, all in one transaction.
    async fn count_test_once(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        minute: i64,
    ) -> Result<Counted, InternalError>;

    /// Credential ids whose refresh is due by `by` (epoch seconds), and how many index items
    /// were read.
    async fn due_for_refresh(&self, by: i64) -> Result<(Vec<CredentialId>, usize), InternalError>;

    /// Credential ids whose scheduled health check is due by `by` (epoch seconds), and how many
    /// index items were read.
    async fn due_for_check(&self, by: i64) -> Result<(Vec<CredentialId>, usize), InternalError>;

    /// Metadata of any number of credentials, in batches, retrying unprocessed keys with
    /// backoff. Missing ones are left out; the order is not kept.
    async fn get_many(&self, ids: &[CredentialId]) -> Result<Vec<CredentialRecord>, InternalError> {
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_GET_LIMIT) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let (found, unprocessed) = self.get_batch(&pending).await?;
                records.extend(found);
                pending = unprocessed;
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(InternalError::new("DynamoDB kept keys unprocessed"));
                    }
                    tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
                }
            }
        }
        Ok(records)
    }

    /// Counts one connection test against the caller's and the organisation's allowance for
    /// the minute of `now`, so the limit holds across every function instance. Returns the
    /// allowance that is used up, if one is (and then counts nothing). Tests that start at the
    /// same moment conflict on the counters; each retries, and after the last try the test
    /// counts as over the limit (fail closed).
    async fn count_test(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        now: OffsetDateTime,
    ) -> Result<Option<Exhausted>, InternalError> {
        let Some((first, _)) = allowance.limits().next() else {
            return Ok(None);
        };
        let minute = now.unix_timestamp().div_euclid(60);
        for attempt in 0..5u64 {
            match self.count_test_once(org, user, allowance, minute).await? {
                Counted::Yes => return Ok(None),
                Counted::Over(which) => return Ok(Some(which)),
                Counted::Conflict => {
                    tokio::time::sleep(Duration::from_millis(10 + 20 * attempt)).await
                }
            }
        }
        Ok(Some(first))
    }
}

/// Reading a credential's secret fields: all a function that only tests or hands out needs.
#[async_trait]
pub trait SecretReader: Send + Sync {
    /// The secret fields stored in exactly `version`.
    async fn read(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
    ) -> Result<SecretFields, InternalError>;
}

/// Where credentials' secret fields live, one version per change; the version protocol is
/// [`crate::vault`]'s.
#[async_trait]
pub trait SecretStore: SecretReader {
    /// Creates the credential's secret; returns the version id.
    async fn create(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
    ) -> Result<String, InternalError>;

    /// Writes a new version derived from `parent` that nothing reads until metadata names it.
    async fn put_pending(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
        why: Pending,
        parent: &str,
    ) -> Result<String, InternalError>;

    /// Makes `version`, which the metadata now names, the current one.
    async fn promote(
        &self,
        id: &CredentialId,
        version: &str,
        named_before: &str,
    ) -> Result<(), InternalError>;

    /// Takes the pending label off a version whose metadata commit was refused.
    async fn abandon(
        &self,
        id: &CredentialId,
        version: &str,
        why: Pending,
    ) -> Result<(), InternalError>;

    /// What a refresh starts from: the named version's fields, with the tokens of an
    /// interrupted refresh that derives from it.
    async fn refresh_input(
        &self,
        owner: SecretOwner<'_>,
        named: &str,
    ) -> Result<SecretFields, InternalError>;

    /// Schedules deletion of the secret holding `named` (the version the metadata names); it
    /// stays restorable for `days`.
    async fn schedule_delete(
        &self,
        id: &CredentialId,
        named: &str,
        days: i64,
    ) -> Result<(), InternalError>;

    /// Cancels a scheduled deletion of the secret holding `named`.
    async fn restore(&self, id: &CredentialId, named: &str) -> Result<(), InternalError>;

    /// Immediate deletion of the credential's secret, only where no metadata names it; a secret
    /// that is not there is not an error.
    async fn destroy_unreferenced(&self, id: &CredentialId) -> Result<(), InternalError>;

    /// Every live secret of this service, for the orphan sweep.
    async fn tagged_secrets(&self) -> Result<Vec<TaggedSecret>, InternalError>;
}

/// Where domain events go. Events carry ids, names and field names, never values.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Publishes after the change has committed; a failure is logged, not returned: the change
    /// stands, and failing the request would invite a retry of something already done.
    async fn publish(&self, detail_type: &str, detail: Value);
}

/// One unit of scheduled work the sweep hands to the workers: a credential to refresh or to
/// health-check if it is (still) due by `due_by` (unix seconds). Stale or repeated jobs are
/// harmless: the worker re-reads the credential and the single-flight lease decides.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum Job {
    Refresh { id: CredentialId, due_by: i64 },
    Check { id: CredentialId, due_by: i64 },
}

/// Where the sweep puts the work it found: a queue the workers consume.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Enqueues every job or fails; a failure may leave some enqueued (the next sweep finds the
    /// rest still due, and a job enqueued twice is done once).
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), InternalError>;
}

/// What time it is.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The ports every function is given: credentials' metadata, events, time. The secret store is
/// handed separately, only to the functions whose role may touch secrets.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn CredentialStore>,
    pub events: Arc<dyn EventSink>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Runs `work` holding the credential's single-flight lease (taken until now plus
    /// `for_how_long`): `None` when someone else holds it. Released afterwards; a lease that
    /// cannot be released runs out by itself.
    pub async fn leased<T>(
        &self,
        id: &CredentialId,
        for_how_long: Duration,
        work: impl std::future::Future<Output = Result<T, InternalError>>,
    ) -> Result<Option<T>, InternalError> {
        let owner = ulid::Ulid::new().to_string();
        let taken = self.store.take_lease(id, &owner, self.now(), for_how_long);
        if !taken.await? {
            return Ok(None);
        }
        let outcome = work.await;
        if let Err(e) = self.store.release_lease(id, &owner).await {
            tracing::warn!(error = %e, "lease not released; it expires by itself");
        }
        outcome.map(Some)
    }
}

/// What a credential's connection test says: the connection testers, one per protocol.
#[cfg(feature = "testers")]
#[async_trait]
pub trait ConnectionTester: Send + Sync {
    async fn test(&self, target: &crate::target::Target<'_>) -> crate::status::Observation;
}

/// Where a token credential's new tokens come from: the provider's token endpoint.
#[cfg(feature = "testers")]
#[async_trait]
pub trait TokenEndpoint: Send + Sync {
    /// A new access token (and perhaps a rotated refresh token) for the credential, or the
    /// observation of why the provider would not issue one.
    async fn acquire(
        &self,
        target: &crate::target::Target<'_>,
    ) -> Result<crate::oauth::Tokens, crate::status::Observation>;
}
