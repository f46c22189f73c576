//! The bench's own stack in the emulator, the data every measurement starts from, and the events
//! and environment a function process is given.

use futures::stream::{self, StreamExt, TryStreamExt};
use http_body_util::Full;
use hyper::body::Bytes;
use latchkey_tests::gateway::serve_http;
use latchkey_tests::gateway::{event_for, DevJwt};
use latchkey_tests::{Error, LocalStack};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use tokio::net::TcpListener;

use crate::proxy::CountingProxy;

pub const ORG: &str = "acme";
/// Owns every credential the bench makes.
pub const OWNER: &str = "bob";
/// Reaches the list's 100 credentials through their user, three teams and the org.
pub const READER: &str = "alice";
pub const READER_TEAMS: [&str; 3] = ["t1", "t2", "t3"];
/// The REST credential's password; the validation endpoint checks it.
const PASSWORD: &str = "bench-password";
/// tests/stack/servers.sh's oidc-provider and its client.
pub const OIDC_TOKEN_URL: &str = "http://127.0.0.1:4800/token";
const OIDC_CLIENT: (&str, &str) = ("latchkey-test", "latchkey-test-secret");

pub struct Bench {
    pub stack: LocalStack,
    pub proxy: CountingProxy,
    pub table: String,
    http: reqwest::Client,
    base: String,
    jwt: DevJwt,
    validation_url: String,
    /// Credentials created so far, for a table of exactly `--stored`.
    pub created: std::sync::atomic::AtomicUsize,
    _servers: [tokio::task::JoinHandle<()>; 2],
}

impl Bench {
    /// A fresh stack whose functions may reach loopback, a local API for set-up (its calls go
    /// straight to the emulator, uncounted) and a basic-auth endpoint for connection tests.
    pub async fn up(emulator: &str, storage: &str) -> Result<Self, Error> {
        let stage = format!(
            "b{}",
            &ulid::Ulid::new().to_string().to_ascii_lowercase()[14..]
        );
        let overrides = BTreeMap::from([
            ("Stage".to_string(), stage.clone()),
            (
                "SecretPrefix".to_string(),
                format!("latchkey-bench/{stage}/"),
            ),
            ("OutboundAllow".to_string(), "127.0.0.1/32".to_string()),
            ("SecretStorage".to_string(), storage.to_string()),
            (
                "OAuthRedirectUri".to_string(),
                "http://127.0.0.1:9/oauth/callback".to_string(),
            ),
        ]);
        let stack = LocalStack::up(&format!("lk-{stage}"), overrides).await?;
        let jwt = DevJwt::new("bench");
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let api = stack.serve(listener, jwt.clone())?;
        let (validation_url, validation) = basic_auth_endpoint().await?;
        Ok(Self {
            table: stack.physical_name("Table")?,
            proxy: CountingProxy::start(emulator).await?,
            stack,
            http: latchkey_shared::outbound::http_client()
                .no_proxy()
                .build()?,
            base,
            jwt,
            validation_url,
            created: Default::default(),
            _servers: [api, validation],
        })
    }

    /// A token for this caller and the claims API Gateway's JWT authorizer would pass on for it.
    fn claims(
        &self,
        user: &str,
        teams: &[&str],
    ) -> Result<(String, HashMap<String, String>), Error> {
        let token = self.jwt.token(user, ORG, teams, 3600);
        let claims = self
            .jwt
            .verify(&token)
            .ok_or("a fresh dev token verifies")?;
        Ok((token, claims))
    }

    /// The payload-v2 event for a request by `user` in `teams`, as the HTTP API would send it.
    pub fn event(
        &self,
        user: &str,
        teams: &[&str],
        method: &str,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let (token, claims) = self.claims(user, teams)?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("host", "api.latchkey.local")
            .header("user-agent", "latchkey-bench");
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Bytes::from(body.map(Value::to_string).unwrap_or_default()))?;
        let (_, event) = event_for(&self.stack.template.routes(), request, Some(&claims))
            .ok_or_else(|| format!("no route for {method} {uri}"))?;
        Ok(event)
    }

    /// The environment the template gives `binary`, with the AWS calls going through the proxy.
    pub fn environment(&self, binary: &str) -> Result<HashMap<String, String>, Error> {
        let mut env: HashMap<String, String> = self
            .stack
            .environment(binary)
            .ok_or_else(|| format!("no function `{binary}` in the template"))?
            .clone()
            .into_iter()
            .collect();
        env.extend([
            ("AWS_ENDPOINT_URL".into(), self.proxy.endpoint.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ]);
        Ok(env)
    }

    /// A set-up request through the local API; anything but a 2xx is an error.
    pub async fn call(
        &self,
        user: &str,
        teams: &[&str],
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(self.jwt.token(user, ORG, teams, 3600));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("set-up {method} {path}: {status} {text}").into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create(&self, body: &Value) -> Result<String, Error> {
        let created = self
            .call(
                OWNER,
                &[],
                reqwest::Method::POST,
                "/credentials",
                Some(body),
            )
            .await?;
        Ok(created["id"]
            .as_str()
            .ok_or("a created credential has an id")?
            .to_owned())
    }

    /// A REST credential with basic auth against the local validation endpoint.
    pub fn rest_basic(&self, name: &str) -> Value {
        json!({"name": name, "connector": "rest_api", "auth_type": "basic",
            "fields": {"validation_url": self.validation_url, "username": "bench", "password": PASSWORD}})
    }

    /// An OAuth 2.0 authorization-code credential at the local oidc-provider, not yet connected.
    pub fn oauth_code(&self, name: &str) -> Value {
        json!({"name": name, "connector": "rest_api", "auth_type": "oauth2_authorization_code",
            "fields": {"authorize_url": "http://127.0.0.1:4800/auth", "token_url": OIDC_TOKEN_URL,
                "client_id": OIDC_CLIENT.0, "client_secret": OIDC_CLIENT.1, "scopes": ["openid", "offline_access"]}})
    }

    /// An OAuth 2.0 client-credentials credential at the local oidc-provider: due at once.
    pub fn client_credentials(name: &str) -> Value {
        json!({"name": name, "connector": "rest_api", "auth_type": "oauth2_client_credentials",
            "fields": {"token_url": OIDC_TOKEN_URL, "client_id": OIDC_CLIENT.0,
                "client_secret": OIDC_CLIENT.1, "scopes": ["read"]}})
    }

    /// Creates `count` credentials from `body(i)`, a few at a time.
    pub async fn create_many(
        &self,
        count: usize,
        body: impl Fn(usize) -> Value,
    ) -> Result<Vec<String>, Error> {
        stream::iter(0..count)
            .map(|i| {
                let body = body(i);
                async move { self.create(&body).await }
            })
            .buffered(8)
            .try_collect()
            .await
    }

    /// 100 credentials `READER` reaches, 20 through each of their user, teams and org.
    pub async fn reachable_hundred(&self) -> Result<(), Error> {
        let ids = self
            .create_many(100, |i| self.rest_basic(&format!("list-{i}")))
            .await?;
        let principals = [
            ("user", READER),
            ("team", READER_TEAMS[0]),
            ("team", READER_TEAMS[1]),
            ("team", READER_TEAMS[2]),
            ("org", ORG),
        ];
        stream::iter(ids.iter().enumerate())
            .map(|(i, id)| {
                let (kind, principal) = principals[i % principals.len()];
                async move {
                    self.call(
                        OWNER,
                        &[],
                        reqwest::Method::PUT,
                        &format!("/credentials/{id}/accessors/{kind}/{principal}"),
                        Some(&json!({"role": "collaborator"})),
                    )
                    .await
                }
            })
            .buffered(8)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// `count` metadata items in the refresh index, due a day from now: stored, never read.
    pub async fn scheduled_later(&self, count: usize) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
        let later = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).unix_timestamp();
        let ddb = aws_sdk_dynamodb::Client::new(&self.stack.aws);
        let shards = self.stack.config("refresh")?.due_shards;
        for chunk in (0..count).collect::<Vec<_>>().chunks(25) {
            let writes = chunk
                .iter()
                .map(|_| {
                    let id = latchkey_shared::domain::CredentialId::generate();
                    let pk = format!("CRED#{id}");
                    let shard = latchkey_shared::store::due_shard("DUE", &id, shards);
                    let item = HashMap::from([
                        ("pk".to_string(), AttributeValue::S(pk)),
                        ("sk".to_string(), AttributeValue::S("META".into())),
                        ("refresh_shard".to_string(), AttributeValue::S(shard)),
                        (
                            "refresh_due".to_string(),
                            AttributeValue::N(later.to_string()),
                        ),
                    ]);
                    Ok::<_, Error>(
                        WriteRequest::builder()
                            .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                            .build(),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = ddb
                .batch_write_item()
                .request_items(&self.table, writes)
                .send()
                .await?;
            if out.unprocessed_items().is_some_and(|u| !u.is_empty()) {
                return Err("the emulator left writes unprocessed".into());
            }
        }
        Ok(())
    }

    /// Makes `ids` due now, whatever their last refresh scheduled.
    pub async fn make_due(&self, ids: &[String]) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let ddb = aws_sdk_dynamodb::Client::new(&self.stack.aws);
        let now = time::OffsetDateTime::now_utc().unix_timestamp() - 1;
        stream::iter(ids)
            .map(|id| {
                ddb.update_item()
                    .table_name(&self.table)
                    .key("pk", AttributeValue::S(format!("CRED#{id}")))
                    .key("sk", AttributeValue::S("META".into()))
                    .update_expression("SET refresh_due = :now")
                    .condition_expression("attribute_exists(refresh_shard)")
                    .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                    .send()
            })
            .buffered(8)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }
}

/// An HTTP endpoint on 127.0.0.1 that answers 200 to the REST credential's basic auth, else 401.
async fn basic_auth_endpoint() -> Result<(String, tokio::task::JoinHandle<()>), Error> {
    use base64::Engine;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/me", listener.local_addr()?);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{PASSWORD}"))
    );
    let server = tokio::spawn(serve_http(listener, move |req| {
        let ok = req
            .headers()
            .get("authorization")
            .is_some_and(|v| v.as_bytes() == expected.as_bytes());
        async move {
            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"{}")));
            if !ok {
                *resp.status_mut() = hyper::StatusCode::UNAUTHORIZED;
            }
            resp
        }
    }));
    Ok((url, server))
}
