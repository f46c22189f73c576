//! Recording an observation (a test, a flow's report) on a saved credential: the status rules
//! of [`crate::status`], committed through the one write path. Every transition writes a
//! history line and a `CredentialStatusChanged` event; an observation that changes nothing
//! writes its own line only.

use serde::Serialize;
use time::OffsetDateTime;

use crate::commit::{commit, Committed, Write};
use crate::domain::{CredentialId, Status};
use crate::error::InternalError;
use crate::ports::Ports;
use crate::record::{CredentialRecord, HistoryAction, HistoryEntry};
use crate::status::{Observation, Trigger};

/// What recording an observation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The status changed from the first to the second.
    Transition(Status, Status),
    /// Recorded, status unchanged.
    Unchanged,
    /// The credential changed (edited, refreshed, deleted) while it was being tested: the
    /// observation is about a state it no longer has, so it is dropped.
    Stale,
}

/// Applies `observation` to `record` (as read before the test) and records it with `action`
/// as its history line. Conditioned on the version read, so a verdict about old details never
/// lands on new ones, and bumping it, so no later write silently undoes it.
pub async fn record(
    ports: &Ports,
    record: &CredentialRecord,
    observation: &Observation,
    trigger: Trigger,
    action: HistoryAction,
    actor: &str,
) -> Result<Recorded, InternalError> {
    if record.is_deleted() {
        // Moot, and a write would drop the deleted credential's purge time.
        return Ok(Recorded::Stale);
    }
    let now = ports.now();
    let mut next = record.clone();
    let transition = next.observe(observation, trigger, now);
    let entry = HistoryEntry::new(action, actor, now).observed(
        Some(observation.result),
        observation.status().map(|_| next.status),
        &observation.code,
        trigger,
    );
    let mut write = Write::update(record, next, entry);
    if let Some((_, to)) = transition {
        write = write.and_history(status_line(actor, now, to, &observation.code, trigger));
    }
    let Committed::Written(_) = commit(&*ports.store, write).await? else {
        return Ok(Recorded::Stale);
    };
    let Some((from, to)) = transition else {
        return Ok(Recorded::Unchanged);
    };
    status_changed(ports, record, (from, to), observation, trigger).await;
    Ok(Recorded::Transition(from, to))
}

/// The history line of a status transition.
pub fn status_line(
    actor: &str,
    now: OffsetDateTime,
    to: Status,
    code: &str,
    trigger: Trigger,
) -> HistoryEntry {
    HistoryEntry::new(HistoryAction::StatusChanged, actor, now).observed(
        None,
        Some(to),
        code,
        trigger,
    )
}

/// What a status change means for the credential's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// Authentication failed: flows using it will fail until someone fixes it.
    Invalidated,
    /// The provider stopped allowing refreshes: its owner must connect again.
    ReauthRequired,
    /// Valid again after being invalid or needing re-authentication.
    Recovered,
    /// Valid for the first time.
    Verified,
    /// Back to untested (its connection details changed).
    Reset,
}

impl StatusChange {
    pub fn of(from: Status, to: Status) -> Self {
        match (from, to) {
            (_, Status::Invalid) => StatusChange::Invalidated,
            (_, Status::ReauthRequired) => StatusChange::ReauthRequired,
            (Status::Untested, Status::Valid) => StatusChange::Verified,
            (_, Status::Valid) => StatusChange::Recovered,
            (_, Status::Untested) => StatusChange::Reset,
        }
    }
}

/// The detail of a `CredentialStatusChanged` event, schema version 1: the contract in
/// `infra/events/credential-status-changed.v1.schema.json` (a new member that a consumer may
/// ignore keeps the version; anything else makes version 2). Names and codes, never a secret.
#[derive(Debug, Serialize)]
pub struct StatusChanged<'a> {
    pub schema_version: u32,
    pub credential_id: &'a CredentialId,
    pub name: &'a str,
    pub connector: &'a str,
    pub auth_type: &'a str,
    pub owner: &'a str,
    pub org_id: &'a str,
    pub from: Status,
    pub to: Status,
    pub change: StatusChange,
    pub code: &'a str,
    pub reason: &'a str,
    pub trigger: Trigger,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The event's detail type on the bus.
pub const STATUS_CHANGED: &str = "CredentialStatusChanged";

/// Tells the owner (an EventBridge event) that the status changed; logged, never a secret.
pub async fn status_changed(
    ports: &Ports,
    record: &CredentialRecord,
    (from, to): (Status, Status),
    observation: &Observation,
    trigger: Trigger,
) {
    let change = StatusChange::of(from, to);
    tracing::info!(credential_id = %record.id, from = ?from, to = ?to, change = ?change, code = %observation.code, "status changed");
    let detail = StatusChanged {
        schema_version: 1,
        credential_id: &record.id,
        name: &record.name,
        connector: &record.connector,
        auth_type: &record.auth_type,
        owner: &record.owner,
        org_id: &record.org_id,
        from,
        to,
        change,
        code: &observation.code,
        reason: &observation.message,
        trigger,
        at: ports.now(),
    };
    match serde_json::to_value(&detail) {
        Ok(detail) => ports.events.publish(STATUS_CHANGED, detail).await,
        Err(e) => tracing::error!(error = %e, "status event not serialized"),
    }
}
