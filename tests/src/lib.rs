//! The local stack: provisions the emulator from `infra/template.yaml` and serves the template's
//! routes through a local API Gateway. `make run` and the integration tests both use it.

pub mod event_source;
pub mod gateway;
pub mod jwks;
pub mod openapi;
pub mod provision;
pub mod template;

use latchkey_shared::config::Config;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;

use gateway::{DevJwt, Gateway, Handler};
use template::{Function, Stack, Template};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

/// SDK configuration from the standard variables. Where they are unset (a bare `cargo test`),
/// fall back to the local emulator and its dummy credentials, never to a real account.
pub async fn local_aws_config() -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        loader = loader.endpoint_url(DEFAULT_ENDPOINT).credentials_provider(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "local"),
        );
    }
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        loader = loader.region(Region::new("us-east-1"));
    }
    loader.load().await
}

/// A function's `Service` as the handler `lambda_http::run` would be given.
macro_rules! http_handler {
    ($service:expr) => {{
        let service = Arc::new($service);
        Arc::new(move |req| {
            let service = service.clone();
            Box::pin(async move { service.handle(req).await }) as gateway::HandlerFuture
        }) as Handler
    }};
}

/// The one list of HTTP function crates the local API can run, keyed by cargo binary name.
/// A function with routes in the template but no entry here fails the stack's start.
fn handler_for(
    binary: &str,
    aws: &aws_config::SdkConfig,
    env: &BTreeMap<String, String>,
) -> Result<Handler, Error> {
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    match binary {
        "credentials" => Ok(http_handler!(latchkey_credentials::Service::new(
            aws, config
        ))),
        "sharing" => Ok(http_handler!(latchkey_sharing::Service::new(aws, &config))),
        "test-connection" => Ok(http_handler!(latchkey_test_connection::Service::new(
            aws, &config
        ))),
        "oauth" => Ok(http_handler!(latchkey_oauth::Service::new(aws, &config))),
        // Serves what it was compiled with, and how to sign in: no AWS client.
        "console" => Ok(http_handler!(latchkey_console::Service::new(
            &latchkey_console::Config::from_lookup(|k| env.get(k).cloned())
        ))),
        other => Err(format!("no local handler for function binary `{other}`").into()),
    }
}

pub struct LocalStack {
    pub aws: aws_config::SdkConfig,
    pub template: Template,
    pub stack: Stack,
    pub functions: Vec<Function>,
}

impl LocalStack {
    /// Provisions the stack `name` (idempotently) with the template's parameter defaults,
    /// overridden by `overrides`.
    pub async fn up(name: &str, overrides: BTreeMap<String, String>) -> Result<Self, Error> {
        let aws = local_aws_config().await;
        let template = Template::load()?;
        let mut stack = Stack {
            name: name.to_owned(),
            parameters: template.parameters(&overrides),
            assigned: BTreeMap::new(),
        };
        provision::provision(&aws, &template, &mut stack).await?;
        let functions = template.functions(&stack)?;
        Ok(Self {
            aws,
            template,
            stack,
            functions,
        })
    }

    pub fn physical_name(&self, logical_id: &str) -> Result<String, Error> {
        Ok(self.template.physical_name(logical_id, &self.stack)?)
    }

    /// The environment the template gives a function (by binary name).
    pub fn environment(&self, binary: &str) -> Option<&BTreeMap<String, String>> {
        self.functions
            .iter()
            .find(|f| f.binary == binary)
            .map(|f| &f.environment)
    }

    /// A function's configuration as the template sets it in this stack.
    pub fn config(&self, binary: &str) -> Result<Config, Error> {
        let env = self
            .environment(binary)
            .ok_or_else(|| format!("no function `{binary}` in the template"))?;
        Ok(Config::from_lookup(|k| env.get(k).cloned())?)
    }

    /// A function's handler with the environment the template gives it.
    pub fn handler(&self, binary: &str) -> Result<Handler, Error> {
        let env = self
            .environment(binary)
            .ok_or_else(|| format!("no function `{binary}` in the template"))?;
        handler_for(binary, &self.aws, env)
    }

    /// The refresh queue as the worker's event source mapping reads it.
    pub fn refresh_queue(&self) -> Result<event_source::QueueSource, Error> {
        event_source::QueueSource::of(self, "RefreshWorkerFunction")
    }

    /// One scheduled refresh run as it happens on AWS: the sweep enqueues what is due, then
    /// workers take batches from the queue until it is empty (failed jobs come back, poison
    /// ones end in the dead-letter queue). What the sweep found and what the workers did.
    pub async fn refresh_run(
        &self,
    ) -> Result<(latchkey_refresh::SweepReport, latchkey_refresh::WorkReport), Error> {
        self.refresh_run_at(Arc::new(latchkey_shared::ports::SystemClock))
            .await
    }

    /// [`Self::refresh_run`] with the sweep's clock at another time (a health check's hour).
    pub async fn refresh_run_at(
        &self,
        clock: Arc<dyn latchkey_shared::ports::Clock>,
    ) -> Result<(latchkey_refresh::SweepReport, latchkey_refresh::WorkReport), Error> {
        let config = self.config("refresh")?;
        let mut ports = latchkey_shared::aws::ports(&self.aws, &config);
        ports.clock = clock;
        let queue = latchkey_shared::aws::work_queue(&self.aws, &config)?;
        let sweep = latchkey_refresh::Sweeper::with_ports(ports, queue, &config)
            .sweep()
            .await?;
        let worker = latchkey_refresh::Worker::new(&self.aws, &self.config("refresh-worker")?);
        let done = std::sync::Mutex::new(latchkey_refresh::WorkReport::default());
        let invoke = |event| {
            let (worker, done) = (&worker, &done);
            async move {
                let (report, failures) = worker.work(event).await;
                *done.lock().unwrap_or_else(|e| e.into_inner()) += report;
                Ok(failures)
            }
        };
        self.refresh_queue()?.drain(&invoke).await?;
        Ok((sweep, done.into_inner().unwrap_or_else(|e| e.into_inner())))
    }

    /// The refresh schedule and the worker's event source, in the background as AWS runs them
    /// (`make run`): a sweep every refresh period, workers on the queue all the time.
    pub fn run_refresh(&self) -> Result<tokio::task::JoinHandle<()>, Error> {
        let config = self.config("refresh")?;
        let sweeper = latchkey_refresh::Sweeper::new(&self.aws, &config)?;
        let worker = latchkey_refresh::Worker::new(&self.aws, &self.config("refresh-worker")?);
        let queue = self.refresh_queue()?;
        let schedule = async move {
            let mut every = tokio::time::interval(config.refresh_period);
            loop {
                every.tick().await;
                if let Err(e) = sweeper.sweep().await {
                    tracing::warn!(error = %e, "refresh sweep failed");
                }
            }
        };
        let workers = async move {
            queue
                .run(|event| {
                    let worker = &worker;
                    async move { Ok(worker.work(event).await.1) }
                })
                .await
        };
        Ok(tokio::spawn(async move {
            tokio::join!(schedule, workers);
        }))
    }

    pub fn gateway(&self, jwt: DevJwt) -> Result<Gateway, Error> {
        // Only functions with routes are HTTP functions; scheduled ones are invoked directly.
        let routed: std::collections::BTreeSet<String> = self
            .template
            .routes()
            .into_iter()
            .map(|r| r.function)
            .collect();
        let mut handlers = BTreeMap::new();
        for f in self
            .functions
            .iter()
            .filter(|f| routed.contains(&f.logical_id))
        {
            handlers.insert(
                f.logical_id.clone(),
                handler_for(&f.binary, &self.aws, &f.environment)?,
            );
        }
        Ok(Gateway::new(self.template.routes(), handlers, jwt)?)
    }

    /// Serves the API on `listener` in the background.
    pub fn serve(
        &self,
        listener: TcpListener,
        jwt: DevJwt,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        // The integration tests serve through here: every answer is checked against the
        // OpenAPI document, so each test is also a test of the contract.
        let gateway = Arc::new(
            self.gateway(jwt)?
                .with_contract(openapi::Contract::generated()),
        );
        Ok(tokio::spawn(gateway.serve(listener)))
    }
}
