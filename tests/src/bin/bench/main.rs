//! `make bench`: what a credential service costs per request and after idling, measured on the
//! release build of each function run as Lambda runs it (a Runtime API on 127.0.0.1), its AWS
//! calls going to the emulator through a counting proxy, beside the boto3 handlers a team would
//! write instead (tests/bench/baseline). Prints the tables BENCHMARKS.md records.
//!
//! Options: --sections (default cold,calls,sweep; size and memory come with cold), --runs N
//! (cold starts per function and language, default 10), --warm N (warm invocations after each
//! cold one, default 20), --stored N and --due N (refresh fan-out: the sweep function, then
//! refresh-worker processes fed by the local SQS event source; default
//! 10000 and 1000), --bin-dir (release binaries, default target/release), --zip-dir (arm64
//! zips from `make build`, default target/lambda), --python (default .venv-bench/bin/python),
//! --storage (the stack's `SecretStorage`: secretsmanager, the default, or envelope).

mod fixtures;
mod lambda;
mod proxy;

use fixtures::{Bench, OWNER, READER, READER_TEAMS};
use lambda::Function;
use latchkey_tests::Error;
use proxy::Calls;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::process::Command;

struct Options {
    sections: Vec<String>,
    runs: usize,
    warm: usize,
    stored: usize,
    due: usize,
    bin_dir: PathBuf,
    zip_dir: PathBuf,
    python: PathBuf,
    baseline: PathBuf,
    out_dir: PathBuf,
    storage: String,
}

impl Options {
    fn parse() -> Result<Self, Error> {
        let mut o = Options {
            sections: vec!["cold".into(), "calls".into(), "sweep".into()],
            runs: 10,
            warm: 20,
            stored: 10_000,
            due: 1_000,
            bin_dir: "target/release".into(),
            zip_dir: "target/lambda".into(),
            python: ".venv-bench/bin/python".into(),
            baseline: "tests/bench/baseline".into(),
            out_dir: "target/bench".into(),
            storage: "secretsmanager".into(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<usize>()
                    .map_err(|_| format!("{flag}: {value}"))
            };
            match flag.as_str() {
                "--sections" => o.sections = value.split(',').map(str::to_owned).collect(),
                "--runs" => o.runs = number()?.max(1),
                "--warm" => o.warm = number()?,
                "--stored" => o.stored = number()?,
                "--due" => o.due = number()?,
                "--bin-dir" => o.bin_dir = value.into(),
                "--zip-dir" => o.zip_dir = value.into(),
                "--python" => o.python = value.into(),
                "--storage" if ["secretsmanager", "envelope"].contains(&value.as_str()) => {
                    o.storage = value
                }
                _ => return Err(format!("unknown option {flag}").into()),
            }
        }
        if o.due > o.stored {
            return Err("--due cannot exceed --stored".into());
        }
        // Absolute: the baseline runs in its own directory.
        let cwd = std::env::current_dir()?;
        for path in [
            &mut o.bin_dir,
            &mut o.zip_dir,
            &mut o.python,
            &mut o.baseline,
        ] {
            *path = cwd.join(&*path);
        }
        Ok(o)
    }
}

/// What a function process runs: the release binary, or the baseline handler of that name.
#[derive(Clone, Copy)]
enum Runtime<'a> {
    Rust,
    Python(&'a str),
}

/// One function's cold-start request, and the baseline handler that makes the same AWS calls.
struct Case {
    binary: &'static str,
    request: &'static str,
    python_handler: &'static str,
    event: Value,
}

struct Sample {
    ready: Duration,
    answered: Duration,
    warm: Duration,
    peak_rss: u64,
    calls: Calls,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = Options::parse()?;
    let emulator = std::env::var("AWS_ENDPOINT_URL")
        .unwrap_or_else(|_| latchkey_tests::DEFAULT_ENDPOINT.to_owned());
    std::fs::create_dir_all(options.out_dir.join("logs"))?;
    let bench = Bench::up(&emulator, &options.storage).await?;
    let mut report = header(&options)?;
    eprintln!("setting up: credentials, grants, connections");
    let rest = bench.create(&bench.rest_basic("warehouse-api")).await?;
    let oauth = bench.create(&bench.oauth_code("crm")).await?;
    bench.reachable_hundred().await?;

    let run = |section: &str| options.sections.iter().any(|s| s == section);
    let mut rows = Vec::new();
    if run("cold") {
        eprintln!(
            "cold starts: {} runs per function and language",
            options.runs
        );
        for case in cases(&bench, &rest, &oauth)? {
            let mut rust = Vec::new();
            let mut python = Vec::new();
            // Interleaved, so whatever else the machine does falls on both alike.
            for _ in 0..options.runs {
                rust.push(measure(&bench, &options, &case, Runtime::Rust).await?);
                let baseline = Runtime::Python(case.python_handler);
                python.push(measure(&bench, &options, &case, baseline).await?);
            }
            eprintln!("  {} done", case.binary);
            rows.push((case, rust, python));
        }
        report.push_str(&cold_start_table(&rows));
    }
    if run("calls") {
        eprintln!("AWS calls per operation");
        report.push_str(&calls_table(&bench, &options, &rest).await?);
    }
    let mut sweeps = Vec::new();
    if run("sweep") {
        eprintln!(
            "refresh sweep: {} stored, {} due (creating them takes a while)",
            options.stored, options.due
        );
        let due = bench
            .create_many(options.due, |i| {
                Bench::client_credentials(&format!("cc-{i}"))
            })
            .await?;
        // The rest of the table: metadata in the due index, due tomorrow.
        let created = bench.created.load(std::sync::atomic::Ordering::Relaxed);
        bench
            .scheduled_later(options.stored.saturating_sub(created))
            .await?;
        let most = bench.stack.refresh_queue()?.pollers();
        // A credential's first refresh does more (no token yet, a status change to announce):
        // one run for that, then the steady state with one worker and with the template's most.
        for (label, workers) in [("first refresh", most), ("steady", 1), ("steady", most)] {
            bench.make_due(&due).await?;
            sweeps.push(fan_out(&bench, &options, label, workers).await?);
        }
        report.push_str(&fan_out_table(&options, &sweeps));
    }
    if !rows.is_empty() {
        report.push_str(&size_table(&options, &rows, &sweeps)?);
    }

    println!("{report}");
    let path = options.out_dir.join("report.md");
    std::fs::write(&path, &report)?;
    eprintln!("written to {}", path.display());
    Ok(())
}

fn cases(bench: &Bench, rest: &str, oauth: &str) -> Result<Vec<Case>, Error> {
    Ok(vec![
        Case {
            binary: "credentials",
            request: "GET /credentials/{id}",
            python_handler: "credentials.get_credential",
            event: bench.event(OWNER, &[], "GET", &format!("/credentials/{rest}"), None)?,
        },
        Case {
            binary: "sharing",
            request: "GET /credentials/{id}/accessors",
            python_handler: "sharing.list_accessors",
            event: bench.event(
                OWNER,
                &[],
                "GET",
                &format!("/credentials/{rest}/accessors"),
                None,
            )?,
        },
        Case {
            binary: "test-connection",
            request: "POST /credentials/{id}/test (REST, basic)",
            python_handler: "test_connection.test_credential",
            event: bench.event(
                OWNER,
                &[],
                "POST",
                &format!("/credentials/{rest}/test"),
                None,
            )?,
        },
        Case {
            binary: "resolve",
            request: "resolve (platform invoke)",
            python_handler: "resolve.resolve",
            event: resolve_event(rest),
        },
        Case {
            binary: "oauth",
            request: "GET /credentials/{id}/oauth/authorize",
            python_handler: "oauth.authorize",
            event: bench.event(
                OWNER,
                &[],
                "GET",
                &format!("/credentials/{oauth}/oauth/authorize"),
                None,
            )?,
        },
        Case {
            binary: "refresh",
            request: "scheduled sweep, nothing due",
            python_handler: "refresh.refresh_sweep",
            event: scheduled_event(),
        },
        Case {
            binary: "janitor",
            request: "scheduled sweep, no orphans",
            python_handler: "janitor.janitor_sweep",
            event: scheduled_event(),
        },
    ])
}

/// What an EventBridge schedule delivers.
fn scheduled_event() -> Value {
    json!({"version": "0", "id": "bench", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "000000000000", "time": "2026-11-28T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}})
}

fn resolve_event(id: &str) -> Value {
    json!({"action": "resolve", "credential_id": id,
        "principal": {"user": OWNER, "org_id": fixtures::ORG, "teams": []},
        "usage": {"kind": "source", "resource_id": "orders"}})
}

/// The function's answer is a success: a 2xx HTTP response, a resolve with secrets, a sweep
/// without errors. A benchmark of failures would measure nothing.
fn succeeded(answer: &Value) -> bool {
    if let Some(status) = answer.get("statusCode").and_then(Value::as_u64) {
        return (200..400).contains(&status);
    }
    answer.get("error").is_none() && answer.get("errors").is_none_or(|e| e == 0)
}

async fn spawn(
    options: &Options,
    bench: &Bench,
    binary: &str,
    runtime: Runtime<'_>,
    extra_env: &[(&str, String)],
) -> Result<Function, Error> {
    let (command, tag) = match runtime {
        Runtime::Rust => (Command::new(options.bin_dir.join(binary)), "rust"),
        Runtime::Python(handler) => {
            let mut c = Command::new(&options.python);
            c.args(["-m", "awslambdaric", handler])
                .current_dir(&options.baseline);
            (c, "python")
        }
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(options.out_dir.join(format!("logs/{binary}-{tag}.log")))?;
    let mut env = bench.environment(binary)?;
    env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Function::spawn(binary, command, &env, log).await
}

async fn measure(
    bench: &Bench,
    options: &Options,
    case: &Case,
    runtime: Runtime<'_>,
) -> Result<Sample, Error> {
    bench.proxy.take();
    let mut function = spawn(options, bench, case.binary, runtime, &[]).await?;
    let cold = function.cold_invoke(case.event.clone()).await?;
    let calls = bench.proxy.take();
    if !succeeded(&cold.answer) {
        return Err(format!("{} ({}) failed: {}", case.binary, case.request, cold.answer).into());
    }
    let mut warm = Vec::with_capacity(options.warm);
    for _ in 0..options.warm {
        let started = Instant::now();
        function.invoke(case.event.clone()).await?;
        warm.push(started.elapsed());
    }
    let peak_rss = function.peak_rss()?;
    function.stop().await;
    Ok(Sample {
        ready: cold.ready,
        answered: cold.answered,
        warm: median(&mut warm).unwrap_or_default(),
        peak_rss,
        calls,
    })
}

fn median(values: &mut [Duration]) -> Option<Duration> {
    values.sort();
    values.get(values.len() / 2).copied()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `median (min–max)` in milliseconds.
fn spread(values: impl Iterator<Item = Duration>) -> (f64, String) {
    let mut v: Vec<Duration> = values.collect();
    let Some(m) = median(&mut v) else {
        return (0.0, "-".into());
    };
    let (lo, hi) = (v[0], v[v.len() - 1]);
    (ms(m), format!("{:.1} ({:.1}–{:.1})", ms(m), ms(lo), ms(hi)))
}

fn header(options: &Options) -> Result<String, Error> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")?
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let now = time::OffsetDateTime::now_utc();
    let mut s = String::new();
    writeln!(
        s,
        "# Latchkey benchmark, {}-{:02}-{:02} {:02}:{:02} UTC\n",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute()
    )?;
    writeln!(
        s,
        "Machine: {cpu}, {cores} cores. Functions: x86_64 builds from {} under a local \
         Runtime API; AWS: the emulator on 127.0.0.1. {} cold starts per function and language, \
         {} warm invocations after each. Secret storage: {}.\n",
        options.bin_dir.display(),
        options.runs,
        options.warm,
        options.storage
    )?;
    Ok(s)
}

fn cold_start_table(rows: &[(Case, Vec<Sample>, Vec<Sample>)]) -> String {
    let mut s = String::from(
        "## Cold start (ms, median (min–max))\n\n\
         | function | request | Rust init | Rust first answer | Rust warm | boto3 init | boto3 first answer | boto3 warm | Rust / boto3 | AWS calls Rust / boto3 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (case, rust, python) in rows {
        let (_, rust_ready) = spread(rust.iter().map(|s| s.ready));
        let (rust_first, rust_answer) = spread(rust.iter().map(|s| s.answered));
        let (_, rust_warm) = spread(rust.iter().map(|s| s.warm));
        let (_, py_ready) = spread(python.iter().map(|s| s.ready));
        let (py_first, py_answer) = spread(python.iter().map(|s| s.answered));
        let (_, py_warm) = spread(python.iter().map(|s| s.warm));
        // The last run's: the first may differ once (a first test changes the status).
        let calls = |samples: &[Sample]| {
            samples
                .last()
                .map(|s| format!("{} ({})", s.calls.total(), s.calls.detail()))
                .unwrap_or_default()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {rust_ready} | {rust_answer} | {rust_warm} | {py_ready} | {py_answer} | {py_warm} | {:.2} | {} / {} |",
            case.binary,
            case.request,
            rust_first / py_first.max(f64::EPSILON),
            calls(rust),
            calls(python),
        );
    }
    s.push('\n');
    s
}

/// An API operation whose AWS calls are counted, and for reads the calls it should make.
struct Operation {
    name: &'static str,
    binary: &'static str,
    event: Value,
    target: Option<Reads>,
}

struct Reads {
    dynamodb: usize,
    secrets_manager: usize,
}

/// One process per function; each operation's AWS calls counted at the proxy.
async fn calls_table(bench: &Bench, options: &Options, rest: &str) -> Result<String, Error> {
    let doomed = bench.create(&bench.rest_basic("to-delete")).await?;
    let mut functions = std::collections::HashMap::new();
    for binary in ["credentials", "sharing", "test-connection", "resolve"] {
        let f = spawn(options, bench, binary, Runtime::Rust, &[]).await?;
        functions.insert(binary, f);
    }
    let reader_principals = 2 + READER_TEAMS.len(); // user, teams, org
    let ops = vec![
        Operation {
            name: "create",
            binary: "credentials",
            event: bench.event(
                OWNER,
                &[],
                "POST",
                "/credentials",
                Some(&bench.rest_basic("created")),
            )?,
            target: None,
        },
        Operation {
            name: "get",
            binary: "credentials",
            event: bench.event(OWNER, &[], "GET", &format!("/credentials/{rest}"), None)?,
            target: Some(Reads {
                dynamodb: 1,
                secrets_manager: 0,
            }),
        },
        Operation {
            name: "list (100 via user, 3 teams, org)",
            binary: "credentials",
            event: bench.event(READER, &READER_TEAMS, "GET", "/credentials?limit=100", None)?,
            target: Some(Reads {
                dynamodb: reader_principals + 1,
                secrets_manager: 0,
            }),
        },
        Operation {
            name: "patch",
            binary: "credentials",
            event: bench.event(
                OWNER,
                &[],
                "PATCH",
                &format!("/credentials/{rest}"),
                Some(&json!({"description": "renamed by the bench"})),
            )?,
            target: None,
        },
        Operation {
            name: "delete",
            binary: "credentials",
            event: bench.event(
                OWNER,
                &[],
                "DELETE",
                &format!("/credentials/{doomed}"),
                None,
            )?,
            target: None,
        },
        Operation {
            name: "share",
            binary: "sharing",
            event: bench.event(
                OWNER,
                &[],
                "PUT",
                &format!("/credentials/{rest}/accessors/user/carol"),
                Some(&json!({"role": "collaborator"})),
            )?,
            target: None,
        },
        Operation {
            name: "test",
            binary: "test-connection",
            event: bench.event(
                OWNER,
                &[],
                "POST",
                &format!("/credentials/{rest}/test"),
                None,
            )?,
            target: None,
        },
        Operation {
            name: "resolve",
            binary: "resolve",
            event: resolve_event(rest),
            target: None,
        },
        // The same version again in the same warm process: from its memory (issue 16).
        Operation {
            name: "resolve, warm repeat",
            binary: "resolve",
            event: resolve_event(rest),
            target: Some(Reads {
                dynamodb: 2,
                secrets_manager: 0,
            }),
        },
    ];
    let mut s = String::from(
        "## AWS calls per operation (counted at the emulator's door)\n\n\
         | operation | DynamoDB | Secrets Manager | KMS | EventBridge | total | calls | target | met |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for Operation {
        name,
        binary,
        event,
        target,
    } in ops
    {
        let f = functions.get_mut(binary).ok_or("spawned above")?;
        bench.proxy.take();
        let answer = f.invoke(event).await?;
        let calls = bench.proxy.take();
        if !succeeded(&answer) {
            return Err(format!("{name} failed: {answer}").into());
        }
        if name.starts_with("list") {
            let items = serde_json::from_str::<Value>(answer["body"].as_str().unwrap_or("{}"))?;
            let n = items["items"].as_array().map_or(0, Vec::len);
            if n != 100 {
                return Err(format!("the list reached {n} credentials, not 100").into());
            }
        }
        let (ddb, sm) = (calls.service("dynamodb"), calls.service("secretsmanager"));
        let (target, met) = match target {
            Some(Reads {
                dynamodb,
                secrets_manager,
            }) => (
                format!("{dynamodb} DynamoDB, {secrets_manager} Secrets Manager"),
                if ddb == dynamodb && sm == secrets_manager {
                    "yes"
                } else {
                    "**no**"
                },
            ),
            None => ("-".into(), ""),
        };
        let _ = writeln!(
            s,
            "| {name} | {ddb} | {sm} | {} | {} | {} | {} | {target} | {met} |",
            calls.service("kms"),
            calls.service("events"),
            calls.total(),
            calls.detail()
        );
    }
    for (_, f) in functions {
        f.stop().await;
    }
    s.push('\n');
    Ok(s)
}

/// One scheduled refresh run as AWS runs it: the sweep function finds and enqueues, then
/// `workers` worker processes take batches from the queue through the local event source
/// mapping until it is empty.
struct FanOut {
    label: &'static str,
    workers: usize,
    /// The sweep's answer (`items_read`, `due`, `checks_due`).
    sweep_report: Value,
    sweep_took: Duration,
    sweep_cpu: Duration,
    sweep_calls: Calls,
    /// What the workers logged, summed over their batches.
    work: WorkCounts,
    work_took: Duration,
    work_cpu: Duration,
    work_calls: Calls,
    peak_rss: u64,
    worker_rss: u64,
}

#[derive(Default, Debug)]
struct WorkCounts {
    batches: u64,
    refreshed: u64,
    others: u64,
}

/// The workers' "refresh batch done" lines after `offset` in their log.
fn work_counts(log: &std::path::Path, offset: u64) -> Result<WorkCounts, Error> {
    let text = std::fs::read(log)?;
    let mut counts = WorkCounts::default();
    for line in String::from_utf8_lossy(&text[offset as usize..]).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let f = &v["fields"];
        if f["message"] != "refresh batch done" {
            continue;
        }
        let n = |k: &str| f[k].as_u64().unwrap_or(0);
        counts.batches += 1;
        counts.refreshed += n("refreshed");
        counts.others += ["skipped", "failed", "reauth_required", "errors"]
            .iter()
            .map(|k| n(k))
            .sum::<u64>();
    }
    Ok(counts)
}

async fn fan_out(
    bench: &Bench,
    options: &Options,
    label: &'static str,
    workers: usize,
) -> Result<FanOut, Error> {
    // The sweep, one invocation of the scheduled function.
    let mut sweep = spawn(options, bench, "refresh", Runtime::Rust, &[]).await?;
    sweep.ready().await?;
    bench.proxy.take();
    let cpu_at_ready = sweep.cpu_time()?;
    let started = Instant::now();
    let sweep_report = sweep.invoke(scheduled_event()).await?;
    let sweep_took = started.elapsed();
    let sweep_calls = bench.proxy.take();
    let sweep_cpu = sweep.cpu_time()?.saturating_sub(cpu_at_ready);
    let peak_rss = sweep.peak_rss()?;
    sweep.stop().await;

    // The workers, warm (started and ready) before the first batch, as Lambda keeps them.
    let log = options.out_dir.join("logs/refresh-worker-rust.log");
    let mut pool = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut f = spawn(options, bench, "refresh-worker", Runtime::Rust, &[]).await?;
        f.ready().await?;
        pool.push(f);
    }
    let offset = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let cpu_before: Vec<Duration> = pool
        .iter()
        .map(|f| f.cpu_time())
        .collect::<Result<_, _>>()?;
    let pool = tokio::sync::Mutex::new(pool);
    let invoke = |event: aws_lambda_events::event::sqs::SqsEvent| {
        let pool = &pool;
        async move {
            let mut f = pool.lock().await.pop().ok_or("no idle worker")?;
            let answer = f.invoke(serde_json::to_value(&event)?).await;
            pool.lock().await.push(f);
            Ok(serde_json::from_value(answer?)?)
        }
    };
    bench.proxy.take();
    let started = Instant::now();
    bench
        .stack
        .refresh_queue()?
        .with_pollers(workers)
        .drain(&invoke)
        .await?;
    let work_took = started.elapsed();
    let work_calls = bench.proxy.take();
    let pool = pool.into_inner();
    let work_cpu = pool
        .iter()
        .map(|f| f.cpu_time())
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .sum::<Duration>()
        .saturating_sub(cpu_before.into_iter().sum());
    let worker_rss = pool
        .iter()
        .map(|f| f.peak_rss())
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .max()
        .unwrap_or(0);
    for f in pool {
        f.stop().await;
    }
    // Give the workers' last log lines a moment to reach the file.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(FanOut {
        label,
        workers,
        sweep_report,
        sweep_took,
        sweep_cpu,
        sweep_calls,
        work: work_counts(&log, offset)?,
        work_took,
        work_cpu,
        work_calls,
        peak_rss,
        worker_rss,
    })
}

fn fan_out_table(options: &Options, runs: &[FanOut]) -> String {
    let per_second = |n: u64, d: Duration| n as f64 / d.as_secs_f64().max(f64::EPSILON);
    let mut s = format!(
        "## Refresh fan-out ({} stored, {} due; OAuth 2.0 client credentials at the local oidc-provider)\n\n\
         ### The sweep: find and enqueue (one invocation)\n\n\
         | run | items read | enqueued | wall time (s) | function CPU (ms) | AWS calls | peak RSS (MiB) |\n\
         |---|---|---|---|---|---|---|\n",
        options.stored, options.due
    );
    for r in runs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.0} | {} ({}) | {:.1} |",
            r.label,
            r.sweep_report["items_read"],
            r.sweep_report["due"].as_u64().unwrap_or(0)
                + r.sweep_report["checks_due"].as_u64().unwrap_or(0),
            r.sweep_took.as_secs_f64(),
            r.sweep_cpu.as_secs_f64() * 1000.0,
            r.sweep_calls.total(),
            r.sweep_calls.detail_timed(),
            mib(r.peak_rss),
        );
    }
    s.push_str(
        "\n### The workers: refresh from the queue\n\n\
         | run | workers | batches | refreshed | not refreshed | wall time (s) | refreshes/s | sweep + workers, refreshes/s | emulator busy | worker CPU per refresh (ms) | AWS calls per refresh | peak RSS per worker (MiB) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let refreshed = r.work.refreshed;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {refreshed} | {} | {:.2} | {:.0} | {:.0} | {:.0} % | {:.2} | {:.1} ({}) | {:.1} |",
            r.label,
            r.workers,
            r.work.batches,
            r.work.others,
            r.work_took.as_secs_f64(),
            per_second(refreshed, r.work_took),
            per_second(refreshed, r.work_took + r.sweep_took),
            100.0 * r.work_calls.busy.as_secs_f64() / r.work_took.as_secs_f64().max(f64::EPSILON),
            r.work_cpu.as_secs_f64() * 1000.0 / refreshed.max(1) as f64,
            r.work_calls.total() as f64 / refreshed.max(1) as f64,
            r.work_calls.detail_timed(),
            mib(r.worker_rss),
        );
    }
    s.push('\n');
    s
}

fn size_table(
    options: &Options,
    rows: &[(Case, Vec<Sample>, Vec<Sample>)],
    sweeps: &[FanOut],
) -> Result<String, Error> {
    const ZIP_LIMIT: u64 = 5_000_000; // the stricter reading of "5 MB"
    const RSS_LIMIT: u64 = 64_000_000;
    let mut s = String::from(
        "## Size and memory (targets: zip at most 5 MB, peak RSS at most 64 MB; figures in MiB)\n\n\
         | function | arm64 bootstrap.zip | x86_64 binary | peak RSS, Rust | peak RSS, boto3 | met |\n\
         |---|---|---|---|---|---|\n",
    );
    for (case, rust, python) in rows {
        let zip = std::fs::metadata(options.zip_dir.join(case.binary).join("bootstrap.zip"))
            .map(|m| m.len())
            .ok();
        let binary = std::fs::metadata(options.bin_dir.join(case.binary))?.len();
        let mut rss = rust.iter().map(|s| s.peak_rss).max().unwrap_or(0);
        if case.binary == "refresh" {
            rss = rss.max(sweeps.iter().map(|w| w.peak_rss).max().unwrap_or(0));
        }
        let py_rss = python.iter().map(|s| s.peak_rss).max().unwrap_or(0);
        let met = zip.is_some_and(|z| z <= ZIP_LIMIT) && rss <= RSS_LIMIT;
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.1} | {:.1} | {} |",
            case.binary,
            zip.map_or("not built (make build)".into(), |z| format!(
                "{:.2}",
                mib(z)
            )),
            mib(binary),
            mib(rss),
            mib(py_rss),
            if met { "yes" } else { "**no**" }
        );
    }
    if let Some(rss) = sweeps.iter().map(|w| w.worker_rss).max() {
        // The worker has no cold-start case of its own: its figures come from the fan-out runs.
        let zip = std::fs::metadata(options.zip_dir.join("refresh-worker/bootstrap.zip"))
            .map(|m| m.len())
            .ok();
        let binary = std::fs::metadata(options.bin_dir.join("refresh-worker"))?.len();
        let met = zip.is_some_and(|z| z <= ZIP_LIMIT) && rss <= RSS_LIMIT;
        let _ = writeln!(
            s,
            "| refresh-worker | {} | {:.2} | {:.1} | - | {} |",
            zip.map_or("not built (make build)".into(), |z| format!(
                "{:.2}",
                mib(z)
            )),
            mib(binary),
            mib(rss),
            if met { "yes" } else { "**no**" }
        );
    }
    s.push_str(
        "\nPeak RSS: the most any process reached over its cold start and warm invocations \
         (refresh: also the three sweeps; refresh-worker: over the three fan-out runs).\n",
    );
    Ok(s)
}
