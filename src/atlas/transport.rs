//! The one place requests leave the process.
//!
//! Everything the pipeline sends goes through [`Transport`], so unit tests
//! can answer with canned responses on tokio's paused clock (real sockets
//! and paused time do not mix).

use crate::hooks::carry;
use crate::http::{deadline, Guard};
use futures::future::BoxFuture;
use std::fmt;
use std::sync::Arc;

/// Sends one request.
pub(crate) trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` and returns the response head (the body streams).
    fn send(
        &self,
        request: reqwest::Request,
    ) -> BoxFuture<'static, reqwest::Result<reqwest::Response>>;
}

/// The real transport: a `reqwest::Client`.
#[derive(Debug, Clone)]
pub(crate) struct Reqwest(pub(crate) reqwest::Client);

impl Transport for Reqwest {
    fn send(
        &self,
        request: reqwest::Request,
    ) -> BoxFuture<'static, reqwest::Result<reqwest::Response>> {
        let client = self.0.clone();
        Box::pin(async move { client.execute(request).await })
    }
}

/// Any transport, held to the client's [`Guard`]: the redirect rule, the
/// call deadline (sending to the last byte of a JSON answer), the body caps,
/// the throughput guard on downloads and the redaction of error bodies.
/// Token requests go through it too. A failure of the guard's own leaves as
/// a carried error (see [`crate::hooks::carry`]).
#[derive(Debug)]
pub(crate) struct Guarded {
    pub(crate) inner: Arc<dyn Transport>,
    pub(crate) guard: Guard,
}

impl Transport for Guarded {
    fn send(
        &self,
        request: reqwest::Request,
    ) -> BoxFuture<'static, reqwest::Result<reqwest::Response>> {
        let (inner, guard) = (self.inner.clone(), self.guard.clone());
        Box::pin(async move {
            let asked = request.url().clone();
            // JSON answers (API pages, tokens) are read whole within the
            // call deadline; log downloads stream under the throughput guard.
            let json = request
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|a| a.ends_with("json"));
            let limit = guard.limits.timeout;
            let until = tokio::time::Instant::now() + limit;
            let response = match tokio::time::timeout_at(until, inner.send(request)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(carry(deadline::call_timed_out(limit))),
            };
            let read = async {
                if json {
                    guard.json(&asked, response).await
                } else {
                    guard.stream(&asked, response).await
                }
            };
            match tokio::time::timeout_at(until, read).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Ok(carry(e)),
                Err(_) => Ok(carry(deadline::call_timed_out(limit))),
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    type Responder = dyn Fn(usize, &reqwest::Request) -> (u16, Vec<(&'static str, String)>, String)
        + Send
        + Sync;

    /// Answers with whatever the closure says for the n-th (0-based) request.
    #[derive(Clone)]
    pub(crate) struct FakeTransport {
        respond: Arc<Responder>,
        calls: Arc<AtomicUsize>,
        seen: Arc<Mutex<Vec<reqwest::Request>>>,
        latency: Duration,
    }

    impl fmt::Debug for FakeTransport {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("FakeTransport")
        }
    }

    impl FakeTransport {
        pub(crate) fn new(
            respond: impl Fn(usize, &reqwest::Request) -> (u16, Vec<(&'static str, String)>, String)
                + Send
                + Sync
                + 'static,
        ) -> Self {
            FakeTransport {
                respond: Arc::new(respond),
                calls: Arc::default(),
                seen: Arc::default(),
                latency: Duration::ZERO,
            }
        }

        pub(crate) fn with_latency(mut self, d: Duration) -> Self {
            self.latency = d;
            self
        }

        pub(crate) fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        /// Header `name` of every request seen, in order.
        pub(crate) fn header_values(&self, name: &str) -> Vec<Option<String>> {
            self.seen
                .lock()
                .unwrap()
                .iter()
                .map(|r| {
                    r.headers()
                        .get(name)
                        .map(|v| v.to_str().unwrap().to_string())
                })
                .collect()
        }
    }

    impl Transport for FakeTransport {
        fn send(
            &self,
            request: reqwest::Request,
        ) -> BoxFuture<'static, reqwest::Result<reqwest::Response>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let (status, headers, body) = (self.respond)(n, &request);
            self.seen.lock().unwrap().push(request);
            let latency = self.latency;
            Box::pin(async move {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                let mut b = http::Response::builder().status(status);
                for (k, v) in headers {
                    b = b.header(k, v);
                }
                Ok(reqwest::Response::from(b.body(body).unwrap()))
            })
        }
    }
}
