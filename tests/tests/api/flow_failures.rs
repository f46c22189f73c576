//! A data flow's 401 on a token the service manages, against the local OAuth 2.0 token
//! endpoint: the token is refreshed at once and handed over for one retry; a failure with that
//! token marks the credential invalid, with no second exchange.

use serde_json::json;

use crate::helpers::{TestApp, ORG};
use crate::test_servers::{authorization_code, register_client};

#[tokio::test]
async fn a_flows_failure_refreshes_first_and_a_failure_after_that_marks_it_invalid() {
    let app = TestApp::spawn().await;
    let client = format!("f{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, initial) = register_client(&client, 3600, 5);
    let body = authorization_code(&client, &token_url, &initial);
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let principal = json!({"user": "alice", "org_id": ORG});
    let material = resolver
        .handle(json!({"action": "resolve", "credential_id": id, "principal": principal}))
        .await;
    assert_eq!(
        material["secrets"]["access_token"],
        format!("{client}-at-1")
    );

    let report = |version: &serde_json::Value| {
        json!({"action": "report_failure", "credential_id": id, "principal": principal,
               "version": version, "usage": {"kind": "source", "resource_id": "orders"}})
    };
    let retry = resolver.handle(report(&material["version"])).await;
    assert_eq!(retry["recorded"], "refreshed", "{retry}");
    assert_eq!(retry["secrets"]["access_token"], format!("{client}-at-2"));
    assert_eq!(retry["status"], "valid");

    let failed_again = resolver.handle(report(&retry["version"])).await;
    assert_eq!(
        failed_again,
        json!({"recorded": "transition", "status": "invalid"})
    );
    let after = app.get("alice", &format!("/credentials/{id}")).await.body;
    assert_eq!(after["status_code"], "flow_auth_failed");
    assert!(after["token"]["last_refresh_at"].is_string());
    let history = app
        .get("alice", &format!("/credentials/{id}/history"))
        .await
        .body;
    let refreshed_for_flow = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"] == "refreshed" && h["trigger"] == "flow")
        .count();
    assert_eq!(refreshed_for_flow, 1, "{history}");
}
