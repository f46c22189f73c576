//! Read paths: one credential, the caller's credentials, a credential's history. None of them
//! touches Secrets Manager.

use futures::future::try_join_all;
use lambda_http::{Body, Request, Response};
use latchkey_shared::authz::{effective_role, Action};
use latchkey_shared::catalog::catalog;
use latchkey_shared::domain::{Caller, CredentialId, Role, Status};
use latchkey_shared::error::{ApiError, InternalError};
use latchkey_shared::handler::{load_for, refuse_deleted};
use latchkey_shared::http::{credential_response, json_response, query_param};
use latchkey_shared::page;
use latchkey_shared::record::CredentialRecord;
use serde_json::Value;
use std::collections::BTreeSet;

use crate::Service;
use latchkey_shared::api::{CredentialPage, CredentialView, HistoryPage};

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;
/// The name page tokens of `GET /credentials` are bound to.
const LISTING: &str = "credentials";

/// One credential: non-secret fields, the names of the secret ones, status and token state.
#[utoipa::path(
    get, path = "/credentials/{id}", tag = "credentials", operation_id = "getCredential",
    params(("id" = CredentialId, Path)),
    responses(
        (status = 200, description = "The credential.", body = CredentialView),
        (status = 410, description = "credential_deleted"),
    )
)]
pub async fn get(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, role) = load_for(&*svc.ports.store, req, caller, Action::View).await?;
    refuse_deleted(&record)?;
    Ok(credential_response(200, &record.view(role)))
}

pub fn page_limit(req: &Request) -> Result<usize, ApiError> {
    match query_param(req, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("limit must be from 1 to {MAX_PAGE}"),
                )
            }),
    }
}

/// The paging parameters [`page_limit`] and [`page_position`] read, as the document shows them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // described here, read by page_limit and page_position
pub struct PageQuery {
    /// Items per page (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_token` of the previous page.
    next_token: Option<String>,
}

/// The position `next_token` continues `listing` from, if the caller sent one.
pub fn page_position(
    req: &Request,
    caller: &Caller,
    listing: &str,
) -> Result<Option<String>, ApiError> {
    query_param(req, "next_token")
        .map(|raw| page::decode(caller, listing, &raw))
        .transpose()
}

/// One page of a credential's own items (history, usages) for a caller who may `action`: the
/// position travels in a page token bound to the caller and this listing, opaque to them and
/// refused when tampered with. Answers the items and the next page's token.
pub async fn items_page<T, Fut>(
    svc: &Service,
    caller: &Caller,
    req: &Request,
    (action, kind): (Action, &str),
    fetch: impl FnOnce(CredentialId, i32, Option<String>) -> Fut,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), InternalError>>,
{
    let (record, _) = load_for(&*svc.ports.store, req, caller, action).await?;
    let limit = page_limit(req)?;
    let listing = format!("{kind}:{}", record.id);
    let after = page_position(req, caller, &listing)?;
    let (items, next) = fetch(record.id, limit as i32, after).await?;
    Ok((items, next.map(|at| page::encode(caller, &listing, &at))))
}

/// Filters of `GET /credentials`, all optional.
struct ListFilter {
    min_role: Role,
    connector: Option<String>,
    status: Option<Status>,
    deleted: bool,
    tag: Option<String>,
    /// Lowercased: names compare case-insensitively.
    name_contains: Option<String>,
}

impl ListFilter {
    fn parse(req: &Request) -> Result<Self, ApiError> {
        let bad = |msg: &str| ApiError::bad_request("invalid_query", msg.to_owned());
        let min_role = query_param(req, "role")
            .map(|r| {
                r.parse::<Role>()
                    .map_err(|_| bad("role must be collaborator, operator, admin or owner"))
            })
            .transpose()?
            .unwrap_or(Role::Collaborator);
        let connector = query_param(req, "connector");
        if let Some(c) = &connector {
            catalog()
                .connector(c)
                .map_err(|_| bad("connector is not one of GET /connectors"))?;
        }
        let status = query_param(req, "status")
            .map(|s| {
                serde_json::from_value::<Status>(Value::String(s))
                    .map_err(|_| bad("status must be untested, valid, invalid or reauth_required"))
            })
            .transpose()?;
        let deleted = match query_param(req, "deleted").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(bad("deleted must be true or false")),
        };
        Ok(Self {
            min_role,
            connector,
            status,
            deleted,
            tag: query_param(req, "tag").map(|t| t.to_ascii_lowercase()),
            name_contains: query_param(req, "q")
                .map(|q| q.trim().to_lowercase())
                .filter(|q| !q.is_empty()),
        })
    }

    fn keeps(&self, record: &CredentialRecord, role: Role) -> bool {
        role >= self.min_role
            && record.is_deleted() == self.deleted
            && self
                .connector
                .as_ref()
                .is_none_or(|c| &record.connector == c)
            && self.status.is_none_or(|s| record.status == s)
            && self.tag.as_ref().is_none_or(|t| record.tags.contains(t))
            && self
                .name_contains
                .as_ref()
                .is_none_or(|q| record.name.to_lowercase().contains(q.as_str()))
    }
}

// Every credential reachable through the caller's user, team and org grants, once each, in id
// (creation) order. One index query per principal, then one batch read per 100 credentials.
// The page token holds the last credential id examined, so pages are stable under concurrent
// creates; filters apply after the read, so a page may hold fewer than `limit` items.
/// The credentials the caller can see (owned, or shared with them, their teams or their
/// organisation), by id, filtered.
#[utoipa::path(
    get, path = "/credentials", tag = "credentials", operation_id = "listCredentials",
    params(
        ("role" = Option<Role>, Query, description = "Only credentials on which the caller has at least this role."),
        ("connector" = Option<String>, Query, description = "A connector id from `GET /connectors`."),
        ("status" = Option<Status>, Query),
        ("tag" = Option<String>, Query),
        ("q" = Option<String>, Query, description = "Only credentials whose name contains this text, in any case."),
        ("deleted" = Option<bool>, Query, description = "`true`: the deleted credentials still in their recovery window instead."),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page.", body = CredentialPage),
        (status = 400, description = "invalid_query, invalid_page_token"),
    )
)]
pub async fn list(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let limit = page_limit(req)?;
    let filter = ListFilter::parse(req)?;
    let after = page_position(req, caller, LISTING)?
        .map(|raw| CredentialId::parse(&raw))
        .transpose()?;

    let principals = caller.principals();
    let per_principal = try_join_all(principals.iter().map(|p| {
        svc.ports
            .store
            .granted_to(&caller.org_id, p, after.as_ref(), limit as i32)
    }))
    .await?;
    let mut more = per_principal.iter().any(|(_, more)| *more);
    let mut ids: BTreeSet<CredentialId> = per_principal
        .into_iter()
        .flat_map(|(grants, _)| grants.into_iter().map(|(id, _)| id))
        .collect();
    if ids.len() > limit {
        more = true;
        ids = ids.into_iter().take(limit).collect();
    }
    let examined: Vec<CredentialId> = ids.into_iter().collect();

    let mut records = svc.ports.store.get_many(&examined).await?;
    records.sort_by(|a, b| a.id.cmp(&b.id));
    // The ACL on the metadata item is the source of truth; the index only finds candidates.
    let items: Vec<CredentialView> = records
        .iter()
        .filter_map(|r| {
            let role = effective_role(&r.acl, &r.org_id, caller)?;
            filter.keeps(r, role).then(|| r.view(role))
        })
        .collect();
    let next_token = more
        .then(|| {
            examined
                .last()
                .map(|id| page::encode(caller, LISTING, id.as_str()))
        })
        .flatten();
    Ok(json_response(200, &CredentialPage { items, next_token }))
}

// Available on a deleted credential, which is when it matters most.
/// Who did what to a credential, newest first; field names, never values. Also for a deleted
/// credential.
#[utoipa::path(
    get, path = "/credentials/{id}/history", tag = "credentials", operation_id = "getCredentialHistory",
    params(("id" = CredentialId, Path),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page.", body = HistoryPage),
        (status = 400, description = "invalid_query, invalid_page_token"),
    )
)]
pub async fn history(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let store = &svc.ports.store;
    let listing = (Action::ViewHistory, "history");
    let (items, next_token) =
        items_page(svc, caller, req, listing, |id, limit, after| async move {
            store.history(&id, limit, after).await
        })
        .await?;
    Ok(json_response(200, &HistoryPage { items, next_token }))
}
