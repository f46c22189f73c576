//! The credentials function: connector catalog, credential CRUD, soft delete and history.

mod create;
mod input;
mod read;
mod update;
mod usages;

use lambda_http::{Body, Request, Response};
use latchkey_shared::catalog::catalog;
use latchkey_shared::config::Config;
use latchkey_shared::error::ApiError;
use latchkey_shared::http::{self, json_response, respond};
use latchkey_shared::Backends;

/// Everything a request needs, built once per cold start.
pub struct Service {
    aws: Backends,
    testers: latchkey_shared::testers::Testers,
    config: Config,
}

impl Service {
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Self {
        Self {
            aws: Backends::new(aws, &config),
            testers: latchkey_shared::testers::Testers::new(
                config.outbound_guard.clone(),
                config.test_timeout,
                config.snowflake_base_url.clone(),
            ),
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
            "GET /connectors" => Ok(json_response(200, &catalog().describe())),
            "POST /credentials" => create::create(self, &caller, req).await,
            "GET /credentials" => read::list(self, &caller, req).await,
            "GET /credentials/{id}" => read::get(self, &caller, req).await,
            "GET /credentials/{id}/history" => read::history(self, &caller, req).await,
            "PATCH /credentials/{id}" => update::patch(self, &caller, req).await,
            "DELETE /credentials/{id}" => update::delete(self, &caller, req).await,
            "POST /credentials/{id}/restore" => update::restore(self, &caller, req).await,
            "GET /credentials/{id}/usages" => usages::list(self, &caller, req).await,
            "POST /credentials/{id}/usages" => usages::attach(self, &caller, req).await,
            "DELETE /credentials/{id}/usages/{kind}/{rid}" => {
                usages::detach(self, &caller, req).await
            }
            other => Err(ApiError::client(
                404,
                "route_not_found",
                format!("this function does not serve `{other}`"),
            )),
        }
    }
}
