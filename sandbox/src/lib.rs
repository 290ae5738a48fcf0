//! In-process emulators of ConductorOne, Tencent Cloud CLS and MongoDB
//! Atlas, for tests and offline use.
//!
//! Each emulator is an axum app on `127.0.0.1` with an ephemeral port. They
//! check credentials the way the vendors do (TC3 signatures, HTTP Digest,
//! JWT assertions), with verifiers written from the vendors' documentation
//! and the RFCs, and version tables read from the committed spec. This
//! crate shares no code with the `logexport` client: a wrong assumption in
//! the client cannot agree with itself here.
//!
//! Each emulator is a folder with the same anatomy: `mod.rs` (docs, the
//! builder and the running handle), `state.rs` (the in-memory model),
//! `routes.rs` (routing, request parsing, answer shaping), `data.rs` (the
//! deterministic demo data), plus its own verifier (`tc3`, `digest`, `jwt`).
//! What every emulator shares lives once at the crate root: the server
//! lifecycle and request log ([`Server`], [`RequestLog`]), fault injection
//! ([`Faults`]), the answer helpers every vendor's responses are built
//! with, a clock tests can move ([`Clock`]) and a rate limiter
//! ([`WindowLimit`]).

/// The two options every emulator's builder has, with the same meaning:
/// `port` and `clock` (fields of the builder by those names).
macro_rules! listen_options {
    () => {
        /// The port on `127.0.0.1` (0, the default, picks a free one).
        pub fn port(mut self, port: u16) -> Self {
            self.port = port;
            self
        }

        /// Shares a clock with the test: every expiry, lifecycle and "now"
        /// the emulator knows follows it (also reachable from the running
        /// sandbox as `clock()`).
        pub fn clock(mut self, clock: $crate::Clock) -> Self {
            self.clock = clock;
            self
        }
    };
}

mod answer;
mod faults;
mod server;

pub use faults::{Fault, FaultTarget, Faults};
pub use server::{LoggedRequest, RequestLog, Server};

pub mod atlas;
pub mod conductorone;
pub mod tencent_cls;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// `N` bytes from the OS for tokens, nonces and keys. A test server whose OS
/// cannot supply them cannot run at all, hence the panic.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the OS random source failed");
    out
}

/// Locks `m` even if a handler panicked while holding it: one failed
/// request must not wedge every later one.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The emulators' notion of "now": the system clock plus an offset tests can
/// move, so expiry (tokens, nonces, download links, export lifecycles) and
/// clock skew can be exercised without waiting.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// A clock that follows the system clock until moved.
    pub fn new() -> Self {
        Clock::default()
    }

    /// The current emulated time.
    pub fn now(&self) -> SystemTime {
        let off = self.offset_ms.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if off >= 0 {
            now + Duration::from_millis(off as u64)
        } else {
            now - Duration::from_millis(off.unsigned_abs())
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> i64 {
        self.unix_millis() / 1000
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Sets the offset from the system clock (negative = behind).
    pub fn set_offset(&self, offset: chrono::Duration) {
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }
}

/// Counts requests over a sliding window to enforce a vendor rate limit
/// server-side (non-blocking: it answers yes or no).
#[derive(Debug, Clone)]
pub struct WindowLimit {
    limit: usize,
    per: Duration,
    seen: Arc<Mutex<VecDeque<std::time::Instant>>>,
}

impl WindowLimit {
    /// At most `limit` admissions per `per`.
    pub fn new(limit: usize, per: Duration) -> Self {
        WindowLimit {
            limit,
            per,
            seen: Arc::default(),
        }
    }

    /// Admits one request if the window has room.
    pub fn admit(&self) -> bool {
        let now = std::time::Instant::now();
        let mut seen = lock(&self.seen);
        while seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.per)
        {
            seen.pop_front();
        }
        if seen.len() >= self.limit {
            return false;
        }
        seen.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_moves_both_ways() {
        let c = Clock::new();
        let before = c.unix_secs();
        c.advance(Duration::from_secs(3600));
        assert!(c.unix_secs() >= before + 3600);
        c.set_offset(chrono::Duration::seconds(-600));
        assert!(c.unix_secs() <= before - 599);
    }

    #[test]
    fn window_limit_refuses_past_the_limit() {
        let w = WindowLimit::new(3, Duration::from_secs(60));
        assert!((0..3).all(|_| w.admit()));
        assert!(!w.admit());
    }
}
