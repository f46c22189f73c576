//! `POST /credentials`: validate, store the secret, then commit metadata, owner grant, history
//! and idempotency key in one transaction.
//!
//! Order matters for the storage invariant: the secret exists before any metadata points at it.
//! A crash between the two leaves an orphan secret (tagged with the credential id) and no
//! metadata; the secret is only destroyed here when the transaction was definitely refused.

use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};
use latchkey_shared::authz::{authorize, Action};
use latchkey_shared::catalog::catalog;
use latchkey_shared::commit::{commit_with_secrets, Committed, Secrets, Write};
use latchkey_shared::domain::{Caller, CredentialId, Role};
use latchkey_shared::error::ApiError;
use latchkey_shared::health;
use latchkey_shared::http::{admit_connection_test, json_object, json_response, with_etag};
use latchkey_shared::record::{CredentialRecord, HistoryAction, HistoryEntry};
use latchkey_shared::status::Trigger;
use latchkey_shared::store::{IdempotencyKey, IdempotencyRecord};
use latchkey_shared::testers::{Target, TestReport};
use latchkey_shared::validity::{status_changed, status_line};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::input::NewCredential;
use crate::Service;
use latchkey_shared::api::CreatedCredential;
use latchkey_shared::openapi::NewCredentialBody;

const IDEMPOTENCY_KEY_MAX: usize = 255;

/// Creates a credential; with `test: true` it is tested first and born with its verdict.
#[utoipa::path(
    post, path = "/credentials", tag = "credentials", operation_id = "createCredential",
    request_body = NewCredentialBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters. A retry with the same key and request answers the credential the first one created (with `Idempotent-Replayed: true`) instead of creating another.")),
    responses(
        (status = 201, description = "Created.", body = CreatedCredential, headers(("Location" = String, description = "`/credentials/{id}`."), ("Idempotent-Replayed" = Option<String>, description = "`true` when this answers a retry."))),
        (status = 400, description = "unknown_connector, unknown_auth_type, unknown_field, invalid_field, missing_field, invalid_idempotency_key"),
        (status = 404, description = "not_found"),
        (status = 409, description = "request_in_progress, idempotency_key_reused"),
        (status = 422, description = "secret_in_url, idempotency_key_reused"),
        (status = 429, description = "rate_limited"),
    )
)]
pub async fn create(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let input = NewCredential::parse(json_object(req)?)?;
    let connector = catalog().connector(&input.connector)?;
    let auth = connector.auth_type(input.auth_type.as_deref())?;
    let fields = connector.validate_new(auth, &input.fields)?;
    let idempotency_key = idempotency_key(req, caller)?;

    // What identifies "the same request" for a retry: everything but secret values, so that
    // nothing derived from a secret is ever stored.
    let fingerprint = {
        let canonical = json!({
            "name": input.name, "description": input.description, "connector": connector.id,
            "auth_type": auth.id, "fields": fields.public, "secret_fields": fields.secrets.names(),
            "tags": input.tags,
        });
        format!("{:x}", Sha256::digest(canonical.to_string()))
    };
    if let Some(key) = &idempotency_key {
        if let Some(previous) = svc.ports.store.idempotency(key).await? {
            return replay(svc, caller, previous, &fingerprint).await;
        }
    }

    // Tested before anything is stored, so the credential is born with its verdict.
    let report = if input.test {
        admit_connection_test(&svc.ports, svc.config.test_rate, caller).await?;
        Some(
            svc.testers
                .test(&Target {
                    connector: &connector.id,
                    auth_type: &auth.id,
                    fields: &fields.public,
                    secrets: &fields.secrets,
                })
                .await,
        )
    } else {
        None
    };
    let id = CredentialId::generate();
    let now = svc.ports.now();
    let actor = caller.as_actor();
    let mut record = CredentialRecord::new(
        id.clone(),
        caller,
        (&connector.id, &auth.id),
        fields.public,
        fields.secrets.names(),
        now,
    );
    record.name = input.name;
    record.description = input.description;
    record.tags = input.tags;
    record.health_check = input.health_check.unwrap_or(true);
    health::keep_schedule(&mut record, svc.config.health_check_period, now);
    let transition = report
        .as_ref()
        .and_then(|r| record.observe(&r.observation, Trigger::Create, now));
    let idempotency = IdempotencyRecord {
        credential_id: id.clone(),
        fingerprint: fingerprint.clone(),
    };
    let mut write = Write {
        idempotency: idempotency_key.as_ref().map(|k| (k, &idempotency)),
        ..Write::create(
            record,
            HistoryEntry::new(HistoryAction::Created, &actor, now),
        )
    };
    if let Some(report) = &report {
        let o = &report.observation;
        write = write.and_history(
            HistoryEntry::new(HistoryAction::Tested, &actor, now).observed(
                Some(o.result),
                o.status(),
                &o.code,
                Trigger::Create,
            ),
        );
        if let Some((_, to)) = transition {
            write = write.and_history(status_line(&actor, now, to, &o.code, Trigger::Create));
        }
    }
    let secrets = Secrets::First(fields.secrets);
    let record = match commit_with_secrets(&*svc.ports.store, &*svc.secrets, write, secrets).await?
    {
        Committed::Written(record) => *record,
        Committed::Conflict => {
            return Err(ApiError::internal(
                "a freshly generated credential id already existed",
            ))
        }
        Committed::IdempotencyKeyTaken => {
            let key = idempotency_key.as_ref().ok_or_else(|| {
                ApiError::internal("an idempotency conflict without an idempotency key")
            })?;
            // A concurrent retry won the race: answer as it did.
            let previous = svc.ports.store.idempotency(key).await?.ok_or_else(|| {
                ApiError::conflict(
                    "request_in_progress",
                    "another request with this Idempotency-Key is in progress; retry shortly",
                )
            })?;
            return replay(svc, caller, previous, &fingerprint).await;
        }
    };
    tracing::info!(credential_id = %id, connector = %record.connector, "credential created");
    svc.ports
        .events
        .publish(
            "CredentialCreated",
            json!({
                "credential_id": id, "connector": record.connector, "auth_type": record.auth_type,
                "owner": record.owner, "org_id": record.org_id, "actor": actor,
            }),
        )
        .await;
    if let (Some(transition), Some(report)) = (transition, &report) {
        status_changed(
            &svc.ports,
            &record,
            transition,
            &report.observation,
            Trigger::Create,
        )
        .await;
    }
    Ok(created(&record, Role::Owner, false, report))
}

fn created(
    record: &CredentialRecord,
    role: Role,
    replayed: bool,
    test: Option<TestReport>,
) -> Response<Body> {
    let body = CreatedCredential {
        credential: record.view(role),
        test,
    };
    let mut resp = with_etag(json_response(201, &body), record.version);
    let headers = resp.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/credentials/{}", record.id)) {
        headers.insert("location", location);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

/// The same key with the same request returns the credential it created; with a different
/// request it is refused, so a key never silently means two things.
async fn replay(
    svc: &Service,
    caller: &Caller,
    previous: IdempotencyRecord,
    fingerprint: &str,
) -> Result<Response<Body>, ApiError> {
    if previous.fingerprint != fingerprint {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; use a new key",
        ));
    }
    let record = svc
        .ports
        .store
        .get(&previous.credential_id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "idempotency_key_reused",
                "the credential this key created no longer exists; use a new key",
            )
        })?;
    let role = authorize(&record.acl, &record.org_id, caller, Action::View)?;
    Ok(created(&record, role, true, None))
}

/// Scoped to the caller, so two users cannot collide on (or probe) each other's keys.
/// Read raw, neither trimmed nor decoded: a key that is not 1 to 255 visible ASCII characters
/// is refused, never ignored (a non-ASCII key used to read as absent, so retries duplicated).
fn idempotency_key(req: &Request, caller: &Caller) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = parse_idempotency_key(raw.as_bytes())?;
    Ok(Some(IdempotencyKey::new(
        &caller.org_id,
        &caller.user_id,
        key,
    )))
}

/// 1 to 255 visible ASCII characters, exactly as sent.
fn parse_idempotency_key(raw: &[u8]) -> Result<&str, ApiError> {
    let valid =
        (1..=IDEMPOTENCY_KEY_MAX).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic);
    std::str::from_utf8(raw)
        .ok()
        .filter(|_| valid)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn idempotency_keys_are_visible_ascii_taken_as_sent(raw in prop::collection::vec(any::<u8>(), 0..300)) {
            let expected = (1..=255).contains(&raw.len()) && raw.iter().all(|b| (0x21..=0x7e).contains(b));
            match parse_idempotency_key(&raw) {
                Ok(key) => prop_assert!(expected && key.as_bytes() == raw.as_slice()),
                Err(e) => prop_assert!(!expected && e.code() == "invalid_idempotency_key"),
            }
        }
    }
}
