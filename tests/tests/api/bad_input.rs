use reqwest::Method;
use serde_json::json;

use crate::helpers::{postgres, TestApp};

/// Every refusal: the status, a machine-readable code, a human message, and nothing stored.
#[tokio::test]
async fn bad_creates_are_refused_with_a_code_and_store_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let with_fields =
        |fields: serde_json::Value| json!({"name": "x", "connector": "postgres", "fields": fields});
    let good =
        json!({"host": "db", "database": "d", "username": "u", "password": "canary-bad-input"});
    let mut extra = good.clone();
    extra["nonsense"] = json!(1);
    let mut wrong_type = good.clone();
    wrong_type["port"] = json!("canary-bad-input");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("password");
    let cases: Vec<(String, u16, &str)> = vec![
        ("{\"name\": \"x\", ".into(), 400, "invalid_json"),
        ("[1, 2]".into(), 400, "invalid_body"),
        ("".into(), 400, "invalid_json"),
        (json!({"name": "x", "connector": "oracle", "fields": {}}).to_string(), 400, "unknown_connector"),
        (json!({"name": "x", "connector": "postgres", "auth_type": "kerberos", "fields": good}).to_string(), 400, "unknown_auth_type"),
        (json!({"connector": "postgres", "fields": good}).to_string(), 400, "missing_field"),
        (with_fields(missing).to_string(), 400, "missing_field"),
        (with_fields(wrong_type).to_string(), 400, "invalid_field"),
        (with_fields(extra).to_string(), 400, "unknown_field"),
        (json!({"name": "x", "connector": "postgres", "fields": good, "owner": "mallory"}).to_string(), 400, "unknown_field"),
        (json!({"name": 7, "connector": "postgres", "fields": good}).to_string(), 400, "invalid_field"),
        (json!({"name": "x", "connector": "postgres", "fields": good, "pad": "a".repeat(70 * 1024)}).to_string(), 413, "payload_too_large"),
    ];
    for (body, status, code) in &cases {
        let reply = app
            .call_raw(Method::POST, "/credentials", Some(&token), Some(body), &[])
            .await;
        assert_eq!(reply.status, *status, "{code}: {}", reply.text);
        assert_eq!(reply.code(), *code, "{}", reply.text);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.len() > 10,
            "a message a person can act on: {message}"
        );
        assert!(
            !reply.text.contains("canary-bad-input"),
            "values are never echoed: {}",
            reply.text
        );
    }
    let bad_key = app
        .call(
            Method::POST,
            "/credentials",
            Some(&token),
            Some(&postgres("x", "pw")),
            &[("idempotency-key", "has space")],
        )
        .await;
    assert_eq!(bad_key.code(), "invalid_idempotency_key");

    assert!(
        app.table_items().await.is_empty(),
        "nothing stored in DynamoDB"
    );
    assert!(
        app.secret_names().await.is_empty(),
        "nothing stored in Secrets Manager"
    );
}

#[tokio::test]
async fn bad_updates_and_ids_change_nothing() {
    let app = TestApp::spawn().await;
    let created = app.create("alice", &postgres("pg", "pw")).await;
    let path = format!("/credentials/{}", created["id"].as_str().unwrap());
    let token = app.token("alice");
    for (body, code) in [
        (json!({"fields": {"port": 0}}), "invalid_field"),
        (json!({"fields": {"password": null}}), "missing_field"),
        (json!({"fields": {"api_key": "k"}}), "unknown_field"),
        (json!({"auth_type": "none"}), "unknown_auth_type"),
        (json!({"color": "red"}), "unknown_field"),
        (json!({"tags": "prod"}), "invalid_field"),
    ] {
        let reply = app
            .call(Method::PATCH, &path, Some(&token), Some(&body), &[])
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.code(), code, "{body}");
    }
    let immutable = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"connector": "mysql"})),
            &[],
        )
        .await;
    assert_eq!(
        (immutable.status.as_u16(), immutable.code()),
        (422, "connector_immutable")
    );
    let bad_if_match = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"name": "y"})),
            &[("if-match", "latest")],
        )
        .await;
    assert_eq!(bad_if_match.code(), "invalid_if_match");
    let bad_force = app
        .call(
            Method::DELETE,
            &format!("{path}?force=maybe"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(bad_force.code(), "invalid_query");

    let after = app.get("alice", &path).await;
    assert_eq!(after.body, created, "nothing changed");

    for id in [
        "nope",
        "cred_",
        "CRED_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "cred_01hzzzzzzzzzzzzzzzzzzzzzzzz",
        "cred_01hzzzzzzzzzzzzzzzzzzzzzz%21",
    ] {
        let reply = app.get("alice", &format!("/credentials/{id}")).await;
        assert_eq!(reply.status, 400, "{id}: {}", reply.text);
        assert_eq!(reply.code(), "invalid_id");
    }
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "role=root",
        "status=fine",
        "connector=oracle",
        "deleted=maybe",
    ] {
        let reply = app.get("alice", &format!("/credentials?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        assert_eq!(reply.code(), "invalid_query");
    }
    let reply = app.get("alice", "/credentials?next_token=%%%").await;
    assert_eq!(
        (reply.status.as_u16(), reply.code()),
        (400, "invalid_page_token")
    );
}
