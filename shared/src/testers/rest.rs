//! REST APIs: a request to the validation URL with the credential's auth applied.
//! 2xx is valid, 401/403 invalid, anything else inconclusive.

use secrecy::ExposeSecret;
use serde_json::Value;

use super::{Target, Testers};
use crate::oauth;
use crate::outbound::request_failure;
use crate::status::{accepted, missing, rejected, unreachable, Observation};

pub async fn test(t: &Testers, target: &Target<'_>) -> Observation {
    let Some(raw) = target.text("validation_url") else {
        return unreachable(
            "not_testable",
            "set validation_url to a cheap endpoint (user info, metadata, one record) to test this credential",
        );
    };
    let url = match t.outbound.check_url(raw) {
        Ok(u) => u,
        Err(o) => return o,
    };
    let method = target.text("validation_method").unwrap_or("GET");
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = t.outbound.client().request(method, url);
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
        // A token fetched for the test, not stored: the test says whether the credentials work.
        "token_url" | "oauth2_client_credentials" => match oauth::acquire(&t.outbound, target).await {
            Ok(tokens) => request.bearer_auth(tokens.access_token.expose_secret()),
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
    match t
        .outbound
        .send_following_same_origin(request, "the validation URL")
        .await
    {
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
