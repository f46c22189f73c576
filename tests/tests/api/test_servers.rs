//! Local HTTP servers for the REST auth types, a token endpoint, an OAuth 2.0 token endpoint
//! and a stand-in for Snowflake's login endpoint. One instance on 127.0.0.1, on its own thread,
//! shared by every test of the binary.

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use std::sync::OnceLock;

pub const BASIC: (&str, &str) = ("rest-user", "rest-right-password");
pub const API_KEY: &str = "api-key-right";
pub const BEARER: &str = "bearer-token-right";
pub const CLIENT: (&str, &str) = ("client-id", "client-secret-right");
pub const ISSUED_TOKEN: &str = "issued-access-token";
pub const SNOWFLAKE_PASSWORD: &str = "snow-right-password";

static BASE: OnceLock<String> = OnceLock::new();

/// Accounts of `/accounts/<name>` (basic auth), whose passwords a test may change.
static ACCOUNTS: std::sync::Mutex<Option<std::collections::HashMap<String, String>>> =
    std::sync::Mutex::new(None);

/// Sets the password of account `name` on the server (creating it): `base_url()/accounts/<name>`
/// accepts basic auth with exactly that password.
pub fn set_account_password(name: &str, password: &str) {
    ACCOUNTS
        .lock()
        .unwrap()
        .get_or_insert_with(Default::default)
        .insert(name.to_owned(), password.to_owned());
}

pub fn base_url() -> String {
    BASE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                latchkey_tests::gateway::serve_http(listener, answer).await;
            });
        });
        format!("http://{}", rx.recv().unwrap())
    })
    .clone()
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

async fn answer(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let api_key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let head = format!("{} {}\n{:?}", req.method(), req.uri(), req.headers());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    if let Some(name) = path.strip_prefix("/record/") {
        let name = name.split('/').next().unwrap_or_default().to_owned();
        RECORDED
            .lock()
            .unwrap()
            .get_or_insert_with(Default::default)
            .entry(name)
            .or_default()
            .push(format!("{head}\n{body}"));
        return reply(503, json!({"error": "temporarily_unavailable"}));
    }
    if let Some(client) = path.strip_prefix("/provider/") {
        let client = client.split('/').next().unwrap_or_default();
        let delay = PROVIDER
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|c| c.get(client))
            .map_or(0, |c| c.delay_ms);
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let ok = |yes: bool| {
        if yes {
            reply(200, json!({"ok": true}))
        } else {
            reply(401, json!({"error": "unauthorized"}))
        }
    };
    if let Some(name) = path.strip_prefix("/accounts/") {
        let password = ACCOUNTS
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|a| a.get(name).cloned());
        return ok(password.is_some_and(|p| auth == basic(name, &p)));
    }
    match path.as_str() {
        "/open" => reply(200, json!({"ok": true})),
        "/basic" => ok(auth == basic(BASIC.0, BASIC.1)),
        "/api-key" => ok(api_key == API_KEY || query.contains(&format!("api_key={API_KEY}"))),
        "/bearer" => ok(auth == format!("Bearer {BEARER}")),
        "/protected" => ok(auth == format!("Bearer {ISSUED_TOKEN}")),
        "/unavailable" => reply(503, json!({"error": "maintenance"})),
        // 307 (method and body kept) to wherever `to` says: a stand-in for a server that
        // sends its callers on, to another origin or its own.
        "/bounce" => {
            let to = form(&query).remove("to").unwrap_or_default();
            let mut resp = reply(307, json!({}));
            resp.headers_mut().insert("location", to.parse().unwrap());
            resp
        }
        "/redirect-to-metadata" => {
            let mut resp = reply(302, json!({}));
            resp.headers_mut().insert(
                "location",
                "http://169.254.169.254/latest/meta-data/".parse().unwrap(),
            );
            resp
        }
        // Token URL and OAuth 2.0 client credentials: client id and secret as HTTP Basic.
        "/token" | "/oauth/token" => {
            if auth == basic(CLIENT.0, CLIENT.1) && body.contains("grant_type=client_credentials") {
                reply(
                    200,
                    json!({"access_token": ISSUED_TOKEN, "token_type": "bearer", "expires_in": 3600}),
                )
            } else {
                reply(401, json!({"error": "invalid_client"}))
            }
        }
        p if p.starts_with("/provider/") => provider(p, &query, &auth, &body),
        p if p.starts_with("/snowflake/") && p.ends_with("/session/v1/login-request") => {
            let sent: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if sent["data"]["PASSWORD"] == SNOWFLAKE_PASSWORD
                && sent["data"]["LOGIN_NAME"] == "snow_user"
            {
                reply(200, json!({"success": true, "data": {"token": "session"}}))
            } else {
                reply(
                    200,
                    json!({"success": false, "code": "390100", "message": "Incorrect username or password was specified."}),
                )
            }
        }
        _ => reply(404, json!({"error": "not found"})),
    }
}

/// Everything `/record/<name>/...` received (request line, headers, body), by name: a stand-in
/// for a host an attacker controls. It answers 503, so a caller keeps trying.
static RECORDED: std::sync::Mutex<Option<std::collections::HashMap<String, Vec<String>>>> =
    std::sync::Mutex::new(None);

/// The base URL of a fresh recorder, and a way to read what it received.
pub fn recorder() -> (String, impl Fn() -> Vec<String>) {
    let name = format!("r{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let url = format!("{}/record/{name}", base_url());
    (url, move || {
        RECORDED
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|r| r.get(&name).cloned())
            .unwrap_or_default()
    })
}

/// A small OAuth 2.0 token endpoint per test client (`/provider/<client>/token`): client
/// credentials and refresh tokens with rotation, a finite number of refreshes, a switch to
/// take it down, and counters, so tests can see exactly what reached the provider.
#[derive(Default)]
pub struct ProviderClient {
    pub expires_in: u64,
    /// Refreshes left before the provider answers invalid_grant.
    pub refreshes_left: usize,
    pub down: bool,
    /// How long the token endpoint takes to answer.
    pub delay_ms: u64,
    pub exchanges: usize,
    pub reused_refresh_tokens: usize,
    valid_refresh: std::collections::HashSet<String>,
    issued: usize,
    /// Authorization codes handed out: code -> (PKCE challenge, redirect URI).
    codes: std::collections::HashMap<String, (String, String)>,
}

/// Consent given at once: a code for the challenge, back to the redirect URI with the state.
fn authorize(
    client: &str,
    params: &std::collections::HashMap<String, String>,
) -> Response<Full<Bytes>> {
    let mut guard = PROVIDER.lock().unwrap();
    let Some(state) = guard.get_or_insert_with(Default::default).get_mut(client) else {
        return reply(400, json!({"error": "invalid_client"}));
    };
    let (Some(challenge), Some(redirect), Some(csrf)) = (
        params.get("code_challenge"),
        params.get("redirect_uri"),
        params.get("state"),
    ) else {
        return reply(400, json!({"error": "invalid_request"}));
    };
    if params.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": "PKCE S256 required"}),
        );
    }
    state.issued += 1;
    let code = format!("{client}-code-{}", state.issued);
    state
        .codes
        .insert(code.clone(), (challenge.clone(), redirect.clone()));
    let mut location = url::Url::parse(redirect).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", csrf);
    let mut resp = reply(302, json!({}));
    resp.headers_mut()
        .insert("location", location.as_str().parse().unwrap());
    resp
}

static PROVIDER: std::sync::Mutex<Option<std::collections::HashMap<String, ProviderClient>>> =
    std::sync::Mutex::new(None);

/// An OAuth 2.0 authorization-code credential of a registered `client`, connected with
/// `refresh_token`.
pub fn authorization_code(client: &str, token_url: &str, refresh_token: &str) -> Value {
    json!({"name": "oauth", "connector": "rest_api", "auth_type": "oauth2_authorization_code",
        "fields": {"authorize_url": format!("{token_url}/authorize"), "token_url": token_url, "client_id": client,
                   "client_secret": CLIENT.1, "refresh_token": refresh_token}})
}

/// An OAuth 2.0 client-credentials credential of a registered `client`: due at once.
pub fn client_credentials(client: &str, token_url: &str) -> Value {
    json!({"name": "api", "connector": "rest_api", "auth_type": "oauth2_client_credentials",
        "fields": {"token_url": token_url, "client_id": client, "client_secret": CLIENT.1}})
}

/// Registers `client` (secret `CLIENT.1`) whose tokens live `expires_in` seconds; returns the
/// token URL and an initial refresh token.
pub fn register_client(client: &str, expires_in: u64, refreshes: usize) -> (String, String) {
    let mut guard = PROVIDER.lock().unwrap();
    let clients = guard.get_or_insert_with(Default::default);
    let mut state = ProviderClient {
        expires_in,
        refreshes_left: refreshes,
        ..Default::default()
    };
    let initial = format!("{client}-rt-0");
    state.valid_refresh.insert(initial.clone());
    clients.insert(client.to_owned(), state);
    (format!("{}/provider/{client}/token", base_url()), initial)
}

pub fn with_client<T>(client: &str, f: impl FnOnce(&mut ProviderClient) -> T) -> T {
    let mut guard = PROVIDER.lock().unwrap();
    f(guard
        .get_or_insert_with(Default::default)
        .get_mut(client)
        .expect("registered client"))
}

fn form(raw: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

fn provider(path: &str, query: &str, auth: &str, body: &str) -> Response<Full<Bytes>> {
    let rest = path.trim_start_matches("/provider/");
    if let Some(client) = rest.strip_suffix("/authorize") {
        return authorize(client, &form(query));
    }
    let client = path
        .trim_start_matches("/provider/")
        .trim_end_matches("/token")
        .to_owned();
    let form = form(body);
    let mut guard = PROVIDER.lock().unwrap();
    let Some(state) = guard.get_or_insert_with(Default::default).get_mut(&client) else {
        return reply(400, json!({"error": "invalid_client"}));
    };
    if state.down {
        return reply(503, json!({"error": "temporarily_unavailable"}));
    }
    state.exchanges += 1;
    if auth != basic(&client, CLIENT.1) {
        return reply(401, json!({"error": "invalid_client"}));
    }
    state.issued += 1;
    let access = format!("{client}-at-{}", state.issued);
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => reply(
            200,
            json!({"access_token": access, "token_type": "bearer", "expires_in": state.expires_in}),
        ),
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect_uri)) = state.codes.remove(&code) else {
                return reply(400, json!({"error": "invalid_grant"}));
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect_uri) {
                return reply(
                    400,
                    json!({"error": "invalid_grant", "error_description": "PKCE or redirect_uri mismatch"}),
                );
            }
            let refresh = format!("{client}-rt-{}", state.issued);
            state.valid_refresh.insert(refresh.clone());
            reply(
                200,
                json!({"access_token": access, "token_type": "bearer", "expires_in": state.expires_in, "refresh_token": refresh}),
            )
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            if !state.valid_refresh.remove(&presented) {
                if presented.starts_with(&client) {
                    state.reused_refresh_tokens += 1;
                }
                return reply(400, json!({"error": "invalid_grant"}));
            }
            if state.refreshes_left == 0 {
                return reply(
                    400,
                    json!({"error": "invalid_grant", "error_description": "refresh limit reached"}),
                );
            }
            state.refreshes_left -= 1;
            let rotated = format!("{client}-rt-{}", state.issued);
            state.valid_refresh.insert(rotated.clone());
            reply(
                200,
                json!({"access_token": access, "token_type": "bearer", "expires_in": state.expires_in, "refresh_token": rotated}),
            )
        }
        _ => reply(400, json!({"error": "unsupported_grant_type"})),
    }
}
