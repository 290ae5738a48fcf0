//! ConductorOne's error answer: an HTTP status and a body
//! `{"code", "message", "details": []}` carrying a gRPC status code, as the
//! C1 gateway sends it, for refused requests and injected faults alike.

use crate::{answer, Fault};
use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

/// A C1-style error.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: Value,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `INVALID_ARGUMENT`.
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, 3, message)
    }

    /// 404 `NOT_FOUND`.
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 5, message)
    }

    /// 401 `UNAUTHENTICATED`.
    pub(super) fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, 16, message)
    }

    /// The answer to an injected [`Fault::Error`]: its status, its code (a
    /// number when it is one, so tests can inject gRPC codes) and its
    /// `Retry-After`. Other faults are not errors: 500.
    pub(super) fn injected(fault: &Fault) -> Self {
        let Fault::Error {
            status,
            code,
            retry_after,
        } = fault
        else {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 13, "injected fault");
        };
        ApiError {
            status: StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(code.clone())),
            message: format!("injected fault: {code}"),
            retry_after: *retry_after,
        }
    }

    /// The answer, before the request id is added.
    pub(super) fn into_response(self) -> Response {
        answer::json_error(
            self.status.as_u16(),
            &json!({"code": self.code, "message": self.message, "details": []}),
            self.retry_after,
        )
    }
}
