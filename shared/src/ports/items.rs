//! What passes through the ports: the changes, items and answers the use cases and the
//! adapters exchange. Nothing here knows how an adapter stores it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::CredentialId;
use crate::record::{CredentialRecord, HistoryEntry};

/// BatchGetItem reads at most 100 keys per call.
pub const BATCH_GET_LIMIT: usize = 100;

/// How a transactional write failed when it did not succeed.
#[derive(Debug)]
pub enum WriteOutcome {
    Written,
    /// The credential changed since it was read (or already exists, for a create).
    VersionConflict,
    /// A create's idempotency key is already taken.
    IdempotencyKeyTaken,
}

/// One transaction of [`super::CredentialStore::write`]: the metadata item and what changes
/// with it. Built only by the one write path, [`crate::commit`], which owns the order of secret and metadata.
pub struct Change<'a> {
    pub record: &'a CredentialRecord,
    /// `None` for a create (the item must not exist yet).
    pub expected_version: Option<u64>,
    /// History lines written with the change (at least one).
    pub history: Vec<HistoryEntry>,
    /// Expiry to set on the credential's items (soft delete) or clear (restore).
    pub expiry: Expiry,
    /// Which grant items to (re)write from the record's ACL: all of them, or only these.
    pub grants: Grants,
    /// Principals whose grant items to delete (revocations).
    pub revoked: Vec<String>,
    pub idempotency: Option<(&'a IdempotencyKey, &'a IdempotencyRecord)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grants {
    All,
    Only(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Keep,
    Set(OffsetDateTime),
    Clear,
}

/// A create's `Idempotency-Key`, scoped to its caller so two users cannot collide on (or probe)
/// each other's keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IdempotencyKey {
    pub(crate) org: String,
    pub(crate) user: String,
    pub(crate) key: String,
}

impl IdempotencyKey {
    pub fn new(org: &str, user: &str, key: &str) -> Self {
        Self {
            org: org.to_owned(),
            user: user.to_owned(),
            key: key.to_owned(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub credential_id: CredentialId,
    pub fingerprint: String,
}

/// An authorization request on its way through the provider (connect or re-authenticate).
/// The PKCE verifier is a one-time value for this exchange, not a credential secret; it lives
/// ten minutes and is deleted when the callback uses it.
#[derive(Clone, Serialize, Deserialize)]
pub struct OAuthPending {
    pub credential_id: CredentialId,
    pub pkce_verifier: String,
    pub actor: String,
    /// Who started the connect, as far as authorization goes: the callback checks they still
    /// may connect before anything is exchanged or stored.
    pub initiator: crate::domain::Caller,
    /// A digest of where the connect sends the person and the code (auth type, authorize URL,
    /// token URL, client id) at the authorize step: the callback refuses if it changed since.
    pub connects_to: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Connection tests allowed per minute; 0 is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestAllowance {
    pub per_user: u32,
    pub per_org: u32,
}

impl TestAllowance {
    /// The allowances that have a limit, the user's first.
    pub fn limits(self) -> impl Iterator<Item = (Exhausted, u32)> {
        [
            (Exhausted::User, self.per_user),
            (Exhausted::Org, self.per_org),
        ]
        .into_iter()
        .filter(|(_, limit)| *limit > 0)
    }
}

/// Which allowance a connection test would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    User,
    Org,
}

/// A data source or destination that uses a credential.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub kind: String,
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    pub added_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

pub enum UsageChange<'a> {
    Add(&'a Usage),
    Remove { kind: &'a str, resource_id: &'a str },
}

/// Why a version is written before the metadata names it; each reason has its own staging
/// label, so a refresh that crashed before its commit can be told apart from an abandoned edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    Edit,
    Refresh,
}

impl Pending {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Pending::Edit => "LATCHKEY_PENDING",
            Pending::Refresh => "LATCHKEY_REFRESHED",
        }
    }
}

/// Whose secrets: a credential and the organisation it belongs to (which never changes). An
/// adapter may keep each organisation's secrets under a key of its own and bind both to them.
#[derive(Clone, Copy, Debug)]
pub struct SecretOwner<'a> {
    pub id: &'a CredentialId,
    pub org: &'a str,
}

impl CredentialRecord {
    pub fn secret_owner(&self) -> SecretOwner<'_> {
        SecretOwner {
            id: &self.id,
            org: &self.org_id,
        }
    }
}

/// A live secret of this service, as the orphan sweep sees it.
#[derive(Debug)]
pub struct TaggedSecret {
    pub credential_id: CredentialId,
    pub created_at: time::OffsetDateTime,
}
