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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// One or more PEM `CERTIFICATE` blocks (a CA to trust): public, never a private key.
    PemCertificates,
    /// An AWS region name (`eu-central-1`): it becomes part of a host name.
    AwsRegion,
    /// A Snowflake-style account identifier: put into a host name, so nothing that could end or
    /// extend one (`/`, `:`, `@`, `#`, `..`).
    AccountIdentifier,
    /// HTTP headers sent with every request: valid names and values, and never one that
    /// carries credentials or reroutes the request (the auth type owns those).
    Headers,
}

/// Headers the `headers` field may not set: the auth type owns the credential-bearing ones, and
/// `Host` would send the request (and its credentials) to another virtual host.
const RESERVED_HEADERS: [&str; 4] = ["host", "authorization", "proxy-authorization", "cookie"];

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
    /// Whether the field decides where the secrets go or how they are protected on the way.
    /// Changing it requires the secret fields the user supplies again, so that someone who may
    /// edit but does not know the secrets cannot send them to a host of their choosing.
    #[serde(default)]
    pub locator: Locator,
    /// A secret the service obtains and keeps (tokens from a provider), never asked of a user:
    /// a locator change drops it instead of demanding it.
    #[serde(default)]
    pub held_by_service: bool,
}

/// `"locator": true` (any change, removal included) or `"locator": "weakening"` (an enum whose
/// `values` run from weakest to strongest protection: only a move to a weaker one counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Locator {
    #[default]
    No,
    Any,
    Weakening,
}

impl<'de> Deserialize<'de> for Locator {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(false) => Ok(Locator::No),
            Value::Bool(true) => Ok(Locator::Any),
            Value::String(s) if s == "weakening" => Ok(Locator::Weakening),
            _ => Err(serde::de::Error::custom(
                "locator is true, false or \"weakening\"",
            )),
        }
    }
}

impl FieldSpec {
    /// Whether going from `before` to `after` (either absent) moves where or how secrets go.
    pub fn moves_secrets(&self, before: Option<&Value>, after: Option<&Value>) -> bool {
        match self.locator {
            Locator::No => false,
            Locator::Any => before != after,
            Locator::Weakening => {
                let rank = |v: Option<&Value>| {
                    let values = self.values.as_deref().unwrap_or_default();
                    v.and_then(Value::as_str)
                        .and_then(|s| values.iter().position(|a| a == s))
                };
                match (rank(before), rank(after)) {
                    (Some(b), Some(a)) => a < b,
                    (None, None) => false,
                    _ => before != after,
                }
            }
        }
    }
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
    /// Service-held tokens dropped because the credential now points somewhere else.
    pub dropped_tokens: bool,
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
            .about(["connector"])
        })
    }

    /// The catalog as `GET /connectors` serves it: per auth type, the fields in form order.
    pub fn describe(&self) -> ConnectorList {
        let connectors = self
            .connectors
            .iter()
            .map(|c| ConnectorView {
                id: c.id.clone(),
                label: c.label.clone(),
                description: c.description.clone(),
                default_auth_type: c.default_auth_type.clone(),
                auth_types: c
                    .auth_types
                    .iter()
                    .map(|a| AuthTypeView {
                        id: a.id.clone(),
                        label: a.label.clone(),
                        fields: c
                            .fields_of(a)
                            .map(|(name, spec, required)| FieldView {
                                name: name.to_owned(),
                                label: spec.label.clone(),
                                kind: spec.kind,
                                required,
                                secret: spec.secret,
                                default: spec.default.clone(),
                                description: spec.description.clone(),
                                values: spec.values.clone(),
                                locator: match spec.locator {
                                    Locator::No => None,
                                    Locator::Any => Some(Value::Bool(true)),
                                    Locator::Weakening => Some(Value::from("weakening")),
                                },
                                held_by_service: spec.held_by_service.then_some(true),
                                min: spec.min,
                                max: spec.max,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        ConnectorList { connectors }
    }
}

fn locator_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .enum_values(Some([json!(true), json!("weakening")]))
        .build()
}

/// `GET /connectors`: what a form needs to ask for each connector and auth type.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorList {
    pub connectors: Vec<ConnectorView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorView {
    pub id: String,
    pub label: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// Used when a create names no `auth_type`.
    pub default_auth_type: String,
    pub auth_types: Vec<AuthTypeView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthTypeView {
    pub id: String,
    pub label: String,
    /// In form order: required first.
    pub fields: Vec<FieldView>,
}

/// One field of a connector and auth type. The exact rules of each field are also in the
/// OpenAPI document's `Fields.<connector>.<auth type>` schemas.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
    /// Secret fields are write-only: a credential shows only that they are set.
    pub secret: bool,
    /// The value used when the field is left out.
    #[schema(required = true)]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub description: Option<String>,
    /// `enum` fields: the allowed values.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub values: Option<Vec<String>>,
    /// `true`: changing it requires the secret fields again; `"weakening"`: only a change to a
    /// weaker value does.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false, schema_with = locator_schema)]
    pub locator: Option<Value>,
    /// A secret the service obtains itself (tokens); never asked of a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub held_by_service: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub max: Option<i64>,
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
            .about(["auth_type"])
        })
    }

    pub fn spec(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.get(name)
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
            )
            .about(missing.iter().map(|n| format!("fields.{n}"))))
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
        self.apply_defaults(auth, &mut public);
        let moved: Vec<&str> = self
            .fields
            .iter()
            .filter(|(n, spec)| spec.moves_secrets(stored_public.get(*n), public.get(*n)))
            .map(|(n, _)| n.as_str())
            .collect();
        let mut dropped_tokens = false;
        if !moved.is_empty() {
            let unsupplied: Vec<&str> = secret_names
                .iter()
                .filter(|n| !new_secrets.0.contains_key(*n))
                .filter(|n| !self.spec(n).is_some_and(|s| s.held_by_service))
                .map(String::as_str)
                .collect();
            if !unsupplied.is_empty() {
                return Err(ApiError::unprocessable(
                    "secrets_required",
                    format!(
                        "changing {} changes where the secrets go or how they are protected; supply {} again in the same request",
                        moved.join(", "),
                        unsupplied.join(", ")
                    ),
                )
                .about(unsupplied.iter().map(|n| format!("fields.{n}"))));
            }
            // Tokens a provider issued for the old destination mean nothing at the new one.
            let held: Vec<String> = secret_names
                .iter()
                .filter(|n| !new_secrets.0.contains_key(*n))
                .filter(|n| self.spec(n).is_some_and(|s| s.held_by_service))
                .cloned()
                .collect();
            for name in held {
                secret_names.remove(&name);
                changed.insert(name);
                dropped_tokens = true;
            }
        }
        Ok(FieldChanges {
            public,
            new_secrets,
            secret_names,
            changed,
            dropped_tokens,
        })
    }
}

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

impl FieldSpec {
    /// The field's rules as a JSON Schema (OpenAPI 3.1) for the API document: the same limits
    /// [`normalise`] enforces, read from the same spec. Secret fields are `writeOnly`.
    pub fn json_schema(&self) -> Value {
        let max_len = self.max_length.unwrap_or(match self.kind {
            FieldType::Text | FieldType::PemCertificates => TEXT_MAX_LENGTH,
            _ => DEFAULT_MAX_LENGTH,
        });
        // A non-empty string within the length limit, with what the type adds.
        let text = |extra: Value| {
            let mut s = json!({ "type": "string", "minLength": 1, "maxLength": max_len });
            if let (Value::Object(s), Value::Object(extra)) = (&mut s, extra) {
                s.extend(extra);
            }
            s
        };
        let mut schema = if self.secret {
            text(json!({ "writeOnly": true }))
        } else {
            match self.kind {
                FieldType::String | FieldType::Text => text(json!({})),
                FieldType::Hostname => text(json!({ "format": "hostname" })),
                FieldType::Url => {
                    text(json!({ "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://" }))
                }
                FieldType::PemCertificates => {
                    text(json!({ "pattern": "-----BEGIN CERTIFICATE-----" }))
                }
                FieldType::AwsRegion => text(json!({ "pattern": "^[a-z][a-z0-9-]*$" })),
                FieldType::AccountIdentifier => text(json!({
                    "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*$"
                })),
                FieldType::Integer => {
                    let mut s = json!({ "type": "integer" });
                    if let Some(min) = self.min {
                        s["minimum"] = json!(min);
                    }
                    if let Some(max) = self.max {
                        s["maximum"] = json!(max);
                    }
                    s
                }
                FieldType::Boolean => json!({ "type": "boolean" }),
                FieldType::Enum => json!({ "type": "string", "enum": self.values }),
                FieldType::StringList => json!({
                    "type": "array", "maxItems": MAX_LIST_ITEMS, "items": text(json!({})),
                }),
                FieldType::Headers => json!({
                    "type": "object",
                    "maxProperties": MAX_LIST_ITEMS,
                    "propertyNames": { "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
                    "additionalProperties": { "type": "string", "minLength": 1, "pattern": "^[\\t\\x20-\\x7e]+$" },
                    "description": format!("Not one of: {}.", RESERVED_HEADERS.join(", ")),
                }),
            }
        };
        let mut description = self.label.clone();
        if let Some(d) = &self.description {
            description = format!("{description}. {d}");
        }
        if let Some(extra) = schema.get("description").and_then(Value::as_str) {
            description = format!("{description} {extra}");
        }
        schema["description"] = json!(description);
        if let Some(default) = &self.default {
            schema["default"] = default.clone();
        }
        schema
    }
}

/// Checks one value against its spec. Error messages name the field and the rule, never the value.
fn normalise(name: &str, spec: &FieldSpec, value: &Value) -> Result<Normalised, ApiError> {
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

    /// Two different valid values of a field, for tests driven by the catalog. For enums, the
    /// strongest value first and the weakest second (a weakening locator's downgrade).
    fn two_values(spec: &FieldSpec) -> (Value, Value) {
        match spec.kind {
            FieldType::String | FieldType::Text => (json!("value-a"), json!("value-b")),
            FieldType::Url => (
                json!("https://a.example.com/x"),
                json!("https://b.example.com/x"),
            ),
            FieldType::Hostname => (json!("a.example.com"), json!("b.example.com")),
            FieldType::Integer => (json!(1000), json!(1001)),
            FieldType::Boolean => (json!(true), json!(false)),
            FieldType::Enum => {
                let values = spec.values.as_deref().unwrap_or_default();
                (json!(values[values.len() - 1]), json!(values[0]))
            }
            FieldType::StringList => (json!(["a"]), json!(["b"])),
            FieldType::AccountIdentifier => (json!("acme-one"), json!("acme-two")),
            FieldType::AwsRegion => (json!("eu-central-1"), json!("us-east-1")),
            FieldType::PemCertificates => (
                json!("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"),
                json!("-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n"),
            ),
            FieldType::Headers => (json!({"X-A": "1"}), json!({"X-B": "2"})),
        }
    }

    /// Issue 11, item 2, from the catalog itself: for every connector, auth type and locator
    /// field, changing (or removing) it without the user's secrets is refused; with them it is
    /// accepted; and service-held tokens are never demanded but dropped.
    #[test]
    fn every_locator_of_every_connector_needs_the_secrets_again() {
        let mut checked = 0;
        for conn in &catalog().connectors {
            for auth in &conn.auth_types {
                let usable: Vec<(&str, &FieldSpec, bool)> = conn.fields_of(auth).collect();
                let mut stored = Map::new();
                for (name, spec, _) in &usable {
                    stored.insert(name.to_string(), two_values(spec).0);
                }
                let valid = conn
                    .validate_new(auth, &stored)
                    .unwrap_or_else(|e| panic!("{}/{}: {}", conn.id, auth.id, e.public_message()));
                let names = valid.secrets.names();
                let user_secrets: Map<String, Value> = usable
                    .iter()
                    .filter(|(_, s, _)| s.secret && !s.held_by_service)
                    .map(|(n, _, _)| (n.to_string(), json!("re-entered")))
                    .collect();
                for (name, spec, required) in &usable {
                    if spec.locator == Locator::No {
                        continue;
                    }
                    let mut changes = vec![two_values(spec).1];
                    if !required {
                        changes.push(Value::Null);
                    }
                    for change in changes {
                        let label = format!("{}/{}: {name} -> {change}", conn.id, auth.id);
                        let patch = fields(json!({ *name: change.clone() }));
                        let result = conn.validate_patch(auth, &valid.public, &names, &patch);
                        if user_secrets.is_empty() {
                            assert!(result.is_ok(), "{label}: no secret to protect");
                            continue;
                        }
                        let err = result.expect_err(&label);
                        assert_eq!(err.code(), "secrets_required", "{label}");
                        assert!(err.public_message().contains(name), "{label}");
                        let message = err.public_message();
                        let demanded = message.split("; supply ").nth(1).unwrap_or_default();
                        for held in ["access_token", "refresh_token"] {
                            assert!(!demanded.contains(held), "{label}: {held} demanded");
                        }
                        let mut with = user_secrets.clone();
                        with.insert(name.to_string(), change.clone());
                        let ok = conn
                            .validate_patch(auth, &valid.public, &names, &with)
                            .unwrap_or_else(|e| panic!("{label}: {}", e.public_message()));
                        let held_before = names
                            .iter()
                            .any(|n| conn.spec(n).is_some_and(|s| s.held_by_service));
                        assert_eq!(ok.dropped_tokens, held_before, "{label}");
                        assert!(
                            ok.secret_names
                                .iter()
                                .all(|n| !conn.spec(n).is_some_and(|s| s.held_by_service)),
                            "{label}: tokens for the old destination kept"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 40, "only {checked} locator changes checked");
    }

    #[test]
    fn urls_never_carry_credentials_and_accounts_are_identifiers() {
        let rest = catalog().connector("rest_api").unwrap();
        let auth = rest.auth_type(Some("bearer")).unwrap();
        let with_url = |url: &str| {
            rest.validate_new(auth, &fields(json!({"token": "t", "validation_url": url})))
        };
        assert!(with_url("https://api.example.com/me?fields=id&limit=1").is_ok());
        for url in [
            "https://user:canary@api.example.com/me",
            "https://user@api.example.com/me",
            "https://api.example.com/me?api_key=canary",
            "https://api.example.com/me?X-Amz-Signature=canary",
            "https://api.example.com/me?access-token=canary",
            "https://api.example.com/me?a=1&Client_Secret=canary",
        ] {
            let err = with_url(url).unwrap_err();
            assert_eq!((err.status(), err.code()), (422, "secret_in_url"), "{url}");
            assert!(err.public_message().contains("`validation_url`"));
            assert!(!err.public_message().contains("canary"));
        }
        let snow = catalog().connector("snowflake").unwrap();
        let auth = snow.auth_type(None).unwrap();
        let account = |a: &str| {
            snow.validate_new(
                auth,
                &fields(json!({"account": a, "username": "u", "password": "p"})),
            )
        };
        assert!(account("xy12345.eu-central-1").is_ok());
        assert!(account("myorg-myaccount").is_ok());
        for bad in [
            "evil.com/x",
            "a@b",
            "acct#",
            "acct:443",
            "a..b",
            ".a",
            "a.",
            "a b",
        ] {
            let err = account(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_field", "{bad}");
            assert!(err.public_message().contains("`account`"), "{bad}");
        }
        let s3 = catalog().connector("s3").unwrap();
        let auth = s3.auth_type(None).unwrap();
        let region = |r: &str| {
            s3.validate_new(auth, &fields(json!({"access_key_id": "AKIA", "secret_access_key": "s", "bucket": "b", "region": r})))
        };
        assert!(region("eu-central-1").is_ok());
        for bad in [
            "evil.example/x",
            "us-east-1.attacker",
            "US-EAST-1",
            "-x",
            "a b",
        ] {
            assert_eq!(region(bad).unwrap_err().code(), "invalid_field", "{bad}");
        }
    }

    #[test]
    fn tls_upgrades_need_no_secrets_but_downgrades_do() {
        let pg = catalog().connector("postgres").unwrap();
        let auth = pg.auth_type(None).unwrap();
        let stored = pg
            .validate_new(auth, &fields(json!({"host": "db", "database": "d", "username": "u", "password": "p", "tls_mode": "require"})))
            .unwrap();
        let names = stored.secrets.names();
        let patch = |mode: &str| {
            pg.validate_patch(
                auth,
                &stored.public,
                &names,
                &fields(json!({"tls_mode": mode})),
            )
        };
        assert!(patch("verify-full").is_ok());
        assert!(patch("verify-ca").is_ok());
        for weaker in ["prefer", "disable"] {
            assert_eq!(
                patch(weaker).unwrap_err().code(),
                "secrets_required",
                "{weaker}"
            );
        }
        // Removing it falls back to the default, prefer: a downgrade too.
        let removed = pg.validate_patch(
            auth,
            &stored.public,
            &names,
            &fields(json!({"tls_mode": null})),
        );
        assert_eq!(removed.unwrap_err().code(), "secrets_required");
    }

    #[test]
    fn headers_are_valid_http_and_never_carry_credentials_or_reroute() {
        let rest = catalog().connector("rest_api").unwrap();
        let auth = rest.auth_type(Some("bearer")).unwrap();
        let with = |headers: Value| {
            rest.validate_new(auth, &fields(json!({"token": "t", "headers": headers})))
        };
        assert!(with(json!({"X-Tenant": "acme", "Accept": "application/json"})).is_ok());
        for bad in [
            json!({"Host": "internal.example"}),
            json!({"authorization": "Bearer other"}),
            json!({"Proxy-Authorization": "x"}),
            json!({"Cookie": "session=1"}),
            json!({"X-Bad": "a\r\nHost: evil"}),
            json!({"Bad Name": "x"}),
            json!({"X-Empty": ""}),
            json!({"X-Number": 5}),
        ] {
            let err = with(bad.clone()).unwrap_err();
            assert_eq!(err.code(), "invalid_field", "{bad}");
            assert!(err.public_message().contains("`headers`"), "{bad}");
        }
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

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                ".{0,24}",
                "https?://[a-z]{1,8}(\\.example)?\\.com(:[0-9]{1,5})?/[a-z0-9?=&_%-]{0,16}",
                "[a-zA-Z0-9._-]{1,12}",
                "-----BEGIN [A-Z ]{1,16}-----\n[A-Za-z0-9+/=]{0,20}\n-----END [A-Z ]{1,16}-----",
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(2, 16, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(text(), inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// Any value for any field of any connector: a verdict, never a panic; and what a
            /// field accepts, it accepts again unchanged (the stored form is a fixed point).
            #[test]
            fn field_validation_never_panics_and_is_a_fixed_point(value in json_value()) {
                for conn in &catalog().connectors {
                    for (name, spec) in &conn.fields {
                        if let Ok(Normalised::Public(stored)) = normalise(name, spec, &value) {
                            let again = normalise(name, spec, &stored);
                            prop_assert!(
                                matches!(&again, Ok(Normalised::Public(v)) if *v == stored),
                                "{}.{name}: {stored}", conn.id
                            );
                        }
                    }
                }
            }
        }
    }
}
