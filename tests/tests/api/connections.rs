//! Connection tests against real servers on 127.0.0.1 (started by tests/stack/servers.sh) and
//! the in-process REST and Snowflake stand-ins: right credentials are valid, a wrong secret is
//! invalid, a closed port is inconclusive and leaves the status alone.

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::path::Path;

use crate::helpers::TestApp;
use crate::test_servers::{self, API_KEY, BASIC, BEARER, CLIENT, SNOWFLAKE_PASSWORD};

/// A port nothing listens on.
const CLOSED: u16 = 1;

fn servers_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.local/servers")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (tests/stack/servers.sh start makes it)",
            path.display()
        )
    })
}

fn s3_keys() -> Value {
    serde_json::from_str(&servers_file("s3.json")).unwrap()
}

fn credential(connector: &str, auth_type: &str, fields: Value) -> Value {
    json!({"name": format!("{connector} {auth_type}"), "connector": connector, "auth_type": auth_type, "fields": fields})
}

/// (what, credential, expected result, expected code)
fn cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let web = test_servers::base_url();
    let pg = |password: &str, port: u16| {
        credential(
            "postgres",
            "password",
            json!({"host": "127.0.0.1", "port": port, "database": "sales", "username": "latchkey", "password": password, "tls_mode": "disable"}),
        )
    };
    let my = |password: &str, port: u16| {
        credential(
            "mysql",
            "password",
            json!({"host": "127.0.0.1", "port": port, "database": "sales", "username": "latchkey", "password": password, "tls_mode": "disable"}),
        )
    };
    let ftp = |password: &str, port: u16| {
        credential(
            "ftp",
            "password",
            json!({"host": "127.0.0.1", "port": port, "username": "latchkey", "password": password, "tls": "none"}),
        )
    };
    let sftp = |password: &str, port: u16, fingerprint: Option<&str>| {
        let mut f = json!({"host": "127.0.0.1", "port": port, "username": "latchkey-sftp", "password": password});
        if let Some(fp) = fingerprint {
            f["host_key_fingerprint"] = json!(fp);
        }
        credential("sftp", "password", f)
    };
    let fingerprint = servers_file("ssh_host_fingerprint").trim().to_owned();
    let keys = s3_keys();
    let s3 = |secret: &str, endpoint: &str| {
        credential(
            "s3",
            "access_key",
            json!({"access_key_id": keys["access_key_id"], "secret_access_key": secret, "bucket": keys["bucket"], "region": "us-east-1", "endpoint": endpoint}),
        )
    };
    let s3_right = keys["secret_access_key"].as_str().unwrap().to_owned();
    let rest = |auth: &str, path: &str, fields: Value| {
        let mut f = fields;
        f["validation_url"] = json!(format!("{web}{path}"));
        credential("rest_api", auth, f)
    };
    let snow = |password: &str| {
        credential(
            "snowflake",
            "password",
            json!({"account": "xy12345", "username": "snow_user", "password": password, "warehouse": "wh"}),
        )
    };
    vec![
        (
            "postgres right",
            pg("pg-right-password", 55432),
            "valid",
            "ok",
        ),
        (
            "postgres wrong",
            pg("pg-wrong", 55432),
            "invalid",
            "auth_rejected",
        ),
        (
            "postgres closed",
            pg("pg-right-password", CLOSED),
            "inconclusive",
            "connection_failed",
        ),
        ("mysql right", my("my-right-password", 53306), "valid", "ok"),
        (
            "mysql wrong",
            my("my-wrong", 53306),
            "invalid",
            "auth_rejected",
        ),
        (
            "mysql closed",
            my("my-right-password", CLOSED),
            "inconclusive",
            "connection_failed",
        ),
        ("ftp right", ftp("ftp-right-password", 2121), "valid", "ok"),
        (
            "ftp wrong",
            ftp("ftp-wrong", 2121),
            "invalid",
            "auth_rejected",
        ),
        (
            "ftp closed",
            ftp("ftp-right-password", CLOSED),
            "inconclusive",
            "connection_failed",
        ),
        (
            "sftp right",
            sftp("ssh-right-password", 2222, Some(&fingerprint)),
            "valid",
            "ok",
        ),
        (
            "sftp wrong",
            sftp("ssh-wrong", 2222, None),
            "invalid",
            "auth_rejected",
        ),
        (
            "sftp host key",
            sftp(
                "ssh-right-password",
                2222,
                Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ),
            "invalid",
            "host_key_mismatch",
        ),
        (
            "sftp closed",
            sftp("ssh-right-password", CLOSED, None),
            "inconclusive",
            "connection_failed",
        ),
        (
            "sftp key",
            credential(
                "sftp",
                "private_key",
                json!({"host": "127.0.0.1", "port": 2222, "username": "latchkey-sftp", "private_key": servers_file("client_ed25519")}),
            ),
            "valid",
            "ok",
        ),
        (
            "s3 right",
            s3(&s3_right, "http://127.0.0.1:4567"),
            "valid",
            "ok",
        ),
        (
            "s3 wrong",
            s3("wrong-secret-key", "http://127.0.0.1:4567"),
            "invalid",
            "auth_rejected",
        ),
        (
            "s3 closed",
            s3(&s3_right, &format!("http://127.0.0.1:{CLOSED}")),
            "inconclusive",
            "connection_failed",
        ),
        ("rest none", rest("none", "/open", json!({})), "valid", "ok"),
        (
            "rest basic right",
            rest(
                "basic",
                "/basic",
                json!({"username": BASIC.0, "password": BASIC.1}),
            ),
            "valid",
            "ok",
        ),
        (
            "rest basic wrong",
            rest(
                "basic",
                "/basic",
                json!({"username": BASIC.0, "password": "wrong"}),
            ),
            "invalid",
            "auth_rejected",
        ),
        (
            "rest api key header",
            rest("api_key", "/api-key", json!({"api_key": API_KEY})),
            "valid",
            "ok",
        ),
        (
            "rest api key query",
            rest(
                "api_key",
                "/api-key",
                json!({"api_key": API_KEY, "api_key_in": "query", "api_key_name": "api_key"}),
            ),
            "valid",
            "ok",
        ),
        (
            "rest api key wrong",
            rest("api_key", "/api-key", json!({"api_key": "wrong"})),
            "invalid",
            "auth_rejected",
        ),
        (
            "rest bearer right",
            rest("bearer", "/bearer", json!({"token": BEARER})),
            "valid",
            "ok",
        ),
        (
            "rest bearer wrong",
            rest("bearer", "/bearer", json!({"token": "wrong"})),
            "invalid",
            "auth_rejected",
        ),
        (
            "rest token url right",
            rest(
                "token_url",
                "/protected",
                json!({"token_url": format!("{web}/token"), "client_id": CLIENT.0, "client_secret": CLIENT.1}),
            ),
            "valid",
            "ok",
        ),
        (
            "rest token url wrong",
            rest(
                "token_url",
                "/protected",
                json!({"token_url": format!("{web}/token"), "client_id": CLIENT.0, "client_secret": "wrong"}),
            ),
            "invalid",
            "token_rejected",
        ),
        (
            "rest oauth2 cc right",
            rest(
                "oauth2_client_credentials",
                "/protected",
                json!({"token_url": format!("{web}/oauth/token"), "client_id": CLIENT.0, "client_secret": CLIENT.1, "scopes": ["read"]}),
            ),
            "valid",
            "ok",
        ),
        (
            "rest oauth2 cc wrong",
            rest(
                "oauth2_client_credentials",
                "/protected",
                json!({"token_url": format!("{web}/oauth/token"), "client_id": CLIENT.0, "client_secret": "wrong"}),
            ),
            "invalid",
            "token_rejected",
        ),
        (
            "rest oauth2 code",
            rest(
                "oauth2_authorization_code",
                "/bearer",
                json!({"authorize_url": format!("{web}/authorize"), "token_url": format!("{web}/oauth/token"), "client_id": CLIENT.0, "access_token": BEARER}),
            ),
            "valid",
            "ok",
        ),
        (
            "rest unavailable",
            rest("bearer", "/unavailable", json!({"token": BEARER})),
            "inconclusive",
            "unexpected_status",
        ),
        (
            "rest closed",
            credential(
                "rest_api",
                "bearer",
                json!({"token": BEARER, "validation_url": format!("http://127.0.0.1:{CLOSED}/x")}),
            ),
            "inconclusive",
            "connection_failed",
        ),
        ("snowflake right", snow(SNOWFLAKE_PASSWORD), "valid", "ok"),
        ("snowflake wrong", snow("wrong"), "invalid", "auth_rejected"),
    ]
}

#[tokio::test]
async fn every_connector_tells_right_from_wrong_from_unreachable() {
    let app = TestApp::spawn().await;
    let failures: Vec<String> = stream::iter(cases())
        .map(|(what, body, result, code)| {
            let app = &app;
            async move {
                let created = app.create("alice", &body).await;
                let id = created["id"].as_str().unwrap();
                let reply = app
                    .post("alice", &format!("/credentials/{id}/test"), &json!({}))
                    .await;
                let got = (
                    reply.body["result"].as_str().unwrap_or(""),
                    reply.body["code"].as_str().unwrap_or(""),
                );
                let after = app.get("alice", &format!("/credentials/{id}")).await.body;
                // inconclusive never flips the status; valid and invalid set it.
                let want_status = if result == "inconclusive" {
                    "untested"
                } else {
                    result
                };
                let mut problems = Vec::new();
                if reply.status != 200 || got != (result, code) {
                    problems.push(format!(
                        "{what}: want {result}/{code}, got {} {}",
                        reply.status, reply.text
                    ));
                }
                if after["status"] != want_status {
                    problems.push(format!(
                        "{what}: status {} (want {want_status})",
                        after["status"]
                    ));
                }
                if reply.body["duration_ms"].as_u64().is_none()
                    || reply.body["message"].as_str().is_none_or(|m| m.len() < 10)
                {
                    problems.push(format!(
                        "{what}: report lacks duration or message: {}",
                        reply.text
                    ));
                }
                problems
            }
        })
        .buffer_unordered(4)
        .flat_map(stream::iter)
        .collect()
        .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_unsaved_credential_is_tested_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let body = json!({"connector": "postgres", "fields": {"host": "127.0.0.1", "port": 55432, "database": "sales", "username": "latchkey", "password": "pg-right-password", "tls_mode": "disable"}});
    let reply = app.post("alice", "/credentials/test", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["result"], "valid");
    assert!(reply.body["tested_at"].is_string());
    let bad = app
        .post(
            "alice",
            "/credentials/test",
            &json!({"connector": "postgres", "fields": {"host": "x"}}),
        )
        .await;
    assert_eq!(bad.code(), "missing_field");
    assert!(app.table_items().await.is_empty());
    assert!(app.secret_ids().await.is_empty());
}

/// With the production guard, no test reaches an internal address, and the refusal comes
/// before any connection (so nothing is sent to the non-loopback ones).
#[tokio::test]
async fn the_outbound_guard_refuses_internal_destinations() {
    let app = TestApp::spawn_guarded().await;
    let web = test_servers::base_url();
    let port = web.rsplit(':').next().unwrap().to_owned();
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        format!("http://127.0.0.1:{port}/open"),
        format!("http://[::1]:{port}/open"),
        "http://0.0.0.0/".to_string(),
        format!("http://localhost:{port}/open"),
    ] {
        let body = json!({"connector": "rest_api", "auth_type": "bearer", "fields": {"token": "t", "validation_url": url}});
        let reply = app.post("alice", "/credentials/test", &body).await;
        assert_eq!(
            reply.body["result"], "inconclusive",
            "{url}: {}",
            reply.text
        );
        assert_eq!(
            reply.body["code"], "destination_refused",
            "{url}: {}",
            reply.text
        );
        assert!(reply.body["message"]
            .as_str()
            .unwrap()
            .contains("only connects to public addresses"));
    }
    for (connector, fields) in [
        (
            "postgres",
            json!({"host": "169.254.169.254", "database": "d", "username": "u", "password": "p"}),
        ),
        (
            "mysql",
            json!({"host": "10.0.0.1", "database": "d", "username": "u", "password": "p"}),
        ),
        (
            "sftp",
            json!({"host": "localhost", "username": "u", "password": "p"}),
        ),
        (
            "ftp",
            json!({"host": "127.0.0.1", "username": "u", "password": "p"}),
        ),
        (
            "s3",
            json!({"access_key_id": "AKIA", "secret_access_key": "s", "bucket": "b", "endpoint": "http://169.254.169.254"}),
        ),
    ] {
        let reply = app
            .post(
                "alice",
                "/credentials/test",
                &json!({"connector": connector, "fields": fields}),
            )
            .await;
        assert_eq!(
            reply.body["code"], "destination_refused",
            "{connector}: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn a_redirect_to_a_refused_address_is_not_followed() {
    let app = TestApp::spawn().await; // loopback allowed, the metadata address not
    let web = test_servers::base_url();
    let body = json!({"connector": "rest_api", "auth_type": "bearer", "fields": {"token": "t", "validation_url": format!("{web}/redirect-to-metadata")}});
    let reply = app.post("alice", "/credentials/test", &body).await;
    assert_eq!(reply.body["code"], "destination_refused", "{}", reply.text);
    assert!(reply.body["message"]
        .as_str()
        .unwrap()
        .contains("169.254.169.254"));
}

#[tokio::test]
async fn create_with_test_stores_the_verdict_and_flow_reports_flip_it() {
    let app = TestApp::spawn().await;
    let good = json!({"name": "pg", "connector": "postgres", "test": true,
        "fields": {"host": "127.0.0.1", "port": 55432, "database": "sales", "username": "latchkey", "password": "pg-right-password", "tls_mode": "disable"}});
    let created = app.create("alice", &good).await;
    assert_eq!(created["status"], "valid", "{created}");
    assert_eq!(created["test"]["result"], "valid");
    assert_eq!(created["status_trigger"], "create");
    assert!(created["verified_at"].is_string());
    let id = created["id"].as_str().unwrap().to_owned();

    let mut bad = good.clone();
    bad["fields"]["password"] = json!("pg-wrong");
    let refused = app.create("alice", &bad).await;
    assert_eq!(refused["status"], "invalid");
    assert_eq!(refused["status_code"], "auth_rejected");
    assert!(refused["status_reason"]
        .as_str()
        .unwrap()
        .contains("check the user and password"));

    // A data flow reports an auth failure through the resolve function: valid -> invalid.
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    let principal = json!({"user": "alice", "org_id": crate::helpers::ORG, "teams": []});
    let material = resolver
        .handle(json!({"action": "resolve", "credential_id": id, "principal": principal, "usage": {"kind": "source", "resource_id": "orders"}}))
        .await;
    assert_eq!(
        material["secrets"]["password"], "pg-right-password",
        "the flow gets the secret"
    );
    assert_eq!(material["fields"]["host"], "127.0.0.1");
    let stranger = resolver
        .handle(json!({"action": "resolve", "credential_id": id, "principal": {"user": "eve", "org_id": "globex"}}))
        .await;
    assert_eq!(stranger["error"]["code"], "not_found");
    let reported = resolver
        .handle(json!({"action": "report_failure", "credential_id": id, "principal": principal, "usage": {"kind": "source", "resource_id": "orders"}}))
        .await;
    assert_eq!(
        reported,
        json!({"recorded": "transition", "status": "invalid"})
    );
    let after = app.get("alice", &format!("/credentials/{id}")).await.body;
    assert_eq!(
        (
            after["status"].as_str(),
            after["status_code"].as_str(),
            after["status_trigger"].as_str()
        ),
        (Some("invalid"), Some("flow_auth_failed"), Some("flow"))
    );
    let again = resolver
        .handle(json!({"action": "report_failure", "credential_id": id, "principal": principal}))
        .await;
    assert_eq!(again["recorded"], "unchanged", "no second transition");

    // A later successful test flips it back.
    let tested = app
        .post("alice", &format!("/credentials/{id}/test"), &json!({}))
        .await;
    assert_eq!(tested.body["status"], "valid");
    let history = app
        .get("alice", &format!("/credentials/{id}/history"))
        .await
        .body;
    let lines: Vec<String> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h["action"].as_str().unwrap(),
                h["status"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "status_changed valid",
            "tested valid",
            "flow_failure_reported invalid",
            "status_changed invalid",
            "flow_failure_reported invalid",
            "used -",
            "status_changed valid",
            "tested valid",
            "created -",
        ]
        .map(String::from)
    );
}

#[tokio::test]
async fn moving_a_credential_needs_its_secrets_again() {
    let app = TestApp::spawn().await;
    let created = app.create("alice", &json!({"name": "pg", "connector": "postgres",
        "fields": {"host": "db.example.com", "database": "sales", "username": "etl", "password": "pw"}})).await;
    let path = format!("/credentials/{}", created["id"].as_str().unwrap());
    let token = app.token("alice");
    let moved = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"host": "attacker.example.net"}})),
            &[],
        )
        .await;
    assert_eq!(
        (moved.status.as_u16(), moved.code()),
        (422, "secrets_required"),
        "{}",
        moved.text
    );
    assert!(moved.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("password"));
    let with_secret = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"host": "db2.example.com", "password": "pw2"}})),
            &[],
        )
        .await;
    assert_eq!(with_secret.status, 200, "{}", with_secret.text);
    let renamed = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"username": "etl2"}})),
            &[],
        )
        .await;
    assert_eq!(renamed.status, 200, "other fields need no secrets");
    for fields in [json!({"port": 6543}), json!({"tls_mode": "disable"})] {
        let reply = app
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(&token),
                Some(&json!({ "fields": fields })),
                &[],
            )
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (422, "secrets_required"),
            "{fields}: {}",
            reply.text
        );
    }
    let upgraded = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"tls_mode": "verify-full"}})),
            &[],
        )
        .await;
    assert_eq!(
        upgraded.status, 200,
        "a TLS upgrade needs no secrets: {}",
        upgraded.text
    );
}

/// A locator change after the service fetched a token drops the token instead of asking the
/// user for a value only the service knows.
#[tokio::test]
async fn moving_a_token_credential_drops_the_service_held_token() {
    let app = TestApp::spawn().await;
    let web = crate::test_servers::base_url();
    let body = json!({"name": "token url", "connector": "rest_api", "auth_type": "token_url",
        "fields": {"token_url": format!("{web}/token"), "client_id": crate::test_servers::CLIENT.0,
                   "client_secret": crate::test_servers::CLIENT.1}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let refreshed = app
        .post("alice", &format!("{path}/refresh"), &json!({}))
        .await;
    assert_eq!(
        refreshed.body["refresh"]["outcome"], "refreshed",
        "{}",
        refreshed.text
    );
    assert!(app.stored_secret(&id).await["access_token"].is_string());

    let token = app.token("alice");
    let moved = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"token_url": format!("{web}/oauth/token")}})),
            &[],
        )
        .await;
    assert_eq!(moved.code(), "secrets_required", "{}", moved.text);
    let message = moved.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("client_secret")
            && !message.ends_with("access_token again in the same request"),
        "{message}"
    );
    let with_secret = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"fields": {"token_url": format!("{web}/oauth/token"), "client_secret": crate::test_servers::CLIENT.1}})),
            &[],
        )
        .await;
    assert_eq!(with_secret.status, 200, "{}", with_secret.text);
    assert_eq!(with_secret.body["secret_fields"], json!(["client_secret"]));
    assert!(with_secret.body["token"]["expires_at"].is_null());
    let stored = app.stored_secret(&id).await;
    assert!(stored.get("access_token").is_none(), "{stored}");
}

/// Issue 11, item 3: the S3 client connects to the addresses the outbound guard checked and
/// never looks the name up again (a second lookup could answer a private address). The name
/// here never resolves (`.invalid`), so only the checked address can reach the server.
#[tokio::test]
async fn the_s3_client_connects_only_to_the_addresses_the_guard_checked() {
    let keys = s3_keys();
    let endpoint = url::Url::parse("http://s3.rebinding.invalid:4567").unwrap();
    let credentials = aws_sdk_s3::config::Credentials::new(
        keys["access_key_id"].as_str().unwrap(),
        keys["secret_access_key"].as_str().unwrap(),
        None,
        None,
        "test",
    );
    let client = latchkey_shared::testers::pinned_s3_client(
        &endpoint,
        &["127.0.0.1:4567".parse().unwrap()],
        "us-east-1",
        credentials,
    );
    let listed = client
        .list_objects_v2()
        .bucket(keys["bucket"].as_str().unwrap())
        .max_keys(1)
        .send()
        .await;
    // An answer from the server (moto may read the unusual host as a bucket name) proves the
    // request reached the checked address; a lookup of the name would have failed to dispatch.
    assert!(
        matches!(
            listed,
            Ok(_) | Err(aws_sdk_s3::error::SdkError::ServiceError(_))
        ),
        "{:?}",
        listed.err()
    );
}

/// Issue 11, item 9: connection tests are limited per user and per organisation, counted in
/// DynamoDB so the limit holds across functions and instances (here: the test-connection and
/// the credentials function share it).
#[tokio::test]
async fn connection_tests_are_rate_limited_per_user_and_per_organisation() {
    let app = TestApp::spawn_with_parameters(&[
        ("TestRateLimitPerUser", "3"),
        ("TestRateLimitPerOrg", "5"),
    ])
    .await;
    // Near the end of a minute the window would roll over mid-test: wait for the next one.
    let second = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .rem_euclid(60);
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    let web = test_servers::base_url();
    let unsaved =
        json!({"connector": "rest_api", "fields": {"validation_url": format!("{web}/open")}});
    let create_tested = json!({"name": "open", "connector": "rest_api", "test": true,
        "fields": {"validation_url": format!("{web}/open")}});
    for _ in 0..2 {
        let r = app.post("alice", "/credentials/test", &unsaved).await;
        assert_eq!(r.body["result"], "valid", "{}", r.text);
    }
    assert_eq!(
        app.post("alice", "/credentials", &create_tested)
            .await
            .status,
        201
    );
    let limited = app.post("alice", "/credentials/test", &unsaved).await;
    assert_eq!(
        (limited.status.as_u16(), limited.code()),
        (429, "rate_limited"),
        "{}",
        limited.text
    );
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(limited.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("you have run 3"));
    let also = app.post("alice", "/credentials", &create_tested).await;
    assert_eq!(
        also.status, 429,
        "a create with test counts too: {}",
        also.text
    );

    // Others in the organisation share its allowance: 3 used, 2 left.
    for _ in 0..2 {
        assert_eq!(
            app.post("bob", "/credentials/test", &unsaved).await.status,
            200
        );
    }
    let org_limited = app.post("carol", "/credentials/test", &unsaved).await;
    assert_eq!(org_limited.status, 429, "{}", org_limited.text);
    assert!(org_limited.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("your organisation"));
    // A create without a test is not a test.
    let plain = json!({"name": "plain", "connector": "rest_api", "fields": {"validation_url": format!("{web}/open")}});
    assert_eq!(app.post("carol", "/credentials", &plain).await.status, 201);
    // A refresh on demand reaches a URL too, and says how it went: it counts as a test.
    let token_url = json!({"name": "t", "connector": "rest_api", "auth_type": "token_url",
        "fields": {"token_url": format!("{web}/token"), "client_id": test_servers::CLIENT.0, "client_secret": test_servers::CLIENT.1}});
    let id = app.create("carol", &token_url).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = app.refresh("carol", &id).await;
    assert_eq!(
        (refresh.status.as_u16(), refresh.code()),
        (429, "rate_limited"),
        "{}",
        refresh.text
    );
}

/// Issue 11, item 10: TLS against real servers (the local PostgreSQL and MariaDB with TLS on,
/// a CA made at set-up, a certificate for `localhost`). The certificate is checked against the
/// host name the user gave while the connection goes to the address the guard checked.
#[tokio::test]
async fn tls_verifies_the_server_by_the_name_the_user_gave() {
    let app = TestApp::spawn().await;
    let ca = servers_file("tls/ca.crt");
    let db = |connector: &str, host: &str, mode: &str, ca: Option<&str>, password: &str| {
        let (port, right) = match connector {
            "postgres" => (55432, "pg-right-password"),
            _ => (53306, "my-right-password"),
        };
        let password = if password == "right" {
            right
        } else {
            "wrong-password"
        };
        let mut fields = json!({"host": host, "port": port, "database": "sales", "username": "latchkey",
            "password": password, "tls_mode": mode});
        if let Some(ca) = ca {
            fields["ca_certificate"] = json!(ca);
        }
        json!({"connector": connector, "fields": fields})
    };
    // connector, host, TLS mode, with or without the CA, password, expected result and code
    let cases = [
        "postgres localhost verify-full ca     right valid        ok",
        "postgres localhost require     ca     right valid        ok",
        "postgres localhost verify-full ca     wrong invalid      auth_rejected",
        "postgres localhost verify-full no-ca  right inconclusive tls_failed",
        "postgres 127.0.0.1 verify-full ca     right inconclusive tls_failed",
        "postgres 127.0.0.1 verify-ca   ca     right valid        ok",
        "mysql    localhost verify-full ca     right valid        ok",
        "mysql    localhost require     ca     right valid        ok",
        "mysql    localhost verify-full ca     wrong invalid      auth_rejected",
        "mysql    localhost verify-full no-ca  right inconclusive tls_failed",
        "mysql    127.0.0.1 verify-full ca     right inconclusive tls_failed",
    ];
    for case in cases {
        let [connector, host, mode, with_ca, password, result, code] =
            <[&str; 7]>::try_from(case.split_whitespace().collect::<Vec<_>>()).unwrap();
        let body = db(
            connector,
            host,
            mode,
            (with_ca == "ca").then_some(ca.as_str()),
            password,
        );
        let reply = app.post("alice", "/credentials/test", &body).await;
        assert_eq!(
            (reply.body["result"].as_str(), reply.body["code"].as_str()),
            (Some(result), Some(code)),
            "{case}: {}",
            reply.text
        );
    }
    // A private key is never accepted as a CA certificate.
    let key = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n";
    let reply = app
        .post(
            "alice",
            "/credentials/test",
            &db("postgres", "localhost", "verify-full", Some(key), "right"),
        )
        .await;
    assert_eq!(reply.code(), "invalid_field", "{}", reply.text);
}
