//! The API describes itself on its own origin, to anyone (no token): `GET /openapi.json` is the
//! OpenAPI document, `GET /docs` a reference page Redoc renders from it, and
//! `GET /docs/redoc.standalone.js` that Redoc: pinned in `web/package-lock.json` and embedded at
//! compile time, so the page loads nothing from another origin and its Content-Security-Policy
//! can say so.

use crate::asset::{Asset, NOSNIFF};
use lambda_http::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use lambda_http::http::HeaderName;
use lambda_http::{Body, Request, Response};
use std::sync::LazyLock;

/// What the reference page may load: its own script, the spec from this origin, and what Redoc
/// itself needs: inline styles (styled-components), a search worker it starts from a `blob:`
/// URL, and `data:` images (icons in its stylesheet).
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const DATA_HEADERS: &[(HeaderName, &str)] = &[NOSNIFF];
const PAGE_HEADERS: &[(HeaderName, &str)] = &[
    NOSNIFF,
    (CONTENT_SECURITY_POLICY, DOCS_CSP),
    (REFERRER_POLICY, "no-referrer"),
];

/// `infra/openapi.json`, as generated from the code.
static OPENAPI: LazyLock<Asset> = LazyLock::new(|| {
    Asset::text(
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/openapi.json"
        )),
        "application/json",
        "public, max-age=300",
    )
    .with_headers(DATA_HEADERS)
});

/// Redoc's standalone bundle. The page asks for it under its fingerprint, so a new Redoc is a
/// new URL and this one can be cached for good.
static REDOC: LazyLock<Asset> = LazyLock::new(|| {
    Asset::binary(
        crate::built::REDOC,
        "text/javascript; charset=utf-8",
        "public, max-age=31536000, immutable",
    )
    .with_headers(DATA_HEADERS)
});

static DOCS_PAGE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::text(
        include_str!("docs.html").replace("{redoc_fingerprint}", REDOC.fingerprint()),
        "text/html; charset=utf-8",
        "public, max-age=300",
    )
    .with_headers(PAGE_HEADERS)
});

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "reference", operation_id = "getOpenApiDocument",
    security(()),
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` from before: 304 if unchanged.")),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Unchanged since the `ETag` sent."),
    )
)]
pub(crate) fn openapi_document(req: &Request) -> Response<Body> {
    OPENAPI.respond(req)
}

/// The API reference, rendered in the browser from this document.
#[utoipa::path(
    get, path = "/docs", tag = "reference", operation_id = "getApiReference",
    security(()),
    params(("If-None-Match" = Option<String>, Header)),
    responses(
        (status = 200, description = "An HTML page.", content_type = "text/html", body = String, headers(("ETag" = String), ("Content-Security-Policy" = String))),
        (status = 304, description = "Unchanged since the `ETag` sent."),
    )
)]
pub(crate) fn docs_page(req: &Request) -> Response<Body> {
    DOCS_PAGE.respond(req)
}

/// The reference page's script (Redoc), cached for good under its fingerprint.
#[utoipa::path(
    get, path = "/docs/redoc.standalone.js", tag = "reference", operation_id = "getApiReferenceScript",
    security(()),
    params(
        ("v" = Option<String>, Query, description = "The bundle's fingerprint, which makes the URL change with the bundle."),
        ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, description = "JavaScript.", content_type = "text/javascript", body = String, headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the `ETag` sent."),
    )
)]
pub(crate) fn redoc_bundle(req: &Request) -> Response<Body> {
    REDOC.respond(req)
}

/// This part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(openapi_document, docs_page, redoc_bundle))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{call, header, request};
    use crate::Config;
    use lambda_http::http::header::X_CONTENT_TYPE_OPTIONS;
    use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
    use lambda_http::http::HeaderValue;
    use serde_json::Value;

    const OPENAPI_EVENT: &str = include_str!("../events/get-openapi.json");
    const DOCS_EVENT: &str = include_str!("../events/get-docs.json");
    const REDOC_EVENT: &str = include_str!("../events/get-redoc-bundle.json");

    fn body_bytes(resp: &Response<Body>) -> &[u8] {
        resp.body().as_ref()
    }

    #[tokio::test]
    async fn openapi_json_is_the_embedded_document() {
        let resp = call(&Config::default(), request(OPENAPI_EVENT)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, CONTENT_TYPE), "application/json");
        assert_eq!(header(&resp, CACHE_CONTROL), "public, max-age=300");
        assert_eq!(header(&resp, X_CONTENT_TYPE_OPTIONS), "nosniff");
        let doc: Value = serde_json::from_slice(body_bytes(&resp)).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(matches!(resp.body(), Body::Text(_)));
    }

    #[tokio::test]
    async fn every_asset_has_a_strong_etag_and_answers_304_when_it_matches() {
        for event in [OPENAPI_EVENT, DOCS_EVENT, REDOC_EVENT] {
            let first = call(&Config::default(), request(event)).await;
            let etag = header(&first, ETAG).to_owned();
            assert!(
                etag.starts_with('"') && etag.ends_with('"') && etag.len() == 66,
                "{etag}"
            );
            // The same bytes, the same tag.
            assert_eq!(
                header(&call(&Config::default(), request(event)).await, ETAG),
                etag
            );

            let mut again = request(event);
            again
                .headers_mut()
                .insert(IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
            let not_modified = call(&Config::default(), again).await;
            assert_eq!(not_modified.status(), 304, "{event}");
            assert!(body_bytes(&not_modified).is_empty());
            assert_eq!(header(&not_modified, ETAG), etag);
            assert_eq!(
                header(&not_modified, CACHE_CONTROL),
                header(&first, CACHE_CONTROL)
            );

            let mut stale = request(event);
            stale
                .headers_mut()
                .insert(IF_NONE_MATCH, HeaderValue::from_static("\"0123\""));
            assert_eq!(call(&Config::default(), stale).await.status(), 200);
        }
    }

    #[tokio::test]
    async fn docs_page_loads_the_bundle_and_the_spec_under_a_strict_policy() {
        let resp = call(&Config::default(), request(DOCS_EVENT)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header(&resp, X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&resp, REFERRER_POLICY), "no-referrer");
        let csp = header(&resp, CONTENT_SECURITY_POLICY);
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "worker-src blob:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-eval"), "{csp}");

        let html = std::str::from_utf8(body_bytes(&resp)).unwrap();
        assert!(
            html.contains(r#"<redoc spec-url="openapi.json"></redoc>"#),
            "{html}"
        );
        let script = format!(
            r#"<script src="docs/redoc.standalone.js?v={}"></script>"#,
            REDOC.fingerprint()
        );
        assert!(html.contains(&script), "{html}");
        // Nothing inline for script-src 'self' to block, nothing from another origin.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[tokio::test]
    async fn redoc_bundle_is_javascript_cached_for_good() {
        let resp = call(&Config::default(), request(REDOC_EVENT)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            header(&resp, CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&resp, X_CONTENT_TYPE_OPTIONS), "nosniff");
        let js = body_bytes(&resp);
        assert!(js.len() > 500_000, "{} bytes", js.len());
        assert!(std::str::from_utf8(js).unwrap().contains("Redoc"));
    }

    #[tokio::test]
    async fn other_routes_are_404_route_not_found() {
        for route in ["GET /docs/other.js", "POST /docs", "GET /credentials", ""] {
            let event = DOCS_EVENT.replace("\"GET /docs\"", &format!("\"{route}\""));
            let resp = call(&Config::default(), request(&event)).await;
            assert_eq!(resp.status(), 404, "{route}");
            assert_eq!(header(&resp, CONTENT_TYPE), "application/json");
            let body: Value = serde_json::from_slice(body_bytes(&resp)).unwrap();
            assert_eq!(body["error"]["code"], "route_not_found", "{route}");
            assert!(body["error"]["message"].as_str().unwrap().contains(route));
        }
    }
}
