//! OAuth 2.0 and token-URL token flows: fetch a token (token URL, client credentials), spend a
//! refresh token, exchange an authorization code. Every request goes through the guarded HTTP
//! client; secrets stay wrapped until they are stored or sent.

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::SecretString;
use serde_json::Value;
use std::time::Duration;

use crate::outbound::{request_failure, GuardedHttp};
use crate::status::{missing, rejected, unreachable, Observation};
use crate::target::Target;

/// Tokens from a token endpoint (not an ACL grant). Secrets stay wrapped until they are stored
/// or sent.
pub struct Tokens {
    pub access_token: SecretString,
    /// A new refresh token, when the provider rotates them.
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
}

/// A fresh access token for a token URL or OAuth 2.0 credential: client credentials and token
/// URL fetch a new one; the authorization-code flow spends its refresh token.
/// `refresh_exhausted` means the provider no longer accepts the refresh token.
pub async fn acquire(http: &GuardedHttp, target: &Target<'_>) -> Result<Tokens, Observation> {
    match target.auth_type {
        "token_url" => fetch_token(http, target).await,
        "oauth2_client_credentials" => client_credentials(http, target).await,
        "oauth2_authorization_code" => refresh(http, target).await,
        other => Err(unreachable(
            "not_refreshable",
            format!("auth type {other} has no tokens to refresh"),
        )),
    }
}

/// OAuth 2.0 authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636): the code the
/// provider sent back to the callback, for tokens.
pub async fn exchange_code(
    http: &GuardedHttp,
    target: &Target<'_>,
    code: &str,
    pkce_verifier: &str,
    redirect_uri: &str,
) -> Result<Tokens, Observation> {
    let token_url = target
        .text("token_url")
        .ok_or_else(|| missing("token_url"))?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| unreachable("invalid_url", "the redirect URI does not parse"))?;
    let result = client(http, target, token_url)?
        .set_redirect_uri(redirect)
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(http.client())
        .await;
    result.map(tokens).map_err(token_failure)
}

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The one OAuth 2.0 client of every flow: the token endpoint `token_url` (checked by the
/// guard before anything is sent), the credential's client id, and its client secret when it
/// has one.
fn client(http: &GuardedHttp, target: &Target<'_>, token_url: &str) -> Result<Client, Observation> {
    http.check_url(token_url)?;
    let token_url = TokenUrl::new(token_url.to_owned())
        .map_err(|_| unreachable("invalid_url", "the token URL does not parse"))?;
    let client = BasicClient::new(ClientId::new(
        target.text("client_id").unwrap_or_default().to_owned(),
    ))
    .set_token_uri(token_url);
    Ok(match target.secret("client_secret") {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_owned())),
        None => client,
    })
}

fn tokens(token: oauth2::basic::BasicTokenResponse) -> Tokens {
    Tokens {
        access_token: SecretString::from(token.access_token().secret().to_owned()),
        refresh_token: token
            .refresh_token()
            .map(|r| SecretString::from(r.secret().to_owned())),
        expires_in: token.expires_in(),
    }
}

/// OAuth 2.0 client credentials grant (RFC 6749 §4.4).
async fn client_credentials(
    http: &GuardedHttp,
    target: &Target<'_>,
) -> Result<Tokens, Observation> {
    let token_url = target
        .text("token_url")
        .ok_or_else(|| missing("token_url"))?;
    let result = client(http, target, token_url)?
        .exchange_client_credentials()
        .add_scopes(scopes(target).into_iter().map(Scope::new))
        .request_async(http.client())
        .await;
    // A client-credentials grant has no refresh token to keep, whatever the provider sends.
    result
        .map(|t| Tokens {
            refresh_token: None,
            ..tokens(t)
        })
        .map_err(token_failure)
}

/// OAuth 2.0 refresh token grant (RFC 6749 §6) against the refresh token URL (or token URL).
async fn refresh(http: &GuardedHttp, target: &Target<'_>) -> Result<Tokens, Observation> {
    let Some(refresh_token) = target.secret("refresh_token") else {
        return Err(rejected(
            "refresh_exhausted",
            "there is no refresh token; connect the credential through GET /credentials/{id}/oauth/authorize",
        ));
    };
    let token_url = target
        .text("refresh_token_url")
        .or_else(|| target.text("token_url"))
        .ok_or_else(|| missing("token_url"))?;
    let result = client(http, target, token_url)?
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
        .request_async(http.client())
        .await;
    match result {
        Ok(token) => Ok(tokens(token)),
        Err(RequestTokenError::ServerResponse(e)) if *e.error() == BasicErrorResponseType::InvalidGrant => Err(rejected(
            "refresh_exhausted",
            "the provider no longer accepts the refresh token (expired, revoked or used up); an admin must re-authenticate through GET /credentials/{id}/oauth/authorize",
        )),
        Err(e) => Err(token_failure(e)),
    }
}

/// Token URL auth: a client-credentials style POST (client id and secret as HTTP Basic) or,
/// without a client id, the resource-owner form with username and password. The token is
/// `access_token` (or `token`) of the JSON answer. Not the `oauth2` crate: these endpoints
/// predate or bend the standard (no `token_type`, `token` instead of `access_token`).
async fn fetch_token(http: &GuardedHttp, target: &Target<'_>) -> Result<Tokens, Observation> {
    let raw = target
        .text("token_url")
        .ok_or_else(|| missing("token_url"))?;
    let url = http.check_url(raw)?;
    let scopes = scopes(target).join(" ");
    let mut form: Vec<(&str, &str)> = Vec::new();
    let mut request = http.client().post(url);
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
    Ok(Tokens {
        access_token: SecretString::from(access.to_owned()),
        refresh_token: None,
        expires_in: body
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs),
    })
}

fn token_failure(
    e: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
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
        RequestTokenError::Request(HttpClientError::Reqwest(inner)) => {
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
