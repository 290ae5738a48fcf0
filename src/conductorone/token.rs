//! Access tokens: the client-credentials exchange and the shared token cache.
//!
//! One cache per client (shared by its clones). It hands out the cached
//! token until shortly before expiry, lets exactly one caller fetch a new one
//! while the others wait for it, and replaces a token the server rejected
//! without refetching once per concurrent caller. Expiry is tracked on
//! `tokio::time::Instant` so tests can prove the timing on a paused clock.

use super::assertion::{build_assertion, new_nonce, Claims};
use super::credentials::{ClientId, ClientSecret};
use super::errors::{error_of_kind, kind_for_status};
use crate::{Error, Result, SecretString, Vendor};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long before expiry a token is replaced (C1's Go SDK uses 10 s).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(10);

/// A token as a source hands it out.
pub(crate) struct Token {
    pub secret: SecretString,
    /// `None`: never expires as far as we know (a user-supplied token).
    pub lifetime: Option<Duration>,
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where tokens come from.
pub(crate) trait TokenSource: Send + Sync + fmt::Debug {
    /// Obtains a fresh token.
    fn fetch(&self) -> BoxFuture<'_, Result<Token>>;
    /// Whether asking again can give a different token (false for a fixed
    /// user-supplied token: a 401 is then final).
    fn can_refresh(&self) -> bool {
        true
    }
}

struct Cached {
    secret: SecretString,
    refresh_at: Option<Instant>,
    generation: u64,
}

/// The cache. `generation` identifies which token a request used, so a 401
/// for an already-replaced token does not trigger another fetch.
pub(crate) struct TokenCache {
    source: Box<dyn TokenSource>,
    slot: tokio::sync::Mutex<Option<Cached>>,
    generation: AtomicU64,
    fetches: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.source)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// When to replace a token of `lifetime` obtained at `now`: 10 s before
/// expiry, or halfway for tokens too short-lived for that margin.
fn refresh_deadline(now: Instant, lifetime: Duration) -> Instant {
    if lifetime > REFRESH_MARGIN * 2 {
        now + (lifetime - REFRESH_MARGIN)
    } else {
        now + lifetime / 2
    }
}

impl TokenCache {
    pub(crate) fn new(source: Box<dyn TokenSource>) -> Self {
        TokenCache {
            source,
            slot: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many tokens were fetched so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    pub(crate) fn can_refresh(&self) -> bool {
        self.source.can_refresh()
    }

    /// A valid token and its generation, fetching one if needed. Concurrent
    /// callers queue on the lock, so only the first of them fetches.
    pub(crate) async fn get(&self) -> Result<(SecretString, u64)> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref() {
            if c.refresh_at.is_none_or(|t| Instant::now() < t) {
                return Ok((c.secret.clone(), c.generation));
            }
        }
        self.fetch_into(&mut slot).await
    }

    /// The server rejected the token of `generation`: fetch a new one unless
    /// another caller already did.
    pub(crate) async fn replace_rejected(&self, generation: u64) -> Result<(SecretString, u64)> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref() {
            if c.generation != generation && c.refresh_at.is_none_or(|t| Instant::now() < t) {
                return Ok((c.secret.clone(), c.generation));
            }
        }
        self.fetch_into(&mut slot).await
    }

    async fn fetch_into(&self, slot: &mut Option<Cached>) -> Result<(SecretString, u64)> {
        // Drop the stale token first: if the fetch fails, nobody keeps using it.
        *slot = None;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        // The server starts the lifetime when it issues the token, somewhere
        // during the exchange: counting from before the request errs early.
        let requested = Instant::now();
        let token = self.source.fetch().await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let refresh_at = token.lifetime.map(|l| refresh_deadline(requested, l));
        tracing::debug!(
            generation,
            lifetime_s = token.lifetime.map(|l| l.as_secs()),
            "obtained access token"
        );
        *slot = Some(Cached {
            secret: token.secret.clone(),
            refresh_at,
            generation,
        });
        Ok((token.secret, generation))
    }
}

/// A user-supplied bearer token.
pub(crate) struct StaticToken(pub SecretString);

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(***)")
    }
}

impl TokenSource for StaticToken {
    fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
        let secret = self.0.clone();
        Box::pin(async move {
            Ok(Token {
                secret,
                lifetime: None,
            })
        })
    }
    fn can_refresh(&self) -> bool {
        false
    }
}

/// The client-credentials exchange at `<endpoint>/auth/v1/token`.
pub(crate) struct Exchange {
    pub http: reqwest::Client,
    pub token_url: url::Url,
    /// The `aud` claim: the host we talk to, without port.
    pub audience: String,
    pub client_id: ClientId,
    pub secret: ClientSecret,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("token_url", &self.token_url.as_str())
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .field("secret", &"***")
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// `expires_in` as a number or (int64 over JSON) a string.
fn parse_lifetime(v: Option<&serde_json::Value>) -> Option<Duration> {
    let secs = match v? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

impl Exchange {
    async fn exchange(&self) -> Result<Token> {
        let claims = Claims::new(
            self.client_id.as_str(),
            &self.audience,
            std::time::SystemTime::now(),
        );
        let assertion = build_assertion(&claims, &self.secret, &new_nonce());
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .header(http::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::from(e).with_vendor(Vendor::ConductorOne))?;
        let status = response.status().as_u16();
        if status != 200 {
            let headers = response.headers().clone();
            let body = crate::download::read_error_body(response).await;
            // A 400 here means the server judged the assertion (OAuth's
            // `invalid_client`/`invalid_grant`): an authentication failure.
            let kind = if status == 400 {
                crate::ErrorKind::Auth
            } else {
                kind_for_status(status)
            };
            let err = error_of_kind(kind, status, &headers, &body, Some("token exchange failed"));
            return Err(err);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::from(e).with_vendor(Vendor::ConductorOne))?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            Error::decode(format!(
                "token exchange: response is not a token response ({e})"
            ))
            .with_vendor(Vendor::ConductorOne)
        })?;
        let access_token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::decode("token exchange: response has no access_token")
                    .with_vendor(Vendor::ConductorOne)
            })?;
        if let Some(tt) = parsed.token_type.as_deref() {
            if !tt.is_empty() && !tt.eq_ignore_ascii_case("bearer") {
                return Err(Error::decode(format!(
                    "token exchange: unsupported token_type `{tt}`"
                ))
                .with_vendor(Vendor::ConductorOne));
            }
        }
        Ok(Token {
            secret: SecretString::new(access_token),
            // No expires_in: assume C1's usual hour and let a 401 correct us.
            lifetime: Some(
                parse_lifetime(parsed.expires_in.as_ref()).unwrap_or(Duration::from_secs(3600)),
            ),
        })
    }
}

impl TokenSource for Exchange {
    fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
        Box::pin(self.exchange())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A source handing out `tok-1`, `tok-2`, … after a simulated round trip.
    #[derive(Debug, Clone)]
    pub(crate) struct FakeSource {
        pub calls: Arc<AtomicU64>,
        pub lifetime: Duration,
        pub latency: Duration,
    }

    impl FakeSource {
        pub(crate) fn new(lifetime: Duration) -> Self {
            FakeSource {
                calls: Arc::default(),
                lifetime,
                latency: Duration::from_millis(50),
            }
        }
    }

    impl TokenSource for FakeSource {
        fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
            Box::pin(async move {
                tokio::time::sleep(self.latency).await;
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Token {
                    secret: SecretString::new(format!("tok-{n}")),
                    lifetime: Some(self.lifetime),
                })
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_ten_seconds_before_expiry() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = TokenCache::new(Box::new(source.clone()));
        let start = Instant::now();
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-1");
        // The fetch itself took 50 ms; the deadline counts from its start,
        // since the server may have started the lifetime right away.
        tokio::time::sleep_until(start + Duration::from_millis(589_990)).await;
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-1");
        tokio::time::sleep_until(start + Duration::from_secs(590)).await;
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-2");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_tokens_refresh_halfway() {
        let source = FakeSource::new(Duration::from_secs(8));
        let cache = TokenCache::new(Box::new(source.clone()));
        cache.get().await.unwrap();
        tokio::time::sleep(Duration::from_millis(3900)).await;
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-1");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-2");
    }

    #[tokio::test(start_paused = true)]
    async fn one_fetch_for_many_concurrent_callers() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = Arc::new(TokenCache::new(Box::new(source.clone())));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get().await.unwrap().0.expose().to_string() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), "tok-1");
        }
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_token_is_replaced_once() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = Arc::new(TokenCache::new(Box::new(source.clone())));
        let (_, generation) = cache.get().await.unwrap();
        // Ten requests that all used generation 1 get 401 at once.
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    cache
                        .replace_rejected(generation)
                        .await
                        .unwrap()
                        .0
                        .expose()
                        .to_string()
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), "tok-2");
        }
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn lifetimes_parse_leniently() {
        use serde_json::json;
        assert_eq!(
            parse_lifetime(Some(&json!(600))),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            parse_lifetime(Some(&json!("3600"))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_lifetime(Some(&json!(-1))), None);
        assert_eq!(parse_lifetime(None), None);
    }
}
