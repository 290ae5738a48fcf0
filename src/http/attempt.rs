//! The attempt loop every vendor pipeline runs, written once:
//! rate limit → authenticate → send → classify → retry (honouring
//! `Retry-After`), each send within the call deadline and the whole
//! operation within its own, through the [`Transport`] seam.
//!
//! A vendor supplies only its [`Scheme`]: how to authenticate a request
//! (and again after a challenge), and how to read an answer. Answers are
//! read whole through the client's [`Guard`] inside the attempt, so a
//! connection cut mid-body is retried like any other network failure.

use super::transport::Transport;
use super::{body, deadline, redact::Redactor, Guard};
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
        let response = std::mem::replace(
            &mut self.0,
            reqwest::Response::from(http::Response::new(Bytes::new())),
        );
        let (status, version) = (response.status(), response.version());
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(Error::from)?;
        self.0 = body::rebuild(status, version, headers, bytes.clone());
        Ok(bytes)
    }

    /// Replaces the (in-memory) body.
    pub(crate) fn set_body(&mut self, bytes: Bytes) {
        let (status, version) = (self.0.status(), self.0.version());
        let headers = self.0.headers().clone();
        self.0 = body::rebuild(status, version, headers, bytes);
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

    /// Prepares the resend after [`Decision::Reauthenticate`].
    fn reauthenticate(&self, call: &Self::Call) -> impl Future<Output = Result<()>> + Send;

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

/// The statuses that say "try again": 429 (turned away unprocessed, so
/// even a non-idempotent request may be resent) and, for requests safe to
/// repeat, the 5xx a gateway returns.
pub(crate) fn retryable_status(status: u16, idempotent: bool) -> bool {
    status == 429 || (idempotent && matches!(status, 500 | 502 | 503 | 504))
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
            transport: self.transport.clone(),
            guard,
            retry: self.retry.clone(),
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

    /// Sends and reads the answer through the guard, the head (and a JSON
    /// body) within the call deadline.
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
            let read = if json {
                self.guard.json(&asked, response).await
            } else {
                self.guard.stream(&asked, response).await
            };
            read.map(Answer).map_err(Failure::Local)
        };
        deadline::call(self.guard.limits.timeout, exchange)
            .await
            .map_err(Failure::Local)?
    }
}

async fn acquire(limiter: Option<&RateLimiter>) -> Option<crate::ratelimit::RatePermit> {
    match limiter {
        Some(limiter) => Some(limiter.acquire().await),
        None => None,
    }
}

/// Authentication failed before anything was sent, so even a
/// non-idempotent request may try again if the failure is transient.
fn unsent(e: Error) -> Verdict<Outcome> {
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

/// A send that produced no answer: a refused connection may always be
/// retried; a failure after the request may have arrived (a body cut
/// short, a call past its deadline) only if the request is safe to repeat.
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

fn failed(failure: Failure, idempotent: bool) -> Verdict<Outcome> {
    let again = match &failure {
        Failure::Network(e) => network_error_is_safe_to_retry(e, idempotent),
        Failure::Local(e) => idempotent && e.is_retryable(),
    };
    if again {
        Verdict::Retry {
            last: Err(failure),
            after: None,
        }
    } else {
        Verdict::Done(Err(failure))
    }
}
