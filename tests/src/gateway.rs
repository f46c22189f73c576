//! A local stand-in for API Gateway's HTTP API: checks an HS256 development JWT as the JWT
//! authorizer would, matches the template's routes, builds the same payload-v2 event, and runs
//! the function's handler through `lambda_http`'s own event conversion (the path `run` uses).

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::Service;
use lambda_http::{Adapter, Body, Context, LambdaEvent, Request, Response};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpListener;

use crate::jwks::{has_crit_header, IssuerVerifier};
use crate::openapi::Contract;
use crate::template::Route;

/// API Gateway refuses payloads over 10 MB before any function runs.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

pub type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, lambda_http::Error>> + Send>>;
/// A function's handler, as its `main` would hand it to `lambda_http::run`.
pub type Handler = Arc<dyn Fn(Request) -> HandlerFuture + Send + Sync>;

/// HS256 development tokens: what `make run` prints and what tests mint.
#[derive(Clone)]
pub struct DevJwt {
    secret: Vec<u8>,
}

impl DevJwt {
    pub fn new(secret: &str) -> Self {
        Self {
            secret: secret.as_bytes().to_vec(),
        }
    }

    pub fn from_env() -> Self {
        Self::new(
            &std::env::var("LATCHKEY_DEV_JWT_SECRET")
                .unwrap_or_else(|_| "latchkey-dev-secret".into()),
        )
    }

    pub fn mint(&self, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .expect("HS256 signing of a JSON object cannot fail")
    }

    /// A token for `sub` in `org_id` and `teams`, valid for `ttl_seconds` (negative: expired).
    pub fn token(&self, sub: &str, org_id: &str, teams: &[&str], ttl_seconds: i64) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.mint(&json!({ "sub": sub, "org_id": org_id, "teams": teams, "iat": now, "exp": now + ttl_seconds }))
    }

    /// The claims as API Gateway passes them to the function: every value a string, arrays
    /// flattened to `[a b]`. `None` is the authorizer's 401.
    /// Like API Gateway's JWT authorizer: `exp` is required, `nbf` is honoured, and a `crit`
    /// header (extensions the verifier must understand; it understands none) is refused.
    pub fn verify(&self, token: &str) -> Option<HashMap<String, String>> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Dev tokens need no iss/aud, but must expire.
        validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 0;
        if has_crit_header(token) {
            return None;
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .ok()?;
        Some(as_passed_on(data.claims))
    }
}

/// Claims as API Gateway passes them to the function: every value a string, arrays flattened
/// to `[a b]`.
fn as_passed_on(claims: Map<String, Value>) -> HashMap<String, String> {
    claims
        .into_iter()
        .map(|(k, v)| (k, flatten_claim(&v)))
        .collect()
}

fn flatten_claim(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(flatten_claim).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

pub struct Gateway {
    routes: Vec<Route>,
    handlers: BTreeMap<String, Handler>,
    jwt: DevJwt,
    access_log: bool,
    contract: Option<Arc<Contract>>,
    dev_sign_in: bool,
    issuer: Option<Arc<IssuerVerifier>>,
}

/// What matching a request against the routes gives.
struct Matched<'a> {
    route: &'a Route,
    params: BTreeMap<String, String>,
}

impl Gateway {
    /// `handlers` maps a function's logical id to its handler; every route must have one.
    pub fn new(
        routes: Vec<Route>,
        handlers: BTreeMap<String, Handler>,
        jwt: DevJwt,
    ) -> Result<Self, String> {
        if let Some(r) = routes.iter().find(|r| !handlers.contains_key(&r.function)) {
            return Err(format!(
                "route {} names {}, which has no local handler",
                r.key(),
                r.function
            ));
        }
        Ok(Self {
            routes,
            handlers,
            jwt,
            access_log: false,
            contract: None,
            dev_sign_in: false,
            issuer: None,
        })
    }

    /// Checks every answer against the OpenAPI document: one the document does not allow
    /// becomes a 500 `contract_violation` saying why, so the test that provoked it fails.
    pub fn with_contract(mut self, contract: Contract) -> Self {
        self.contract = Some(Arc::new(contract));
        self
    }

    /// The console's development sign-in, `make run` only: `GET /dev/token` says it is offered,
    /// `POST /dev/token` with `{"sub", "org_id", "teams"}` mints a development token for anyone.
    /// It is not a route of the template, so no deployed stack can have it.
    pub fn with_dev_sign_in(mut self) -> Self {
        self.dev_sign_in = true;
        self
    }

    /// Also accepts the tokens of an OpenID Connect issuer, as the JWT authorizer does in a
    /// deployed stack (development tokens stay accepted beside them).
    pub fn with_issuer(mut self, issuer: IssuerVerifier) -> Self {
        self.issuer = Some(Arc::new(issuer));
        self
    }

    /// The claims of a bearer token the authorizer accepts, as it passes them on.
    async fn claims(&self, token: &str) -> Option<HashMap<String, String>> {
        if let Some(claims) = self.jwt.verify(token) {
            return Some(claims);
        }
        let claims = self.issuer.as_ref()?.verify(token).await?;
        Some(as_passed_on(claims))
    }

    pub fn with_access_log(mut self) -> Self {
        self.access_log = true;
        self
    }

    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        serve_http(listener, move |req| {
            let gateway = self.clone();
            async move { gateway.handle(req).await }
        })
        .await
    }

    async fn handle(&self, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let started = std::time::Instant::now();
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let response = self.dispatch(req).await;
        if self.access_log {
            println!(
                "{method} {path} -> {} ({} ms)",
                response.status().as_u16(),
                started.elapsed().as_millis()
            );
        }
        response
    }

    async fn dispatch(&self, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        if self.dev_sign_in && parts.uri.path() == DEV_SIGN_IN {
            return self.dev_sign_in(&parts.method, body).await;
        }
        let Some(matched) = matching(&self.routes, parts.method.as_str(), parts.uri.path()) else {
            return gateway_reply(404, "Not Found");
        };
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let claims = match token {
            Some(t) => self.claims(t.trim()).await,
            None => None,
        };
        let claims = match claims {
            Some(claims) => Some(claims),
            None if matched.route.public => None,
            None => return gateway_reply(401, "Unauthorized"),
        };
        let body = match Limited::new(body, GATEWAY_MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return gateway_reply(413, "Request Entity Too Large"),
        };
        let event = api_gateway_v2_event(&parts, &body, &matched, claims.as_ref());
        let handler = self.handlers[&matched.route.function].clone();
        let response = match invoke(handler, event).await {
            Ok(resp) => resp,
            Err(e) => {
                eprintln!("function {} failed: {e}", matched.route.function);
                return gateway_reply(500, "Internal Server Error");
            }
        };
        match &self.contract {
            Some(contract) => check_contract(contract, matched.route, response).await,
            None => response,
        }
    }
}

const DEV_SIGN_IN: &str = "/dev/token";
/// How long a development sign-in lasts.
const DEV_SESSION_SECONDS: i64 = 12 * 3600;

impl Gateway {
    async fn dev_sign_in(
        &self,
        method: &hyper::Method,
        body: Incoming,
    ) -> hyper::Response<Full<Bytes>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Who {
            sub: String,
            org_id: String,
            #[serde(default)]
            teams: Vec<String>,
        }
        let name_ok = |s: &str| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
        };
        match *method {
            hyper::Method::GET => json_reply(200, &json!({ "dev_sign_in": true })),
            hyper::Method::POST => {
                let Ok(body) = Limited::new(body, 4096).collect().await else {
                    return gateway_reply(413, "Request Entity Too Large");
                };
                match serde_json::from_slice::<Who>(&body.to_bytes()) {
                    Ok(who)
                        if name_ok(&who.sub)
                            && name_ok(&who.org_id)
                            && who.teams.len() <= 20
                            && who.teams.iter().all(|t| name_ok(t)) =>
                    {
                        let teams: Vec<&str> = who.teams.iter().map(String::as_str).collect();
                        let token =
                            self.jwt
                                .token(&who.sub, &who.org_id, &teams, DEV_SESSION_SECONDS);
                        json_reply(
                            200,
                            &json!({ "token": token, "expires_in": DEV_SESSION_SECONDS }),
                        )
                    }
                    _ => json_reply(
                        400,
                        &json!({ "error": { "code": "invalid_body", "message": "give a user, an organisation and teams: letters, digits and . _ @ - only, 64 at most each" } }),
                    ),
                }
            }
            _ => gateway_reply(405, "Method Not Allowed"),
        }
    }
}

async fn check_contract(
    contract: &Contract,
    route: &Route,
    response: hyper::Response<Full<Bytes>>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match contract.violation(&route.method, &route.path, parts.status.as_u16(), &bytes) {
        None => hyper::Response::from_parts(parts, Full::new(bytes)),
        Some(why) => {
            eprintln!("contract violation: {why}");
            let mut resp = gateway_reply(500, "contract violation");
            *resp.body_mut() = Full::new(Bytes::from(
                json!({ "error": { "code": "contract_violation", "message": why } }).to_string(),
            ));
            resp
        }
    }
}

/// Serves HTTP/1 on `listener`, each request answered by `handle`, until the task is dropped:
/// the local API, the bench's Runtime API and proxy, the tests' stand-in servers. A client
/// hanging up mid-request is its business, not an error of ours.
pub async fn serve_http<H, F>(listener: TcpListener, handle: H)
where
    H: Fn(hyper::Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handle(req);
                async move { Ok::<_, std::convert::Infallible>(answer.await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// API Gateway's choice: among routes of the method whose segments fit, the one with the most
/// literal segments, earliest first; a greedy `{name+}` (the rest of the path, one segment or
/// more) only when no route fits exactly.
fn matching<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<Matched<'a>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    routes
        .iter()
        .filter(|r| r.method == method)
        .filter_map(|route| {
            let pattern: Vec<&str> = route.path.trim_matches('/').split('/').collect();
            let greedy = pattern
                .last()
                .and_then(|p| p.strip_prefix('{'))
                .and_then(|p| p.strip_suffix("+}"));
            let fixed = if greedy.is_some() {
                &pattern[..pattern.len() - 1]
            } else {
                &pattern[..]
            };
            let fits = match greedy {
                Some(_) => segments.len() > fixed.len(),
                None => segments.len() == fixed.len(),
            };
            if !fits {
                return None;
            }
            let mut params = BTreeMap::new();
            let mut score = vec![u8::from(greedy.is_none())];
            for (p, s) in fixed.iter().zip(&segments) {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    if s.is_empty() {
                        return None;
                    }
                    params.insert(name.to_owned(), percent_decode(s));
                    score.push(0);
                } else if p == s {
                    score.push(1);
                } else {
                    return None;
                }
            }
            if let Some(name) = greedy {
                let rest = segments[fixed.len()..].join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(name.to_owned(), percent_decode(&rest));
            }
            Some((score, Matched { route, params }))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, m)| m)
}

/// The payload-v2 event API Gateway would send for `request` once its authorizer accepted
/// `claims`, and the logical id of the function the route names; `None` when no route matches.
/// The benchmarks drive the built function binaries with it.
pub fn event_for(
    routes: &[Route],
    request: hyper::Request<Bytes>,
    claims: Option<&HashMap<String, String>>,
) -> Option<(String, Value)> {
    let (parts, body) = request.into_parts();
    let matched = matching(routes, parts.method.as_str(), parts.uri.path())?;
    let event = api_gateway_v2_event(&parts, &body, &matched, claims);
    Some((matched.route.function.clone(), event))
}

fn gateway_reply(status: u16, message: &str) -> hyper::Response<Full<Bytes>> {
    json_reply(status, &json!({ "message": message }))
}

fn json_reply(status: u16, body: &Value) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The payload-format-2.0 event API Gateway sends for this request.
fn api_gateway_v2_event(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    matched: &Matched<'_>,
    claims: Option<&HashMap<String, String>>,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (
            percent_decode(&k.replace('+', " ")),
            percent_decode(&v.replace('+', " ")),
        );
        query
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => {
            use base64::Engine;
            (base64::engine::general_purpose::STANDARD.encode(body), true)
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let route_key = matched.route.key();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { json!(query) },
        "pathParameters": if matched.params.is_empty() { Value::Null } else { json!(matched.params) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000,
            "authorizer": claims.map(|c| json!({ "jwt": { "claims": c, "scopes": null } })),
        },
        "body": if body.is_empty() { Value::Null } else { Value::String(body) },
        "isBase64Encoded": base64,
    })
}

/// Runs the handler exactly as `lambda_http::run` would: event JSON -> `LambdaRequest` ->
/// `Request` -> handler -> `LambdaResponse` JSON, then answers as API Gateway does from it.
pub async fn invoke(
    handler: Handler,
    event: Value,
) -> Result<hyper::Response<Full<Bytes>>, lambda_http::Error> {
    let request: LambdaRequest = serde_json::from_value(event)?;
    let mut adapter = Adapter::from(lambda_http::service_fn(move |req: Request| handler(req)));
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await?;
    let response = serde_json::to_value(&response)?;

    let status = response["statusCode"].as_u64().unwrap_or(500) as u16;
    let body = match (
        response["body"].as_str(),
        response["isBase64Encoded"].as_bool(),
    ) {
        (Some(b), Some(true)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b)?
        }
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status)?;
    for (name, value) in response["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(hyper::header::HeaderValue::from_str),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    Ok(resp)
}
