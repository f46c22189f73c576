//! The secret table's items as the envelope store writes them: keys, attribute values, and the
//! few writes every operation is made of.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::HashMap;

use super::Envelope;
use crate::domain::CredentialId;
use crate::error::{or_none_if, sdk, InternalError};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const HEAD: &str = "HEAD";
/// Every version id this store writes starts with it, so which store holds a version can be
/// told from the id alone (Secrets Manager's start with a credential id or a ULID).
pub(super) const MARK: &str = "e-";
/// A version no metadata names any more stays readable this long.
pub(super) const UNNAMED_KEPT_SECONDS: i64 = 86_400;
pub(super) const LIVE_HEAD: &str = "attribute_exists(pk) AND attribute_not_exists(#ttl)";

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(super) fn key(id: &CredentialId, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("CRED#{id}"))),
        ("sk".to_owned(), s(sk)),
    ])
}

pub(super) fn version_sk(version: &str) -> String {
    format!("V#{version}")
}

/// The part of a version id a transaction's idempotency token can hold (at most 36 characters):
/// its own ULID, unique per write.
pub(super) fn request_token(version: &str) -> String {
    let own = version.split("-from-").next().unwrap_or(version);
    own.rsplit('-').next().unwrap_or(own).to_owned()
}

pub(super) fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

impl Envelope {
    pub(super) fn put_new(&self, item: Item) -> Result<TransactWriteItem, InternalError> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(|e| InternalError::new(e.to_string()))?,
            )
            .build())
    }

    pub(super) async fn transact(
        &self,
        version: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), InternalError> {
        self.ddb
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(request_token(version))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    pub(super) async fn get(
        &self,
        id: &CredentialId,
        sk: &str,
    ) -> Result<Option<Item>, InternalError> {
        Ok(self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?
            .item)
    }

    /// Gives a version a `ttl` unless it has one; a version that is gone is left alone.
    pub(super) async fn expire(
        &self,
        id: &CredentialId,
        version: &str,
        at: i64,
    ) -> Result<(), InternalError> {
        let updated = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id, &version_sk(version))))
            .update_expression("SET #ttl = :at")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#ttl)")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":at", n(at))
            .send()
            .await;
        or_none_if(updated, |e| e.is_conditional_check_failed_exception())?;
        Ok(())
    }

    /// Every item of the credential's secret: its head and versions.
    pub(super) async fn items_of(&self, id: &CredentialId) -> Result<Vec<Item>, InternalError> {
        self.ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("CRED#{id}")))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk)
    }
}
