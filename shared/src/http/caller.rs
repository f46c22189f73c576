//! Who is calling: the route API Gateway matched and the claims its JWT authorizer verified.

use super::*;

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
