//! The resolve function's logic against the in-memory adapters: who receives connection
//! material, what it holds, a just-in-time refresh, and a flow's failure report.

use latchkey_shared::domain::{Role, Status};
use latchkey_shared::record::{CredentialRecord, HistoryAction};
use latchkey_shared::testing::{caller, World};
use serde_json::{json, Value};

use crate::Resolver;

fn resolver(world: &World) -> Resolver {
    Resolver::with_ports(
        world.ports(),
        world.secrets.clone(),
        world.provider.clone(),
        None,
    )
}

fn principal(user: &str, teams: &[&str]) -> Value {
    json!({ "user": user, "org_id": "acme", "teams": teams })
}

async fn shared_with_team(world: &World, role: Role) -> CredentialRecord {
    let alice = caller("alice", "acme", &[]);
    let record = world
        .create(
            &alice,
            ("postgres", "password"),
            json!({ "host": "db.example.com", "username": "etl" }),
            &[("password", "pw-1")],
        )
        .await;
    world.share(&record.id, "team:data", role).await
}

#[tokio::test]
async fn a_collaborator_receives_the_material_and_the_use_is_recorded() {
    let world = World::default();
    let record = shared_with_team(&world, Role::Collaborator).await;
    let answer = resolver(&world)
        .handle(json!({
            "action": "resolve", "credential_id": record.id,
            "principal": principal("dana", &["data"]),
            "usage": { "kind": "source", "resource_id": "orders" },
        }))
        .await;
    assert_eq!(answer["secrets"], json!({ "password": "pw-1" }), "{answer}");
    assert_eq!(answer["fields"]["host"], "db.example.com");
    let used = world.store.history_of(&record.id);
    let last = used.last().unwrap();
    assert_eq!(last.action, HistoryAction::Used);
    assert_eq!(last.actor, "user:dana");
    assert!(!world.store.dump().contains("pw-1"));
}

#[tokio::test]
async fn nobody_outside_the_acl_or_the_organisation_receives_anything() {
    let world = World::default();
    let record = shared_with_team(&world, Role::Collaborator).await;
    for who in [
        principal("mallory", &[]),
        json!({ "user": "dana", "org_id": "other", "teams": ["data"] }),
    ] {
        let answer = resolver(&world)
            .handle(json!({ "action": "resolve", "credential_id": record.id, "principal": who }))
            .await;
        assert_eq!(answer["error"]["code"], "not_found", "{answer}");
        assert!(answer.get("secrets").is_none());
    }
    let answer = resolver(&world)
        .handle(json!({ "action": "resolve", "credential_id": record.id, "principal": principal("dana", &["data"]), "extra": 1 }))
        .await;
    assert_eq!(answer["error"]["code"], "invalid_request");
}

async fn client_credentials(world: &World) -> CredentialRecord {
    world
        .create(
            &caller("alice", "acme", &[]),
            ("rest_api", "oauth2_client_credentials"),
            json!({ "base_url": "https://api.example.com", "token_url": "https://auth.example.com/token", "client_id": "c" }),
            &[("client_secret", "never-leaves")],
        )
        .await
}

/// Resolves for alice, and answers what she was handed.
async fn resolve(world: &World, record: &CredentialRecord) -> Value {
    resolver(world)
        .handle(json!({ "action": "resolve", "credential_id": record.id, "principal": principal("alice", &[]) }))
        .await
}

/// Alice's flow failed to authenticate with `version`.
async fn report(world: &World, record: &CredentialRecord, version: &Value) -> Value {
    resolver(world)
        .handle(
            json!({ "action": "report_failure", "credential_id": record.id,
                        "principal": principal("alice", &[]), "version": version }),
        )
        .await
}

#[tokio::test]
async fn a_due_token_is_refreshed_before_it_is_handed_out_and_only_the_access_token_leaves() {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("at-fresh", None, 3600);
    let answer = resolver(&world)
        .handle(json!({ "action": "resolve", "credential_id": record.id, "principal": principal("alice", &[]) }))
        .await;
    assert_eq!(
        answer["secrets"],
        json!({ "access_token": "at-fresh" }),
        "{answer}"
    );
    assert_eq!(answer["status"], "valid");
    assert_eq!(world.provider.calls(), 1);
    // Still fresh on the next resolve: no second exchange.
    resolver(&world)
        .handle(json!({ "action": "resolve", "credential_id": record.id, "principal": principal("alice", &[]) }))
        .await;
    assert_eq!(world.provider.calls(), 1);
}

#[tokio::test]
async fn a_flows_failure_marks_the_credential_invalid_unless_it_is_about_an_older_version() {
    let world = World::default();
    let record = shared_with_team(&world, Role::Collaborator).await;
    let report = |version: u64| {
        json!({ "action": "report_failure", "credential_id": record.id,
                "principal": principal("dana", &["data"]), "version": version,
                "usage": { "kind": "source", "resource_id": "orders" } })
    };
    let stale = resolver(&world).handle(report(record.version + 5)).await;
    assert_eq!(stale["recorded"], "stale");
    assert_eq!(world.stored(&record.id).await.status, Status::Untested);
    let answer = resolver(&world).handle(report(record.version)).await;
    assert_eq!(answer["recorded"], "transition", "{answer}");
    let stored = world.stored(&record.id).await;
    assert_eq!(stored.status, Status::Invalid);
    assert_eq!(stored.status_code.as_deref(), Some("flow_auth_failed"));
    assert!(stored.status_reason.unwrap().contains("source:orders"));
    assert_eq!(world.events.types(), ["CredentialStatusChanged"]);
}

#[tokio::test]
async fn a_flows_401_on_a_managed_token_refreshes_it_and_hands_over_the_new_one() {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    let first = resolve(&world, &record).await;
    world.clock.advance(time::Duration::minutes(5));
    // The provider revoked at-1 early; the flow's call failed with it.
    world.provider.issue("at-2", None, 3600);
    let answer = report(&world, &record, &first["version"]).await;
    assert_eq!(answer["recorded"], "refreshed", "{answer}");
    assert_eq!(answer["secrets"], json!({ "access_token": "at-2" }));
    assert_eq!(answer["status"], "valid");
    assert_eq!(world.stored(&record.id).await.status, Status::Valid);
    // The retry failed too: the new token is bad, not stale. No second exchange.
    let again = report(&world, &record, &answer["version"]).await;
    assert_eq!(again["recorded"], "transition", "{again}");
    assert_eq!(world.stored(&record.id).await.status, Status::Invalid);
    assert_eq!(world.provider.calls(), 2);
}

#[tokio::test]
async fn a_refresh_token_the_provider_refuses_asks_for_reauthentication() {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    let first = resolve(&world, &record).await;
    world.clock.advance(time::Duration::minutes(5));
    world
        .provider
        .answer(Err(latchkey_shared::status::Observation::new(
            latchkey_shared::status::Verdict::Invalid,
            latchkey_shared::status::REFRESH_EXHAUSTED,
            "refused",
        )));
    let answer = report(&world, &record, &first["version"]).await;
    assert_eq!(answer["status"], "reauth_required", "{answer}");
    assert!(answer.get("secrets").is_none());
    assert_eq!(
        world.stored(&record.id).await.status,
        Status::ReauthRequired
    );
}

#[tokio::test]
async fn a_refresh_that_fails_for_a_flow_marks_the_credential_invalid() {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    let first = resolve(&world, &record).await;
    world.clock.advance(time::Duration::minutes(5));
    world
        .provider
        .answer(Err(latchkey_shared::status::Observation::new(
            latchkey_shared::status::Verdict::Inconclusive,
            "connection_refused",
            "the token URL did not answer",
        )));
    let answer = report(&world, &record, &first["version"]).await;
    assert_eq!(answer["recorded"], "transition", "{answer}");
    let stored = world.stored(&record.id).await;
    assert_eq!(stored.status, Status::Invalid);
    assert_eq!(stored.status_code.as_deref(), Some("flow_auth_failed"));
    // More failures do not ask the provider again: the refresh's own backoff decides.
    let again = report(&world, &record, &json!(stored.version)).await;
    assert_eq!(again["recorded"], "unchanged", "{again}");
    assert_eq!(world.provider.calls(), 2);
}

#[tokio::test]
async fn a_report_that_does_not_say_which_token_failed_gets_the_current_one() {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("at-1", None, 3600);
    let first = resolve(&world, &record).await;
    world.provider.issue("at-2", None, 3600);
    report(&world, &record, &first["version"]).await;
    // Another flow, failing with at-1 too, reports without a version.
    let answer = resolver(&world)
        .handle(
            json!({ "action": "report_failure", "credential_id": record.id,
                        "principal": principal("alice", &[]) }),
        )
        .await;
    assert_eq!(answer["recorded"], "current", "{answer}");
    assert_eq!(answer["secrets"], json!({ "access_token": "at-2" }));
    assert_eq!(world.stored(&record.id).await.status, Status::Valid);
    assert_eq!(world.provider.calls(), 2, "no exchange for it");
}
