//! Configuration read once at cold start. A missing or malformed variable fails fast.

use std::env;

#[derive(Clone, Debug)]
pub struct Config {
    pub table: String,
    pub secret_prefix: String,
    pub event_bus: String,
    pub recovery_window_days: u16,
    /// The orphan sweep leaves younger secrets alone: their create may still be in flight.
    pub orphan_min_age_minutes: u32,
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
        Ok(Self {
            orphan_min_age_minutes,
            table: required("LATCHKEY_TABLE")?,
            secret_prefix: required("LATCHKEY_SECRET_PREFIX")?,
            event_bus: required("LATCHKEY_EVENT_BUS")?,
            recovery_window_days,
        })
    }
}
