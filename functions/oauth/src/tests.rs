//! The OAuth function's own rules: where the person is sent afterwards, when JSON is wanted,
//! and the authorization state, which works once, for ten minutes, for someone who may still
//! connect (against the in-memory adapters; the code exchange itself is tested against
//! oidc-provider in the integration tests).

use super::*;
use latchkey_shared::domain::Role;
use latchkey_shared::testing::{answer, caller, config, ApiRequest, World};
use serde_json::json;

#[test]
fn the_done_location_keeps_a_relative_url_relative_and_adds_the_outcome() {
    let id = CredentialId::parse("cred_01jd5k3m9x0000000000000000").unwrap();
    for (done_url, expected) in [
        (
            "../console/connected",
            "../console/connected?credential_id=cred_01jd5k3m9x0000000000000000&result=connected",
        ),
        (
            "/app?tab=1",
            "/app?tab=1&credential_id=cred_01jd5k3m9x0000000000000000&result=connected",
        ),
        (
            "https://app.example.com/credentials",
            "https://app.example.com/credentials?credential_id=cred_01jd5k3m9x0000000000000000&result=connected",
        ),
        (
            "https://app.example.com/c?x=1",
            "https://app.example.com/c?x=1&credential_id=cred_01jd5k3m9x0000000000000000&result=connected",
        ),
    ] {
        assert_eq!(
            done_location(done_url, Some(&id), ("result", "connected")),
            expected
        );
    }
    // Resolved as a browser does, against the callback behind a stage.
    let callback = url::Url::parse("https://api.example.com/dev/oauth/callback?code=x").unwrap();
    let location = done_location("../console/connected", None, ("error", "access_denied"));
    assert_eq!(
        callback.join(&location).unwrap().as_str(),
        "https://api.example.com/dev/console/connected?error=access_denied"
    );
}

#[test]
fn json_is_wanted_only_when_accept_names_it() {
    let with = |accept: &str| {
        let mut req = Request::default();
        req.headers_mut().insert(
            lambda_http::http::header::ACCEPT,
            HeaderValue::from_str(accept).unwrap(),
        );
        wants_json(&req)
    };
    assert!(with("application/json"));
    assert!(with("text/plain, application/json;q=0.9"));
    assert!(!with("text/html,application/xhtml+xml,*/*;q=0.8"));
    assert!(!with("application/jsonx"));
    assert!(!wants_json(&Request::default()));
}

fn service(world: &World) -> Service {
    let config = config(&[(
        "LATCHKEY_OAUTH_REDIRECT_URI",
        "https://api.example.com/oauth/callback",
    )]);
    Service::with_ports(world.ports(), world.secrets.clone(), &config)
}

/// A connect started by `by` on a fresh authorization-code credential of alice's (bob is an
/// admin of it): the credential and the state.
async fn started(world: &World, service: &Service, by: &str) -> (CredentialId, String) {
    let record = world
        .create(
            &caller("alice", "acme", &[]),
            ("rest_api", "oauth2_authorization_code"),
            json!({ "base_url": "https://api.example.com", "client_id": "c",
                    "authorize_url": "https://auth.example.com/authorize",
                    "token_url": "https://auth.example.com/token" }),
            &[("client_secret", "s")],
        )
        .await;
    world.share(&record.id, "user:bob", Role::Admin).await;
    let req = ApiRequest::new("GET /credentials/{id}/oauth/authorize")
        .param("id", record.id.as_str())
        .header("Accept", "application/json")
        .from(&caller(by, "acme", &[]));
    let (status, body) = answer(service.handle(req).await.unwrap());
    assert_eq!(status, 200, "{body}");
    let url = url::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1;
    assert!(url
        .query_pairs()
        .any(|(k, v)| k == "code_challenge_method" && v == "S256"));
    (record.id, state.into_owned())
}

async fn come_back(service: &Service, query: &[(&str, &str)]) -> (u16, Value, String) {
    let mut req = ApiRequest::new("GET /oauth/callback");
    for (k, v) in query {
        req = req.query(k, v);
    }
    let resp = service
        .handle(req.from(&caller("x", "acme", &[])))
        .await
        .unwrap();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let (status, body) = answer(resp);
    (status, body, location)
}

#[tokio::test]
async fn a_state_works_once() {
    let world = World::default();
    let service = service(&world);
    let (id, state) = started(&world, &service, "alice").await;
    let (status, _, location) =
        come_back(&service, &[("state", &state), ("error", "access_denied")]).await;
    assert_eq!(status, 302);
    assert!(
        location.ends_with(&format!("credential_id={id}&error=access_denied")),
        "{location}"
    );
    let (status, body, _) = come_back(&service, &[("state", &state), ("code", "c")]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
}

#[tokio::test]
async fn a_state_older_than_ten_minutes_is_refused() {
    let world = World::default();
    let service = service(&world);
    let (_, state) = started(&world, &service, "alice").await;
    world.clock.advance(time::Duration::minutes(11));
    let (status, body, _) = come_back(&service, &[("state", &state), ("code", "c")]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
}

#[tokio::test]
async fn nothing_is_exchanged_for_someone_who_lost_the_right_to_connect() {
    let world = World::default();
    let service = service(&world);
    let (id, state) = started(&world, &service, "bob").await;
    let mut record = world.stored(&id).await;
    record.acl.insert("user:bob".into(), Role::Collaborator);
    world.store.put(record);
    let (status, _, location) = come_back(&service, &[("state", &state), ("code", "c")]).await;
    assert_eq!(status, 302);
    assert!(
        location.ends_with("error=initiator_lost_access"),
        "{location}"
    );
    assert_eq!(world.secrets.versions(&id), 1, "no tokens were stored");
}
