//! The one credential-write path (brief §6 and §7). Every change to a credential (create, edit,
//! delete, restore, sharing, test and flow verdicts, refresh outcomes, tokens stored after a
//! refresh or a connect) goes through [`commit`], which owns the order:
//!
//! 1. a new secret version, if the secrets change, recording the version it derives from;
//! 2. the metadata commit, conditioned on the version read and bumping it, so no write silently
//!    overwrites another;
//! 3. then promote the new secret version, or clean up after a refused commit.
//!
//! A write that keeps the secret ([`commit`]) needs only the credential store; one that writes
//! a secret version ([`commit_with_secrets`]) needs the secret store too, so a function without
//! one (sharing) cannot write secrets, by type as by IAM.
//!
//! A crash after 1 leaves a version nothing names (an orphan secret for a create, which the
//! janitor removes); a crash after 2 leaves AWSCURRENT behind, which readers never use (they
//! read the version the metadata names) and the next promote repairs.

use crate::catalog::SecretFields;
use crate::error::InternalError;
use crate::ports::{CredentialStore, SecretOwner, SecretStore};
use crate::record::{CredentialRecord, HistoryEntry};
use crate::store::{Change, Expiry, Grants, IdempotencyKey, IdempotencyRecord, WriteOutcome};
use crate::vault::Pending;

/// What a write does to the credential's secret, when it does something.
pub enum Secrets {
    /// A create: the secret with its first version.
    First(SecretFields),
    /// The complete new set of secret fields, written as a new version (under the label of
    /// `Pending`) derived from the one named, before the metadata names it.
    Replace(SecretFields, Pending),
}

/// What [`commit_with_secrets`] wrote to the secret store before the metadata, so it knows
/// what to promote or clean up afterwards.
enum Written {
    First,
    Pending(Pending),
}

/// One change to one credential: the state it was read in, the state to write, and what else
/// changes with it in the same transaction.
pub struct Write<'a> {
    /// As read; `None` for a create.
    pub before: Option<&'a CredentialRecord>,
    pub next: CredentialRecord,
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
            history: vec![history],
            expiry: Expiry::Keep,
            grants: Grants::Only(Vec::new()),
            revoked: Vec::new(),
            idempotency: None,
        }
    }

    /// A new credential with all its grants (and, from [`commit_with_secrets`], its first
    /// secret version).
    pub fn create(next: CredentialRecord, history: HistoryEntry) -> Self {
        Self {
            before: None,
            next,
            history: vec![history],
            expiry: Expiry::Keep,
            grants: Grants::All,
            revoked: Vec::new(),
            idempotency: None,
        }
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

/// Commits a write that keeps the credential's secret: the metadata only, which keeps naming
/// the version it named.
pub async fn commit(
    store: &dyn CredentialStore,
    write: Write<'_>,
) -> Result<Committed, InternalError> {
    let Some(before) = write.before else {
        return Err(InternalError::new(
            "a create writes the first secret version",
        ));
    };
    let secret_version = before.secret_version.clone();
    let (next, outcome) = write_metadata(store, write, secret_version, None).await?;
    Ok(settled(next, outcome))
}

/// Commits a write with a new secret version, in the order the module describes.
pub async fn commit_with_secrets(
    store: &dyn CredentialStore,
    vault: &dyn SecretStore,
    write: Write<'_>,
    secrets: Secrets,
) -> Result<Committed, InternalError> {
    let id = write.next.id.clone();
    let org = write.next.org_id.clone();
    let owner = SecretOwner { id: &id, org: &org };
    let before = write.before;
    let (version, names, written) = match (secrets, before) {
        (Secrets::First(fields), None) => (
            vault.create(owner, &fields).await?,
            fields.names(),
            Written::First,
        ),
        (Secrets::Replace(fields, why), Some(before)) => (
            vault
                .put_pending(owner, &fields, why, &before.secret_version)
                .await?,
            fields.names(),
            Written::Pending(why),
        ),
        _ => {
            return Err(InternalError::new(
                "a create writes the first secret version; an update replaces one",
            ))
        }
    };
    // An error here leaves it unknown whether the commit landed: the version stays for whoever
    // reads next (a create's secret for the janitor, a refresh's tokens for adoption by the
    // next refresh).
    let (next, outcome) = write_metadata(store, write, version, Some(names)).await?;
    match (&outcome, written) {
        (WriteOutcome::Written, Written::Pending(_)) => {
            if let Some(before) = before {
                if let Err(e) = vault
                    .promote(&id, &next.secret_version, &before.secret_version)
                    .await
                {
                    // The metadata already names the new version, which is what readers use.
                    tracing::warn!(credential_id = %id, error = %e, "secret version not promoted to AWSCURRENT");
                }
            }
        }
        (WriteOutcome::Written, Written::First) => {}
        (_, Written::First) => {
            // The transaction was refused, so no metadata points at the new secret.
            if let Err(e) = vault.destroy_unreferenced(&id).await {
                tracing::warn!(credential_id = %id, error = %e, "unreferenced secret left for the orphan sweep");
            }
        }
        // A refresh's tokens may already be the only live ones (the provider rotated): they
        // stay under their label, adopted by the next refresh only if the version now named is
        // the one they derive from.
        (_, Written::Pending(Pending::Refresh)) => {}
        (_, Written::Pending(why)) => {
            if let Err(e) = vault.abandon(&id, &next.secret_version, why).await {
                tracing::warn!(credential_id = %id, error = %e, "refused secret version keeps its label");
            }
        }
    }
    Ok(settled(next, outcome))
}

/// Moves a credential's secret to another store (the migration): the same fields as a new
/// first version in `to`, read back and compared, then the metadata commit naming it, then the
/// copy in `from` destroyed. Whatever `to` held for the credential before is destroyed first:
/// the metadata names a version in `from`, so nothing reads it, and the caller holds the
/// credential's lease, so no other move is writing it. A crash leaves either a copy in `to`
/// that nothing names (the next move destroys it) or, after the commit, one in `from` (which
/// the next move destroys once the metadata's version in `to` reads back).
pub async fn commit_moved(
    store: &dyn CredentialStore,
    to: &dyn SecretStore,
    from: &dyn SecretStore,
    write: Write<'_>,
    fields: &SecretFields,
) -> Result<Committed, InternalError> {
    let id = write.next.id.clone();
    let org = write.next.org_id.clone();
    let owner = SecretOwner { id: &id, org: &org };
    to.destroy_unreferenced(&id).await?;
    let version = to.create(owner, fields).await?;
    if !same_fields(&to.read(owner, &version).await?, fields) {
        to.destroy_unreferenced(&id).await?;
        return Err(InternalError::new(
            "a moved secret did not read back as written",
        ));
    }
    let (next, outcome) = write_metadata(store, write, version, None).await?;
    match outcome {
        WriteOutcome::Written => from.destroy_unreferenced(&id).await?,
        _ => to.destroy_unreferenced(&id).await?,
    }
    Ok(settled(next, outcome))
}

fn same_fields(a: &SecretFields, b: &SecretFields) -> bool {
    use secrecy::ExposeSecret;
    a.0.len() == b.0.len()
        && a.0.iter().all(|(k, v)| {
            b.0.get(k)
                .is_some_and(|w| w.expose_secret() == v.expose_secret())
        })
}

/// The metadata commit: the next version, naming `secret_version`, conditioned on the
/// version read.
async fn write_metadata(
    store: &dyn CredentialStore,
    write: Write<'_>,
    secret_version: String,
    secret_fields: Option<std::collections::BTreeSet<String>>,
) -> Result<(CredentialRecord, WriteOutcome), InternalError> {
    let Write {
        before,
        mut next,
        history,
        expiry,
        grants,
        revoked,
        idempotency,
    } = write;
    next.version = before.map_or(1, |b| b.version + 1);
    next.secret_version = secret_version;
    if let Some(names) = secret_fields {
        next.secret_fields = names;
    }
    let outcome = store
        .write(Change {
            record: &next,
            expected_version: before.map(|b| b.version),
            history,
            expiry,
            grants,
            revoked,
            idempotency,
        })
        .await?;
    Ok((next, outcome))
}

fn settled(next: CredentialRecord, outcome: WriteOutcome) -> Committed {
    match outcome {
        WriteOutcome::Written => Committed::Written(Box::new(next)),
        WriteOutcome::VersionConflict => Committed::Conflict,
        WriteOutcome::IdempotencyKeyTaken => Committed::IdempotencyKeyTaken,
    }
}
