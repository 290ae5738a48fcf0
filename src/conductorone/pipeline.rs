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
use crate::http::attempt::{bearer, by_status, Answer, Core, Decision, Scheme};
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
        Ok(by_status(status, idempotent))
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
mod tests {
    use super::*;
    use crate::conductorone::credentials::REFRESH_MARGIN;
    use crate::conductorone::error::C1Errors;
    use crate::hooks::VendorErrors as _;
    use crate::http::transport::tests::FakeTransport;
    use crate::token::tests::FakeSource;
    use crate::ErrorKind;
    use std::time::Duration;

    const EXPORTER: &str =
        r#"{"exporter":{"exportId":"e1","displayName":"x","state":"EXPORT_STATE_PAUSED"}}"#;

    /// Gets an exporter through a client whose transport answers with
    /// `replies` (status and body) in turn; returns the result, the bearer
    /// credential each request carried and the tokens fetched.
    async fn get_exporter(
        replies: [(u16, &'static str); 2],
    ) -> (crate::Result<()>, Vec<String>, u64) {
        let transport = FakeTransport::new(move |n, _| (replies[n].0, vec![], replies[n].1.into()));
        let source = FakeSource {
            latency: Duration::ZERO,
            ..FakeSource::new(Duration::from_secs(600))
        };
        let pipeline = Pipeline::new(
            TokenCache::new(Box::new(source), REFRESH_MARGIN),
            RetryPolicy::disabled(),
            Arc::new(transport.clone()),
            Guard::default(),
        );
        let c = generated::Client::new_with_client(
            "http://127.0.0.1:9",
            reqwest::Client::new(),
            pipeline,
        );
        let got = C1Errors::call(c.get_exporter().export_id("e1").send()).await;
        let bearers = transport
            .header_values("authorization")
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        (
            got.map(drop),
            bearers,
            c.inner.inner.scheme.tokens.fetches(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_refreshes_once() {
        let (got, bearers, fetches) =
            get_exporter([(401, r#"{"code":16,"message":"expired"}"#), (200, EXPORTER)]).await;
        got.unwrap();
        assert_eq!(bearers, ["Bearer tok-1", "Bearer tok-2"]);
        assert_eq!(fetches, 2);

        let (got, bearers, _) = get_exporter([
            (401, r#"{"code":16,"message":"expired"}"#),
            (401, r#"{"code":16,"message":"still no"}"#),
        ])
        .await;
        let err = got.unwrap_err();
        assert_eq!(
            (err.kind(), err.message(), err.code()),
            (ErrorKind::Auth, "still no", Some("16"))
        );
        assert_eq!(bearers.len(), 2);
    }
}
