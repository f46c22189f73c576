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
    let no_org = app.jwt.mint(&json!({"sub": "alice"}));
    let reply = app
        .call(Method::GET, "/credentials", Some(&no_org), None, &[])
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "unauthenticated");
}

#[tokio::test]
async fn the_local_api_serves_exactly_the_templates_routes() {
    let app = TestApp::spawn().await;
    let routes = app.stack.template.routes();
    assert!(routes.len() >= 8);
    for route in &routes {
        let path = route
            .path
            .replace("{id}", "cred_01jdzzzzzzzzzzzzzzzzzzzzzz");
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
        (Method::GET, "/"),
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
