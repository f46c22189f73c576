//! Against oidc-provider, a certified OpenID Connect / OAuth 2.0 server that
//! tests/stack/servers.sh starts on 127.0.0.1:4800 (access tokens live 4 s, refresh tokens
//! rotate): client credentials, and authorization code with PKCE through the callback, with the
//! provider's login and consent pages driven by plain HTTP.

use reqwest::redirect::Policy;
use serde_json::json;

use crate::helpers::{TestApp, OAUTH_REDIRECT};

const ISSUER: &str = "http://127.0.0.1:4800";
const CLIENT: (&str, &str) = ("latchkey-test", "latchkey-test-secret");

fn location(resp: &reqwest::Response) -> String {
    let raw = resp.headers()["location"].to_str().unwrap();
    if raw.starts_with('/') {
        format!("{ISSUER}{raw}")
    } else {
        raw.to_owned()
    }
}

/// Authorize through our API, log in and consent at the provider, come back to our callback.
async fn connect(app: &TestApp, id: &str) -> String {
    let browser = latchkey_shared::outbound::http_client()
        .no_proxy()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    let start = browser
        .get(format!("{}/credentials/{id}/oauth/authorize", app.base))
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let mut next = location(&start);
    for _ in 0..10 {
        if next.starts_with(OAUTH_REDIRECT) {
            break;
        }
        let resp = browser.get(&next).send().await.unwrap();
        if resp.status().is_redirection() {
            next = location(&resp);
            continue;
        }
        // An interaction page: login first, then consent.
        let page = resp.text().await.unwrap();
        let form = if page.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", "alice"), ("password", "any")]
        } else {
            assert!(
                page.contains("value=\"consent\""),
                "unexpected page: {page}"
            );
            vec![("prompt", "consent")]
        };
        let submitted = browser.post(&next).form(&form).send().await.unwrap();
        next = location(&submitted);
    }
    let back = url::Url::parse(&next).unwrap();
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
    location(&callback)
}

#[tokio::test]
async fn client_credentials_against_oidc_provider() {
    let app = TestApp::spawn().await;
    let created = app
        .create("alice", &json!({"name": "cc", "connector": "rest_api", "auth_type": "oauth2_client_credentials", "test": true,
            "fields": {"token_url": format!("{ISSUER}/token"), "client_id": CLIENT.0, "client_secret": CLIENT.1, "scopes": ["read"],
                       "validation_url": format!("{ISSUER}/.well-known/openid-configuration")}}))
        .await;
    assert_eq!(created["test"]["result"], "valid", "{created}");
    assert_eq!(app.stack.refresh_run().await.unwrap().1.refreshed, 1);
    let id = created["id"].as_str().unwrap();
    assert!(
        app.stored_secret(id).await["access_token"]
            .as_str()
            .unwrap()
            .len()
            > 20
    );

    let wrong = app
        .post("alice", "/credentials/test", &json!({"connector": "rest_api", "auth_type": "oauth2_client_credentials",
            "fields": {"token_url": format!("{ISSUER}/token"), "client_id": CLIENT.0, "client_secret": "wrong",
                       "validation_url": format!("{ISSUER}/.well-known/openid-configuration")}}))
        .await;
    assert_eq!(
        (wrong.body["result"].as_str(), wrong.body["code"].as_str()),
        (Some("invalid"), Some("token_rejected"))
    );
}

#[tokio::test]
async fn authorization_code_with_pkce_rotation_and_revocation() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "oidc", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": format!("{ISSUER}/auth"), "token_url": format!("{ISSUER}/token"),
                   "client_id": CLIENT.0, "client_secret": CLIENT.1, "scopes": ["openid", "offline_access", "read"]}});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let done = connect(&app, &id).await;
    assert!(done.ends_with("result=connected"), "{done}");
    let first = app.stored_secret(&id).await;
    let first_refresh = first["refresh_token"]
        .as_str()
        .expect("a refresh token was issued")
        .to_owned();

    // Two token lifetimes with only the sweep; the rotated refresh token is kept each time.
    let mut refresh = first_refresh.clone();
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
        assert_eq!(app.stack.refresh_run().await.unwrap().1.refreshed, 1);
        let stored = app.stored_secret(&id).await;
        let rotated = stored["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(rotated, refresh, "rotated and persisted");
        refresh = rotated;
        assert_eq!(app.get("alice", &path).await.body["status"], "valid");
    }

    // Revoked at the provider: the next refresh asks for re-authentication, with a reason.
    let revoked = latchkey_shared::outbound::http_client()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{ISSUER}/token/revocation"))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
    assert_eq!(app.stack.refresh_run().await.unwrap().1.reauth_required, 1);
    let c = app.get("alice", &path).await.body;
    assert_eq!(
        (c["status"].as_str(), c["status_code"].as_str()),
        (Some("reauth_required"), Some("refresh_exhausted"))
    );

    connect(&app, &id).await;
    assert_eq!(
        app.get("alice", &path).await.body["status"],
        "valid",
        "re-authenticated"
    );
}

/// The local gateway's stand-in for the JWT authorizer accepts an issuer's token only as API
/// Gateway would: signed by a key of the issuer's JWKS, `iss` exactly the issuer, `aud` one of
/// the audiences.
#[tokio::test]
async fn an_issuers_tokens_are_checked_against_its_jwks() {
    use latchkey_tests::jwks::IssuerVerifier;
    const AUDIENCE: &str = "urn:latchkey:api";
    // A JWT access token for the API (the provider's resource indicator); it lives 4 s.
    let reply: serde_json::Value = latchkey_shared::outbound::http_client()
        .build()
        .unwrap()
        .post(format!("{ISSUER}/token"))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[("grant_type", "client_credentials"), ("resource", AUDIENCE)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reply["access_token"].as_str().expect("a token").to_owned();

    let verifier = IssuerVerifier::new(ISSUER, &[AUDIENCE]);
    let claims = verifier.verify(&token).await.expect("the issuer's token");
    assert_eq!(claims["client_id"], CLIENT.0);
    assert_eq!(claims["iss"], ISSUER);

    for (issuer, audience) in [(ISSUER, "latchkey"), ("http://127.0.0.1:4800/", AUDIENCE)] {
        let other = IssuerVerifier::new(issuer, &[audience]);
        assert!(other.verify(&token).await.is_none(), "{issuer} {audience}");
    }
    // The same header and signature over other claims.
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    assert!(verifier.verify(&forged).await.is_none());
    // A development token is not the issuer's.
    let app_token = latchkey_tests::gateway::DevJwt::from_env().token("alice", "acme", &[], 60);
    assert!(verifier.verify(&app_token).await.is_none());
}
