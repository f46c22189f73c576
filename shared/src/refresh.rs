//! Keeping tokens fresh (brief §5): one refresh of one credential, single-flight.
//!
//! Order: take a lease (a conditional write with an expiry), re-read, skip if someone else
//! refreshed, exchange, write access and (rotated) refresh token together as one new secret
//! version, then commit the metadata that names that version, conditioned on the version read.
//! A crash before the secret write loses only the new tokens (the old ones are still named);
//! a crash between the secret write and the commit leaves the new version under its own label
//! (`LATCHKEY_REFRESHED`), which the next refresh adopts, so a rotated refresh token survives.

use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

use crate::domain::{CredentialId, Status};
use crate::error::ApiError;
use crate::record::{CredentialRecord, HistoryAction, HistoryEntry};
use crate::store::{Change, WriteOutcome};
use crate::testers::{Target, Testers};
use crate::validity::{Observation, Trigger, Verdict};
use crate::Backends;

/// How long one refresh may hold a credential; longer than any exchange is allowed to take.
const LEASE: Duration = Duration::from_secs(60);
/// Tokens that do not say how long they live are taken to live an hour.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RefreshOutcome {
    Refreshed {
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Nothing to do: another refresh holds the lease, the token is still fresh, the credential
    /// is gone, or it has no tokens.
    Skipped { reason: &'static str },
    /// The provider refused the refresh token: re-authentication needed, no more attempts.
    ReauthRequired,
    /// A transient failure: retried with backoff; invalid only once the token has expired.
    Failed { code: String },
}

/// The refresh margin: configured, or the smaller of 15 minutes and 10 % of the lifetime.
pub fn margin(lifetime: Duration, configured: Option<Duration>) -> Duration {
    configured.unwrap_or_else(|| (lifetime / 10).min(Duration::from_secs(15 * 60)))
}

/// Retry a transient failure after 1, 2, 4 ... minutes, at most an hour.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(60 * 2u64.saturating_pow(failures.saturating_sub(1).min(6)))
        .min(Duration::from_secs(3600))
}

/// Which refreshes to do: what is due by a time (the sweep looks one period ahead; a resolve
/// looks at now), or this one regardless (an operator's "refresh now").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    DueBy(OffsetDateTime),
    Now,
}

pub struct Refresher<'a> {
    pub aws: &'a Backends,
    pub testers: &'a Testers,
    pub margin: Option<Duration>,
}

impl Refresher<'_> {
    /// Refreshes `id` if it is due (or always, with `force`). `actor` is who asked.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn refresh(
        &self,
        id: &CredentialId,
        when: When,
        actor: &str,
    ) -> Result<RefreshOutcome, ApiError> {
        let owner = ulid::Ulid::new().to_string();
        if !self.aws.store.take_lease(id, &owner, LEASE).await? {
            return Ok(RefreshOutcome::Skipped {
                reason: "lease_busy",
            });
        }
        let outcome = self.refresh_leased(id, when, actor).await;
        if let Err(e) = self.aws.store.release_lease(id, &owner).await {
            tracing::warn!(error = %e, "lease not released; it expires by itself");
        }
        outcome
    }

    async fn refresh_leased(
        &self,
        id: &CredentialId,
        when: When,
        actor: &str,
    ) -> Result<RefreshOutcome, ApiError> {
        let force = when == When::Now;
        let Some(record) = self.aws.store.get(id).await? else {
            return Ok(RefreshOutcome::Skipped { reason: "gone" });
        };
        let now = OffsetDateTime::now_utc();
        if record.is_deleted() || !record.is_token_based() {
            return Ok(RefreshOutcome::Skipped {
                reason: "not_refreshable",
            });
        }
        if record.status == Status::ReauthRequired && !force {
            return Ok(RefreshOutcome::Skipped {
                reason: "reauth_required",
            });
        }
        // Someone else refreshed while this one waited for the lease.
        let horizon = match when {
            When::DueBy(by) => by,
            When::Now => now,
        };
        let fresh = record
            .token
            .next_refresh_at()
            .is_none_or(|due| due > horizon)
            && record.token.token_expires_at.is_some_and(|exp| exp > now);
        if fresh && !force {
            return Ok(RefreshOutcome::Skipped { reason: "fresh" });
        }

        // A refresh that crashed after writing its tokens but before naming them left the newest
        // ones in a version of their own: the vault hands those over, or a rotated refresh token
        // would be lost.
        let secrets = self
            .aws
            .vault
            .refresh_input(&record.id, &record.secret_version)
            .await?;
        let target = Target::of(&record, &secrets);
        let grant = match self.testers.acquire_token(&target).await {
            Ok(g) => g,
            Err(observation) => return self.record_failure(&record, observation, actor, now).await,
        };

        let observation = Observation::new(
            Verdict::Valid,
            "refreshed",
            "the provider issued a new access token",
        );
        match store_grant(
            self.aws,
            &record,
            secrets,
            grant,
            self.margin,
            HistoryAction::Refreshed,
            &observation,
            Trigger::Refresh,
            actor,
        )
        .await?
        {
            Some(expires_at) => Ok(RefreshOutcome::Refreshed { expires_at }),
            // Edited meanwhile: the edit wins; its own schedule fetches a token for the new details.
            None => Ok(RefreshOutcome::Skipped {
                reason: "changed_meanwhile",
            }),
        }
    }

    async fn record_failure(
        &self,
        record: &CredentialRecord,
        observation: Observation,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, ApiError> {
        let mut next = record.clone();
        next.token.refresh_failures += 1;
        let exhausted = observation.code == "refresh_exhausted";
        let expired = record.token.token_expires_at.is_none_or(|exp| exp <= now);
        let outcome = if exhausted {
            next.token.schedule(None);
            apply_status(&mut next, &observation, Trigger::Refresh, now);
            next.status = Status::ReauthRequired;
            RefreshOutcome::ReauthRequired
        } else {
            next.token
                .schedule(Some(now + backoff(next.token.refresh_failures)));
            if observation.result == Verdict::Invalid || expired {
                // Rejected client credentials are invalid at once; a transient failure only
                // once the token it was meant to replace has expired.
                let failed = Observation::new(
                    Verdict::Invalid,
                    "refresh_failed",
                    format!(
                        "the token expired and could not be refreshed: {}",
                        observation.message
                    ),
                );
                apply_status(&mut next, &failed, Trigger::Refresh, now);
            }
            RefreshOutcome::Failed {
                code: observation.code.clone(),
            }
        };
        let changed = next.status != record.status;
        let mut change = Change::update(
            &next,
            record.version,
            entry(
                HistoryAction::RefreshFailed,
                actor,
                now,
                &observation,
                Trigger::Refresh,
            ),
        );
        if changed {
            let mut line = entry(
                HistoryAction::StatusChanged,
                actor,
                now,
                &observation,
                Trigger::Refresh,
            )
            .status_only();
            line.status = Some(next.status);
            line.code = next.status_code.clone();
            change = change.and_history(line);
        }
        if !matches!(self.aws.store.write(change).await?, WriteOutcome::Written) {
            return Ok(RefreshOutcome::Skipped {
                reason: "changed_meanwhile",
            });
        }
        tracing::info!(code = %observation.code, failures = next.token.refresh_failures, "token refresh failed");
        if changed {
            let reason = next.status_reason.clone().unwrap_or_default();
            let changed_to = Observation::new(
                observation.result,
                next.status_code.as_deref().unwrap_or(""),
                reason,
            );
            status_event(self.aws, record, &next, &changed_to, Trigger::Refresh).await;
        }
        Ok(outcome)
    }
}

/// Stores tokens from a provider: access and (rotated) refresh token as one new secret version,
/// then the metadata naming it with the token's expiry and next refresh, and the status valid.
/// `None` when the credential changed meanwhile (the tokens are then not kept).
#[allow(clippy::too_many_arguments)]
pub async fn store_grant(
    aws: &Backends,
    record: &CredentialRecord,
    mut secrets: crate::catalog::SecretFields,
    grant: crate::testers::Grant,
    configured_margin: Option<Duration>,
    action: HistoryAction,
    observation: &Observation,
    trigger: Trigger,
    actor: &str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    let now = OffsetDateTime::now_utc();
    secrets.0.insert("access_token".into(), grant.access_token);
    if let Some(rotated) = grant.refresh_token {
        secrets.0.insert("refresh_token".into(), rotated);
    }
    let lifetime = grant.expires_in.unwrap_or(DEFAULT_LIFETIME);
    let expires_at = now + lifetime;
    let mut next = record.clone();
    next.secret_version = aws
        .vault
        .put_pending(&record.id, &secrets, crate::vault::Pending::Refresh)
        .await?;
    next.secret_fields = secrets.names();
    next.token.token_expires_at = Some(expires_at);
    next.token.last_refresh_at = Some(now);
    next.token.refresh_failures = 0;
    let due = expires_at - margin(lifetime, configured_margin);
    next.token.schedule(next.refreshable().then_some(due));
    let recovered = record.status != Status::Valid;
    apply_status(&mut next, observation, trigger, now);
    let mut change = Change::update(
        &next,
        record.version,
        entry(action, actor, now, observation, trigger),
    );
    if recovered {
        change = change.and_history(
            entry(
                HistoryAction::StatusChanged,
                actor,
                now,
                observation,
                trigger,
            )
            .status_only(),
        );
    }
    if !matches!(aws.store.write(change).await?, WriteOutcome::Written) {
        return Ok(None);
    }
    if let Err(e) = aws
        .vault
        .promote(&record.id, &next.secret_version, &record.secret_version)
        .await
    {
        tracing::warn!(error = %e, "new token secret version not promoted to AWSCURRENT");
    }
    tracing::info!(credential_id = %record.id, expires_at = %expires_at, "tokens stored");
    aws.events
        .publish(
            "CredentialRefreshed",
            json!({ "credential_id": record.id, "expires_at": crate::record::rfc3339(expires_at) }),
        )
        .await;
    if recovered {
        status_event(aws, record, &next, observation, trigger).await;
    }
    Ok(Some(expires_at))
}

async fn status_event(
    aws: &Backends,
    before: &CredentialRecord,
    after: &CredentialRecord,
    observation: &Observation,
    trigger: Trigger,
) {
    aws.events
        .publish(
            "CredentialStatusChanged",
            json!({
                "credential_id": before.id, "owner": before.owner, "org_id": before.org_id,
                "from": before.status, "to": after.status, "code": observation.code,
                "reason": observation.message, "trigger": trigger,
            }),
        )
        .await;
}

fn apply_status(
    next: &mut CredentialRecord,
    observation: &Observation,
    trigger: Trigger,
    now: OffsetDateTime,
) {
    if let Some(status) = observation.status() {
        if status != next.status {
            next.status_changed_at = Some(now);
        }
        next.status = status;
        next.status_code = Some(observation.code.clone());
        next.status_reason = Some(observation.message.clone());
        next.status_trigger = Some(trigger);
        if status == Status::Valid {
            next.verified_at = Some(now);
        }
    }
}

fn entry(
    action: HistoryAction,
    actor: &str,
    now: OffsetDateTime,
    o: &Observation,
    trigger: Trigger,
) -> HistoryEntry {
    HistoryEntry::new(action, actor, now).observed(Some(o.result), o.status(), &o.code, trigger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_the_smaller_of_fifteen_minutes_and_a_tenth_of_the_lifetime() {
        assert_eq!(
            margin(Duration::from_secs(3600), None),
            Duration::from_secs(360)
        );
        assert_eq!(
            margin(Duration::from_secs(24 * 3600), None),
            Duration::from_secs(900)
        );
        assert_eq!(
            margin(Duration::from_secs(30), None),
            Duration::from_secs(3)
        );
        assert_eq!(
            margin(Duration::from_secs(3600), Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(2), Duration::from_secs(120));
        assert_eq!(backoff(3), Duration::from_secs(240));
        assert_eq!(backoff(20), Duration::from_secs(3600));
    }
}
