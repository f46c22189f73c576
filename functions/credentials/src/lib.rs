//! The credentials function: connector catalog, credential CRUD, soft delete and history.

mod create;
mod input;
mod read;
mod update;
mod usages;

use lambda_http::{Body, Request, Response};
use latchkey_shared::api::RefreshedCredential;
use latchkey_shared::catalog::{catalog, ConnectorList};
use latchkey_shared::config::Config;
use latchkey_shared::error::ApiError;
use latchkey_shared::http::{self, json_response, respond};
use latchkey_shared::ports::{Ports, SecretStore};
use std::sync::Arc;

/// Everything a request needs, built once per cold start.
pub struct Service {
    ports: Ports,
    secrets: Arc<dyn SecretStore>,
    testers: latchkey_shared::testers::Testers,
    config: Config,
}

impl Service {
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Self {
        Self::with_ports(
            latchkey_shared::aws::ports(aws, &config),
            latchkey_shared::aws::secrets(aws, &config),
            config,
        )
    }

    pub fn with_ports(ports: Ports, secrets: Arc<dyn SecretStore>, config: Config) -> Self {
        Self {
            ports,
            secrets,
            testers: latchkey_shared::testers::Testers::from_config(&config),
            config,
        }
    }

    /// Answers every request with a response; only a broken runtime is an `Err`.
    pub async fn handle(&self, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        Ok(respond(self.route(&req).await))
    }

    #[tracing::instrument(skip_all, fields(route = http::route_key(req)))]
    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let caller = http::caller(req)?;
        match http::route_key(req) {
            "GET /connectors" => Ok(connectors()),
            "POST /credentials" => create::create(self, &caller, req).await,
            "GET /credentials" => read::list(self, &caller, req).await,
            "GET /credentials/{id}" => read::get(self, &caller, req).await,
            "GET /credentials/{id}/history" => read::history(self, &caller, req).await,
            "PATCH /credentials/{id}" => update::patch(self, &caller, req).await,
            "DELETE /credentials/{id}" => update::delete(self, &caller, req).await,
            "POST /credentials/{id}/restore" => update::restore(self, &caller, req).await,
            "POST /credentials/{id}/refresh" => refresh_now(self, &caller, req).await,
            "GET /credentials/{id}/usages" => usages::list(self, &caller, req).await,
            "POST /credentials/{id}/usages" => usages::attach(self, &caller, req).await,
            "DELETE /credentials/{id}/usages/{kind}/{rid}" => {
                usages::detach(self, &caller, req).await
            }
            other => Err(ApiError::route_not_found(other)),
        }
    }
}

/// The connector catalog: for each connector and auth type, the fields a form asks for.
#[utoipa::path(
    get, path = "/connectors", tag = "connectors", operation_id = "listConnectors",
    responses((status = 200, description = "The catalog.", body = ConnectorList))
)]
fn connectors() -> Response<Body> {
    json_response(200, &catalog().describe())
}

#[utoipa::path(
    post, path = "/credentials/{id}/refresh", tag = "credentials", operation_id = "refreshCredential",
    params(("id" = latchkey_shared::domain::CredentialId, Path)),
    responses(
        (status = 200, description = "The credential after the refresh, and how it went.", body = RefreshedCredential),
        (status = 409, description = "refresh_in_progress"),
        (status = 410, description = "credential_deleted"),
        (status = 422, description = "not_refreshable"),
        (status = 429, description = "rate_limited"),
    )
)]
/// Refreshes the access token of a token URL or OAuth 2.0 credential now.
async fn refresh_now(
    svc: &Service,
    caller: &latchkey_shared::domain::Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    use latchkey_shared::refresh::{RefreshOutcome, Refresher, SkipReason, When};
    let (record, role) = latchkey_shared::handler::load_for(
        &*svc.ports.store,
        req,
        caller,
        latchkey_shared::authz::Action::Refresh,
    )
    .await?;
    latchkey_shared::handler::refuse_deleted(&record)?;
    if !record.is_token_based() {
        return Err(ApiError::unprocessable(
            "not_refreshable",
            "only token URL and OAuth 2.0 credentials have tokens to refresh",
        ));
    }
    // A refresh on demand reaches a URL the caller may have chosen and says how it went:
    // as much an oracle as a connection test, so it counts as one.
    latchkey_shared::http::admit_connection_test(&svc.ports, svc.config.test_rate, caller).await?;
    let refresher = Refresher {
        ports: &svc.ports,
        secrets: &*svc.secrets,
        provider: &svc.testers,
        margin: svc.config.refresh_margin,
    };
    let outcome = refresher
        .refresh(&record.id, When::Now, &caller.as_actor())
        .await?;
    if outcome
        == (RefreshOutcome::Skipped {
            reason: SkipReason::LeaseBusy,
        })
    {
        return Err(ApiError::conflict(
            "refresh_in_progress",
            "a refresh of this credential is running; try again in a moment",
        ));
    }
    let now = svc
        .ports
        .store
        .get(&record.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = latchkey_shared::api::RefreshedCredential {
        credential: now.view(role),
        refresh: outcome,
    };
    Ok(latchkey_shared::http::with_etag(
        json_response(200, &body),
        body.credential.version,
    ))
}

/// This function's part of the OpenAPI document ([`latchkey_shared::openapi::document`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(
        connectors,
        create::create,
        read::list,
        read::get,
        read::history,
        update::patch,
        update::delete,
        update::restore,
        refresh_now,
        usages::list,
        usages::attach,
        usages::detach
    ))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[cfg(test)]
mod tests;
