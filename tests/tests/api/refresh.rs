//! Token lifecycle against a local OAuth 2.0 token endpoint: the sweep refreshes only what is
//! due, single flight, rotation, refresh limits, and a provider that is down.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::future::join_all;
use latchkey_refresh::{SweepReport, WorkReport};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::helpers::{TestApp, ORG};
use crate::test_servers::{authorization_code, register_client, with_client, CLIENT};

fn unique_client() -> String {
    format!("c{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

async fn client_credentials(app: &TestApp, client: &str, token_url: &str) -> String {
    let body = crate::test_servers::client_credentials(client, token_url);
    app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A scheduled run: the sweep, then the workers until the queue is empty.
async fn run(app: &TestApp) -> (SweepReport, WorkReport) {
    app.stack.refresh_run().await.unwrap()
}

#[tokio::test]
async fn the_sweep_refreshes_what_is_due_and_reads_nothing_else() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, _) = register_client(&client, 3600, 0);
    let id = client_credentials(&app, &client, &token_url).await;
    app.create("alice", &json!({"name": "plain", "connector": "rest_api", "auth_type": "bearer", "fields": {"token": "t"}})).await;

    let (sweep, work) = run(&app).await;
    assert_eq!(
        sweep,
        SweepReport {
            items_read: 1,
            due: 1,
            checks_due: 0
        }
    );
    assert_eq!(
        work,
        WorkReport {
            refreshed: 1,
            ..Default::default()
        }
    );
    let c = app.get("alice", &format!("/credentials/{id}")).await.body;
    assert_eq!(c["status"], "valid");
    assert_eq!(c["status_code"], "refreshed");
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let expires = parse(&c["token"]["expires_at"]);
    let next = parse(&c["token"]["next_refresh_at"]);
    assert_eq!(
        (expires - next).whole_seconds(),
        360,
        "margin: 10 % of an hour, under 15 minutes"
    );
    assert_eq!(
        app.stored_secret(&id).await["access_token"],
        format!("{client}-at-1")
    );

    assert_eq!(
        run(&app).await,
        Default::default(),
        "nothing due before the next period"
    );
    assert_eq!(with_client(&client, |c| c.exchanges), 1);
}

#[tokio::test]
async fn with_a_thousand_stored_and_ten_due_the_sweep_reads_ten() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, _) = register_client(&client, 3600, 0);
    for _ in 0..10 {
        client_credentials(&app, &client, &token_url).await;
    }
    // 990 more scheduled a day out: in the index, but not due.
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).unix_timestamp();
    let ddb = app.ddb();
    let shards = app.stack.config("refresh").unwrap().due_shards;
    for chunk in (0..990).collect::<Vec<_>>().chunks(25) {
        let writes: Vec<WriteRequest> = chunk
            .iter()
            .map(|_| {
                let cred = latchkey_shared::domain::CredentialId::generate();
                let id = format!("CRED#{cred}");
                let shard = latchkey_shared::store::due_shard("DUE", &cred, shards);
                let item = HashMap::from([
                    ("pk".to_string(), AttributeValue::S(id)),
                    ("sk".to_string(), AttributeValue::S("META".into())),
                    ("refresh_shard".to_string(), AttributeValue::S(shard)),
                    (
                        "refresh_due".to_string(),
                        AttributeValue::N(later.to_string()),
                    ),
                ]);
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build()
            })
            .collect();
        ddb.batch_write_item()
            .request_items(&app.table, writes)
            .send()
            .await
            .unwrap();
    }
    // Spread over every shard of the due index, which the sweep reads in parallel.
    let scanned = ddb
        .scan()
        .table_name(&app.table)
        .projection_expression("refresh_shard")
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    let used: std::collections::BTreeSet<String> = scanned
        .into_iter()
        .filter_map(|item| item.ok()?.get("refresh_shard")?.as_s().ok().cloned())
        .collect();
    let all: std::collections::BTreeSet<String> = (0..shards).map(|n| format!("DUE#{n}")).collect();
    assert_eq!(used, all);
    let (sweep, work) = run(&app).await;
    assert_eq!(
        (sweep.items_read, sweep.due, work.refreshed),
        (10, 10, 10),
        "{sweep:?} {work:?}"
    );
    let exchanges = with_client(&client, |c| c.exchanges);
    assert_eq!(exchanges, 10, "each due credential refreshed exactly once");
    assert_eq!(
        run(&app).await.0.items_read,
        0,
        "all refreshed: nothing due any more"
    );
}

#[tokio::test]
async fn twenty_concurrent_triggers_make_one_exchange() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, _) = register_client(&client, 3600, 0);
    let id = client_credentials(&app, &client, &token_url).await;
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let principal = json!({"user": "alice", "org_id": ORG});
    let answers = join_all((0..20).map(|_| {
        resolver.handle(json!({"action": "resolve", "credential_id": id, "principal": principal}))
    }))
    .await;
    let tokens: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|a| a["secrets"]["access_token"].to_string())
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "every flow got the one fresh token: {tokens:?}"
    );
    assert_eq!(
        with_client(&client, |c| c.exchanges),
        1,
        "exactly one exchange at the provider"
    );
    assert_eq!(
        app.get("alice", &format!("/credentials/{id}")).await.body["status"],
        "valid"
    );
}

#[tokio::test]
async fn rotated_refresh_tokens_are_kept_and_a_refresh_limit_asks_for_reauthentication() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, initial) = register_client(&client, 3600, 2);
    let body = authorization_code(&client, &token_url, &initial);
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let token = app.token("alice");
    for n in 1..=2 {
        let r = app.refresh("alice", &id).await;
        assert_eq!(r.body["refresh"]["outcome"], "refreshed", "{}", r.text);
        let stored = app.stored_secret(&id).await;
        assert_ne!(
            stored["refresh_token"],
            initial.as_str(),
            "the rotated refresh token is persisted"
        );
        assert!(
            stored["refresh_token"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{client}-rt-")),
            "refresh {n}"
        );
    }
    assert_eq!(
        with_client(&client, |c| c.reused_refresh_tokens),
        0,
        "an old refresh token is never reused"
    );

    let r = app.refresh("alice", &id).await;
    assert_eq!(
        r.body["refresh"]["outcome"], "reauth_required",
        "{}",
        r.text
    );
    assert_eq!(r.body["status"], "reauth_required");
    assert_eq!(r.body["status_code"], "refresh_exhausted");
    assert!(r.body["status_reason"]
        .as_str()
        .unwrap()
        .contains("re-authenticate"));
    assert!(
        r.body["token"]["next_refresh_at"].is_null(),
        "no more attempts"
    );
    assert_eq!(run(&app).await.0.items_read, 0);
    let operator = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/olga"),
            Some(&token),
            Some(&json!({"role": "operator"})),
            &[],
        )
        .await;
    assert_eq!(operator.status, 201);
    assert_eq!(
        app.refresh("olga", &id).await.status,
        200,
        "operators may refresh"
    );
    let collaborator = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/carl"),
            Some(&token),
            Some(&json!({"role": "collaborator"})),
            &[],
        )
        .await;
    assert_eq!(collaborator.status, 201);
    assert_eq!(app.refresh("carl", &id).await.status, 403);
}

#[tokio::test]
async fn a_provider_that_is_down_marks_nothing_invalid_until_the_token_expires() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, _) = register_client(&client, 3, 0);
    let id = client_credentials(&app, &client, &token_url).await;
    let path = format!("/credentials/{id}/refresh");
    let token = app.token("alice");
    let first = app.call(Method::POST, &path, Some(&token), None, &[]).await;
    assert_eq!(first.body["refresh"]["outcome"], "refreshed");

    with_client(&client, |c| c.down = true);
    let failed = app.call(Method::POST, &path, Some(&token), None, &[]).await;
    assert_eq!(
        failed.body["refresh"],
        json!({"outcome": "failed", "code": "provider_unavailable"}),
        "{}",
        failed.text
    );
    assert_eq!(failed.body["status"], "valid", "the token still works");
    assert_eq!(failed.body["token"]["refresh_failures"], 1);

    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let expired = app.call(Method::POST, &path, Some(&token), None, &[]).await;
    assert_eq!(expired.body["status"], "invalid", "{}", expired.text);
    assert_eq!(expired.body["status_code"], "refresh_failed");

    with_client(&client, |c| c.down = false);
    let back = app.call(Method::POST, &path, Some(&token), None, &[]).await;
    assert_eq!(back.body["status"], "valid");
    assert_eq!(back.body["token"]["refresh_failures"], 0);
}

/// A refresh that dies after storing rotated tokens but before naming them in the metadata:
/// the next refresh adopts them instead of spending the already rotated-away refresh token.
#[tokio::test]
async fn tokens_an_interrupted_refresh_stored_are_adopted() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, initial) = register_client(&client, 3600, 10);
    let body = authorization_code(&client, &token_url, &initial);
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // What the crashed refresh did: exchanged the refresh token (the provider rotated it) and
    // wrote the new tokens as a version of their own, then died before the metadata commit.
    let exchanged: Value = latchkey_shared::outbound::http_client()
        .no_proxy()
        .build()
        .unwrap()
        .post(&token_url)
        .basic_auth(&client, Some(CLIENT.1))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", initial.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rotated = exchanged["refresh_token"].as_str().unwrap().to_owned();
    app.plant_interrupted_refresh(
        &id,
        &[
            ("client_secret", CLIENT.1),
            ("refresh_token", rotated.as_str()),
            ("access_token", exchanged["access_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        app.stored_secret(&id).await["refresh_token"],
        initial.as_str(),
        "the metadata still names the spent token"
    );

    let r = app.refresh("alice", &id).await;
    assert_eq!(r.body["refresh"]["outcome"], "refreshed", "{}", r.text);
    assert_eq!(
        with_client(&client, |c| c.reused_refresh_tokens),
        0,
        "the spent refresh token was not presented"
    );
    assert_ne!(
        app.stored_secret(&id).await["refresh_token"],
        rotated.as_str(),
        "and the adopted one was rotated in turn"
    );
}

#[tokio::test]
async fn token_url_credentials_get_and_keep_their_token() {
    let app = TestApp::spawn().await;
    let web = crate::test_servers::base_url();
    let body = json!({"name": "token url", "connector": "rest_api", "auth_type": "token_url",
        "fields": {"token_url": format!("{web}/token"), "client_id": CLIENT.0, "client_secret": CLIENT.1,
                   "validation_url": format!("{web}/protected")}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, report) = run(&app).await;
    assert_eq!(report.refreshed, 1, "{report:?}");
    assert_eq!(
        app.stored_secret(&id).await["access_token"],
        crate::test_servers::ISSUED_TOKEN
    );
    let c = app.get("alice", &format!("/credentials/{id}")).await.body;
    assert_eq!(c["status"], "valid");
    assert!(c["token"]["expires_at"].is_string() && c["token"]["next_refresh_at"].is_string());
}

/// Item 6 of issue 11: a flow gets the access token of a credential whose tokens the service
/// manages, never the refresh token or the client secret it could refresh (and rotate) with.
#[tokio::test]
async fn resolve_hands_a_flow_the_access_token_only() {
    let app = TestApp::spawn().await;
    let client = unique_client();
    let (token_url, initial) = register_client(&client, 3600, 5);
    let body = authorization_code(&client, &token_url, &initial);
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let material = resolver
        .handle(json!({"action": "resolve", "credential_id": id, "principal": {"user": "alice", "org_id": ORG}}))
        .await;
    let secrets = material["secrets"].as_object().unwrap();
    assert_eq!(
        secrets.keys().collect::<Vec<_>>(),
        ["access_token"],
        "{material}"
    );
    assert_eq!(secrets["access_token"], format!("{client}-at-1"));
    let text = material.to_string();
    assert!(!text.contains(CLIENT.1) && !text.contains(&format!("{client}-rt-")));
    assert_eq!(material["fields"]["client_id"], client.as_str());
}
