//! The connector catalog: which connectors exist, their auth types and fields. Declared as data in
//! `catalog/connectors.json`; this module only interprets it, to validate input, to split secret
//! from non-secret fields and to describe itself on `GET /connectors`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::error::ApiError;

mod connector;
#[cfg(test)]
mod field_tests;
mod normalise;
mod schema;
#[cfg(test)]
mod tests;
mod view;

pub use normalise::echoable_name;
use normalise::{normalise, Normalised};
pub use view::{AuthTypeView, ConnectorList, ConnectorView, FieldView};

const DEFAULT_MAX_LENGTH: usize = 2048;
const TEXT_MAX_LENGTH: usize = 16 * 1024;
const MAX_LIST_ITEMS: usize = 100;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let catalog: Catalog = serde_json::from_str(include_str!("../../catalog/connectors.json"))
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

    /// The fields as both secret stores keep them: one JSON object of strings, in a buffer
    /// overwritten when dropped.
    pub fn to_json(&self) -> Result<SecretString, serde_json::Error> {
        use secrecy::ExposeSecret;
        let exposed: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        Ok(SecretString::from(serde_json::to_string(&exposed)?))
    }

    /// The fields from the form [`SecretFields::to_json`] writes.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        let map: BTreeMap<String, String> = serde_json::from_slice(json)?;
        Ok(Self(
            map.into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        ))
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
