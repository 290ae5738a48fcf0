//! Atlas failures folded into [`crate::Error`].
//!
//! Atlas answers errors with an `ApiError` JSON body (`error`, `errorCode`,
//! `detail`, `reason`, `parameters`) and repeats the code in `X-Error-Code`.
//! The OAuth endpoints answer in the OAuth shape (`error`,
//! `error_description`). Both end up as one [`Error`] whose
//! [`code()`](Error::code) is the vendor's code.
//!
//! Failures that arise inside the transport hook travel out of it through
//! [`crate::hooks`], which also owns the conversion from progenitor's error
//! type; this module only reads Atlas's own error bodies.

use crate::hooks::VendorErrors;
use crate::{Error, ErrorKind, Vendor};
use http::HeaderMap;
use serde::Deserialize;

/// Atlas' `ApiError`, leniently: every field optional, unknown ones ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiError {
    pub error: Option<serde_json::Value>,
    pub error_code: Option<String>,
    pub detail: Option<String>,
    pub reason: Option<String>,
    pub parameters: Option<Vec<serde_json::Value>>,
    /// OAuth endpoints: `error_description`.
    #[serde(rename = "error_description")]
    pub error_description: Option<String>,
}

/// The kind an Atlas HTTP status and code call for.
pub(crate) fn kind_for(status: u16, code: Option<&str>) -> ErrorKind {
    if matches!(code, Some("INVALID_VERSION_DATE" | "VERSION_GONE")) || matches!(status, 406 | 410)
    {
        return ErrorKind::Version;
    }
    if code.is_some_and(|c| c.starts_with("RATE_LIMITED")) {
        return ErrorKind::RateLimited;
    }
    ErrorKind::for_status(status)
}

/// Builds the error for a non-success response from its parts.
pub(crate) fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: ApiError = serde_json::from_slice(body).unwrap_or_default();
    let header_code = headers
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The OAuth shape puts a string code in `error`; Atlas puts the status there.
    let oauth_code = parsed
        .error
        .as_ref()
        .and_then(|e| e.as_str())
        .map(str::to_string);
    let code = parsed.error_code.clone().or(header_code).or(oauth_code);
    let kind = kind_for(status, code.as_deref());
    let mut message = parsed
        .detail
        .clone()
        .or_else(|| parsed.error_description.clone())
        .or_else(|| parsed.reason.clone())
        .unwrap_or_else(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("request failed")
                .to_string()
        });
    if kind == ErrorKind::Version {
        message = format!("{message} (the API resource version in `Accept` is unknown or past its sunset; pin another with `Client::with_version`)");
    }
    if let Some(params) = parsed.parameters.as_ref().filter(|p| !p.is_empty()) {
        let shown: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        message = format!("{message} [parameters: {}]", shown.join(", "));
    }
    let mut err = Error::new(kind, message)
        .with_vendor(Vendor::Atlas)
        .with_status(status);
    if let Some(c) = code {
        err = err.with_code(c);
    }
    if let Some(after) = crate::retry::retry_after_header(headers) {
        err = err.with_retry_after(after);
    }
    err
}

/// Atlas's side of [`crate::hooks::convert`].
pub(crate) struct AtlasErrors;

impl VendorErrors for AtlasErrors {
    const VENDOR: Vendor = Vendor::Atlas;

    fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        from_parts(status, headers, body)
    }

    fn from_unparsed_success(body: &[u8], e: serde_json::Error) -> Error {
        invalid_payload(body, e)
    }
}

/// The error for a failed Atlas response.
pub(crate) async fn from_response(response: reqwest::Response) -> Error {
    crate::hooks::response_error::<AtlasErrors>(response).await
}

fn invalid_payload(bytes: &[u8], e: serde_json::Error) -> Error {
    // A 200 that carries an error envelope is still an error.
    if let Ok(api) = serde_json::from_slice::<ApiError>(bytes) {
        if let (Some(code), Some(status)) =
            (&api.error_code, api.error.as_ref().and_then(|v| v.as_u64()))
        {
            let status = u16::try_from(status).unwrap_or(500);
            return Error::new(kind_for(status, Some(code)), api.detail.unwrap_or_default())
                .with_vendor(Vendor::Atlas)
                .with_status(status)
                .with_code(code.clone());
        }
    }
    Error::decode(format!("unexpected response body: {e}"))
        .with_vendor(Vendor::Atlas)
        .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn api_error_maps_status_and_code() {
        let body = br#"{"error":404,"errorCode":"RESOURCE_NOT_FOUND","detail":"Cannot find resource","reason":"Not Found","parameters":["x"]}"#;
        let e = from_parts(404, &HeaderMap::new(), body);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.code(), Some("RESOURCE_NOT_FOUND"));
        assert_eq!(e.status(), Some(404));
        assert!(e.to_string().contains("Cannot find resource"), "{e}");

        let e = from_parts(
            429,
            &headers(&[("retry-after", "3")]),
            br#"{"error":429,"errorCode":"RATE_LIMITED"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(3)));
        assert!(e.is_retryable());

        for (status, code) in [(406, "INVALID_VERSION_DATE"), (410, "VERSION_GONE")] {
            let e = from_parts(
                status,
                &HeaderMap::new(),
                format!(r#"{{"error":{status},"errorCode":"{code}"}}"#).as_bytes(),
            );
            assert_eq!((e.kind(), e.code()), (ErrorKind::Version, Some(code)));
        }
        for status in [401, 403] {
            assert_eq!(
                from_parts(status, &HeaderMap::new(), b"").kind(),
                ErrorKind::Auth
            );
        }
        assert_eq!(
            from_parts(500, &HeaderMap::new(), b"<html>").kind(),
            ErrorKind::Api
        );
    }

    #[test]
    fn header_code_and_oauth_shape() {
        let e = from_parts(
            400,
            &headers(&[("x-error-code", "INVALID_QUERY_PARAMETER")]),
            b"",
        );
        assert_eq!(e.code(), Some("INVALID_QUERY_PARAMETER"));
        let e = from_parts(
            401,
            &HeaderMap::new(),
            br#"{"error":"invalid_client","error_description":"bad secret"}"#,
        );
        assert_eq!(
            (e.kind(), e.code()),
            (ErrorKind::Auth, Some("invalid_client"))
        );
        assert!(e.to_string().contains("bad secret"));
    }

    crate::http::proptests::error_bodies_never_panic!(AtlasErrors);
}
