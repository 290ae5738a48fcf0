//! The transport pipeline behind every C1 call: authenticate, send,
//! classify, retry.
//!
//! It runs inside the generated client's `exec` hook, so the generated
//! operations (and anyone calling them directly) get the same behaviour as
//! the hand-written layer:
//! - a bearer token from the shared [`TokenCache`]; on a 401 the token is
//!   replaced once and the request re-sent;
//! - 429 and 5xx are retried with `Retry-After` via [`crate::retry`], except
//!   that `create_exporter` is never re-sent once the server may have applied
//!   it: only connect failures and 429 (rejected before processing) retry it;
//! - every body is read here through the shared guard ([`crate::http`]):
//!   capped, redirects refused, echoed secrets redacted; a connection cut
//!   mid-body is retried like any other network failure;
//! - each attempt has a total deadline, and the operation one that
//!   includes its retries.
//!
//! `exec` can only return a `reqwest::Response`, so failures of our own (a
//! rejected token exchange) travel out through [`crate::hooks::carry`].

use super::generated;
use crate::hooks::carry;
use crate::http::{deadline, Guard};
use crate::retry::{
    self, network_error_is_safe_to_retry, retry_after_header, RetryPolicy, Verdict,
};
use crate::token::{BoxFuture, TokenCache};
use crate::{Error, SecretString};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The one operation that is not idempotent.
const CREATE: &str = "create_exporter";

/// Sends one HTTP request. The default is the client's `reqwest::Client`;
/// unit tests substitute a fake to run on a paused clock.
pub(crate) trait Transport: Send + Sync + fmt::Debug {
    fn send(&self, request: reqwest::Request) -> BoxFuture<'_, reqwest::Result<reqwest::Response>>;
}

#[derive(Debug)]
pub(crate) struct ReqwestTransport(pub reqwest::Client);

impl Transport for ReqwestTransport {
    fn send(&self, request: reqwest::Request) -> BoxFuture<'_, reqwest::Result<reqwest::Response>> {
        Box::pin(self.0.execute(request))
    }
}

/// Auth and retry state shared by a client and its clones (the generated
/// client's `inner`). Not part of the public API.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tokens: TokenCache,
    retry: RetryPolicy,
    transport: Box<dyn Transport>,
    guard: Guard,
}

/// Why an attempt produced no response.
enum Failure {
    Network(reqwest::Error),
    Local(Error),
}

type Outcome = Result<reqwest::Response, Failure>;

impl Pipeline {
    pub(crate) fn new(
        tokens: TokenCache,
        retry: RetryPolicy,
        transport: Box<dyn Transport>,
        guard: Guard,
    ) -> Self {
        Pipeline {
            inner: Arc::new(Inner {
                tokens,
                retry,
                transport,
                guard,
            }),
        }
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn tokens(&self) -> &TokenCache {
        &self.inner.tokens
    }

    /// Runs one operation to completion (all attempts).
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let idempotent = operation != CREATE;
        let limit = self.inner.guard.limits.operation_timeout;
        let out = if request.try_clone().is_none() {
            // A streaming body can be sent only once: no retry, no re-send
            // after a 401. Nothing in this API streams a request body, but
            // the generated client must still work if it ever does.
            deadline::operation(limit, self.send_once(request)).await
        } else {
            let refreshed = AtomicBool::new(false);
            let run = retry::run(&self.inner.retry, operation, |attempt| {
                let (request, refreshed) = (&request, &refreshed);
                async move {
                    if attempt > 1 {
                        tracing::debug!(operation, attempt, "re-sending");
                    }
                    self.attempt(request, idempotent, refreshed).await
                }
            });
            deadline::operation(limit, run).await
        };
        let out = out.unwrap_or_else(|e| Err(Failure::Local(e)));
        crate::hooks::leave(finish(out), crate::Vendor::ConductorOne, operation)
    }

    /// The single attempt a streaming body allows.
    async fn send_once(&self, mut request: reqwest::Request) -> Outcome {
        let (token, _) = self.inner.tokens.get().await.map_err(Failure::Local)?;
        authorize(&mut request, &token, &self.inner.guard).map_err(Failure::Local)?;
        self.exchange(request).await
    }

    /// Sends and reads the answer through the guard, within the call
    /// deadline.
    async fn exchange(&self, request: reqwest::Request) -> Outcome {
        let guard = &self.inner.guard;
        let asked = request.url().clone();
        let exchange = async {
            let response = self
                .inner
                .transport
                .send(request)
                .await
                .map_err(Failure::Network)?;
            guard.json(&asked, response).await.map_err(Failure::Local)
        };
        deadline::call(guard.limits.timeout, exchange)
            .await
            .map_err(Failure::Local)?
    }

    async fn attempt(
        &self,
        template: &reqwest::Request,
        idempotent: bool,
        refreshed: &AtomicBool,
    ) -> Verdict<Outcome> {
        let tokens = &self.inner.tokens;
        let (token, generation) = match tokens.get().await {
            Ok(t) => t,
            Err(e) => return token_failure(e),
        };
        let mut result = self.send_with(template, &token).await;
        let rejected = matches!(&result, Ok(r) if r.status() == http::StatusCode::UNAUTHORIZED);
        // One refresh per call: a second 401 with a brand-new token is the answer.
        if rejected && tokens.can_refresh() && !refreshed.swap(true, Ordering::SeqCst) {
            tracing::info!("access token rejected; obtaining a new one");
            let (token, _) = match tokens.replace_rejected(generation).await {
                Ok(t) => t,
                Err(e) => return token_failure(e),
            };
            result = self.send_with(template, &token).await;
        }
        classify(result, idempotent).await
    }

    async fn send_with(&self, template: &reqwest::Request, token: &SecretString) -> Outcome {
        let mut request = template.try_clone().expect("checked by execute");
        authorize(&mut request, token, &self.inner.guard).map_err(Failure::Local)?;
        self.exchange(request).await
    }
}

fn authorize(
    request: &mut reqwest::Request,
    token: &SecretString,
    guard: &Guard,
) -> Result<(), Error> {
    // Whatever the server echoes back of it is redacted.
    guard.redactor.add(token.expose());
    let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| Error::credentials("access token is not a valid header value"))?;
    // Keeps the token out of `Debug` output of the request and from HPACK tables.
    value.set_sensitive(true);
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, value);
    Ok(())
}

fn token_failure(e: Error) -> Verdict<Outcome> {
    // Nothing was sent to the API yet, so even a create may try again.
    if e.is_retryable() {
        let after = e.retry_after();
        Verdict::Retry {
            last: Err(Failure::Local(e)),
            after,
        }
    } else {
        Verdict::Done(Err(Failure::Local(e)))
    }
}

async fn classify(result: Outcome, idempotent: bool) -> Verdict<Outcome> {
    let response = match result {
        Ok(r) => r,
        Err(Failure::Network(e)) => {
            return if network_error_is_safe_to_retry(&e, idempotent) {
                Verdict::Retry {
                    last: Err(Failure::Network(e)),
                    after: None,
                }
            } else {
                Verdict::Done(Err(Failure::Network(e)))
            };
        }
        // A body cut short or a call past its deadline: safe to repeat
        // only if the operation is.
        Err(Failure::Local(e)) if idempotent && e.is_retryable() => {
            return Verdict::Retry {
                last: Err(Failure::Local(e)),
                after: None,
            }
        }
        Err(local) => return Verdict::Done(Err(local)),
    };
    let status = response.status().as_u16();
    // 429 means the request was turned away unprocessed, so even a create
    // may be re-sent; a 5xx may come after the work was done.
    if status == 429 || (idempotent && matches!(status, 500 | 502 | 503 | 504)) {
        let after = retry_after_header(response.headers());
        return Verdict::Retry {
            last: Ok(response),
            after,
        };
    }
    Verdict::Done(Ok(response))
}

fn finish(out: Outcome) -> reqwest::Result<reqwest::Response> {
    match out {
        Ok(r) => Ok(r),
        Err(Failure::Network(e)) => Err(e),
        Err(Failure::Local(e)) => Ok(carry(e)),
    }
}

impl progenitor_client::ClientHooks<Pipeline> for generated::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        // `execute` already names the operation in whatever it returns.
        self.inner.execute(request, info.operation_id).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::conductorone::token::REFRESH_MARGIN;
    use crate::token::tests::FakeSource;
    use crate::ErrorKind;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::time::Instant;

    /// Status, headers and body of a canned response.
    pub(crate) type Reply = (u16, Vec<(&'static str, &'static str)>, &'static str);

    /// Canned responses, and the bearer token each request carried.
    #[derive(Debug, Default)]
    pub(crate) struct FakeTransport {
        replies: Mutex<VecDeque<Reply>>,
        pub seen: Arc<Mutex<Vec<String>>>,
    }

    impl FakeTransport {
        pub(crate) fn new(replies: Vec<Reply>) -> Self {
            FakeTransport {
                replies: Mutex::new(replies.into()),
                seen: Arc::default(),
            }
        }
    }

    impl Transport for FakeTransport {
        fn send(
            &self,
            request: reqwest::Request,
        ) -> BoxFuture<'_, reqwest::Result<reqwest::Response>> {
            let auth = request
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            self.seen.lock().unwrap().push(auth.unwrap_or_default());
            let (status, headers, body) = self
                .replies
                .lock()
                .unwrap()
                .pop_front()
                .expect("a canned reply");
            Box::pin(async move {
                let mut r = http::Response::new(body);
                *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                Ok(reqwest::Response::from(r))
            })
        }
    }

    const EXPORTER: &str =
        r#"{"exporter":{"exportId":"e1","displayName":"x","state":"EXPORT_STATE_PAUSED"}}"#;

    fn client(replies: Vec<Reply>) -> (generated::Client, Arc<Mutex<Vec<String>>>) {
        let transport = FakeTransport::new(replies);
        let seen = transport.seen.clone();
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
            Box::new(transport),
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
        match c.get_exporter().export_id("e1").send().await {
            Ok(v) => Ok(v.into_inner()),
            Err(e) => Err(crate::conductorone::errors::from_progenitor(e).await),
        }
    }

    async fn create(c: &generated::Client) -> Result<(), Error> {
        let body = generated::types::C1ApiSystemlogV1ExportServiceCreateRequest::default();
        match c.create_exporter().body(body).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(crate::conductorone::errors::from_progenitor(e).await),
        }
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
        assert_eq!(seen.lock().unwrap().len(), 3);
        assert!(seen.lock().unwrap().iter().all(|a| a == "Bearer tok-1"));
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
        assert_eq!(seen.lock().unwrap().len(), 3);
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
        assert_eq!(seen.lock().unwrap().len(), 1);

        let (c, seen) = client(vec![
            (429, vec![("retry-after", "1")], ""),
            (200, vec![], EXPORTER),
        ]);
        create(&c).await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_refreshes_once() {
        let (c, seen) = client(vec![
            (401, vec![], r#"{"code":16,"message":"expired"}"#),
            (200, vec![], EXPORTER),
        ]);
        get(&c).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["Bearer tok-1", "Bearer tok-2"]);
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
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    /// Never answers.
    #[derive(Debug)]
    struct Silent(Arc<Mutex<usize>>);

    impl Transport for Silent {
        fn send(&self, _: reqwest::Request) -> BoxFuture<'_, reqwest::Result<reqwest::Response>> {
            *self.0.lock().unwrap() += 1;
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silence_is_bounded_per_call_and_per_operation() {
        let calls = Arc::new(Mutex::new(0));
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
            Box::new(Silent(calls.clone())),
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
        assert_eq!(*calls.lock().unwrap(), 3);
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
        let calls = Arc::new(Mutex::new(0));
        let pipeline = Pipeline::new(
            TokenCache::new(
                Box::new(FakeSource::new(Duration::from_secs(600))),
                REFRESH_MARGIN,
            ),
            RetryPolicy::default(),
            Box::new(Silent(calls.clone())),
            Guard::default(),
        );
        let c = generated::Client::new_with_client(
            "http://127.0.0.1:9",
            reqwest::Client::new(),
            pipeline,
        );
        let err = create(&c).await.unwrap_err();
        assert_eq!(*calls.lock().unwrap(), 1);
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
        assert_eq!(*seen.lock().unwrap(), ["Bearer tok-1"]);
    }
}
