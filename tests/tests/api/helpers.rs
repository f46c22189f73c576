//! One fresh stack per test (its own table, bus and secret prefix in the emulator), served by
//! the local API Gateway on an ephemeral port, plus what tests need to look behind the API.

use aws_sdk_dynamodb::types::AttributeValue;
use latchkey_tests::gateway::DevJwt;
use latchkey_tests::LocalStack;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

pub const ORG: &str = "acme";
pub const OAUTH_REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

/// Every log line any handler in this test binary wrote, at the production level and above.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink(buffer.clone());
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,latchkey=debug"))
            .with_writer(move || sink.clone())
            .init();
        buffer
    })
    .clone()
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&capture_logs().lock().expect("log buffer")).into_owned()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub jwt: DevJwt,
    pub stack: LocalStack,
    pub table: String,
    pub secret_prefix: String,
    pub bus: String,
    /// Every response body this app returned, for the secret canary.
    pub bodies: Mutex<Vec<String>>,
    _server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// A stack whose outbound guard allows loopback, so tests reach the local test servers.
    pub async fn spawn() -> TestApp {
        Self::spawn_with("127.0.0.1/32,::1/128", &[]).await
    }

    /// A stack with the production guard: nothing private, loopback or link-local.
    pub async fn spawn_guarded() -> TestApp {
        Self::spawn_with("", &[]).await
    }

    /// A loopback-allowed stack with some template parameters of its own.
    pub async fn spawn_with_parameters(parameters: &[(&str, &str)]) -> TestApp {
        Self::spawn_with("127.0.0.1/32,::1/128", parameters).await
    }

    async fn spawn_with(allow: &str, parameters: &[(&str, &str)]) -> TestApp {
        capture_logs();
        let stage = format!(
            "t{}",
            &ulid::Ulid::new().to_string().to_ascii_lowercase()[11..]
        );
        let secret_prefix = format!("latchkey-test/{stage}/");
        let overrides = BTreeMap::from([
            ("Stage".to_string(), stage.clone()),
            ("SecretPrefix".to_string(), secret_prefix.clone()),
            ("OutboundAllow".to_string(), allow.to_string()),
            // Nothing listens here: tests play the browser and carry the provider's redirect on.
            ("OAuthRedirectUri".to_string(), OAUTH_REDIRECT.to_string()),
            (
                "OAuthDoneUrl".to_string(),
                "https://app.example.com/credentials".to_string(),
            ),
            (
                "SnowflakeBaseUrl".to_string(),
                format!("{}/snowflake/{{account}}", crate::test_servers::base_url()),
            ),
            // Suites run many tests a minute as one user; the limit has a test of its own.
            ("TestRateLimitPerUser".to_string(), "0".to_string()),
            ("TestRateLimitPerOrg".to_string(), "0".to_string()),
        ]);
        let mut overrides = overrides;
        overrides.extend(
            parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let stack = LocalStack::up(&format!("lk-{stage}"), overrides)
            .await
            .expect("the emulator is up (make test starts it) and the template provisions");
        let jwt = DevJwt::new("test-secret");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = stack.serve(listener, jwt.clone()).expect("gateway");
        TestApp {
            base,
            http: latchkey_shared::outbound::http_client()
                .no_proxy()
                .build()
                .expect("client"),
            jwt,
            table: stack.physical_name("Table").expect("table"),
            bus: stack.physical_name("EventBus").expect("bus"),
            secret_prefix,
            stack,
            bodies: Mutex::new(Vec::new()),
            _server: server,
        }
    }

    pub fn token(&self, user: &str) -> String {
        self.jwt.token(user, ORG, &[], 3600)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.call_raw(method, path, token, raw.as_deref(), headers)
            .await
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request reaches the local API");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        self.bodies.lock().expect("bodies").push(text.clone());
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, user: &str, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.token(user)), None, &[])
            .await
    }

    pub async fn post(&self, user: &str, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(&self.token(user)), Some(body), &[])
            .await
    }

    /// `POST /credentials/{id}/refresh` as `user`.
    pub async fn refresh(&self, user: &str, id: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/credentials/{id}/refresh"),
            Some(&self.token(user)),
            None,
            &[],
        )
        .await
    }

    /// What a refresh or connect whose metadata commit was lost leaves behind: `secrets` as a
    /// version under the refresh label, derived from the version the metadata names.
    pub async fn plant_interrupted_refresh(&self, id: &str, secrets: &[(&str, &str)]) {
        let mut fields = latchkey_shared::catalog::SecretFields::default();
        for (k, v) in secrets {
            fields
                .0
                .insert(k.to_string(), secrecy::SecretString::from(v.to_string()));
        }
        let named = self.secret_version(id).await;
        use latchkey_shared::ports::SecretStore;
        latchkey_shared::vault::Vault::new(self.secrets(), &self.secret_prefix)
            .put_pending(
                &latchkey_shared::domain::CredentialId::parse(id).expect("credential id"),
                &fields,
                latchkey_shared::vault::Pending::Refresh,
                &named,
            )
            .await
            .expect("the interrupted refresh's version is written");
    }

    /// Creates a credential and asserts it was created.
    pub async fn create(&self, user: &str, body: &Value) -> Value {
        let reply = self.post(user, "/credentials", body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.body
    }

    pub fn ddb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.stack.aws)
    }

    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.stack.aws)
    }

    /// Every item of this stack's table.
    pub async fn table_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb()
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    pub async fn meta_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.table_items()
            .await
            .into_iter()
            .filter(|i| {
                i.get("sk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == "META")
            })
            .collect()
    }

    /// The secret version a credential's metadata names.
    pub async fn secret_version(&self, id: &str) -> String {
        let meta = self.meta_items().await;
        let item = meta
            .iter()
            .find(|i| {
                i.get("id")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == id)
            })
            .expect("metadata item");
        item["secret_version"]
            .as_s()
            .expect("secret_version")
            .clone()
    }

    /// The secret value (JSON) Latchkey reads for a credential: the version its metadata names.
    pub async fn stored_secret(&self, id: &str) -> Value {
        let version = self.secret_version(id).await;
        let out = self
            .secrets()
            .get_secret_value()
            .secret_id(format!("{}{id}", self.secret_prefix))
            .version_id(version)
            .send()
            .await
            .expect("the version metadata names exists");
        serde_json::from_str(out.secret_string().expect("string")).expect("json")
    }

    /// Names of the secrets under this stack's prefix (including ones scheduled for deletion).
    pub async fn secret_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .secrets()
                .list_secrets()
                .include_planned_deletion(true)
                .set_next_token(token)
                .send()
                .await
                .expect("list secrets");
            names.extend(
                out.secret_list()
                    .iter()
                    .filter_map(|s| s.name())
                    .filter(|n| n.starts_with(&self.secret_prefix))
                    .map(str::to_owned),
            );
            token = out.next_token;
            if token.is_none() {
                return names;
            }
        }
    }

    /// Brief §6: every live metadata item names a secret version that exists. (A deleted
    /// credential's secret is scheduled for deletion and unreadable by design.)
    pub async fn assert_no_dangling_secret_references(&self) {
        for item in self
            .meta_items()
            .await
            .into_iter()
            .filter(|i| !i.contains_key("deleted_at"))
        {
            let id = item["id"].as_s().expect("id");
            let version = item["secret_version"].as_s().expect("secret_version");
            self.secrets()
                .get_secret_value()
                .secret_id(format!("{}{id}", self.secret_prefix))
                .version_id(version)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!("{id} names secret version {version}, which is unreadable: {e:?}")
                });
        }
    }
}

/// A valid new PostgreSQL credential.
pub fn postgres(name: &str, password: &str) -> Value {
    json!({
        "name": name,
        "connector": "postgres",
        "fields": { "host": "db.example.com", "database": "sales", "username": "etl", "password": password },
        "tags": ["prod"],
    })
}
