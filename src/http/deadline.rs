//! Bounded waits: one JSON call, one whole operation.
//!
//! Everything goes through `tokio::time`, so tests can run the deadlines on
//! a paused clock, and a fake transport is bounded exactly like a socket.

use crate::{Error, ErrorKind};
use std::future::Future;
use std::time::Duration;

/// The default deadline of one operation, retries and backoff included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(300);

/// `d` the way people read it: "60 s", "1.5 s", "250 ms".
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Runs `fut` for at most `limit`. Past it, a retryable error: the next
/// attempt may be faster, and the operation deadline bounds the whole.
pub(crate) async fn call<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, Error> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| timed_out(limit, "", true))
}

/// Runs a whole operation for at most `limit` (no limit when `None`).
pub(crate) async fn operation<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = T>,
) -> Result<T, Error> {
    let Some(limit) = limit else {
        return Ok(fut.await);
    };
    let deadline = " (the operation deadline, retries included)";
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| timed_out(limit, deadline, false))
}

fn timed_out(limit: Duration, which: &str, retryable: bool) -> Error {
    let message = format!("timed out after {}{which}", human(limit));
    Error::new(ErrorKind::Network, message).with_retryable(retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(60)), "60 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
    }
}
