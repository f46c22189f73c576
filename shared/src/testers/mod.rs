//! Connection testers: one per connector, each speaking the real protocol with a well-kept
//! crate, each bounded in time, each connecting only where the outbound guard permits.

mod database;
mod files;
mod rest;

pub use rest::Grant;
mod s3;
pub use s3::pinned_s3_client;
mod snowflake;

use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use crate::catalog::SecretFields;
use crate::guard::{GuardError, OutboundGuard};
use crate::status::{Observation, Verdict};

/// What a test answers: the observation, when and how long it took.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    #[serde(flatten)]
    pub observation: Observation,
    #[serde(with = "time::serde::rfc3339")]
    pub tested_at: OffsetDateTime,
    pub duration_ms: u64,
}

/// A credential to test, saved or not: its connector, auth type and fields.
pub struct Target<'a> {
    pub connector: &'a str,
    pub auth_type: &'a str,
    pub fields: &'a Map<String, Value>,
    pub secrets: &'a SecretFields,
}

impl<'a> Target<'a> {
    /// A saved credential with its secret fields.
    pub fn of(record: &'a crate::record::CredentialRecord, secrets: &'a SecretFields) -> Self {
        Target {
            connector: &record.connector,
            auth_type: &record.auth_type,
            fields: &record.fields,
            secrets,
        }
    }
}

impl Target<'_> {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
    fn secret(&self, name: &str) -> Option<&str> {
        self.secrets.0.get(name).map(|s| s.expose_secret())
    }
    fn port(&self, default: u16) -> u16 {
        self.fields
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(default)
    }
}

pub struct Testers {
    guard: Arc<OutboundGuard>,
    http: reqwest::Client,
    budget: Duration,
    snowflake_base_url: String,
}

impl Testers {
    /// `snowflake_base_url` may hold `{account}`: `https://{account}.snowflakecomputing.com`.
    pub fn new(guard: OutboundGuard, budget: Duration, snowflake_base_url: String) -> Self {
        let guard = Arc::new(guard);
        Self {
            http: rest::guarded_client(guard.clone(), budget),
            guard,
            budget,
            snowflake_base_url,
        }
    }

    /// As the function's configuration says: the outbound guard, the time budget, Snowflake's URL.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::new(
            config.outbound_guard.clone(),
            config.test_timeout,
            config.snowflake_base_url.clone(),
        )
    }

    /// Tests within the time budget. Never fails: every outcome is an observation.
    pub async fn test(&self, target: &Target<'_>) -> TestReport {
        let tested_at = OffsetDateTime::now_utc();
        let started = Instant::now();
        let observation = match tokio::time::timeout(self.budget, self.dispatch(target)).await {
            Ok(o) => o,
            Err(_) => Observation::new(
                Verdict::Inconclusive,
                "timeout",
                format!(
                    "no answer within {} s; check the host and port, and that the system is up",
                    self.budget.as_secs()
                ),
            ),
        };
        TestReport {
            observation,
            tested_at,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    async fn dispatch(&self, target: &Target<'_>) -> Observation {
        match target.connector {
            "rest_api" => rest::test(self, target).await,
            "postgres" => database::postgres(self, target).await,
            "mysql" => database::mysql(self, target).await,
            "ftp" => files::ftp(self, target).await,
            "sftp" => files::sftp(self, target).await,
            "s3" => s3::test(self, target).await,
            "snowflake" => snowflake::test(self, target).await,
            other => Observation::new(
                Verdict::Inconclusive,
                "not_testable",
                format!("no tester for {other}"),
            ),
        }
    }

    /// The permitted addresses of `host`, or the observation that explains the refusal.
    async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, Observation> {
        self.guard
            .resolve(host, port)
            .await
            .map_err(guard_observation)
    }
}

/// Every HTTP client's builder: TLS as [`tls_config`] says. reqwest's own choice would add ring.
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(tls_config())
}

/// TLS for connection tests: the public web roots, aws-lc-rs as the crypto provider.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

fn guard_observation(e: GuardError) -> Observation {
    Observation::new(Verdict::Inconclusive, e.code(), e.to_string())
}

fn rejected(code: &str, message: impl Into<String>) -> Observation {
    Observation::new(Verdict::Invalid, code, message)
}

fn accepted(message: impl Into<String>) -> Observation {
    Observation::new(Verdict::Valid, "ok", message)
}

fn unreachable(code: &str, message: impl Into<String>) -> Observation {
    Observation::new(Verdict::Inconclusive, code, message)
}

/// A missing field the catalog requires for testing (validation rules already ran).
fn missing(name: &str) -> Observation {
    Observation::new(
        Verdict::Invalid,
        "incomplete",
        format!("`{name}` is needed to test this credential"),
    )
}
