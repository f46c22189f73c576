//! The API's reference is public and self-contained: the OpenAPI document, the Redoc page and
//! the bundle it loads, all served by the console function without a token.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn openapi_document_is_public_json_with_an_etag() {
    let app = TestApp::spawn().await;
    let reply = app
        .call(Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    let version = reply.body["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "{}", reply.text);

    let etag = reply.header("etag").expect("an ETag").to_owned();
    let again = app
        .call(
            Method::GET,
            "/openapi.json",
            None,
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
}

#[tokio::test]
async fn docs_page_renders_the_spec_with_the_bundle_it_serves() {
    let app = TestApp::spawn().await;
    let page = app.call(Method::GET, "/docs", None, None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));

    // What the browser would fetch, resolved against the page's own URL.
    let page_url = url::Url::parse(&format!("{}/docs", app.base)).unwrap();
    let spec = attribute(&page.text, "<redoc spec-url=\"");
    let script = attribute(&page.text, "<script src=\"");
    let spec_url = page_url.join(spec).unwrap();
    assert_eq!(spec_url.path(), "/openapi.json");
    let script_url = page_url.join(script).unwrap();
    assert_eq!(script_url.path(), "/docs/redoc.standalone.js");

    let spec_reply = app
        .call(Method::GET, spec_url.path(), None, None, &[])
        .await;
    assert_eq!(spec_reply.status, 200);
    assert!(spec_reply.body.get("openapi").is_some_and(Value::is_string));

    let path_and_query = &script_url.as_str()[app.base.len()..];
    let bundle = app.call(Method::GET, path_and_query, None, None, &[]).await;
    assert_eq!(bundle.status, 200);
    assert_eq!(
        bundle.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(bundle.header("etag").is_some());
    // Byte for byte the pinned Redoc, through the gateway's base64 round trip.
    let pinned = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../functions/console/web/node_modules/redoc/bundles/redoc.standalone.js"),
    )
    .unwrap();
    assert!(
        bundle.text.as_bytes() == pinned.as_slice(),
        "the bundle differs"
    );
}

#[tokio::test]
async fn redoc_bundle_is_public_javascript() {
    let app = TestApp::spawn().await;
    let reply = app
        .call(Method::GET, "/docs/redoc.standalone.js", None, None, &[])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(reply.text.len() > 500_000, "{} bytes", reply.text.len());
}

/// The value of the attribute `prefix` opens, up to its closing quote.
fn attribute<'a>(html: &'a str, prefix: &str) -> &'a str {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {html}"))
        + prefix.len();
    let len = html[start..].find('"').unwrap();
    &html[start..start + len]
}
