//! One fresh stack per test (its own table, bus and secret prefix in the emulator), served by
//! the local API Gateway on an ephemeral port, plus what tests need to look behind the API.

use aws_sdk_dynamodb::types::AttributeValue;
use latchkey_shared::ports::{SecretOwner, SecretStore};
use latchkey_tests::gateway::DevJwt;
use latchkey_tests::LocalStack;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
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

/// Where this run keeps secrets: `make test` runs the suite once per storage mode
/// (`LATCHKEY_TEST_SECRET_STORAGE`, the template's `SecretStorage`; Secrets Manager when unset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    SecretsManager,
    Envelope,
}

impl Storage {
    /// The store a migration from this one moves secrets to.
    pub fn other(self) -> Storage {
        match self {
            Storage::SecretsManager => Storage::Envelope,
            Storage::Envelope => Storage::SecretsManager,
        }
    }

    pub fn of_this_run() -> Storage {
        match std::env::var("LATCHKEY_TEST_SECRET_STORAGE").as_deref() {
            Err(_) | Ok("") | Ok("secretsmanager") => Storage::SecretsManager,
            Ok("envelope") => Storage::Envelope,
            Ok(other) => panic!("LATCHKEY_TEST_SECRET_STORAGE={other}: secretsmanager or envelope"),
        }
    }

    /// The same, as the service's configuration names it.
    pub fn mode(self) -> latchkey_shared::config::SecretStorage {
        match self {
            Storage::SecretsManager => latchkey_shared::config::SecretStorage::SecretsManager,
            Storage::Envelope => latchkey_shared::config::SecretStorage::Envelope,
        }
    }

    fn parameter(self) -> &'static str {
        match self {
            Storage::SecretsManager => "secretsmanager",
            Storage::Envelope => "envelope",
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub jwt: DevJwt,
    pub stack: LocalStack,
    pub table: String,
    pub secret_prefix: String,
    pub storage: Storage,
    /// The table of sealed secrets (envelope storage; provisioned in both modes).
    pub secret_table: String,
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
            (
                "SecretStorage".to_string(),
                Storage::of_this_run().parameter().to_string(),
            ),
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
            secret_table: stack.physical_name("SecretTable").expect("secret table"),
            storage: Storage::of_this_run(),
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
        let fields = secret_fields(secrets);
        let named = self.secret_version(id).await;
        let id = latchkey_shared::domain::CredentialId::parse(id).expect("credential id");
        self.secret_store()
            .put_pending(
                SecretOwner { id: &id, org: ORG },
                &fields,
                latchkey_shared::vault::Pending::Refresh,
                &named,
            )
            .await
            .expect("the interrupted refresh's version is written");
    }

    /// The secret store this stack's functions use (whichever adapter the run configures).
    pub fn secret_store(&self) -> Arc<dyn SecretStore> {
        let config = self.stack.config("credentials").expect("config");
        latchkey_shared::aws::secrets(&self.stack.aws, &config)
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
        self.items_of(&self.table).await
    }

    /// Every item of both tables as text, binary attributes (sealed secrets, wrapped data keys)
    /// decoded as UTF-8 too, for searching for a plaintext secret.
    pub async fn items_as_text(&self) -> String {
        let mut text = String::new();
        for table in [&self.table, &self.secret_table] {
            for item in self.items_of(table).await {
                for (name, value) in item {
                    let shown = match &value {
                        AttributeValue::B(bytes) => {
                            String::from_utf8_lossy(bytes.as_ref()).into_owned()
                        }
                        other => format!("{other:?}"),
                    };
                    text.push_str(&format!("{name}={shown}\n"));
                }
            }
        }
        text
    }

    /// Every item of one of this stack's tables.
    pub async fn items_of(&self, table: &str) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb()
                .scan()
                .table_name(table)
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
        let id = latchkey_shared::domain::CredentialId::parse(id).expect("credential id");
        let fields = self
            .secret_store()
            .read(SecretOwner { id: &id, org: ORG }, &version)
            .await
            .expect("the version metadata names exists");
        let json = fields.to_json().expect("json");
        serde_json::from_str(json.expose_secret()).expect("json")
    }

    /// Ids of the credentials that have a secret in this stack's storage (including ones
    /// scheduled for deletion), read behind the adapters.
    pub async fn secret_ids(&self) -> Vec<String> {
        self.secret_ids_in(self.storage).await
    }

    /// The same, in one store whichever the stack writes new secrets to.
    pub async fn secret_ids_in(&self, storage: Storage) -> Vec<String> {
        match storage {
            Storage::SecretsManager => self
                .secret_manager_names()
                .await
                .into_iter()
                .map(|n| n[self.secret_prefix.len()..].to_owned())
                .collect(),
            Storage::Envelope => self
                .items_of(&self.secret_table)
                .await
                .iter()
                .filter(|i| i["sk"].as_s().is_ok_and(|sk| sk == "HEAD"))
                .map(|i| i["pk"].as_s().expect("pk")["CRED#".len()..].to_owned())
                .collect(),
        }
    }

    async fn secret_manager_names(&self) -> Vec<String> {
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

    /// Whether the credential's secret is scheduled for deletion (and so restorable), read
    /// behind the adapters: Secrets Manager's deletion date, or the envelope head's `ttl`.
    pub async fn secret_scheduled_for_deletion(&self, id: &str) -> bool {
        match self.storage {
            Storage::SecretsManager => self
                .secrets()
                .describe_secret()
                .secret_id(format!("{}{id}", self.secret_prefix))
                .send()
                .await
                .expect("describe secret")
                .deleted_date()
                .is_some(),
            // The head and the version the metadata names expire together, or neither does.
            Storage::Envelope => {
                let named = format!("V#{}", self.secret_version(id).await);
                let head = self.sealed_item(id, "HEAD").await.contains_key("ttl");
                let version = self.sealed_item(id, &named).await.contains_key("ttl");
                assert_eq!(
                    head, version,
                    "{id}: the head's and {named}'s expiry differ"
                );
                head
            }
        }
    }

    /// One item of the secret table (envelope storage) of the credential.
    pub async fn sealed_item(&self, id: &str, sk: &str) -> HashMap<String, AttributeValue> {
        self.items_of(&self.secret_table)
            .await
            .into_iter()
            .find(|i| {
                i["pk"].as_s().is_ok_and(|pk| pk == &format!("CRED#{id}"))
                    && i["sk"].as_s().is_ok_and(|s| s == sk)
            })
            .unwrap_or_else(|| panic!("{id} has no {sk} item"))
    }

    /// Brief §6: every live metadata item names a secret version that exists. (A deleted
    /// credential's secret is scheduled for deletion and unreadable by design.)
    pub async fn assert_no_dangling_secret_references(&self) {
        let store = self.secret_store();
        for item in self
            .meta_items()
            .await
            .into_iter()
            .filter(|i| !i.contains_key("deleted_at"))
        {
            let id = item["id"].as_s().expect("id");
            let org = item["org_id"].as_s().expect("org_id");
            let version = item["secret_version"].as_s().expect("secret_version");
            let credential = latchkey_shared::domain::CredentialId::parse(id).expect("id");
            store
                .read(
                    SecretOwner {
                        id: &credential,
                        org,
                    },
                    version,
                )
                .await
                .unwrap_or_else(|e| {
                    panic!("{id} names secret version {version}, which is unreadable: {e:?}")
                });
            // ...and will stay: a named sealed version never carries an expiry.
            if latchkey_shared::secret_routing::held_by(version) == Storage::Envelope.mode() {
                let item = self.sealed_item(id, &format!("V#{version}")).await;
                assert!(
                    !item.contains_key("ttl"),
                    "{id} names {version}, which expires"
                );
            }
        }
    }
}

/// Secret fields as a store takes them.
pub fn secret_fields(pairs: &[(&str, &str)]) -> latchkey_shared::catalog::SecretFields {
    latchkey_shared::catalog::SecretFields(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), secrecy::SecretString::from(v.to_string())))
            .collect(),
    )
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
