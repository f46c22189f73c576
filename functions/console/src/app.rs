//! The console: a single-page app (built by Vite from `web/`, embedded at compile time) served
//! on the API's own origin, so it calls the API without CORS. `GET /` and every screen under
//! `GET /console/...` answer the same page; the hashed files under `console/assets/` are cached
//! for good; `console/config.json` says how to sign in.

use crate::asset::{Asset, NOSNIFF};
use lambda_http::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_FRAME_OPTIONS};
use lambda_http::http::{HeaderName, HeaderValue};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

/// What the app may load: its own scripts and styles only (no inline script or style), and the
/// API on this origin; `connect-src` also names the sign-in issuer when there is one
/// (`{issuer}`), whose discovery document and token endpoint the browser fetches.
const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'{issuer}; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

/// The page every screen answers, before its `<base href>` is set.
const INDEX: &str = "index.html";
const DATA_HEADERS: &[(HeaderName, &str)] = &[NOSNIFF];
/// The page's headers but its policy, which depends on the configuration.
const PAGE_HEADERS: &[(HeaderName, &str)] = &[
    NOSNIFF,
    (REFERRER_POLICY, "no-referrer"),
    (X_FRAME_OPTIONS, "DENY"),
];
const BASE_PLACEHOLDER: &str = r#"<base href="/">"#;

/// How the console signs people in, from the function's environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// OpenID Connect against the stack's JWT issuer, when `LATCHKEY_CONSOLE_CLIENT_ID` is set.
    pub oidc: Option<Oidc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Oidc {
    pub authority: String,
    pub client_id: String,
    pub scope: &'static str,
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// From `LATCHKEY_JWT_ISSUER` and `LATCHKEY_CONSOLE_CLIENT_ID` as `get` finds them.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let oidc = match (
            var("LATCHKEY_JWT_ISSUER"),
            var("LATCHKEY_CONSOLE_CLIENT_ID"),
        ) {
            (Some(authority), Some(client_id)) => Some(Oidc {
                authority,
                client_id,
                scope: "openid profile",
            }),
            _ => None,
        };
        Self { oidc }
    }

    /// The issuer's origin (`https://id.example.com`), for the policy's `connect-src`.
    fn issuer_origin(&self) -> Option<String> {
        let url = url::Url::parse(&self.oidc.as_ref()?.authority).ok()?;
        Some(url.origin().ascii_serialization()).filter(|o| o != "null")
    }
}

/// The built files but the page, by path under the API's root
/// (`console/assets/index-3JVJcJuH.js`).
static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    crate::built::FILES
        .iter()
        .filter(|(path, _)| *path != INDEX)
        .map(|&(path, bytes)| {
            // Vite names every asset by its content hash: a new build is a new URL.
            let asset = Asset::binary(
                bytes,
                content_type(path),
                "public, max-age=31536000, immutable",
            )
            .with_headers(DATA_HEADERS);
            (path, asset)
        })
        .collect()
});

static INDEX_HTML: LazyLock<&'static str> = LazyLock::new(|| {
    crate::built::FILES
        .iter()
        .find(|(path, _)| *path == INDEX)
        .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
        .filter(|html| html.contains(BASE_PLACEHOLDER))
        .expect("build.rs checks that the build wrote index.html with its <base href>")
});

pub struct App {
    policy: HeaderValue,
    /// `console/config.json`: fixed for the function's life.
    config: Asset,
}

impl App {
    pub fn new(config: &Config) -> Self {
        let issuer = config
            .issuer_origin()
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let policy = APP_CSP.replace("{issuer}", &issuer);
        Self {
            // An origin is ASCII without control characters: always a valid header value.
            policy: HeaderValue::from_str(&policy)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
            config: Asset::text(
                serde_json::to_string(config).expect("the config is plain data"),
                "application/json",
                "no-cache",
            )
            .with_headers(DATA_HEADERS),
        }
    }

    /// `GET /` and `GET /console`: the page.
    pub fn page(&self, req: &Request, own_path: &str) -> Response<Body> {
        let base = api_root(req.raw_http_path(), own_path);
        let html = INDEX_HTML.replace(BASE_PLACEHOLDER, &format!(r#"<base href="{base}">"#));
        // Revalidated on every visit (its ETag makes that cheap), so a deploy shows at once.
        let mut resp = Asset::text(html, "text/html; charset=utf-8", "no-cache")
            .with_headers(PAGE_HEADERS)
            .respond(req);
        resp.headers_mut()
            .insert(CONTENT_SECURITY_POLICY, self.policy.clone());
        resp
    }

    /// `GET /console/{proxy+}`: a built file, the sign-in configuration, or (any other path, a
    /// screen of the app) the page.
    pub fn console(&self, req: &Request) -> Response<Body> {
        let rest = req
            .path_parameters_ref()
            .and_then(|p| p.first("proxy"))
            .unwrap_or_default()
            .to_owned();
        if let Some(asset) = ASSETS.get(format!("console/{rest}").as_str()) {
            return asset.respond(req);
        }
        if rest == "config.json" {
            return self.config.respond(req);
        }
        if rest.starts_with("assets/") {
            // An asset of another build (a page open across a deploy): say so, not the page.
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = lambda_http::http::StatusCode::NOT_FOUND;
            return resp;
        }
        self.page(req, &format!("/console/{rest}"))
    }
}

/// The API's root as the browser sees it, with a trailing `/`: the request's raw path (which
/// keeps a stage prefix such as `/dev`) without the route's own part. Anything unexpected in
/// it gives `/`, since it goes into the page.
fn api_root(raw_path: &str, own_path: &str) -> String {
    let prefix = raw_path
        .strip_suffix(own_path)
        .or_else(|| raw_path.find("/console").map(|i| &raw_path[..i]))
        .unwrap_or(raw_path)
        .trim_end_matches('/');
    let safe = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if safe {
        format!("{prefix}/")
    } else {
        "/".to_owned()
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{call, header, request};
    use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

    const ROOT_EVENT: &str = include_str!("../events/get-console-root.json");
    const SCREEN_ON_STAGE_EVENT: &str = include_str!("../events/get-console-screen-on-stage.json");
    const CONFIG_EVENT: &str = include_str!("../events/get-console-config.json");

    fn text(resp: &Response<Body>) -> &str {
        std::str::from_utf8(resp.body().as_ref()).expect("UTF-8")
    }

    fn oidc() -> Config {
        Config::from_lookup(|k| match k {
            "LATCHKEY_JWT_ISSUER" => Some("https://id.example.com/realms/acme".into()),
            "LATCHKEY_CONSOLE_CLIENT_ID" => Some("latchkey-console".into()),
            _ => None,
        })
    }

    #[test]
    fn the_api_root_is_the_raw_path_without_the_route() {
        for (raw, own, root) in [
            ("/", "/", "/"),
            ("", "/", "/"),
            ("/dev", "/", "/dev/"),
            ("/dev/", "/", "/dev/"),
            ("/dev/console", "/console", "/dev/"),
            ("/console/credentials/x", "/console/credentials/x", "/"),
            (
                "/dev/console/credentials/x",
                "/console/credentials/x",
                "/dev/",
            ),
            // Encoded differently from the decoded parameter: the first /console decides.
            (
                "/dev/console/credentials/a%20b",
                "/console/credentials/a b",
                "/dev/",
            ),
            // Nothing that could leave the attribute goes into the page.
            ("/a\"><script>/console/x", "/console/x", "/"),
        ] {
            assert_eq!(api_root(raw, own), root, "{raw}");
        }
    }

    #[tokio::test]
    async fn every_screen_is_the_page_with_the_stage_as_its_base() {
        let resp = call(&Config::default(), request(SCREEN_ON_STAGE_EVENT)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, &CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header(&resp, &CACHE_CONTROL), "no-cache");
        let html = text(&resp);
        assert!(html.contains(r#"<base href="/dev/">"#), "{html}");
        assert!(!html.contains(BASE_PLACEHOLDER), "{html}");

        let root = call(&Config::default(), request(ROOT_EVENT)).await;
        assert!(text(&root).contains(r#"<base href="/">"#));
    }

    #[tokio::test]
    async fn the_page_loads_only_its_own_files_under_a_strict_policy() {
        let resp = call(&Config::default(), request(ROOT_EVENT)).await;
        let csp = header(&resp, &CONTENT_SECURITY_POLICY);
        assert_eq!(
            csp,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        );
        assert_eq!(header(&resp, &NOSNIFF.0), "nosniff");
        assert_eq!(header(&resp, &X_FRAME_OPTIONS), "DENY");
        assert_eq!(header(&resp, &REFERRER_POLICY), "no-referrer");
        let html = text(&resp);
        // No inline script for the policy to block: every script is a file of the build.
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{html}");
        for script in scripts {
            let src = script
                .split("src=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("an inline script: {script}"));
            let path = src.trim_start_matches("./");
            assert!(ASSETS.contains_key(path), "{src} is not a built file");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }

    #[tokio::test]
    async fn with_a_sign_in_issuer_the_policy_lets_the_page_reach_it() {
        let resp = call(&oidc(), request(ROOT_EVENT)).await;
        assert!(header(&resp, &CONTENT_SECURITY_POLICY)
            .contains("connect-src 'self' https://id.example.com;"));
        let config = call(&oidc(), request(CONFIG_EVENT)).await;
        assert_eq!(config.status(), 200);
        assert_eq!(header(&config, &CONTENT_TYPE), "application/json");
        let body: serde_json::Value = serde_json::from_str(text(&config)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "oidc": {
                "authority": "https://id.example.com/realms/acme",
                "client_id": "latchkey-console",
                "scope": "openid profile",
            }})
        );
        let none = call(&Config::default(), request(CONFIG_EVENT)).await;
        assert_eq!(text(&none), r#"{"oidc":null}"#);
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_good_and_unknown_ones_are_404() {
        assert!(!ASSETS.is_empty());
        for (path, _) in ASSETS.iter() {
            assert!(path.starts_with("console/assets/"), "{path}");
            let rest = path.trim_start_matches("console/");
            let event = CONFIG_EVENT.replace("config.json", rest);
            let resp = call(&Config::default(), request(&event)).await;
            assert_eq!(resp.status(), 200, "{path}");
            assert_eq!(
                header(&resp, &CACHE_CONTROL),
                "public, max-age=31536000, immutable"
            );
            assert_eq!(header(&resp, &NOSNIFF.0), "nosniff");
            assert_eq!(header(&resp, &CONTENT_TYPE), content_type(path));

            let mut again = request(&event);
            let etag = header(&resp, &ETAG).to_owned();
            again
                .headers_mut()
                .insert(IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
            assert_eq!(call(&Config::default(), again).await.status(), 304);
        }
        let gone = CONFIG_EVENT.replace("config.json", "assets/index-0ld.js");
        let resp = call(&Config::default(), request(&gone)).await;
        assert_eq!(resp.status(), 404);
    }
}
