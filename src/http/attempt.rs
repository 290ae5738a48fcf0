//! The attempt loop every vendor pipeline runs, written once:
//! rate limit → authenticate → send → classify → retry (honouring
//! `Retry-After`), each send within the call deadline and the whole
//! operation within its own, through the [`Transport`] seam.
//!
//! A vendor supplies only its [`Scheme`]: how to authenticate a request
//! (and again after a challenge), and how to read an answer. Answers are
//! read whole through the client's [`Guard`] inside the attempt, so a
//! connection cut mid-body is retried like any other network failure.

use super::body::Head;
use super::transport::Transport;
use super::{deadline, redact::Redactor, Guard};
use crate::hooks::{carry, leave};
use crate::retry::{
    self, network_error_is_safe_to_retry, retry_after_header, RetryPolicy, Verdict,
};
use crate::{Error, RateLimiter, Result, SecretString, Vendor};
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;

/// An answer read through the guard: redirects refused, error bodies
/// capped and redacted; a JSON success body read whole and capped (so a
/// body cut short fails the attempt), a download's left streaming under
/// the throughput guard.
pub(crate) struct Answer(reqwest::Response);

impl Answer {
    pub(crate) fn status(&self) -> http::StatusCode {
        self.0.status()
    }

    pub(crate) fn headers(&self) -> &http::HeaderMap {
        self.0.headers()
    }

    /// The body, which must already be in memory (a JSON answer or an
    /// error); the answer keeps it.
    pub(crate) async fn bytes(&mut self) -> Result<Bytes> {
        let head = Head::of(&self.0);
        let response = std::mem::replace(
            &mut self.0,
            reqwest::Response::from(http::Response::new(Bytes::new())),
        );
        let bytes = response.bytes().await.map_err(Error::from)?;
        self.0 = head.rebuild(bytes.clone());
        Ok(bytes)
    }

    /// Replaces the (in-memory) body.
    pub(crate) fn set_body(&mut self, bytes: Bytes) {
        self.0 = Head::of(&self.0).rebuild(bytes);
    }

    /// The answer as a response again.
    pub(crate) fn into_response(self) -> reqwest::Response {
        self.0
    }
}

/// What a vendor makes of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Hand it to the caller.
    Done,
    /// Try again after the backoff (or the answer's `Retry-After`).
    Retry,
    /// Re-authenticate and resend at once, within the same attempt.
    Reauthenticate,
}

/// How one vendor authenticates and reads answers. `Call` is the state of
/// one operation across its attempts (a token generation, whether a clock
/// resync or a token refresh was already spent).
pub(crate) trait Scheme: Send + Sync {
    /// Who the failures are attributed to.
    const VENDOR: Vendor;
    /// Per-operation state, shared by its attempts.
    type Call: Default + Send + Sync;

    /// Adds credentials to `request`. A failure here means nothing was sent.
    fn authenticate(
        &self,
        request: &mut reqwest::Request,
        call: &Self::Call,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Prepares the resend after [`Decision::Reauthenticate`]. By default
    /// nothing: what `classify` learned (a challenge, the server's clock)
    /// is enough for the next `authenticate`.
    fn reauthenticate(&self, _call: &Self::Call) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Reads an answer: done, retry, or answer a challenge (at most once
    /// per attempt). May rewrite it (e.g. redact an error envelope sent
    /// with a success status), or turn it into a failure.
    fn classify(
        &self,
        answer: &mut Answer,
        idempotent: bool,
        call: &Self::Call,
    ) -> impl Future<Output = Result<Decision>> + Send;
}

/// What the status alone says: try again after a 429 (turned away
/// unprocessed, so even a non-idempotent request may be resent) and, for
/// requests safe to repeat, after the 5xx a gateway returns.
pub(crate) fn by_status(status: u16, idempotent: bool) -> Decision {
    if status == 429 || (idempotent && matches!(status, 500 | 502 | 503 | 504)) {
        Decision::Retry
    } else {
        Decision::Done
    }
}

/// Puts `token` into `request` as a bearer credential. The token is
/// registered with `redactor` first, so whatever a server echoes of it is
/// scrubbed.
pub(crate) fn bearer(
    request: &mut reqwest::Request,
    token: &SecretString,
    redactor: &Redactor,
) -> Result<()> {
    redactor.add(token.expose());
    let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| Error::credentials("access token is not a valid header value"))?;
    // Keeps the token out of `Debug` output of the request and from HPACK tables.
    value.set_sensitive(true);
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, value);
    Ok(())
}

/// Why an attempt produced no answer.
enum Failure {
    Network(reqwest::Error),
    Local(Error),
}

type Outcome = std::result::Result<Answer, Failure>;

/// The transport, guard and retry policy of one client, shared by its
/// clones.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    transport: Arc<dyn Transport>,
    guard: Guard,
    retry: RetryPolicy,
}

impl Core {
    pub(crate) fn new(transport: Arc<dyn Transport>, guard: Guard, retry: RetryPolicy) -> Self {
        Core {
            transport,
            guard,
            retry,
        }
    }

    /// The same core held to `guard` instead.
    pub(crate) fn with_guard(&self, guard: Guard) -> Self {
        Core {
            guard,
            ..self.clone()
        }
    }

    /// The rules every response of this core is held to.
    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Runs `request` for `operation` to completion, ready to leave a
    /// progenitor hook: a failure without a response of its own comes back
    /// carried in a synthetic one (see [`crate::hooks::carry`]).
    pub(crate) async fn execute<S: Scheme>(
        &self,
        scheme: &S,
        request: reqwest::Request,
        operation: &'static str,
        idempotent: bool,
        limiter: Option<&RateLimiter>,
    ) -> reqwest::Result<reqwest::Response> {
        let call = S::Call::default();
        let limit = self.guard.limits.operation_timeout;
        let out = if request.try_clone().is_none() {
            // A streaming body can be sent only once: no retry, no resend
            // after a challenge.
            let once = async {
                let mut request = request;
                scheme
                    .authenticate(&mut request, &call)
                    .await
                    .map_err(Failure::Local)?;
                let _slot = acquire(limiter).await;
                self.exchange(request).await
            };
            deadline::operation(limit, once).await
        } else {
            let run = retry::run(&self.retry, operation, |attempt| {
                let (request, call) = (&request, &call);
                async move {
                    if attempt > 1 {
                        tracing::debug!(operation, attempt, "re-sending");
                    }
                    self.attempt(scheme, request, call, idempotent, limiter)
                        .await
                }
            });
            deadline::operation(limit, run).await
        };
        let out = match out.unwrap_or_else(|e| Err(Failure::Local(e))) {
            Ok(answer) => Ok(answer.into_response()),
            Err(Failure::Network(e)) => Err(e),
            Err(Failure::Local(e)) => Ok(carry(e)),
        };
        leave(out, S::VENDOR, operation)
    }

    async fn attempt<S: Scheme>(
        &self,
        scheme: &S,
        template: &reqwest::Request,
        call: &S::Call,
        idempotent: bool,
        limiter: Option<&RateLimiter>,
    ) -> Verdict<Outcome> {
        let mut reauthenticated = false;
        loop {
            let mut request = template.try_clone().expect("checked by execute");
            // Signed after the wait for a slot, so the signature is fresh.
            let slot = acquire(limiter).await;
            if let Err(e) = scheme.authenticate(&mut request, call).await {
                return unsent(e);
            }
            let sent = self.exchange(request).await;
            drop(slot);
            let mut answer = match sent {
                Ok(a) => a,
                Err(failure) => return failed(failure, idempotent),
            };
            let decision = match scheme.classify(&mut answer, idempotent, call).await {
                Ok(d) => d,
                Err(e) => return Verdict::Done(Err(Failure::Local(e))),
            };
            match decision {
                Decision::Reauthenticate if !reauthenticated => {
                    reauthenticated = true;
                    if let Err(e) = scheme.reauthenticate(call).await {
                        return unsent(e);
                    }
                }
                Decision::Done | Decision::Reauthenticate => return Verdict::Done(Ok(answer)),
                Decision::Retry => {
                    let after = retry_after_header(answer.headers());
                    return Verdict::Retry {
                        last: Ok(answer),
                        after,
                    };
                }
            }
        }
    }

    /// One request under the same rules as an attempt (the guard, the call
    /// deadline) but outside the attempt loop: for token endpoints, whose
    /// cache decides when to ask again.
    pub(crate) async fn send_once(&self, request: reqwest::Request) -> Result<reqwest::Response> {
        match self.exchange(request).await {
            Ok(answer) => Ok(answer.into_response()),
            Err(Failure::Network(e)) => Err(Error::from(e)),
            Err(Failure::Local(e)) => Err(e),
        }
    }

    /// Sends and reads the answer through the guard, the head (and a JSON
    /// body) within the call deadline.
    async fn exchange(&self, request: reqwest::Request) -> Outcome {
        let asked = request.url().clone();
        // JSON answers are read whole within the call deadline; downloads
        // stream under the throughput guard.
        let json = request
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|a| a.ends_with("json"));
        let exchange = async {
            let response = self
                .transport
                .send(request)
                .await
                .map_err(Failure::Network)?;
            let read = self.guard.read(&asked, response, json).await;
            read.map(Answer).map_err(Failure::Local)
        };
        deadline::call(self.guard.limits.timeout, exchange)
            .await
            .map_err(Failure::Local)?
    }
}

async fn acquire(limiter: Option<&RateLimiter>) -> Option<crate::ratelimit::RatePermit> {
    Some(limiter?.acquire().await)
}

/// A form POST to an OAuth token endpoint, as every vendor sends it:
/// form-encoded `body`, JSON asked for, our `User-Agent`.
pub(crate) fn form_post(url: &url::Url, body: String) -> reqwest::Request {
    use http::{header, HeaderValue};
    let mut request = reqwest::Request::new(reqwest::Method::POST, url.clone());
    let h = request.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    h.insert(
        header::USER_AGENT,
        HeaderValue::from_static(crate::USER_AGENT),
    );
    *request.body_mut() = Some(reqwest::Body::from(body));
    request
}

/// Authentication failed before anything was sent, so even a
/// non-idempotent request may try again if the failure is transient.
fn unsent(e: Error) -> Verdict<Outcome> {
    let (again, after) = (e.is_retryable(), e.retry_after());
    verdict(Failure::Local(e), again, after)
}

/// A send that produced no answer: a refused connection may always be
/// retried; a failure after the request may have arrived (a body cut
/// short, a call past its deadline) only if the request is safe to repeat.
fn failed(failure: Failure, idempotent: bool) -> Verdict<Outcome> {
    let again = match &failure {
        Failure::Network(e) => network_error_is_safe_to_retry(e, idempotent),
        Failure::Local(e) => idempotent && e.is_retryable(),
    };
    verdict(failure, again, None)
}

fn verdict(failure: Failure, again: bool, after: Option<std::time::Duration>) -> Verdict<Outcome> {
    if again {
        Verdict::Retry {
            last: Err(failure),
            after,
        }
    } else {
        Verdict::Done(Err(failure))
    }
}

#[cfg(test)]
mod tests {
    //! The loop itself, once for every vendor, through a scheme that adds
    //! nothing of a vendor's own.

    use super::*;
    use crate::http::transport::tests::FakeTransport;
    use crate::http::Limits;
    use crate::ErrorKind;
    use std::time::Duration;
    use tokio::time::Instant;

    /// No credentials; retries what [`by_status`] says.
    struct Plain;

    impl Scheme for Plain {
        const VENDOR: Vendor = Vendor::Atlas;
        type Call = ();

        async fn authenticate(&self, _: &mut reqwest::Request, _: &()) -> Result<()> {
            Ok(())
        }

        async fn classify(
            &self,
            answer: &mut Answer,
            idempotent: bool,
            _: &(),
        ) -> Result<Decision> {
            Ok(by_status(answer.status().as_u16(), idempotent))
        }
    }

    /// Runs `request` through a core over `fake` with up to `attempts`
    /// attempts, backoff doubling from 1 s up to 3 s without jitter.
    async fn run(
        fake: &FakeTransport,
        attempts: u32,
        limits: Limits,
        request: reqwest::Request,
        idempotent: bool,
    ) -> reqwest::Response {
        let policy = RetryPolicy::default()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(3))
            .without_jitter();
        let core = Core::new(Arc::new(fake.clone()), Guard::new(limits), policy);
        core.execute(&Plain, request, "list_processes", idempotent, None)
            .await
            .expect("failures leave carried in a response")
    }

    fn get() -> reqwest::Request {
        let url = "http://127.0.0.1:9/x".parse().unwrap();
        reqwest::Request::new(http::Method::GET, url)
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_in_seconds_and_as_an_http_date() {
        let date = (chrono::Utc::now() + chrono::Duration::seconds(10))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let fake = FakeTransport::new(move |n, _| match n {
            0 => (429, vec![("retry-after", "7".into())], String::new()),
            1 => (503, vec![("retry-after", date.clone())], String::new()),
            _ => (200, vec![], "{}".into()),
        });
        let start = Instant::now();
        let r = run(&fake, 4, Limits::default(), get(), true).await;
        assert_eq!((r.status().as_u16(), fake.calls()), (200, 3));
        // 7 s, then what the wall clock leaves of the 10 s (whole seconds).
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(15) && waited <= Duration::from_secs(17),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_is_capped_and_the_last_answer_returned() {
        let fake = FakeTransport::new(|_, _| (503, vec![], String::new()));
        let start = Instant::now();
        let r = run(&fake, 4, Limits::default(), get(), true).await;
        assert_eq!((r.status().as_u16(), fake.calls()), (503, 4));
        assert_eq!(start.elapsed(), Duration::from_secs(1 + 2 + 3));
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_429_resends_a_request_that_may_have_been_applied() {
        for (status, idempotent, calls) in [
            (429, false, 2),
            (503, false, 1),
            (500, false, 1),
            (503, true, 2),
            (504, true, 2),
            (404, true, 1),
        ] {
            let fake = FakeTransport::new(move |n, _| match n {
                0 => (status, vec![], String::new()),
                _ => (200, vec![], "{}".into()),
            });
            run(&fake, 2, Limits::default(), get(), idempotent).await;
            assert_eq!(fake.calls(), calls, "{status} idempotent: {idempotent}");
        }
    }

    /// Runs against a server that never answers, with a 60 s call deadline;
    /// returns the error, the seconds it took and the attempts made.
    async fn silence(operation_timeout: Option<u64>, idempotent: bool) -> (Error, u64, usize) {
        let fake = FakeTransport::new(|_, _| (200, vec![], "{}".into()))
            .with_latency(Duration::from_secs(3600));
        let limits = Limits {
            timeout: Duration::from_secs(60),
            operation_timeout: operation_timeout.map(Duration::from_secs),
            throughput: Default::default(),
        };
        let start = Instant::now();
        let mut r = run(&fake, 4, limits, get(), idempotent).await;
        let err = crate::hooks::take_carried(&mut r).expect("a carried error");
        (err, start.elapsed().as_secs(), fake.calls())
    }

    #[tokio::test(start_paused = true)]
    async fn silence_costs_one_operation_deadline_not_attempts_times_timeouts() {
        // 60 s, 1 s backoff, 60 s, 2 s backoff, then the third attempt is
        // cut by the operation deadline at 150 s.
        let (err, took, calls) = silence(Some(150), true).await;
        assert_eq!((took, calls), (150, 3));
        assert!(err.message().contains("operation deadline"), "{err}");
        assert_eq!(
            (err.kind(), err.vendor(), err.operation()),
            (
                ErrorKind::Network,
                Some(Vendor::Atlas),
                Some("list_processes")
            )
        );
        assert!(!err.is_retryable());

        // Without one, every timed-out call is retried: 60 + 1 + 60 + 2 +
        // 60 + 3 + 60 s.
        let (err, took, calls) = silence(None, true).await;
        assert_eq!((took, calls), (246, 4));
        assert_eq!(
            err.to_string(),
            "Atlas list_processes: timed out after 60 s"
        );
        // A request that timed out may have been applied: not re-sent.
        let (err, took, calls) = silence(None, false).await;
        assert_eq!((took, calls), (60, 1));
        assert_eq!(err.message(), "timed out after 60 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_body_is_sent_once() {
        let fake =
            FakeTransport::new(|_, _| (503, vec![("retry-after", "1".into())], String::new()));
        let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("{}")];
        let mut request = get();
        *request.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        let r = run(&fake, 4, Limits::default(), request, true).await;
        assert_eq!((r.status().as_u16(), fake.calls()), (503, 1));
    }
}
