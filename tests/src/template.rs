//! Reads `infra/template.yaml`, the one source of truth for what the local stack provisions and
//! which routes the local API serves. Only the intrinsics the template uses are resolved;
//! anything else fails loudly rather than provisioning something different from AWS.

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml")
}

#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// One `HttpApi` event of a function: what API Gateway routes to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
    /// `Auth: { Authorizer: NONE }`: reachable without a token (the OAuth callback).
    pub public: bool,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`), which names the handler.
    pub binary: String,
    pub environment: BTreeMap<String, String>,
}

/// How this local stack names what CloudFormation would name.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub parameters: BTreeMap<String, String>,
    /// What the emulator assigned when provisioning: `Queue` (a `!Ref`: its URL) and
    /// `Queue.Arn` (a `!GetAtt`).
    pub assigned: BTreeMap<String, String>,
}

impl Template {
    pub fn load() -> Result<Self, String> {
        let path = template_path();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let root = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { root })
    }

    pub fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root["Resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// A resource's declaration (`Null` when there is none).
    pub fn resource(&self, logical_id: &str) -> &Value {
        &self.root["Resources"][logical_id]
    }

    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources()
            .filter(move |(_, r)| r["Type"].as_str() == Some(kind))
    }

    /// Parameter defaults, overridden by `overrides`.
    pub fn parameters(&self, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in self.root["Parameters"].as_mapping().into_iter().flatten() {
            if let (Some(name), Some(default)) = (k.as_str(), scalar(&v["Default"])) {
                out.insert(name.to_owned(), default);
            }
        }
        out.extend(overrides.clone());
        out
    }

    /// Every HTTP API route, in template order.
    pub fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        for (logical_id, resource) in self.resources_of_type("AWS::Serverless::Function") {
            for (_, event) in resource["Properties"]["Events"]
                .as_mapping()
                .into_iter()
                .flatten()
            {
                if event["Type"].as_str() == Some("HttpApi") {
                    let p = &event["Properties"];
                    routes.push(Route {
                        method: p["Method"]
                            .as_str()
                            .unwrap_or_default()
                            .to_ascii_uppercase(),
                        path: p["Path"].as_str().unwrap_or_default().to_owned(),
                        function: logical_id.to_owned(),
                        public: p["Auth"]["Authorizer"].as_str() == Some("NONE"),
                    });
                }
            }
        }
        routes
    }

    pub fn functions(&self, stack: &Stack) -> Result<Vec<Function>, String> {
        let globals = &self.root["Globals"]["Function"]["Environment"]["Variables"];
        self.resources_of_type("AWS::Serverless::Function")
            .map(|(logical_id, resource)| {
                let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .ok_or_else(|| format!("{logical_id} has no Metadata.BuildProperties.Binary"))?
                    .to_owned();
                let mut environment = BTreeMap::new();
                let vars = &resource["Properties"]["Environment"]["Variables"];
                for (k, v) in globals
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .chain(vars.as_mapping().into_iter().flatten())
                {
                    let name = k.as_str().ok_or("environment variable names are strings")?;
                    environment.insert(name.to_owned(), self.resolve(v, stack)?);
                }
                Ok(Function {
                    logical_id: logical_id.to_owned(),
                    binary,
                    environment,
                })
            })
            .collect()
    }

    /// The physical name a resource gets in this stack: its resolved `Name`/`TableName` if the
    /// template gives one, otherwise `<stack>-<LogicalId>` as CloudFormation would generate.
    pub fn physical_name(&self, logical_id: &str, stack: &Stack) -> Result<String, String> {
        let props = &self.root["Resources"][logical_id]["Properties"];
        for key in ["Name", "TableName"] {
            if !props[key].is_null() {
                return self.resolve(&props[key], stack);
            }
        }
        Ok(format!("{}-{logical_id}", stack.name))
    }

    /// Resolves `!Ref`, `!GetAtt` (of what provisioning assigned) and `!Sub` (string form)
    /// against parameters and resources.
    pub fn resolve(&self, value: &Value, stack: &Stack) -> Result<String, String> {
        if let Some(s) = scalar(value) {
            return Ok(s);
        }
        let Value::Tagged(tagged) = value else {
            return Err(format!("cannot resolve {value:?} locally"));
        };
        let arg = tagged
            .value
            .as_str()
            .ok_or("intrinsic arguments must be strings here")?;
        match tagged.tag.to_string().as_str() {
            "!Ref" => self.reference(arg, stack),
            "!GetAtt" => stack
                .assigned
                .get(arg)
                .cloned()
                .ok_or_else(|| format!("!GetAtt {arg}: not provisioned locally")),
            "!Sub" => {
                let mut out = String::new();
                let mut rest = arg;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..].find('}').ok_or("unterminated ${ in !Sub")? + start;
                    out.push_str(&self.reference(&rest[start + 2..end], stack)?);
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            }
            other => Err(format!("intrinsic {other} is not supported locally")),
        }
    }

    fn reference(&self, name: &str, stack: &Stack) -> Result<String, String> {
        match name {
            "AWS::StackName" => return Ok(stack.name.clone()),
            "AWS::Region" => {
                return Ok(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()))
            }
            "AWS::AccountId" => return Ok("000000000000".into()),
            "AWS::Partition" => return Ok("aws".into()),
            _ => {}
        }
        if let Some(v) = stack.parameters.get(name).or(stack.assigned.get(name)) {
            return Ok(v.clone());
        }
        if !self.root["Resources"][name].is_null() {
            return self.physical_name(name, stack);
        }
        Err(format!("!Ref {name}: no such parameter or resource"))
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_routes_and_environment_resolve() {
        let t = Template::load().unwrap();
        let stack = Stack {
            name: "unit".into(),
            parameters: t.parameters(&BTreeMap::from([("Stage".to_string(), "u1".to_string())])),
            assigned: BTreeMap::from([
                ("RefreshQueue".to_string(), "http://queue".to_string()),
                ("DataKeyMaster.Arn".to_string(), "arn:key".to_string()),
            ]),
        };
        let keys: Vec<String> = t.routes().iter().map(Route::key).collect();
        assert!(keys.contains(&"GET /credentials/{id}".to_string()));
        let f = t.functions(&stack).unwrap();
        let creds = f.iter().find(|f| f.binary == "credentials").unwrap();
        assert_eq!(creds.environment["LATCHKEY_TABLE"], "unit-Table");
        assert_eq!(creds.environment["LATCHKEY_EVENT_BUS"], "latchkey-u1");
        assert_eq!(creds.environment["LATCHKEY_RECOVERY_WINDOW_DAYS"], "7");
        assert_eq!(creds.environment["LATCHKEY_WORK_QUEUE_URL"], "http://queue");
    }
}

/// The template and the code agree: every function crate has a resource, and every variable the
/// functions read is set by the template for each of them (and makes a valid configuration).
#[cfg(test)]
mod consistency {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    fn stack(t: &Template) -> Stack {
        Stack {
            name: "consistency".into(),
            parameters: t.parameters(&BTreeMap::new()),
            assigned: BTreeMap::from([
                ("RefreshQueue".to_string(), "http://queue".to_string()),
                ("DataKeyMaster.Arn".to_string(), "arn:key".to_string()),
            ]),
        }
    }

    #[test]
    fn every_variable_a_function_reads_is_set_by_the_template() {
        let t = Template::load().unwrap();
        for function in t.functions(&stack(&t)).unwrap() {
            let read = RefCell::new(BTreeSet::new());
            let config = latchkey_shared::config::Config::from_lookup(|k| {
                read.borrow_mut().insert(k.to_owned());
                function.environment.get(k).cloned()
            });
            assert!(
                config.is_ok(),
                "{}: {:?}",
                function.logical_id,
                config.err()
            );
            let missing: Vec<String> = read
                .into_inner()
                .into_iter()
                .filter(|k| !function.environment.contains_key(k))
                .collect();
            assert!(
                missing.is_empty(),
                "{} reads {missing:?}, which the template does not set",
                function.logical_id
            );
        }
    }

    #[test]
    fn every_function_crate_has_a_resource_and_every_resource_a_crate() {
        let t = Template::load().unwrap();
        let functions = t.functions(&stack(&t)).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        let mut crates = BTreeSet::new();
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let bins: Vec<String> = manifest
                .split("[[bin]]")
                .skip(1)
                .filter_map(|b| b.lines().find_map(|l| l.trim().strip_prefix("name = ")))
                .map(|n| n.trim_matches('"').to_owned())
                .collect();
            assert!(!bins.is_empty(), "{} declares no binary", dir.display());
            let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
            for bin in bins {
                let resource = functions
                    .iter()
                    .find(|f| f.binary == bin)
                    .unwrap_or_else(|| panic!("no resource builds `{bin}`"));
                let code_uri = t.root["Resources"][resource.logical_id.as_str()]["Properties"]
                    ["CodeUri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert_eq!(code_uri, format!("../functions/{dir_name}"), "{bin}");
                crates.insert(bin);
            }
        }
        let declared: BTreeSet<String> = functions.iter().map(|f| f.binary.clone()).collect();
        assert_eq!(declared, crates, "resources without a crate");
    }
}
