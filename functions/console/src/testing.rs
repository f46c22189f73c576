//! What the unit tests of both parts share: a fixture as a request, the service's answer to it,
//! a header of that answer.

use crate::{Config, Service};
use lambda_http::http::header::AsHeaderName;
use lambda_http::{Body, Request, Response};

pub fn request(event: &str) -> Request {
    lambda_http::request::from_str(event).expect("the fixture is an HTTP API event")
}

pub async fn call(config: &Config, req: Request) -> Response<Body> {
    Service::new(config)
        .handle(req)
        .await
        .expect("handle never fails")
}

pub fn header(resp: &Response<Body>, name: impl AsHeaderName) -> &str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
