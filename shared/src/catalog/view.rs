//! `GET /connectors`: the catalog as a form needs it.

use super::*;

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
