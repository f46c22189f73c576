//! The connector catalog: which connectors exist, their auth types and fields. Declared as data in
//! `catalog/connectors.json`; this module only interprets it, to validate input, to split secret
//! from non-secret fields and to describe itself on `GET /connectors`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::error::ApiError;

const DEFAULT_MAX_LENGTH: usize = 2048;
const TEXT_MAX_LENGTH: usize = 16 * 1024;
const MAX_LIST_ITEMS: usize = 100;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let catalog: Catalog = serde_json::from_str(include_str!("../catalog/connectors.json"))
        .expect("catalog/connectors.json is checked by the catalog tests");
    catalog
});

pub fn catalog() -> &'static Catalog {
    &CATALOG
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub connectors: Vec<Connector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    pub default_auth_type: String,
    pub fields: BTreeMap<String, FieldSpec>,
    pub common: FieldNames,
    pub auth_types: Vec<AuthType>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldNames {
    pub required: Vec<String>,
    pub optional: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthType {
    pub id: String,
    pub label: String,
    pub required: Vec<String>,
    pub optional: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Text,
    Integer,
    Boolean,
    Enum,
    Url,
    Hostname,
    StringList,
    StringMap,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Where the secrets are sent (a host, a URL, an endpoint). Changing it requires the secret
    /// fields again, so that someone who may edit but does not know the secrets cannot send
    /// them to a host of their choosing.
    #[serde(default)]
    pub locator: bool,
}

/// Secret field values by name. `Debug` never shows a value.
#[derive(Clone, Default)]
pub struct SecretFields(pub BTreeMap<String, SecretString>);

impl std::fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretFields {
    pub fn names(&self) -> BTreeSet<String> {
        self.0.keys().cloned().collect()
    }
}

/// A credential's fields after validation, split by the catalog's secret flag.
#[derive(Debug)]
pub struct ValidFields {
    pub public: Map<String, Value>,
    pub secrets: SecretFields,
}

/// What a partial update does to a credential's fields.
#[derive(Debug)]
pub struct FieldChanges {
    /// The full non-secret field set after the update.
    pub public: Map<String, Value>,
    /// Secret values supplied in this request.
    pub new_secrets: SecretFields,
    /// Names of the secrets the credential holds after the update.
    pub secret_names: BTreeSet<String>,
    /// Names of every field whose value changed, was removed, or no longer applies.
    pub changed: BTreeSet<String>,
}

impl FieldChanges {
    /// Whether the stored secret must be rewritten (a value supplied, or one dropped).
    pub fn touches_secrets(&self, stored_secret_names: &BTreeSet<String>) -> bool {
        !self.new_secrets.0.is_empty() || &self.secret_names != stored_secret_names
    }
}

impl Catalog {
    pub fn connector(&self, id: &str) -> Result<&Connector, ApiError> {
        self.connectors.iter().find(|c| c.id == id).ok_or_else(|| {
            let known: Vec<&str> = self.connectors.iter().map(|c| c.id.as_str()).collect();
            ApiError::bad_request(
                "unknown_connector",
                format!("unknown connector; use one of: {}", known.join(", ")),
            )
        })
    }

    /// The catalog as `GET /connectors` serves it: per auth type, the fields in form order.
    pub fn describe(&self) -> Value {
        let connectors: Vec<Value> = self
            .connectors
            .iter()
            .map(|c| {
                let auth_types: Vec<Value> = c
                    .auth_types
                    .iter()
                    .map(|a| {
                        let fields: Vec<Value> = c
                            .fields_of(a)
                            .map(|(name, spec, required)| {
                                let mut f = json!({
                                    "name": name,
                                    "label": spec.label,
                                    "type": spec.kind,
                                    "required": required,
                                    "secret": spec.secret,
                                    "default": spec.default,
                                });
                                if let Some(d) = &spec.description {
                                    f["description"] = json!(d);
                                }
                                if let Some(v) = &spec.values {
                                    f["values"] = json!(v);
                                }
                                if spec.locator {
                                    f["locator"] = json!(true);
                                }
                                if spec.min.is_some() || spec.max.is_some() {
                                    f["min"] = json!(spec.min);
                                    f["max"] = json!(spec.max);
                                }
                                f
                            })
                            .collect();
                        json!({ "id": a.id, "label": a.label, "fields": fields })
                    })
                    .collect();
                json!({
                    "id": c.id,
                    "label": c.label,
                    "description": c.description,
                    "default_auth_type": c.default_auth_type,
                    "auth_types": auth_types,
                })
            })
            .collect();
        json!({ "connectors": connectors })
    }
}

impl Connector {
    pub fn auth_type(&self, id: Option<&str>) -> Result<&AuthType, ApiError> {
        let id = id.unwrap_or(&self.default_auth_type);
        self.auth_types.iter().find(|a| a.id == id).ok_or_else(|| {
            let known: Vec<&str> = self.auth_types.iter().map(|a| a.id.as_str()).collect();
            ApiError::bad_request(
                "unknown_auth_type",
                format!(
                    "connector {} has no such auth type; use one of: {}",
                    self.id,
                    known.join(", ")
                ),
            )
        })
    }

    pub fn spec(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.get(name)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.spec(name).is_some_and(|s| s.secret)
    }

    /// The fields an auth type uses, in form order, each with whether it is required.
    pub fn fields_of<'a>(
        &'a self,
        auth: &'a AuthType,
    ) -> impl Iterator<Item = (&'a str, &'a FieldSpec, bool)> + 'a {
        let required = self.common.required.iter().chain(&auth.required);
        let optional = self.common.optional.iter().chain(&auth.optional);
        required
            .map(|n| (n, true))
            .chain(optional.map(|n| (n, false)))
            .filter_map(|(n, req)| self.fields.get(n).map(|spec| (n.as_str(), spec, req)))
    }

    fn field_for<'a>(&'a self, auth: &'a AuthType, name: &str) -> Result<&'a FieldSpec, ApiError> {
        self.fields_of(auth)
            .find(|(n, _, _)| *n == name)
            .map(|(_, spec, _)| spec)
            .ok_or_else(|| {
                let usable: Vec<&str> = self.fields_of(auth).map(|(n, _, _)| n).collect();
                ApiError::bad_request(
                    "unknown_field",
                    format!(
                        "field {} is not used by connector {} with auth type {}; its fields are: {}",
                        echoable_name(name),
                        self.id,
                        auth.id,
                        usable.join(", ")
                    ),
                )
            })
    }

    fn check_required(
        &self,
        auth: &AuthType,
        present: impl Fn(&str) -> bool,
    ) -> Result<(), ApiError> {
        let missing: Vec<&str> = self
            .fields_of(auth)
            .filter(|(n, _, req)| *req && !present(n))
            .map(|(n, _, _)| n)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(
                "missing_field",
                format!(
                    "connector {} with auth type {} needs: {}",
                    self.id,
                    auth.id,
                    missing.join(", ")
                ),
            ))
        }
    }

    fn apply_defaults(&self, auth: &AuthType, public: &mut Map<String, Value>) {
        for (name, spec, _) in self.fields_of(auth) {
            if let (false, Some(default)) = (public.contains_key(name), &spec.default) {
                public.insert(name.to_owned(), default.clone());
            }
        }
    }

    /// Validates the fields of a new credential. `null` means "not given".
    pub fn validate_new(
        &self,
        auth: &AuthType,
        fields: &Map<String, Value>,
    ) -> Result<ValidFields, ApiError> {
        let mut public = Map::new();
        let mut secrets = SecretFields::default();
        for (name, value) in fields {
            let spec = self.field_for(auth, name)?;
            if value.is_null() {
                continue;
            }
            match normalise(name, spec, value)? {
                Normalised::Secret(s) => {
                    secrets.0.insert(name.clone(), s);
                }
                Normalised::Public(v) => {
                    public.insert(name.clone(), v);
                }
            }
        }
        self.check_required(auth, |n| {
            public.contains_key(n) || secrets.0.contains_key(n)
        })?;
        self.apply_defaults(auth, &mut public);
        Ok(ValidFields { public, secrets })
    }

    /// Validates a partial update. Omitted fields keep their stored values; `null` removes one;
    /// stored fields the (new) auth type does not use are dropped.
    pub fn validate_patch(
        &self,
        auth: &AuthType,
        stored_public: &Map<String, Value>,
        stored_secret_names: &BTreeSet<String>,
        patch: &Map<String, Value>,
    ) -> Result<FieldChanges, ApiError> {
        let usable: BTreeSet<&str> = self.fields_of(auth).map(|(n, _, _)| n).collect();
        let mut public: Map<String, Value> = stored_public
            .iter()
            .filter(|(n, _)| usable.contains(n.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let mut secret_names: BTreeSet<String> = stored_secret_names
            .iter()
            .filter(|n| usable.contains(n.as_str()))
            .cloned()
            .collect();
        let mut new_secrets = SecretFields::default();
        let mut changed: BTreeSet<String> = stored_public
            .keys()
            .chain(stored_secret_names)
            .filter(|n| !usable.contains(n.as_str()))
            .cloned()
            .collect();

        for (name, value) in patch {
            let spec = self.field_for(auth, name)?;
            if value.is_null() {
                if public.remove(name).is_some() || secret_names.remove(name) {
                    changed.insert(name.clone());
                }
                continue;
            }
            match normalise(name, spec, value)? {
                Normalised::Secret(s) => {
                    new_secrets.0.insert(name.clone(), s);
                    secret_names.insert(name.clone());
                    changed.insert(name.clone());
                }
                Normalised::Public(v) => {
                    if public.get(name) != Some(&v) {
                        changed.insert(name.clone());
                    }
                    public.insert(name.clone(), v);
                }
            }
        }
        self.check_required(auth, |n| public.contains_key(n) || secret_names.contains(n))?;
        let moved: Vec<&str> = changed
            .iter()
            .filter(|n| self.spec(n).is_some_and(|s| s.locator) && public.contains_key(*n))
            .map(String::as_str)
            .collect();
        let unsupplied: Vec<&str> = secret_names
            .iter()
            .filter(|n| !new_secrets.0.contains_key(*n))
            .map(String::as_str)
            .collect();
        if !moved.is_empty() && !unsupplied.is_empty() {
            return Err(ApiError::unprocessable(
                "secrets_required",
                format!(
                    "changing {} sends the secrets somewhere new; supply {} again in the same request",
                    moved.join(", "),
                    unsupplied.join(", ")
                ),
            ));
        }
        self.apply_defaults(auth, &mut public);
        Ok(FieldChanges {
            public,
            new_secrets,
            secret_names,
            changed,
        })
    }
}

enum Normalised {
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
fn normalise(name: &str, spec: &FieldSpec, value: &Value) -> Result<Normalised, ApiError> {
    let invalid = |rule: String| {
        ApiError::bad_request("invalid_field", format!("field `{name}` must be {rule}"))
    };
    let max_len = spec.max_length.unwrap_or(match spec.kind {
        FieldType::Text => TEXT_MAX_LENGTH,
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
                    Value::String(raw)
                }
                _ => return Err(invalid("an absolute http or https URL".into())),
            }
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
        FieldType::StringMap => {
            let entries = value
                .as_object()
                .filter(|m| m.len() <= MAX_LIST_ITEMS)
                .ok_or_else(|| {
                    invalid(format!(
                        "an object of at most {MAX_LIST_ITEMS} string values"
                    ))
                })?;
            let mut out = Map::new();
            for (k, v) in entries {
                if k.is_empty() || k.len() > 256 {
                    return Err(invalid(
                        "an object whose keys are 1 to 256 characters".into(),
                    ));
                }
                out.insert(k.clone(), Value::String(string(v)?));
            }
            Value::Object(out)
        }
    };
    Ok(Normalised::Public(normalised))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn catalog_is_consistent() {
        let c = catalog();
        let ids: BTreeSet<&str> = c.connectors.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            BTreeSet::from([
                "rest_api",
                "s3",
                "ftp",
                "sftp",
                "postgres",
                "mysql",
                "snowflake"
            ])
        );
        for conn in &c.connectors {
            conn.auth_type(None).expect("default auth type exists");
            for auth in &conn.auth_types {
                let names = conn
                    .common
                    .required
                    .iter()
                    .chain(&conn.common.optional)
                    .chain(&auth.required)
                    .chain(&auth.optional);
                let mut seen = BTreeSet::new();
                for n in names {
                    assert!(
                        conn.fields.contains_key(n),
                        "{}/{}: {n} undeclared",
                        conn.id,
                        auth.id
                    );
                    assert!(seen.insert(n), "{}/{}: {n} listed twice", conn.id, auth.id);
                }
            }
            for (name, spec) in &conn.fields {
                if let Some(d) = &spec.default {
                    normalise(name, spec, d)
                        .unwrap_or_else(|_| panic!("{}: bad default for {name}", conn.id));
                }
                assert_eq!(
                    spec.kind == FieldType::Enum,
                    spec.values.is_some(),
                    "{}.{name}",
                    conn.id
                );
            }
        }
    }

    #[test]
    fn rest_api_auth_types_and_secret_flags_match_the_brief() {
        let rest = catalog().connector("rest_api").unwrap();
        let auth: Vec<&str> = rest.auth_types.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            auth,
            [
                "none",
                "basic",
                "api_key",
                "bearer",
                "token_url",
                "oauth2_client_credentials",
                "oauth2_authorization_code"
            ]
        );
        let secret: BTreeSet<&str> = rest
            .fields
            .iter()
            .filter(|(_, s)| s.secret)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            secret,
            BTreeSet::from([
                "password",
                "api_key",
                "token",
                "client_secret",
                "access_token",
                "refresh_token"
            ])
        );
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn new_credentials_split_secrets_and_apply_defaults() {
        let pg = catalog().connector("postgres").unwrap();
        let auth = pg.auth_type(None).unwrap();
        let valid = pg
            .validate_new(auth, &fields(json!({"host": "db.example.com", "database": "app", "username": "etl", "password": "pw"})))
            .unwrap();
        assert_eq!(valid.public["port"], json!(5432));
        assert_eq!(valid.public["tls_mode"], json!("prefer"));
        assert!(!valid.public.contains_key("password"));
        assert_eq!(valid.secrets.0["password"].expose_secret(), "pw");
        assert_eq!(format!("{:?}", valid.secrets), r#"{"password"}"#);
    }

    #[test]
    fn bad_fields_are_refused_with_codes_and_without_values() {
        let pg = catalog().connector("postgres").unwrap();
        let auth = pg.auth_type(None).unwrap();
        let base =
            json!({"host": "db", "database": "app", "username": "u", "password": "canary-value"});
        let cases = [
            (json!({"port": "canary-value"}), "invalid_field"),
            (json!({"port": 70000}), "invalid_field"),
            (json!({"tls_mode": "canary-value"}), "invalid_field"),
            (json!({"password": 12}), "invalid_field"),
            (json!({"host": "canary-value/x"}), "invalid_field"),
            (json!({"nonsense": "canary-value"}), "unknown_field"),
            (json!({"password": null}), "missing_field"),
        ];
        for (extra, code) in cases {
            let mut f = fields(base.clone());
            f.extend(fields(extra.clone()));
            let err = pg.validate_new(auth, &f).unwrap_err();
            assert_eq!(err.code(), code, "{extra}");
            assert_eq!(err.status(), 400);
            assert!(
                !err.public_message().contains("canary-value"),
                "{}",
                err.public_message()
            );
        }
    }

    #[test]
    fn patches_keep_omitted_secrets_and_drop_fields_of_the_old_auth_type() {
        let rest = catalog().connector("rest_api").unwrap();
        let basic = rest.auth_type(Some("basic")).unwrap();
        let stored = rest
            .validate_new(basic, &fields(json!({"username": "u", "password": "p", "base_url": "https://api.example.com"})))
            .unwrap();
        let names = stored.secrets.names();

        let rename = rest
            .validate_patch(
                basic,
                &stored.public,
                &names,
                &fields(json!({"username": "v"})),
            )
            .unwrap();
        assert!(!rename.touches_secrets(&names));
        assert_eq!(rename.changed, BTreeSet::from(["username".to_string()]));

        let bearer = rest.auth_type(Some("bearer")).unwrap();
        let switch = rest
            .validate_patch(
                bearer,
                &stored.public,
                &names,
                &fields(json!({"token": "t"})),
            )
            .unwrap();
        assert!(switch.touches_secrets(&names));
        assert_eq!(switch.secret_names, BTreeSet::from(["token".to_string()]));
        assert!(!switch.public.contains_key("username"));
        assert_eq!(
            switch.changed,
            BTreeSet::from([
                "password".to_string(),
                "token".to_string(),
                "username".to_string()
            ])
        );

        let err = rest
            .validate_patch(bearer, &stored.public, &names, &Map::new())
            .unwrap_err();
        assert_eq!(err.code(), "missing_field");
    }
}
