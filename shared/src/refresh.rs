//! Keeping tokens fresh (brief §5): one refresh of one credential, single-flight.
//!
//! Order: take a lease (a conditional write with an expiry), re-read, skip if someone else
//! refreshed, exchange, then store access and (rotated) refresh token through the one write
//! path ([`crate::commit`]): a new secret version derived from the one the metadata names, then
//! the metadata commit conditioned on the version read. A crash before the secret write loses
//! only the new tokens (the old ones are still named); a commit lost to a crash or to a
//! concurrent write leaves the new version under its own label (`LATCHKEY_REFRESHED`), whose
//! tokens the next refresh adopts only if the version then named is the one it derives from:
//! after an edit it is ignored, so an edit's new secrets are never mixed with old ones.

use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

use crate::commit::{commit, commit_with_secrets, Committed, Secrets, Write};
use crate::domain::{CredentialId, Status};
use crate::error::InternalError;
use crate::ports::{Ports, SecretStore, TokenEndpoint};
use crate::record::{CredentialRecord, HistoryAction, HistoryEntry};
use crate::status::{Observation, Trigger, Verdict, REFRESH_EXHAUSTED};
use crate::target::Target;
use crate::validity::{status_changed, status_line};
use crate::vault::Pending;

/// How long one refresh may hold a credential; longer than any exchange is allowed to take.
const LEASE: Duration = Duration::from_secs(60);
/// Tokens that do not say how long they live are taken to live an hour.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RefreshOutcome {
    Refreshed {
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Nothing to do: another refresh holds the lease, the token is still fresh, the credential
    /// is gone, or it has no tokens.
    Skipped { reason: SkipReason },
    /// The provider refused the refresh token: re-authentication needed, no more attempts.
    ReauthRequired,
    /// A transient failure: retried with backoff; invalid only once the token has expired.
    Failed { code: String },
}

/// Why a refresh did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Another refresh holds the lease.
    LeaseBusy,
    /// The credential was deleted or no longer exists.
    Gone,
    /// Its auth type has no tokens to refresh.
    NotRefreshable,
    /// Only a person re-authenticating can bring new tokens.
    ReauthRequired,
    /// The token is not due yet.
    Fresh,
    /// The credential changed during the refresh; the change wins.
    ChangedMeanwhile,
}

/// The refresh margin: configured, or the smaller of 15 minutes and 10 % of the lifetime.
pub fn margin(lifetime: Duration, configured: Option<Duration>) -> Duration {
    configured.unwrap_or_else(|| (lifetime / 10).min(Duration::from_secs(15 * 60)))
}

/// Retry a transient failure after 1, 2, 4 ... minutes, at most an hour.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(60 * 2u64.saturating_pow(failures.saturating_sub(1).min(6)))
        .min(Duration::from_secs(3600))
}

/// Which refreshes to do: what is due by a time (the sweep looks one period ahead; a resolve
/// looks at now), this one regardless (an operator's "refresh now"), or this one because a
/// flow failed with the token of this version (unless a refresh or an edit came since).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    DueBy(OffsetDateTime),
    Now,
    AfterFlowFailure(u64),
}

pub struct Refresher<'a> {
    pub ports: &'a Ports,
    pub secrets: &'a dyn SecretStore,
    pub provider: &'a dyn TokenEndpoint,
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
    ) -> Result<RefreshOutcome, InternalError> {
        let leased = self
            .ports
            .leased(id, LEASE, self.refresh_leased(id, when, actor));
        Ok(leased.await?.unwrap_or(RefreshOutcome::Skipped {
            reason: SkipReason::LeaseBusy,
        }))
    }

    async fn refresh_leased(
        &self,
        id: &CredentialId,
        when: When,
        actor: &str,
    ) -> Result<RefreshOutcome, InternalError> {
        let force = !matches!(when, When::DueBy(_));
        let Some(record) = self.ports.store.get(id).await? else {
            return Ok(RefreshOutcome::Skipped {
                reason: SkipReason::Gone,
            });
        };
        let now = self.ports.now();
        if record.is_deleted() || !record.is_token_based() {
            return Ok(RefreshOutcome::Skipped {
                reason: SkipReason::NotRefreshable,
            });
        }
        if let When::AfterFlowFailure(failed) = when {
            if record.version != failed {
                // Another flow's report (or an edit) already brought new material.
                return Ok(RefreshOutcome::Skipped {
                    reason: SkipReason::ChangedMeanwhile,
                });
            }
        }
        if record.status == Status::ReauthRequired && !force {
            return Ok(RefreshOutcome::Skipped {
                reason: SkipReason::ReauthRequired,
            });
        }
        // Someone else refreshed while this one waited for the lease.
        let horizon = match when {
            When::DueBy(by) => by,
            When::Now | When::AfterFlowFailure(_) => now,
        };
        if !record.token.is_due(horizon, now) && !force {
            return Ok(RefreshOutcome::Skipped {
                reason: SkipReason::Fresh,
            });
        }

        // A refresh that crashed after writing its tokens but before naming them left the newest
        // ones in a version of their own: the vault hands those over, or a rotated refresh token
        // would be lost.
        let secrets = self
            .secrets
            .refresh_input(record.secret_owner(), &record.secret_version)
            .await?;
        let target = Target::of(&record, &secrets);
        let tokens = match self.provider.acquire(&target).await {
            Ok(t) => t,
            Err(observation) => return self.record_failure(&record, observation, actor, now).await,
        };
        let new = NewTokens {
            record: &record,
            secrets,
            tokens,
            source: match when {
                When::AfterFlowFailure(_) => TokenSource::FlowFailure,
                _ => TokenSource::Refresh,
            },
            actor,
            margin: self.margin,
        };
        match store_tokens(self.ports, self.secrets, new).await? {
            Some(expires_at) => Ok(RefreshOutcome::Refreshed { expires_at }),
            // Edited meanwhile: the edit wins; its own schedule fetches a token for the new details.
            None => Ok(RefreshOutcome::Skipped {
                reason: SkipReason::ChangedMeanwhile,
            }),
        }
    }

    async fn record_failure(
        &self,
        record: &CredentialRecord,
        observation: Observation,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, InternalError> {
        let mut next = record.clone();
        next.token.refresh_failures += 1;
        let expired = record.token.token_expires_at.is_none_or(|exp| exp <= now);
        let (outcome, verdict) = if observation.code == REFRESH_EXHAUSTED {
            next.token.schedule(None);
            (RefreshOutcome::ReauthRequired, Some(observation.clone()))
        } else {
            next.token
                .schedule(Some(now + backoff(next.token.refresh_failures)));
            // Rejected client credentials are invalid at once; a transient failure only once
            // the token it was meant to replace has expired.
            let failed = (observation.result == Verdict::Invalid || expired).then(|| {
                Observation::new(
                    Verdict::Invalid,
                    "refresh_failed",
                    format!(
                        "the token expired and could not be refreshed: {}",
                        observation.message
                    ),
                )
            });
            let code = observation.code.clone();
            (RefreshOutcome::Failed { code }, failed)
        };
        let transition = verdict
            .as_ref()
            .and_then(|v| next.observe(v, Trigger::Refresh, now));
        let failures = next.token.refresh_failures;
        let history = entry(
            HistoryAction::RefreshFailed,
            actor,
            now,
            &observation,
            Trigger::Refresh,
        );
        let mut write = Write::update(record, next, history);
        if let (Some((_, to)), Some(v)) = (transition, &verdict) {
            write = write.and_history(status_line(actor, now, to, &v.code, Trigger::Refresh));
        }
        let Committed::Written(_) = commit(&*self.ports.store, write).await? else {
            return Ok(RefreshOutcome::Skipped {
                reason: SkipReason::ChangedMeanwhile,
            });
        };
        tracing::info!(code = %observation.code, failures, "token refresh failed");
        if let (Some(transition), Some(v)) = (transition, &verdict) {
            status_changed(self.ports, record, transition, v, Trigger::Refresh).await;
        }
        Ok(outcome)
    }
}

/// Where new tokens came from: what the history line, the status and its trigger say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// The scheduled or on-demand refresh.
    Refresh,
    /// A refresh because a flow failed to authenticate with the token before.
    FlowFailure,
    /// A person connected (or re-authenticated) through the provider.
    Connect,
}

impl TokenSource {
    fn action(self) -> HistoryAction {
        match self {
            TokenSource::Refresh | TokenSource::FlowFailure => HistoryAction::Refreshed,
            TokenSource::Connect => HistoryAction::Connected,
        }
    }

    fn trigger(self) -> Trigger {
        match self {
            TokenSource::Refresh => Trigger::Refresh,
            TokenSource::FlowFailure => Trigger::Flow,
            TokenSource::Connect => Trigger::Connect,
        }
    }

    fn observation(self) -> Observation {
        match self {
            TokenSource::Refresh | TokenSource::FlowFailure => Observation::new(
                Verdict::Valid,
                "refreshed",
                "the provider issued a new access token",
            ),
            TokenSource::Connect => Observation::new(
                Verdict::Valid,
                "connected",
                "connected through the OAuth provider",
            ),
        }
    }
}

/// Tokens a provider issued for a credential, to store.
pub struct NewTokens<'a> {
    /// The credential as read before asking the provider.
    pub record: &'a CredentialRecord,
    /// Its secret fields, which the tokens join.
    pub secrets: crate::catalog::SecretFields,
    pub tokens: crate::oauth::Tokens,
    pub source: TokenSource,
    pub actor: &'a str,
    /// The configured refresh margin (`None`: derived from the token's lifetime).
    pub margin: Option<Duration>,
}

/// Stores tokens from a provider: access and (rotated) refresh token as one new secret version
/// derived from the one `record` names, then the metadata naming it with the token's expiry and
/// next refresh, and the status the observation leads to (through the one write path).
/// `None` when the credential changed meanwhile (the tokens are then not named; see
/// [`SecretStore::refresh_input`] for when a later refresh adopts them).
pub async fn store_tokens(
    ports: &Ports,
    vault: &dyn SecretStore,
    new: NewTokens<'_>,
) -> Result<Option<OffsetDateTime>, InternalError> {
    let NewTokens {
        record,
        mut secrets,
        tokens,
        source,
        actor,
        margin: configured_margin,
    } = new;
    let (action, observation, trigger) = (source.action(), &source.observation(), source.trigger());
    let now = ports.now();
    secrets.0.insert("access_token".into(), tokens.access_token);
    if let Some(rotated) = tokens.refresh_token {
        secrets.0.insert("refresh_token".into(), rotated);
    }
    let lifetime = tokens.expires_in.unwrap_or(DEFAULT_LIFETIME);
    let expires_at = now + lifetime;
    let mut next = record.clone();
    next.secret_fields = secrets.names();
    next.token.token_expires_at = Some(expires_at);
    next.token.last_refresh_at = Some(now);
    next.token.refresh_failures = 0;
    next.token.refreshed_for_flow = source == TokenSource::FlowFailure;
    let due = expires_at - margin(lifetime, configured_margin);
    next.token.schedule(next.refreshable().then_some(due));
    let transition = next.observe(observation, trigger, now);
    let mut write = Write::update(
        record,
        next,
        entry(action, actor, now, observation, trigger),
    );
    if let Some((_, to)) = transition {
        write = write.and_history(status_line(actor, now, to, &observation.code, trigger));
    }
    let secrets = Secrets::Replace(secrets, Pending::Refresh);
    let Committed::Written(_) = commit_with_secrets(&*ports.store, vault, write, secrets).await?
    else {
        return Ok(None);
    };
    tracing::info!(credential_id = %record.id, expires_at = %expires_at, "tokens stored");
    ports
        .events
        .publish(
            "CredentialRefreshed",
            json!({ "credential_id": record.id, "expires_at": crate::record::rfc3339(expires_at) }),
        )
        .await;
    if let Some(transition) = transition {
        status_changed(ports, record, transition, observation, trigger).await;
    }
    Ok(Some(expires_at))
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
