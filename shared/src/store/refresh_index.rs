//! The sparse `by_refresh_due` index: which credentials' tokens fall due.

use super::{keys, n, s, Store};
use crate::domain::CredentialId;
use crate::error::{sdk, InternalError};

impl Store {
    /// Credential ids whose refresh is due by `by` (epoch seconds), from the sparse due index,
    /// and how many index items were read.
    pub(super) async fn due_for_refresh(
        &self,
        by: i64,
    ) -> Result<(Vec<CredentialId>, usize), InternalError> {
        let mut ids = Vec::new();
        let mut read = 0;
        // The SDK's paginator follows LastEvaluatedKey.
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::REFRESH_INDEX)
            .key_condition_expression("refresh_shard = :shard AND refresh_due <= :by")
            .expression_attribute_values(":shard", s(crate::record::REFRESH_SHARD))
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
