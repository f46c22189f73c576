use reqwest::Method;
use serde_json::{json, Value};

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
        app.secret_ids().await.is_empty(),
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

/// Issue 11, item 12: input that cannot be right is refused, naming the field, and stores
/// nothing.
#[tokio::test]
async fn input_that_cannot_be_right_is_refused_and_names_the_field() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let pg = |extra: Value| {
        let mut body = json!({"name": "db", "connector": "postgres",
            "fields": {"host": "db.example.com", "database": "d", "username": "u", "password": "pw"}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            pg(json!({"name": "db\u{202e}gnp.exe"})),
            400,
            "invalid_field",
            "`name`",
        ),
        (
            pg(json!({"name": "db\u{0007}"})),
            400,
            "invalid_field",
            "`name`",
        ),
        (
            pg(json!({"description": "ok\u{2066}hidden"})),
            400,
            "invalid_field",
            "`description`",
        ),
        (
            pg(json!({"tags": ["prod\u{202e}"]})),
            400,
            "invalid_field",
            "`tags`",
        ),
        (
            json!({"name": "api", "connector": "rest_api", "auth_type": "bearer",
                "fields": {"token": "t", "headers": {"X-A": "1\r\nHost: evil"}}}),
            400,
            "invalid_field",
            "`headers`",
        ),
        (
            json!({"name": "api", "connector": "rest_api", "auth_type": "bearer",
                "fields": {"token": "t", "validation_url": "https://u:pw@api.example.com/me"}}),
            422,
            "secret_in_url",
            "`validation_url`",
        ),
        (
            json!({"name": "api", "connector": "rest_api", "auth_type": "bearer",
                "fields": {"token": "t", "base_url": "https://api.example.com/?api_key=k"}}),
            422,
            "secret_in_url",
            "`base_url`",
        ),
        (
            json!({"name": "s", "connector": "snowflake",
                "fields": {"account": "evil.example/x", "username": "u", "password": "p"}}),
            400,
            "invalid_field",
            "`account`",
        ),
    ];
    for (body, status, code, names) in cases {
        let reply = app.post("alice", "/credentials", &body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "{body}: {}",
            reply.text
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(names),
            "{}",
            reply.text
        );
    }
    // A body that says one thing twice means two things to two parsers.
    let twice = r#"{"name": "a", "name": "b", "connector": "postgres", "fields": {"host": "h", "database": "d", "username": "u", "password": "p"}}"#;
    let reply = app
        .call_raw(Method::POST, "/credentials", Some(&token), Some(twice), &[])
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.code()),
        (400, "invalid_json"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("repeats a key"));
    // An Idempotency-Key outside visible ASCII is refused, not ignored.
    for key in ["tab\there", "two words", "caf\u{e9}"] {
        let reply = app
            .call_raw(
                Method::POST,
                "/credentials",
                Some(&token),
                Some(&pg(json!({})).to_string()),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (400, "invalid_idempotency_key"),
            "{key:?}: {}",
            reply.text
        );
    }
    // A usage name is text a person reads.
    let id = app.create("alice", &pg(json!({}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let usage = app
        .post(
            "alice",
            &format!("/credentials/{id}/usages"),
            &json!({"kind": "source", "resource_id": "orders", "name": "Orders\u{202e}"}),
        )
        .await;
    assert_eq!(
        (usage.status.as_u16(), usage.code()),
        (400, "invalid_field"),
        "{}",
        usage.text
    );
    assert_eq!(app.meta_items().await.len(), 1, "nothing else was stored");
}

/// A form shows each refusal beside what it is about: the error names the request's members.
#[tokio::test]
async fn errors_name_the_members_they_are_about() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let good =
        json!({"host": "db.example.com", "database": "d", "username": "u", "password": "pw"});
    let with = |key: &str, value: Value| {
        let mut fields = good.clone();
        match value {
            Value::Null => drop(fields.as_object_mut().unwrap().remove(key)),
            v => fields[key] = v,
        }
        json!({"name": "x", "connector": "postgres", "fields": fields})
    };
    for (body, members) in [
        (with("password", Value::Null), json!(["fields.password"])),
        (
            with("port", json!("canary-bad-input")),
            json!(["fields.port"]),
        ),
        (
            json!({"name": 7, "connector": "postgres", "fields": good}),
            json!(["name"]),
        ),
        (
            json!({"connector": "postgres", "fields": good}),
            json!(["name"]),
        ),
        (
            json!({"name": "x", "connector": "oracle", "fields": {}}),
            json!(["connector"]),
        ),
        (
            json!({"name": "x", "connector": "postgres", "auth_type": "kerberos", "fields": good}),
            json!(["auth_type"]),
        ),
    ] {
        let reply = app
            .call(Method::POST, "/credentials", Some(&token), Some(&body), &[])
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(reply.body["error"]["fields"], members, "{}", reply.text);
    }
    // Moving the credential asks for its secrets again, beside the secret fields.
    let created = app.create("alice", &postgres("pg", "pw")).await;
    let path = format!("/credentials/{}", created["id"].as_str().unwrap());
    let moved = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"host": "elsewhere.example.com"}})),
            &[],
        )
        .await;
    assert_eq!(moved.code(), "secrets_required", "{}", moved.text);
    assert_eq!(moved.body["error"]["fields"], json!(["fields.password"]));
    // An error about no member in particular names none.
    let unknown = app
        .get("alice", "/credentials/cred_01jd5k3m9x0000000000000000")
        .await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body["error"].get("fields").is_none(),
        "{}",
        unknown.text
    );
}
