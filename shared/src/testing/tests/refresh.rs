//! Refresh decisions: fresh, due, failed before and after expiry, exhausted, busy, changed
//! meanwhile, gone.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::{CredentialId, Status};
use crate::oauth::Tokens;
use crate::ports::{CredentialStore, SecretReader, SecretStore, TokenEndpoint};
use crate::record::CredentialRecord;
use crate::refresh::{backoff, margin, RefreshOutcome, Refresher, SkipReason, When};
use crate::status::{Observation, Verdict, REFRESH_EXHAUSTED};
use crate::target::Target;
use crate::testing::{MemoryStore, ScriptedProvider};

use super::{alice, World};

async fn client_credentials(world: &World) -> CredentialRecord {
    world
        .create(
            &alice(),
            ("rest_api", "oauth2_client_credentials"),
            json!({ "base_url": "https://api.example.com", "token_url": "https://auth.example.com/token", "client_id": "c" }),
            &[("client_secret", "s3cret")],
        )
        .await
}

async fn refresh_with(
    world: &World,
    provider: &dyn TokenEndpoint,
    id: &CredentialId,
    when: When,
) -> RefreshOutcome {
    let ports = world.ports();
    let refresher = Refresher {
        ports: &ports,
        secrets: &*world.secrets,
        provider,
        margin: None,
    };
    refresher
        .refresh(id, when, "service:refresh")
        .await
        .unwrap()
}

async fn refresh(world: &World, id: &CredentialId) -> RefreshOutcome {
    refresh_with(world, &*world.provider, id, When::DueBy(world.now())).await
}

async fn access_token(world: &World, id: &CredentialId) -> String {
    let record = world.stored(id).await;
    let secrets = world
        .secrets
        .read(record.secret_owner(), &record.secret_version)
        .await
        .unwrap();
    secrets.0["access_token"].expose_secret().to_owned()
}

fn refused(result: Verdict, code: &str) -> Result<Tokens, Observation> {
    Err(Observation::new(result, code, "the provider said no"))
}

#[tokio::test]
async fn a_due_token_is_refreshed_stored_and_scheduled_before_it_expires() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    let expires_at = world.now() + time::Duration::hours(1);
    assert_eq!(
        refresh(&world, &cred.id).await,
        RefreshOutcome::Refreshed { expires_at }
    );
    let stored = world.stored(&cred.id).await;
    assert_eq!(stored.token.token_expires_at, Some(expires_at));
    // A tenth of the lifetime ahead: six minutes.
    let due = expires_at - time::Duration::minutes(6);
    assert_eq!(stored.token.refresh_due, Some(due.unix_timestamp()));
    assert_eq!(stored.status, Status::Valid);
    assert_eq!(access_token(&world, &cred.id).await, "at-1");
    assert_eq!(
        world.events.types(),
        ["CredentialRefreshed", "CredentialStatusChanged"]
    );
    assert!(!world.store.dump().contains("at-1"));
}

#[tokio::test]
async fn a_fresh_token_is_left_alone_unless_a_refresh_is_asked_for_now() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    refresh(&world, &cred.id).await;
    world.clock.advance(time::Duration::minutes(10));
    let skipped = RefreshOutcome::Skipped {
        reason: SkipReason::Fresh,
    };
    assert_eq!(refresh(&world, &cred.id).await, skipped);
    assert_eq!(world.provider.calls(), 1);
    world.provider.issue("at-2", None, 3600);
    let now = refresh_with(&world, &*world.provider, &cred.id, When::Now).await;
    assert!(matches!(now, RefreshOutcome::Refreshed { .. }));
    assert_eq!(access_token(&world, &cred.id).await, "at-2");
}

#[tokio::test]
async fn a_refused_refresh_token_asks_for_reauthentication_and_stops_refreshing() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    world
        .provider
        .answer(refused(Verdict::Invalid, REFRESH_EXHAUSTED));
    assert_eq!(
        refresh(&world, &cred.id).await,
        RefreshOutcome::ReauthRequired
    );
    let stored = world.stored(&cred.id).await;
    assert_eq!(stored.status, Status::ReauthRequired);
    assert_eq!(stored.token.refresh_due, None, "out of the sweep");
    let skipped = RefreshOutcome::Skipped {
        reason: SkipReason::ReauthRequired,
    };
    assert_eq!(refresh(&world, &cred.id).await, skipped);
    assert_eq!(world.provider.calls(), 1, "the provider is not asked again");
}

#[tokio::test]
async fn a_transient_failure_retries_with_backoff_and_keeps_a_live_token_valid() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    refresh(&world, &cred.id).await;
    world.clock.advance(time::Duration::minutes(55));
    world
        .provider
        .answer(refused(Verdict::Inconclusive, "connection_refused"));
    let failed = RefreshOutcome::Failed {
        code: "connection_refused".into(),
    };
    assert_eq!(refresh(&world, &cred.id).await, failed);
    let stored = world.stored(&cred.id).await;
    assert_eq!(stored.status, Status::Valid);
    assert_eq!(stored.token.refresh_failures, 1);
    let retry = world.now() + time::Duration::minutes(1);
    assert_eq!(stored.token.refresh_due, Some(retry.unix_timestamp()));
}

#[tokio::test]
async fn a_failure_once_the_token_has_expired_marks_the_credential_invalid() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    refresh(&world, &cred.id).await;
    world.clock.advance(time::Duration::hours(2));
    world
        .provider
        .answer(refused(Verdict::Inconclusive, "connection_refused"));
    refresh(&world, &cred.id).await;
    let stored = world.stored(&cred.id).await;
    assert_eq!(stored.status, Status::Invalid);
    assert_eq!(stored.status_code.as_deref(), Some("refresh_failed"));
}

#[tokio::test]
async fn a_held_lease_means_someone_else_is_refreshing() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    let taken = world
        .store
        .take_lease(&cred.id, "other", world.now(), Duration::from_secs(60));
    assert!(taken.await.unwrap());
    let busy = RefreshOutcome::Skipped {
        reason: SkipReason::LeaseBusy,
    };
    assert_eq!(refresh(&world, &cred.id).await, busy);
    assert_eq!(world.provider.calls(), 0);
    // A lease that ran out no longer holds anyone back.
    world.clock.advance(time::Duration::minutes(2));
    world.provider.issue("at-1", None, 3600);
    assert!(matches!(
        refresh(&world, &cred.id).await,
        RefreshOutcome::Refreshed { .. }
    ));
}

/// A provider during whose exchange someone else writes the credential.
struct EditedDuringExchange {
    id: CredentialId,
    store: Arc<MemoryStore>,
    provider: Arc<ScriptedProvider>,
}

#[async_trait]
impl TokenEndpoint for EditedDuringExchange {
    async fn acquire(&self, target: &Target<'_>) -> Result<Tokens, Observation> {
        let mut record = self.store.get(&self.id).await.unwrap().unwrap();
        record.version += 1;
        self.store.put(record);
        self.provider.acquire(target).await
    }
}

#[tokio::test]
async fn tokens_from_a_refresh_that_lost_to_a_write_are_kept_for_the_next_refresh() {
    let world = World::default();
    let cred = client_credentials(&world).await;
    world.provider.issue("rotated", Some("rt-2"), 3600);
    let racing = EditedDuringExchange {
        id: cred.id.clone(),
        store: world.store.clone(),
        provider: world.provider.clone(),
    };
    let outcome = refresh_with(&world, &racing, &cred.id, When::DueBy(world.now())).await;
    let changed = RefreshOutcome::Skipped {
        reason: SkipReason::ChangedMeanwhile,
    };
    assert_eq!(outcome, changed);
    let stored = world.stored(&cred.id).await;
    assert_eq!(
        stored.secret_version, cred.secret_version,
        "the new tokens are not named"
    );
    // The next refresh starts from them: a rotated refresh token is never lost.
    let input = world
        .secrets
        .refresh_input(stored.secret_owner(), &stored.secret_version)
        .await
        .unwrap();
    assert_eq!(input.0["refresh_token"].expose_secret(), "rt-2");
    assert_eq!(input.0["client_secret"].expose_secret(), "s3cret");
}

#[tokio::test]
async fn a_credential_that_is_gone_or_has_no_tokens_is_skipped() {
    let world = World::default();
    let gone = RefreshOutcome::Skipped {
        reason: SkipReason::Gone,
    };
    assert_eq!(refresh(&world, &CredentialId::generate()).await, gone);
    let db = super::postgres(&world).await;
    let not = RefreshOutcome::Skipped {
        reason: SkipReason::NotRefreshable,
    };
    assert_eq!(refresh(&world, &db.id).await, not);
    assert_eq!(world.provider.calls(), 0);
}

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
