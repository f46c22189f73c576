//! Usages: the data sources and destinations that use a credential, one item each.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, Select, TransactWriteItem};

use super::{keys, s, Item, Store, CONDITION_FAILED};
use crate::domain::CredentialId;
use crate::error::{sdk, InternalError};
use crate::ports::{Usage, UsageChange};
use crate::record::HistoryEntry;

impl Store {
    /// Adds or removes a usage with its history line, only while the credential exists and is
    /// not deleted. Returns false when it is gone or deleted.
    pub(super) async fn write_usage(
        &self,
        id: &CredentialId,
        change: UsageChange<'_>,
        history: &HistoryEntry,
    ) -> Result<bool, InternalError> {
        let pk = keys::credential(id);
        let live = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(keys::META))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .build()
            .map_err(InternalError::new)?;
        let usage_item = match change {
            UsageChange::Add(usage) => {
                let mut item: Item = serde_dynamo::to_item(usage)?;
                item.insert("pk".into(), s(&pk));
                item.insert("sk".into(), s(keys::usage(&usage.kind, &usage.resource_id)));
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build();
                TransactWriteItem::builder()
                    .put(put.map_err(InternalError::new)?)
                    .build()
            }
            UsageChange::Remove { kind, resource_id } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(&pk))
                    .key("sk", s(keys::usage(kind, resource_id)))
                    .build();
                TransactWriteItem::builder()
                    .delete(delete.map_err(InternalError::new)?)
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

    pub(super) async fn usage(
        &self,
        id: &CredentialId,
        kind: &str,
        resource_id: &str,
    ) -> Result<Option<Usage>, InternalError> {
        self.get_one(s(keys::credential(id)), s(keys::usage(kind, resource_id)))
            .await
    }

    /// Usages in key order; `after` is the sort key the previous page ended on.
    pub(super) async fn usages(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<Usage>, Option<String>), InternalError> {
        self.page_of(id, keys::USAGE_PREFIX, true, limit, after)
            .await
    }

    /// How many data sources and destinations use the credential.
    pub(super) async fn usage_count(&self, id: &CredentialId) -> Result<usize, InternalError> {
        let mut count = 0;
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :use)")
            .expression_attribute_values(":pk", s(keys::credential(id)))
            .expression_attribute_values(":use", s(keys::USAGE_PREFIX))
            .select(Select::Count)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            count += page.map_err(sdk)?.count() as usize;
        }
        Ok(count)
    }
}
