//! Connection testers: one per connector, each speaking the real protocol with a well-kept
//! crate, each bounded in time, each connecting only where the outbound guard permits.

mod database;
mod files;
mod rest;
mod s3;
mod snowflake;

pub use s3::pinned_s3_client;

use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use crate::guard::OutboundGuard;
use crate::oauth::{self, Tokens};
use crate::outbound::GuardedHttp;
use crate::status::{Observation, Verdict};
pub use crate::target::Target;

/// What a test answers: the observation, when and how long it took.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    #[serde(flatten)]
    pub observation: Observation,
    #[serde(with = "time::serde::rfc3339")]
    pub tested_at: OffsetDateTime,
    pub duration_ms: u64,
}

pub struct Testers {
    outbound: GuardedHttp,
    budget: Duration,
    snowflake_base_url: String,
}

impl Testers {
    /// `snowflake_base_url` may hold `{account}`: `https://{account}.snowflakecomputing.com`.
    pub fn new(guard: OutboundGuard, budget: Duration, snowflake_base_url: String) -> Self {
        Self {
            outbound: GuardedHttp::new(Arc::new(guard), budget),
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
        self.outbound.resolve(host, port).await
    }

    /// A fresh access token for a token URL or OAuth 2.0 credential ([`oauth::acquire`]).
    pub async fn acquire_token(&self, target: &Target<'_>) -> Result<Tokens, Observation> {
        oauth::acquire(&self.outbound, target).await
    }

    /// The authorization code the provider sent back, for tokens ([`oauth::exchange_code`]).
    pub async fn exchange_code(
        &self,
        target: &Target<'_>,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, Observation> {
        oauth::exchange_code(&self.outbound, target, code, pkce_verifier, redirect_uri).await
    }
}

/// The connection testers are also the provider's token endpoint for refreshes.
#[async_trait::async_trait]
impl crate::ports::TokenEndpoint for Testers {
    async fn acquire(&self, target: &Target<'_>) -> Result<Tokens, Observation> {
        self.acquire_token(target).await
    }
}

/// The connection testers behind the port the scheduled checks use.
#[async_trait::async_trait]
impl crate::ports::ConnectionTester for Testers {
    async fn test(&self, target: &Target<'_>) -> Observation {
        Testers::test(self, target).await.observation
    }
}
