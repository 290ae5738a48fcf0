//! Atlas's error answer: the status with a body
//! `{"detail", "error", "errorCode", "parameters", "reason"}` and the code
//! again in `X-Error-Code`, for refused requests and injected faults alike.

use crate::{answer, Fault};
use axum::response::Response;
use http::{HeaderValue, StatusCode};

/// A download's answer, or the error answer that replaces it.
pub(super) type Reply = Result<Response, Box<Response>>;

/// The answer to an injected `Fault::Error`, if `fault` is one.
pub(super) fn injected_error(fault: Option<&Fault>, operation: &str) -> Option<Response> {
    match fault {
        Some(Fault::Error {
            status,
            code,
            retry_after,
        }) => Some(api_error(
            *status,
            code,
            format!("injected fault for {operation}"),
            *retry_after,
        )),
        _ => None,
    }
}

/// Atlas's 404 for a path it does not serve.
pub(super) fn not_found(path: &str) -> Response {
    api_error(
        404,
        "RESOURCE_NOT_FOUND",
        format!("Cannot find resource {path}"),
        None,
    )
}

/// An Atlas error answer.
pub(super) fn api_error(
    status: u16,
    code: &str,
    detail: impl Into<String>,
    retry_after: Option<u64>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "detail": detail.into(),
        "error": status.as_u16(),
        "errorCode": code,
        "parameters": [],
        "reason": status.canonical_reason().unwrap_or("Error"),
    });
    let mut r = answer::json_error(status.as_u16(), &body, retry_after);
    if let Ok(v) = HeaderValue::from_str(code) {
        r.headers_mut().insert("x-error-code", v);
    }
    r
}

/// 400 `INVALID_QUERY_PARAMETER`.
pub(super) fn bad_query(detail: impl Into<String>) -> Box<Response> {
    Box::new(api_error(400, "INVALID_QUERY_PARAMETER", detail, None))
}
