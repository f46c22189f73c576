//! The API's OpenAPI document, assembled from every function that serves HTTP routes.
//! `make openapi` writes it to `infra/openapi.json`, which the console function serves; the tests
//! below keep the file, the generator and the template's routes in agreement.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Assembled once per process: every test app's gateway checks answers against it.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        latchkey_shared::openapi::document([
            latchkey_credentials::openapi(),
            latchkey_sharing::openapi(),
            latchkey_test_connection::openapi(),
            latchkey_oauth::openapi(),
            latchkey_console::openapi(),
        ])
    });
    &DOCUMENT
}

/// The document as `infra/openapi.json` holds it: pretty, with a final newline.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(document()).expect("a JSON value serializes");
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

/// What the document allows each operation to answer, checked on every answer the local
/// gateway gives in the integration tests: a status the operation does not document, or an
/// error code its response does not list, fails the test that provoked it.
/// The console's pages (`functions/console`): a web app for browsers, not part of the API, so
/// the document leaves them out.
pub const CONSOLE_PAGES: &[&str] = &["/", "/console", "/console/{proxy+}"];

pub struct Contract {
    doc: &'static Value,
}

impl Contract {
    pub fn generated() -> Self {
        Self { doc: document() }
    }

    /// What is wrong with `status` and `body` as the answer of `method` on the template path
    /// `path`, or `None` when the document allows it.
    pub fn violation(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Option<String> {
        if CONSOLE_PAGES.contains(&path) {
            return None;
        }
        let op = &self.doc["paths"][path][method.to_ascii_lowercase()];
        let response = &op["responses"][status.to_string()];
        if response.is_null() {
            return Some(format!(
                "{method} {path} answered {status}, which the document does not list"
            ));
        }
        if status < 400 {
            return None;
        }
        let answered: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(code) = answered["error"]["code"].as_str() else {
            // API Gateway's own `{"message": ...}` (401 from the authorizer).
            let gateway_message = status == 401 && answered["message"].is_string();
            return (!gateway_message)
                .then(|| format!("{method} {path} answered {status} without an error code"));
        };
        let mut listed = Vec::new();
        codes_in(response, &mut listed);
        (!listed.iter().any(|c| c == code)).then(|| {
            format!("{method} {path} answered {status} `{code}`, which the document does not list for it (it lists {listed:?}): declare it on the handler's #[utoipa::path] and run make openapi")
        })
    }
}

/// The `error.code` enums of an error response's schema.
fn codes_in(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(codes)) = map
                .get("properties")
                .and_then(|p| p.get("error"))
                .and_then(|e| e.get("properties"))
                .and_then(|p| p.get("code"))
                .and_then(|c| c.get("enum"))
            {
                out.extend(codes.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            map.values().for_each(|v| codes_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| codes_in(v, out)),
        _ => {}
    }
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
            .filter(|r| !CONSOLE_PAGES.contains(&r.path.as_str()))
            .map(|r| (r.method, r.path))
            .collect();
        let documented = operations(document());
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
        let declared: usize = latchkey_shared::openapi::LINKS
            .iter()
            .map(|(_, _, links)| links.len())
            .sum();
        assert_eq!(targets.len(), declared, "links were dropped");
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
        walk(document(), "#");
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

    #[test]
    fn the_contract_names_undocumented_statuses_and_codes() {
        let contract = Contract::generated();
        let error = |code: &str| json!({ "error": { "code": code, "message": "m" } }).to_string();
        let check = |method, path, status, body: &str| {
            contract.violation(method, path, status, body.as_bytes())
        };
        assert_eq!(check("GET", "/credentials/{id}", 200, "{}"), None);
        assert_eq!(
            check("GET", "/credentials/{id}", 404, &error("not_found")),
            None
        );
        assert_eq!(
            check(
                "PATCH",
                "/credentials/{id}",
                412,
                &error("version_mismatch")
            ),
            None
        );
        assert_eq!(
            check("GET", "/credentials", 401, r#"{"message":"Unauthorized"}"#),
            None
        );
        assert!(check("GET", "/credentials/{id}", 418, "{}").is_some());
        assert!(check("GET", "/credentials/{id}", 409, &error("edit_conflict")).is_some());
        assert!(check("PATCH", "/credentials/{id}", 422, &error("not_a_code")).is_some());
        assert!(check("POST", "/credentials", 400, "{}").is_some());
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
                reachable(doc, &op["responses"], &mut BTreeSet::new(), &mut schemas);
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
