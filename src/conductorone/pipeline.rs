//! The C1 side of the shared attempt loop ([`crate::http::attempt`]):
//! bearer authentication and the retry rules.
//!
//! It runs inside the generated client's `exec` hook, so the generated
//! operations (and anyone calling them directly) get the same behaviour as
//! the hand-written layer:
//! - a bearer token from the shared [`TokenCache`]; on a 401 the token is
//!   replaced once and the request re-sent;
//! - 429 and 5xx are retried with `Retry-After`, except that
//!   `create_exporter` is never re-sent once the server may have applied
//!   it: only connect failures and 429 (rejected before processing) retry it.

use super::generated;
use crate::http::attempt::{bearer, retryable_status, Answer, Core, Decision, Scheme};
use crate::http::redact::Redactor;
use crate::http::transport::Transport;
use crate::http::Guard;
use crate::retry::RetryPolicy;
use crate::token::TokenCache;
use crate::{RateLimiter, Result, Vendor};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The one operation that is not idempotent.
const CREATE: &str = "create_exporter";

/// Auth and retry state shared by a client and its clones (the generated
/// client's `inner`). Not part of the public API.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    scheme: Bearer,
    core: Core,
    limiter: Option<RateLimiter>,
}

/// OAuth bearer tokens, refreshed once per call on a 401.
#[derive(Debug)]
struct Bearer {
    tokens: TokenCache,
    redactor: Redactor,
}

/// One call's token: its generation, and whether the refresh was spent.
#[derive(Default)]
struct Call {
    generation: AtomicU64,
    refreshed: AtomicBool,
}

impl Scheme for Bearer {
    const VENDOR: Vendor = Vendor::ConductorOne;
    type Call = Call;

    async fn authenticate(&self, request: &mut reqwest::Request, call: &Call) -> Result<()> {
        let (token, generation) = self.tokens.get().await?;
        call.generation.store(generation, Ordering::SeqCst);
        bearer(request, &token, &self.redactor)
    }

    async fn reauthenticate(&self, call: &Call) -> Result<()> {
        tracing::info!("access token rejected; obtaining a new one");
        let generation = call.generation.load(Ordering::SeqCst);
        self.tokens.replace_rejected(generation).await.map(drop)
    }

    async fn classify(
        &self,
        answer: &mut Answer,
        idempotent: bool,
        call: &Call,
    ) -> Result<Decision> {
        let status = answer.status().as_u16();
        // One refresh per call: a second 401 with a brand-new token is the answer.
        if status == 401
            && self.tokens.can_refresh()
            && !call.refreshed.swap(true, Ordering::SeqCst)
        {
            return Ok(Decision::Reauthenticate);
        }
        Ok(if retryable_status(status, idempotent) {
            Decision::Retry
        } else {
            Decision::Done
        })
    }
}

impl Pipeline {
    pub(crate) fn new(
        tokens: TokenCache,
        retry: RetryPolicy,
        transport: Arc<dyn Transport>,
        guard: Guard,
    ) -> Self {
        let scheme = Bearer {
            tokens,
            redactor: guard.redactor.clone(),
        };
        Pipeline {
            inner: Arc::new(Inner {
                scheme,
                core: Core::new(transport, guard, retry),
                limiter: None,
            }),
        }
    }

    /// Paces every request through `limiter`. Only on a pipeline not yet
    /// cloned.
    pub(crate) fn with_limiter(mut self, limiter: Option<RateLimiter>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.limiter = limiter;
        }
        self
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn tokens(&self) -> &TokenCache {
        &self.inner.scheme.tokens
    }

    /// Runs one operation to completion (all attempts).
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let idempotent = operation != CREATE;
        let inner = &self.inner;
        inner
            .core
            .execute(
                &inner.scheme,
                request,
                operation,
                idempotent,
                inner.limiter.as_ref(),
            )
            .await
    }
}

crate::hooks::exec_through_pipeline!();

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::conductorone::credentials::REFRESH_MARGIN;
    use crate::conductorone::error::C1Errors;
    use crate::hooks::VendorErrors as _;
    use crate::http::transport::tests::FakeTransport;
    use crate::token::tests::FakeSource;
    use crate::{Error, ErrorKind};
    use std::time::Duration;
    use tokio::time::Instant;

    /// Status, headers and body of a canned response.
    pub(crate) type Reply = (u16, Vec<(&'static str, &'static str)>, &'static str);

    const EXPORTER: &str =
        r#"{"exporter":{"exportId":"e1","displayName":"x","state":"EXPORT_STATE_PAUSED"}}"#;

    /// The bearer credential each request carried.
    fn bearers(fake: &FakeTransport) -> Vec<String> {
        fake.header_values("authorization")
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    }

    fn client(replies: Vec<Reply>) -> (generated::Client, FakeTransport) {
        let transport = FakeTransport::replies(replies);
        let seen = transport.clone();
        let source = FakeSource {
            latency: Duration::ZERO,
            ..FakeSource::new(Duration::from_secs(600))
        };
        let policy = RetryPolicy::default()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_secs(2))
            .without_jitter();
        let pipeline = Pipeline::new(
            TokenCache::new(Box::new(source), REFRESH_MARGIN),
            policy,
            Arc::new(transport),
            Guard::default(),
        );
        (
            generated::Client::new_with_client(
                "http://127.0.0.1:9",
                reqwest::Client::new(),
                pipeline,
            ),
            seen,
        )
    }

    async fn get(
        c: &generated::Client,
    ) -> Result<generated::types::C1ApiSystemlogV1ExportServiceGetResponse, Error> {
        C1Errors::call(c.get_exporter().export_id("e1").send()).await
    }

    async fn create(c: &generated::Client) -> Result<(), Error> {
        let body = generated::types::C1ApiSystemlogV1ExportServiceCreateRequest::default();
        C1Errors::call(c.create_exporter().body(body).send())
            .await
            .map(drop)
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_on_429_and_503() {
        let (c, seen) = client(vec![
            (
                429,
                vec![("retry-after", "7")],
                r#"{"code":8,"message":"slow down"}"#,
            ),
            (503, vec![("retry-after", "3")], ""),
            (200, vec![], EXPORTER),
        ]);
        let start = Instant::now();
        let got = get(&c).await.unwrap();
        assert_eq!(
            got.exporter.unwrap().state.as_deref(),
            Some("EXPORT_STATE_PAUSED")
        );
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(seen.calls(), 3);
        assert!(bearers(&seen).iter().all(|a| a == "Bearer tok-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_retries_report_rate_limited() {
        let reply = (
            429,
            vec![("retry-after", "1")],
            r#"{"code":"resource_exhausted","message":"quota"}"#,
        );
        let (c, seen) = client(vec![reply.clone(), reply.clone(), reply]);
        let err = get(&c).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(
            (err.status(), err.code()),
            (Some(429), Some("resource_exhausted"))
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(seen.calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn create_is_not_resent_after_a_5xx_but_is_after_429() {
        let (c, seen) = client(vec![(
            503,
            vec![("retry-after", "1")],
            r#"{"code":14,"message":"unavailable"}"#,
        )]);
        let err = create(&c).await.unwrap_err();
        assert_eq!((err.kind(), err.status()), (ErrorKind::Api, Some(503)));
        assert_eq!(seen.calls(), 1);

        let (c, seen) = client(vec![
            (429, vec![("retry-after", "1")], ""),
            (200, vec![], EXPORTER),
        ]);
        create(&c).await.unwrap();
        assert_eq!(seen.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_refreshes_once() {
        let (c, seen) = client(vec![
            (401, vec![], r#"{"code":16,"message":"expired"}"#),
            (200, vec![], EXPORTER),
        ]);
        get(&c).await.unwrap();
        assert_eq!(bearers(&seen), ["Bearer tok-1", "Bearer tok-2"]);
        assert_eq!(c.inner.tokens().fetches(), 2);

        let (c, seen) = client(vec![
            (401, vec![], r#"{"code":16,"message":"expired"}"#),
            (401, vec![], r#"{"code":16,"message":"still no"}"#),
        ]);
        let err = get(&c).await.unwrap_err();
        assert_eq!(
            (err.kind(), err.message(), err.code()),
            (ErrorKind::Auth, "still no", Some("16"))
        );
        assert_eq!(seen.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn silence_is_bounded_per_call_and_per_operation() {
        let silent = FakeTransport::new(|_, _| (200, vec![], "{}".into()))
            .with_latency(Duration::from_secs(3600));
        let source = FakeSource {
            latency: Duration::ZERO,
            ..FakeSource::new(Duration::from_secs(600))
        };
        let policy = RetryPolicy::default()
            .with_max_attempts(4)
            .with_initial_backoff(Duration::from_secs(1))
            .without_jitter();
        let guard = Guard::new(crate::http::Limits {
            timeout: Duration::from_secs(60),
            operation_timeout: Some(Duration::from_secs(150)),
            throughput: Default::default(),
        });
        let pipeline = Pipeline::new(
            TokenCache::new(Box::new(source), REFRESH_MARGIN),
            policy,
            Arc::new(silent.clone()),
            guard,
        );
        let c = generated::Client::new_with_client(
            "http://127.0.0.1:9",
            reqwest::Client::new(),
            pipeline,
        );
        let start = Instant::now();
        let err = get(&c).await.unwrap_err();
        // 60 s, 1 s, 60 s, 2 s, and the third attempt cut at 150 s.
        assert_eq!(start.elapsed(), Duration::from_secs(150));
        assert_eq!(silent.calls(), 3);
        assert_eq!(
            (err.kind(), err.vendor(), err.operation()),
            (
                ErrorKind::Network,
                Some(crate::Vendor::ConductorOne),
                Some("get_exporter")
            )
        );
        assert!(err.message().contains("operation deadline"), "{err}");

        // A create that timed out may have been applied: not re-sent.
        let silent = FakeTransport::new(|_, _| (200, vec![], "{}".into()))
            .with_latency(Duration::from_secs(3600));
        let pipeline = Pipeline::new(
            TokenCache::new(
                Box::new(FakeSource::new(Duration::from_secs(600))),
                REFRESH_MARGIN,
            ),
            RetryPolicy::default(),
            Arc::new(silent.clone()),
            Guard::default(),
        );
        let c = generated::Client::new_with_client(
            "http://127.0.0.1:9",
            reqwest::Client::new(),
            pipeline,
        );
        let err = create(&c).await.unwrap_err();
        assert_eq!(silent.calls(), 1);
        assert_eq!(err.message(), "timed out after 60 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_body_is_sent_once() {
        let (c, seen) = client(vec![(503, vec![("retry-after", "1")], "")]);
        let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("{}")];
        let mut request =
            reqwest::Request::new(http::Method::POST, "http://127.0.0.1:9/x".parse().unwrap());
        *request.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        let response = c.inner.execute(request, "update_exporter").await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(bearers(&seen), ["Bearer tok-1"]);
    }
}
