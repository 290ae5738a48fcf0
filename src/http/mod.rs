//! The transport rules every vendor pipeline shares, written once.
//!
//! - [`redirect`]: API and token calls follow no redirect; a 3xx is an
//!   error naming the target origin. Download URLs get a client of their own
//!   that follows HTTPS redirects and carries no vendor credential.
//! - [`body`]: every body is read through one capped reader (success JSON,
//!   error bodies), and downloads through a minimum-throughput guard.
//! - [`deadline`]: a total deadline per JSON call and per operation
//!   (retries included).
//! - [`redact`]: vendor text is scrubbed of every credential the client
//!   holds before it reaches an error, a log line or the terminal.

pub(crate) mod body;
pub(crate) mod deadline;
pub(crate) mod redact;
pub(crate) mod redirect;

use std::time::Duration;

pub use body::Throughput;

/// The default total deadline of one JSON call (one attempt).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The bounds every client applies to its waits. Built from the
/// `timeout`, `operation_timeout` and `min_throughput` setters that every
/// vendor's builder has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Total deadline of one JSON call, body included.
    pub timeout: Duration,
    /// Deadline of one operation including all its retries and waits.
    pub operation_timeout: Option<Duration>,
    /// The slowest acceptable download.
    pub throughput: Throughput,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            operation_timeout: Some(deadline::DEFAULT_OPERATION_TIMEOUT),
            throughput: Throughput::default(),
        }
    }
}
