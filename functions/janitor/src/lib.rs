//! The orphan-secret sweep (brief §6). A create writes the secret before the metadata; if it
//! fails in between, the secret is left with no metadata naming it. This removes such secrets
//! once they are old enough that no create can still be in flight for them.

use lambda_runtime::LambdaEvent;
use latchkey_shared::config::Config;
use latchkey_shared::domain::CredentialId;
use latchkey_shared::error::InternalError;
use latchkey_shared::ports::{Clock, CredentialStore, SecretStore};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use time::Duration;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Secrets under the prefix that carry a credential id tag.
    pub examined: usize,
    /// Of those, secrets no metadata item names, now destroyed.
    pub removed: usize,
}

/// Given no event sink, as its IAM role has none: the sweep reads metadata and removes secrets.
pub struct Janitor {
    store: Arc<dyn CredentialStore>,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    min_age: Duration,
}

impl Janitor {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        let ports = latchkey_shared::aws::ports(aws, config);
        let secrets = latchkey_shared::aws::secrets(aws, config);
        Self::with_ports(ports.store, secrets, ports.clock, config)
    }

    pub fn with_ports(
        store: Arc<dyn CredentialStore>,
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        config: &Config,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            min_age: Duration::minutes(i64::from(config.orphan_min_age_minutes)),
        }
    }

    /// The Lambda handler: the schedule's event says only when it fired; every sweep is the same.
    pub async fn on_schedule(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        latchkey_shared::schedule::answer(&event.payload, self.sweep()).await
    }

    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<SweepReport, InternalError> {
        let cutoff = self.clock.now() - self.min_age;
        let secrets = self.secrets.tagged_secrets().await?;
        let mut report = SweepReport {
            examined: secrets.len(),
            ..SweepReport::default()
        };
        // Younger secrets are left alone: a create may still be about to write their metadata.
        let candidates: Vec<CredentialId> = secrets
            .into_iter()
            .filter(|s| s.created_at <= cutoff)
            .map(|s| s.credential_id)
            .collect();
        // One batch read per 100 secrets, not one read each: the sweep stays well inside its
        // timeout at tens of thousands of credentials.
        let named: HashSet<CredentialId> = self
            .store
            .get_many(&candidates)
            .await?
            .into_iter()
            .map(|record| record.id)
            .collect();
        for id in candidates.iter().filter(|id| !named.contains(*id)) {
            self.secrets.destroy_unreferenced(id).await?;
            tracing::info!(credential_id = %id, "orphan secret removed");
            report.removed += 1;
        }
        tracing::info!(
            examined = report.examined,
            removed = report.removed,
            "orphan sweep done"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
