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

/// A request body whose schema is built from the catalog as JSON (unions of constants that
/// utoipa's schema model does not express): the component is a placeholder that
/// [`document`] replaces with [`Self::json_schema`].
pub trait CatalogSchema: ToSchema {
    fn json_schema() -> Value;
}

fn placeholder() -> RefOr<Schema> {
    utoipa::openapi::schema::ObjectBuilder::new().build().into()
}

/// Declares a [`CatalogSchema`] body: a unit type for `#[utoipa::path(request_body = ...)]`,
/// named in the document as given, whose placeholder schema [`document`] replaces.
macro_rules! catalog_body {
    ($(#[$doc:meta])* $ty:ident as $name:literal) => {
        $(#[$doc])*
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                placeholder()
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                $name.into()
            }
        }
    };
}

/// The path of a component schema, for `$ref`.
fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// `Fields.<connector>.<auth type>`: the fields object of one connector and auth type.
fn fields_schema_name(connector: &Connector, auth: &AuthType) -> String {
    format!("Fields.{}.{}", connector.id, auth.id)
}

fn fields_schema(connector: &Connector, auth: &AuthType) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec, is_required) in connector.fields_of(auth) {
        properties.insert(name.to_owned(), spec.json_schema());
        if is_required {
            required.push(name);
        }
    }
    json!({
        "type": "object",
        "description": format!("The fields of a {} credential with auth type {}.", connector.label, auth.label),
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The connector ids of the catalog, for parameters that filter by connector.
fn connector_id_schema() -> Value {
    let ids: Vec<&str> = catalog().connectors.iter().map(|c| c.id.as_str()).collect();
    json!({ "type": "string", "enum": ids, "description": "A connector of `GET /connectors`." })
}

/// Every (connector, auth type) pair: the variants of a credential's request bodies.
fn variants() -> impl Iterator<Item = (&'static Connector, &'static AuthType)> {
    catalog()
        .connectors
        .iter()
        .flat_map(|c| c.auth_types.iter().map(move |a| (c, a)))
}

/// [`crate::domain::is_plain_text`] as a pattern: something besides white space, and no control
/// or bidirectional formatting characters (in text, line breaks and tabs are allowed).
const PLAIN_LINE: &str =
    r"^(?=.*\S)[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";
const PLAIN_TEXT: &str =
    r"^(?=[\s\S]*\S)[^\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";

/// The properties every create body has besides connector, auth type and fields.
fn credential_properties() -> Map<String, Value> {
    let text = |max: usize, description: &str| json!({ "type": "string", "minLength": 1, "maxLength": max, "description": description });
    let mut p = Map::new();
    let mut name = text(200, "Shown in lists; trimmed.");
    name["pattern"] = json!(PLAIN_LINE);
    p.insert("name".into(), name);
    p.insert(
        "description".into(),
        json!({ "type": ["string", "null"], "minLength": 1, "maxLength": 2000, "pattern": PLAIN_TEXT }),
    );
    p.insert(
        "tags".into(),
        json!({
            "type": "array", "maxItems": 50,
            "items": { "type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$" },
            "description": "Lowercased, sorted and deduplicated.",
        }),
    );
    p
}

/// A body discriminated by `connector` and `auth_type` (one variant per pair, `auth_type`
/// optional for the connector's default), each with its exact `fields`.
fn by_connector(extra: Map<String, Value>, description: &str) -> Value {
    let variants: Vec<Value> = variants()
        .map(|(c, a)| {
            let mut properties = extra.clone();
            properties.insert("connector".into(), json!({ "const": c.id }));
            properties.insert("auth_type".into(), json!({ "const": a.id }));
            properties.insert("fields".into(), component(&fields_schema_name(c, a)));
            let mut required: Vec<&str> = vec!["connector", "fields"];
            if extra.contains_key("name") {
                required.push("name");
            }
            if a.id != c.default_auth_type {
                required.push("auth_type");
            }
            json!({
                "title": format!("{} / {}", c.label, a.label),
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            })
        })
        .collect();
    json!({ "description": description, "oneOf": variants })
}

catalog_body! {
    /// `POST /credentials`.
    NewCredentialBody as "NewCredential"
}

impl CatalogSchema for NewCredentialBody {
    fn json_schema() -> Value {
        let mut extra = credential_properties();
        extra.insert(
            "test".into(),
            json!({ "type": "boolean", "default": false, "description": "Test the connection first; its verdict becomes the initial status (and counts against the test rate limit)." }),
        );
        by_connector(
            extra,
            "A new credential: a connector, an auth type and its fields. Secret fields are write-only.",
        )
    }
}

catalog_body! {
    /// `POST /credentials/test`.
    UnsavedTestBody as "UnsavedTest"
}

impl CatalogSchema for UnsavedTestBody {
    fn json_schema() -> Value {
        by_connector(
            Map::new(),
            "The connection details of a credential not yet saved; nothing is stored.",
        )
    }
}

catalog_body! {
    /// `PATCH /credentials/{id}`: what the stored credential's connector allows, so one schema.
    CredentialPatchBody as "CredentialPatch"
}

impl CatalogSchema for CredentialPatchBody {
    fn json_schema() -> Value {
        let mut properties = credential_properties();
        properties.insert(
            "auth_type".into(),
            json!({ "type": "string", "description": "Another auth type of the same connector." }),
        );
        properties.insert(
            "fields".into(),
            json!({
                "type": "object",
                "description": "Fields to change (see `Fields.<connector>.<auth type>`): omitted ones keep their values, `null` removes one. Secret fields are write-only; changing a locator field (see `GET /connectors`) needs the secret fields again (422 `secrets_required`).",
            }),
        );
        json!({
            "type": "object",
            "description": "Absent properties stay as they are; the connector cannot change.",
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

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

/// What a client can do next with an answer: OpenAPI links, which generated clients and
/// stateful testers (schemathesis) follow: create, read, edit with the `ETag`, test, share,
/// delete, restore.
/// `(link name, target operation, [(parameter, runtime expression)])`.
pub type Link = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub const LINKS: &[(&str, &str, &[Link])] = {
    const ID: (&str, &str) = ("id", "$response.body#/id");
    const SAME: (&str, &str) = ("id", "$request.path.id");
    const ETAG: (&str, &str) = ("header.If-Match", "$response.header.ETag");
    &[
        (
            "createCredential",
            "201",
            &[
                ("GetCredential", "getCredential", &[ID]),
                ("UpdateCredential", "updateCredential", &[ID, ETAG]),
                ("TestCredential", "testCredential", &[ID]),
                ("ListAccessors", "listAccessors", &[ID]),
                ("GrantAccess", "grantAccess", &[ID]),
                ("AttachUsage", "attachUsage", &[ID]),
                ("GetHistory", "getCredentialHistory", &[ID]),
                ("DeleteCredential", "deleteCredential", &[ID, ETAG]),
            ],
        ),
        (
            "getCredential",
            "200",
            &[
                ("UpdateCredential", "updateCredential", &[SAME, ETAG]),
                ("DeleteCredential", "deleteCredential", &[SAME, ETAG]),
            ],
        ),
        (
            "updateCredential",
            "200",
            &[
                ("TestCredential", "testCredential", &[SAME]),
                ("DeleteCredential", "deleteCredential", &[SAME, ETAG]),
            ],
        ),
        (
            "deleteCredential",
            "200",
            &[
                ("RestoreCredential", "restoreCredential", &[SAME]),
                ("GetHistory", "getCredentialHistory", &[SAME]),
            ],
        ),
        (
            "restoreCredential",
            "200",
            &[("GetCredential", "getCredential", &[SAME])],
        ),
        (
            "grantAccess",
            "201",
            &[(
                "RevokeAccess",
                "revokeAccess",
                &[
                    SAME,
                    ("type", "$request.path.type"),
                    ("pid", "$request.path.pid"),
                ],
            )],
        ),
        (
            "attachUsage",
            "201",
            &[(
                "DetachUsage",
                "detachUsage",
                &[
                    SAME,
                    ("kind", "$response.body#/kind"),
                    ("rid", "$response.body#/resource_id"),
                ],
            )],
        ),
    ]
};

fn add_links(doc: &mut Value) {
    for (from, status, links) in LINKS {
        // Each function's part is also documented alone; the whole document's test checks
        // that both ends of every link exist.
        let Some(response) = doc["paths"]
            .as_object_mut()
            .into_iter()
            .flat_map(|paths| paths.values_mut())
            .flat_map(|item| {
                item.as_object_mut()
                    .into_iter()
                    .flat_map(|i| i.values_mut())
            })
            .find(|op| op["operationId"] == *from)
            .map(|op| &mut op["responses"][*status])
        else {
            continue;
        };
        for (name, to, parameters) in links.iter() {
            let parameters: Map<String, Value> = parameters
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            response["links"][*name] = json!({ "operationId": to, "parameters": parameters });
        }
    }
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
