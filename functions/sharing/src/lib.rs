//! The sharing function: who may do what with a credential. Grants live in the credential's ACL
//! (what authorization reads) and as grant items (what listing queries); both change in one
//! transaction. This function never touches Secrets Manager.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey_shared::api::{Accessor, Accessors, CredentialView, GrantBody, OwnerTransferBody};
use latchkey_shared::authz::{authorize, effective_role, Action};
use latchkey_shared::commit::Write;
use latchkey_shared::domain::{Caller, CredentialId, Principal, PrincipalKind, Role};
use latchkey_shared::error::ApiError;
use latchkey_shared::handler::{commit, load_for, refuse_deleted, touch};
use latchkey_shared::http::{
    self, credential_response, json_object, json_response, path_param, respond,
};
use latchkey_shared::ports::Ports;
use latchkey_shared::record::{CredentialRecord, HistoryAction, HistoryEntry};
use latchkey_shared::store::Grants;
use serde_json::{json, Value};

/// Grants per credential. Every grant is an item in the sharing transaction (limit 100), and
/// a credential shared with more than this is better shared with a team.
const MAX_GRANTS: usize = 50;

/// Given no secret store: sharing never reads or writes a secret (its IAM role cannot either).
pub struct Service {
    ports: Ports,
}

impl Service {
    pub fn new(aws: &aws_config::SdkConfig, config: &latchkey_shared::config::Config) -> Self {
        Self::with_ports(latchkey_shared::aws::ports(aws, config))
    }

    pub fn with_ports(ports: Ports) -> Self {
        Self { ports }
    }

    /// Answers every request with a response; only a broken runtime is an `Err`.
    pub async fn handle(&self, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        Ok(respond(self.route(&req).await))
    }

    #[tracing::instrument(skip_all, fields(route = http::route_key(req)))]
    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let caller = http::caller(req)?;
        match http::route_key(req) {
            "GET /credentials/{id}/accessors" => accessors(self, &caller, req).await,
            "PUT /credentials/{id}/accessors/{type}/{pid}" => grant(self, &caller, req).await,
            "DELETE /credentials/{id}/accessors/{type}/{pid}" => revoke(self, &caller, req).await,
            "POST /credentials/{id}/owner" => transfer(self, &caller, req).await,
            other => Err(ApiError::route_not_found(other)),
        }
    }
}

/// Who has access to a credential and at which role, strongest first.
#[utoipa::path(
    get, path = "/credentials/{id}/accessors", tag = "sharing", operation_id = "listAccessors",
    params(("id" = CredentialId, Path)),
    responses((status = 200, description = "The grants.", body = Accessors))
)]
async fn accessors(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, _) = load_for(&*svc.ports.store, req, caller, Action::ViewAccessors).await?;
    Ok(json_response(200, &accessors_view(&record)))
}

/// Grants a user, team or organisation a role on the credential, or changes its role.
#[utoipa::path(
    put, path = "/credentials/{id}/accessors/{type}/{pid}", tag = "sharing", operation_id = "grantAccess",
    request_body = GrantBody,
    params(("id" = CredentialId, Path), ("type" = PrincipalKind, Path), ("pid" = String, Path, pattern = "^[A-Za-z0-9._@|+=-]{1,128}$", description = "The user, team or organisation id.")),
    responses(
        (status = 201, description = "Granted.", body = Accessor),
        (status = 200, description = "The role changed, or was already this one.", body = Accessor),
        (status = 400, description = "invalid_principal, invalid_role, unknown_field, missing_field"),
        (status = 409, description = "edit_conflict"),
        (status = 410, description = "credential_deleted"),
        (status = 422, description = "use_ownership_transfer, owner_role_fixed, cross_org_grant, too_many_grants"),
    )
)]
async fn grant(svc: &Service, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let principal = path_principal(req)?;
    let role = requested_role(req)?;
    let record = latchkey_shared::handler::load(&*svc.ports.store, req).await?;
    let key = principal.to_string();
    let previous = record.acl.get(&key).copied();
    // Changing an admin grant is as much a matter for the owner as creating one.
    let at_stake = previous.map_or(role, |p| p.max(role));
    authorize(&record.acl, &record.org_id, caller, Action::Grant(at_stake))?;
    refuse_deleted(&record)?;
    if role == Role::Owner {
        return Err(ApiError::unprocessable(
            "use_ownership_transfer",
            "ownership moves only by POST /credentials/{id}/owner",
        ));
    }
    if previous == Some(Role::Owner) {
        return Err(ApiError::unprocessable(
            "owner_role_fixed",
            "the owner's access cannot change; transfer ownership first",
        ));
    }
    if principal.kind == PrincipalKind::Org && principal.id != record.org_id {
        return Err(ApiError::unprocessable(
            "cross_org_grant",
            "credentials are shared only within their own organisation",
        ));
    }
    if previous == Some(role) {
        return Ok(json_response(200, &grant_view(&key, role)));
    }
    if previous.is_none() && record.acl.len() >= MAX_GRANTS {
        return Err(ApiError::unprocessable(
            "too_many_grants",
            format!("a credential has at most {MAX_GRANTS} grants; share with a team instead"),
        ));
    }

    let now = svc.ports.now();
    let mut next = record.clone();
    next.acl.insert(key.clone(), role);
    touch(&mut next, caller, now);
    let action = if previous.is_some() {
        HistoryAction::RoleChanged
    } else {
        HistoryAction::Shared
    };
    let history = HistoryEntry::new(action, &caller.as_actor(), now).about(&key, Some(role));
    let change = Write {
        grants: Grants::Only(vec![key.clone()]),
        ..Write::update(&record, next, history)
    };
    commit(&*svc.ports.store, change, None).await?;
    tracing::info!(credential_id = %record.id, principal = %key, role = role.as_str(), "grant set");
    svc.ports
        .events
        .publish(
            "CredentialShared",
            json!({ "credential_id": record.id, "principal": key, "role": role,
                    "previous_role": previous, "actor": caller.as_actor() }),
        )
        .await;
    let status = if previous.is_some() { 200 } else { 201 };
    Ok(json_response(status, &grant_view(&key, role)))
}

/// Revokes a grant. Anyone may drop their own; the owner's cannot be revoked.
#[utoipa::path(
    delete, path = "/credentials/{id}/accessors/{type}/{pid}", tag = "sharing", operation_id = "revokeAccess",
    params(("id" = CredentialId, Path), ("type" = PrincipalKind, Path), ("pid" = String, Path, pattern = "^[A-Za-z0-9._@|+=-]{1,128}$")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "invalid_principal"),
        (status = 404, description = "grant_not_found"),
        (status = 409, description = "edit_conflict"),
        (status = 410, description = "credential_deleted"),
        (status = 422, description = "owner_not_revocable"),
    )
)]
async fn revoke(svc: &Service, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let principal = path_principal(req)?;
    let record = latchkey_shared::handler::load(&*svc.ports.store, req).await?;
    let key = principal.to_string();
    // Strangers learn nothing, not even whether such a grant exists.
    effective_role(&record.acl, &record.org_id, caller).ok_or_else(ApiError::not_found)?;
    let role = record.acl.get(&key).copied().ok_or_else(|| {
        ApiError::client(
            404,
            "grant_not_found",
            "this credential has no grant for that principal",
        )
    })?;
    let own_grant = principal == Principal::user(&caller.user_id);
    authorize(
        &record.acl,
        &record.org_id,
        caller,
        Action::Revoke { role, own_grant },
    )?;
    refuse_deleted(&record)?;
    if role == Role::Owner {
        return Err(ApiError::unprocessable(
            "owner_not_revocable",
            "the owner's access cannot be revoked; transfer ownership first",
        ));
    }

    let now = svc.ports.now();
    let mut next = record.clone();
    next.acl.remove(&key);
    touch(&mut next, caller, now);
    let history =
        HistoryEntry::new(HistoryAction::Revoked, &caller.as_actor(), now).about(&key, Some(role));
    let change = Write {
        revoked: vec![key.clone()],
        ..Write::update(&record, next, history)
    };
    commit(&*svc.ports.store, change, None).await?;
    tracing::info!(credential_id = %record.id, principal = %key, "grant revoked");
    svc.ports
        .events
        .publish(
            "CredentialAccessRevoked",
            json!({ "credential_id": record.id, "principal": key, "role": role, "actor": caller.as_actor() }),
        )
        .await;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// Makes another user of the credential's organisation its owner. The previous owner
/// keeps admin access (they can drop it).
#[utoipa::path(
    post, path = "/credentials/{id}/owner", tag = "sharing", operation_id = "transferOwnership",
    request_body = OwnerTransferBody,
    params(("id" = CredentialId, Path)),
    responses(
        (status = 200, description = "The credential with its new owner.", body = CredentialView),
        (status = 400, description = "invalid_id, unknown_field, missing_field"),
        (status = 409, description = "edit_conflict"),
        (status = 410, description = "credential_deleted"),
        (status = 422, description = "already_owner"),
    )
)]
async fn transfer(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, _) = load_for(&*svc.ports.store, req, caller, Action::TransferOwnership).await?;
    refuse_deleted(&record)?;
    let body = json_object(req)?;
    if body.keys().any(|k| k != "user") {
        return Err(ApiError::bad_request(
            "unknown_field",
            "the body holds only `user`",
        ));
    }
    let user = body
        .get("user")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("missing_field", "`user` names the new owner"))?;
    let new_owner = Principal::parse("user", user)?.to_string();
    if new_owner == record.owner {
        return Err(ApiError::unprocessable(
            "already_owner",
            "that user already owns this credential",
        ));
    }

    let now = svc.ports.now();
    let mut next = record.clone();
    next.acl.insert(record.owner.clone(), Role::Admin);
    next.acl.insert(new_owner.clone(), Role::Owner);
    next.owner = new_owner.clone();
    touch(&mut next, caller, now);
    let history = HistoryEntry::new(HistoryAction::OwnerChanged, &caller.as_actor(), now)
        .about(&new_owner, Some(Role::Owner));
    let change = Write {
        grants: Grants::Only(vec![record.owner.clone(), new_owner.clone()]),
        ..Write::update(&record, next, history)
    };
    let next = commit(&*svc.ports.store, change, None).await?;
    tracing::info!(credential_id = %record.id, "ownership transferred");
    svc.ports
        .events
        .publish(
            "CredentialOwnerChanged",
            json!({ "credential_id": record.id, "previous_owner": record.owner, "owner": new_owner,
                    "actor": caller.as_actor() }),
        )
        .await;
    let role = effective_role(&next.acl, &next.org_id, caller).unwrap_or(Role::Admin);
    Ok(credential_response(200, &next.view(role)))
}

fn path_principal(req: &Request) -> Result<Principal, ApiError> {
    Principal::parse(
        &path_param(req, "type").unwrap_or_default(),
        &path_param(req, "pid").unwrap_or_default(),
    )
}

fn requested_role(req: &Request) -> Result<Role, ApiError> {
    let body = json_object(req)?;
    if body.keys().any(|k| k != "role") {
        return Err(ApiError::bad_request(
            "unknown_field",
            "the body holds only `role`",
        ));
    }
    body.get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_field",
                "`role` is one of collaborator, operator, admin",
            )
        })?
        .parse()
}

fn grant_view(key: &str, role: Role) -> Accessor {
    let (kind, id) = key.split_once(':').unwrap_or(("user", key));
    Accessor {
        principal: key.to_owned(),
        kind: match kind {
            "team" => PrincipalKind::Team,
            "org" => PrincipalKind::Org,
            _ => PrincipalKind::User,
        },
        id: id.to_owned(),
        role,
    }
}

/// Strongest first, then by principal.
fn accessors_view(record: &CredentialRecord) -> Accessors {
    let mut grants: Vec<(&String, &Role)> = record.acl.iter().collect();
    grants.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    Accessors {
        items: grants.into_iter().map(|(k, r)| grant_view(k, *r)).collect(),
    }
}

/// This function's part of the OpenAPI document ([`latchkey_shared::openapi::document`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(accessors, grant, revoke, transfer))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[cfg(test)]
mod tests;
