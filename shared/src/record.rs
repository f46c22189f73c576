//! What the service stores about a credential (never a secret value) and how it is shown.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::collections::BTreeSet;
use time::OffsetDateTime;

use crate::domain::{Acl, CredentialId, Role, Status};
use crate::status::{observe, reset_by_edit, Observation, StatusState, Trigger, Verdict};

/// The credential's metadata item. Secret values live in Secrets Manager; this holds only the
/// names of the secret fields that are set and the secret version that holds their values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: CredentialId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub connector: String,
    pub auth_type: String,
    pub fields: Map<String, Value>,
    pub secret_fields: BTreeSet<String>,
    /// Secrets Manager version id holding this version's secret values. Readers ask for exactly
    /// this version, so a half-finished edit elsewhere never mixes old metadata with new secrets.
    pub secret_version: String,
    pub owner: String,
    pub org_id: String,
    pub acl: Acl,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_trigger: Option<Trigger>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub verified_at: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub status_changed_at: Option<OffsetDateTime>,
    pub tags: Vec<String>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    /// End of the recovery window of a deleted credential.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub purge_at: Option<OffsetDateTime>,
    /// Token-based auth: the state of the access token the service keeps.
    #[serde(default, flatten)]
    pub token: TokenState,
    /// Whether the scheduled health check re-tests it (not token-based credentials only).
    #[serde(default = "yes")]
    pub health_check: bool,
    /// The next scheduled health check (epoch seconds), set only while one is due: the store
    /// then files the item in a shard of the sparse `by_check_due` index. See [`crate::health`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_due: Option<i64>,
}

fn yes() -> bool {
    true
}

/// Kept for token URL and OAuth 2.0 credentials. `refresh_due` (epoch seconds, a number so the
/// index sorts it) is set only while a refresh is scheduled: the store then files the item in
/// a shard of the sparse `by_refresh_due` index the sweep queries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenState {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub token_expires_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_due: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_refresh_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub refresh_failures: u32,
    /// The access token the metadata names was fetched because a flow failed with the one
    /// before: a flow failing with this one too means the credential itself is bad.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refreshed_for_flow: bool,
}

impl TokenState {
    pub fn schedule(&mut self, at: Option<OffsetDateTime>) {
        self.refresh_due = at.map(|t| t.unix_timestamp());
    }

    pub fn next_refresh_at(&self) -> Option<OffsetDateTime> {
        self.refresh_due
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    }

    /// Whether the token needs a refresh: its refresh falls due by `by`, or it has expired (or
    /// there is none) at `now`.
    pub fn is_due(&self, by: OffsetDateTime, now: OffsetDateTime) -> bool {
        self.next_refresh_at().is_some_and(|due| due <= by)
            || self.token_expires_at.is_none_or(|exp| exp <= now)
    }
}

/// Auth types whose tokens the service fetches and keeps fresh: these show a `token` block.
const TOKEN_AUTH_TYPES: [&str; 3] = [
    "token_url",
    "oauth2_client_credentials",
    "oauth2_authorization_code",
];

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl CredentialRecord {
    /// A new credential of `connector` and `auth_type` owned by `caller`, untested, version 1,
    /// naming no secret version yet (the write path names the first one). A token credential
    /// gets its first token from the next sweep (or a just-in-time resolve).
    pub fn new(
        id: CredentialId,
        caller: &crate::domain::Caller,
        (connector, auth_type): (&str, &str),
        fields: Map<String, Value>,
        secret_fields: BTreeSet<String>,
        now: OffsetDateTime,
    ) -> Self {
        let actor = caller.as_actor();
        let mut record = Self {
            id,
            name: String::new(),
            description: None,
            connector: connector.to_owned(),
            auth_type: auth_type.to_owned(),
            fields,
            secret_fields,
            secret_version: String::new(),
            owner: actor.clone(),
            org_id: caller.org_id.clone(),
            acl: Acl::from([(actor.clone(), Role::Owner)]),
            status: Status::Untested,
            status_code: None,
            status_reason: None,
            status_trigger: None,
            verified_at: None,
            status_changed_at: None,
            tags: Vec::new(),
            version: 1,
            created_at: now,
            created_by: actor.clone(),
            updated_at: now,
            updated_by: actor,
            deleted_at: None,
            deleted_by: None,
            purge_at: None,
            token: TokenState::default(),
            health_check: true,
            check_due: None,
        };
        if record.refreshable() {
            record.token.schedule(Some(now));
        }
        record
    }

    /// Applies `observation` by the status rules ([`crate::status::status_after`]); returns the
    /// transition `(from, to)` if the status changed.
    pub fn observe(
        &mut self,
        observation: &Observation,
        trigger: Trigger,
        now: OffsetDateTime,
    ) -> Option<(Status, Status)> {
        let mut state = self.take_status();
        let transition = observe(&mut state, observation, trigger, now);
        self.put_status(state);
        transition
    }

    /// Connection details changed: the status goes back to `untested`.
    pub fn reset_status_by_edit(&mut self, now: OffsetDateTime) {
        // Nor does a flow's failure with a token fetched for the old details.
        self.token.refreshed_for_flow = false;
        let mut state = self.take_status();
        reset_by_edit(&mut state, now);
        self.put_status(state);
    }

    fn take_status(&mut self) -> StatusState {
        StatusState {
            status: self.status,
            code: self.status_code.take(),
            reason: self.status_reason.take(),
            trigger: self.status_trigger.take(),
            verified_at: self.verified_at,
            changed_at: self.status_changed_at,
        }
    }

    fn put_status(&mut self, state: StatusState) {
        self.status = state.status;
        self.status_code = state.code;
        self.status_reason = state.reason;
        self.status_trigger = state.trigger;
        self.verified_at = state.verified_at;
        self.status_changed_at = state.changed_at;
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether the service fetches and refreshes this credential's tokens.
    pub fn is_token_based(&self) -> bool {
        TOKEN_AUTH_TYPES.contains(&self.auth_type.as_str())
    }

    /// Whether the sweep should keep this credential's token fresh: auto-refresh is on and there
    /// is something to refresh with (an authorization-code credential needs a refresh token).
    pub fn refreshable(&self) -> bool {
        self.auto_refresh()
            && (self.auth_type != "oauth2_authorization_code"
                || self.secret_fields.contains("refresh_token"))
    }

    pub fn auto_refresh(&self) -> bool {
        self.is_token_based()
            && self
                .fields
                .get("auto_refresh")
                .and_then(Value::as_bool)
                .unwrap_or(true)
    }
}

/// One line of a credential's history: who did what, when. Field names only, never values.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub action: HistoryAction,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fields: Option<Vec<String>>,
    /// Whom a sharing entry is about (`team:data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub role: Option<Role>,
    /// Which data source or destination a usage entry is about (`source:orders-db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub usage: Option<String>,
    /// Tests and status changes: what was observed and what it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub result: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trigger: Option<Trigger>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryAction {
    Created,
    Edited,
    Deleted,
    Restored,
    Shared,
    RoleChanged,
    Revoked,
    OwnerChanged,
    UsageAdded,
    UsageRemoved,
    /// A connection test ran (whatever its result).
    Tested,
    /// The validity status changed.
    StatusChanged,
    /// A data flow received the connection material.
    Used,
    /// A data flow reported that authentication failed.
    FlowFailureReported,
    /// A new access token was fetched.
    Refreshed,
    /// A refresh failed (transient, rejected or exhausted: see `code`).
    RefreshFailed,
    /// Connected (or re-authenticated) through the OAuth provider.
    Connected,
    /// The secret moved to the stack's other storage mode (the operator's migration); its
    /// values did not change.
    StorageMoved,
}

impl HistoryEntry {
    pub fn new(action: HistoryAction, actor: &str, at: OffsetDateTime) -> Self {
        Self {
            at,
            action,
            actor: actor.to_owned(),
            fields: None,
            principal: None,
            role: None,
            usage: None,
            result: None,
            status: None,
            code: None,
            trigger: None,
        }
    }

    /// Drops the observation's result, for the status-change line that follows it.
    pub fn status_only(mut self) -> Self {
        self.result = None;
        self
    }

    pub fn observed(
        mut self,
        result: Option<Verdict>,
        status: Option<Status>,
        code: &str,
        trigger: Trigger,
    ) -> Self {
        self.result = result;
        self.status = status;
        self.code = Some(code.to_owned());
        self.trigger = Some(trigger);
        self
    }

    pub fn about(mut self, principal: &str, role: Option<Role>) -> Self {
        self.principal = Some(principal.to_owned());
        self.role = role;
        self
    }

    pub fn with_usage(mut self, usage: String) -> Self {
        self.usage = Some(usage);
        self
    }

    pub fn with_fields(mut self, fields: impl IntoIterator<Item = String>) -> Self {
        self.fields = Some(fields.into_iter().collect());
        self
    }
}
