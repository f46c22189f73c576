//! Request bodies of create and update, parsed field by field so that every refusal names the
//! field and the rule, and never echoes a value (which might be a secret).

use latchkey_shared::catalog::echoable_name;
use latchkey_shared::domain::{is_plain_text, parse_tag};
use latchkey_shared::error::ApiError;
use serde_json::{Map, Value};

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 2000;
const TAGS_MAX: usize = 50;

/// `POST /credentials`. `fields` still holds secret values: `Debug` shows only their names.
pub struct NewCredential {
    pub name: String,
    pub description: Option<String>,
    pub connector: String,
    pub auth_type: Option<String>,
    pub fields: Map<String, Value>,
    pub tags: Vec<String>,
    pub health_check: Option<bool>,
    /// Test the connection first and store the verdict as the initial status.
    pub test: bool,
}

/// `PATCH /credentials/{id}`: absent means unchanged; `description: null` clears it.
#[derive(Default)]
pub struct CredentialPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub auth_type: Option<String>,
    pub fields: Map<String, Value>,
    pub tags: Option<Vec<String>>,
    pub health_check: Option<bool>,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("connector", &self.connector)
            .field("auth_type", &self.auth_type)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CredentialPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialPatch")
            .field("auth_type", &self.auth_type)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn unknown(key: &str, allowed: &[&str]) -> ApiError {
    ApiError::bad_request(
        "unknown_field",
        format!(
            "unknown field {}; the body may hold: {}",
            echoable_name(key),
            allowed.join(", ")
        ),
    )
}

fn invalid(name: &str, rule: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("`{name}` must be {rule}")).about([name])
}

fn text(name: &str, value: &Value, max: usize) -> Result<String, ApiError> {
    let multiline = name == "description";
    match value.as_str().map(str::trim) {
        Some(s) if !s.is_empty() && s.chars().count() <= max && is_plain_text(s, multiline) => {
            Ok(s.to_owned())
        }
        _ => Err(invalid(
            name,
            &format!(
                "a non-empty string of at most {max} characters, without control or bidirectional formatting characters"
            ),
        )),
    }
}

fn optional_text(name: &str, value: &Value, max: usize) -> Result<Option<String>, ApiError> {
    if value.is_null() {
        Ok(None)
    } else {
        text(name, value, max).map(Some)
    }
}

fn fields(value: &Value) -> Result<Map<String, Value>, ApiError> {
    value
        .as_object()
        .cloned()
        .ok_or_else(|| invalid("fields", "an object of field names to values"))
}

fn tags(value: &Value) -> Result<Vec<String>, ApiError> {
    let rule = "a list of at most 50 tags, each 1 to 64 of a-z 0-9 _ . : -";
    let list = value
        .as_array()
        .filter(|l| l.len() <= TAGS_MAX)
        .ok_or_else(|| invalid("tags", rule))?;
    let mut out: Vec<String> = list
        .iter()
        .map(|t| {
            t.as_str()
                .and_then(parse_tag)
                .ok_or_else(|| invalid("tags", rule))
        })
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn flag(name: &str, value: &Value) -> Result<bool, ApiError> {
    value
        .as_bool()
        .ok_or_else(|| invalid(name, "true or false"))
}

impl NewCredential {
    pub fn parse(body: Map<String, Value>) -> Result<Self, ApiError> {
        const ALLOWED: [&str; 8] = [
            "name",
            "description",
            "connector",
            "auth_type",
            "fields",
            "tags",
            "health_check",
            "test",
        ];
        let mut out = NewCredential {
            name: String::new(),
            description: None,
            connector: String::new(),
            auth_type: None,
            fields: Map::new(),
            tags: Vec::new(),
            health_check: None,
            test: false,
        };
        for (key, value) in &body {
            match key.as_str() {
                "name" => out.name = text("name", value, NAME_MAX)?,
                "description" => {
                    out.description = optional_text("description", value, DESCRIPTION_MAX)?
                }
                "connector" => out.connector = text("connector", value, 64)?,
                "auth_type" => out.auth_type = optional_text("auth_type", value, 64)?,
                "fields" => out.fields = fields(value)?,
                "tags" => out.tags = tags(value)?,
                "health_check" => out.health_check = Some(flag("health_check", value)?),
                "test" => out.test = flag("test", value)?,
                other => return Err(unknown(other, &ALLOWED)),
            }
        }
        let missing: Vec<&str> = [
            ("name", out.name.is_empty()),
            ("connector", out.connector.is_empty()),
        ]
        .into_iter()
        .filter_map(|(n, m)| m.then_some(n))
        .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(
                "missing_field",
                format!("the body needs: {}", missing.join(", ")),
            )
            .about(missing));
        }
        Ok(out)
    }
}

impl CredentialPatch {
    pub fn parse(body: Map<String, Value>) -> Result<Self, ApiError> {
        const ALLOWED: [&str; 6] = [
            "name",
            "description",
            "auth_type",
            "fields",
            "tags",
            "health_check",
        ];
        let mut out = CredentialPatch::default();
        for (key, value) in &body {
            match key.as_str() {
                "name" => out.name = Some(text("name", value, NAME_MAX)?),
                "description" => {
                    out.description = Some(optional_text("description", value, DESCRIPTION_MAX)?)
                }
                "auth_type" => out.auth_type = Some(text("auth_type", value, 64)?),
                "fields" => out.fields = fields(value)?,
                "tags" => out.tags = Some(tags(value)?),
                "health_check" => out.health_check = Some(flag("health_check", value)?),
                "connector" => {
                    return Err(ApiError::unprocessable(
                        "connector_immutable",
                        "a credential's connector cannot change; create a new credential instead",
                    ))
                }
                other => return Err(unknown(other, &ALLOWED)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn create_body_is_checked_without_echoing_values() {
        let ok = NewCredential::parse(body(
            json!({"name": " db ", "connector": "postgres", "tags": ["B", "a", "a"]}),
        ))
        .unwrap();
        assert_eq!(ok.name, "db");
        assert_eq!(ok.tags, ["a", "b"]);
        for (b, code) in [
            (json!({"connector": "postgres"}), "missing_field"),
            (
                json!({"name": "x", "connector": "postgres", "secret": "canary-value"}),
                "unknown_field",
            ),
            (
                json!({"name": "canary-value", "connector": 5}),
                "invalid_field",
            ),
            (
                json!({"name": "x", "connector": "postgres", "fields": "canary-value"}),
                "invalid_field",
            ),
            (
                json!({"name": "x", "connector": "postgres", "tags": ["canary value"]}),
                "invalid_field",
            ),
        ] {
            let err = NewCredential::parse(body(b.clone())).unwrap_err();
            assert_eq!(err.code(), code, "{b}");
            assert!(
                !err.public_message().contains("canary"),
                "{}",
                err.public_message()
            );
        }
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let p = CredentialPatch::parse(body(json!({"description": null}))).unwrap();
        assert_eq!(p.description, Some(None));
        assert!(p.name.is_none());
        let err = CredentialPatch::parse(body(json!({"connector": "s3"}))).unwrap_err();
        assert_eq!(err.status(), 422);
    }
}
