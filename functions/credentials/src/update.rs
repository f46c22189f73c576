//! Writes to an existing credential: partial update, soft delete, restore. Each is one
//! transaction conditioned on the version read, so of two concurrent writers exactly one wins.

use lambda_http::{Body, Request, Response};
use latchkey_shared::authz::Action;
use latchkey_shared::catalog::{catalog, SecretFields};
use latchkey_shared::commit::{commit_with_secrets, Secrets, Write};
use latchkey_shared::domain::Caller;
use latchkey_shared::error::ApiError;
use latchkey_shared::handler::{check_if_match, commit, load_for, refuse_deleted, settle, touch};
use latchkey_shared::health;
use latchkey_shared::http::{credential_response, if_match_version, json_object, query_param};
use latchkey_shared::record::{HistoryAction, HistoryEntry};
use latchkey_shared::store::Expiry;
use latchkey_shared::vault::Pending;
use serde_json::json;
use std::collections::BTreeSet;
use time::Duration;

use latchkey_shared::api::CredentialView;
use latchkey_shared::domain::CredentialId;
use latchkey_shared::openapi::CredentialPatchBody;

use crate::input::CredentialPatch;
use crate::Service;

/// Changes a credential. Omitted secret fields keep their values; a change of a locator field
/// needs the secret fields again.
#[utoipa::path(
    patch, path = "/credentials/{id}", tag = "credentials", operation_id = "updateCredential",
    request_body = CredentialPatchBody,
    params(("id" = CredentialId, Path), ("If-Match" = Option<String>, Header, description = "The `ETag` read: the change is refused with 412 if the credential changed since.")),
    responses(
        (status = 200, description = "The credential as changed.", body = CredentialView),
        (status = 400, description = "unknown_auth_type, unknown_field, invalid_field, missing_field, invalid_if_match"),
        (status = 409, description = "edit_conflict"),
        (status = 410, description = "credential_deleted"),
        (status = 412, description = "version_mismatch"),
        (status = 422, description = "connector_immutable, secrets_required, secret_in_url"),
    )
)]
pub async fn patch(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, role) = load_for(&*svc.ports.store, req, caller, Action::Edit).await?;
    refuse_deleted(&record)?;
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
    if let Some(on) = patch.health_check.filter(|on| *on != record.health_check) {
        next.health_check = on;
        changed.insert("health_check".into());
    }
    if changed.is_empty() {
        return Ok(credential_response(200, &record.view(role)));
    }

    let now = svc.ports.now();
    // The complete new secret set when the secrets or any connection detail change: the stored
    // values of secrets the request did not mention, and the ones it supplied. A new version even
    // when the values stay: an interrupted refresh or connect is adopted only from the version
    // named now, so tokens fetched for the old details never come back after this edit.
    let new_secrets = if changes.touches_secrets(&record.secret_fields) || auth_changed {
        let kept: BTreeSet<&String> = changes
            .secret_names
            .iter()
            .filter(|n| !changes.new_secrets.0.contains_key(*n))
            .collect();
        let mut secrets = if kept.is_empty() {
            SecretFields::default()
        } else {
            svc.secrets
                .read(record.secret_owner(), &record.secret_version)
                .await?
        };
        secrets.0.retain(|name, _| kept.contains(name));
        secrets.0.extend(changes.new_secrets.0);
        Some(secrets)
    } else {
        None
    };
    next.fields = changes.public;
    next.secret_fields = changes.secret_names;
    if changes.dropped_tokens {
        // The provider's tokens were for the old destination: the next refresh (or connect)
        // gets new ones, and resolve hands out none meanwhile.
        next.token.token_expires_at = None;
    }
    if auth_changed {
        // A verdict about other connection details says nothing about these.
        next.reset_status_by_edit(now);
    }
    // Token credentials whose details changed fetch a token for the new details at once;
    // turning auto-refresh off takes them out of the sweep.
    if next.refreshable() {
        if auth_changed || next.token.refresh_due.is_none() {
            next.token.schedule(Some(now));
        }
    } else {
        next.token.schedule(None);
    }
    health::keep_schedule(&mut next, svc.config.health_check_period, now);
    touch(&mut next, caller, now);
    let actor = caller.as_actor();
    let history =
        HistoryEntry::new(HistoryAction::Edited, &actor, now).with_fields(changed.iter().cloned());
    let write = Write::update(&record, next, history);
    let next = match new_secrets {
        Some(secrets) => {
            let secrets = Secrets::Replace(secrets, Pending::Edit);
            let committed =
                commit_with_secrets(&*svc.ports.store, &*svc.secrets, write, secrets).await?;
            settle(committed, if_match)?
        }
        None => commit(&*svc.ports.store, write, if_match).await?,
    };
    tracing::info!(credential_id = %record.id, version = next.version, "credential edited");
    svc.ports
        .events
        .publish(
            "CredentialUpdated",
            json!({ "credential_id": record.id, "version": next.version, "fields": changed, "actor": actor }),
        )
        .await;
    Ok(credential_response(200, &next.view(role)))
}

/// Deletes a credential softly: restorable until `purge_at`. Refused while data sources or
/// destinations use it, unless `force=true`.
#[utoipa::path(
    delete, path = "/credentials/{id}", tag = "credentials", operation_id = "deleteCredential",
    params(("id" = CredentialId, Path), ("If-Match" = Option<String>, Header, description = "The `ETag` read: the change is refused with 412 if the credential changed since."),
        ("force" = Option<bool>, Query, description = "Delete even though it is in use.")),
    responses(
        (status = 200, description = "The deleted credential, with `deleted_at` and `purge_at`.", body = CredentialView),
        (status = 400, description = "invalid_query, invalid_if_match"),
        (status = 409, description = "credential_in_use, edit_conflict"),
        (status = 410, description = "credential_deleted"),
        (status = 412, description = "version_mismatch"),
    )
)]
pub async fn delete(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, role) = load_for(&*svc.ports.store, req, caller, Action::Delete).await?;
    refuse_deleted(&record)?;
    let force = match query_param(req, "force").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "force must be true or false",
            ))
        }
    };
    let if_match = if_match_version(req)?;
    check_if_match(if_match, &record)?;
    if !force {
        let in_use = svc.ports.store.usage_count(&record.id).await?;
        if in_use > 0 {
            return Err(ApiError::conflict(
                "credential_in_use",
                format!(
                    "{in_use} data source(s) or destination(s) use this credential; detach them or delete with ?force=true"
                ),
            ));
        }
    }

    let now = svc.ports.now();
    let window = i64::from(svc.config.recovery_window_days);
    let purge_at = now + Duration::days(window);
    let mut next = record.clone();
    next.deleted_at = Some(now);
    next.deleted_by = Some(caller.as_actor());
    next.purge_at = Some(purge_at);
    health::keep_schedule(&mut next, svc.config.health_check_period, now);
    touch(&mut next, caller, now);
    let history = HistoryEntry::new(HistoryAction::Deleted, &caller.as_actor(), now);
    // DynamoDB removes the metadata and grants after the window...
    let write = Write::update(&record, next, history).with_expiry(Expiry::Set(purge_at));
    let next = commit(&*svc.ports.store, write, if_match).await?;
    // ...and Secrets Manager the secret a day later, so metadata never outlives its secret in a
    // usable state. If scheduling fails the secret simply stays; restore does not mind.
    if let Err(e) = svc
        .secrets
        .schedule_delete(&record.id, &record.secret_version, window + 1)
        .await
    {
        tracing::error!(credential_id = %record.id, error = %e, "secret deletion not scheduled");
    }
    tracing::info!(credential_id = %record.id, force, "credential deleted");
    let view = next.view(role);
    svc.ports
        .events
        .publish(
            "CredentialDeleted",
            json!({ "credential_id": record.id, "purge_at": view.purge_at.map(latchkey_shared::record::rfc3339), "actor": caller.as_actor() }),
        )
        .await;
    Ok(credential_response(200, &view))
}

/// Brings back a deleted credential within its recovery window.
#[utoipa::path(
    post, path = "/credentials/{id}/restore", tag = "credentials", operation_id = "restoreCredential",
    params(("id" = CredentialId, Path)),
    responses(
        (status = 200, description = "The restored credential.", body = CredentialView),
        (status = 409, description = "not_deleted, edit_conflict"),
        (status = 410, description = "recovery_window_expired"),
    )
)]
pub async fn restore(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, role) = load_for(&*svc.ports.store, req, caller, Action::Restore).await?;
    let now = svc.ports.now();
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
    svc.secrets
        .restore(&record.id, &record.secret_version)
        .await?;
    let mut next = record.clone();
    next.deleted_at = None;
    next.deleted_by = None;
    next.purge_at = None;
    health::keep_schedule(&mut next, svc.config.health_check_period, now);
    touch(&mut next, caller, now);
    let history = HistoryEntry::new(HistoryAction::Restored, &caller.as_actor(), now);
    let write = Write::update(&record, next, history).with_expiry(Expiry::Clear);
    let next = commit(&*svc.ports.store, write, None).await?;
    tracing::info!(credential_id = %record.id, "credential restored");
    svc.ports
        .events
        .publish(
            "CredentialRestored",
            json!({ "credential_id": record.id, "actor": caller.as_actor() }),
        )
        .await;
    Ok(credential_response(200, &next.view(role)))
}
