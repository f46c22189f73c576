//! Handler glue: the steps every HTTP handler takes around one credential: find it from the
//! path, check the caller may act (the rules themselves are [`crate::authz`]'s), refuse a
//! deleted one, commit conditioned on the version read.

use lambda_http::Request;
use time::OffsetDateTime;

use crate::authz::{authorize, Action};
use crate::commit::Committed;
use crate::domain::{Caller, CredentialId, Role};
use crate::error::ApiError;
use crate::http::path_param;
use crate::ports::CredentialStore;
use crate::record::{rfc3339, CredentialRecord};

/// The credential named by the `{id}` path parameter, validated before any lookup.
pub async fn load(
    store: &dyn CredentialStore,
    req: &Request,
) -> Result<CredentialRecord, ApiError> {
    let raw = path_param(req, "id").unwrap_or_default();
    let id = CredentialId::parse(&raw)?;
    store.get(&id).await?.ok_or_else(ApiError::not_found)
}

/// Loads the credential and checks `action`; a deleted credential answers 410 unless
/// `allow_deleted` (restore, history).
pub async fn load_for(
    store: &dyn CredentialStore,
    req: &Request,
    caller: &Caller,
    action: Action,
) -> Result<(CredentialRecord, Role), ApiError> {
    let record = load(store, req).await?;
    let role = authorize(&record.acl, &record.org_id, caller, action)?;
    Ok((record, role))
}

/// What any operation but restore and history answers on a deleted credential, to callers who
/// had access to it (others get 404 as always).
pub fn refuse_deleted(record: &CredentialRecord) -> Result<(), ApiError> {
    if !record.is_deleted() {
        return Ok(());
    }
    Err(ApiError::client(
        410,
        "credential_deleted",
        format!(
            "this credential was deleted; POST /credentials/{}/restore brings it back until {}",
            record.id,
            record.purge_at.map(rfc3339).unwrap_or_default()
        ),
    ))
}

fn stale(current: Option<u64>) -> ApiError {
    let now = current
        .map(|v| format!(" (now version {v})"))
        .unwrap_or_default();
    ApiError::client(
        412,
        "version_mismatch",
        format!("the credential changed since you read it{now}; read it again and retry"),
    )
}

/// Fails early on a stale `If-Match`; the conditional write checks again at commit.
pub fn check_if_match(expected: Option<u64>, record: &CredentialRecord) -> Result<(), ApiError> {
    match expected {
        Some(v) if v != record.version => Err(stale(Some(record.version))),
        _ => Ok(()),
    }
}

/// Marks a record as changed by `caller` now (the write path gives it its next version).
pub fn touch(record: &mut CredentialRecord, caller: &Caller, now: OffsetDateTime) {
    record.updated_at = now;
    record.updated_by = caller.as_actor();
}

/// What a handler answers for a commit through the one write path: the credential as written,
/// or a lost race as 412 (the caller named a version) or 409.
pub fn settle(committed: Committed, if_match: Option<u64>) -> Result<CredentialRecord, ApiError> {
    match committed {
        Committed::Written(record) => Ok(*record),
        Committed::Conflict if if_match.is_some() => Err(stale(None)),
        _ => Err(ApiError::conflict(
            "edit_conflict",
            "someone else changed the credential at the same moment; read it again and retry",
        )),
    }
}

/// Commits a change that keeps the secret through the one write path; see [`settle`].
pub async fn commit(
    store: &dyn CredentialStore,
    write: crate::commit::Write<'_>,
    if_match: Option<u64>,
) -> Result<CredentialRecord, ApiError> {
    settle(crate::commit::commit(store, write).await?, if_match)
}
