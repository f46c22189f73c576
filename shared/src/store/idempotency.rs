//! Idempotency keys of creates: a retried create with the same key answers the first result.

use super::{keys, s, Store};
use crate::error::InternalError;
use crate::ports::{IdempotencyKey, IdempotencyRecord};

/// A retried create with the same `Idempotency-Key` returns the first result for a day.
pub(super) const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

impl Store {
    pub(super) async fn idempotency(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InternalError> {
        self.get_one(s(keys::idempotency(key)), s(keys::IDEMPOTENCY))
            .await
    }
}
