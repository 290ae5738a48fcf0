//! In-process emulators of ConductorOne, Tencent Cloud CLS and MongoDB
//! Atlas, for tests and offline use.
//!
//! Each emulator is an axum app on `127.0.0.1` with an ephemeral port. They
//! check credentials the way the vendors do (TC3 signatures, HTTP Digest,
//! JWT assertions), with verifiers written from the vendors' documentation
//! and the RFCs, and version tables read from the committed spec. This
//! crate shares no code with the `logexport` client: a wrong assumption in
//! the client cannot agree with itself here. The pieces
//! every emulator shares live in this module: the server lifecycle, a log of
//! requests for counting round trips, fault injection ([`Faults`]) and a
//! clock tests can move ([`Clock`]).

mod faults;

pub use faults::{Fault, FaultTarget, Faults};

pub mod atlas;
pub mod conductorone;
pub mod tencent_cls;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A running loopback server. Dropping it shuts the server down.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// Serves `app` on `127.0.0.1:port` (0 picks a free port). Every request
    /// is recorded in `log`.
    pub async fn start(app: axum::Router, port: u16, log: RequestLog) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = app.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let log = log.clone();
                async move {
                    let method = req.method().to_string();
                    let path = req.uri().path().to_string();
                    let response = next.run(req).await;
                    log.record(method, path, response.status().as_u16());
                    response
                }
            },
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Server {
            addr,
            shutdown: Some(tx),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The status the emulator answered with.
    pub status: u16,
}

/// Every request an emulator served, in order. Clones share the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<LoggedRequest>>>);

impl RequestLog {
    fn record(&self, method: String, path: String, status: u16) {
        self.0.lock().expect("log lock").push(LoggedRequest {
            method,
            path,
            status,
        });
    }

    /// A copy of the log so far.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.0.lock().expect("log lock").clone()
    }

    /// How many requests went to `path`.
    pub fn count_path(&self, path: &str) -> usize {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// How many requests were served in total.
    pub fn len(&self) -> usize {
        self.0.lock().expect("log lock").len()
    }

    /// Whether no request was served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything logged so far.
    pub fn clear(&self) {
        self.0.lock().expect("log lock").clear();
    }
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
        let mut seen = self.seen.lock().expect("limit lock");
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

    #[tokio::test]
    async fn server_logs_requests_and_stops_on_drop() {
        let log = RequestLog::default();
        let app = axum::Router::new().route("/x", axum::routing::get(|| async { "hi" }));
        let server = Server::start(app, 0, log.clone()).await.unwrap();
        let body = reqwest::get(format!("{}/x", server.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "hi");
        assert_eq!(
            log.entries(),
            [LoggedRequest {
                method: "GET".into(),
                path: "/x".into(),
                status: 200
            }]
        );
        let addr = server.addr();
        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
