//! DynamoDB adapter: one table for metadata, grants, history, usages, leases, OAuth states,
//! test-rate counters and idempotency keys (brief §6), one module per kind of item. The key
//! layout is private to [`keys`].
//!
//! Every write that changes a credential goes through one transaction that also writes its
//! history line, conditioned on the version it read, so concurrent edits cannot both win.
//! Callers reach it through [`crate::commit`], never directly. The operations are reachable
//! only through the port, [`crate::ports::CredentialStore`].

mod credentials;
mod due_index;

/// For tools that seed the table directly (benchmarks, tests): the due-index shard of a
/// credential, as the store files it.
pub use keys::due_shard;
mod history;
mod idempotency;
mod keys;
mod leases;
mod oauth_state;
mod rate;
mod usages;

// What passes through the port, where callers have always found it.
pub use crate::ports::{
    Change, Exhausted, Expiry, Grants, IdempotencyKey, IdempotencyRecord, OAuthPending,
    TestAllowance, Usage, UsageChange, WriteOutcome, BATCH_GET_LIMIT,
};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use crate::domain::{CredentialId, Principal, Role};
use crate::error::{sdk, InternalError};
use crate::record::{CredentialRecord, HistoryEntry};

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";
const CONFLICT: &str = "TransactionConflict";

/// A transaction DynamoDB cancelled: each item's reason code, in item order.
struct Cancelled(Vec<Option<String>>);

impl Cancelled {
    /// Whether item `i` was cancelled for one of `codes`.
    fn is(&self, i: usize, codes: &[&str]) -> bool {
        self.0
            .get(i)
            .and_then(Option::as_deref)
            .is_some_and(|c| codes.contains(&c))
    }

    /// A cancellation the caller did not expect: internal, with the reasons for the log.
    fn unexpected(&self) -> InternalError {
        InternalError::new(format!("transaction cancelled: {:?}", self.0))
    }
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    /// Shards of each due index.
    shards: u16,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, shards: u16) -> Self {
        Self {
            client,
            table: table.into(),
            shards: shards.max(1),
        }
    }

    /// One item by key, strongly consistent.
    async fn get_one<T: serde::de::DeserializeOwned>(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<T>, InternalError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        out.item
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(Into::into)
    }

    /// Runs one transaction. `Ok(Err(_))` is DynamoDB cancelling it (a condition failed or
    /// another transaction touched an item), with each item's reason; other failures are `Err`.
    ///
    /// The idempotency token makes the SDK's retry of a transaction whose answer was lost
    /// (a timeout, a 5xx) succeed as the first attempt did, instead of failing on the very
    /// condition the first attempt satisfied: a commit that landed is never reported as a
    /// conflict, which would make the caller clean up a secret version the metadata names. The
    /// SDK fills one itself when none is set; it is set here so that this guarantee is visible
    /// and does not rest on a default.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, InternalError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(ulid::Ulid::new().to_string())
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    Ok(Err(Cancelled(
                        e.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().map(str::to_owned))
                            .collect(),
                    )))
                }
                _ => Err(sdk(err)),
            },
        }
    }
}

/// The DynamoDB adapter of the credential-store port: each operation lives in the module of
/// the kind of item it touches.
#[async_trait::async_trait]
impl crate::ports::CredentialStore for Store {
    async fn get(&self, id: &CredentialId) -> Result<Option<CredentialRecord>, InternalError> {
        Store::get(self, id).await
    }
    async fn get_batch(
        &self,
        ids: &[CredentialId],
    ) -> Result<(Vec<CredentialRecord>, Vec<CredentialId>), InternalError> {
        Store::get_batch(self, ids).await
    }
    async fn write(&self, change: Change<'_>) -> Result<WriteOutcome, InternalError> {
        Store::write(self, change).await
    }
    async fn granted_to(
        &self,
        org: &str,
        principal: &Principal,
        after: Option<&CredentialId>,
        limit: i32,
    ) -> Result<(Vec<(CredentialId, Role)>, bool), InternalError> {
        Store::granted_to(self, org, principal, after, limit).await
    }
    async fn append_history(
        &self,
        id: &CredentialId,
        entry: &HistoryEntry,
    ) -> Result<(), InternalError> {
        Store::append_history(self, id, entry).await
    }
    async fn history(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), InternalError> {
        Store::history(self, id, limit, after).await
    }
    async fn write_usage(
        &self,
        id: &CredentialId,
        change: UsageChange<'_>,
        history: &HistoryEntry,
    ) -> Result<bool, InternalError> {
        Store::write_usage(self, id, change, history).await
    }
    async fn usage(
        &self,
        id: &CredentialId,
        kind: &str,
        resource_id: &str,
    ) -> Result<Option<Usage>, InternalError> {
        Store::usage(self, id, kind, resource_id).await
    }
    async fn usages(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<Usage>, Option<String>), InternalError> {
        Store::usages(self, id, limit, after).await
    }
    async fn usage_count(&self, id: &CredentialId) -> Result<usize, InternalError> {
        Store::usage_count(self, id).await
    }
    async fn idempotency(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InternalError> {
        Store::idempotency(self, key).await
    }
    async fn take_lease(
        &self,
        id: &CredentialId,
        owner: &str,
        now: time::OffsetDateTime,
        for_how_long: std::time::Duration,
    ) -> Result<bool, InternalError> {
        Store::take_lease(self, id, owner, now, for_how_long).await
    }
    async fn release_lease(&self, id: &CredentialId, owner: &str) -> Result<(), InternalError> {
        Store::release_lease(self, id, owner).await
    }
    async fn put_oauth_state(
        &self,
        state: &str,
        pending: &OAuthPending,
    ) -> Result<(), InternalError> {
        Store::put_oauth_state(self, state, pending).await
    }
    async fn take_oauth_state(&self, state: &str) -> Result<Option<OAuthPending>, InternalError> {
        Store::take_oauth_state(self, state).await
    }
    async fn count_test_once(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        minute: i64,
    ) -> Result<crate::ports::Counted, InternalError> {
        Store::count_test_once(self, org, user, allowance, minute).await
    }
    async fn due_for_refresh(&self, by: i64) -> Result<(Vec<CredentialId>, usize), InternalError> {
        Store::due(self, &due_index::REFRESHES, by).await
    }
    async fn due_for_check(&self, by: i64) -> Result<(Vec<CredentialId>, usize), InternalError> {
        Store::due(self, &due_index::CHECKS, by).await
    }
}
