//! A field's rules as JSON Schema for the OpenAPI document.

use super::*;

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
