//! The OAuth function: connect an authorization-code credential, or re-authenticate one that
//! needs it. `GET /credentials/{id}/oauth/authorize` (admin) redirects the person to the
//! provider with a one-time `state` and a PKCE challenge; the provider sends them back to
//! `GET /oauth/callback`, which exchanges the code, stores the tokens and redirects on to the
//! configured page.

use lambda_http::http::header::{CACHE_CONTROL, LOCATION};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use latchkey_shared::api::{AuthorizationRedirect, ConnectOutcome};
use latchkey_shared::authz::{authorize, Action};
use latchkey_shared::config::Config;
use latchkey_shared::domain::{Caller, CredentialId};
use latchkey_shared::error::ApiError;
use latchkey_shared::handler::{load_for, refuse_deleted};
use latchkey_shared::http::{self, json_response, query_param, respond};
use latchkey_shared::ports::{Ports, SecretStore};
use latchkey_shared::refresh::{store_tokens, NewTokens, TokenSource};
use latchkey_shared::store::OAuthPending;
use latchkey_shared::testers::{Target, Testers};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A digest of what a connect depends on: the auth type and where the person and the code go.
fn connects_to(record: &latchkey_shared::record::CredentialRecord) -> String {
    use sha2::{Digest, Sha256};
    let field = |name: &str| record.fields.get(name).cloned().unwrap_or(Value::Null);
    let parts = json!([
        record.auth_type,
        field("authorize_url"),
        field("token_url"),
        field("client_id")
    ]);
    format!("{:x}", Sha256::digest(parts.to_string()))
}

pub struct Service {
    ports: Ports,
    secrets: Arc<dyn SecretStore>,
    testers: Testers,
    redirect_uri: Option<String>,
    done_url: String,
    margin: Option<Duration>,
}

fn redirect(location: &str, body: &impl serde::Serialize) -> Result<Response<Body>, ApiError> {
    let mut resp = json_response(302, body);
    *resp.status_mut() = StatusCode::FOUND;
    let headers = resp.headers_mut();
    headers.insert(
        LOCATION,
        HeaderValue::from_str(location).map_err(ApiError::internal)?,
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

impl Service {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        Self::with_ports(
            latchkey_shared::aws::ports(aws, config),
            latchkey_shared::aws::secrets(aws, config),
            config,
        )
    }

    pub fn with_ports(ports: Ports, secrets: Arc<dyn SecretStore>, config: &Config) -> Self {
        Self {
            ports,
            secrets,
            testers: Testers::from_config(config),
            redirect_uri: config.oauth_redirect_uri.clone(),
            done_url: config.oauth_done_url.clone(),
            margin: config.refresh_margin,
        }
    }

    /// Answers every request with a response; only a broken runtime is an `Err`.
    pub async fn handle(&self, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        Ok(respond(self.route(&req).await))
    }

    #[tracing::instrument(skip_all, fields(route = http::route_key(req)))]
    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match http::route_key(req) {
            "GET /credentials/{id}/oauth/authorize" => {
                start_connect(self, &http::caller(req)?, req).await
            }
            // The provider sends the person's browser here: no token, the state is the proof.
            "GET /oauth/callback" => callback(self, req).await,
            other => Err(ApiError::route_not_found(other)),
        }
    }

    fn redirect_uri(&self) -> Result<&str, ApiError> {
        self.redirect_uri.as_deref().ok_or_else(|| {
            ApiError::unprocessable(
                "oauth_not_configured",
                "this deployment has no LATCHKEY_OAUTH_REDIRECT_URI",
            )
        })
    }

    fn done(
        &self,
        id: Option<&CredentialId>,
        outcome: (&str, &str),
    ) -> Result<Response<Body>, ApiError> {
        let location = done_location(&self.done_url, id, outcome);
        let (key, value) = outcome;
        let body = ConnectOutcome {
            result: (key == "result").then(|| value.to_owned()),
            error: (key == "error").then(|| value.to_owned()),
        };
        redirect(&location, &body)
    }
}

#[utoipa::path(
    get, path = "/credentials/{id}/oauth/authorize", tag = "oauth", operation_id = "authorizeCredential",
    params(
        ("id" = CredentialId, Path),
        ("Accept" = Option<String>, Header, description = "`application/json`: answer 200 with the URL instead of redirecting."),
    ),
    responses(
        (status = 200, description = "With `Accept: application/json` (a script, such as the console, that opens the page itself): the provider's authorization URL.", body = AuthorizationRedirect, headers(("Cache-Control" = String))),
        (status = 302, description = "To the provider's authorization page (PKCE, a one-time state bound to the caller).", body = AuthorizationRedirect, headers(("Location" = String, description = "The provider's authorization URL."))),
        (status = 410, description = "credential_deleted"),
        (status = 422, description = "not_oauth, missing_field, oauth_not_configured"),
    )
)]
/// Starts connecting (or re-authenticating) an OAuth 2.0 authorization-code credential: sends
/// the person's browser to the provider.
async fn start_connect(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, _) = load_for(&*svc.ports.store, req, caller, Action::Connect).await?;
    refuse_deleted(&record)?;
    if record.auth_type != "oauth2_authorization_code" {
        return Err(ApiError::unprocessable(
            "not_oauth",
            "only OAuth 2.0 authorization-code credentials connect through the provider",
        ));
    }
    let authorize_url = record
        .fields
        .get("authorize_url")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::unprocessable("missing_field", "the credential has no authorize_url")
        })?;
    let client = BasicClient::new(ClientId::new(
        record
            .fields
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    ))
    .set_auth_uri(AuthUrl::new(authorize_url.to_owned()).map_err(ApiError::internal)?)
    .set_redirect_uri(
        RedirectUrl::new(svc.redirect_uri()?.to_owned()).map_err(ApiError::internal)?,
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let scopes: Vec<Scope> = record
        .fields
        .get("scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(|s| Scope::new(s.to_owned())))
        .collect();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes)
        .set_pkce_challenge(challenge)
        // Providers issue a refresh token only on explicit consent (offline access).
        .add_extra_param("prompt", "consent")
        .url();
    let pending = OAuthPending {
        credential_id: record.id.clone(),
        pkce_verifier: verifier.secret().to_owned(),
        actor: caller.as_actor(),
        initiator: caller.clone(),
        connects_to: connects_to(&record),
        expires_at: svc.ports.now() + time::Duration::minutes(10),
    };
    svc.ports
        .store
        .put_oauth_state(state.secret(), &pending)
        .await?;
    tracing::info!(credential_id = %record.id, "authorization started");
    let body = AuthorizationRedirect {
        authorization_url: url.to_string(),
    };
    if wants_json(req) {
        let mut resp = json_response(200, &body);
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(resp);
    }
    redirect(url.as_str(), &body)
}

/// Where the callback sends the person: `done_url` with `credential_id` and the outcome added to
/// its query. A relative `done_url` (the default `../console/connected`) stays relative, for the
/// browser to resolve against the callback's own URL, so it keeps a stage prefix or base path.
fn done_location(done_url: &str, id: Option<&CredentialId>, outcome: (&str, &str)) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(id) = id {
        query.append_pair("credential_id", id.as_str());
    }
    query.append_pair(outcome.0, outcome.1);
    let query = query.finish();
    match url::Url::parse(done_url) {
        Ok(mut url) => {
            let query = match url.query() {
                Some(own) if !own.is_empty() => format!("{own}&{query}"),
                _ => query,
            };
            url.set_query(Some(&query));
            url.to_string()
        }
        Err(_) => {
            let separator = if done_url.contains('?') { '&' } else { '?' };
            format!("{done_url}{separator}{query}")
        }
    }
}

/// A script asked (`Accept: application/json`), rather than a browser following a link.
fn wants_json(req: &Request) -> bool {
    req.headers()
        .get_all(lambda_http::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        })
}

#[utoipa::path(
    get, path = "/oauth/callback", tag = "oauth", operation_id = "oauthCallback",
    security(()),
    params(
        ("state" = Option<String>, Query, description = "The one-time state from the authorize step."),
        ("code" = Option<String>, Query, description = "The provider's authorization code."),
        ("error" = Option<String>, Query, description = "The provider's error, when the person declined."),
    ),
    responses(
        (status = 302, description = "Back to the console with `result=connected` or `error=<code>` in the query.", body = ConnectOutcome, headers(("Location" = String, description = "The console's page for the outcome."))),
        (status = 400, description = "invalid_state, missing_code"),
        (status = 422, description = "oauth_not_configured"),
    )
)]
/// Where the provider sends the person back: exchanges the code, stores the tokens, and sends
/// the browser on to the console with the outcome.
async fn callback(svc: &Service, req: &Request) -> Result<Response<Body>, ApiError> {
    let state = query_param(req, "state")
        .ok_or_else(|| ApiError::bad_request("invalid_state", "the callback has no state"))?;
    let pending = svc.ports.store.take_oauth_state(&state).await?;
    // A state works once, and not after it expired.
    let Some(pending) = pending.filter(|p| p.expires_at > svc.ports.now()) else {
        return Err(ApiError::bad_request(
            "invalid_state",
            "this authorization is unknown, used or older than ten minutes; start again",
        ));
    };
    let id = pending.credential_id.clone();
    if let Some(error) = query_param(req, "error") {
        // The provider's own code (access_denied, ...), passed on as data, not as text.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return svc.done(Some(&id), ("error", &code));
    }
    let code = query_param(req, "code")
        .ok_or_else(|| ApiError::bad_request("missing_code", "the provider sent no code"))?;
    let Some(record) = svc.ports.store.get(&id).await? else {
        return svc.done(Some(&id), ("error", "credential_gone"));
    };
    if record.is_deleted() {
        return svc.done(Some(&id), ("error", "credential_gone"));
    }
    // Bound to who started it and to where it was going: nothing is exchanged or stored
    // for someone who lost the right to connect, or towards endpoints changed since.
    if authorize(
        &record.acl,
        &record.org_id,
        &pending.initiator,
        Action::Connect,
    )
    .is_err()
    {
        tracing::info!(credential_id = %id, "connect refused: the initiator may no longer connect");
        return svc.done(Some(&id), ("error", "initiator_lost_access"));
    }
    if connects_to(&record) != pending.connects_to {
        tracing::info!(credential_id = %id, "connect refused: the credential changed since the authorize step");
        return svc.done(Some(&id), ("error", "credential_changed"));
    }
    let secrets = svc
        .secrets
        .read(record.secret_owner(), &record.secret_version)
        .await?;
    let target = Target::of(&record, &secrets);
    let tokens = match svc
        .testers
        .exchange_code(&target, &code, &pending.pkce_verifier, svc.redirect_uri()?)
        .await
    {
        Ok(t) => t,
        Err(observation) => {
            tracing::info!(credential_id = %id, code = %observation.code, "code exchange failed");
            return svc.done(Some(&id), ("error", &observation.code));
        }
    };
    let new = NewTokens {
        record: &record,
        secrets,
        tokens,
        source: TokenSource::Connect,
        actor: &pending.actor,
        margin: svc.margin,
    };
    let stored = store_tokens(&svc.ports, &*svc.secrets, new).await?;
    match stored {
        Some(_) => svc.done(Some(&id), ("result", "connected")),
        None => svc.done(Some(&id), ("error", "credential_changed")),
    }
}

/// This function's part of the OpenAPI document ([`latchkey_shared::openapi::document`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(start_connect, callback))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[cfg(test)]
mod tests;
