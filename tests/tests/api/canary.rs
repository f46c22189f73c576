//! Secrets are write-only: plant unique canary values in every secret field, drive every
//! endpoint, then search every response, log line, stored item and event for them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{captured_logs, TestApp};

/// Subscribes an SQS queue to everything the stack's bus carries.
pub(crate) async fn capture_events(app: &TestApp) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&app.stack.aws);
    let queue = sqs
        .create_queue()
        .queue_name(format!("{}-events", app.bus))
        .send()
        .await
        .unwrap();
    let url = queue.queue_url().unwrap().to_owned();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn =
        attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let events = aws_sdk_eventbridge::Client::new(&app.stack.aws);
    events
        .put_rule()
        .name("capture-all")
        .event_bus_name(&app.bus)
        .event_pattern(json!({"source": ["latchkey"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("capture-all")
        .event_bus_name(&app.bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (sqs, url)
}

pub(crate) async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let batch: Vec<String> = out
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect();
        if batch.is_empty() {
            return bodies;
        }
        bodies.extend(batch);
    }
}

#[tokio::test]
async fn no_secret_value_leaves_through_any_endpoint_log_item_or_event() {
    let app = TestApp::spawn().await;
    let (sqs, queue) = capture_events(&app).await;
    let canary = |n: &str| format!("CANARY-{n}-{}", ulid::Ulid::new());
    let token = app.token("alice");
    let mut canaries = Vec::new();
    let mut plant = |n: &str| {
        let c = canary(n);
        canaries.push(c.clone());
        c
    };

    let bodies = vec![
        json!({"name": "pg", "connector": "postgres", "fields": {"host": "db", "database": "d", "username": "u", "password": plant("pg")}}),
        json!({"name": "my", "connector": "mysql", "fields": {"host": "db", "database": "d", "username": "u", "password": plant("mysql")}}),
        json!({"name": "basic", "connector": "rest_api", "auth_type": "basic", "fields": {"username": "u", "password": plant("basic")}}),
        json!({"name": "key", "connector": "rest_api", "auth_type": "api_key", "fields": {"api_key": plant("apikey"), "api_key_in": "query"}}),
        json!({"name": "bearer", "connector": "rest_api", "auth_type": "bearer", "fields": {"token": plant("bearer")}}),
        json!({"name": "oauth", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
               "fields": {"authorize_url": "https://idp.example.com/a", "token_url": "https://idp.example.com/t", "client_id": "c",
                          "client_secret": plant("oauth-secret"), "refresh_token": plant("refresh"), "access_token": plant("access")}}),
        json!({"name": "s3", "connector": "s3", "fields": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": plant("s3"), "session_token": plant("s3-session"), "bucket": "b"}}),
        json!({"name": "ftp", "connector": "ftp", "fields": {"host": "ftp.example.com", "username": "u", "password": plant("ftp")}}),
        json!({"name": "sftp", "connector": "sftp", "auth_type": "private_key",
               "fields": {"host": "sftp.example.com", "username": "u", "private_key": plant("sftp-key"), "passphrase": plant("sftp-pass")}}),
        json!({"name": "snow", "connector": "snowflake", "auth_type": "key_pair", "fields": {"account": "acme-x", "username": "u", "private_key": plant("snow-key")}}),
    ];
    let mut ids = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let key = format!("canary-{i}");
        let reply = app
            .call(
                Method::POST,
                "/credentials",
                Some(&token),
                Some(body),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let replay = app
            .call(
                Method::POST,
                "/credentials",
                Some(&token),
                Some(body),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(replay.status, 201);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }

    let pg_new = plant("pg-rotated");
    let bad_value = plant("bad-input");
    for id in &ids {
        let path = format!("/credentials/{id}");
        assert_eq!(app.get("alice", &path).await.status, 200);
        app.call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"description": "touched"})),
            &[],
        )
        .await;
        app.get("alice", &format!("{path}/history")).await;
    }
    let pg = format!("/credentials/{}", ids[0]);
    let rotated = app
        .call(
            Method::PATCH,
            &pg,
            Some(&token),
            Some(&json!({"fields": {"password": pg_new}})),
            &[],
        )
        .await;
    assert_eq!(rotated.status, 200);
    // Refusals that carry a secret-looking value in every position that could be echoed.
    for body in [
        json!({"fields": {"port": bad_value}}),
        json!({"fields": {"password": 42, "host": bad_value}}),
        json!({"fields": {bad_value.clone(): "x"}}),
        json!({bad_value.clone(): "x"}),
        json!({"name": {"nested": bad_value}}),
    ] {
        let reply = app
            .call(Method::PATCH, &pg, Some(&token), Some(&body), &[])
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }
    let reply = app
        .call_raw(
            Method::POST,
            "/credentials",
            Some(&token),
            Some(&format!("{{\"name\": \"{bad_value}")),
            &[],
        )
        .await;
    assert_eq!(reply.status, 400);
    app.get("alice", "/credentials").await;

    // Sharing: every role reads everything it may read; every sharing endpoint answers.
    for id in &ids {
        let path = format!("/credentials/{id}");
        for (who, role) in [
            ("user/adam", "admin"),
            ("user/olga", "operator"),
            ("user/carl", "collaborator"),
            ("team/data", "collaborator"),
            ("user/temp", "collaborator"),
        ] {
            let r = app
                .call(
                    Method::PUT,
                    &format!("{path}/accessors/{who}"),
                    Some(&token),
                    Some(&json!({"role": role})),
                    &[],
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        app.call(
            Method::DELETE,
            &format!("{path}/accessors/user/temp"),
            Some(&token),
            None,
            &[],
        )
        .await;
        app.post(
            "carl",
            &format!("{path}/usages"),
            &json!({"kind": "source", "resource_id": "orders"}),
        )
        .await;
        let tina = app.jwt.token("tina", crate::helpers::ORG, &["data"], 3600);
        for caller in [
            app.token("adam"),
            app.token("olga"),
            app.token("carl"),
            tina,
            app.token("nora"),
        ] {
            for sub in ["", "/accessors", "/usages", "/history"] {
                app.call(
                    Method::GET,
                    &format!("{path}{sub}"),
                    Some(&caller),
                    None,
                    &[],
                )
                .await;
            }
            app.call(Method::GET, "/credentials", Some(&caller), None, &[])
                .await;
        }
    }
    let moved = app
        .post(
            "alice",
            &format!("/credentials/{}/owner", ids[1]),
            &json!({"user": "adam"}),
        )
        .await;
    assert_eq!(moved.status, 200);
    app.call(
        Method::DELETE,
        &format!("{pg}?force=true"),
        Some(&token),
        None,
        &[],
    )
    .await;
    app.get("alice", "/credentials?deleted=true").await;
    app.post("alice", &format!("{pg}/restore"), &json!({}))
        .await;
    app.get("bob", &pg).await;

    // Connection tests against real servers that reject the canaries, and the resolve path.
    let pg_test = plant("pg-test");
    let tested = app
        .create("alice", &json!({"name": "pg-tested", "connector": "postgres", "test": true,
            "fields": {"host": "127.0.0.1", "port": 55432, "database": "sales", "username": "latchkey", "password": pg_test, "tls_mode": "disable"}}))
        .await;
    assert_eq!(tested["status"], "invalid");
    let rest_test = plant("rest-test");
    let web = crate::test_servers::base_url();
    let rest = app
        .create("alice", &json!({"name": "rest-tested", "connector": "rest_api", "auth_type": "basic",
            "fields": {"username": "u", "password": rest_test, "validation_url": format!("{web}/basic")}}))
        .await;
    let rest_id = rest["id"].as_str().unwrap();
    assert_eq!(
        app.post("alice", &format!("/credentials/{rest_id}/test"), &json!({}))
            .await
            .body["result"],
        "invalid"
    );
    let my_test = plant("mysql-test");
    let unsaved = app
        .post("alice", "/credentials/test", &json!({"connector": "mysql",
            "fields": {"host": "127.0.0.1", "port": 53306, "database": "sales", "username": "latchkey", "password": my_test, "tls_mode": "disable"}}))
        .await;
    assert_eq!(unsaved.body["result"], "invalid");
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let principal = json!({"user": "carl", "org_id": crate::helpers::ORG});
    let material = resolver
        .handle(json!({"action": "resolve", "credential_id": ids[2], "principal": principal}))
        .await;
    assert!(
        material["secrets"]["password"]
            .as_str()
            .unwrap()
            .starts_with("CANARY-basic-"),
        "resolve is the one way out"
    );
    resolver
        .handle(
            json!({"action": "report_failure", "credential_id": ids[2], "principal": principal}),
        )
        .await;

    // The canaries really were stored where they belong...
    assert_eq!(
        app.stored_secret(&ids[0]).await["password"],
        pg_new.as_str()
    );
    let s3_canary = canaries
        .iter()
        .find(|c| c.starts_with("CANARY-s3-"))
        .unwrap();
    assert_eq!(
        app.stored_secret(&ids[6]).await["secret_access_key"],
        s3_canary.as_str()
    );

    // ...and nowhere else.
    let responses = app.bodies.lock().unwrap().join("\n");
    let logs = captured_logs();
    // Both tables, binary attributes (sealed secrets, wrapped keys) read as text too.
    let items = app.items_as_text().await;
    let events = drain(&sqs, &queue).await;
    assert!(
        events.len() >= ids.len(),
        "the bus carried events: {}",
        events.len()
    );
    for kind in [
        "CredentialCreated",
        "CredentialShared",
        "CredentialAccessRevoked",
        "CredentialOwnerChanged",
        "CredentialDeleted",
        "CredentialStatusChanged",
    ] {
        assert!(events.iter().any(|e| e.contains(kind)), "{kind} on the bus");
    }
    let events = events.join("\n");
    assert!(!logs.is_empty(), "handlers logged something");
    for c in &canaries {
        for (place, text) in [
            ("a response", &responses),
            ("a log line", &logs),
            ("a DynamoDB item", &items),
            ("an event", &events),
        ] {
            let line = text.lines().find(|l| l.contains(c.as_str()));
            assert!(
                line.is_none(),
                "{c} leaked into {place}: {}",
                line.unwrap_or_default()
                    .chars()
                    .take(400)
                    .collect::<String>()
            );
        }
    }
    let history: Value = app.get("alice", &format!("{pg}/history")).await.body;
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["fields"] == json!(["password"])),
        "history names the field"
    );
}
