//! Recording an observation (a test, a flow's report) on a saved credential: the status rules
//! of [`crate::status`], committed through the one write path. Every transition writes a
//! history line and a `CredentialStatusChanged` event; an observation that changes nothing
//! writes its own line only.

use serde_json::json;
use time::OffsetDateTime;

use crate::commit::{commit, Committed, Write};
use crate::domain::Status;
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

/// Tells the owner (an EventBridge event) that the status changed; logged, never a secret.
pub async fn status_changed(
    ports: &Ports,
    record: &CredentialRecord,
    (from, to): (Status, Status),
    observation: &Observation,
    trigger: Trigger,
) {
    tracing::info!(credential_id = %record.id, from = ?from, to = ?to, code = %observation.code, "status changed");
    ports
        .events
        .publish(
            "CredentialStatusChanged",
            json!({
                "credential_id": record.id, "owner": record.owner, "org_id": record.org_id,
                "from": from, "to": to, "code": observation.code,
                "reason": observation.message, "trigger": trigger,
            }),
        )
        .await;
}
