//! REST APIs: a request to the validation URL with the credential's auth applied.
//! 2xx is valid, 401/403 invalid, anything else inconclusive.

use oauth2::basic::BasicClient;
use oauth2::basic::BasicErrorResponseType;
use oauth2::{
    AuthorizationCode, ClientId, ClientSecret, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use reqwest::dns::{Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{accepted, guard_observation, missing, rejected, unreachable, Target, Testers};
use crate::guard::{GuardError, OutboundGuard};
use crate::status::Observation;

const MAX_REDIRECTS: usize = 5;

/// Every name reqwest connects to is resolved here, through the guard.
struct GuardedResolver(Arc<OutboundGuard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter())
                as Box<dyn Iterator<Item = std::net::SocketAddr> + Send>)
        })
    }
}

fn ip_host(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// An HTTP client whose every connection passes the guard: names through the resolver, IP
/// literals (which skip resolution) through [`Testers::check_url`]. It follows no redirect and
/// sends no `Referer`: reqwest would carry custom headers, an API-key header, a re-POSTed form
/// (307/308) and a Referer holding `?api_key=` to whatever host a redirect names;
/// [`send_following_same_origin`] follows only what stays on the origin the user chose.
pub fn guarded_client(guard: Arc<OutboundGuard>, timeout: Duration) -> reqwest::Client {
    super::http_client()
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        .redirect(Policy::none())
        .referer(false)
        .no_proxy()
        .timeout(timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with a resolver and a redirect policy always builds")
}

/// Sends `request`, following redirects (at most [`MAX_REDIRECTS`]) only while they stay on the
/// request's origin: a redirect to another origin (another host, port or scheme) is refused, as
/// it would carry the credentials somewhere nobody chose. A 303, or a 301/302 of anything but
/// GET and HEAD, continues as a GET without a body, as browsers do.
async fn send_following_same_origin(
    t: &Testers,
    request: reqwest::Request,
    what: &str,
) -> Result<reqwest::Response, Observation> {
    let mut request = request;
    for _ in 0..=MAX_REDIRECTS {
        let again = request.try_clone();
        let method = request.method().clone();
        let resp = t
            .http
            .execute(request)
            .await
            .map_err(|e| request_failure(what, &e))?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok());
        let (true, Some(location)) = (status.is_redirection(), location) else {
            return Ok(resp);
        };
        let target = resp.url().join(location).map_err(|_| {
            unreachable(
                "redirect_refused",
                format!("{what} redirects to an address that does not parse"),
            )
        })?;
        t.check_url(target.as_str())?;
        if target.origin() != resp.url().origin() {
            return Err(redirect_refused(what, &target));
        }
        let Some(mut next) = again else {
            return Err(redirect_refused(what, &target));
        };
        let to_get = status == reqwest::StatusCode::SEE_OTHER
            || (matches!(status.as_u16(), 301 | 302)
                && !matches!(method, reqwest::Method::GET | reqwest::Method::HEAD));
        if to_get {
            *next.method_mut() = reqwest::Method::GET;
            *next.body_mut() = None;
            next.headers_mut().remove(reqwest::header::CONTENT_TYPE);
            next.headers_mut().remove(reqwest::header::CONTENT_LENGTH);
        }
        *next.url_mut() = target;
        request = next;
    }
    Err(unreachable(
        "too_many_redirects",
        format!("{what} redirected more than {MAX_REDIRECTS} times"),
    ))
}

/// Names only the origin a redirect points at: its path and query may hold what we sent.
fn redirect_refused(what: &str, target: &url::Url) -> Observation {
    unreachable(
        "redirect_refused",
        format!(
            "{what} redirects to {}; credentials are never sent on to another origin, so set the URL to the address it redirects to",
            target.origin().ascii_serialization()
        ),
    )
}

impl Testers {
    /// Checks a URL before any request: IP literals here, names when they are resolved.
    pub(super) fn check_url(&self, raw: &str) -> Result<url::Url, Observation> {
        let url = url::Url::parse(raw)
            .map_err(|_| unreachable("invalid_url", "the URL does not parse"))?;
        if let Some(ip) = ip_host(&url) {
            self.guard
                .check(url.host_str().unwrap_or_default(), ip)
                .map_err(guard_observation)?;
        }
        Ok(url)
    }
}

/// Why a request failed, in words and a code: a guard refusal, a timeout, or no connection.
pub(super) fn request_failure(what: &str, e: &reqwest::Error) -> Observation {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(guard) = err.downcast_ref::<GuardError>() {
            return guard_observation(guard.clone());
        }
        source = err.source();
    }
    if e.is_timeout() {
        unreachable("timeout", format!("{what} did not answer in time"))
    } else {
        unreachable(
            "connection_failed",
            format!("could not reach {what}; check the URL and that the service is up"),
        )
    }
}

pub async fn test(t: &Testers, target: &Target<'_>) -> Observation {
    let Some(raw) = target.text("validation_url") else {
        return unreachable(
            "not_testable",
            "set validation_url to a cheap endpoint (user info, metadata, one record) to test this credential",
        );
    };
    let url = match t.check_url(raw) {
        Ok(u) => u,
        Err(o) => return o,
    };
    let method = target.text("validation_method").unwrap_or("GET");
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = t.http.request(method, url);
    for (name, value) in target
        .fields
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(v) = value.as_str() {
            request = request.header(name, v);
        }
    }
    request = match target.auth_type {
        "none" => request,
        "basic" => match (target.text("username"), target.secret("password")) {
            (Some(user), Some(pass)) => request.basic_auth(user, Some(pass)),
            _ => return missing("username and password"),
        },
        "api_key" => {
            let Some(key) = target.secret("api_key") else { return missing("api_key") };
            let name = target.text("api_key_name").unwrap_or("X-API-Key");
            match target.text("api_key_in") {
                Some("query") => request.query(&[(name, key)]),
                _ => request.header(name, key),
            }
        }
        "bearer" => match target.secret("token") {
            Some(token) => request.bearer_auth(token),
            None => return missing("token"),
        },
                "token_url" => match fetch_token(t, target).await {
            Ok(grant) => request.bearer_auth(grant.access_token.expose_secret()),
            Err(o) => return o,
        },
        "oauth2_client_credentials" => match client_credentials(t, target).await {
            Ok(grant) => request.bearer_auth(grant.access_token.expose_secret()),
            Err(o) => return o,
        },
        "oauth2_authorization_code" => match target.secret("access_token") {
            Some(token) => request.bearer_auth(token),
            None => {
                return rejected(
                    "not_connected",
                    "no access token yet: connect the credential through GET /credentials/{id}/oauth/authorize",
                )
            }
        },
        other => return unreachable("not_testable", format!("auth type {other} has no tester")),
    };
    let request = match request.build() {
        Ok(r) => r,
        Err(e) => return request_failure("the validation URL", &e),
    };
    match send_following_same_origin(t, request, "the validation URL").await {
        Ok(resp) => classify_status(resp.status().as_u16(), "the validation URL"),
        Err(o) => o,
    }
}

fn classify_status(status: u16, what: &str) -> Observation {
    match status {
        200..=299 => accepted(format!("{what} accepted the credentials ({status})")),
        401 | 403 => rejected(
            "auth_rejected",
            format!("{what} rejected the credentials ({status}); check them and try again"),
        ),
        _ => unreachable(
            "unexpected_status",
            format!("{what} answered {status}, which says nothing about the credentials"),
        ),
    }
}

/// Token URL auth: a client-credentials style POST (client id and secret as HTTP Basic) or,
/// without a client id, the resource-owner form with username and password. The token is
/// `access_token` (or `token`) of the JSON answer.
async fn fetch_token(t: &Testers, target: &Target<'_>) -> Result<Grant, Observation> {
    let raw = target
        .text("token_url")
        .ok_or_else(|| missing("token_url"))?;
    let url = t.check_url(raw)?;
    let scopes = scopes(target).join(" ");
    let mut form: Vec<(&str, &str)> = Vec::new();
    let mut request = t.http.post(url);
    if let Some(id) = target.text("client_id") {
        form.push(("grant_type", "client_credentials"));
        request = request.basic_auth(id, target.secret("client_secret"));
    } else {
        form.push(("grant_type", "password"));
        form.push(("username", target.text("username").unwrap_or_default()));
        form.push(("password", target.secret("password").unwrap_or_default()));
    }
    if !scopes.is_empty() {
        form.push(("scope", &scopes));
    }
    let resp = request
        .form(&form)
        .send()
        .await
        .map_err(|e| request_failure("the token URL", &e))?;
    let status = resp.status().as_u16();
    match status {
        200..=299 => {}
        300..=399 => {
            return Err(unreachable(
                "redirect_refused",
                "the token URL redirects; a token request (with its secrets) is never sent on: set the token URL to where it redirects",
            ))
        }
        400 | 401 | 403 => {
            return Err(rejected(
                "token_rejected",
                format!("the token URL refused the credentials ({status})"),
            ))
        }
        _ => {
            return Err(unreachable(
                "unexpected_status",
                format!("the token URL answered {status}"),
            ))
        }
    }
    let body: Value = resp.json().await.map_err(|_| {
        unreachable(
            "invalid_token_response",
            "the token URL did not answer with JSON",
        )
    })?;
    let access = body
        .get("access_token")
        .or_else(|| body.get("token"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            unreachable(
                "invalid_token_response",
                "the token URL's answer has no access_token",
            )
        })?;
    Ok(Grant {
        access_token: SecretString::from(access.to_owned()),
        refresh_token: None,
        expires_in: body
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs),
    })
}

/// Tokens from a token endpoint. Secrets stay wrapped until they are stored or sent.
pub struct Grant {
    pub access_token: SecretString,
    /// A new refresh token, when the provider rotates them.
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
}

impl Testers {
    /// A fresh access token for a token URL or OAuth 2.0 credential: client credentials and
    /// token URL fetch a new one; the authorization-code flow spends its refresh token.
    /// `refresh_exhausted` means the provider no longer accepts the refresh token.
    pub async fn acquire_token(&self, target: &Target<'_>) -> Result<Grant, Observation> {
        match target.auth_type {
            "token_url" => fetch_token(self, target).await,
            "oauth2_client_credentials" => client_credentials(self, target).await,
            "oauth2_authorization_code" => refresh_grant(self, target).await,
            other => Err(unreachable(
                "not_refreshable",
                format!("auth type {other} has no tokens to refresh"),
            )),
        }
    }
}

/// OAuth 2.0 refresh token grant (RFC 6749 §6) against the refresh token URL (or token URL).
async fn refresh_grant(t: &Testers, target: &Target<'_>) -> Result<Grant, Observation> {
    let Some(refresh_token) = target.secret("refresh_token") else {
        return Err(rejected(
            "refresh_exhausted",
            "there is no refresh token; connect the credential through GET /credentials/{id}/oauth/authorize",
        ));
    };
    let raw = target
        .text("refresh_token_url")
        .or_else(|| target.text("token_url"))
        .ok_or_else(|| missing("token_url"))?;
    t.check_url(raw)?;
    let token_url = TokenUrl::new(raw.to_owned())
        .map_err(|_| unreachable("invalid_url", "the token URL does not parse"))?;
    let mut client = BasicClient::new(ClientId::new(
        target.text("client_id").unwrap_or_default().to_owned(),
    ))
    .set_token_uri(token_url);
    if let Some(secret) = target.secret("client_secret") {
        client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
    }
    let result = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
        .request_async(&t.http)
        .await;
    match result {
        Ok(token) => Ok(Grant {
            access_token: SecretString::from(token.access_token().secret().to_owned()),
            refresh_token: token.refresh_token().map(|r| SecretString::from(r.secret().to_owned())),
            expires_in: token.expires_in(),
        }),
        Err(RequestTokenError::ServerResponse(e)) if *e.error() == BasicErrorResponseType::InvalidGrant => Err(rejected(
            "refresh_exhausted",
            "the provider no longer accepts the refresh token (expired, revoked or used up); an admin must re-authenticate through GET /credentials/{id}/oauth/authorize",
        )),
        Err(e) => Err(token_failure(e)),
    }
}

fn token_failure(
    e: RequestTokenError<
        oauth2::HttpClientError<reqwest::Error>,
        oauth2::basic::BasicErrorResponse,
    >,
) -> Observation {
    match e {
        // Only these say the credentials themselves were refused (RFC 6749 §5.2); anything
        // else (temporarily_unavailable, server_error) is the provider's trouble, not ours.
        RequestTokenError::ServerResponse(e)
            if matches!(
                e.error(),
                BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient
                    | BasicErrorResponseType::InvalidGrant
                    | BasicErrorResponseType::InvalidScope
            ) =>
        {
            rejected(
                "token_rejected",
                format!(
                    "the token endpoint refused the client credentials ({})",
                    e.error()
                ),
            )
        }
        RequestTokenError::ServerResponse(e) => unreachable(
            "provider_unavailable",
            format!(
                "the token endpoint could not issue a token now ({})",
                e.error()
            ),
        ),
        RequestTokenError::Request(oauth2::HttpClientError::Reqwest(inner)) => {
            request_failure("the token endpoint", &inner)
        }
        RequestTokenError::Request(_) => {
            unreachable("connection_failed", "could not reach the token endpoint")
        }
        _ => unreachable(
            "invalid_token_response",
            "the token endpoint's answer could not be read",
        ),
    }
}

fn scopes(target: &Target<'_>) -> Vec<String> {
    target
        .fields
        .get("scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// OAuth 2.0 client credentials grant (RFC 6749 §4.4) with the `oauth2` crate.
async fn client_credentials(t: &Testers, target: &Target<'_>) -> Result<Grant, Observation> {
    let raw = target
        .text("token_url")
        .ok_or_else(|| missing("token_url"))?;
    t.check_url(raw)?;
    let token_url = TokenUrl::new(raw.to_owned())
        .map_err(|_| unreachable("invalid_url", "token_url does not parse"))?;
    let client = BasicClient::new(ClientId::new(
        target.text("client_id").unwrap_or_default().to_owned(),
    ))
    .set_client_secret(ClientSecret::new(
        target
            .secret("client_secret")
            .unwrap_or_default()
            .to_owned(),
    ))
    .set_token_uri(token_url);
    let result = client
        .exchange_client_credentials()
        .add_scopes(scopes(target).into_iter().map(Scope::new))
        .request_async(&t.http)
        .await;
    match result {
        Ok(token) => Ok(Grant {
            access_token: SecretString::from(token.access_token().secret().to_owned()),
            refresh_token: None,
            expires_in: token.expires_in(),
        }),
        Err(e) => Err(token_failure(e)),
    }
}

impl Testers {
    /// OAuth 2.0 authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636): the code the
    /// provider sent back to the callback, for tokens.
    pub async fn exchange_code(
        &self,
        target: &Target<'_>,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Grant, Observation> {
        let raw = target
            .text("token_url")
            .ok_or_else(|| missing("token_url"))?;
        self.check_url(raw)?;
        let token_url = TokenUrl::new(raw.to_owned())
            .map_err(|_| unreachable("invalid_url", "the token URL does not parse"))?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| unreachable("invalid_url", "the redirect URI does not parse"))?;
        let mut client = BasicClient::new(ClientId::new(
            target.text("client_id").unwrap_or_default().to_owned(),
        ))
        .set_token_uri(token_url)
        .set_redirect_uri(redirect);
        if let Some(secret) = target.secret("client_secret") {
            client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
        }
        let result = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await;
        match result {
            Ok(token) => Ok(Grant {
                access_token: SecretString::from(token.access_token().secret().to_owned()),
                refresh_token: token
                    .refresh_token()
                    .map(|r| SecretString::from(r.secret().to_owned())),
                expires_in: token.expires_in(),
            }),
            Err(e) => Err(token_failure(e)),
        }
    }
}
