//! Scheduled health checks: credentials that are not token-based (token refreshes already
//! prove those) are re-tested every period, each at its own phase of the period, derived from
//! its id, so a million credentials spread evenly over the day instead of all at midnight.
//!
//! The schedule is `check_due` (epoch seconds) on the metadata item, set only while a check is
//! due: the store files such items in the sparse `by_check_due` index.

use std::time::Duration;
use time::OffsetDateTime;

use crate::record::CredentialRecord;

/// Whether the credential is checked on a schedule: checks are on (`period`), it opted in, it
/// has no tokens the service refreshes, and it is not deleted.
pub fn wants_checks(record: &CredentialRecord, period: Option<Duration>) -> bool {
    period.is_some() && record.health_check && !record.is_token_based() && !record.is_deleted()
}

/// Where in each period this credential's check falls: a hash of its id, so it stays put.
fn phase(record: &CredentialRecord, period: Duration) -> Duration {
    Duration::from_secs(record.id.spread(period.as_secs()))
}

/// Schedules (or clears) the next check at `at`.
pub fn schedule(record: &mut CredentialRecord, at: Option<OffsetDateTime>) {
    record.check_due = at.map(OffsetDateTime::unix_timestamp);
}

/// Keeps the schedule true to the rule after a create, an edit or a restore: a credential that
/// wants checks and has none due gets the next occurrence of its phase; one that no longer
/// wants them loses its schedule.
pub fn keep_schedule(record: &mut CredentialRecord, period: Option<Duration>, now: OffsetDateTime) {
    // Checks off: schedules stay as they are, for when they are turned on again.
    let Some(period) = period else {
        return;
    };
    if !wants_checks(record, Some(period)) {
        schedule(record, None);
    } else if record.check_due.is_none() {
        schedule(record, Some(next_after(record, period, now)));
    }
}

/// The first occurrence of the credential's phase after `now`.
pub fn next_after(
    record: &CredentialRecord,
    period: Duration,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let period_s = period.as_secs().max(1) as i64;
    let phase = phase(record, period).as_secs() as i64;
    let now_s = now.unix_timestamp();
    let start = now_s - now_s.rem_euclid(period_s) + phase;
    let next = if start > now_s {
        start
    } else {
        start + period_s
    };
    OffsetDateTime::from_unix_timestamp(next).unwrap_or(now)
}
