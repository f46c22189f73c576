//! Configuration read once at cold start. A missing or malformed variable fails fast.

use std::env;
use std::time::Duration;

use crate::guard::OutboundGuard;

#[derive(Clone, Debug)]
pub struct Config {
    pub table: String,
    pub secret_prefix: String,
    pub event_bus: String,
    pub recovery_window_days: u16,
    /// The orphan sweep leaves younger secrets alone: their create may still be in flight.
    pub orphan_min_age_minutes: u32,
    /// Networks exempt from the outbound guard (`LATCHKEY_OUTBOUND_ALLOW`, empty by default).
    pub outbound_guard: OutboundGuard,
    /// Total time one connection test may take (`LATCHKEY_TEST_TIMEOUT_SECONDS`, default 10).
    pub test_timeout: Duration,
    /// Connection tests per minute for one user and one organisation
    /// (`LATCHKEY_TEST_RATE_PER_USER`, default 20; `LATCHKEY_TEST_RATE_PER_ORG`, default 200;
    /// 0 is no limit).
    pub test_rate: crate::store::TestAllowance,
    /// Where Snowflake logins go; `{account}` is replaced (`LATCHKEY_SNOWFLAKE_BASE_URL`).
    pub snowflake_base_url: String,
    /// Refresh this long before expiry (`LATCHKEY_REFRESH_MARGIN_SECONDS`); unset: the smaller
    /// of 15 minutes and 10 % of the token's lifetime.
    pub refresh_margin: Option<Duration>,
    /// The sweep's period (`LATCHKEY_REFRESH_PERIOD_SECONDS`, default 300) and how many
    /// refreshes it runs at once (`LATCHKEY_REFRESH_CONCURRENCY`, default 16).
    pub refresh_period: Duration,
    pub refresh_concurrency: usize,
    /// The OAuth callback URL registered with providers (`LATCHKEY_OAUTH_REDIRECT_URI`):
    /// this API's `/oauth/callback`.
    pub oauth_redirect_uri: Option<String>,
    /// Where the callback sends the person afterwards (`LATCHKEY_OAUTH_DONE_URL`), with
    /// `credential_id` and `result` or `error` in the query.
    pub oauth_done_url: String,
    /// How often credentials that are not token-based are re-tested
    /// (`LATCHKEY_HEALTH_CHECK_HOURS`, default 24; 0 turns the checks off).
    pub health_check_period: Option<Duration>,
    /// Shards of each due index (`LATCHKEY_DUE_SHARDS`, default 4, 1 to 64): writes spread over
    /// this many partitions, and the sweeps read them all in parallel. Raise only: an item is
    /// found in any shard below the number, but one above it only after its next write.
    pub due_shards: u16,
    /// The queue the refresh sweep hands due work to (`LATCHKEY_WORK_QUEUE_URL`); only the
    /// sweep's role may send to it.
    pub work_queue_url: Option<String>,
    /// Where new credentials' secrets go (`LATCHKEY_SECRET_STORAGE`, template parameter
    /// `SecretStorage`). Only [`crate::aws`] and the migration look at it: every other part of
    /// the service sees the [`crate::ports::SecretStore`] port.
    pub secret_storage: SecretStorage,
    /// The envelope store's table and key, set by the template in either mode (a credential
    /// keeps being read where its version lives until the migration moves it).
    pub envelope: Option<EnvelopeConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretStorage {
    /// One Secrets Manager secret per credential (`secretsmanager`, the default).
    SecretsManager,
    /// Sealed in a DynamoDB table under per-organisation data keys wrapped by one KMS key
    /// (`envelope`): see [`crate::envelope`].
    Envelope,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeConfig {
    /// The table of sealed secret versions and wrapped data keys (`LATCHKEY_SECRET_TABLE`).
    pub table: String,
    /// The KMS key that wraps the data keys (`LATCHKEY_DATA_KEY_MASTER`, its ARN).
    pub master_key: String,
    /// A new data key per organisation this often (`LATCHKEY_DATA_KEY_ROTATION_DAYS`,
    /// default 30, 1 to 365); older ones stay for reading what they sealed.
    pub rotation: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, &'static str),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| env::var(k).ok())
    }

    /// Reads from any source of variables, so the local API can hand each function the
    /// environment the template declares for it.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |k: &'static str| {
            get(k)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(k))
        };
        let recovery_window_days = match get("LATCHKEY_RECOVERY_WINDOW_DAYS") {
            None => 7,
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|d| (7..=29).contains(d))
                .ok_or(ConfigError::Invalid(
                    "LATCHKEY_RECOVERY_WINDOW_DAYS",
                    "a whole number of days from 7 to 29",
                ))?,
        };
        let orphan_min_age_minutes = match get("LATCHKEY_ORPHAN_MIN_AGE_MINUTES") {
            None => 60,
            Some(v) => v.parse::<u32>().map_err(|_| {
                ConfigError::Invalid(
                    "LATCHKEY_ORPHAN_MIN_AGE_MINUTES",
                    "a whole number of minutes",
                )
            })?,
        };
        let outbound_guard = OutboundGuard::parse(
            &get("LATCHKEY_OUTBOUND_ALLOW").unwrap_or_default(),
        )
        .map_err(|_| ConfigError::Invalid("LATCHKEY_OUTBOUND_ALLOW", "comma-separated CIDRs"))?;
        let test_timeout = match get("LATCHKEY_TEST_TIMEOUT_SECONDS") {
            None => Duration::from_secs(10),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=60).contains(s))
                .map(Duration::from_secs)
                .ok_or(ConfigError::Invalid(
                    "LATCHKEY_TEST_TIMEOUT_SECONDS",
                    "whole seconds from 1 to 60",
                ))?,
        };
        let seconds = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            get(name)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| ConfigError::Invalid(name, "whole seconds"))
                })
                .transpose()
        };
        let refresh_concurrency = number_in(
            get("LATCHKEY_REFRESH_CONCURRENCY"),
            "LATCHKEY_REFRESH_CONCURRENCY",
            1..=256,
            16,
            "a number from 1 to 256",
        )?;
        let per_minute = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .map_err(|_| ConfigError::Invalid(name, "a whole number of tests per minute")),
            }
        };
        let test_rate = crate::store::TestAllowance {
            per_user: per_minute("LATCHKEY_TEST_RATE_PER_USER", 20)?,
            per_org: per_minute("LATCHKEY_TEST_RATE_PER_ORG", 200)?,
        };
        let health_check_period = match get("LATCHKEY_HEALTH_CHECK_HOURS").filter(|v| !v.is_empty())
        {
            None => Some(Duration::from_secs(24 * 3600)),
            Some(v) => match v.parse::<u64>() {
                Ok(0) => None,
                Ok(hours) if hours <= 24 * 365 => Some(Duration::from_secs(hours * 3600)),
                _ => {
                    return Err(ConfigError::Invalid(
                        "LATCHKEY_HEALTH_CHECK_HOURS",
                        "whole hours from 0 (off) to 8760",
                    ))
                }
            },
        };
        let due_shards = number_in(
            get("LATCHKEY_DUE_SHARDS"),
            "LATCHKEY_DUE_SHARDS",
            1..=64,
            4,
            "a number from 1 to 64",
        )?;
        let secret_storage = match get("LATCHKEY_SECRET_STORAGE").as_deref() {
            None | Some("") | Some("secretsmanager") => SecretStorage::SecretsManager,
            Some("envelope") => SecretStorage::Envelope,
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "LATCHKEY_SECRET_STORAGE",
                    "secretsmanager or envelope",
                ))
            }
        };
        let envelope = match (
            get("LATCHKEY_SECRET_TABLE").filter(|v| !v.is_empty()),
            get("LATCHKEY_DATA_KEY_MASTER").filter(|v| !v.is_empty()),
        ) {
            (Some(table), Some(master_key)) => Some(EnvelopeConfig {
                table,
                master_key,
                rotation: Duration::from_secs(
                    86_400
                        * number_in(
                            get("LATCHKEY_DATA_KEY_ROTATION_DAYS"),
                            "LATCHKEY_DATA_KEY_ROTATION_DAYS",
                            1..=365,
                            30u64,
                            "whole days from 1 to 365",
                        )?,
                ),
            }),
            _ if secret_storage == SecretStorage::Envelope => {
                return Err(ConfigError::Missing(
                    "LATCHKEY_SECRET_TABLE and LATCHKEY_DATA_KEY_MASTER",
                ))
            }
            _ => None,
        };
        Ok(Self {
            secret_storage,
            envelope,
            work_queue_url: get("LATCHKEY_WORK_QUEUE_URL").filter(|v| !v.is_empty()),
            due_shards,
            health_check_period,
            test_rate,
            refresh_margin: seconds("LATCHKEY_REFRESH_MARGIN_SECONDS")?.map(Duration::from_secs),
            refresh_period: Duration::from_secs(
                seconds("LATCHKEY_REFRESH_PERIOD_SECONDS")?.unwrap_or(300),
            ),
            refresh_concurrency,
            oauth_redirect_uri: get("LATCHKEY_OAUTH_REDIRECT_URI").filter(|v| !v.is_empty()),
            oauth_done_url: get("LATCHKEY_OAUTH_DONE_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "../console/connected".into()),
            outbound_guard,
            test_timeout,
            snowflake_base_url: get("LATCHKEY_SNOWFLAKE_BASE_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "https://{account}.snowflakecomputing.com".into()),
            orphan_min_age_minutes,
            table: required("LATCHKEY_TABLE")?,
            secret_prefix: required("LATCHKEY_SECRET_PREFIX")?,
            event_bus: required("LATCHKEY_EVENT_BUS")?,
            recovery_window_days,
        })
    }
}

/// A number in `range` from a variable's `value`; `default` when it is unset or empty.
fn number_in<T: std::str::FromStr + PartialOrd>(
    value: Option<String>,
    name: &'static str,
    range: std::ops::RangeInclusive<T>,
    default: T,
    what: &'static str,
) -> Result<T, ConfigError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or(ConfigError::Invalid(name, what)),
    }
}
