//! The one place requests leave the process: the test seam every vendor
//! pipeline sends through.
//!
//! Unit tests substitute [`tests::FakeTransport`] to answer with canned
//! responses on tokio's paused clock (real sockets and paused time do not
//! mix).

use futures::future::BoxFuture;
use std::fmt;

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
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

        /// Never answers before `d` has passed.
        pub(crate) fn with_latency(mut self, d: Duration) -> Self {
            self.latency = d;
            self
        }

        /// Requests sent so far.
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
