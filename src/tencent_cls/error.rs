//! Turning CLS failures into [`crate::Error`].
//!
//! Tencent reports errors inside a normal-looking HTTP 200:
//! `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`. This module
//! parses that envelope and maps the codes onto [`ErrorKind`]s; converting
//! what the generated client returns, and carrying errors out of the
//! transport hook, is shared with the other vendors in [`crate::hooks`].

use crate::hooks::VendorErrors;
use crate::{Error, ErrorKind, Vendor};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(rename = "Response", default)]
    response: Option<EnvelopeBody>,
}

#[derive(Debug, Default, Deserialize)]
struct EnvelopeBody {
    #[serde(rename = "Error", default)]
    error: Option<EnvelopeError>,
    #[serde(rename = "RequestId", default)]
    request_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EnvelopeError {
    #[serde(rename = "Code", default)]
    code: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
}

/// The code, message and request id of an envelope that reports an error.
fn envelope_error(body: &[u8]) -> Option<(String, Option<String>, Option<String>)> {
    let resp = serde_json::from_slice::<Envelope>(body).ok()?.response?;
    let error = resp.error?;
    Some((error.code?, error.message, resp.request_id))
}

/// The error code and request id of an envelope body, if it reports an error.
pub(crate) fn envelope_error_code(body: &[u8]) -> Option<(String, Option<String>)> {
    envelope_error(body).map(|(code, _, request_id)| (code, request_id))
}

/// The kind a Tencent error code calls for.
pub fn kind_for_code(code: &str) -> ErrorKind {
    let family = code.split('.').next().unwrap_or(code);
    match family {
        "AuthFailure" | "UnauthorizedOperation" => ErrorKind::Auth,
        "RequestLimitExceeded" => ErrorKind::RateLimited,
        "ResourceNotFound" => ErrorKind::NotFound,
        "NoSuchVersion" => ErrorKind::Version,
        _ => ErrorKind::Api,
    }
}

/// Whether repeating a call that failed with `code` can help (it says
/// nothing about whether repeating is safe: see the pipeline).
pub(crate) fn code_is_transient(code: &str) -> bool {
    code.starts_with("RequestLimitExceeded") || code.starts_with("InternalError")
}

/// The error for an envelope that reports `code`.
pub(crate) fn api_error(code: &str, message: Option<&str>, request_id: Option<&str>) -> Error {
    let message = match message {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => format!("the service answered {code}"),
    };
    let mut err = Error::new(kind_for_code(code), message)
        .with_vendor(Vendor::TencentCls)
        .with_status(200)
        .with_code(code)
        .with_retryable(code_is_transient(code));
    if let Some(id) = request_id.filter(|s| !s.is_empty()) {
        err = err.with_request_id(id);
    }
    err
}

/// Checks the `Error` member every generated `…Response` carries.
pub(crate) fn check(
    error: Option<&super::generated::types::TencentError>,
    request_id: Option<&str>,
) -> crate::Result<()> {
    match error {
        Some(e) if e.code.as_deref().is_some_and(|c| !c.is_empty()) => Err(api_error(
            e.code.as_deref().unwrap_or_default(),
            e.message.as_deref(),
            request_id,
        )),
        _ => Ok(()),
    }
}

/// The error for a response that is not a success envelope.
pub(crate) fn from_parts(status: u16, body: &[u8]) -> Error {
    match envelope_error(body) {
        Some((code, message, request_id)) => {
            api_error(&code, message.as_deref(), request_id.as_deref()).with_status(status)
        }
        None => status_error(status, format!("unexpected HTTP {status} from the CLS API")),
    }
}

/// The error for an HTTP status without a CLS envelope (the API's, or the
/// export file download's).
pub(crate) fn status_error(status: u16, message: String) -> Error {
    Error::new(ErrorKind::for_status(status), message)
        .with_vendor(Vendor::TencentCls)
        .with_status(status)
}

/// CLS's side of [`crate::hooks::convert`].
pub(crate) struct ClsErrors;

impl VendorErrors for ClsErrors {
    const VENDOR: Vendor = Vendor::TencentCls;

    fn from_parts(status: u16, _: &http::HeaderMap, body: &[u8]) -> Error {
        from_parts(status, body)
    }

    fn from_unparsed_success(body: &[u8], e: serde_json::Error) -> Error {
        // An error envelope whose success members do not parse is still an
        // error envelope: report the service's code, not our decoder.
        if envelope_error_code(body).is_some() {
            return from_parts(200, body);
        }
        Error::decode(format!(
            "the CLS response does not match the API description: {e}"
        ))
        .with_vendor(Vendor::TencentCls)
        .with_status(200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        for (code, kind) in [
            ("AuthFailure.SignatureFailure", ErrorKind::Auth),
            ("AuthFailure.SignatureExpire", ErrorKind::Auth),
            ("RequestLimitExceeded", ErrorKind::RateLimited),
            (
                "RequestLimitExceeded.UinLimitExceeded",
                ErrorKind::RateLimited,
            ),
            ("ResourceNotFound.ExportNotExist", ErrorKind::NotFound),
            ("InvalidParameter", ErrorKind::Api),
            ("InternalError", ErrorKind::Api),
        ] {
            assert_eq!(kind_for_code(code), kind, "{code}");
        }
    }

    #[test]
    fn envelope_errors_carry_code_message_and_request_id() {
        let body = br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad sig"},"RequestId":"r-1"}}"#;
        assert_eq!(
            envelope_error_code(body),
            Some(("AuthFailure.SignatureFailure".into(), Some("r-1".into())))
        );
        let err = from_parts(200, body);
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"));
        assert_eq!(err.request_id(), Some("r-1"));
        assert_eq!(err.status(), Some(200));
        assert!(!err.is_retryable());
        assert!(envelope_error_code(br#"{"Response":{"RequestId":"r"}}"#).is_none());
    }

    #[test]
    fn transient_codes_are_retryable_despite_http_200() {
        assert!(api_error("RequestLimitExceeded", None, None).is_retryable());
        assert!(api_error("InternalError.ServerBusy", None, None).is_retryable());
        assert!(!api_error("InvalidParameter", None, None).is_retryable());
    }

    #[tokio::test]
    async fn local_errors_survive_the_round_trip() {
        let original = Error::credentials("no key").with_vendor(Vendor::TencentCls);
        let back = crate::hooks::convert::<ClsErrors>(
            progenitor_client::Error::UnexpectedResponse(crate::hooks::carry(original)),
        )
        .await;
        assert_eq!(back.kind(), ErrorKind::Credentials);
        assert_eq!(back.message(), "no key");
    }

    #[test]
    fn other_statuses() {
        let e = from_parts(502, b"<html>bad gateway</html>");
        assert_eq!((e.kind(), e.status()), (ErrorKind::Api, Some(502)));
        assert!(e.is_retryable());
    }

    crate::http::proptests::error_bodies_never_panic!(ClsErrors, envelope_error_code);
}
