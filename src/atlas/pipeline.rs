//! The Atlas side of the shared attempt loop ([`crate::http::attempt`]):
//! versioned `Accept`, Digest or bearer authentication, the retry rules
//! and deprecation warnings.
//!
//! It runs inside the generated client's `exec` hook, so generated calls
//! and the hand-written ones (pagination, downloads) share one behaviour.
//! Retries cover 429 and 503 (honouring `Retry-After`) and transport
//! failures that are safe to repeat; no other 4xx is repeated, except that a
//! Digest 401 challenge is answered once within the same attempt.

use super::credentials::{challenge_from, DigestState, Tokens};
use super::generated;
use super::version::Pins;
use crate::hooks::carry;
use crate::http::attempt::{bearer, Answer, Core, Decision, Scheme};
use crate::http::redact::Redactor;
use crate::http::transport::Transport;
use crate::http::Guard;
use crate::retry::RetryPolicy;
use crate::{Error, ErrorKind, RateLimiter, SecretString, Vendor};
use http::{header, HeaderValue, StatusCode};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The state the generated client carries: authentication, retry policy,
/// rate limit and version pins. Built by [`ClientBuilder`](super::ClientBuilder);
/// public only because the generated client names it.
#[doc(hidden)]
#[derive(Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
    pins: Pins,
}

struct Shared {
    core: Core,
    scheme: AtlasAuth,
    limiter: Option<RateLimiter>,
    /// Deprecated versions already warned about: one warning per version
    /// and client is enough; a listing of 100 pages would say it 100 times.
    warned: std::sync::Mutex<std::collections::HashSet<&'static str>>,
}

pub(crate) enum Auth {
    Digest {
        user: String,
        password: SecretString,
        state: DigestState,
    },
    Bearer(Tokens),
}

/// How Atlas requests are authenticated.
struct AtlasAuth {
    auth: Auth,
    redactor: Redactor,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.shared.scheme.auth {
            Auth::Digest { user, .. } => user.as_str(),
            Auth::Bearer(t) => t.source().client_id(),
        };
        f.debug_struct("Pipeline")
            .field("auth", &self.scheme())
            .field("principal", &who)
            .field("retry", self.shared.core.retry())
            .field("pins", &self.pins)
            .finish_non_exhaustive()
    }
}

impl Scheme for AtlasAuth {
    const VENDOR: Vendor = Vendor::Atlas;
    /// The generation of the bearer token the call sent.
    type Call = AtomicU64;

    async fn authenticate(
        &self,
        req: &mut reqwest::Request,
        generation: &AtomicU64,
    ) -> crate::Result<()> {
        match &self.auth {
            Auth::Digest {
                user,
                password,
                state,
            } => {
                // Without a cached challenge the request goes out bare and
                // the 401 challenge is answered (see `classify`).
                let uri = request_target(req.url());
                if let Some(h) = state.authorize(req.method().as_str(), &uri, user, password) {
                    let v = HeaderValue::from_str(&h).map_err(|_| {
                        super::credentials::cred_err(
                            "the API key contains characters that cannot travel in an HTTP header",
                        )
                    })?;
                    req.headers_mut().insert(header::AUTHORIZATION, v);
                }
                Ok(())
            }
            Auth::Bearer(tokens) => {
                let (token, g) = tokens.get().await?;
                generation.store(g, Ordering::SeqCst);
                bearer(req, &token, &self.redactor).map_err(|_| {
                    Error::decode(
                        "the token endpoint returned a token that is not a valid header value",
                    )
                    .with_vendor(Vendor::Atlas)
                })
            }
        }
    }

    async fn classify(
        &self,
        answer: &mut Answer,
        _: bool,
        generation: &AtomicU64,
    ) -> crate::Result<Decision> {
        let status = answer.status();
        if status == StatusCode::UNAUTHORIZED {
            match &self.auth {
                Auth::Digest { state, .. } => {
                    if let Some(challenge) = challenge_from(answer.headers()) {
                        if !challenge.is_supported() {
                            return Err(Error::new(
                                ErrorKind::Auth,
                                format!(
                                    "the server asks for Digest {} / qop {:?}, which this client does not implement",
                                    challenge.algorithm.as_deref().unwrap_or("MD5"),
                                    challenge.qop
                                ),
                            )
                            .with_vendor(Vendor::Atlas)
                            .with_status(401));
                        }
                        tracing::debug!(stale = challenge.stale, "answering Digest challenge");
                        state.replace(challenge);
                        return Ok(Decision::Reauthenticate);
                    }
                }
                // Revoked or expired early: the next call fetches a fresh
                // token. This call is not repeated.
                Auth::Bearer(tokens) => tokens.invalidate(generation.load(Ordering::SeqCst)).await,
            }
        }
        if matches!(status.as_u16(), 429 | 503) {
            let after = crate::retry::retry_after_header(answer.headers());
            tracing::info!(
                status = status.as_u16(),
                retry_after_ms = after.map(|d| d.as_millis() as u64),
                "Atlas asked us to slow down"
            );
            return Ok(Decision::Retry);
        }
        Ok(Decision::Done)
    }
}

impl Pipeline {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        auth: Auth,
        retry: RetryPolicy,
        limiter: Option<RateLimiter>,
    ) -> Self {
        let guard = Guard::default();
        Pipeline {
            shared: Arc::new(Shared {
                scheme: AtlasAuth {
                    auth,
                    redactor: guard.redactor.clone(),
                },
                core: Core::new(transport, guard, retry),
                limiter,
                warned: Default::default(),
            }),
            pins: Pins::default(),
        }
    }

    /// Uses `guard`'s deadlines, caps and redactor (the builder's). Only on
    /// a pipeline not yet cloned.
    pub(crate) fn with_guard(mut self, guard: Guard) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.scheme.redactor = guard.redactor.clone();
            shared.core = shared.core.with_guard(guard);
        }
        self
    }

    pub(crate) fn with_pins(&self, pins: Pins) -> Self {
        Pipeline {
            shared: self.shared.clone(),
            pins,
        }
    }

    pub(crate) fn pins(&self) -> &Pins {
        &self.pins
    }

    pub(crate) fn tokens(&self) -> Option<&Tokens> {
        match &self.shared.scheme.auth {
            Auth::Bearer(t) => Some(t),
            Auth::Digest { .. } => None,
        }
    }

    pub(crate) fn scheme(&self) -> &'static str {
        match &self.shared.scheme.auth {
            Auth::Digest { .. } => "digest",
            Auth::Bearer(_) => "service-account",
        }
    }

    /// Runs `request` for `operation` to completion. A failure that has no
    /// response of its own comes back as a synthetic error response (see
    /// [`crate::hooks::carry`]), because the hook's signature
    /// only admits `reqwest` errors.
    pub(crate) async fn execute(
        &self,
        mut request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let Some(accept) = self.pins.accept(operation) else {
            let err = Error::new(
                ErrorKind::Version,
                format!("no API resource version is known for `{operation}`"),
            )
            .with_vendor(Vendor::Atlas);
            // The hook names the operation (`hooks::exit`).
            return Ok(carry(err));
        };
        let idempotent = matches!(
            *request.method(),
            http::Method::GET | http::Method::HEAD | http::Method::PUT | http::Method::DELETE
        );
        request
            .headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static(accept));
        tracing::debug!(operation, accept, "sending");
        let shared = &self.shared;
        let limiter = shared.limiter.as_ref();
        let result = shared
            .core
            .execute(&shared.scheme, request, operation, idempotent, limiter)
            .await;
        if let Ok(response) = &result {
            surface_deprecation(response, operation, accept, |version| {
                shared
                    .warned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(version)
            });
        }
        result
    }
}

/// The request target as it appears on the request line, which is what the
/// Digest `uri` must repeat.
pub(crate) fn request_target(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Logs `Deprecation`/`Sunset` once per version at WARN (`first_time`
/// records the version and says whether it was new), later at DEBUG. Only
/// responses that carry the headers count, so an early error answer
/// without them cannot use up the warning.
fn surface_deprecation(
    response: &reqwest::Response,
    operation: &str,
    accept: &'static str,
    first_time: impl FnOnce(&'static str) -> bool,
) {
    let h = response.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    let (deprecation, sunset) = (get("deprecation"), get("sunset"));
    if deprecation.is_none() && sunset.is_none() {
        return;
    }
    let (deprecation, sunset) = (deprecation.unwrap_or("-"), sunset.unwrap_or("-"));
    if first_time(accept) {
        tracing::warn!(
            operation,
            version = accept,
            deprecation,
            sunset,
            "Atlas reports this API resource version as deprecated; pin a newer one before the sunset"
        );
    } else {
        tracing::debug!(
            operation,
            version = accept,
            deprecation,
            sunset,
            "deprecated API resource version"
        );
    }
}

crate::hooks::exec_through_pipeline!();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::transport::tests::FakeTransport;

    const CHALLENGE: &str = "Digest realm=\"MMS Public API\", domain=\"\", nonce=\"N1\", algorithm=MD5, qop=\"auth\", stale=false";

    fn digest_pipeline(fake: &FakeTransport, retry: RetryPolicy) -> Pipeline {
        let auth = Auth::Digest {
            user: "pub".into(),
            password: "priv".into(),
            state: DigestState::default(),
        };
        Pipeline::new(Arc::new(fake.clone()), auth, retry, None)
    }

    fn get(path: &str) -> reqwest::Request {
        reqwest::Request::new(
            http::Method::GET,
            format!("http://127.0.0.1:9{path}").parse().unwrap(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn only_429_and_503_are_retried() {
        // A 401 without a challenge is not retried either.
        for (status, calls) in [
            (429u16, 2),
            (503, 2),
            (400, 1),
            (401, 1),
            (403, 1),
            (404, 1),
            (406, 1),
            (410, 1),
            (500, 1),
            (502, 1),
        ] {
            let fake = FakeTransport::new(move |_, _| (status, vec![], String::new()));
            let p = digest_pipeline(&fake, RetryPolicy::default().with_max_attempts(2));
            let r = p.execute(get("/x"), "list_processes").await.unwrap();
            assert_eq!((r.status().as_u16(), fake.calls()), (status, calls));
        }
    }

    #[tokio::test]
    async fn accept_is_the_versioned_media_type() {
        let fake = FakeTransport::new(|_, _| (200, vec![], String::new()));
        let p = digest_pipeline(&fake, RetryPolicy::disabled());
        let mut req = get("/x");
        req.headers_mut()
            .insert("accept", HeaderValue::from_static("application/json"));
        p.execute(req, "download_cluster_log").await.unwrap();
        let pinned = p.with_pins(p.pins().with("download_cluster_log", "2023-01-01").unwrap());
        pinned
            .execute(get("/x"), "download_cluster_log")
            .await
            .unwrap();
        let accepts = fake.header_values("accept");
        assert_eq!(
            accepts[0].as_deref(),
            Some(
                crate::atlas::version::entry("download_cluster_log")
                    .unwrap()
                    .default
            )
        );
        assert_eq!(
            accepts[1].as_deref(),
            Some("application/vnd.atlas.2023-01-01+gzip")
        );
    }

    #[tokio::test]
    async fn stale_nonce_costs_one_extra_round_trip() {
        let fake = FakeTransport::new(|n, req| {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            match (n, auth) {
                (_, None) => (
                    401,
                    vec![("www-authenticate", CHALLENGE.into())],
                    String::new(),
                ),
                (2, Some(_)) => (
                    401,
                    vec![(
                        "www-authenticate",
                        CHALLENGE
                            .replace("N1", "N2")
                            .replace("stale=false", "stale=true"),
                    )],
                    String::new(),
                ),
                (_, Some(_)) => (200, vec![], String::new()),
            }
        });
        let p = digest_pipeline(&fake, RetryPolicy::disabled());
        for _ in 0..3 {
            assert_eq!(
                p.execute(get("/x"), "list_processes")
                    .await
                    .unwrap()
                    .status(),
                200
            );
        }
        // 1: challenge, 2: ok, 3: stale, 4: ok with N2, 5: ok with N2
        assert_eq!(fake.calls(), 5);
        let nonces: Vec<_> = fake
            .header_values("authorization")
            .into_iter()
            .flatten()
            .map(|h| {
                let a = crate::atlas::digest::Authorization::parse(&h).unwrap();
                (a.nonce, a.nc)
            })
            .collect();
        assert_eq!(
            nonces,
            [
                ("N1".to_string(), 1),
                ("N1".to_string(), 2),
                ("N2".to_string(), 1),
                ("N2".to_string(), 2)
            ]
        );
    }
}
