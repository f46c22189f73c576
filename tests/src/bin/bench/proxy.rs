//! A counting pass-through in front of the emulator. A function whose `AWS_ENDPOINT_URL` points
//! here has every AWS call it makes recorded by service and operation, whatever its language:
//! the same count for the Rust functions and the boto3 baseline.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use latchkey_tests::gateway::serve_http;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use latchkey_tests::Error;

/// `(service, operation)`, e.g. `("dynamodb", "GetItem")`.
pub type Call = (String, String);

#[derive(Clone)]
pub struct CountingProxy {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<(Call, Instant, Instant)>>>,
}

/// Calls counted by service and operation, and how long at least one was in flight.
#[derive(Default, Clone, Debug)]
pub struct Calls {
    pub counts: BTreeMap<Call, usize>,
    /// Per operation, the emulator's answer times summed.
    pub waited: BTreeMap<Call, Duration>,
    /// Wall time with at least one call waiting on the emulator: near the whole run, the
    /// emulator (which serves one request at a time) is what limits the run.
    pub busy: Duration,
}

impl Calls {
    pub fn service(&self, service: &str) -> usize {
        self.counts
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|(_, n)| n)
            .sum()
    }

    /// `GetItem 1 (3.1 ms)`: every operation with its count and mean answer time.
    pub fn detail_timed(&self) -> String {
        self.counts
            .iter()
            .map(|(call, n)| {
                let waited = self.waited.get(call).copied().unwrap_or_default();
                let mean = waited.as_secs_f64() * 1000.0 / (*n).max(1) as f64;
                format!("{} {n} ({mean:.1} ms)", call.1)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// `GetItem 1, Query 5`: every operation with its count.
    pub fn detail(&self) -> String {
        self.counts
            .iter()
            .map(|((_, op), n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Result<Self, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let client = latchkey_shared::outbound::http_client()
            .no_proxy()
            .build()?;
        let upstream = upstream.trim_end_matches('/').to_owned();
        let recorder = calls.clone();
        tokio::spawn(serve_http(listener, move |req| {
            let (client, upstream, recorder) = (client.clone(), upstream.clone(), recorder.clone());
            async move { forward(req, &client, &upstream, &recorder).await }
        }));
        Ok(Self { endpoint, calls })
    }

    /// The calls recorded since the last `take`, and a fresh count.
    pub fn take(&self) -> Calls {
        let mut calls = std::mem::take(&mut *self.calls.lock().expect("proxy lock"));
        calls.sort_by_key(|(_, start, _)| *start);
        let mut counted = Calls::default();
        let mut covered: Option<Instant> = None; // the union of [start, end) so far ends here
        for (call, start, end) in calls {
            *counted.waited.entry(call.clone()).or_default() += end - start;
            *counted.counts.entry(call).or_default() += 1;
            let from = covered.map_or(start, |c| c.max(start));
            counted.busy += end.saturating_duration_since(from);
            covered = Some(covered.map_or(end, |c| c.max(end)));
        }
        counted
    }
}

/// The operation an AWS request names: JSON protocols (DynamoDB, Secrets Manager, EventBridge)
/// say it in `X-Amz-Target`; otherwise the signing scope's service and the HTTP method.
fn operation(req: &hyper::Request<Incoming>) -> Call {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if let Some((prefix, op)) = header("x-amz-target").split_once('.') {
        let service = match prefix {
            p if p.starts_with("DynamoDB") => "dynamodb",
            "secretsmanager" => "secretsmanager",
            "AWSEvents" => "events",
            "TrentService" => "kms",
            other => other,
        };
        return (service.to_owned(), op.to_owned());
    }
    let service = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown");
    // Query-protocol services (SQS, STS) name the operation in the form body; counted by method.
    (service.to_owned(), req.method().to_string())
}

async fn forward(
    req: hyper::Request<Incoming>,
    client: &reqwest::Client,
    upstream: &str,
    recorder: &Mutex<Vec<(Call, Instant, Instant)>>,
) -> hyper::Response<Full<Bytes>> {
    let call = operation(&req);
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let url = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut out = client.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            out = out.header(name, value);
        }
    }
    let mut resp = hyper::Response::new(Full::new(Bytes::new()));
    match out.send().await {
        Ok(upstream) => {
            *resp.status_mut() = upstream.status();
            for (name, value) in upstream.headers() {
                if !matches!(
                    name.as_str(),
                    "connection" | "content-length" | "transfer-encoding"
                ) {
                    resp.headers_mut().append(name, value.clone());
                }
            }
            *resp.body_mut() = Full::new(upstream.bytes().await.unwrap_or_default());
        }
        Err(_) => *resp.status_mut() = hyper::StatusCode::BAD_GATEWAY,
    }
    if let Ok(mut calls) = recorder.lock() {
        calls.push((call, started, Instant::now()));
    }
    resp
}
