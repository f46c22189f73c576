//! The API's OpenAPI document, assembled from every function that serves HTTP routes.
//! `make openapi` writes it to `infra/openapi.json`, which the console function serves; the tests
//! below keep the file, the generator and the template's routes in agreement.

use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn document() -> Value {
    latchkey_shared::openapi::document([
        latchkey_credentials::openapi(),
        latchkey_sharing::openapi(),
        latchkey_test_connection::openapi(),
        latchkey_oauth::openapi(),
        latchkey_console::openapi(),
    ])
}

/// The document as `infra/openapi.json` holds it: pretty, with a final newline.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("a JSON value serializes");
    text.push('\n');
    text
}

pub fn checked_in_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/openapi.json")
}

/// `(METHOD, path)` of every operation in a document.
pub fn operations(doc: &Value) -> std::collections::BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(method, _)| {
                    ["get", "put", "post", "patch", "delete"].contains(&method.as_str())
                })
                .map(move |(method, _)| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;
    use serde_json::json;
    use std::collections::BTreeSet;

    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let checked_in = std::fs::read_to_string(checked_in_path()).unwrap_or_default();
        assert!(
            checked_in == render(),
            "infra/openapi.json differs from what the code generates: run `make openapi` and commit it"
        );
    }

    #[test]
    fn the_document_has_exactly_the_template_routes() {
        let template: BTreeSet<(String, String)> = Template::load()
            .expect("template")
            .routes()
            .into_iter()
            .map(|r| (r.method, r.path))
            .collect();
        let documented = operations(&document());
        let undocumented: Vec<_> = template.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&template).collect();
        assert!(
            undocumented.is_empty(),
            "template routes missing from the document: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented paths the template does not route: {unrouted:?}"
        );
    }

    #[test]
    fn every_link_joins_two_documented_operations() {
        let doc = document();
        let mut ids = BTreeSet::new();
        let mut targets = Vec::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("operations").values() {
                ids.insert(op["operationId"].as_str().expect("operationId").to_owned());
                for response in op["responses"].as_object().expect("responses").values() {
                    for (_, link) in response["links"].as_object().into_iter().flatten() {
                        targets.push(link["operationId"].as_str().unwrap_or("").to_owned());
                    }
                }
            }
        }
        // As many as latchkey_shared::openapi's table declares: none was dropped.
        assert_eq!(targets.len(), 17, "links were dropped");
        for target in targets {
            assert!(
                ids.contains(&target),
                "a link to an unknown operation {target}"
            );
        }
    }

    /// Where a schema says both `type` and `enum`, every value has one of those types. (The
    /// catalog's `locator` was documented as an object whose values were `true` and a string;
    /// schemathesis caught every `GET /connectors` answer violating it.)
    #[test]
    fn enum_values_have_the_schema_type() {
        fn json_type(v: &Value) -> &'static str {
            match v {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            }
        }
        fn walk(v: &Value, at: &str) {
            match v {
                Value::Object(map) => {
                    if let (Some(types), Some(Value::Array(values))) =
                        (map.get("type"), map.get("enum"))
                    {
                        let allowed: Vec<&str> = match types {
                            Value::String(t) => vec![t.as_str()],
                            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                            _ => vec![],
                        };
                        for value in values {
                            let t = json_type(value);
                            let ok = allowed.contains(&t)
                                || (t == "integer" && allowed.contains(&"number"));
                            assert!(ok, "{at}: enum value {value} is not of type {types}");
                        }
                    }
                    for (k, child) in map {
                        walk(child, &format!("{at}/{k}"));
                    }
                }
                Value::Array(items) => items.iter().for_each(|c| walk(c, at)),
                _ => {}
            }
        }
        walk(&document(), "#");
    }

    /// The bodies built from the catalog are in the document, not the placeholder utoipa sees:
    /// one variant per connector and auth type, each naming its exact fields schema.
    #[test]
    fn credential_bodies_have_a_variant_per_connector_and_auth_type() {
        let doc = document();
        let pairs: usize = latchkey_shared::catalog::catalog()
            .connectors
            .iter()
            .map(|c| c.auth_types.len())
            .sum();
        for body in ["NewCredential", "UnsavedTest"] {
            let variants = doc["components"]["schemas"][body]["oneOf"]
                .as_array()
                .unwrap_or_else(|| panic!("{body} is not a union"));
            assert_eq!(variants.len(), pairs, "{body}");
            for v in variants {
                let fields = v["properties"]["fields"]["$ref"]
                    .as_str()
                    .unwrap_or_default();
                let name = fields.trim_start_matches("#/components/schemas/");
                assert!(
                    doc["components"]["schemas"][name]["properties"].is_object(),
                    "{body}: {fields}"
                );
            }
        }
    }

    /// Every schema a response can reach, following `$ref`s.
    fn reachable(doc: &Value, from: &Value, seen: &mut BTreeSet<String>, out: &mut Vec<Value>) {
        match from {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let name = r.trim_start_matches("#/components/schemas/").to_owned();
                    if seen.insert(name.clone()) {
                        reachable(doc, &doc["components"]["schemas"][&name], seen, out);
                    }
                }
                out.push(from.clone());
                for v in map.values() {
                    reachable(doc, v, seen, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| reachable(doc, v, seen, out)),
            _ => {}
        }
    }

    #[test]
    fn no_response_schema_can_hold_a_secret() {
        let doc = document();
        let secret_names: BTreeSet<&str> = latchkey_shared::catalog::catalog()
            .connectors
            .iter()
            .flat_map(|c| {
                c.fields
                    .iter()
                    .filter(|(_, s)| s.secret)
                    .map(|(n, _)| n.as_str())
            })
            .collect();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                let mut schemas = Vec::new();
                reachable(&doc, &op["responses"], &mut BTreeSet::new(), &mut schemas);
                for schema in schemas {
                    assert_ne!(
                        schema.get("writeOnly"),
                        Some(&json!(true)),
                        "{method} {path}"
                    );
                    // A property named like a secret field may only be a structure (the
                    // `token` block shows a token's state), never a value.
                    let named: Vec<&String> = schema
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|p| {
                            p.iter()
                                .filter(|(k, v)| {
                                    secret_names.contains(k.as_str())
                                        && v.to_string().contains(r#""string""#)
                                })
                                .map(|(k, _)| k)
                                .collect()
                        })
                        .unwrap_or_default();
                    assert!(named.is_empty(), "{method} {path} answers {named:?}");
                }
            }
        }
    }
}
