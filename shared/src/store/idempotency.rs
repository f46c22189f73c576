//! Idempotency keys of creates: a retried create with the same key answers the first result.

use serde::{Deserialize, Serialize};

use super::{keys, s, Store};
use crate::domain::CredentialId;
use crate::error::ApiError;

/// A retried create with the same `Idempotency-Key` returns the first result for a day.
pub(super) const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

/// A create's `Idempotency-Key`, scoped to its caller so two users cannot collide on (or probe)
/// each other's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(org: &str, user: &str, key: &str) -> Self {
        Self(keys::idempotency(org, user, key))
    }

    pub(super) fn pk(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub credential_id: CredentialId,
    pub fingerprint: String,
}

impl Store {
    pub async fn idempotency(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, ApiError> {
        self.get_one(s(key.pk()), s(keys::IDEMPOTENCY)).await
    }
}
