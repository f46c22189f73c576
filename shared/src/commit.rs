//! The one credential-write path (brief §6 and §7). Every change to a credential (create, edit,
//! delete, restore, sharing, test and flow verdicts, refresh outcomes, tokens stored after a
//! refresh or a connect) goes through [`commit`], which owns the order:
//!
//! 1. a new secret version, if the secrets change, recording the version it derives from;
//! 2. the metadata commit, conditioned on the version read and bumping it, so no write silently
//!    overwrites another;
//! 3. then promote the new secret version, or clean up after a refused commit.
//!
//! A crash after 1 leaves a version nothing names (an orphan secret for a create, which the
//! janitor removes); a crash after 2 leaves AWSCURRENT behind, which readers never use (they
//! read the version the metadata names) and the next promote repairs.

use crate::catalog::SecretFields;
use crate::error::ApiError;
use crate::record::{CredentialRecord, HistoryEntry};
use crate::store::{Change, Expiry, Grants, IdempotencyKey, IdempotencyRecord, WriteOutcome};
use crate::vault::Pending;
use crate::Backends;

/// What a write does to the credential's secret.
pub enum Secrets {
    /// Untouched: the metadata keeps naming the version it named.
    Keep,
    /// A create: the secret with its first version.
    First(SecretFields),
    /// The complete new set of secret fields, written as a new version (under the label of
    /// `Pending`) derived from the one named, before the metadata names it.
    Replace(SecretFields, Pending),
}

/// What [`commit`] wrote to Secrets Manager before the metadata, so it knows what to promote
/// or clean up afterwards.
enum Written {
    Nothing,
    First,
    Pending(Pending),
}

/// One change to one credential: the state it was read in, the state to write, and what else
/// changes with it in the same transaction.
pub struct Write<'a> {
    /// As read; `None` for a create.
    pub before: Option<&'a CredentialRecord>,
    pub next: CredentialRecord,
    pub secrets: Secrets,
    /// History lines written with the change (at least one).
    pub history: Vec<HistoryEntry>,
    pub expiry: Expiry,
    pub grants: Grants,
    pub revoked: Vec<String>,
    pub idempotency: Option<(&'a IdempotencyKey, &'a IdempotencyRecord)>,
}

impl<'a> Write<'a> {
    /// A change to `before`, touching neither the secret nor any grant.
    pub fn update(
        before: &'a CredentialRecord,
        next: CredentialRecord,
        history: HistoryEntry,
    ) -> Self {
        Self {
            before: Some(before),
            next,
            secrets: Secrets::Keep,
            history: vec![history],
            expiry: Expiry::Keep,
            grants: Grants::Only(Vec::new()),
            revoked: Vec::new(),
            idempotency: None,
        }
    }

    /// A new credential with its first secret version and all its grants.
    pub fn create(next: CredentialRecord, secrets: SecretFields, history: HistoryEntry) -> Self {
        Self {
            before: None,
            next,
            secrets: Secrets::First(secrets),
            history: vec![history],
            expiry: Expiry::Keep,
            grants: Grants::All,
            revoked: Vec::new(),
            idempotency: None,
        }
    }

    pub fn with_secrets(mut self, secrets: SecretFields, why: Pending) -> Self {
        self.secrets = Secrets::Replace(secrets, why);
        self
    }

    /// One more history line in the same transaction.
    pub fn and_history(mut self, entry: HistoryEntry) -> Self {
        self.history.push(entry);
        self
    }

    /// Sets (or clears) the expiry of the metadata and every grant item.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self.grants = Grants::All;
        self
    }
}

/// How a write ended.
#[derive(Debug)]
pub enum Committed {
    /// The credential as written (its new version, its secret version).
    Written(Box<CredentialRecord>),
    /// The credential changed since it was read (or already exists, for a create): nothing of
    /// this write stands.
    Conflict,
    /// A create's idempotency key is already taken: nothing of this write stands.
    IdempotencyKeyTaken,
}

/// Commits `write` in the order the module describes.
pub async fn commit(backends: &Backends, write: Write<'_>) -> Result<Committed, ApiError> {
    let Write {
        before,
        mut next,
        secrets,
        history,
        expiry,
        grants,
        revoked,
        idempotency,
    } = write;
    let id = next.id.clone();
    next.version = before.map_or(1, |b| b.version + 1);

    let written = match (secrets, before) {
        (Secrets::Keep, Some(before)) => {
            next.secret_version = before.secret_version.clone();
            Written::Nothing
        }
        (Secrets::First(fields), None) => {
            next.secret_version = backends.vault.create(&id, &fields).await?;
            next.secret_fields = fields.names();
            Written::First
        }
        (Secrets::Replace(fields, why), Some(before)) => {
            next.secret_version = backends
                .vault
                .put_pending(&id, &fields, why, &before.secret_version)
                .await?;
            next.secret_fields = fields.names();
            Written::Pending(why)
        }
        _ => {
            return Err(ApiError::internal(
                "a create writes the first secret version; an update keeps or replaces one",
            ))
        }
    };

    let outcome = backends
        .store
        .write(Change {
            record: &next,
            expected_version: before.map(|b| b.version),
            history,
            expiry,
            grants,
            revoked,
            idempotency,
        })
        .await;
    let refused = match outcome {
        Ok(WriteOutcome::Written) => {
            if let (Written::Pending(_), Some(before)) = (&written, before) {
                if let Err(e) = backends
                    .vault
                    .promote(&id, &next.secret_version, &before.secret_version)
                    .await
                {
                    // The metadata already names the new version, which is what readers use.
                    tracing::warn!(credential_id = %id, error = %e, "secret version not promoted to AWSCURRENT");
                }
            }
            return Ok(Committed::Written(Box::new(next)));
        }
        Ok(WriteOutcome::VersionConflict) => Committed::Conflict,
        Ok(WriteOutcome::IdempotencyKeyTaken) => Committed::IdempotencyKeyTaken,
        // Unknown whether the commit landed: leave the version for whoever reads next (a create's
        // secret for the janitor, a refresh's tokens for adoption by the next refresh).
        Err(e) => return Err(e),
    };
    match written {
        Written::Nothing => {}
        Written::First => {
            // The transaction was refused, so no metadata points at the new secret.
            if let Err(e) = backends.vault.destroy_unreferenced(&id).await {
                tracing::warn!(credential_id = %id, error = %e, "unreferenced secret left for the orphan sweep");
            }
        }
        // A refresh's tokens may already be the only live ones (the provider rotated): they stay
        // under their label, adopted by the next refresh only if the version now named is the
        // one they derive from.
        Written::Pending(Pending::Refresh) => {}
        Written::Pending(why) => {
            if let Err(e) = backends.vault.abandon(&id, &next.secret_version, why).await {
                tracing::warn!(credential_id = %id, error = %e, "refused secret version keeps its label");
            }
        }
    }
    Ok(refused)
}
