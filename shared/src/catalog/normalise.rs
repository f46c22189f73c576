//! One field's value checked against its spec: types, limits, URLs without credentials,
//! headers that cannot reroute. Error messages name the field and the rule, never the value.

use super::*;

/// Query parameter names that carry credentials, compared lowercase without `-` and `_`.
const SECRET_QUERY_NAMES: [&str; 19] = [
    "apikey",
    "key",
    "token",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "auth",
    "authorization",
    "password",
    "passwd",
    "pwd",
    "secret",
    "clientsecret",
    "signature",
    "sig",
    "xamzsignature",
    "xamzcredential",
    "xamzsecuritytoken",
];

/// Non-secret URL fields are shown to every collaborator: a `user:pass@` or a key in the query
/// string there would hand the secret to all of them.
fn refuse_credentials_in_url(name: &str, url: &url::Url) -> Result<(), ApiError> {
    let secret_query = url.query_pairs().any(|(k, _)| {
        let k: String = k
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect::<String>()
            .to_ascii_lowercase();
        SECRET_QUERY_NAMES.contains(&k.as_str())
    });
    if url.username().is_empty() && url.password().is_none() && !secret_query {
        return Ok(());
    }
    Err(ApiError::unprocessable(
        "secret_in_url",
        format!(
            "field `{name}` is visible to everyone the credential is shared with, so it must not carry credentials (user:password@ or a key, token or signature in the query); put them in the credential's secret fields (password, api_key with api_key_in=query, token, client_secret) instead"
        ),
    )
    .about([format!("fields.{name}")]))
}

pub(super) enum Normalised {
    Public(Value),
    Secret(SecretString),
}

/// How an error message may name a field the caller sent. Catalog names are snake_case, so a
/// snake_case typo (`pasword`) is echoed to help; anything else might be a pasted secret and is not.
pub fn echoable_name(name: &str) -> String {
    let snake = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if snake {
        format!("`{name}`")
    } else {
        "(a name that is not snake_case)".to_owned()
    }
}

/// Checks one value against its spec. Error messages name the field and the rule, never the value.
pub(super) fn normalise(
    name: &str,
    spec: &FieldSpec,
    value: &Value,
) -> Result<Normalised, ApiError> {
    let invalid = |rule: String| {
        ApiError::bad_request("invalid_field", format!("field `{name}` must be {rule}"))
            .about([format!("fields.{name}")])
    };
    let max_len = spec.max_length.unwrap_or(match spec.kind {
        FieldType::Text | FieldType::PemCertificates => TEXT_MAX_LENGTH,
        _ => DEFAULT_MAX_LENGTH,
    });
    let string = |value: &Value| -> Result<String, ApiError> {
        match value.as_str() {
            Some("") => Err(invalid("a non-empty string".into())),
            Some(s) if s.chars().count() > max_len => {
                Err(invalid(format!("at most {max_len} characters")))
            }
            Some(s) => Ok(s.to_owned()),
            None => Err(invalid("a string".into())),
        }
    };
    if spec.secret {
        return Ok(Normalised::Secret(SecretString::from(string(value)?)));
    }
    let normalised = match spec.kind {
        FieldType::String | FieldType::Text => Value::String(string(value)?),
        FieldType::Hostname => {
            let host = string(value)?;
            // url's host parser refuses '/', ':', '@' and the like, so no scheme, port or path slips in.
            if url::Host::parse(&host).is_err() {
                return Err(invalid(
                    "a host name or IP address, without scheme or port".into(),
                ));
            }
            Value::String(host)
        }
        FieldType::Url => {
            let raw = string(value)?;
            match url::Url::parse(&raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    refuse_credentials_in_url(name, &u)?;
                    Value::String(raw)
                }
                _ => return Err(invalid("an absolute http or https URL".into())),
            }
        }
        FieldType::PemCertificates => {
            let pem = string(value)?;
            let blocks = pem.matches("-----BEGIN CERTIFICATE-----").count();
            let only_certificates = pem.matches("-----BEGIN ").count() == blocks;
            if blocks == 0 || !only_certificates {
                return Err(invalid(
                    "one or more PEM certificates (-----BEGIN CERTIFICATE-----), and nothing else: never a private key".into(),
                ));
            }
            Value::String(pem)
        }
        FieldType::AwsRegion => {
            let region = string(value)?;
            let ok = region.starts_with(|c: char| c.is_ascii_lowercase())
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(invalid(
                    "an AWS region such as eu-central-1: lowercase letters, digits and -".into(),
                ));
            }
            Value::String(region)
        }
        FieldType::AccountIdentifier => {
            let account = string(value)?;
            let ok = account.starts_with(|c: char| c.is_ascii_alphanumeric())
                && !account.ends_with('.')
                && !account.contains("..")
                && account
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err(invalid(
                    "an account identifier (orgname-account or a locator such as xy12345.eu-central-1): letters, digits, - _ and .".into(),
                ));
            }
            Value::String(account)
        }
        FieldType::Integer => {
            let n = value.as_i64().ok_or_else(|| invalid("an integer".into()))?;
            let (min, max) = (spec.min.unwrap_or(i64::MIN), spec.max.unwrap_or(i64::MAX));
            if !(min..=max).contains(&n) {
                return Err(invalid(format!("an integer from {min} to {max}")));
            }
            Value::from(n)
        }
        FieldType::Boolean => Value::Bool(
            value
                .as_bool()
                .ok_or_else(|| invalid("true or false".into()))?,
        ),
        FieldType::Enum => {
            let allowed = spec.values.as_deref().unwrap_or_default();
            match value.as_str() {
                Some(s) if allowed.iter().any(|a| a == s) => Value::String(s.to_owned()),
                _ => return Err(invalid(format!("one of: {}", allowed.join(", ")))),
            }
        }
        FieldType::StringList => {
            let items = value
                .as_array()
                .filter(|a| a.len() <= MAX_LIST_ITEMS)
                .ok_or_else(|| invalid(format!("a list of at most {MAX_LIST_ITEMS} strings")))?;
            let items: Result<Vec<Value>, ApiError> =
                items.iter().map(|v| string(v).map(Value::String)).collect();
            Value::Array(items?)
        }
        FieldType::Headers => {
            let entries = value
                .as_object()
                .filter(|m| m.len() <= MAX_LIST_ITEMS)
                .ok_or_else(|| invalid(format!("an object of at most {MAX_LIST_ITEMS} headers")))?;
            let mut out = Map::new();
            for (k, v) in entries {
                let value = v.as_str().unwrap_or_default();
                let valid = lambda_http::http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                    && !value.is_empty()
                    && lambda_http::http::HeaderValue::from_str(value)
                        .is_ok_and(|h| h.to_str().is_ok());
                if !valid {
                    return Err(invalid(
                        "an object of HTTP header names to printable values (no line breaks)"
                            .into(),
                    ));
                }
                if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                    return Err(invalid(format!(
                        "free of {}: the auth type sets credentials, and Host would reroute them",
                        RESERVED_HEADERS.join(", ")
                    )));
                }
                out.insert(k.clone(), Value::String(value.to_owned()));
            }
            Value::Object(out)
        }
    };
    Ok(Normalised::Public(normalised))
}
