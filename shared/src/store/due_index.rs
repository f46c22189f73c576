//! The sparse due indexes: `by_refresh_due` (which credentials' tokens fall due) and
//! `by_check_due` (which credentials' scheduled health checks do). Each holds only the items
//! with work scheduled, keyed by one shard and the due time in epoch seconds.

use super::{keys, n, s, Store};
use crate::domain::CredentialId;
use crate::error::{sdk, InternalError};

/// One sparse due index: its name, its shard attribute and value, its due attribute.
pub(super) struct DueIndex {
    name: &'static str,
    shard_attribute: &'static str,
    shard: &'static str,
    due_attribute: &'static str,
}

pub(super) const REFRESHES: DueIndex = DueIndex {
    name: keys::REFRESH_INDEX,
    shard_attribute: "refresh_shard",
    shard: crate::record::REFRESH_SHARD,
    due_attribute: "refresh_due",
};

pub(super) const CHECKS: DueIndex = DueIndex {
    name: keys::CHECK_INDEX,
    shard_attribute: "check_shard",
    shard: crate::health::CHECK_SHARD,
    due_attribute: "check_due",
};

impl Store {
    /// Credential ids due by `by` (epoch seconds) in `index`, and how many index items were read.
    pub(super) async fn due(
        &self,
        index: &DueIndex,
        by: i64,
    ) -> Result<(Vec<CredentialId>, usize), InternalError> {
        let mut ids = Vec::new();
        let mut read = 0;
        // The SDK's paginator follows LastEvaluatedKey.
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#shard = :shard AND #due <= :by")
            .expression_attribute_names("#shard", index.shard_attribute)
            .expression_attribute_names("#due", index.due_attribute)
            .expression_attribute_values(":shard", s(index.shard))
            .expression_attribute_values(":by", n(by))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk)?;
            read += page.scanned_count() as usize;
            for item in page.items() {
                if let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) {
                    ids.push(keys::credential_id(pk)?);
                }
            }
        }
        Ok((ids, read))
    }
}
