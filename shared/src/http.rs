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

/// Request bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn context(req: &Request) -> Option<&ApiGatewayV2httpRequestContext> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => Some(ctx),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// `GET /credentials/{id}` etc.: API Gateway names the matched route, so handlers dispatch on it
/// instead of matching paths a second time.
pub fn route_key(req: &Request) -> &str {
    context(req)
        .and_then(|c| c.route_key.as_deref())
        .unwrap_or("")
}

/// The caller, from the JWT API Gateway's authorizer verified.
///
/// API Gateway hands the function the verified claims as strings, flattening arrays to `[a b]`,
/// which loses types: `teams: ["Platform Engineering"]` reads as two teams, `sub: 5` as "5" and
/// `org_id: null` as "null". So the claims' types come from the token itself (the same
/// `Authorization` header the authorizer checked; its signature is not checked twice), and
/// every claim must also equal what the authorizer passed: a token that disagrees with its own
/// verification is refused. Each id must be an identifier, untrimmed and uncoerced.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let verified = context(req)
        .and_then(|c| c.authorizer.as_ref())
        .and_then(|a| a.jwt.as_ref())
        .map(|j| &j.claims)
        .ok_or_else(|| ApiError::unauthenticated("a bearer token is required"))?;
    let token = header(req, "authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::to_owned)
        })
        .ok_or_else(|| ApiError::unauthenticated("a bearer token is required"))?;
    caller_from_claims(&token_claims(&token)?, verified)
}

/// The payload of a compact JWS, as JSON. The signature is API Gateway's to check.
fn token_claims(token: &str) -> Result<Map<String, Value>, ApiError> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let unreadable = || ApiError::unauthenticated("the bearer token is not a readable JWT");
    let payload = token.split('.').nth(1).ok_or_else(unreadable)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| unreadable())?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(unreadable()),
    }
}

/// Checks the token's typed claims against the authorizer's flattened ones; see [`caller`].
pub fn caller_from_claims(
    claims: &Map<String, Value>,
    verified: &std::collections::HashMap<String, String>,
) -> Result<Caller, ApiError> {
    let wrong = |name: &str, why: &str| {
        ApiError::unauthenticated(format!("the token's `{name}` claim {why}"))
    };
    let id = |name: &str, value: &Value| -> Result<String, ApiError> {
        let raw = value
            .as_str()
            .ok_or_else(|| wrong(name, "must be a string"))?;
        parse_identifier(raw).map_err(|rule| wrong(name, &format!("must be {rule}")))
    };
    let single = |name: &str| -> Result<String, ApiError> {
        let value = claims.get(name).ok_or_else(|| wrong(name, "is missing"))?;
        let parsed = id(name, value)?;
        if verified.get(name) != Some(&parsed) {
            return Err(wrong(name, "differs from what the authorizer verified"));
        }
        Ok(parsed)
    };
    let user_id = single("sub")?;
    let org_id = single("org_id")?;
    let teams: Vec<String> = match claims.get("teams") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| id("teams", t))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong("teams", "must be a list of strings")),
    };
    let verified_teams = verified
        .get("teams")
        .map(|t| parse_teams(t))
        .unwrap_or_default();
    if verified_teams != teams {
        return Err(wrong("teams", "differs from what the authorizer verified"));
    }
    Ok(Caller {
        user_id,
        org_id,
        teams,
    })
}

/// API Gateway flattens a JSON array claim into `[a b c]`; accept a JSON array too.
pub fn parse_teams(raw: &str) -> Vec<String> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    raw.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

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

/// The body as a JSON object, refusing oversized, malformed and non-object bodies.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::client(
            413,
            "payload_too_large",
            format!(
                "request bodies are limited to {} KiB",
                MAX_BODY_BYTES / 1024
            ),
        ));
    }
    // serde_json's syntax errors give a position, never the text, so they are safe to pass on.
    match serde_json::from_slice::<UniqueKeys>(bytes).map(|u| u.0) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "invalid_json",
            format!(
                "the body is not valid JSON{} (line {}, column {})",
                if e.is_data() {
                    ": an object repeats a key"
                } else {
                    ""
                },
                e.line(),
                e.column()
            ),
        )),
    }
}

/// A JSON value whose objects never repeat a key. serde_json keeps the last of repeated keys,
/// and another parser (a proxy, an audit log) may keep the first: one body, two meanings.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value) = map.next_value()?;
            if out.insert(key, value).is_some() {
                // The key itself is not echoed: it could be a pasted secret.
                return Err(serde::de::Error::custom("an object repeats a key"));
            }
        }
        Ok(Value::Object(out))
    }
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
    store: &crate::store::Store,
    allowance: crate::store::TestAllowance,
    caller: &Caller,
) -> Result<(), ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let Some(exhausted) = store
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
