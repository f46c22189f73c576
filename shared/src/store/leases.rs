//! The refresh lease: at most one holder refreshes a credential at a time (single flight).

use time::OffsetDateTime;

use super::{keys, n, s, Store};
use crate::domain::CredentialId;
use crate::error::{or_none_if, InternalError};

impl Store {
    /// Takes the refresh lease of a credential unless another holder's is still running.
    pub(super) async fn take_lease(
        &self,
        id: &CredentialId,
        owner: &str,
        now: OffsetDateTime,
        for_how_long: std::time::Duration,
    ) -> Result<bool, InternalError> {
        let until = now + for_how_long;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::credential(id)))
            .item("sk", s(keys::LEASE))
            .item("owner", s(owner))
            .item("until", n(until.unix_timestamp()))
            .item("ttl", n(until.unix_timestamp() + 3600))
            .condition_expression("attribute_not_exists(pk) OR #until < :now")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .send()
            .await;
        let taken = or_none_if(result, |e| e.is_conditional_check_failed_exception())?;
        Ok(taken.is_some())
    }

    /// Releases a lease this holder took (and nobody else's).
    pub(super) async fn release_lease(
        &self,
        id: &CredentialId,
        owner: &str,
    ) -> Result<(), InternalError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::credential(id)))
            .key("sk", s(keys::LEASE))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        // Someone else's (or nobody's) lease: nothing of ours to release.
        or_none_if(result, |e| e.is_conditional_check_failed_exception())?;
        Ok(())
    }
}
