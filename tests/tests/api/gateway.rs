//! The local API Gateway behaves as the real one for what the functions rely on.

use latchkey_tests::gateway::invoke;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;

use crate::helpers::TestApp;

#[tokio::test]
async fn tokens_are_checked_like_the_jwt_authorizer_does() {
    let app = TestApp::spawn().await;
    let expired = app.jwt.token("alice", "acme", &[], -120);
    let foreign =
        latchkey_tests::gateway::DevJwt::new("another-secret").token("alice", "acme", &[], 3600);
    for token in [
        None,
        Some("not-a-jwt"),
        Some(expired.as_str()),
        Some(foreign.as_str()),
    ] {
        let reply = app
            .call(Method::GET, "/credentials", token, None, &[])
            .await;
        assert_eq!(reply.status, 401, "{token:?}");
        assert_eq!(reply.body, json!({"message": "Unauthorized"}));
    }
    // A valid token without the claims Latchkey needs is refused by the function itself.
    let no_org = app.jwt.mint(&json!({"sub": "alice", "exp": in_an_hour()}));
    let reply = app
        .call(Method::GET, "/credentials", Some(&no_org), None, &[])
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "unauthenticated");
}

fn in_an_hour() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp() + 3600
}

/// A token with its own header, signed with the app's dev secret.
fn signed_with_header(header: &Value, claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret"),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

/// API Gateway's authorizer refuses tokens without `exp`, not yet valid, or with extensions it
/// must understand; and the function refuses claims that are not identifiers, naming the claim.
#[tokio::test]
async fn tokens_need_an_expiry_and_claims_that_are_identifiers() {
    let app = TestApp::spawn().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let base = json!({"sub": "alice", "org_id": "acme", "exp": now + 3600});
    for token in [
        app.jwt.mint(&json!({"sub": "alice", "org_id": "acme"})),
        app.jwt
            .mint(&json!({"sub": "alice", "org_id": "acme", "exp": now + 3600, "nbf": now + 600})),
        signed_with_header(
            &json!({"alg": "HS256", "typ": "JWT", "crit": ["x-latchkey"]}),
            &base,
        ),
    ] {
        let reply = app
            .call(Method::GET, "/credentials", Some(&token), None, &[])
            .await;
        assert_eq!(reply.status, 401, "{token}");
        assert_eq!(reply.body, json!({"message": "Unauthorized"}));
    }
    // Control: the same shape without the flaw passes.
    let ok = signed_with_header(&json!({"alg": "HS256", "typ": "JWT"}), &base);
    assert_eq!(
        app.call(Method::GET, "/credentials", Some(&ok), None, &[])
            .await
            .status,
        200
    );

    // A team grant must not be reachable by a team whose name merely contains it.
    let id = app
        .create("alice", &crate::helpers::postgres("db", "pw"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let share = app
        .call(
            Method::PUT,
            &format!("/credentials/{id}/accessors/team/Engineering"),
            Some(&app.token("alice")),
            Some(&json!({"role": "collaborator"})),
            &[],
        )
        .await;
    assert_eq!(share.status, 201, "{}", share.text);
    for (claims, wrong) in [
        (
            json!({"sub": "bob", "org_id": "acme", "teams": ["Platform Engineering"]}),
            "teams",
        ),
        (json!({"sub": "bob", "org_id": null}), "org_id"),
        (json!({"sub": 5, "org_id": "acme"}), "sub"),
        (json!({"sub": " alice", "org_id": "acme"}), "sub"),
        (json!({"sub": "alice", "org_id": "ac#me"}), "org_id"),
        (
            json!({"sub": "alice", "org_id": "acme", "teams": ["data,ops"]}),
            "teams",
        ),
    ] {
        let mut claims = claims;
        claims["exp"] = json!(now + 3600);
        let token = app.jwt.mint(&claims);
        let reply = app
            .call(
                Method::GET,
                &format!("/credentials/{id}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, 401, "{claims}: {}", reply.text);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{wrong}`")),
            "{claims}: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn the_local_api_serves_exactly_the_templates_routes() {
    let app = TestApp::spawn().await;
    let routes = app.stack.template.routes();
    assert!(routes.len() >= 8);
    for route in &routes {
        let path = route
            .path
            .replace("{id}", "cred_01jdzzzzzzzzzzzzzzzzzzzzzz")
            .replace("{proxy+}", "credentials/deleted");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let reply = app
            .call(
                method,
                &path,
                Some(&app.token("alice")),
                Some(&json!({})),
                &[],
            )
            .await;
        assert_ne!(
            reply.body,
            json!({"message": "Not Found"}),
            "{} is routed to a function",
            route.key()
        );
        assert!(
            reply.status.as_u16() < 500,
            "{}: {}",
            route.key(),
            reply.text
        );
    }
    for (method, path) in [
        (Method::POST, "/"),
        (Method::GET, "/consoles"),
        (Method::PUT, "/credentials"),
        (Method::GET, "/credentials/x/y/z"),
        (Method::POST, "/connectors"),
    ] {
        let reply = app
            .call(method, path, Some(&app.token("alice")), None, &[])
            .await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.body, json!({"message": "Not Found"}));
    }
}

/// The fixtures kept for `cargo lambda invoke credentials --data-file ...` are real events.
#[tokio::test]
async fn the_invoke_fixtures_run_through_the_handler() {
    let app = TestApp::spawn().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/credentials/events");
    let expected = [
        ("list-connectors", 200),
        ("create-credential", 201),
        ("list-credentials", 200),
        ("get-credential", 404),
        ("update-credential", 404),
        ("delete-credential", 404),
        ("restore-credential", 404),
        ("credential-history", 404),
    ];
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        expected.len(),
        "every fixture is exercised: {names:?}"
    );
    for (name, status) in expected {
        let event: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let handler = app.stack.handler("credentials").unwrap();
        let reply = invoke(handler, event).await.unwrap();
        assert_eq!(reply.status().as_u16(), status, "{name}");
    }
    let listed = app.get("alice", "/credentials").await;
    assert_eq!(
        listed.body["items"][0]["name"], "warehouse",
        "the fixture's claims are alice in acme"
    );
}

/// Every HTTP function's fixtures are real events its handler answers (not with a 5xx), and
/// the resolve fixtures are requests the resolver understands.
#[tokio::test]
async fn every_functions_fixtures_are_understood() {
    let app = TestApp::spawn().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    for (function, binary) in [
        ("sharing", "sharing"),
        ("test-connection", "test-connection"),
    ] {
        for entry in std::fs::read_dir(root.join(function).join("events")).unwrap() {
            let path = entry.unwrap().path();
            let event: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let reply = invoke(app.stack.handler(binary).unwrap(), event)
                .await
                .unwrap();
            let status = reply.status().as_u16();
            assert!(
                (200..500).contains(&status) && status != 401,
                "{}: {status}",
                path.display()
            );
        }
    }
    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    for name in ["resolve.json", "report-failure.json"] {
        let event: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("resolve/events").join(name)).unwrap(),
        )
        .unwrap();
        let answer = resolver.handle(event).await;
        assert_eq!(
            answer["error"]["code"], "not_found",
            "{name}: understood, and the fixture id exists nowhere: {answer}"
        );
    }
}
