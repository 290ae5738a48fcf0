//! Client-side request rate limiting.
//!
//! Vendors enforce limits such as "20 requests per second" over any window
//! of arrivals at their servers. A limiter that only spaces out *send* times
//! cannot promise that: under concurrency, network delay bunches requests
//! up on arrival. So a request holds a slot from before it is sent until
//! `per` after its response arrived; any `per`-long window of arrivals then
//! holds at most `limit` requests from one limiter, however the network
//! behaves.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `limit` requests per `per`, counted as the server counts them.
/// Clones share the slots, so several clients can share one budget.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use logexport::RateLimiter;
/// use std::time::Duration;
///
/// let limiter = RateLimiter::new(20, Duration::from_secs(1));
/// let permit = limiter.acquire().await; // at once: no slot is taken yet
/// // ... send the request and read the response head ...
/// drop(permit); // the slot frees up one second from now
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RateLimiter {
    slots: Arc<Semaphore>,
    limit: u32,
    per: Duration,
}

/// A held slot. Keep it until the response has arrived; dropping it frees
/// the slot `per` later.
#[derive(Debug)]
#[must_use = "the slot is released when the permit is dropped"]
pub struct RatePermit {
    permit: Option<OwnedSemaphorePermit>,
    per: Duration,
}

impl RateLimiter {
    /// At most `limit` requests per `per`.
    pub fn new(limit: u32, per: Duration) -> Self {
        let limit = limit.max(1);
        RateLimiter {
            slots: Arc::new(Semaphore::new(limit as usize)),
            limit,
            per,
        }
    }

    /// The configured limit per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Waits for a free slot, in arrival order.
    pub async fn acquire(&self) -> RatePermit {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        RatePermit {
            permit: Some(permit),
            per: self.per,
        }
    }
}

impl Drop for RatePermit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        // Outside a runtime (a permit dropped during shutdown) there is no
        // later request to protect, so the slot is simply released.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let per = self.per;
            rt.spawn(async move {
                tokio::time::sleep(per).await;
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_window_starts_when_the_response_ends() {
        let limiter = RateLimiter::new(2, Duration::from_secs(1));
        let start = Instant::now();
        let a = limiter.acquire().await;
        let b = limiter.clone().acquire().await;
        // A slow response keeps its slot: the window starts when it ends.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(a);
        drop(b);
        let _c = limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1300));
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_exceeds_the_limit() {
        let limiter = RateLimiter::new(20, Duration::from_secs(1));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..65 {
            let permit = limiter.acquire().await;
            times.push(start.elapsed());
            drop(permit);
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
            start.elapsed() <= Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }
}
