//! The orphan-secret sweep (brief §6). A create writes the secret before the metadata; if it
//! fails in between, the secret is left with no metadata naming it. This removes such secrets
//! once they are old enough that no create can still be in flight for them.

use latchkey_shared::config::Config;
use latchkey_shared::error::ApiError;
use latchkey_shared::Backends;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Secrets under the prefix that carry a credential id tag.
    pub examined: usize,
    /// Of those, secrets no metadata item names, now destroyed.
    pub removed: usize,
}

pub struct Janitor {
    aws: Backends,
    min_age: Duration,
}

impl Janitor {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        Self {
            aws: Backends::new(aws, config),
            min_age: Duration::minutes(i64::from(config.orphan_min_age_minutes)),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<SweepReport, ApiError> {
        let cutoff = OffsetDateTime::now_utc() - self.min_age;
        let mut report = SweepReport::default();
        for secret in self.aws.vault.tagged_secrets().await? {
            report.examined += 1;
            if secret.created_at > cutoff {
                continue; // a create may still be about to write its metadata
            }
            if self.aws.store.get(&secret.credential_id).await?.is_none() {
                self.aws
                    .vault
                    .destroy_unreferenced(&secret.credential_id)
                    .await?;
                tracing::info!(credential_id = %secret.credential_id, "orphan secret removed");
                report.removed += 1;
            }
        }
        tracing::info!(
            examined = report.examined,
            removed = report.removed,
            "orphan sweep done"
        );
        Ok(report)
    }
}
