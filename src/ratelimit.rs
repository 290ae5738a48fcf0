//! Client-side request rate limiting.
//!
//! Vendors enforce limits such as "20 requests per second" over any one-second
//! window. A token bucket allows bursts that can exceed that in a sliding
//! window, so this limiter keeps the send times of the last `limit` requests
//! and waits until the oldest has left the window: no window of `per` ever
//! holds more than `limit` requests from one limiter.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A sliding-window limiter. Clones share the same window.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use logexport::RateLimiter;
/// use std::time::Duration;
///
/// let limiter = RateLimiter::new(20, Duration::from_secs(1));
/// limiter.acquire().await; // returns at once: the window is empty
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limit: usize,
    per: Duration,
    sent: Arc<Mutex<VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `limit` acquisitions in any window of length `per`.
    pub fn new(limit: u32, per: Duration) -> Self {
        let limit = limit.max(1) as usize;
        RateLimiter {
            limit,
            per,
            sent: Arc::new(Mutex::new(VecDeque::with_capacity(limit))),
        }
    }

    /// The configured limit per window.
    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    /// Waits until a request may be sent, and records it as sent.
    pub async fn acquire(&self) {
        // Holding the lock across the sleep serialises waiters in arrival
        // order, which is the fairness we want.
        let mut sent = self.sent.lock().await;
        if sent.len() == self.limit {
            let oldest = sent.pop_front().expect("full window is non-empty");
            // The margin covers the server measuring arrival, not send, time.
            let free_at = oldest + self.per + Duration::from_millis(5);
            tokio::time::sleep_until(free_at).await;
        }
        sent.push_back(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_window_exceeds_the_limit() {
        let limiter = RateLimiter::new(20, Duration::from_secs(1));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..65 {
            limiter.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u < *t + Duration::from_secs(1))
                .count();
            assert!(in_window <= 20, "window at {t:?} holds {in_window}");
        }
        // 65 requests at 20/s need three full windows of waiting, not more.
        assert!(
            start.elapsed() < Duration::from_millis(3100),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_the_window() {
        let a = RateLimiter::new(2, Duration::from_secs(1));
        let b = a.clone();
        let start = Instant::now();
        a.acquire().await;
        b.acquire().await;
        a.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(1));
    }
}
