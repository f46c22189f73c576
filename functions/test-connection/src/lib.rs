//! The test-connection function: `POST /credentials/{id}/test` tests a saved credential and
//! records the verdict as its status; `POST /credentials/test` tests an unsaved one (the form a
//! user is filling in) and stores nothing.

use lambda_http::{Body, Request, Response};
use latchkey_shared::api::SavedTestReport;
use latchkey_shared::authz::Action;
use latchkey_shared::catalog::catalog;
use latchkey_shared::config::Config;
use latchkey_shared::domain::Caller;
use latchkey_shared::domain::CredentialId;
use latchkey_shared::error::ApiError;
use latchkey_shared::handler::{load_for, refuse_deleted};
use latchkey_shared::http::{self, admit_connection_test, json_object, json_response, respond};
use latchkey_shared::openapi::UnsavedTestBody;
use latchkey_shared::ports::{Ports, SecretReader};
use latchkey_shared::record::HistoryAction;
use latchkey_shared::status::Trigger;
use latchkey_shared::store::TestAllowance;
use latchkey_shared::testers::{Target, TestReport, Testers};
use latchkey_shared::validity::{self, Recorded};
use serde_json::{Map, Value};
use std::sync::Arc;

pub struct Service {
    ports: Ports,
    /// Read only, as its IAM role: a test never writes a secret.
    secrets: Arc<dyn SecretReader>,
    testers: Testers,
    allowance: TestAllowance,
}

impl Service {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        Self::with_ports(
            latchkey_shared::aws::ports(aws, config),
            latchkey_shared::aws::secrets(aws, config),
            config,
        )
    }

    pub fn with_ports(ports: Ports, secrets: Arc<dyn SecretReader>, config: &Config) -> Self {
        Self {
            ports,
            secrets,
            testers: Testers::from_config(config),
            allowance: config.test_rate,
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
            "POST /credentials/{id}/test" => test_saved(self, &caller, req).await,
            "POST /credentials/test" => test_unsaved(self, &caller, req).await,
            other => Err(ApiError::route_not_found(other)),
        }
    }
}

/// Tests a saved credential with its stored secrets and records the verdict as its status.
#[utoipa::path(
    post, path = "/credentials/{id}/test", tag = "testing", operation_id = "testCredential",
    params(("id" = CredentialId, Path)),
    responses(
        (status = 200, description = "The verdict: `valid`, `invalid` or `inconclusive` (which never changes the status), with a code and a message.", body = SavedTestReport),
        (status = 410, description = "credential_deleted"),
        (status = 429, description = "rate_limited"),
    )
)]
async fn test_saved(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (record, _) = load_for(&*svc.ports.store, req, caller, Action::Test).await?;
    refuse_deleted(&record)?;
    admit_connection_test(&svc.ports, svc.allowance, caller).await?;
    let secrets = svc
        .secrets
        .read(record.secret_owner(), &record.secret_version)
        .await?;
    let report = svc.testers.test(&Target::of(&record, &secrets)).await;
    let recorded = validity::record(
        &svc.ports,
        &record,
        &report.observation,
        Trigger::Test,
        HistoryAction::Tested,
        &caller.as_actor(),
    )
    .await?;
    tracing::info!(credential_id = %record.id, result = ?report.observation.result, code = %report.observation.code, "credential tested");
    let status = match &recorded {
        Recorded::Transition(_, to) => *to,
        _ => report.observation.status().unwrap_or(record.status),
    };
    Ok(json_response(
        200,
        &SavedTestReport {
            report,
            status,
            status_recorded: recorded != Recorded::Stale,
        },
    ))
}

/// Tests a credential that is not saved yet (a form being filled in): validated like a create,
/// tested, forgotten.
#[utoipa::path(
    post, path = "/credentials/test", tag = "testing", operation_id = "testUnsavedCredential",
    request_body = UnsavedTestBody,
    responses(
        (status = 200, description = "The verdict; nothing is stored.", body = TestReport),
        (status = 400, description = "unknown_connector, unknown_auth_type, unknown_field, invalid_field, missing_field"),
        (status = 422, description = "secret_in_url"),
        (status = 429, description = "rate_limited"),
    )
)]
async fn test_unsaved(
    svc: &Service,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    if let Some(key) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "connector" | "auth_type" | "fields"))
    {
        return Err(ApiError::bad_request(
            "unknown_field",
            format!(
                "unknown field {}; the body holds connector, auth_type and fields",
                latchkey_shared::catalog::echoable_name(key)
            ),
        ));
    }
    let connector = body
        .get("connector")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("missing_field", "the body needs connector"))?;
    let connector = catalog().connector(connector)?;
    let auth = connector.auth_type(body.get("auth_type").and_then(Value::as_str))?;
    let fields: Map<String, Value> = match body.get("fields") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "`fields` must be an object",
            ))
        }
    };
    let valid = connector.validate_new(auth, &fields)?;
    admit_connection_test(&svc.ports, svc.allowance, caller).await?;
    let report = svc
        .testers
        .test(&Target {
            connector: &connector.id,
            auth_type: &auth.id,
            fields: &valid.public,
            secrets: &valid.secrets,
        })
        .await;
    Ok(json_response(200, &report))
}

/// This function's part of the OpenAPI document ([`latchkey_shared::openapi::document`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(test_saved, test_unsaved))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
