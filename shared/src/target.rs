//! What a credential connects to, saved or not: its connector, auth type, fields and secret
//! fields. The testers and the OAuth token flows read it.

use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use crate::catalog::SecretFields;

/// A credential to test, saved or not: its connector, auth type and fields.
pub struct Target<'a> {
    pub connector: &'a str,
    pub auth_type: &'a str,
    pub fields: &'a Map<String, Value>,
    pub secrets: &'a SecretFields,
}

impl<'a> Target<'a> {
    /// A saved credential with its secret fields.
    pub fn of(record: &'a crate::record::CredentialRecord, secrets: &'a SecretFields) -> Self {
        Target {
            connector: &record.connector,
            auth_type: &record.auth_type,
            fields: &record.fields,
            secrets,
        }
    }
}

impl Target<'_> {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
    pub(crate) fn secret(&self, name: &str) -> Option<&str> {
        self.secrets.0.get(name).map(|s| s.expose_secret())
    }
    pub(crate) fn port(&self, default: u16) -> u16 {
        self.fields
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(default)
    }
}
