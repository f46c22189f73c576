//! Redirects never carry credentials to another origin (issue 11, item 4): for every REST auth
//! type, a server that redirects (307: method and body kept) to a second origin, which records
//! whatever reaches it, gets nothing; a redirect within the origin is still followed.

use serde_json::{json, Value};

use crate::helpers::{captured_logs, TestApp};
use crate::test_servers::{base_url, recorder, BEARER};

/// `{web}/bounce?to=<another origin's recorder>`, and what that recorder received.
fn bounce_elsewhere() -> (String, impl Fn() -> Vec<String>) {
    let (recorder_url, received) = recorder();
    // The same server under another name is another origin.
    let elsewhere = recorder_url.replace("127.0.0.1", "localhost");
    let to = url::form_urlencoded::byte_serialize(format!("{elsewhere}/x").as_bytes())
        .collect::<String>();
    (format!("{}/bounce?to={to}", base_url()), received)
}

#[tokio::test]
async fn no_credential_follows_a_redirect_to_another_origin() {
    let app = TestApp::spawn().await;
    let canary = |n: &str| format!("CANARY-{n}-{}", ulid::Ulid::new());
    let mut planted = Vec::new();
    let mut plant = |n: &str| {
        let c = canary(n);
        planted.push(c.clone());
        c
    };
    let mut all_received = Vec::new();

    // Validation requests of every auth type, each with a custom header too.
    let validation_cases: Vec<(&str, Value)> = vec![
        (
            "basic",
            json!({"username": "u", "password": plant("basic")}),
        ),
        (
            "api_key",
            json!({"api_key": plant("key-header"), "api_key_name": "X-Key"}),
        ),
        (
            "api_key",
            json!({"api_key": plant("key-query"), "api_key_in": "query", "api_key_name": "api_key"}),
        ),
        ("bearer", json!({"token": plant("bearer")})),
    ];
    for (auth, mut fields) in validation_cases {
        let (url, received) = bounce_elsewhere();
        fields["validation_url"] = json!(url);
        fields["headers"] = json!({"X-Tenant-Key": plant("header")});
        let reply = app
            .post(
                "alice",
                "/credentials/test",
                &json!({"connector": "rest_api", "auth_type": auth, "fields": fields}),
            )
            .await;
        assert_eq!(
            reply.body["code"], "redirect_refused",
            "{auth}: {}",
            reply.text
        );
        assert!(
            reply.body["message"]
                .as_str()
                .unwrap()
                .contains("http://localhost:"),
            "{}",
            reply.text
        );
        all_received.extend(received());
    }

    // Token requests: a password grant's form, client credentials, and a refresh token.
    for (auth, fields) in [
        (
            "token_url",
            json!({"username": "u", "password": plant("password-grant")}),
        ),
        (
            "oauth2_client_credentials",
            json!({"client_id": "c", "client_secret": plant("client-secret")}),
        ),
    ] {
        let (url, received) = bounce_elsewhere();
        let mut fields = fields;
        fields["token_url"] = json!(url);
        fields["validation_url"] = json!(format!("{}/open", base_url()));
        let reply = app
            .post(
                "alice",
                "/credentials/test",
                &json!({"connector": "rest_api", "auth_type": auth, "fields": fields}),
            )
            .await;
        assert_eq!(
            reply.body["result"], "inconclusive",
            "{auth}: {}",
            reply.text
        );
        all_received.extend(received());
    }
    let (url, received) = bounce_elsewhere();
    let refresh = plant("refresh");
    let body = json!({"name": "oauth", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": format!("{}/authorize", base_url()), "token_url": url, "client_id": "c",
                   "client_secret": plant("code-secret"), "refresh_token": refresh}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refreshed = app.refresh("alice", &id).await;
    assert_eq!(
        refreshed.body["refresh"]["outcome"], "failed",
        "{}",
        refreshed.text
    );
    all_received.extend(received());

    assert!(
        all_received.is_empty(),
        "another origin received: {all_received:#?}"
    );
    let responses = app.bodies.lock().unwrap().join("\n");
    let logs = captured_logs();
    let items = format!("{:?}", app.table_items().await);
    for c in &planted {
        assert!(!responses.contains(c.as_str()), "{c} in a response");
        assert!(!logs.contains(c.as_str()), "{c} in a log line");
        assert!(!items.contains(c.as_str()), "{c} in a DynamoDB item");
    }
    // The stored one stays where it belongs.
    assert_eq!(
        app.stored_secret(&id).await["refresh_token"],
        refresh.as_str()
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed_with_its_credentials() {
    let app = TestApp::spawn().await;
    let url = format!("{}/bounce?to=/bearer", base_url());
    let reply = app
        .post(
            "alice",
            "/credentials/test",
            &json!({"connector": "rest_api", "auth_type": "bearer",
            "fields": {"token": BEARER, "validation_url": url}}),
        )
        .await;
    assert_eq!(reply.body["result"], "valid", "{}", reply.text);
}
