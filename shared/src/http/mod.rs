//! Glue between API Gateway HTTP API events (through `lambda_http`) and the handlers.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::http::header::{CONTENT_TYPE, ETAG, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value};

use crate::api::{CredentialView, ErrorBody, ErrorDetail};
use crate::domain::{parse_identifier, Caller};
use crate::error::ApiError;

mod body;
mod caller;

pub use body::json_object;
pub use caller::{caller, caller_from_claims, parse_teams, route_key};

/// Request bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
}

/// A JSON answer. The body is one of the API's wire types ([`crate::api`]), which the OpenAPI
/// document is derived from.
pub fn json_response(status: u16, body: &impl serde::Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "response did not serialize");
        r#"{"error":{"code":"internal_error","message":"something went wrong on our side; it has been logged"}}"#.into()
    });
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A credential representation with its version as the `ETag`, for `If-Match`.
pub fn credential_response(status: u16, view: &CredentialView) -> Response<Body> {
    with_etag(json_response(status, view), view.version)
}

/// `ETag: "<version>"`, the form [`parse_if_match`] reads back.
pub fn with_etag(mut resp: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(ETAG, etag);
    }
    resp
}

/// The one place errors become responses. Internal errors are logged with their chain and
/// answered with a generic message.
pub fn error_response(err: &ApiError) -> Response<Body> {
    if let ApiError::Internal(inner) = err {
        tracing::error!(error = %inner, "request failed");
    }
    let mut resp = json_response(
        err.status(),
        &ErrorBody {
            error: ErrorDetail {
                code: err.code().to_owned(),
                message: err.public_message(),
                fields: err.fields().to_vec(),
            },
        },
    );
    if let ApiError::RateLimited { retry_after, .. } = err {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    resp
}

/// Counts one connection test against the caller's and the organisation's per-minute
/// allowance (brief §7): over it, 429 `rate_limited` with `Retry-After`. Tests are limited so
/// that they cannot serve as a login oracle or a port scanner.
pub async fn admit_connection_test(
    ports: &crate::ports::Ports,
    allowance: crate::store::TestAllowance,
    caller: &Caller,
) -> Result<(), ApiError> {
    let now = ports.now();
    let Some(exhausted) = ports
        .store
        .count_test(&caller.org_id, &caller.user_id, allowance, now)
        .await?
    else {
        return Ok(());
    };
    let (who, limit) = match exhausted {
        crate::store::Exhausted::User => ("you have", allowance.per_user),
        crate::store::Exhausted::Org => ("your organisation has", allowance.per_org),
    };
    Err(ApiError::RateLimited {
        retry_after: (60 - now.unix_timestamp().rem_euclid(60)) as u64,
        message: format!(
            "{who} run {limit} connection tests this minute, the most allowed; retry after the time Retry-After gives"
        ),
    })
}

pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|e| error_response(&e))
}

/// Parses an `If-Match` header: `"3"`, `3` or `W/"3"`.
pub fn if_match_version(req: &Request) -> Result<Option<u64>, ApiError> {
    header(req, "if-match")
        .map(|raw| parse_if_match(&raw))
        .transpose()
}

/// `"3"`, `3` or `W/"3"`: the version an ETag carried.
pub fn parse_if_match(raw: &str) -> Result<u64, ApiError> {
    let digits = raw.trim_start_matches("W/").trim_matches('"');
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must carry the credential's version, as sent in its ETag",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::body::UniqueKeys;
    use super::*;
    use serde_json::json;

    fn verified(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn claims_are_identifiers_of_the_right_type_and_agree_with_the_authorizer() {
        let ok = caller_from_claims(
            &claims(json!({"sub": "auth0|alice", "org_id": "acme", "teams": ["data", "ops"]})),
            &verified(&[
                ("sub", "auth0|alice"),
                ("org_id", "acme"),
                ("teams", "[data ops]"),
            ]),
        )
        .unwrap();
        assert_eq!(ok.user_id, "auth0|alice");
        assert_eq!(ok.teams, ["data", "ops"]);

        // (typed claims, what API Gateway passed, the claim the 401 names)
        let cases = [
            (
                json!({"sub": "alice", "org_id": "acme", "teams": ["Platform Engineering"]}),
                verified(&[
                    ("sub", "alice"),
                    ("org_id", "acme"),
                    ("teams", "[Platform Engineering]"),
                ]),
                "teams",
            ),
            (
                json!({"sub": "alice", "org_id": null}),
                verified(&[("sub", "alice"), ("org_id", "null")]),
                "org_id",
            ),
            (
                json!({"sub": 5, "org_id": "acme"}),
                verified(&[("sub", "5"), ("org_id", "acme")]),
                "sub",
            ),
            (
                json!({"sub": " alice", "org_id": "acme"}),
                verified(&[("sub", " alice"), ("org_id", "acme")]),
                "sub",
            ),
            (
                json!({"sub": "alice", "org_id": "ac#me"}),
                verified(&[("sub", "alice"), ("org_id", "ac#me")]),
                "org_id",
            ),
            (
                json!({"sub": "a:b", "org_id": "acme"}),
                verified(&[("sub", "a:b"), ("org_id", "acme")]),
                "sub",
            ),
            (
                json!({"sub": "ali\u{202e}ce", "org_id": "acme"}),
                verified(&[("sub", "ali\u{202e}ce"), ("org_id", "acme")]),
                "sub",
            ),
            (
                json!({"sub": "alice", "org_id": "acme", "teams": "data"}),
                verified(&[("sub", "alice"), ("org_id", "acme"), ("teams", "data")]),
                "teams",
            ),
            (
                json!({"org_id": "acme"}),
                verified(&[("org_id", "acme")]),
                "sub",
            ),
            // The token read from the header is not the one the authorizer verified.
            (
                json!({"sub": "mallory", "org_id": "acme"}),
                verified(&[("sub", "alice"), ("org_id", "acme")]),
                "sub",
            ),
            (
                json!({"sub": "alice", "org_id": "acme", "teams": ["admins"]}),
                verified(&[("sub", "alice"), ("org_id", "acme")]),
                "teams",
            ),
            (
                json!({"sub": "x".repeat(129), "org_id": "acme"}),
                verified(&[("sub", &"x".repeat(129)), ("org_id", "acme")]),
                "sub",
            ),
        ];
        for (typed, flat, claim) in cases {
            let err = caller_from_claims(&claims(typed.clone()), &flat).unwrap_err();
            assert_eq!(err.status(), 401, "{typed}");
            assert!(
                err.public_message().contains(&format!("`{claim}`")),
                "{typed}: {}",
                err.public_message()
            );
        }
    }

    #[test]
    fn bodies_never_repeat_a_key() {
        let parse = |raw: &str| serde_json::from_str::<UniqueKeys>(raw).map(|u| u.0);
        assert_eq!(
            parse(r#"{"a": [1, {"b": null}], "c": "x"}"#).unwrap(),
            json!({"a": [1, {"b": null}], "c": "x"})
        );
        for raw in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"f": {"password": "x", "password": "y"}}"#,
            r#"[{"k": 1, "k": 1}]"#,
        ] {
            let err = parse(raw).unwrap_err();
            assert!(err.is_data(), "{raw}");
        }
    }

    #[test]
    fn teams_claim_in_either_form() {
        assert_eq!(parse_teams("[data ops]"), ["data", "ops"]);
        assert_eq!(parse_teams("[]"), Vec::<String>::new());
        assert_eq!(parse_teams(r#"["data","ops"]"#), ["data", "ops"]);
        assert_eq!(parse_teams("data"), ["data"]);
    }

    mod properties {
        use super::super::*;
        use super::UniqueKeys;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn if_match_never_panics_and_round_trips_every_etag(raw in ".*", v in any::<u64>()) {
                let _ = parse_if_match(&raw);
                prop_assert_eq!(parse_if_match(&format!("\"{v}\"")).unwrap(), v);
                prop_assert_eq!(parse_if_match(&format!("W/\"{v}\"")).unwrap(), v);
                prop_assert_eq!(parse_if_match(&v.to_string()).unwrap(), v);
            }

            #[test]
            fn bodies_parse_without_panicking(raw in ".{0,200}") {
                let _ = serde_json::from_str::<UniqueKeys>(&raw);
            }
        }
    }
}
