//! The local API Gateway behaves as the real one for what the functions rely on.

use http_body_util::BodyExt;
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

/// Every fixture under `functions/*/events/` (but the credentials function's, above, and the
/// console's, which its unit tests serve) is a real event its handler answers as expected here;
/// a new fixture without an expectation fails this test.
#[tokio::test]
async fn every_functions_fixtures_answer_as_expected() {
    let app = TestApp::spawn().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    // The fixtures name a credential that exists nowhere; the unsaved test's validation URL is
    // a closed port, which the outbound guard refuses as loopback: inconclusive, not a 5xx.
    let http: [(&str, &str, u16, &str); 6] = [
        ("sharing", "list-accessors", 404, "not_found"),
        ("sharing", "share-with-team", 404, "not_found"),
        ("test-connection", "test-saved-credential", 404, "not_found"),
        ("test-connection", "test-unsaved-credential", 200, ""),
        ("oauth", "authorize", 404, "not_found"),
        ("oauth", "callback", 400, "invalid_state"),
    ];
    let mut expected: Vec<String> = http.iter().map(|(f, n, ..)| format!("{f}/{n}")).collect();
    for (function, name, status, code) in http {
        let event = fixture(&root, function, name);
        let reply = invoke(app.stack.handler(function).unwrap(), event)
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), status, "{function}/{name}");
        let body: Value =
            serde_json::from_slice(&reply.into_body().collect().await.unwrap().to_bytes())
                .unwrap_or(Value::Null);
        if code.is_empty() {
            assert_eq!(body["result"], "inconclusive", "{function}/{name}: {body}");
        } else {
            assert_eq!(body["error"]["code"], code, "{function}/{name}: {body}");
        }
    }

    // The schedules' events drive the sweeps as Lambda would; a fresh stack has nothing to do.
    let context = lambda_http::Context::default();
    let event =
        lambda_http::LambdaEvent::new(fixture(&root, "refresh", "scheduled"), context.clone());
    let sweeper =
        latchkey_refresh::Sweeper::new(&app.stack.aws, &app.stack.config("refresh").unwrap())
            .unwrap();
    let report = sweeper.on_schedule(event).await.unwrap();
    assert_eq!(
        (report["due"].as_u64(), report["checks_due"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
    // The worker's SQS batch, as Lambda delivers it: only the message that is not a job comes
    // back as a failure (a check of a credential that does not exist is done: nothing to do).
    let batch = serde_json::from_value(fixture(&root, "refresh", "worker-batch")).unwrap();
    let worker =
        latchkey_refresh::Worker::new(&app.stack.aws, &app.stack.config("refresh-worker").unwrap());
    let answer = worker
        .on_batch(lambda_http::LambdaEvent::new(batch, context.clone()))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(answer).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "not-a-job"}]})
    );
    let event = lambda_http::LambdaEvent::new(fixture(&root, "janitor", "scheduled"), context);
    let janitor =
        latchkey_janitor::Janitor::new(&app.stack.aws, &app.stack.config("janitor").unwrap());
    let report = janitor.on_schedule(event).await.unwrap();
    assert_eq!(report["removed"].as_u64(), Some(0), "{report}");
    // The operator's invoke, once SecretStorage says envelope.
    let mut migrate_config = app.stack.config("migrate").unwrap();
    migrate_config.secret_storage = latchkey_shared::config::SecretStorage::Envelope;
    let migrator = latchkey_migrate::Migrator::new(&app.stack.aws, &migrate_config);
    let event = lambda_http::LambdaEvent::new(
        fixture(&root, "migrate", "to-envelope"),
        lambda_http::Context::default(),
    );
    let report = migrator.on_invoke(event).await.unwrap();
    assert_eq!(report["remaining"].as_u64(), Some(0), "{report}");
    expected.extend([
        "refresh/scheduled".to_owned(),
        "refresh/worker-batch".to_owned(),
        "janitor/scheduled".to_owned(),
        "migrate/to-envelope".to_owned(),
    ]);
    expected.extend([
        "resolve/resolve".to_owned(),
        "resolve/report-failure".to_owned(),
    ]);

    let mut found = Vec::new();
    for function in std::fs::read_dir(&root).unwrap() {
        let function = function.unwrap().file_name().to_string_lossy().into_owned();
        if function == "credentials" || function == "console" {
            continue;
        }
        for entry in std::fs::read_dir(root.join(&function).join("events"))
            .into_iter()
            .flatten()
        {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            found.push(format!("{function}/{}", name.trim_end_matches(".json")));
        }
    }
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "every fixture has an expectation here");

    let resolver =
        latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap());
    for name in ["resolve", "report-failure"] {
        let event = fixture(&root, "resolve", name);
        let answer = resolver.handle(event).await;
        assert_eq!(
            answer["error"]["code"], "not_found",
            "{name}: understood, and the fixture id exists nowhere: {answer}"
        );
    }
}

fn fixture(functions: &Path, function: &str, name: &str) -> Value {
    let path = functions
        .join(function)
        .join("events")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}
