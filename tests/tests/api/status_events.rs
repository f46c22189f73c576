//! What owners are told: every status change is a `CredentialStatusChanged` event whose detail
//! follows `infra/events/credential-status-changed.v1.schema.json` and carries no secret. The
//! details really published here are written to `.local/events/` for
//! `tests/stack/check_events.py` (run by `make test`) to validate against the schema.

use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::canary::{capture_events, drain};
use crate::helpers::{TestApp, ORG};
use crate::test_servers::{authorization_code, register_client, CLIENT};

const PASSWORD: &str = "pg-right-password";

#[tokio::test]
async fn status_changes_are_published_as_versioned_events_without_secrets() {
    let app = TestApp::spawn().await;
    let (sqs, queue) = capture_events(&app).await;

    // verified, invalidated by a flow, recovered by a test.
    let body = json!({"name": "warehouse", "connector": "postgres", "test": true,
        "fields": {"host": "127.0.0.1", "port": 55432, "database": "sales", "username": "latchkey", "password": PASSWORD, "tls_mode": "disable"}});
    let created = app.create("alice", &body).await;
    assert_eq!(created["status"], "valid", "{created}");
    let id = created["id"].as_str().unwrap();
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let reported = resolver
        .handle(json!({"action": "report_failure", "credential_id": id, "principal": {"user": "alice", "org_id": ORG}}))
        .await;
    assert_eq!(reported["status"], "invalid", "{reported}");
    let tested = app
        .post("alice", &format!("/credentials/{id}/test"), &json!({}))
        .await;
    assert_eq!(tested.body["status"], "valid", "{}", tested.text);

    // reauth_required: the provider allows no more refreshes.
    let client = format!("e{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, initial) = register_client(&client, 3600, 0);
    let oauth = authorization_code(&client, &token_url, &initial);
    let oauth_id = app.create("alice", &oauth).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refreshed = app.refresh("alice", &oauth_id).await;
    assert_eq!(
        refreshed.body["status"], "reauth_required",
        "{}",
        refreshed.text
    );

    let events: Vec<Value> = drain(&sqs, &queue)
        .await
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .filter(|e: &Value| e["detail-type"] == "CredentialStatusChanged")
        .collect();
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains(CLIENT.1) && !text.contains(&initial));
    let changes: BTreeSet<(&str, &str)> = events
        .iter()
        .map(|e| {
            let d = &e["detail"];
            (
                d["credential_id"].as_str().unwrap(),
                d["change"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = BTreeSet::from([
        (id, "verified"),
        (id, "invalidated"),
        (id, "recovered"),
        (oauth_id.as_str(), "reauth_required"),
    ]);
    assert_eq!(changes, expected, "{text}");
    for event in &events {
        let detail = &event["detail"];
        assert_eq!(detail["schema_version"], 1);
        assert_eq!(detail["owner"], "user:alice");
        assert_eq!(event["source"], "latchkey");
    }

    // For the schema check in `make test`.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.local/events/CredentialStatusChanged");
    std::fs::create_dir_all(&dir).unwrap();
    for event in &events {
        let name = format!("{}.json", event["id"].as_str().unwrap());
        std::fs::write(dir.join(name), event["detail"].to_string()).unwrap();
    }
}
