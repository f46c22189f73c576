//! The sparse due indexes: `by_refresh_due` (which credentials' tokens fall due) and
//! `by_check_due` (which credentials' scheduled health checks do). Each holds only the items
//! with work scheduled, keyed by one shard and the due time in epoch seconds.

use super::{keys, n, s, Store};
use crate::domain::CredentialId;
use crate::error::{sdk, InternalError};

/// One sparse due index: its name, its shard attribute and prefix, its due attribute.
pub(super) struct DueIndex {
    name: &'static str,
    /// The one partition items were filed in before the index was sharded, still read until
    /// each has been written again.
    legacy_shard: Option<&'static str>,
    pub(super) shard_attribute: &'static str,
    pub(super) shard_prefix: &'static str,
    pub(super) due_attribute: &'static str,
}

pub(super) const REFRESHES: DueIndex = DueIndex {
    name: keys::REFRESH_INDEX,
    legacy_shard: Some("DUE"),
    shard_attribute: "refresh_shard",
    shard_prefix: "DUE",
    due_attribute: "refresh_due",
};

pub(super) const CHECKS: DueIndex = DueIndex {
    name: keys::CHECK_INDEX,
    legacy_shard: None,
    shard_attribute: "check_shard",
    shard_prefix: "CHECK",
    due_attribute: "check_due",
};

impl DueIndex {
    /// Files a metadata item in its shard when it has work scheduled (and in none otherwise).
    pub(super) fn file(
        &self,
        item: &mut super::Item,
        id: &crate::domain::CredentialId,
        shards: u16,
    ) {
        if item.contains_key(self.due_attribute) {
            let shard = keys::due_shard(self.shard_prefix, id, shards);
            item.insert(self.shard_attribute.into(), s(shard));
        }
    }
}

impl Store {
    /// Credential ids due by `by` (epoch seconds) in `index`, every shard read in parallel, and
    /// how many index items were read.
    pub(super) async fn due(
        &self,
        index: &DueIndex,
        by: i64,
    ) -> Result<(Vec<CredentialId>, usize), InternalError> {
        let shards = (0..self.shards)
            .map(|n| format!("{}#{n}", index.shard_prefix))
            .chain(index.legacy_shard.map(str::to_owned))
            .map(|shard| self.due_in(index, shard, by));
        let mut ids = Vec::new();
        let mut read = 0;
        for (found, items) in futures::future::try_join_all(shards).await? {
            ids.extend(found);
            read += items;
        }
        Ok((ids, read))
    }

    async fn due_in(
        &self,
        index: &DueIndex,
        shard: String,
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
            .expression_attribute_values(":shard", s(shard))
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
