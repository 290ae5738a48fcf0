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

/// The error for one call (attempt) that ran out of time. Retryable: the
/// next attempt may be faster, and the operation deadline bounds the whole.
pub(crate) fn call_timed_out(limit: Duration) -> Error {
    Error::new(
        ErrorKind::Network,
        format!("timed out after {}", human(limit)),
    )
    .with_retryable(true)
}

/// The error for an operation whose retries ran past its deadline.
pub(crate) fn operation_timed_out(limit: Duration) -> Error {
    Error::new(
        ErrorKind::Network,
        format!(
            "timed out after {} (the operation deadline, retries included)",
            human(limit)
        ),
    )
    .with_retryable(false)
}

/// Runs `fut` for at most `limit`.
pub(crate) async fn call<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, Error> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| call_timed_out(limit))
}

/// Runs a whole operation for at most `limit` (no limit when `None`).
pub(crate) async fn operation<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = T>,
) -> Result<T, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| operation_timed_out(limit)),
        None => Ok(fut.await),
    }
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

    #[tokio::test(start_paused = true)]
    async fn a_silent_call_ends_at_its_deadline() {
        let start = tokio::time::Instant::now();
        let err = call(Duration::from_secs(60), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        assert_eq!(err.message(), "timed out after 60 s");
        assert!(err.is_retryable());
        let err = operation(Some(Duration::from_secs(5)), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert!(!err.is_retryable());
        assert_eq!(operation(None, async { 3 }).await.unwrap(), 3);
    }
}
