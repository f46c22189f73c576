//! The console function: everything a browser gets from Latchkey's origin without calling the
//! API itself. The console web app ([`app`]) and the API's reference ([`reference`]: the
//! OpenAPI document and a Redoc page), all compiled in.

mod app;
mod asset;
mod reference;
#[cfg(test)]
mod testing;

/// What `build.rs` generated: the built web app's files and Redoc's bundle.
mod built {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

use app::App;
pub use app::Config;
use lambda_http::{Body, Request, Response};
use latchkey_shared::error::ApiError;
use latchkey_shared::http::{self, respond};

/// Stateless but for its configuration: everything it serves is compiled in.
pub struct Service {
    app: App,
}

impl Service {
    pub fn new(config: &Config) -> Self {
        Self {
            app: App::new(config),
        }
    }

    /// Answers every request with a response; only a broken runtime is an `Err`.
    pub async fn handle(&self, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        Ok(respond(self.route(&req)))
    }

    #[tracing::instrument(skip_all, fields(route = http::route_key(req)))]
    fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match http::route_key(req) {
            "GET /" => Ok(self.app.page(req, "/")),
            "GET /console" => Ok(self.app.page(req, "/console")),
            "GET /console/{proxy+}" => Ok(self.app.console(req)),
            "GET /openapi.json" => Ok(reference::openapi_document(req)),
            "GET /docs" => Ok(reference::docs_page(req)),
            "GET /docs/redoc.standalone.js" => Ok(reference::redoc_bundle(req)),
            other => Err(ApiError::route_not_found(other)),
        }
    }
}

/// This function's part of the OpenAPI document ([`latchkey_shared::openapi::document`]): the
/// reference routes. The app's pages are for browsers, not part of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    reference::openapi()
}
