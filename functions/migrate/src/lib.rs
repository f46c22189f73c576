//! The storage migration (issue 16): moves every credential's secret from one storage mode to
//! the other, one credential at a time under its refresh lease, each moved secret read back and
//! compared before the metadata names it and before the old copy is destroyed
//! ([`latchkey_shared::commit::commit_moved`]).
//!
//! The operator sets `SecretStorage` first (new credentials then go to the new store, and every
//! existing one stays readable where it is), then invokes this function with
//! `{"to": "envelope" | "secretsmanager", "limit"?: n}` until it answers `"remaining": 0`.
//! Each run lists what is still in the other store, so a run that stopped half-way (a timeout,
//! a crash) is simply run again: a copy that no metadata names yet is replaced, an old copy the
//! metadata no longer names is destroyed, and nothing is moved twice.

use futures::stream::{self, StreamExt};
use latchkey_shared::commit::{commit_moved, Committed, Write};
use latchkey_shared::config::{Config, SecretStorage};
use latchkey_shared::domain::CredentialId;
use latchkey_shared::error::InternalError;
use latchkey_shared::ports::{Ports, SecretStore};
use latchkey_shared::record::{HistoryAction, HistoryEntry};
use latchkey_shared::secret_routing::held_by;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Who the history says moved the secret.
pub const ACTOR: &str = "service:migration";
/// Credentials moved at once: each move is a handful of calls in sequence.
const AT_ONCE: usize = 8;
/// A move's lease: far longer than one takes.
const LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub to: SecretStorage,
    /// Most credentials to move in this run (default 5,000: well inside the function's
    /// timeout); the answer's `remaining` says whether to run again.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    5_000
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MigrationReport {
    /// Credentials whose secret was in the other store when the run started.
    pub examined: usize,
    /// Moved: written to the new store, read back and compared, named by the metadata, and the
    /// old copy destroyed.
    pub moved: usize,
    /// Moved by an earlier run that stopped before destroying the old copy: destroyed now.
    pub cleaned_up: usize,
    /// Secrets no metadata names: left for the janitor, which removes them.
    pub orphans: usize,
    /// Deleted credentials whose secret was not yet scheduled for deletion: left where they
    /// are (moved by a later run if restored).
    pub deleted: usize,
    /// Being refreshed or changed at that moment: left for the next run.
    pub busy: usize,
    /// Could not be moved (logged with the credential id): left for the next run.
    pub failed: usize,
    /// Credentials still in the other store after this run, orphans and deleted ones aside;
    /// 0 when the migration is done.
    pub remaining: usize,
}

enum Outcome {
    Moved,
    CleanedUp,
    Orphan,
    Deleted,
    Busy,
}

pub struct Migrator {
    ports: Ports,
    secrets_manager: Arc<dyn SecretStore>,
    envelope: Option<Arc<dyn SecretStore>>,
    configured: SecretStorage,
}

impl Migrator {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        let (secrets_manager, envelope) = latchkey_shared::aws::secret_stores(aws, config);
        Self {
            ports: latchkey_shared::aws::ports(aws, config),
            secrets_manager,
            envelope,
            configured: config.secret_storage,
        }
    }

    /// The Lambda handler: the operator's invoke, always answered.
    pub async fn on_invoke(
        &self,
        event: lambda_runtime::LambdaEvent<Value>,
    ) -> Result<Value, lambda_runtime::Error> {
        Ok(self.handle(event.payload).await)
    }

    pub async fn handle(&self, event: Value) -> Value {
        let refused =
            |code: &str, message: String| json!({"error": {"code": code, "message": message}});
        let request: Request = match serde_json::from_value(event) {
            Ok(r) => r,
            Err(e) => {
                return refused(
                    "invalid_request",
                    format!(
                    "expected {{\"to\": \"envelope\" | \"secretsmanager\", \"limit\"?: n}}: {e}"
                ),
                )
            }
        };
        if request.to != self.configured {
            return refused(
                "storage_mode_mismatch",
                format!(
                    "the stack's SecretStorage is {}: set it to {} first, so new credentials go there too",
                    name(self.configured),
                    name(request.to)
                ),
            );
        }
        match self.migrate(request.to, request.limit).await {
            Ok(report) => json!(report),
            Err(e) => {
                tracing::error!(error = %e, "migration stopped");
                refused(
                    "internal_error",
                    "the migration stopped; what it moved stays moved, run it again".into(),
                )
            }
        }
    }

    fn stores(
        &self,
        to: SecretStorage,
    ) -> Result<(&dyn SecretStore, &dyn SecretStore), InternalError> {
        let envelope = self
            .envelope
            .as_deref()
            .ok_or_else(|| InternalError::new("envelope secret storage is not configured"))?;
        Ok(match to {
            SecretStorage::Envelope => (&*self.secrets_manager, envelope),
            SecretStorage::SecretsManager => (envelope, &*self.secrets_manager),
        })
    }

    #[tracing::instrument(skip(self))]
    pub async fn migrate(
        &self,
        to: SecretStorage,
        limit: usize,
    ) -> Result<MigrationReport, InternalError> {
        let (from, into) = self.stores(to)?;
        // Oldest first (credential ids are ULIDs), so runs with a limit make steady progress.
        let mut waiting: Vec<CredentialId> = from
            .tagged_secrets()
            .await?
            .into_iter()
            .map(|s| s.credential_id)
            .collect();
        waiting.sort();
        let mut report = MigrationReport {
            examined: waiting.len(),
            ..MigrationReport::default()
        };
        let outcomes: Vec<(&CredentialId, Result<Outcome, InternalError>)> =
            stream::iter(waiting.iter().take(limit))
                .map(|id| async move { (id, self.move_one(id, from, into, to).await) })
                .buffer_unordered(AT_ONCE)
                .collect()
                .await;
        let mut left_alone = HashSet::new();
        for (id, outcome) in outcomes {
            match outcome {
                Ok(Outcome::Moved) => report.moved += 1,
                Ok(Outcome::CleanedUp) => report.cleaned_up += 1,
                Ok(Outcome::Orphan) => {
                    report.orphans += 1;
                    left_alone.insert(id.clone());
                }
                Ok(Outcome::Deleted) => {
                    report.deleted += 1;
                    left_alone.insert(id.clone());
                }
                Ok(Outcome::Busy) => report.busy += 1,
                Err(e) => {
                    tracing::error!(credential_id = %id, error = %e, "secret not moved");
                    report.failed += 1;
                }
            }
        }
        report.remaining = from
            .tagged_secrets()
            .await?
            .iter()
            .filter(|s| !left_alone.contains(&s.credential_id))
            .count();
        tracing::info!(?report, "migration run done");
        Ok(report)
    }

    async fn move_one(
        &self,
        id: &CredentialId,
        from: &dyn SecretStore,
        into: &dyn SecretStore,
        to: SecretStorage,
    ) -> Result<Outcome, InternalError> {
        let moved = self.ports.leased(id, LEASE, async {
            let Some(record) = self.ports.store.get(id).await? else {
                return Ok(Outcome::Orphan);
            };
            if record.deleted_at.is_some() {
                return Ok(Outcome::Deleted);
            }
            if held_by(&record.secret_version) == to {
                // Only once the copy the metadata names reads back.
                into.read(record.secret_owner(), &record.secret_version)
                    .await?;
                from.destroy_unreferenced(id).await?;
                return Ok(Outcome::CleanedUp);
            }
            // With the tokens of an interrupted refresh, which would otherwise stay behind.
            let fields = from
                .refresh_input(record.secret_owner(), &record.secret_version)
                .await?;
            let history = HistoryEntry::new(HistoryAction::StorageMoved, ACTOR, self.ports.now());
            let write = Write::update(&record, record.clone(), history);
            let committed = commit_moved(&*self.ports.store, into, from, write, &fields).await?;
            Ok(match committed {
                Committed::Written(_) => Outcome::Moved,
                Committed::Conflict | Committed::IdempotencyKeyTaken => Outcome::Busy,
            })
        });
        let outcome = moved.await?.unwrap_or(Outcome::Busy);
        if matches!(outcome, Outcome::Moved | Outcome::CleanedUp) {
            tracing::info!(credential_id = %id, "secret moved");
        }
        Ok(outcome)
    }
}

fn name(storage: SecretStorage) -> &'static str {
    match storage {
        SecretStorage::SecretsManager => "secretsmanager",
        SecretStorage::Envelope => "envelope",
    }
}
