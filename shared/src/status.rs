//! The validity model (brief §4) as pure data and rules: what an observation (a test, a flow's
//! report, a refresh, a connect) does to a credential's status. No I/O here; recording an
//! observation is `validity::record`, committing it is `commit`.
//!
//! `valid` when the remote system accepted the credentials, `invalid` when it rejected them,
//! `inconclusive` when it could not be reached: that is recorded but never flips a credential.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Invalid,
    Inconclusive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The scheduled health check.
    ScheduledCheck,
}

/// The provider refused the refresh token for good (expired, revoked, used up).
pub const REFRESH_EXHAUSTED: &str = "refresh_exhausted";

/// One observation of whether a credential authenticates.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

    /// The status this observation claims on its own, before the credential's state is known.
    pub fn status(&self) -> Option<Status> {
        match self.result {
            Verdict::Valid => Some(Status::Valid),
            Verdict::Invalid if self.code == REFRESH_EXHAUSTED => Some(Status::ReauthRequired),
            Verdict::Invalid => Some(Status::Invalid),
            Verdict::Inconclusive => None,
        }
    }
}

/// The status fields of a credential, as one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusState {
    pub status: Status,
    pub code: Option<String>,
    pub reason: Option<String>,
    pub trigger: Option<Trigger>,
    pub verified_at: Option<OffsetDateTime>,
    pub changed_at: Option<OffsetDateTime>,
}

/// The status `observation` leads to from `current`, if it leads anywhere.
///
/// Inconclusive observations change nothing. `reauth_required` says the refresh token is dead:
/// a test or a flow that still gets through with the last access token says nothing about it,
/// so only a new connect or a successful refresh leaves that status (otherwise a "valid" test
/// would hide a credential whose token is about to expire with no refresh scheduled).
pub fn status_after(
    current: Status,
    observation: &Observation,
    trigger: Trigger,
) -> Option<Status> {
    let claimed = observation.status()?;
    let renews_tokens = matches!(trigger, Trigger::Refresh | Trigger::Connect);
    if current == Status::ReauthRequired && !renews_tokens {
        return None;
    }
    Some(claimed)
}

/// Applies `observation` to `state`; returns the transition `(from, to)` if the status changed.
pub fn observe(
    state: &mut StatusState,
    observation: &Observation,
    trigger: Trigger,
    now: OffsetDateTime,
) -> Option<(Status, Status)> {
    let to = status_after(state.status, observation, trigger)?;
    let from = state.status;
    state.status = to;
    state.code = Some(observation.code.clone());
    state.reason = Some(observation.message.clone());
    state.trigger = Some(trigger);
    if to == Status::Valid {
        state.verified_at = Some(now);
    }
    if from != to {
        state.changed_at = Some(now);
        Some((from, to))
    } else {
        None
    }
}

/// An edit of connection details makes the last verdict meaningless: back to `untested`.
pub fn reset_by_edit(state: &mut StatusState, now: OffsetDateTime) {
    state.status = Status::Untested;
    state.code = Some("edited".into());
    state.reason = Some("connection details changed since the last test".into());
    state.trigger = Some(Trigger::Edit);
    state.changed_at = Some(now);
}

// Observations as the testers and token flows make them.

#[cfg(feature = "testers")]
pub(crate) fn rejected(code: &str, message: impl Into<String>) -> Observation {
    Observation::new(Verdict::Invalid, code, message)
}

#[cfg(feature = "testers")]
pub(crate) fn accepted(message: impl Into<String>) -> Observation {
    Observation::new(Verdict::Valid, "ok", message)
}

#[cfg(feature = "testers")]
pub(crate) fn unreachable(code: &str, message: impl Into<String>) -> Observation {
    Observation::new(Verdict::Inconclusive, code, message)
}

/// A missing field the catalog requires for testing (validation rules already ran).
#[cfg(feature = "testers")]
pub(crate) fn missing(name: &str) -> Observation {
    Observation::new(
        Verdict::Invalid,
        "incomplete",
        format!("`{name}` is needed to test this credential"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: Status) -> StatusState {
        StatusState {
            status,
            code: None,
            reason: None,
            trigger: None,
            verified_at: None,
            changed_at: None,
        }
    }

    #[test]
    fn inconclusive_never_changes_a_status() {
        for s in [
            Status::Untested,
            Status::Valid,
            Status::Invalid,
            Status::ReauthRequired,
        ] {
            let mut st = state(s);
            let o = Observation::new(Verdict::Inconclusive, "timeout", "no answer");
            assert_eq!(
                observe(&mut st, &o, Trigger::Test, OffsetDateTime::UNIX_EPOCH),
                None
            );
            assert_eq!(st, state(s));
        }
    }

    #[test]
    fn verdicts_move_the_status_and_say_why() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut st = state(Status::Untested);
        let ok = Observation::new(Verdict::Valid, "ok", "accepted");
        assert_eq!(
            observe(&mut st, &ok, Trigger::Test, now),
            Some((Status::Untested, Status::Valid))
        );
        assert_eq!((st.verified_at, st.changed_at), (Some(now), Some(now)));
        let bad = Observation::new(Verdict::Invalid, "auth_rejected", "refused");
        assert_eq!(
            observe(&mut st, &bad, Trigger::Flow, now),
            Some((Status::Valid, Status::Invalid))
        );
        assert_eq!(st.code.as_deref(), Some("auth_rejected"));
        assert_eq!(st.trigger, Some(Trigger::Flow));
        // The same verdict again records the newest reason but is no transition.
        assert_eq!(observe(&mut st, &bad, Trigger::Test, now), None);
        assert_eq!(st.trigger, Some(Trigger::Test));
    }

    #[test]
    fn reauth_required_is_left_only_by_new_tokens() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let ok = Observation::new(Verdict::Valid, "ok", "accepted");
        let bad = Observation::new(Verdict::Invalid, "flow_auth_failed", "refused");
        for trigger in [Trigger::Test, Trigger::Flow, Trigger::Create, Trigger::Edit] {
            for o in [&ok, &bad] {
                let mut st = state(Status::ReauthRequired);
                assert_eq!(observe(&mut st, o, trigger, now), None, "{trigger:?}");
                assert_eq!(st, state(Status::ReauthRequired));
            }
        }
        for trigger in [Trigger::Refresh, Trigger::Connect] {
            let mut st = state(Status::ReauthRequired);
            assert_eq!(
                observe(&mut st, &ok, trigger, now),
                Some((Status::ReauthRequired, Status::Valid))
            );
        }
        let exhausted = Observation::new(Verdict::Invalid, REFRESH_EXHAUSTED, "dead");
        let mut st = state(Status::Valid);
        assert_eq!(
            observe(&mut st, &exhausted, Trigger::Refresh, now),
            Some((Status::Valid, Status::ReauthRequired))
        );
    }
}
