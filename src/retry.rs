//! When and how long to wait before trying a request again.
//!
//! The policy is shared by every vendor; what counts as *retryable* is not
//! (Tencent signals throttling in a 200 body, Atlas and C1 with 429), so each
//! vendor's pipeline classifies an attempt and hands the verdict to [`run`].
//! All waiting goes through `tokio::time`, so tests can measure it on a
//! paused clock.

use std::future::Future;
use std::time::{Duration, SystemTime};

/// Bounds on retrying: how often, and how long to wait in between.
///
/// ```
/// use logexport::RetryPolicy;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(6)
///     .with_initial_backoff(Duration::from_millis(200))
///     .with_max_backoff(Duration::from_secs(5));
/// assert_eq!(policy.max_attempts(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    /// Four attempts, backoff doubling from 1 s (the vendors' own SDKs use
    /// 2^n seconds) up to 20 s, with jitter; a server's `Retry-After` is
    /// honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn disabled() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Total attempts including the first (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait before the first retry; it doubles for each one after.
    pub fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The longest computed backoff.
    pub fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest server-requested wait (`Retry-After`) we accept; longer
    /// requests are capped rather than obeyed blindly.
    pub fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Turns jitter off, for deterministic waits.
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Total attempts including the first.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before retry number `retry` (1-based). With jitter, a value in
    /// `[b/2, b]` where `b` is the capped exponential backoff, so a crowd of
    /// clients throttled together does not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        if !self.jitter || base.is_zero() {
            return base;
        }
        let half = base / 2;
        half + half.mul_f64(crate::random::unit())
    }

    /// The wait before retry number `retry`, preferring the server's
    /// `Retry-After` when it gave one.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.backoff(retry),
        }
    }
}

/// What a vendor pipeline concluded about one attempt.
#[derive(Debug)]
pub enum Verdict<T> {
    /// Hand this result to the caller.
    Done(T),
    /// Retrying may help; `last` is returned if attempts run out.
    Retry {
        /// The result of this attempt.
        last: T,
        /// The server's requested wait, if any.
        after: Option<Duration>,
    },
}

/// Runs `attempt` (called with the 1-based attempt number) until it is done or
/// the policy's attempts are spent, sleeping between attempts. Returns the
/// final attempt's value either way: exhausting retries is not itself an
/// error, the last response is.
pub async fn run<T, F, Fut>(policy: &RetryPolicy, what: &str, mut attempt: F) -> T
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Verdict<T>>,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Verdict::Done(v) => return v,
            Verdict::Retry { last, after } => {
                if n >= policy.max_attempts {
                    tracing::warn!(operation = what, attempts = n, "giving up after retries");
                    return last;
                }
                let wait = policy.delay(n, after);
                tracing::info!(
                    operation = what,
                    attempt = n,
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // All three forms RFC 9110 requires a recipient to accept.
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `Retry-After` from response headers, if present and well-formed.
pub fn retry_after_header(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// Whether a transport failure may be retried. A connect failure never
/// reached the server, so it is always safe; anything later is safe only for
/// idempotent operations, because the server may have acted on the request.
/// A body cut short while being read reaches us as a reqwest "decode"
/// error (this crate asks reqwest for no content decoding), so it counts too.
pub fn network_error_is_safe_to_retry(err: &reqwest::Error, idempotent: bool) -> bool {
    if err.is_connect() {
        return true;
    }
    idempotent && (err.is_timeout() || err.is_request() || err.is_body() || err.is_decode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default()
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(5))
            .without_jitter();
        let waits: Vec<_> = (1..=5).map(|r| p.backoff(r).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let p = RetryPolicy::default().with_initial_backoff(Duration::from_millis(800));
        for _ in 0..200 {
            let d = p.backoff(2);
            assert!(
                d >= Duration::from_millis(800) && d <= Duration::from_millis(1600),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_capped() {
        let p = RetryPolicy::default().with_max_retry_after(Duration::from_secs(10));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(300))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06T08:49:37Z
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        // RFC 9110 §5.6.7: the obsolete RFC 850 and asctime forms too.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:47 1994", now),
            Some(Duration::from_secs(10))
        );
    }
}
