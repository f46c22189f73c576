//! History lines: one item per line under the credential, newest first, kept a year.

use aws_sdk_dynamodb::types::Put;

use super::{keys, n, s, Item, Store};
use crate::domain::CredentialId;
use crate::error::{sdk, InternalError};
use crate::record::HistoryEntry;

/// History is kept for a year, then DynamoDB's TTL removes it.
const HISTORY_RETENTION_DAYS: i64 = 365;

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

impl Store {
    /// A history line on its own (a use, which changes nothing else).
    pub(super) async fn append_history(
        &self,
        id: &CredentialId,
        entry: &HistoryEntry,
    ) -> Result<(), InternalError> {
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

    pub(super) fn history_put(
        &self,
        id: &CredentialId,
        entry: &HistoryEntry,
    ) -> Result<Put, InternalError> {
        let mut item: Item = serde_dynamo::to_item(entry)?;
        item.insert("pk".into(), s(keys::credential(id)));
        item.insert("sk".into(), s(keys::history(history_key())));
        let expires = entry.at + time::Duration::days(HISTORY_RETENTION_DAYS);
        item.insert("ttl".into(), n(expires.unix_timestamp()));
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(InternalError::new)
    }

    /// Newest first. `after` is the sort key the previous page ended on.
    pub(super) async fn history(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), InternalError> {
        self.page_of(id, keys::HISTORY_PREFIX, false, limit, after)
            .await
    }

    /// One page of a credential's items whose sort key starts with `prefix`, and the sort key
    /// to continue after, if any.
    pub(super) async fn page_of<T: serde::de::DeserializeOwned>(
        &self,
        id: &CredentialId,
        prefix: &str,
        ascending: bool,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<T>, Option<String>), InternalError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::credential(id)))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(ascending)
            .consistent_read(true)
            .limit(limit);
        if let Some(sk) = after {
            query = query
                .exclusive_start_key("pk", s(keys::credential(id)))
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
}
