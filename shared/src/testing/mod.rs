//! In-memory adapters of the ports (feature `testing`), for fast unit tests of the handlers'
//! and use cases' logic with `cargo test --lib`. They complement the integration tests against
//! the emulator and real servers, which remain the evidence that a feature works on AWS.

mod outbound;
mod secrets;
mod store;
#[cfg(test)]
mod tests;

pub use outbound::{ScriptedProvider, ScriptedTester};
pub use secrets::MemorySecrets;
pub use store::MemoryStore;

use async_trait::async_trait;
use lambda_http::Request;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

use crate::catalog::SecretFields;
use crate::commit::{commit_with_secrets, Committed, Secrets, Write};
use crate::config::Config;
use crate::domain::{Caller, CredentialId};
use crate::error::InternalError;
use crate::ports::{Clock, EventSink, Job, Ports, WorkQueue};
use crate::record::{CredentialRecord, HistoryAction, HistoryEntry};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One page of `items` (in order, each with its position) after position `after`, and the
/// position to continue after when more follow.
fn page<T: Clone>(
    items: Vec<(String, T)>,
    limit: i32,
    after: Option<String>,
) -> (Vec<T>, Option<String>) {
    let start = match after {
        Some(a) => items.iter().position(|(k, _)| *k == a).map_or(0, |i| i + 1),
        None => 0,
    };
    let rest = &items[start.min(items.len())..];
    let taken: Vec<&(String, T)> = rest.iter().take(limit.max(0) as usize).collect();
    let next = (rest.len() > taken.len())
        .then(|| taken.last().map(|(k, _)| k.clone()))
        .flatten();
    (taken.into_iter().map(|(_, v)| v.clone()).collect(), next)
}

/// Events kept in the order published.
#[derive(Default)]
pub struct RecordedEvents(Mutex<Vec<(String, Value)>>);

impl RecordedEvents {
    pub fn all(&self) -> Vec<(String, Value)> {
        lock(&self.0).clone()
    }

    /// The detail types published, in order.
    pub fn types(&self) -> Vec<String> {
        lock(&self.0).iter().map(|(t, _)| t.clone()).collect()
    }
}

#[async_trait]
impl EventSink for RecordedEvents {
    async fn publish(&self, detail_type: &str, detail: Value) {
        lock(&self.0).push((detail_type.to_owned(), detail));
    }
}

/// The jobs the sweep enqueued, until a test takes them.
#[derive(Default)]
pub struct RecordedJobs(Mutex<Vec<Job>>);

impl RecordedJobs {
    pub fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *lock(&self.0))
    }
}

#[async_trait]
impl WorkQueue for RecordedJobs {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), InternalError> {
        lock(&self.0).extend_from_slice(jobs);
        Ok(())
    }
}

/// A clock that moves only when told.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn at(now: OffsetDateTime) -> Self {
        Self(Mutex::new(now))
    }

    pub fn advance(&self, by: time::Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *lock(&self.0)
    }
}

/// One set of in-memory adapters, and the ports a function is given from them.
pub struct World {
    pub store: Arc<MemoryStore>,
    pub secrets: Arc<MemorySecrets>,
    pub events: Arc<RecordedEvents>,
    pub clock: Arc<ManualClock>,
    pub provider: Arc<ScriptedProvider>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            store: Arc::default(),
            secrets: Arc::default(),
            events: Arc::default(),
            clock: Arc::new(ManualClock::at(
                time::macros::datetime!(2026-11-29 09:00 UTC),
            )),
            provider: Arc::default(),
        }
    }
}

impl World {
    pub fn ports(&self) -> Ports {
        Ports {
            store: self.store.clone(),
            events: self.events.clone(),
            clock: self.clock.clone(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A credential created through the one write path, as the create handler does.
    pub async fn create(
        &self,
        owner: &Caller,
        kind: (&str, &str),
        fields: Value,
        secrets: &[(&str, &str)],
    ) -> CredentialRecord {
        let secrets = secret_fields(secrets);
        let now = self.now();
        let record = CredentialRecord::new(
            CredentialId::generate(),
            owner,
            kind,
            fields.as_object().cloned().unwrap_or_default(),
            secrets.names(),
            now,
        );
        let history = HistoryEntry::new(HistoryAction::Created, &owner.as_actor(), now);
        let write = Write::create(record, history);
        match commit_with_secrets(&*self.store, &*self.secrets, write, Secrets::First(secrets))
            .await
        {
            Ok(Committed::Written(record)) => *record,
            other => panic!("the credential was not created: {other:?}"),
        }
    }

    /// Grants `principal` (`team:data`) `role` on the credential through the one write path,
    /// as the sharing function does; returns the credential as written.
    pub async fn share(
        &self,
        id: &CredentialId,
        principal: &str,
        role: crate::domain::Role,
    ) -> CredentialRecord {
        let before = self.stored(id).await;
        let mut next = before.clone();
        next.acl.insert(principal.to_owned(), role);
        let line = HistoryEntry::new(HistoryAction::Shared, &before.owner, self.now());
        let write = Write {
            grants: crate::store::Grants::Only(vec![principal.to_owned()]),
            ..Write::update(&before, next, line)
        };
        match crate::commit::commit(&*self.store, write).await {
            Ok(Committed::Written(record)) => *record,
            other => panic!("the grant was not written: {other:?}"),
        }
    }

    /// The value of secret field `name` in the version the credential names now.
    pub async fn current_secret(&self, id: &CredentialId, name: &str) -> Option<String> {
        let record = self.stored(id).await;
        self.secrets.value(id, &record.secret_version, name)
    }

    /// The credential as stored now.
    pub async fn stored(&self, id: &CredentialId) -> CredentialRecord {
        use crate::ports::CredentialStore;
        self.store
            .get(id)
            .await
            .expect("the store answers")
            .expect("the credential exists")
    }
}

/// Secret fields from name-value pairs.
pub fn secret_fields(pairs: &[(&str, &str)]) -> SecretFields {
    SecretFields(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string().into()))
            .collect(),
    )
}

/// A configuration with the required names set and every default kept; `vars` override.
pub fn config(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = [
        ("LATCHKEY_TABLE", "memory"),
        ("LATCHKEY_SECRET_PREFIX", "latchkey/memory/"),
        ("LATCHKEY_EVENT_BUS", "memory"),
    ]
    .iter()
    .chain(vars)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Config::from_lookup(|k| {
        vars.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    })
    .expect("a valid test configuration")
}

/// A caller of organisation `org` in `teams`.
pub fn caller(user: &str, org: &str, teams: &[&str]) -> Caller {
    Caller {
        user_id: user.to_owned(),
        org_id: org.to_owned(),
        teams: teams.iter().map(|t| t.to_string()).collect(),
    }
}

/// An API Gateway request for `route` ("PATCH /credentials/{id}") at `path` with these path
/// parameters, query, headers and JSON body, from `caller` as the JWT authorizer passes them.
pub struct ApiRequest {
    route: String,
    path: String,
    params: Value,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl ApiRequest {
    pub fn new(route: &str) -> Self {
        Self {
            route: route.to_owned(),
            path: route.split_once(' ').map_or("/", |(_, p)| p).to_owned(),
            params: json!({}),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params[name] = json!(value);
        self.path = self.path.replace(&format!("{{{name}}}"), value);
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The request `caller` sends, as `lambda_http` hands it to a function.
    pub fn from(self, caller: &Caller) -> Request {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let claims =
            json!({ "sub": caller.user_id, "org_id": caller.org_id, "teams": caller.teams });
        let token = format!(
            "e30.{}.unsigned",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut headers = serde_json::Map::new();
        headers.insert("authorization".into(), json!(format!("Bearer {token}")));
        headers.insert("content-type".into(), json!("application/json"));
        for (k, v) in &self.headers {
            headers.insert(k.to_lowercase(), json!(v));
        }
        let query: serde_json::Map<String, Value> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let raw_query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let method = self.route.split(' ').next().unwrap_or("GET");
        let event = json!({
            "version": "2.0",
            "routeKey": self.route,
            "rawPath": self.path,
            "rawQueryString": raw_query.join("&"),
            "headers": headers,
            "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
            "pathParameters": self.params,
            "requestContext": {
                "accountId": "000000000000", "apiId": "memory", "domainName": "localhost",
                "domainPrefix": "memory", "requestId": "memory", "routeKey": self.route,
                "stage": "$default", "time": "29/Nov/2026:09:00:00 +0000", "timeEpoch": 0,
                "http": { "method": method, "path": self.path, "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "memory" },
                "authorizer": { "jwt": { "claims": {
                    "sub": caller.user_id, "org_id": caller.org_id,
                    "teams": format!("[{}]", caller.teams.join(" ")),
                }, "scopes": null } },
            },
            "body": self.body.map(|b| b.to_string()),
            "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
    }
}

/// The status and JSON body of a response.
pub fn answer(resp: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}
