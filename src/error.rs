//! The one error type every logexport call returns.
//!
//! Vendors fail in very different shapes (Tencent answers HTTP 200 with an
//! error envelope, Atlas sends `errorCode` in JSON and a header, C1 declares no
//! error body at all). They are all folded into [`Error`], which exposes the
//! same four facts a caller needs to decide what to do: the HTTP status, the
//! vendor's error code, the request id to quote to support, and whether trying
//! again could help.

use std::fmt;
use std::time::Duration;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which service an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// ConductorOne.
    ConductorOne,
    /// Tencent Cloud Log Service.
    TencentCls,
    /// MongoDB Atlas.
    Atlas,
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::ConductorOne => "ConductorOne",
            Vendor::TencentCls => "Tencent CLS",
            Vendor::Atlas => "Atlas",
        })
    }
}

/// What went wrong, coarsely. Match on this to decide how to react.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input was rejected before any request was sent.
    InvalidInput,
    /// Credentials are missing or malformed (detected locally).
    Credentials,
    /// The service rejected the credentials or the signature.
    Auth,
    /// The service throttled the call and retries were exhausted.
    RateLimited,
    /// The requested API version is unknown, or past its sunset (Atlas).
    Version,
    /// The resource does not exist.
    NotFound,
    /// Any other error the service reported.
    Api,
    /// The request could not be sent or the response not received.
    Network,
    /// The response was not what the API promises (bad JSON, truncated gzip, ...).
    Decode,
    /// A local file operation failed.
    Io,
    /// A server-side export task ended in `Failed` or `Expired`.
    ExportFailed,
}

impl ErrorKind {
    /// The kind an HTTP status calls for when the vendor says nothing more
    /// specific: the one mapping every vendor starts from.
    #[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
    pub(crate) fn for_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Auth,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::RateLimited,
            _ => ErrorKind::Api,
        }
    }
}

/// The error returned by every fallible logexport operation.
///
/// ```
/// use logexport::{Error, ErrorKind};
///
/// let err = Error::invalid_input("count", "must be between 1 and 50000000");
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// assert!(!err.is_retryable());
/// assert!(err.to_string().contains("count"));
/// ```
#[non_exhaustive]
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    vendor: Option<Vendor>,
    operation: Option<std::borrow::Cow<'static, str>>,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    retryable: Option<bool>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind`. The message must never contain secrets.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                vendor: None,
                operation: None,
                message: message.into(),
                status: None,
                code: None,
                request_id: None,
                retry_after: None,
                retryable: None,
                source: None,
            }),
        }
    }

    /// Input rejected before sending; `field` names the offending parameter.
    pub fn invalid_input(field: &str, reason: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::InvalidInput,
            format!("invalid `{field}`: {reason}"),
        )
    }

    /// Missing or malformed credentials. Never pass the secret itself.
    pub fn credentials(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Credentials, reason)
    }

    /// A response body that does not match the API contract.
    pub fn decode(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode, reason)
    }

    /// Attributes the error to a vendor.
    pub fn with_vendor(mut self, vendor: Vendor) -> Self {
        self.inner.vendor = Some(vendor);
        self
    }

    /// Names the operation that failed (e.g. `download_cluster_log`). The
    /// first name recorded wins: the innermost call knows best.
    pub fn with_operation(mut self, operation: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        if self.inner.operation.is_none() {
            self.inner.operation = Some(operation.into());
        }
        self
    }

    /// Records the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Records the vendor's error code (e.g. `AuthFailure.SignatureFailure`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.inner.code = Some(code.into());
        self
    }

    /// Records the vendor's request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.inner.request_id = Some(request_id.into());
        self
    }

    /// Records how long the server asked us to wait.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.inner.retry_after = Some(after);
        self
    }

    /// Overrides the default retryability derived from kind and status.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.inner.retryable = Some(retryable);
        self
    }

    /// Attaches an underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// The coarse category.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The vendor that reported the error, when one did.
    pub fn vendor(&self) -> Option<Vendor> {
        self.inner.vendor
    }

    /// The operation that failed, when known.
    pub fn operation(&self) -> Option<&str> {
        self.inner.operation.as_deref()
    }

    /// The HTTP status of the failing response. Tencent reports errors with
    /// HTTP 200, so `Some(200)` is possible there.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The vendor's machine-readable error code.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The vendor's request id, to quote in a support ticket.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// How long the server asked the client to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether the same call could succeed if repeated later.
    ///
    /// Network failures, throttling and server-side (5xx) errors are
    /// retryable; input, credential, auth and not-found errors are not.
    /// This says nothing about whether repeating is *safe*: a create that
    /// failed with a reset connection may already have been applied.
    pub fn is_retryable(&self) -> bool {
        if let Some(r) = self.inner.retryable {
            return r;
        }
        match self.inner.kind {
            ErrorKind::Network | ErrorKind::RateLimited => true,
            ErrorKind::Api => matches!(self.inner.status, Some(429 | 500 | 502 | 503 | 504)),
            _ => false,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind);
        if let Some(v) = i.vendor {
            d.field("vendor", &v);
        }
        if let Some(o) = &i.operation {
            d.field("operation", o);
        }
        d.field("message", &i.message);
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        if let Some(c) = &i.code {
            d.field("code", c);
        }
        if let Some(r) = &i.request_id {
            d.field("request_id", r);
        }
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        match (i.vendor, &i.operation) {
            (Some(v), Some(o)) => write!(f, "{v} {o}: ")?,
            (Some(v), None) => write!(f, "{v}: ")?,
            (None, Some(o)) => write!(f, "{o}: ")?,
            (None, None) => {}
        }
        f.write_str(&i.message)?;
        let extras: Vec<String> = [
            i.code.as_ref().map(|c| format!("code {c}")),
            i.status.map(|s| format!("HTTP {s}")),
            i.request_id.as_ref().map(|r| format!("request id {r}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !extras.is_empty() {
            write!(f, " ({})", extras.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    /// The cause, unless the message already carries its text (as the
    /// `io::Error` and `reqwest::Error` conversions do): anyhow and eyre
    /// print `Display` and then every `source()`, and would say it twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.inner.source.as_deref()?;
        let text = source.to_string();
        if !text.is_empty() && self.inner.message.contains(&text) {
            return None;
        }
        Some(source as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        // Errors from a body stream travel through readers wrapped in an
        // io::Error; unwrap them so their kind and status survive.
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let inner = e.into_inner().expect("checked above");
            return *inner.downcast::<Error>().expect("checked above");
        }
        // Decoders report corrupt or truncated input as io errors; keep that
        // distinction so callers do not mistake a bad gzip for a full disk.
        let kind = match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ErrorKind::Decode
            }
            _ => ErrorKind::Io,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

/// `e` and its causes, joined with ": " ("error sending request: client
/// error (Connect): tcp connect error: Connection refused"). A cause whose
/// text its parent already repeats is skipped.
pub(crate) fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    for cause in causes(e) {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

/// The causes of `e`, nearest first.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |c| c.source())
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        // Where the request went, as an origin only: URLs can carry
        // pre-signed query strings (CLS CosPath); never echo them.
        let to = e.url().map(|u| match u.port_or_known_default() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or("?")),
            None => u.host_str().unwrap_or("?").to_string(),
        });
        let e = e.without_url();
        let timed_out = e.is_timeout();
        // reqwest calls any failure while reading a body "decode", but this
        // crate asks it for no content decoding: unless JSON parsing failed,
        // the connection did.
        let kind = if e.is_decode() && causes(&e).any(|c| c.is::<serde_json::Error>()) {
            ErrorKind::Decode
        } else {
            ErrorKind::Network
        };
        let mut message = cause_chain(&e);
        if timed_out {
            message = format!("timed out: {message}");
        }
        if let Some(to) = to {
            message = format!("{message} (to {to})");
        }
        let mut err = Error::new(kind, message);
        if let Some(s) = e.status() {
            err = err.with_status(s.as_u16());
        }
        err.with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_kind_and_status() {
        assert!(Error::new(ErrorKind::Network, "reset").is_retryable());
        assert!(Error::new(ErrorKind::Api, "x")
            .with_status(503)
            .is_retryable());
        assert!(!Error::new(ErrorKind::Api, "x")
            .with_status(400)
            .is_retryable());
        assert!(!Error::new(ErrorKind::Auth, "x")
            .with_status(401)
            .is_retryable());
        assert!(Error::new(ErrorKind::Api, "x")
            .with_status(200)
            .with_retryable(true)
            .is_retryable());
    }

    #[test]
    fn display_carries_code_status_and_request_id() {
        let e = Error::new(ErrorKind::Auth, "signature mismatch")
            .with_vendor(Vendor::TencentCls)
            .with_status(200)
            .with_code("AuthFailure.SignatureFailure")
            .with_request_id("req-1");
        assert_eq!(
            e.to_string(),
            "Tencent CLS: signature mismatch (code AuthFailure.SignatureFailure, HTTP 200, request id req-1)"
        );
        assert_eq!(e.code(), Some("AuthFailure.SignatureFailure"));
        let e = e.with_operation("create_export").with_operation("outer");
        assert_eq!(e.operation(), Some("create_export"), "the first name wins");
        assert!(e
            .to_string()
            .starts_with("Tencent CLS create_export: signature mismatch"));
        assert_eq!(e.request_id(), Some("req-1"));
    }

    #[test]
    fn truncated_input_is_a_decode_error() {
        let e: Error = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof").into();
        assert_eq!(e.kind(), ErrorKind::Decode);
    }
}
