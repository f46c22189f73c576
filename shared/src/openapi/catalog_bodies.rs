//! Request bodies built from the connector catalog: one variant per connector and auth type,
//! each with its `Fields.<connector>.<auth type>` schema.

use super::*;

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
pub(super) fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// `Fields.<connector>.<auth type>`: the fields object of one connector and auth type.
pub(super) fn fields_schema_name(connector: &Connector, auth: &AuthType) -> String {
    format!("Fields.{}.{}", connector.id, auth.id)
}

pub(super) fn fields_schema(connector: &Connector, auth: &AuthType) -> Value {
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
pub(super) fn connector_id_schema() -> Value {
    let ids: Vec<&str> = catalog().connectors.iter().map(|c| c.id.as_str()).collect();
    json!({ "type": "string", "enum": ids, "description": "A connector of `GET /connectors`." })
}

/// Every (connector, auth type) pair: the variants of a credential's request bodies.
pub(super) fn variants() -> impl Iterator<Item = (&'static Connector, &'static AuthType)> {
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
    p.insert(
        "health_check".into(),
        json!({ "type": "boolean", "description": "Whether the scheduled health check re-tests it (default true; credentials whose tokens the service refreshes are never checked)." }),
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
