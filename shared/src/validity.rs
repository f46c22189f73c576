//! The validity model (brief §4): what a test or a flow's report does to a credential's status.
//!
//! `valid` when the remote system accepted the credentials, `invalid` when it rejected them,
//! `inconclusive` when it could not be reached: that is recorded but never flips a credential.
//! Every transition writes a history line and a `CredentialStatusChanged` event; an
//! observation that changes nothing writes neither.

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::domain::Status;
use crate::error::ApiError;
use crate::record::{CredentialRecord, HistoryAction, HistoryEntry};
use crate::store::{Change, WriteOutcome};
use crate::Backends;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Invalid,
    Inconclusive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Create,
    Test,
    Flow,
    Refresh,
    /// An edit of connection details, which makes the last verdict meaningless.
    Edit,
    /// An OAuth 2.0 connect or re-authentication through the provider.
    Connect,
}

/// One observation of whether a credential authenticates.
#[derive(Clone, Debug, Serialize)]
pub struct Observation {
    pub result: Verdict,
    /// Machine-readable: `ok`, `auth_rejected`, `connection_refused`, `flow_auth_failed`, ...
    pub code: String,
    /// For a person: what happened and what to do. Never a secret value.
    pub message: String,
}

impl Observation {
    pub fn new(result: Verdict, code: &str, message: impl Into<String>) -> Self {
        Self {
            result,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// The status this observation leads to, if it leads anywhere.
    pub fn status(&self) -> Option<Status> {
        match self.result {
            Verdict::Valid => Some(Status::Valid),
            Verdict::Invalid => Some(Status::Invalid),
            Verdict::Inconclusive => None,
        }
    }
}

/// What recording an observation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The status changed from the first to the second.
    Transition(Status, Status),
    /// Recorded, status unchanged.
    Unchanged,
    /// The credential changed (edited, deleted) while it was being tested: the observation is
    /// about details it no longer has, so it is dropped.
    Stale,
}

/// Applies `observation` to `record` (as read before the test) and records it with `action`
/// as its history line. Conditioned on the version, so a verdict about old details never lands
/// on new ones.
pub async fn record(
    aws: &Backends,
    record: &CredentialRecord,
    observation: &Observation,
    trigger: Trigger,
    action: HistoryAction,
    actor: &str,
) -> Result<Recorded, ApiError> {
    let now = OffsetDateTime::now_utc();
    let mut next = record.clone();
    let to = observation.status();
    if let Some(status) = to {
        next.status = status;
        next.status_code = Some(observation.code.clone());
        next.status_reason = Some(observation.message.clone());
        next.status_trigger = Some(trigger);
        if status == Status::Valid {
            next.verified_at = Some(now);
        }
    }
    let transition = to.filter(|s| *s != record.status);
    if transition.is_some() {
        next.status_changed_at = Some(now);
    }
    let entry = HistoryEntry::new(action, actor, now).observed(
        Some(observation.result),
        to,
        &observation.code,
        trigger,
    );
    let mut change = Change::update(&next, record.version, entry);
    if let Some(status) = transition {
        change = change.and_history(
            HistoryEntry::new(HistoryAction::StatusChanged, actor, now).observed(
                None,
                Some(status),
                &observation.code,
                trigger,
            ),
        );
    }
    match aws.store.write(change).await? {
        WriteOutcome::Written => {}
        _ => return Ok(Recorded::Stale),
    }
    let Some(status) = transition else {
        return Ok(Recorded::Unchanged);
    };
    tracing::info!(credential_id = %record.id, from = ?record.status, to = ?status, code = %observation.code, "status changed");
    aws.events
        .publish(
            "CredentialStatusChanged",
            json!({
                "credential_id": record.id, "owner": record.owner, "org_id": record.org_id,
                "from": record.status, "to": status, "code": observation.code,
                "reason": observation.message, "trigger": trigger,
            }),
        )
        .await;
    Ok(Recorded::Transition(record.status, status))
}
