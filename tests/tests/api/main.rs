//! Integration tests: the local API Gateway in front of the real handlers, against the AWS
//! emulator through the real SDK. Each test gets a fresh stack.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod helpers;
mod test_servers;

mod bad_input;
mod canary;
mod concurrency;
mod connections;
mod console;
mod crash;
mod crud;
mod docs;
mod envelope;
mod fan_out;
mod flow_failures;
mod gateway;
mod health_checks;
mod lifecycle;
mod listing;
mod matrix;
mod migration;
mod oauth;
mod oidc;
mod races;
mod redirects;
mod refresh;
mod resolve_cache;
mod sharing;
mod status_events;
