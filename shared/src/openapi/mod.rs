//! The OpenAPI 3.1 document of the HTTP API, assembled from each function's annotated handlers
//! (`#[utoipa::path]` on the handler, its bodies the [`crate::api`] types) and the connector
//! catalog. `make openapi` writes it to `infra/openapi.json`; tests keep that file, the template's
//! routes and the handlers' answers in agreement.
//!
//! Conventions every operation shares are added here, once, rather than on each handler: the
//! bearer-JWT scheme, 401 `unauthenticated`, 500 `internal_error`, a bad `{id}` (400
//! `invalid_id`) or one the caller may not see (404 `not_found`), a weak role (403
//! `forbidden`), and a body that is not a JSON object (400 `invalid_json`/`invalid_body`, 413
//! `payload_too_large`). A handler's error responses name their codes in the description
//! (`description = "edit_conflict"`); here those become the response's `code` enum.

use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::catalog::{catalog, AuthType, Connector};

mod catalog_bodies;
mod links;

use catalog_bodies::{component, connector_id_schema, fields_schema, fields_schema_name, variants};
pub use catalog_bodies::{CatalogSchema, CredentialPatchBody, NewCredentialBody, UnsavedTestBody};
use links::add_links;
pub use links::{Link, LINKS};

/// The whole document: each function's operations, merged, with the shared conventions and the
/// catalog's field schemas.
pub fn document(parts: impl IntoIterator<Item = OpenApi>) -> Value {
    let mut merged = OpenApi::new(
        utoipa::openapi::Info::new("Latchkey", env!("CARGO_PKG_VERSION")),
        utoipa::openapi::Paths::new(),
    );
    for part in parts {
        merged.merge(part);
    }
    let mut doc = serde_json::to_value(&merged).expect("an OpenApi serializes");
    doc["info"] = json!({
        "title": "Latchkey",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Credentials for data platforms: create, share, test and keep fresh the authentication details of external systems. Secret fields are write-only: no response ever carries a secret value.",
        "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
    });
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A JWT from the stack's identity provider, verified by API Gateway; `sub`, `org_id` and `teams` name the caller.",
        }
    });
    doc["security"] = json!([{ "bearer": [] }]);
    doc["tags"] = json!([
        { "name": "connectors", "description": "What can be stored: connectors, auth types and their fields." },
        { "name": "credentials", "description": "Create, read, edit, delete and restore credentials; their history; refresh on demand." },
        { "name": "testing", "description": "Connection tests, of a saved credential (the verdict becomes its status) or of one being filled in." },
        { "name": "sharing", "description": "Who may use a credential, at which role; ownership." },
        { "name": "usages", "description": "The data sources and destinations that use a credential." },
        { "name": "oauth", "description": "Connecting and re-authenticating OAuth 2.0 authorization-code credentials through the provider." },
        { "name": "reference", "description": "This document and its reference page. Public." },
    ]);
    if !doc["components"]["schemas"].is_object() {
        doc["components"]["schemas"] = json!({});
    }
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("the handlers' bodies are components");
    for (c, a) in variants() {
        schemas.insert(fields_schema_name(c, a), fields_schema(c, a));
    }
    schemas.insert("ConnectorId".into(), connector_id_schema());
    for (name, schema) in [
        (NewCredentialBody::name(), NewCredentialBody::json_schema()),
        (UnsavedTestBody::name(), UnsavedTestBody::json_schema()),
        (
            CredentialPatchBody::name(),
            CredentialPatchBody::json_schema(),
        ),
    ] {
        schemas.insert(name.into_owned(), schema);
    }
    for (name, schema) in [
        (
            "ErrorBody",
            <crate::api::ErrorBody as PartialSchema>::schema(),
        ),
        (
            "ErrorDetail",
            <crate::api::ErrorDetail as PartialSchema>::schema(),
        ),
        (
            "GatewayMessage",
            <GatewayMessage as PartialSchema>::schema(),
        ),
    ] {
        schemas.insert(
            name.into(),
            serde_json::to_value(schema).expect("a schema serializes"),
        );
    }
    add_links(&mut doc);
    if !doc["paths"].is_object() {
        doc["paths"] = json!({});
    }
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, operation) in item.iter_mut() {
            add_conventions(path, operation);
        }
    }
    doc
}

/// The responses every operation shares, and each error response's `code` enum.
fn add_conventions(path: &str, op: &mut Value) {
    // A parameter is present or absent, never null: `Option<T>` means "not required".
    for param in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if param["name"] == "connector" {
            param["schema"] = component("ConnectorId");
        }
        drop_null(&mut param["schema"]);
    }
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(Map::is_empty)));
    let has_body = op.get("requestBody").is_some();
    let mut codes: Vec<(&str, &[&str])> = vec![("500", &["internal_error"])];
    if !public {
        codes.push(("401", &["unauthenticated"]));
    }
    if path.contains("{id}") {
        codes.push(("400", &["invalid_id"]));
        codes.push(("403", &["forbidden"]));
        codes.push(("404", &["not_found"]));
    }
    if has_body {
        codes.push(("400", &["invalid_json", "invalid_body"]));
        codes.push(("413", &["payload_too_large"]));
    }
    let responses = op["responses"].as_object_mut().expect("responses");
    for (status, response) in responses.iter_mut() {
        // What http::credential_response and http::error_response always send.
        if status.starts_with('2') && is_credential(response) {
            response["headers"]["ETag"] = json!({
                "description": "The credential's version, for If-Match.",
                "schema": { "type": "string" },
            });
        }
        if status == "429" {
            response["headers"]["Retry-After"] = json!({
                "description": "Seconds until the call is allowed again.",
                "schema": { "type": "integer", "format": "int64", "minimum": 0 },
            });
        }
        // A documented response header is always sent, unless its type is optional
        // (`Idempotent-Replayed`), and is never null.
        for header in response
            .get_mut("headers")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|h| h.values_mut())
        {
            let optional = drop_null(&mut header["schema"]);
            header["required"] = json!(!optional);
        }
    }
    for (status, more) in codes {
        let entry = responses
            .entry(status)
            .or_insert_with(|| json!({ "description": "" }));
        let mut known = declared_codes(entry);
        known.extend(more.iter().map(|c| c.to_string()));
        entry["description"] = json!(known.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    for (status, response) in responses.iter_mut() {
        if !status.starts_with(['4', '5']) {
            continue;
        }
        let known = declared_codes(response);
        let list: Vec<String> = known.iter().map(|c| format!("`{c}`")).collect();
        response["description"] = json!(format!("Error codes: {}.", list.join(", ")));
        let envelope = json!({
            "allOf": [
                component("ErrorBody"),
                { "properties": { "error": { "properties": { "code": { "enum": known } } } } },
            ]
        });
        // API Gateway's JWT authorizer answers 401 with `{"message": ...}`: documented beside
        // our envelope. (Its other own answers, 404 for unknown routes, 413 over 10 MB, 429
        // when throttled, 503/504 when a function fails or times out, are not per operation.)
        let body = if status == "401" {
            json!({ "oneOf": [envelope, component("GatewayMessage")] })
        } else {
            envelope
        };
        response["content"] = json!({ "application/json": { "schema": body } });
    }
}

/// The bodies that show one credential, which carry its version as the `ETag`.
const CREDENTIAL_BODIES: [&str; 3] = ["CredentialView", "CreatedCredential", "RefreshedCredential"];

fn is_credential(response: &Value) -> bool {
    let schema = &response["content"]["application/json"]["schema"]["$ref"];
    CREDENTIAL_BODIES
        .iter()
        .any(|name| schema.as_str() == Some(&format!("#/components/schemas/{name}")))
}

/// Drops `null` from a schema's type list (utoipa's `Option<T>`: a parameter or a header is
/// present or absent, never null); answers whether it was there.
fn drop_null(schema: &mut Value) -> bool {
    let Some(types) = schema["type"].as_array() else {
        return false;
    };
    let nullable = types.iter().any(|t| t == "null");
    let present: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    if let [only] = present.as_slice() {
        schema["type"] = only.clone();
    }
    nullable
}

/// The codes an error response's description names (`"edit_conflict, version_mismatch"`).
fn declared_codes(response: &Value) -> BTreeSet<String> {
    response["description"]
        .as_str()
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        .map(str::to_owned)
        .collect()
}

/// API Gateway's own answer body, as its JWT authorizer's 401 carries it.
#[derive(serde::Serialize, ToSchema)]
pub struct GatewayMessage {
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_variant_has_a_fields_schema_with_secrets_write_only() {
        let doc = document([]);
        for (c, a) in variants() {
            let schema = &doc["components"]["schemas"][fields_schema_name(c, a)];
            for (name, spec, _) in c.fields_of(a) {
                let field = &schema["properties"][name];
                assert_eq!(field["writeOnly"] == json!(true), spec.secret, "{name}");
            }
        }
    }
}
