//! What every vendor's `ClientBuilder` shares, written once so that the
//! three take the same setters with the same argument types: a builder
//! holds a [`Common`] as `common` and invokes [`common_setters!`].

use crate::http::Limits;
use crate::{RateLimiter, RetryPolicy};

/// The settings behind the shared setters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    pub endpoint: Option<String>,
    pub http: Option<reqwest::Client>,
    pub retry: Option<RetryPolicy>,
    pub limiter: Option<RateLimiter>,
    pub limits: Limits,
}

impl Common {
    /// The caller's HTTP client, or the crate's (no redirects, our user
    /// agent, connect timeout).
    pub(crate) fn http_client(&self) -> crate::Result<reqwest::Client> {
        match &self.http {
            Some(client) => Ok(client.clone()),
            None => crate::http::redirect::api_client_builder()
                .build()
                .map_err(crate::Error::from),
        }
    }
}

/// The shared setters, for an `impl ClientBuilder` whose struct has a
/// `common: Common` field.
macro_rules! common_setters {
    () => {
        /// Overrides the API base URL: HTTPS, or plain HTTP on loopback only
        /// (the sandbox).
        pub fn endpoint(mut self, url: impl Into<String>) -> Self {
            self.common.endpoint = Some(url.into());
            self
        }

        /// Uses this HTTP client for API calls (proxies, TLS roots). Build
        /// it with `redirect(reqwest::redirect::Policy::none())`: the client
        /// refuses any redirect it sees, but one reqwest already followed
        /// has carried the request, and its credentials, to the other
        /// origin. Downloads of pre-signed URLs use a client of their own.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.common.http = Some(client);
            self
        }

        /// How often and how patiently to retry throttling and transient
        /// failures (see [`RetryPolicy`](crate::RetryPolicy)).
        pub fn retry_policy(mut self, policy: crate::RetryPolicy) -> Self {
            self.common.retry = Some(policy);
            self
        }

        /// Paces requests through `limiter`. Clones of a limiter share one
        /// window, so several clients can share a budget.
        pub fn rate_limit(mut self, limiter: crate::RateLimiter) -> Self {
            self.common.limiter = Some(limiter);
            self
        }

        /// The total deadline of one call (token requests included), from
        /// sending to the last byte of the answer; for a download, of the
        /// wait for the response head (default 60 s). A call past it is a
        /// retryable network error.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.limits.timeout = timeout;
            self
        }

        /// The deadline of one operation, all its retries and waits
        /// included (default 300 s). A download's body is not part of it:
        /// see [`min_throughput`](Self::min_throughput).
        pub fn operation_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.limits.operation_timeout = Some(timeout);
            self
        }

        /// The slowest acceptable body (default 1 KiB/s averaged over 60 s);
        /// a slower one fails with a retryable network error.
        pub fn min_throughput(mut self, throughput: crate::Throughput) -> Self {
            self.common.limits.throughput = throughput;
            self
        }
    };
}

pub(crate) use common_setters;
