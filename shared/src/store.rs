//! DynamoDB adapter: one table for metadata, grants, history and idempotency keys (brief §6).
//!
//! Every write that changes a credential goes through one transaction that also writes its
//! history line, conditioned on the version it read, so concurrent edits cannot both win.
//! Callers reach it through [`crate::commit`], never directly.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, Select, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

use crate::domain::{CredentialId, Principal, Role};
use crate::error::{sdk, ApiError};
use crate::record::{CredentialRecord, HistoryEntry};

type Item = HashMap<String, AttributeValue>;

/// History is kept for a year, then DynamoDB's TTL removes it.
const HISTORY_RETENTION_DAYS: i64 = 365;
/// A retried create with the same `Idempotency-Key` returns the first result for a day.
const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;
/// BatchGetItem reads at most 100 keys per call.
pub const BATCH_GET_LIMIT: usize = 100;

const META: &str = "META";
const PRINCIPAL_INDEX: &str = "by_principal";
const REFRESH_INDEX: &str = "by_refresh_due";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn cred_pk(id: &CredentialId) -> String {
    format!("CRED#{id}")
}
fn grant_sk(principal: &str) -> String {
    // `user:alice` -> `GRANT#user#alice`
    format!("GRANT#{}", principal.replacen(':', "#", 1))
}
/// The `by_principal` partition of a grant: the principal within its organisation
/// (`acme/user:alice`), so a listing never even reads another organisation's grants to a
/// principal of the same name. `/` is not in the identifier grammar, so this is unambiguous.
fn grant_partition(org: &str, principal: &str) -> String {
    format!("{org}/{principal}")
}

/// Sort keys for history lines: ULIDs from one monotonic generator, so lines written by this
/// process (several in one transaction, often in the same millisecond) keep their order.
fn history_key() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut guard = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // Overflow needs 2^80 lines in one millisecond; fall back to a fresh ULID regardless.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// How a transactional write failed when it did not succeed.
#[derive(Debug)]
pub enum WriteOutcome {
    Written,
    /// The credential changed since it was read (or already exists, for a create).
    VersionConflict,
    /// A create's idempotency key is already taken.
    IdempotencyKeyTaken,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub credential_id: CredentialId,
    pub fingerprint: String,
}

/// One transaction of [`Store::write`]: the metadata item and what changes with it. Built only
/// by the one write path, [`crate::commit`], which owns the order of secret and metadata.
pub struct Change<'a> {
    pub record: &'a CredentialRecord,
    /// `None` for a create (the item must not exist yet).
    pub expected_version: Option<u64>,
    /// History lines written with the change (at least one).
    pub history: Vec<HistoryEntry>,
    /// Expiry to set on the credential's items (soft delete) or clear (restore).
    pub expiry: Expiry,
    /// Which grant items to (re)write from the record's ACL: all of them, or only these.
    pub grants: Grants,
    /// Principals whose grant items to delete (revocations).
    pub revoked: Vec<String>,
    pub idempotency: Option<(&'a str, &'a IdempotencyRecord)>,
}

/// Connection tests allowed per minute; 0 is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestAllowance {
    pub per_user: u32,
    pub per_org: u32,
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
    fn unexpected(&self) -> ApiError {
        ApiError::internal(format!("transaction cancelled: {:?}", self.0))
    }
}

/// How one attempt to count a connection test went.
enum Counted {
    Yes,
    Over(Exhausted),
    /// Another test's transaction touched the same counter at the same moment.
    Conflict,
}

/// Which allowance a connection test would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    User,
    Org,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grants {
    All,
    Only(Vec<String>),
}

/// A data source or destination that uses a credential.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub kind: String,
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    pub added_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

fn usage_sk(kind: &str, resource_id: &str) -> String {
    format!("USE#{kind}#{resource_id}")
}

/// An authorization request on its way through the provider (connect or re-authenticate).
/// The PKCE verifier is a one-time value for this exchange, not a credential secret; it lives
/// ten minutes and is deleted when the callback uses it.
#[derive(Clone, Serialize, Deserialize)]
pub struct OAuthPending {
    pub credential_id: CredentialId,
    pub pkce_verifier: String,
    pub actor: String,
    /// Who started the connect, as far as authorization goes: the callback checks they still
    /// may connect before anything is exchanged or stored.
    pub initiator: crate::domain::Caller,
    /// A digest of where the connect sends the person and the code (auth type, authorize URL,
    /// token URL, client id) at the authorize step: the callback refuses if it changed since.
    pub connects_to: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

pub enum UsageChange<'a> {
    Add(&'a Usage),
    Remove { kind: &'a str, resource_id: &'a str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Keep,
    Set(OffsetDateTime),
    Clear,
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One item by key, strongly consistent.
    async fn get_one<T: serde::de::DeserializeOwned>(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<T>, ApiError> {
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

    /// One strongly consistent GetItem: metadata and ACL together, so a read is one call.
    pub async fn get(&self, id: &CredentialId) -> Result<Option<CredentialRecord>, ApiError> {
        self.get_one(s(cred_pk(id)), s(META)).await
    }

    /// Writes the metadata, its grants and a history line in one transaction.
    pub async fn write(&self, change: Change<'_>) -> Result<WriteOutcome, ApiError> {
        let record = change.record;
        let pk = cred_pk(&record.id);
        let mut meta: Item = serde_dynamo::to_item(record)?;
        meta.insert("pk".into(), s(&pk));
        meta.insert("sk".into(), s(META));
        if let Expiry::Set(at) = change.expiry {
            meta.insert("ttl".into(), n(at.unix_timestamp()));
        }
        let mut put_meta = Put::builder().table_name(&self.table).set_item(Some(meta));
        put_meta = match change.expected_version {
            None => put_meta.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put_meta
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(v)),
        };
        let mut items = vec![TransactWriteItem::builder()
            .put(put_meta.build().map_err(ApiError::internal)?)
            .build()];

        // Grant items mirror the ACL for the principal index. Roles and expiry follow the record.
        let grants = record.acl.iter().filter(|(p, _)| match &change.grants {
            Grants::All => true,
            Grants::Only(only) => only.contains(p),
        });
        for (principal, role) in grants {
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(grant_sk(principal)))
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(
                    ":principal",
                    s(grant_partition(&record.org_id, principal)),
                )
                .expression_attribute_values(":role", s(role.as_str()));
            let set = "SET principal = :principal, #role = :role";
            update = match change.expiry {
                Expiry::Keep => update.update_expression(set),
                Expiry::Set(at) => update
                    .update_expression(format!("{set}, #ttl = :ttl"))
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":ttl", n(at.unix_timestamp())),
                Expiry::Clear => update
                    .update_expression(format!("{set} REMOVE #ttl"))
                    .expression_attribute_names("#ttl", "ttl"),
            };
            items.push(
                TransactWriteItem::builder()
                    .update(update.build().map_err(ApiError::internal)?)
                    .build(),
            );
        }

        for principal in &change.revoked {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(grant_sk(principal)))
                .build()
                .map_err(ApiError::internal)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }

        for entry in &change.history {
            items.push(
                TransactWriteItem::builder()
                    .put(self.history_put(&record.id, entry)?)
                    .build(),
            );
        }

        if let Some((key, idem)) = change.idempotency {
            let mut item: Item = serde_dynamo::to_item(idem)?;
            item.insert("pk".into(), s(key));
            item.insert("sk".into(), s("IDEM"));
            let expires = record.created_at + time::Duration::hours(IDEMPOTENCY_RETENTION_HOURS);
            item.insert("ttl".into(), n(expires.unix_timestamp()));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(ApiError::internal)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let idempotency_index = change.idempotency.map(|_| items.len() - 1);

        let cancelled = match self.transact(items).await? {
            Ok(()) => return Ok(WriteOutcome::Written),
            Err(cancelled) => cancelled,
        };
        // A concurrent transaction on the same item (TransactionConflict) lost the same race a
        // failed condition did.
        let lost = |i: usize| cancelled.is(i, &[CONDITION_FAILED, CONFLICT]);
        if idempotency_index.is_some_and(lost) {
            Ok(WriteOutcome::IdempotencyKeyTaken)
        } else if lost(0) {
            Ok(WriteOutcome::VersionConflict)
        } else {
            Err(cancelled.unexpected())
        }
    }

    /// Runs one transaction. `Ok(Err(_))` is DynamoDB cancelling it (a condition failed or
    /// another transaction touched an item), with each item's reason; other failures are `Err`.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, ApiError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
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

    /// Takes the refresh lease of a credential unless another holder's is still running.
    pub async fn take_lease(
        &self,
        id: &CredentialId,
        owner: &str,
        for_how_long: std::time::Duration,
    ) -> Result<bool, ApiError> {
        let now = OffsetDateTime::now_utc();
        let until = now + for_how_long;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(cred_pk(id)))
            .item("sk", s("LEASE"))
            .item("owner", s(owner))
            .item("until", n(until.unix_timestamp()))
            .item("ttl", n(until.unix_timestamp() + 3600))
            .condition_expression("attribute_not_exists(pk) OR #until < :now")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk(e)),
        }
    }

    /// Releases a lease this holder took (and nobody else's).
    pub async fn release_lease(&self, id: &CredentialId, owner: &str) -> Result<(), ApiError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(cred_pk(id)))
            .key("sk", s("LEASE"))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk(e)),
        }
    }

    /// Credential ids whose refresh is due by `by` (epoch seconds), from the sparse due index,
    /// and how many index items were read.
    pub async fn due_for_refresh(&self, by: i64) -> Result<(Vec<CredentialId>, usize), ApiError> {
        let mut ids = Vec::new();
        let mut read = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(REFRESH_INDEX)
                .key_condition_expression("refresh_shard = :shard AND refresh_due <= :by")
                .expression_attribute_values(":shard", s(crate::record::REFRESH_SHARD))
                .expression_attribute_values(":by", n(by))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            read += out.scanned_count() as usize;
            for item in out.items() {
                if let Some(raw) = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("CRED#"))
                {
                    ids.push(CredentialId::parse(raw)?);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((ids, read));
            }
        }
    }

    /// Remembers an authorization request for ten minutes, keyed by its `state`.
    pub async fn put_oauth_state(
        &self,
        state: &str,
        pending: &OAuthPending,
    ) -> Result<(), ApiError> {
        let mut item: Item = serde_dynamo::to_item(pending)?;
        item.insert("pk".into(), s(format!("OAUTH#{state}")));
        item.insert("sk".into(), s("STATE"));
        let expires = OffsetDateTime::now_utc() + time::Duration::minutes(10);
        item.insert("ttl".into(), n(expires.unix_timestamp()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// Takes (reads and deletes, atomically) the authorization request for `state`: a state
    /// works once, and not after ten minutes.
    pub async fn take_oauth_state(&self, state: &str) -> Result<Option<OAuthPending>, ApiError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("OAUTH#{state}")))
            .key("sk", s("STATE"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk)?;
        let Some(item) = out.attributes else {
            return Ok(None);
        };
        let pending: OAuthPending = serde_dynamo::from_item(item)?;
        Ok((pending.expires_at > OffsetDateTime::now_utc()).then_some(pending))
    }

    /// A history line on its own (a use, which changes nothing else).
    pub async fn append_history(
        &self,
        id: &CredentialId,
        entry: &HistoryEntry,
    ) -> Result<(), ApiError> {
        let put = self.history_put(id, entry)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    fn history_put(&self, id: &CredentialId, entry: &HistoryEntry) -> Result<Put, ApiError> {
        let mut item: Item = serde_dynamo::to_item(entry)?;
        item.insert("pk".into(), s(cred_pk(id)));
        item.insert("sk".into(), s(format!("HIST#{}", history_key())));
        let expires = entry.at + time::Duration::days(HISTORY_RETENTION_DAYS);
        item.insert("ttl".into(), n(expires.unix_timestamp()));
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(ApiError::internal)
    }

    /// Newest first. `after` is the sort key the previous page ended on.
    pub async fn history(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), ApiError> {
        self.page_of(id, "HIST#", false, limit, after).await
    }

    /// One page of a credential's items whose sort key starts with `prefix`, and the sort key
    /// to continue after, if any.
    async fn page_of<T: serde::de::DeserializeOwned>(
        &self,
        id: &CredentialId,
        prefix: &str,
        ascending: bool,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<T>, Option<String>), ApiError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(cred_pk(id)))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(ascending)
            .consistent_read(true)
            .limit(limit);
        if let Some(sk) = after {
            query = query
                .exclusive_start_key("pk", s(cred_pk(id)))
                .exclusive_start_key("sk", s(sk));
        }
        let out = query.send().await.map_err(sdk)?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok((
            serde_dynamo::from_items(out.items.unwrap_or_default())?,
            next,
        ))
    }

    /// Credential ids granted to `principal` of organisation `org`, ascending, strictly after
    /// `after`. Returns whether more may follow. "After" is a condition on the index's sort key,
    /// not an ExclusiveStartKey: a position is a credential id, whatever principal found it.
    pub async fn granted_to(
        &self,
        org: &str,
        principal: &Principal,
        after: Option<&CredentialId>,
        limit: i32,
    ) -> Result<(Vec<(CredentialId, Role)>, bool), ApiError> {
        let partition = grant_partition(org, &principal.to_string());
        // Every credential key is `CRED#cred_...`, which sorts after the bare prefix.
        let after = after.map_or_else(|| "CRED#".to_owned(), cred_pk);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PRINCIPAL_INDEX)
            .key_condition_expression("principal = :p AND pk > :after")
            .expression_attribute_values(":p", s(&partition))
            .expression_attribute_values(":after", s(after))
            .limit(limit)
            .send()
            .await
            .map_err(sdk)?;
        #[derive(Deserialize)]
        struct GrantRow {
            pk: String,
            role: Role,
        }
        let rows: Vec<GrantRow> = serde_dynamo::from_items(out.items.unwrap_or_default())?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let raw = row.pk.strip_prefix("CRED#").unwrap_or(&row.pk);
            ids.push((CredentialId::parse(raw)?, row.role));
        }
        Ok((ids, out.last_evaluated_key.is_some()))
    }

    /// Metadata of up to [`BATCH_GET_LIMIT`] credentials per call, retrying unprocessed keys.
    /// Missing ones are left out; the order is not preserved.
    pub async fn get_many(&self, ids: &[CredentialId]) -> Result<Vec<CredentialRecord>, ApiError> {
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_GET_LIMIT) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| Item::from([("pk".into(), s(cred_pk(id))), ("sk".into(), s(META))]))
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(ApiError::internal)?,
            );
            let mut attempt = 0u32;
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk)?;
                if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                    records.extend(serde_dynamo::from_items::<_, CredentialRecord>(items)?);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(ApiError::internal("DynamoDB kept keys unprocessed"));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt.min(6)))
                        .await;
                }
            }
        }
        Ok(records)
    }

    /// Adds or removes a usage with its history line, only while the credential exists and is
    /// not deleted. Returns false when it is gone or deleted.
    pub async fn write_usage(
        &self,
        id: &CredentialId,
        change: UsageChange<'_>,
        history: &HistoryEntry,
    ) -> Result<bool, ApiError> {
        let pk = cred_pk(id);
        let live = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(META))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .build()
            .map_err(ApiError::internal)?;
        let usage_item = match change {
            UsageChange::Add(usage) => {
                let mut item: Item = serde_dynamo::to_item(usage)?;
                item.insert("pk".into(), s(&pk));
                item.insert("sk".into(), s(usage_sk(&usage.kind, &usage.resource_id)));
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build();
                TransactWriteItem::builder()
                    .put(put.map_err(ApiError::internal)?)
                    .build()
            }
            UsageChange::Remove { kind, resource_id } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(&pk))
                    .key("sk", s(usage_sk(kind, resource_id)))
                    .build();
                TransactWriteItem::builder()
                    .delete(delete.map_err(ApiError::internal)?)
                    .build()
            }
        };
        let items = vec![
            TransactWriteItem::builder().condition_check(live).build(),
            usage_item,
            TransactWriteItem::builder()
                .put(self.history_put(id, history)?)
                .build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(cancelled) if cancelled.is(0, &[CONDITION_FAILED]) => Ok(false),
            Err(cancelled) => Err(cancelled.unexpected()),
        }
    }

    pub async fn usage(
        &self,
        id: &CredentialId,
        kind: &str,
        resource_id: &str,
    ) -> Result<Option<Usage>, ApiError> {
        self.get_one(s(cred_pk(id)), s(usage_sk(kind, resource_id)))
            .await
    }

    /// Usages in key order; `after` is the sort key the previous page ended on.
    pub async fn usages(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<Usage>, Option<String>), ApiError> {
        self.page_of(id, "USE#", true, limit, after).await
    }

    /// How many data sources and destinations use the credential.
    pub async fn usage_count(&self, id: &CredentialId) -> Result<usize, ApiError> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :use)")
                .expression_attribute_values(":pk", s(cred_pk(id)))
                .expression_attribute_values(":use", s("USE#"))
                .select(Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            count += out.count() as usize;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// Counts one connection test against the caller's and the organisation's allowance for
    /// the current minute, both in one transaction, so the limit holds across every function
    /// instance. Returns the allowance that is used up, if one is (and then counts nothing).
    pub async fn count_test(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        now: OffsetDateTime,
    ) -> Result<Option<Exhausted>, ApiError> {
        let minute = now.unix_timestamp().div_euclid(60);
        let counters = [
            (
                Exhausted::User,
                format!("RATE#{minute}#user#{org}/{user}"),
                allowance.per_user,
            ),
            (
                Exhausted::Org,
                format!("RATE#{minute}#org#{org}"),
                allowance.per_org,
            ),
        ];
        let counters: Vec<_> = counters
            .into_iter()
            .filter(|(_, _, limit)| *limit > 0)
            .collect();
        if counters.is_empty() {
            return Ok(None);
        }
        // Tests that start at the same moment conflict on the counters; each retries (fail
        // closed: after the last try the test counts as over the limit).
        for attempt in 0..5u64 {
            match self.count_test_once(&counters, minute).await? {
                Counted::Yes => return Ok(None),
                Counted::Over(which) => return Ok(Some(which)),
                Counted::Conflict => {
                    tokio::time::sleep(std::time::Duration::from_millis(10 + 20 * attempt)).await
                }
            }
        }
        Ok(Some(counters[0].0))
    }

    async fn count_test_once(
        &self,
        counters: &[(Exhausted, String, u32)],
        minute: i64,
    ) -> Result<Counted, ApiError> {
        let mut items = Vec::new();
        for (_, pk, limit) in counters {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s("RATE"))
                .update_expression("ADD #n :one SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "count")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":limit", n(limit))
                .expression_attribute_values(":ttl", n((minute + 2) * 60))
                .build()
                .map_err(ApiError::internal)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let cancelled = match self.transact(items).await? {
            Ok(()) => return Ok(Counted::Yes),
            Err(cancelled) => cancelled,
        };
        let exhausted = (0..counters.len()).find(|i| cancelled.is(*i, &[CONDITION_FAILED]));
        match exhausted {
            Some(i) => Ok(Counted::Over(counters[i].0)),
            None if (0..counters.len()).any(|i| cancelled.is(i, &[CONFLICT])) => {
                Ok(Counted::Conflict)
            }
            None => Err(cancelled.unexpected()),
        }
    }

    pub async fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, ApiError> {
        self.get_one(s(key), s("IDEM")).await
    }
}
