//! Glue between API Gateway HTTP API events (through `lambda_http`) and the handlers.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::http::header::{CONTENT_TYPE, ETAG};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Map, Value};

use crate::domain::Caller;
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

/// The caller, from the JWT claims API Gateway's authorizer verified and passed along.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let claims = context(req)
        .and_then(|c| c.authorizer.as_ref())
        .and_then(|a| a.jwt.as_ref())
        .map(|j| &j.claims)
        .ok_or_else(|| ApiError::unauthenticated("a bearer token is required"))?;
    let claim = |name: &str| {
        claims
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::unauthenticated(format!("the token has no `{name}` claim")))
    };
    Ok(Caller {
        user_id: claim("sub")?,
        org_id: claim("org_id")?,
        teams: claims
            .get("teams")
            .map(|t| parse_teams(t))
            .unwrap_or_default(),
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
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "invalid_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )),
    }
}

pub fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A credential representation with its version as the `ETag`, for `If-Match`.
pub fn credential_response(status: u16, view: &Value) -> Response<Body> {
    let mut resp = json_response(status, view);
    if let Some(v) = view.get("version").and_then(Value::as_u64) {
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{v}\"")) {
            resp.headers_mut().insert(ETAG, etag);
        }
    }
    resp
}

/// The one place errors become responses. Internal errors are logged with their chain and
/// answered with a generic message.
pub fn error_response(err: &ApiError) -> Response<Body> {
    if let ApiError::Internal(inner) = err {
        tracing::error!(error = %inner, "request failed");
    }
    json_response(
        err.status(),
        &json!({ "error": { "code": err.code(), "message": err.public_message() } }),
    )
}

pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|e| error_response(&e))
}

/// Parses an `If-Match` header: `"3"`, `3` or `W/"3"`.
pub fn if_match_version(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(raw) = header(req, "if-match") else {
        return Ok(None);
    };
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .map(Some)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must carry the credential's version, as sent in its ETag",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_claim_in_either_form() {
        assert_eq!(parse_teams("[data ops]"), ["data", "ops"]);
        assert_eq!(parse_teams("[]"), Vec::<String>::new());
        assert_eq!(parse_teams(r#"["data","ops"]"#), ["data", "ops"]);
        assert_eq!(parse_teams("data"), ["data"]);
    }
}
