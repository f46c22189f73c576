//! OAuth 2.0 authorization code with PKCE: connect through the provider, keep working across
//! token lifetimes with only the scheduled sweep, and re-authenticate once refreshes stop.

use reqwest::redirect::Policy;
use serde_json::json;

use crate::helpers::{TestApp, OAUTH_REDIRECT};
use crate::test_servers::{register_client, with_client, CLIENT};

fn browser() -> reqwest::Client {
    latchkey_shared::outbound::http_client()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The person's browser up to the provider's consent: the query the provider sends back.
async fn consent(app: &TestApp, user: &str, id: &str) -> String {
    let browser = browser();
    let start = browser
        .get(format!("{}/credentials/{id}/oauth/authorize", app.base))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();
    let consent = browser.get(&to_provider).send().await.unwrap();
    let back = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    back.query().unwrap().to_owned()
}

/// The provider's redirect back: where the callback sends the person.
async fn callback(app: &TestApp, query: &str) -> String {
    let done = browser()
        .get(format!("{}/oauth/callback?{query}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 302);
    done.headers()["location"].to_str().unwrap().to_owned()
}

/// Plays the person's browser: authorize (with the caller's token), the provider's consent,
/// then the callback (without a token). Returns where the callback sent the person.
async fn connect(app: &TestApp, id: &str) -> String {
    let browser = browser();
    let start = browser
        .get(format!("{}/credentials/{id}/oauth/authorize", app.base))
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to_provider.contains("code_challenge_method=S256") && to_provider.contains("state="),
        "{to_provider}"
    );
    let consent = browser.get(&to_provider).send().await.unwrap();
    let back = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(OAUTH_REDIRECT));
    let callback = browser
        .get(format!(
            "{}/oauth/callback?{}",
            app.base,
            back.query().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 302);
    let done = callback.headers()["location"].to_str().unwrap().to_owned();
    // The state works once.
    let replay = browser
        .get(format!(
            "{}/oauth/callback?{}",
            app.base,
            back.query().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    done
}

/// A script (the console) asks for the provider's URL as JSON and opens it itself: the same
/// authorization, PKCE and one-time state as the redirect.
#[tokio::test]
async fn authorize_answers_the_url_as_json_to_a_script() {
    let app = TestApp::spawn().await;
    let client = format!("o{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, _) = register_client(&client, 60, 1);
    let body = json!({"name": "crm", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": token_url.replace("/token", "/authorize"), "token_url": token_url, "client_id": client, "client_secret": CLIENT.1, "scopes": ["read"]}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = browser()
        .get(format!("{}/credentials/{id}/oauth/authorize", app.base))
        .bearer_auth(app.token("alice"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["cache-control"], "no-store");
    assert!(reply.headers().get("location").is_none());
    let body: serde_json::Value = reply.json().await.unwrap();
    let url = body["authorization_url"].as_str().unwrap();
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    // The state it carries is live: the provider's consent comes back to our callback.
    let consent = browser().get(url).send().await.unwrap();
    let back = consent.headers()["location"].to_str().unwrap();
    assert!(back.starts_with(OAUTH_REDIRECT), "{back}");
}

#[tokio::test]
async fn connect_refresh_across_lifetimes_and_reauthenticate() {
    let app = TestApp::spawn().await;
    let client = format!("o{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, _) = register_client(&client, 2, 100);
    let authorize_url = token_url.replace("/token", "/authorize");
    let body = json!({"name": "crm", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": authorize_url, "token_url": token_url, "client_id": client, "client_secret": CLIENT.1, "scopes": ["read"]}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    assert!(
        app.get("alice", &path).await.body["token"]["next_refresh_at"].is_null(),
        "nothing to refresh before connecting"
    );

    let done = connect(&app, &id).await;
    assert_eq!(
        done,
        format!("https://app.example.com/credentials?credential_id={id}&result=connected")
    );
    let c = app.get("alice", &path).await.body;
    assert_eq!(
        (c["status"].as_str(), c["status_trigger"].as_str()),
        (Some("valid"), Some("connect"))
    );
    assert!(c["secret_fields"]
        .as_array()
        .unwrap()
        .contains(&json!("refresh_token")));

    // Several token lifetimes with nothing but the scheduled sweep.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let report = app.stack.refresh_run().await.unwrap().1;
        assert_eq!(report.refreshed, 1, "{report:?}");
        let stored = app.stored_secret(&id).await;
        assert!(
            seen.insert(stored["access_token"].to_string()),
            "a new access token each lifetime"
        );
        assert_eq!(app.get("alice", &path).await.body["status"], "valid");
    }

    // The provider stops allowing refreshes: re-authentication is asked for, with a reason.
    with_client(&client, |c| c.refreshes_left = 0);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.stack.refresh_run().await.unwrap().1.reauth_required, 1);
    let c = app.get("alice", &path).await.body;
    assert_eq!(
        (c["status"].as_str(), c["status_code"].as_str()),
        (Some("reauth_required"), Some("refresh_exhausted"))
    );
    assert!(c["status_reason"]
        .as_str()
        .unwrap()
        .contains("/oauth/authorize"));

    with_client(&client, |c| c.refreshes_left = 100);
    connect(&app, &id).await;
    let c = app.get("alice", &path).await.body;
    assert_eq!(c["status"], "valid", "re-authenticated");
    assert!(
        c["token"]["next_refresh_at"].is_string(),
        "back in the sweep"
    );
    let history = app.get("alice", &format!("{path}/history")).await.body;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "connected").count(), 2);
    assert_eq!(actions.iter().filter(|a| **a == "refreshed").count(), 3);

    // Only admins connect; a bearer credential has nothing to connect.
    let bearer = app.create("alice", &json!({"name": "b", "connector": "rest_api", "auth_type": "bearer", "fields": {"token": "t"}})).await;
    let r = app
        .get(
            "alice",
            &format!(
                "/credentials/{}/oauth/authorize",
                bearer["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "not_oauth"));
    assert_eq!(
        app.get("bob", &format!("{path}/oauth/authorize"))
            .await
            .status,
        404
    );
}

/// Issue 11, item 8: a connect is bound to who started it and to where it was going.
#[tokio::test]
async fn a_connect_is_refused_when_its_initiator_lost_access_or_the_endpoints_changed() {
    let app = TestApp::spawn().await;
    let client = format!("o{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, _) = register_client(&client, 3600, 100);
    let authorize_url = token_url.replace("/token", "/authorize");
    let body = json!({"name": "crm", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": authorize_url, "token_url": token_url, "client_id": client, "client_secret": CLIENT.1}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let alice = app.token("alice");
    let share = |role: Option<&'static str>| {
        let (method, body) = match role {
            Some(r) => (reqwest::Method::PUT, Some(json!({ "role": r }))),
            None => (reqwest::Method::DELETE, None),
        };
        let (app, path, alice) = (&app, &path, &alice);
        async move {
            let r = app
                .call(
                    method,
                    &format!("{path}/accessors/user/bob"),
                    Some(alice),
                    body.as_ref(),
                    &[],
                )
                .await;
            assert!(r.status.is_success(), "{}", r.text);
        }
    };

    // Bob, an admin, starts a connect; his access is revoked before the provider sends him back.
    share(Some("admin")).await;
    let query = consent(&app, "bob", &id).await;
    share(None).await;
    let done = callback(&app, &query).await;
    assert!(done.ends_with("error=initiator_lost_access"), "{done}");

    // Alice starts one; the authorize URL changes (with the secret) before the callback.
    let query = consent(&app, "alice", &id).await;
    let moved = app
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&alice),
            Some(&json!({"fields": {"authorize_url": format!("{authorize_url}?v=2"), "client_secret": CLIENT.1}})),
            &[],
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let done = callback(&app, &query).await;
    assert!(done.ends_with("error=credential_changed"), "{done}");

    // Neither exchanged the code nor stored anything.
    assert_eq!(with_client(&client, |c| c.exchanges), 0);
    let c = app.get("alice", &path).await.body;
    assert!(
        !c["secret_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("refresh_token")),
        "{c}"
    );
    let history = app.get("alice", &format!("{path}/history")).await.body;
    assert!(
        !history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["action"] == "connected"),
        "{history}"
    );
}
