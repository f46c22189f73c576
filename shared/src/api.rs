//! The API's wire types: what the handlers answer, as Rust types. The OpenAPI document
//! (`infra/openapi.json`, [`crate::openapi`]) derives its response schemas from these. The small
//! request types at the end describe what the handlers' field-by-field parsers accept; the
//! integration tests' contract check and the fuzz run keep the two in agreement. Secret values
//! have no place in any of them.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::{CredentialId, Role, Status};
use crate::record::{CredentialRecord, HistoryEntry};
use crate::status::Trigger;

/// A credential as the API shows it: non-secret fields, and only the names of the secret ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub id: CredentialId,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// A connector id from `GET /connectors`.
    pub connector: String,
    pub auth_type: String,
    /// The non-secret fields of the connector and auth type (see `GET /connectors`).
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Which secret fields are set. Their values are never shown.
    pub secret_fields: Vec<String>,
    /// The owner's user id.
    pub owner: String,
    pub org_id: String,
    /// The caller's own role on this credential.
    pub access_role: Role,
    pub status: Status,
    /// Machine-readable reason of the status (`auth_rejected`, `refresh_exhausted`, ...).
    #[schema(required = true)]
    pub status_code: Option<String>,
    /// The reason for a person: what happened and what to do.
    #[schema(required = true)]
    pub status_reason: Option<String>,
    #[schema(required = true)]
    pub status_trigger: Option<Trigger>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub verified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub status_changed_at: Option<OffsetDateTime>,
    /// Bumped by every change; sent as the `ETag`, expected back in `If-Match`.
    pub version: u64,
    pub tags: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Token URL and OAuth 2.0 credentials: the access token the service keeps fresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token: Option<TokenView>,
    /// Whether the scheduled health check re-tests it.
    pub health_check: bool,
    /// When the scheduled health check tests it next (none for token credentials, which their
    /// refreshes prove, or when checks are off).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(nullable = false, required = false)]
    pub next_check_at: Option<OffsetDateTime>,
    /// Deleted credentials only.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(nullable = false, required = false)]
    pub deleted_at: Option<OffsetDateTime>,
    /// Deleted credentials only: the end of the recovery window.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(nullable = false, required = false)]
    pub purge_at: Option<OffsetDateTime>,
}

/// The state of the access token of a token URL or OAuth 2.0 credential (never the token).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub expires_at: Option<OffsetDateTime>,
    pub auto_refresh: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub next_refresh_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub last_refresh_at: Option<OffsetDateTime>,
    pub refresh_failures: u32,
}

/// `POST /credentials`: the new credential, and the test's report when it was tested first.
#[cfg(feature = "testers")]
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedCredential {
    #[serde(flatten)]
    pub credential: CredentialView,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub test: Option<crate::testers::TestReport>,
}

/// `POST /credentials/{id}/refresh`: the credential after the refresh, and how it went.
#[cfg(feature = "testers")]
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshedCredential {
    #[serde(flatten)]
    pub credential: CredentialView,
    pub refresh: crate::refresh::RefreshOutcome,
}

/// `POST /credentials/{id}/test`: the test's report and the status it left.
#[cfg(feature = "testers")]
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedTestReport {
    #[serde(flatten)]
    pub report: crate::testers::TestReport,
    /// The credential's status after the verdict (`inconclusive` never changes it).
    pub status: Status,
    /// False when the credential changed during the test: the verdict was about older
    /// connection details and was not recorded.
    pub status_recorded: bool,
}

/// Pages of listings: `next_token` (opaque, bound to the caller and the listing) fetches the
/// next page, and is null on the last one.
macro_rules! page {
    ($($(#[$doc:meta])* $name:ident of $item:ty;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            #[schema(required = true)]
            pub next_token: Option<String>,
        }
    )*};
}
page! {
    /// Credentials the caller can see, by id.
    CredentialPage of CredentialView;
    /// A credential's history, newest first.
    HistoryPage of HistoryEntry;
    /// The data sources and destinations that use a credential.
    UsagePage of crate::store::Usage;
}

/// Who may use a credential, strongest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accessors {
    pub items: Vec<Accessor>,
}

/// One grant: a principal and its role.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accessor {
    /// `user:alice`, `team:data`, `org:acme`.
    pub principal: String,
    #[serde(rename = "type")]
    pub kind: crate::domain::PrincipalKind,
    pub id: String,
    pub role: Role,
}

/// Every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable; each operation lists the codes it can answer.
    pub code: String,
    /// For a person. Names fields, never echoes values.
    pub message: String,
    /// The request's members the error is about, for a form to show it beside them: a
    /// top-level member (`name`, `connector`) or a connector field (`fields.password`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub fields: Vec<String>,
}

/// `GET /credentials/{id}/oauth/authorize` answers 302 to the provider with this body beside
/// the `Location` header.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationRedirect {
    pub authorization_url: String,
}

/// `GET /oauth/callback` answers 302 back to the console with the outcome, also in the
/// `Location` query (`result=connected` or `error=<code>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, required = false)]
    pub error: Option<String>,
}

/// `POST /credentials/{id}/usages`: a data source or destination that uses the credential.
#[derive(Debug, ToSchema)]
#[schema(as = NewUsage)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewUsageBody {
    kind: UsageKind,
    /// The data source's or destination's id in the data platform.
    #[schema(pattern = "^[A-Za-z0-9._@|+=-]{1,128}$")]
    resource_id: String,
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    name: Option<String>,
}

#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum UsageKind {
    Source,
    Destination,
}

/// `PUT /credentials/{id}/accessors/{type}/{pid}`: the role to grant (never `owner`: that is
/// `POST /credentials/{id}/owner`).
#[derive(Debug, ToSchema)]
#[schema(as = GrantRequest)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct GrantBody {
    role: Role,
}

/// `POST /credentials/{id}/owner`: the user who becomes the owner.
#[derive(Debug, ToSchema)]
#[schema(as = OwnerTransfer)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OwnerTransferBody {
    #[schema(pattern = "^[A-Za-z0-9._@|+=-]{1,128}$")]
    user: String,
}

// The wire form of a stored credential lives with the wire types: the stored record knows
// nothing of how the API shows it.
impl CredentialRecord {
    /// The read-side representation (brief section 3): non-secret fields and secret names only.
    pub fn view(&self, access_role: Role) -> CredentialView {
        CredentialView {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            connector: self.connector.clone(),
            auth_type: self.auth_type.clone(),
            fields: self.fields.clone(),
            secret_fields: self.secret_fields.iter().cloned().collect(),
            owner: self.owner.clone(),
            org_id: self.org_id.clone(),
            access_role,
            status: self.status,
            status_code: self.status_code.clone(),
            status_reason: self.status_reason.clone(),
            status_trigger: self.status_trigger,
            verified_at: self.verified_at,
            status_changed_at: self.status_changed_at,
            version: self.version,
            tags: self.tags.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            health_check: self.health_check,
            next_check_at: self
                .check_due
                .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok()),
            token: self.is_token_based().then(|| TokenView {
                expires_at: self.token.token_expires_at,
                auto_refresh: self.auto_refresh(),
                next_refresh_at: self.token.next_refresh_at(),
                last_refresh_at: self.token.last_refresh_at,
                refresh_failures: self.token.refresh_failures,
            }),
            deleted_at: self.deleted_at,
            purge_at: self.deleted_at.and(self.purge_at),
        }
    }
}
