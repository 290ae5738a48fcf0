//! How a run fails: the exit code it deserves, the message for people, and
//! the library error behind it for `--json`.

use crate::signals::Signal;
use logexport::{Error, ErrorKind};
use serde_json::json;
use std::path::Path;

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// 1 vendor/network/local I/O, 2 usage/credentials, 130/143 signals.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
    /// The library error, carrying kind, vendor, operation, status, code and
    /// request id for `--json`.
    pub error: Option<Error>,
}

impl Failure {
    /// A usage error (exit 2): bad input, caught before any request.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::of_kind(2, ErrorKind::InvalidInput, message.into())
    }

    /// A local failure (exit 1) that has no library error of its own.
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::of_kind(1, ErrorKind::Io, message.into())
    }

    fn of_kind(code: u8, kind: ErrorKind, message: String) -> Self {
        Failure {
            code,
            error: Some(Error::new(kind, message.clone())),
            message,
        }
    }

    /// The same failure, its message led by `context` (which source, which
    /// step).
    pub fn within(self, context: impl std::fmt::Display) -> Self {
        Failure {
            message: format!("{context}{}", self.message),
            ..self
        }
    }

    /// A file system error about `path`, which the message names.
    pub fn path(path: &Path, what: &str, e: std::io::Error) -> Self {
        Failure::runtime(format!("{what} {}: {e}", path.display()))
    }

    /// The run was stopped by a signal (exit 130 or 143).
    pub fn interrupted(signal: Signal) -> Self {
        Failure {
            code: signal.exit_code(),
            message: format!(
                "interrupted by {}; nothing half-written was kept",
                signal.name()
            ),
            error: None,
        }
    }

    /// The one JSON line `--json` prints for this failure.
    pub fn to_json(&self) -> serde_json::Value {
        let e = self.error.as_ref();
        json!({
            "error": {
                "message": self.message,
                "exit_code": self.code,
                "kind": e.map(|e| format!("{:?}", e.kind())).or_else(|| (self.code >= 128).then(|| "Interrupted".to_string())),
                "vendor": e.and_then(|e| e.vendor()).map(|v| format!("{v:?}")),
                "operation": e.and_then(|e| e.operation()),
                "code": e.and_then(|e| e.code()),
                "status": e.and_then(|e| e.status()),
                "request_id": e.and_then(|e| e.request_id()),
                "retry_after_ms": e.and_then(|e| e.retry_after()).map(|d| d.as_millis() as u64),
            }
        })
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Credentials => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
            error: Some(e),
        }
    }
}

/// Names `path` in a library error about the local file system, which
/// otherwise says only what the operating system said ("Not a directory").
pub fn at_path(e: Error, path: &Path) -> Error {
    if e.kind() != ErrorKind::Io {
        return e;
    }
    let message = format!("{}: {}", path.display(), e.message());
    Error::new(ErrorKind::Io, message).with_source(e)
}
