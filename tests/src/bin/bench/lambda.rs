//! A local Lambda Runtime API (the 2018-06-01 interface every custom runtime and `awslambdaric`
//! poll), serving one function process: it times the process from spawn to its first
//! `invocation/next` (init done) and to each answer, as the Lambda service would see them.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use latchkey_tests::gateway::serve_http;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};

use latchkey_tests::Error;

const PREFIX: &str = "/2018-06-01/runtime";
/// The deadline a function is told it has: generous, the bench times it anyway.
const DEADLINE: Duration = Duration::from_secs(900);

type Answer = Result<Value, String>;

struct Shared {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    ready: watch::Sender<Option<Instant>>,
    init_error: Mutex<Option<String>>,
}

/// One function process under a private Runtime API.
pub struct Function {
    child: Child,
    spawned: Instant,
    queue: mpsc::UnboundedSender<(String, Value)>,
    shared: Arc<Shared>,
    ready: watch::Receiver<Option<Instant>>,
    server: tokio::task::JoinHandle<()>,
    next_request: u64,
}

/// What the first invocation after a spawn cost.
pub struct ColdStart {
    /// Spawn to the first `invocation/next`: the function's init.
    pub ready: Duration,
    /// Spawn to the first answer, the event having waited from the start.
    pub answered: Duration,
    pub answer: Value,
}

impl Function {
    /// Starts `command` with `env` plus the variables the Lambda service sets, pointed at a fresh
    /// Runtime API on 127.0.0.1. `first_event` is queued before the spawn, as on a cold invoke.
    pub async fn spawn(
        name: &str,
        mut command: Command,
        env: &HashMap<String, String>,
        log: std::fs::File,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (queue, events) = mpsc::unbounded_channel();
        let (ready_tx, ready) = watch::channel(None);
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events),
            waiting: Mutex::new(HashMap::new()),
            ready: ready_tx,
            init_error: Mutex::new(None),
        });
        let server = {
            let (shared, name) = (shared.clone(), name.to_owned());
            tokio::spawn(serve_http(listener, move |req| {
                let (shared, name) = (shared.clone(), name.clone());
                async move { route(req, &shared, &name).await }
            }))
        };
        command
            .env_clear()
            .envs(env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let spawned = Instant::now();
        let child = command.spawn()?;
        Ok(Self {
            child,
            spawned,
            queue,
            shared,
            ready,
            server,
            next_request: 0,
        })
    }

    /// Sends `event` and waits for the function's answer (an error answer is an `Err`).
    pub async fn invoke(&mut self, event: Value) -> Result<Value, Error> {
        self.next_request += 1;
        let id = format!("bench-{}", self.next_request);
        let (tx, rx) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .map_err(|_| "poisoned")?
            .insert(id.clone(), tx);
        self.queue
            .send((id, event))
            .map_err(|_| "runtime API gone")?;
        tokio::select! {
            answer = rx => Ok(answer.map_err(|_| "runtime API gone")??),
            status = self.child.wait() => {
                let init = self.shared.init_error.lock().map_err(|_| "poisoned")?.clone();
                Err(format!("the function exited ({status:?}) before answering; init error: {init:?}").into())
            }
        }
    }

    /// Waits until the process has finished its init and asked for an event.
    pub async fn ready(&mut self) -> Result<(), Error> {
        tokio::select! {
            ready = self.ready.wait_for(Option::is_some) => { ready.map_err(|_| "runtime API gone")?; Ok(()) }
            status = self.child.wait() => Err(format!("the function exited during init ({status:?})").into()),
        }
    }

    /// The first invocation of a fresh process: times init and the first answer.
    pub async fn cold_invoke(&mut self, event: Value) -> Result<ColdStart, Error> {
        let answer = self.invoke(event).await?;
        let answered = self.spawned.elapsed();
        let ready = self
            .ready
            .borrow()
            .ok_or("answered without asking for an event")?
            .duration_since(self.spawned);
        Ok(ColdStart {
            ready,
            answered,
            answer,
        })
    }

    /// The process's peak resident set so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Result<u64, Error> {
        let pid = self.child.id().ok_or("the function has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or("no VmHWM in /proc status")?;
        Ok(kb * 1024)
    }

    /// CPU time the process has used so far (user + system), from /proc in clock ticks of
    /// 1/100 s (USER_HZ, fixed on Linux).
    pub fn cpu_time(&self) -> Result<Duration, Error> {
        let pid = self.child.id().ok_or("the function has exited")?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the command name, which ends at the last ')': state is field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .ok_or("unreadable /proc stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
        Ok(Duration::from_millis((ticks(11) + ticks(12)) * 10))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        self.server.abort();
    }
}

async fn route(
    req: hyper::Request<Incoming>,
    shared: &Shared,
    name: &str,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(404, Bytes::new());
    };
    if rest == "/invocation/next" {
        shared.ready.send_if_modified(|t| {
            let first = t.is_none();
            if first {
                *t = Some(Instant::now());
            }
            first
        });
        let Some((id, event)) = shared.events.lock().await.recv().await else {
            return reply(500, Bytes::new());
        };
        let deadline = std::time::SystemTime::now() + DEADLINE;
        let deadline_ms = deadline
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let mut resp = reply(200, Bytes::from(event.to_string()));
        let headers = resp.headers_mut();
        let mut set = |k: &'static str, v: String| {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                headers.insert(k, v);
            }
        };
        // The Lambda service always sends it; awslambdaric's native client crashes without it.
        set("content-type", "application/json".into());
        set("lambda-runtime-aws-request-id", id);
        set("lambda-runtime-deadline-ms", deadline_ms.to_string());
        set(
            "lambda-runtime-invoked-function-arn",
            format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        );
        set(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
        );
        return resp;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if rest == "/init/error" {
        if let Ok(mut e) = shared.init_error.lock() {
            *e = Some(String::from_utf8_lossy(&body).into_owned());
        }
        return reply(202, Bytes::new());
    }
    let answer = match rest
        .strip_prefix("/invocation/")
        .and_then(|r| r.rsplit_once('/'))
    {
        Some((id, "response")) => {
            Some((id, serde_json::from_slice(&body).map_err(|e| e.to_string())))
        }
        Some((id, "error")) => Some((id, Err(String::from_utf8_lossy(&body).into_owned()))),
        _ => None,
    };
    let Some((id, answer)) = answer else {
        return reply(404, Bytes::new());
    };
    let waiter = shared.waiting.lock().ok().and_then(|mut w| w.remove(id));
    match waiter {
        Some(tx) => {
            let _ = tx.send(answer);
            reply(202, Bytes::new())
        }
        None => reply(400, Bytes::new()),
    }
}

fn reply(status: u16, body: Bytes) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp
}
