//! The credential's metadata item (with its ACL) and the grant items that mirror the ACL for
//! the `by_principal` index: one read, one transactional write, batch reads, and what a
//! principal was granted.

use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, TransactWriteItem, Update};
use serde::Deserialize;

use super::{keys, n, s, Item, Store, CONDITION_FAILED, CONFLICT};
use crate::domain::{CredentialId, Principal, Role};
use crate::error::{sdk, InternalError};
use crate::ports::{Change, Expiry, Grants, WriteOutcome};
use crate::record::CredentialRecord;

impl Store {
    /// One strongly consistent GetItem: metadata and ACL together, so a read is one call.
    pub(super) async fn get(
        &self,
        id: &CredentialId,
    ) -> Result<Option<CredentialRecord>, InternalError> {
        self.get_one(s(keys::credential(id)), s(keys::META)).await
    }

    /// Writes the metadata, its grants and a history line in one transaction.
    pub(super) async fn write(&self, change: Change<'_>) -> Result<WriteOutcome, InternalError> {
        let record = change.record;
        let pk = keys::credential(&record.id);
        let mut meta: Item = serde_dynamo::to_item(record)?;
        meta.insert("pk".into(), s(&pk));
        meta.insert("sk".into(), s(keys::META));
        super::due_index::REFRESHES.file(&mut meta, &record.id, self.shards);
        super::due_index::CHECKS.file(&mut meta, &record.id, self.shards);
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
            .put(put_meta.build().map_err(InternalError::new)?)
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
                .key("sk", s(keys::grant(principal)))
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(
                    ":principal",
                    s(keys::grant_partition(&record.org_id, principal)),
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
                    .update(update.build().map_err(InternalError::new)?)
                    .build(),
            );
        }

        for principal in &change.revoked {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(keys::grant(principal)))
                .build()
                .map_err(InternalError::new)?;
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
            item.insert("pk".into(), s(keys::idempotency(key)));
            item.insert("sk".into(), s(keys::IDEMPOTENCY));
            let expires = record.created_at
                + time::Duration::hours(super::idempotency::IDEMPOTENCY_RETENTION_HOURS);
            item.insert("ttl".into(), n(expires.unix_timestamp()));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(InternalError::new)?;
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

    /// Credential ids granted to `principal` of organisation `org`, ascending, strictly after
    /// `after`. Returns whether more may follow. "After" is a condition on the index's sort key,
    /// not an ExclusiveStartKey: a position is a credential id, whatever principal found it.
    pub(super) async fn granted_to(
        &self,
        org: &str,
        principal: &Principal,
        after: Option<&CredentialId>,
        limit: i32,
    ) -> Result<(Vec<(CredentialId, Role)>, bool), InternalError> {
        let partition = keys::grant_partition(org, &principal.to_string());
        let after = after.map_or_else(
            || keys::before_every_credential().to_owned(),
            keys::credential,
        );
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::PRINCIPAL_INDEX)
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
            ids.push((keys::credential_id(&row.pk)?, row.role));
        }
        Ok((ids, out.last_evaluated_key.is_some()))
    }

    /// One BatchGetItem of at most [`BATCH_GET_LIMIT`] credentials: those found, and the ids
    /// DynamoDB left unprocessed (the retry is [`crate::ports::CredentialStore::get_many`]'s).
    pub(super) async fn get_batch(
        &self,
        ids: &[CredentialId],
    ) -> Result<(Vec<CredentialRecord>, Vec<CredentialId>), InternalError> {
        let keys: Vec<Item> = ids
            .iter()
            .map(|id| {
                Item::from([
                    ("pk".into(), s(keys::credential(id))),
                    ("sk".into(), s(keys::META)),
                ])
            })
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(InternalError::new)?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(sdk)?;
        let records = match out.responses.and_then(|mut r| r.remove(&self.table)) {
            Some(items) => serde_dynamo::from_items::<_, CredentialRecord>(items)?,
            None => Vec::new(),
        };
        let mut unprocessed = Vec::new();
        if let Some(left) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
            for key in left.keys() {
                if let Some(pk) = key.get("pk").and_then(|v| v.as_s().ok()) {
                    unprocessed.push(keys::credential_id(pk)?);
                }
            }
        }
        Ok((records, unprocessed))
    }
}
