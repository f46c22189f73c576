//! Resolve keeps the secret versions it read in memory (issue 16): a warm repeat asks the
//! secret store nothing, while the metadata read and the authorization still happen on every
//! call, so a new version or a revoked grant takes effect at once.

use latchkey_shared::domain::CredentialId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{postgres, TestApp, ORG};

#[tokio::test]
async fn a_warm_resolve_reads_no_secret_yet_follows_new_versions_and_revocations_at_once() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("warehouse", "pw-1")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let shared = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/bob"),
            Some(&app.token("alice")),
            Some(&json!({"role": "collaborator"})),
            &[],
        )
        .await;
    assert_eq!(shared.status, 201, "{}", shared.text);
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let resolve = |user: &str| {
        resolver.handle(json!({"action": "resolve", "credential_id": id,
                               "principal": {"user": user, "org_id": ORG}}))
    };
    let password = |answer: &Value| answer["secrets"]["password"].clone();
    assert_eq!(password(&resolve("bob").await), "pw-1");

    // A new version is read at once: the cache is keyed by the version the metadata names.
    let edited = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"fields": {"password": "pw-2"}})),
            &[],
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(password(&resolve("bob").await), "pw-2");

    // With the secret gone from the store behind the service's back, the warm repeat still
    // answers: it asked the store nothing.
    app.secret_store()
        .destroy_unreferenced(&CredentialId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(password(&resolve("bob").await), "pw-2");
    assert_eq!(password(&resolve("alice").await), "pw-2");

    // A revoked grant is refused at once, although the secret is still in memory.
    let revoked = app
        .call(
            Method::DELETE,
            &format!("{path}/accessors/user/bob"),
            Some(&app.token("alice")),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let refused = resolve("bob").await;
    assert_eq!(refused["error"]["code"], "not_found", "{refused}");
    assert!(refused.get("secrets").is_none());

    // A fresh (cold) resolver has nothing in memory and finds the secret gone.
    let cold =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let answer = cold
        .handle(json!({"action": "resolve", "credential_id": id,
                       "principal": {"user": "alice", "org_id": ORG}}))
        .await;
    assert_eq!(answer["error"]["code"], "internal_error", "{answer}");
}
