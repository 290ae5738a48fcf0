//! Turning C1 error responses and generated-client failures into [`Error`].
//!
//! C1's spec declares no error body, and the gateways in front of the API
//! answer in more than one dialect (`{"code": 5, …}`, `{"code": "not_found",
//! …}`, OAuth's `{"error", "error_description"}`), so parsing is lenient: any
//! of them yields a status, a code and a message.

use crate::hooks::VendorErrors;
use crate::{Error, ErrorKind, Vendor};
use std::fmt;

/// An error body, whatever the dialect.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub details: Option<serde_json::Value>,
}

/// Parses `{code: int|string, message, details}` (and OAuth's `error`,
/// `error_description`). Anything else yields an empty body.
pub(crate) fn parse_error_body(bytes: &[u8]) -> ErrorBody {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(bytes)
    else {
        return ErrorBody::default();
    };
    let text = |key: &str| match map.get(key) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let code = text("code").or_else(|| text("error"));
    let message = text("message")
        .or_else(|| text("error_description"))
        .or_else(|| text("msg"));
    let details = map
        .get("details")
        .filter(|d| !d.is_null() && d.as_array().is_none_or(|a| !a.is_empty()))
        .cloned();
    ErrorBody {
        code,
        message,
        details,
    }
}

/// `details` from an error body, kept as the error's source so `{:?}` and
/// error reporters show it without cluttering the one-line message.
#[derive(Debug)]
pub(crate) struct ErrorDetails(pub serde_json::Value);

impl fmt::Display for ErrorDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.to_string();
        if s.len() > 2000 {
            let mut cut = 2000;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push('…');
        }
        write!(f, "error details: {s}")
    }
}

impl std::error::Error for ErrorDetails {}

/// An [`Error`] of `kind` for a non-success response. `context` prefixes
/// the message when the server sent none worth showing alone (e.g. "token
/// exchange").
pub(crate) fn error_of_kind(
    kind: ErrorKind,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    context: Option<&str>,
) -> Error {
    let parsed = parse_error_body(body);
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    let message = parsed
        .message
        .clone()
        .unwrap_or_else(|| format!("HTTP {status} {reason}"));
    let message = match context {
        Some(c) => format!("{c}: {message}"),
        None => message,
    };
    let mut err = Error::new(kind, message)
        .with_vendor(Vendor::ConductorOne)
        .with_status(status);
    if let Some(code) = parsed.code {
        err = err.with_code(code);
    }
    if let Some(after) = crate::retry::retry_after_header(headers) {
        err = err.with_retry_after(after);
    }
    if let Some(id) = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
    {
        err = err.with_request_id(id);
    }
    if let Some(details) = parsed.details {
        err = err.with_source(ErrorDetails(details));
    }
    err
}

/// C1's side of [`crate::hooks::convert`].
pub(crate) struct C1Errors;

impl VendorErrors for C1Errors {
    const VENDOR: Vendor = Vendor::ConductorOne;

    fn from_parts(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Error {
        error_of_kind(ErrorKind::for_status(status), status, headers, body, None)
    }

    fn from_unparsed_success(body: &[u8], e: serde_json::Error) -> Error {
        // A 200 whose body is an error envelope is still an error.
        let parsed = parse_error_body(body);
        if parsed.code.is_some() && parsed.message.is_some() {
            return error_of_kind(ErrorKind::Api, 200, &http::HeaderMap::new(), body, None);
        }
        Error::decode(format!("response does not match the API: {e}"))
            .with_vendor(Vendor::ConductorOne)
            .with_source(e)
    }
}

/// Converts what a generated call returned (see [`crate::hooks::convert`]).
pub(crate) async fn convert(e: progenitor_client::Error<()>) -> Error {
    crate::hooks::convert::<C1Errors>(e).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_error_bodies() {
        let b = parse_error_body(br#"{"code": 5, "message": "exporter not found", "details": []}"#);
        assert_eq!(
            (b.code.as_deref(), b.message.as_deref(), b.details),
            (Some("5"), Some("exporter not found"), None)
        );
        let b = parse_error_body(
            br#"{"code": "not_found", "message": "gone", "details": [{"@type": "x"}]}"#,
        );
        assert_eq!(b.code.as_deref(), Some("not_found"));
        assert!(b.details.is_some());
        let b = parse_error_body(
            br#"{"error": "invalid_client", "error_description": "bad assertion"}"#,
        );
        assert_eq!(
            (b.code.as_deref(), b.message.as_deref()),
            (Some("invalid_client"), Some("bad assertion"))
        );
        assert_eq!(parse_error_body(b"<html>502</html>"), ErrorBody::default());
        assert_eq!(parse_error_body(b"[1,2]"), ErrorBody::default());
    }

    #[test]
    fn statuses_map_to_kinds() {
        let h = http::HeaderMap::new();
        let cases = [
            (401, ErrorKind::Auth),
            (403, ErrorKind::Auth),
            (404, ErrorKind::NotFound),
            (429, ErrorKind::RateLimited),
            (400, ErrorKind::Api),
            (503, ErrorKind::Api),
        ];
        for (status, kind) in cases {
            let e = C1Errors::from_parts(status, &h, br#"{"code":7,"message":"m"}"#);
            assert_eq!(
                (e.kind(), e.status(), e.code(), e.message()),
                (kind, Some(status), Some("7"), "m")
            );
        }
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        h.insert("x-request-id", "req-9".parse().unwrap());
        let e = error_of_kind(ErrorKind::Api, 503, &h, b"", Some("token exchange"));
        assert_eq!(e.message(), "token exchange: HTTP 503 Service Unavailable");
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(3)));
        assert_eq!(e.request_id(), Some("req-9"));
        assert!(e.is_retryable());
    }

    crate::http::proptests::error_bodies_never_panic!(C1Errors, parse_error_body);
}
