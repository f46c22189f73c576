//! One error type for every handler, mapped to HTTP in exactly one place ([`ApiError::status`]),
//! and [`InternalError`] for everything below the handlers: the ports, their adapters, the use
//! cases and the scheduled sweeps fail only in ways no caller caused, so they never speak HTTP;
//! `?` in a handler turns their failure into a 500.
//!
//! Client errors carry a machine-readable `code` and a human message. Messages name fields, never
//! echo values: a value might be a secret. Internal errors keep their full chain for the log and
//! answer with a generic 500.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Client {
        status: u16,
        code: &'static str,
        message: String,
        /// The request's members the error is about (`name`, `fields.password`), so that a
        /// form can show it beside them.
        fields: Vec<String>,
    },
    /// 429 `rate_limited`, with the seconds after which to retry (the `Retry-After` header).
    #[error("{message}")]
    RateLimited { retry_after: u64, message: String },
    #[error("internal error: {0}")]
    Internal(#[from] InternalError),
}

/// An unexpected failure (AWS, serialization, a broken invariant). Never shown to the caller;
/// logged with its whole chain.
#[derive(Debug)]
pub struct InternalError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain, so the log says what actually failed.
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for InternalError {}

impl InternalError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

/// A serialization failure is internal: `?` turns it into a 500 (SDK errors go through [`sdk`],
/// which keeps their context).
macro_rules! internal_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self { ApiError::Internal(InternalError::new(e)) }
        }
    )*};
}
internal_from!(serde_json::Error, serde_dynamo::Error);

impl From<serde_json::Error> for InternalError {
    fn from(e: serde_json::Error) -> Self {
        InternalError::new(e)
    }
}

impl From<serde_dynamo::Error> for InternalError {
    fn from(e: serde_dynamo::Error) -> Self {
        InternalError::new(e)
    }
}

impl ApiError {
    pub fn client(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    /// Names the request members the error is about (see [`ApiError::fields`]).
    pub fn about<S: Into<String>>(mut self, members: impl IntoIterator<Item = S>) -> Self {
        if let ApiError::Client { fields, .. } = &mut self {
            fields.extend(members.into_iter().map(Into::into));
        }
        self
    }
    /// The request members the error is about: top-level (`name`, `connector`) or a
    /// connector's field (`fields.password`).
    pub fn fields(&self) -> &[String] {
        match self {
            ApiError::Client { fields, .. } => fields,
            _ => &[],
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(400, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(422, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(409, code, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::client(401, "unauthenticated", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(403, "forbidden", message)
    }
    /// The same answer whether the credential does not exist or the caller may not know it does.
    pub fn not_found() -> Self {
        Self::client(
            404,
            "not_found",
            "no credential with this id is visible to you",
        )
    }
    /// A route the function does not serve (the gateway and the template disagree).
    pub fn route_not_found(route: &str) -> Self {
        Self::client(
            404,
            "route_not_found",
            format!("this function does not serve `{route}`"),
        )
    }
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(InternalError::new(error))
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::RateLimited { .. } => 429,
            ApiError::Internal(_) => 500,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Client { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal_error",
        }
    }
    /// What the caller may read.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Client { message, .. } | ApiError::RateLimited { message, .. } => {
                message.clone()
            }
            ApiError::Internal(_) => "something went wrong on our side; it has been logged".into(),
        }
    }
}

/// An SDK call's answer, with the service error that `expected` accepts taken as `None`
/// (a condition saying the work is already done, a secret already gone); any other failure is
/// internal, through [`sdk`].
pub fn or_none_if<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
    expected: impl FnOnce(&E) -> bool,
) -> Result<Option<T>, InternalError>
where
    E: std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(expected) => Ok(None),
        Err(e) => Err(sdk(e)),
    }
}

/// Unwraps an SDK error into its service error so `?` keeps the chain (`DisplayErrorContext`).
pub fn sdk<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> InternalError
where
    E: std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    InternalError::new(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}
