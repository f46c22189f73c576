//! Writes to an existing credential: partial update, soft delete, restore. Each is one
//! transaction conditioned on the version read, so of two concurrent writers exactly one wins.

use lambda_http::{Body, Request, Response};
use latchkey_shared::authz::{authorize, Action};
use latchkey_shared::catalog::{catalog, SecretFields};
use latchkey_shared::domain::{Caller, Status};
use latchkey_shared::error::ApiError;
use latchkey_shared::http::{credential_response, if_match_version, json_object, query_param};
use latchkey_shared::record::{CredentialRecord, HistoryAction, HistoryEntry};
use latchkey_shared::store::{Change, Expiry, WriteOutcome};
use serde_json::json;
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

use crate::input::CredentialPatch;
use crate::read::deleted;
use crate::Service;

/// Fails early on a stale `If-Match`; the conditional write checks again at commit.
fn check_if_match(expected: Option<u64>, record: &CredentialRecord) -> Result<(), ApiError> {
    match expected {
        Some(v) if v != record.version => Err(stale(Some(record.version))),
        _ => Ok(()),
    }
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

/// Commits a change and maps a lost race to 412 (the caller named a version) or 409.
async fn commit(svc: &Service, change: Change<'_>, if_match: Option<u64>) -> Result<(), ApiError> {
    match svc.aws.store.write(change).await? {
        WriteOutcome::Written => Ok(()),
        WriteOutcome::VersionConflict if if_match.is_some() => Err(stale(None)),
        _ => Err(ApiError::conflict(
            "edit_conflict",
            "someone else changed the credential at the same moment; read it again and retry",
        )),
    }
}

fn touch(record: &mut CredentialRecord, caller: &Caller, now: OffsetDateTime) {
    record.version += 1;
    record.updated_at = now;
    record.updated_by = caller.as_actor();
}

pub async fn patch(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let record = svc.load(req).await?;
    let role = authorize(&record.acl, &record.org_id, caller, Action::Edit)?;
    if record.is_deleted() {
        return Err(deleted(&record));
    }
    let if_match = if_match_version(req)?;
    check_if_match(if_match, &record)?;
    let patch = CredentialPatch::parse(json_object(req)?)?;

    let connector = catalog().connector(&record.connector)?;
    let auth = connector.auth_type(Some(
        patch.auth_type.as_deref().unwrap_or(&record.auth_type),
    ))?;
    let changes =
        connector.validate_patch(auth, &record.fields, &record.secret_fields, &patch.fields)?;

    let mut next = record.clone();
    let mut changed = changes.changed.clone();
    let mut auth_changed = !changed.is_empty();
    if auth.id != record.auth_type {
        next.auth_type = auth.id.clone();
        changed.insert("auth_type".into());
        auth_changed = true;
    }
    if let Some(name) = patch.name.filter(|n| *n != record.name) {
        next.name = name;
        changed.insert("name".into());
    }
    if let Some(description) = patch.description.filter(|d| *d != record.description) {
        next.description = description;
        changed.insert("description".into());
    }
    if let Some(tags) = patch.tags.filter(|t| *t != record.tags) {
        next.tags = tags;
        changed.insert("tags".into());
    }
    if changed.is_empty() {
        return Ok(credential_response(200, &record.view(role)));
    }

    let now = OffsetDateTime::now_utc();
    let secrets_touched = changes.touches_secrets(&record.secret_fields);
    if secrets_touched {
        // Keep the stored values of secrets the request did not mention.
        let kept: BTreeSet<&String> = changes
            .secret_names
            .iter()
            .filter(|n| !changes.new_secrets.0.contains_key(*n))
            .collect();
        let mut secrets = if kept.is_empty() {
            SecretFields::default()
        } else {
            svc.aws
                .vault
                .read(&record.id, &record.secret_version)
                .await?
        };
        secrets.0.retain(|name, _| kept.contains(name));
        secrets.0.extend(changes.new_secrets.0);
        next.secret_version = svc.aws.vault.put_pending(&record.id, &secrets).await?;
    }
    next.fields = changes.public;
    next.secret_fields = changes.secret_names;
    if auth_changed {
        // A verdict about other connection details says nothing about these.
        next.status = Status::Untested;
        next.status_code = Some("edited".into());
        next.status_reason = Some("connection details changed since the last test".into());
        next.status_trigger = Some("edit".into());
        next.status_changed_at = Some(now);
    }
    touch(&mut next, caller, now);
    let actor = caller.as_actor();
    commit(
        svc,
        Change {
            record: &next,
            expected_version: Some(record.version),
            history: HistoryEntry::new(HistoryAction::Edited, &actor, now)
                .with_fields(changed.iter().cloned()),
            expiry: Expiry::Keep,
            idempotency: None,
        },
        if_match,
    )
    .await?;
    if secrets_touched {
        if let Err(e) = svc
            .aws
            .vault
            .promote(&record.id, &next.secret_version)
            .await
        {
            // Metadata already names the new version, which is what readers use.
            tracing::warn!(credential_id = %record.id, error = %e, "secret version not promoted to AWSCURRENT");
        }
    }
    tracing::info!(credential_id = %record.id, version = next.version, "credential edited");
    svc.aws
        .events
        .publish(
            "CredentialUpdated",
            json!({ "credential_id": record.id, "version": next.version, "fields": changed, "actor": actor }),
        )
        .await;
    Ok(credential_response(200, &next.view(role)))
}

pub async fn delete(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let record = svc.load(req).await?;
    let role = authorize(&record.acl, &record.org_id, caller, Action::Delete)?;
    if record.is_deleted() {
        return Err(deleted(&record));
    }
    // `force` overrides the in-use check that usages (data sources and destinations) bring.
    match query_param(req, "force").as_deref() {
        None | Some("true") | Some("false") => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "force must be true or false",
            ))
        }
    }
    let if_match = if_match_version(req)?;
    check_if_match(if_match, &record)?;

    let now = OffsetDateTime::now_utc();
    let window = i64::from(svc.config.recovery_window_days);
    let purge_at = now + Duration::days(window);
    let mut next = record.clone();
    next.deleted_at = Some(now);
    next.deleted_by = Some(caller.as_actor());
    next.purge_at = Some(purge_at);
    touch(&mut next, caller, now);
    commit(
        svc,
        Change {
            record: &next,
            expected_version: Some(record.version),
            history: HistoryEntry::new(HistoryAction::Deleted, &caller.as_actor(), now),
            // DynamoDB removes the metadata and grants after the window...
            expiry: Expiry::Set(purge_at),
            idempotency: None,
        },
        if_match,
    )
    .await?;
    // ...and Secrets Manager the secret a day later, so metadata never outlives its secret in a
    // usable state. If scheduling fails the secret simply stays; restore does not mind.
    if let Err(e) = svc.aws.vault.schedule_delete(&record.id, window + 1).await {
        tracing::error!(credential_id = %record.id, error = %e, "secret deletion not scheduled");
    }
    tracing::info!(credential_id = %record.id, "credential deleted");
    svc.aws
        .events
        .publish(
            "CredentialDeleted",
            json!({ "credential_id": record.id, "purge_at": next.view(role)["purge_at"], "actor": caller.as_actor() }),
        )
        .await;
    Ok(credential_response(200, &next.view(role)))
}

pub async fn restore(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let record = svc.load(req).await?;
    let role = authorize(&record.acl, &record.org_id, caller, Action::Restore)?;
    let now = OffsetDateTime::now_utc();
    match record.purge_at {
        None => {
            return Err(ApiError::conflict(
                "not_deleted",
                "this credential is not deleted",
            ))
        }
        Some(purge_at) if purge_at <= now => {
            return Err(ApiError::client(
                410,
                "recovery_window_expired",
                "the recovery window of this credential has passed",
            ))
        }
        Some(_) => {}
    }
    // Secret first: if this fails nothing has changed; if the commit below fails, a restored
    // secret under deleted metadata is harmless and the retry completes it.
    svc.aws.vault.restore(&record.id).await?;
    let mut next = record.clone();
    next.deleted_at = None;
    next.deleted_by = None;
    next.purge_at = None;
    touch(&mut next, caller, now);
    commit(
        svc,
        Change {
            record: &next,
            expected_version: Some(record.version),
            history: HistoryEntry::new(HistoryAction::Restored, &caller.as_actor(), now),
            expiry: Expiry::Clear,
            idempotency: None,
        },
        None,
    )
    .await?;
    tracing::info!(credential_id = %record.id, "credential restored");
    svc.aws
        .events
        .publish(
            "CredentialRestored",
            json!({ "credential_id": record.id, "actor": caller.as_actor() }),
        )
        .await;
    Ok(credential_response(200, &next.view(role)))
}
