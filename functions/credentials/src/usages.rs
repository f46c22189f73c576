//! Which data sources and destinations use a credential. Anyone who may use the credential may
//! attach it; a usage is detached by whoever attached it, or an admin.

use lambda_http::{Body, Request, Response};
use latchkey_shared::api::{NewUsageBody, UsageKind, UsagePage};
use latchkey_shared::authz::{authorize, Action};
use latchkey_shared::domain::CredentialId;
use latchkey_shared::domain::{parse_external_id, Caller};
use latchkey_shared::error::ApiError;
use latchkey_shared::handler::{load_for, refuse_deleted};
use latchkey_shared::http::{json_object, json_response, path_param};
use latchkey_shared::record::{HistoryAction, HistoryEntry};
use latchkey_shared::store::{Usage, UsageChange};

use crate::read::{items_page, PageQuery};
use crate::Service;

const KINDS: [&str; 2] = ["source", "destination"];

fn kind(raw: &str) -> Result<String, ApiError> {
    KINDS.contains(&raw).then(|| raw.to_owned()).ok_or_else(|| {
        ApiError::bad_request("invalid_field", "`kind` must be source or destination")
    })
}

fn gone() -> ApiError {
    ApiError::conflict("credential_changed", "the credential was deleted meanwhile")
}

/// The data sources and destinations that use a credential.
#[utoipa::path(
    get, path = "/credentials/{id}/usages", tag = "usages", operation_id = "listUsages",
    params(("id" = CredentialId, Path),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page.", body = UsagePage),
        (status = 400, description = "invalid_query, invalid_page_token"),
    )
)]
pub async fn list(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let store = &svc.ports.store;
    let listing = (Action::ViewUsages, "usages");
    let (items, next_token) =
        items_page(svc, caller, req, listing, |id, limit, after| async move {
            store.usages(&id, limit, after).await
        })
        .await?;
    Ok(json_response(200, &UsagePage { items, next_token }))
}

/// Records that a data source or destination uses the credential. Attaching what is already
/// attached answers 200 with it.
#[utoipa::path(
    post, path = "/credentials/{id}/usages", tag = "usages", operation_id = "attachUsage",
    request_body = NewUsageBody,
    params(("id" = CredentialId, Path)),
    responses(
        (status = 201, description = "Attached.", body = Usage),
        (status = 200, description = "Already attached: the existing usage.", body = Usage),
        (status = 400, description = "invalid_field, invalid_id, unknown_field, missing_field"),
        (status = 409, description = "credential_changed"),
        (status = 410, description = "credential_deleted"),
    )
)]
pub async fn attach(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, _) = load_for(&*svc.ports.store, req, caller, Action::AttachUsage).await?;
    refuse_deleted(&record)?;
    let body = json_object(req)?;
    let mut usage = Usage {
        kind: String::new(),
        resource_id: String::new(),
        name: None,
        added_by: caller.as_actor(),
        added_at: svc.ports.now(),
    };
    for (key, value) in &body {
        let text = value.as_str();
        match (key.as_str(), text) {
            ("kind", Some(k)) => usage.kind = kind(k)?,
            ("resource_id", Some(r)) => usage.resource_id = parse_external_id("`resource_id`", r)?,
            ("name", Some(n))
                if (1..=200).contains(&n.chars().count())
                    && latchkey_shared::domain::is_plain_text(n, false) =>
            {
                usage.name = Some(n.to_owned())
            }
            ("kind" | "resource_id" | "name", _) => {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("`{key}` must be a short string without control or bidirectional formatting characters"),
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_field",
                    "a usage holds only kind, resource_id and name",
                ))
            }
        }
    }
    if usage.kind.is_empty() || usage.resource_id.is_empty() {
        return Err(ApiError::bad_request(
            "missing_field",
            "a usage needs kind and resource_id",
        ));
    }
    if let Some(existing) = svc
        .ports
        .store
        .usage(&record.id, &usage.kind, &usage.resource_id)
        .await?
    {
        return Ok(json_response(200, &existing));
    }
    let history = HistoryEntry::new(
        HistoryAction::UsageAdded,
        &caller.as_actor(),
        usage.added_at,
    )
    .with_usage(format!("{}:{}", usage.kind, usage.resource_id));
    if !svc
        .ports
        .store
        .write_usage(&record.id, UsageChange::Add(&usage), &history)
        .await?
    {
        return Err(gone());
    }
    Ok(json_response(201, &usage))
}

/// Detaches a usage: whoever attached it, or an admin.
#[utoipa::path(
    delete, path = "/credentials/{id}/usages/{kind}/{rid}", tag = "usages", operation_id = "detachUsage",
    params(("id" = CredentialId, Path), ("kind" = UsageKind, Path), ("rid" = String, Path, pattern = "^[A-Za-z0-9._@|+=-]{1,128}$", description = "The resource id.")),
    responses(
        (status = 204, description = "Detached."),
        (status = 400, description = "invalid_field"),
        (status = 404, description = "usage_not_found"),
        (status = 409, description = "credential_changed"),
        (status = 410, description = "credential_deleted"),
    )
)]
pub async fn detach(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    // Visibility first (404 for strangers), then whether this caller may detach this usage.
    let (record, _) = load_for(&*svc.ports.store, req, caller, Action::ViewUsages).await?;
    refuse_deleted(&record)?;
    let kind = kind(&path_param(req, "kind").unwrap_or_default())?;
    let resource_id = parse_external_id(
        "the resource id",
        &path_param(req, "rid").unwrap_or_default(),
    )?;
    let usage = svc
        .ports
        .store
        .usage(&record.id, &kind, &resource_id)
        .await?
        .ok_or_else(|| {
            ApiError::client(404, "usage_not_found", "this credential has no such usage")
        })?;
    let attached_by_caller = usage.added_by == caller.as_actor();
    authorize(
        &record.acl,
        &record.org_id,
        caller,
        Action::DetachUsage { attached_by_caller },
    )?;
    let history = HistoryEntry::new(
        HistoryAction::UsageRemoved,
        &caller.as_actor(),
        svc.ports.now(),
    )
    .with_usage(format!("{kind}:{resource_id}"));
    let change = UsageChange::Remove {
        kind: &kind,
        resource_id: &resource_id,
    };
    if !svc
        .ports
        .store
        .write_usage(&record.id, change, &history)
        .await?
    {
        return Err(gone());
    }
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = lambda_http::http::StatusCode::NO_CONTENT;
    Ok(resp)
}
