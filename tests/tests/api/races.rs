//! Writes that race each other: an edit landing while a refresh talks to a slow provider must
//! not let the refresh's copy of the old secrets come back later (issue 11, item 1).

use reqwest::Method;
use serde_json::json;
use std::time::Duration;

use crate::canary::{capture_events, drain};
use crate::helpers::{captured_logs, TestApp, ORG};
use crate::test_servers::{authorization_code, recorder, register_client, with_client, CLIENT};

#[tokio::test]
async fn an_edit_during_a_slow_refresh_never_resurrects_the_old_secrets() {
    let app = TestApp::spawn().await;
    let (sqs, queue) = capture_events(&app).await;
    let client = format!("c{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, initial) = register_client(&client, 3600, 10);
    // The provider takes its time, so the edit below lands during the exchange.
    with_client(&client, |c| c.delay_ms = 1500);
    let body = authorization_code(&client, &token_url, &initial);
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    // An admin who does not know the secrets, with a host of their own.
    let share = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/mallory"),
            Some(&app.token("alice")),
            Some(&json!({"role": "admin"})),
            &[],
        )
        .await;
    assert_eq!(share.status, 201, "{}", share.text);
    let (attacker_url, received) = recorder();

    let refresh = {
        let token = app.token("mallory");
        let url = format!("{}{path}/refresh", app.base);
        let http = app.http.clone();
        tokio::spawn(async move { http.post(url).bearer_auth(token).send().await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let edit = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("mallory")),
            Some(&json!({"fields": {"token_url": format!("{attacker_url}/token"),
                "client_secret": "mallory-chosen-secret", "refresh_token": "mallory-chosen-refresh"}})),
            &[],
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let raced = refresh.await.unwrap().unwrap();
    let raced: serde_json::Value = raced.json().await.unwrap();
    assert_eq!(
        with_client(&client, |c| c.exchanges),
        1,
        "the slow exchange happened: {raced}"
    );
    with_client(&client, |c| c.delay_ms = 0);

    // Every later exchange, by every trigger, goes to the edited token URL with the edited
    // secrets only.
    let (sweep, work) = app.stack.refresh_run().await.unwrap();
    assert_eq!(sweep.due, 1, "{work:?}");
    let forced = app.refresh("alice", &id).await;
    assert_eq!(forced.status, 200, "{}", forced.text);
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    resolver
        .handle(json!({"action": "resolve", "credential_id": id, "principal": {"user": "alice", "org_id": ORG}}))
        .await;

    let got = received();
    assert!(
        got.len() >= 3,
        "sweep, refresh and resolve each asked: {got:#?}"
    );
    let old_basic = basic(&client, CLIENT.1);
    let edited_basic = basic(&client, "mallory-chosen-secret");
    for request in &got {
        assert!(
            request.contains(&edited_basic),
            "edited secret sent: {request}"
        );
        assert!(request.contains("mallory-chosen-refresh"), "{request}");
        for old in [
            old_basic.as_str(),
            CLIENT.1,
            &format!("{client}-rt-"),
            &format!("{client}-at-"),
        ] {
            assert!(
                !request.contains(old),
                "{old} reached the attacker's host: {request}"
            );
        }
    }
    assert_eq!(
        with_client(&client, |c| c.exchanges),
        1,
        "nothing went to the old provider after the edit"
    );

    // The old client secret stays in Secrets Manager and with the provider it belongs to.
    let responses = app.bodies.lock().unwrap().join("\n");
    let items = format!("{:?}", app.table_items().await);
    let events = drain(&sqs, &queue).await.join("\n");
    let logs = captured_logs();
    for (place, text) in [
        ("a response", &responses),
        ("a DynamoDB item", &items),
        ("an event", &events),
        ("a log line", &logs),
    ] {
        assert!(
            !text.contains(CLIENT.1),
            "the client secret leaked into {place}"
        );
        assert!(
            !text.contains(&format!("{client}-rt-")),
            "a refresh token leaked into {place}"
        );
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Every write, a test verdict included, is conditioned on the version it read and bumps it,
/// so an edit made from an older read is refused rather than silently undoing the verdict.
#[tokio::test]
async fn a_test_verdict_bumps_the_version() {
    let app = TestApp::spawn().await;
    let web = crate::test_servers::base_url();
    let body = json!({"name": "open", "connector": "rest_api", "fields": {"validation_url": format!("{web}/open")}});
    let created = app.create("alice", &body).await;
    let path = format!("/credentials/{}", created["id"].as_str().unwrap());
    assert_eq!(created["version"], 1);
    let tested = app.post("alice", &format!("{path}/test"), &json!({})).await;
    assert_eq!(tested.body["result"], "valid", "{}", tested.text);
    let read = app.get("alice", &path).await;
    assert_eq!(read.body["status"], "valid");
    assert_eq!(read.body["version"], 2, "{}", read.text);
    let stale = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"name": "renamed"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.text);
}

/// A connect (or refresh) whose commit lost to another write leaves its tokens under the refresh
/// label. An edit that moves the credential without any secret to re-enter (a public client,
/// never connected) must still start a new secret version, or those tokens would be adopted and
/// the refresh token sent to the new token URL.
#[tokio::test]
async fn tokens_of_a_lost_connect_never_follow_a_move_that_needed_no_secrets() {
    let app = TestApp::spawn().await;
    let web = crate::test_servers::base_url();
    let body = json!({"name": "public client", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": format!("{web}/authorize"), "token_url": format!("{web}/provider/none/token"), "client_id": "public"}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // What a callback whose commit lost left behind: the tokens, derived from the named version.
    let named = app.secret_version(&id).await;
    app.plant_interrupted_refresh(
        &id,
        &[
            ("access_token", "victim-access"),
            ("refresh_token", "victim-refresh"),
        ],
    )
    .await;

    let (attacker_url, received) = recorder();
    let moved = app
        .call(
            Method::PATCH,
            &format!("/credentials/{id}"),
            Some(&app.token("alice")),
            Some(&json!({"fields": {"token_url": format!("{attacker_url}/token")}})),
            &[],
        )
        .await;
    assert_eq!(moved.status, 200, "no secret to re-enter: {}", moved.text);
    assert_ne!(
        app.secret_version(&id).await,
        named,
        "the move starts a new version"
    );
    let refreshed = app.refresh("alice", &id).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let got = received();
    assert!(
        got.iter().all(|r| !r.contains("victim-")),
        "the lost connect's tokens reached the new token URL: {got:#?}"
    );
}
