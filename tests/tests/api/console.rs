//! The console is served by its function through the template's routes, without a token: the
//! page on `/` and on every screen's URL, its hashed files cached for good, its sign-in
//! configuration.

use reqwest::Method;

use crate::helpers::TestApp;

#[tokio::test]
async fn every_screen_url_answers_the_page_and_the_page_its_files() {
    let app = TestApp::spawn().await;
    let root = app.call(Method::GET, "/", None, None, &[]).await;
    assert_eq!(root.status, 200, "{}", root.text);
    assert_eq!(
        root.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = root.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(root.text.contains(r#"<base href="/">"#), "{}", root.text);

    for screen in [
        "/console",
        "/console/credentials",
        "/console/credentials/cred_01jd5k3m9x0000000000000000/edit",
    ] {
        let page = app.call(Method::GET, screen, None, None, &[]).await;
        assert_eq!(page.status, 200, "{screen}");
        assert_eq!(page.text, root.text, "{screen}");
    }

    // The page's script, resolved as the browser resolves it.
    let script = root
        .text
        .split("<script type=\"module\" crossorigin src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page loads its script");
    let url = url::Url::parse(&format!("{}/", app.base))
        .unwrap()
        .join(script)
        .unwrap();
    assert!(url.path().starts_with("/console/assets/"), "{url}");
    let js = app.call(Method::GET, url.path(), None, None, &[]).await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        js.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let config = app
        .call(Method::GET, "/console/config.json", None, None, &[])
        .await;
    assert_eq!(config.status, 200);
    // The test stacks name no console client: no sign-in through the issuer.
    assert_eq!(config.body, serde_json::json!({ "oidc": null }));
}

#[tokio::test]
async fn the_api_keeps_its_routes_beside_the_console() {
    let app = TestApp::spawn().await;
    // An API route still answers JSON, and needs its token.
    let list = app.call(Method::GET, "/credentials", None, None, &[]).await;
    assert_eq!(list.status, 401);
    let connectors = app.get("alice", "/connectors").await;
    assert_eq!(connectors.status, 200);
    assert!(connectors.body["connectors"].is_array());
}

/// The development sign-in is `make run`'s alone: a stack served as the template says has none.
#[tokio::test]
async fn a_stack_has_no_development_sign_in() {
    let app = TestApp::spawn().await;
    for method in [Method::GET, Method::POST] {
        let reply = app.call(method, "/dev/token", None, None, &[]).await;
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert_eq!(reply.body, serde_json::json!({ "message": "Not Found" }));
    }
}
