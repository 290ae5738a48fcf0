//! The OAuth access-token cache shared by the vendors that use bearer tokens
//! (ConductorOne and Atlas service accounts).
//!
//! A vendor supplies only how a token is obtained (a [`TokenSource`]); the
//! cache decides when. One cache per client, shared by its clones. It hands
//! out the cached token until shortly before expiry, lets exactly one caller
//! fetch a new one while the others wait for it (so N concurrent calls cost
//! one token request, which matters where the vendor caps live tokens), and
//! replaces a token the server rejected once rather than once per concurrent
//! caller. Expiry is tracked on `tokio::time::Instant` so tests can prove the
//! timing on a paused clock.

use crate::{Result, SecretString};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// A token as a source hands it out.
pub(crate) struct Token {
    pub secret: SecretString,
    /// `None`: never expires as far as we know (a user-supplied token).
    pub lifetime: Option<Duration>,
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where tokens come from: the vendor-specific half of the cache.
pub(crate) trait TokenSource: Send + Sync + fmt::Debug {
    /// Obtains a fresh token.
    fn fetch(&self) -> BoxFuture<'_, Result<Token>>;
    /// Whether asking again can give a different token (false for a fixed
    /// user-supplied token: a 401 is then final).
    // Only ConductorOne accepts fixed tokens, so Atlas never asks.
    #[cfg_attr(not(feature = "conductorone"), allow(dead_code))]
    fn can_refresh(&self) -> bool {
        true
    }
}

struct Cached {
    secret: SecretString,
    refresh_at: Option<Instant>,
    generation: u64,
}

impl Cached {
    fn is_fresh(&self) -> bool {
        self.refresh_at.is_none_or(|t| Instant::now() < t)
    }
}

/// The cache. `generation` identifies which token a request used, so a 401
/// for an already-replaced token does not trigger another fetch.
///
/// Generic over the source so a vendor can still reach its own source (Atlas
/// revokes through it); `dyn TokenSource` serves a vendor with several kinds.
pub(crate) struct TokenCache<S: TokenSource + ?Sized = dyn TokenSource> {
    source: Box<S>,
    margin: Duration,
    max_lifetime: Option<Duration>,
    slot: tokio::sync::Mutex<Option<Cached>>,
    generation: AtomicU64,
    fetches: AtomicU64,
}

impl<S: TokenSource + ?Sized> fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.source)
            .field("margin", &self.margin)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// When to replace a token of `lifetime` obtained at `now`: `margin` before
/// expiry, or halfway for tokens too short-lived for that margin (a margin as
/// large as the lifetime would refetch on every call). `None` if the deadline
/// is beyond what `Instant` can hold: the server's 401 will tell us.
fn refresh_deadline(now: Instant, lifetime: Duration, margin: Duration) -> Option<Instant> {
    // `checked_mul`: the margin is user-configurable and may be absurd.
    let wait = if margin.checked_mul(2).is_some_and(|m| lifetime > m) {
        lifetime - margin
    } else {
        lifetime / 2
    };
    now.checked_add(wait)
}

impl<S: TokenSource + ?Sized> TokenCache<S> {
    /// A cache replacing tokens `margin` before they expire.
    pub(crate) fn new(source: Box<S>, margin: Duration) -> Self {
        TokenCache {
            source,
            margin,
            max_lifetime: None,
            slot: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    /// Believes no lifetime longer than `cap`, for vendors whose tokens are
    /// known to be short-lived: a wild `expires_in` then costs an early
    /// refresh instead of using a token long after the server dropped it.
    #[cfg_attr(not(feature = "atlas"), allow(dead_code))]
    pub(crate) fn with_max_lifetime(mut self, cap: Duration) -> Self {
        self.max_lifetime = Some(cap);
        self
    }

    /// The vendor's source.
    #[cfg_attr(not(feature = "atlas"), allow(dead_code))]
    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// How many tokens were fetched so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    #[cfg_attr(not(feature = "conductorone"), allow(dead_code))]
    pub(crate) fn can_refresh(&self) -> bool {
        self.source.can_refresh()
    }

    /// A valid token and its generation, fetching one if needed. Concurrent
    /// callers queue on the lock, so only the first of them fetches.
    pub(crate) async fn get(&self) -> Result<(SecretString, u64)> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.is_fresh()) {
            return Ok((c.secret.clone(), c.generation));
        }
        // A token past its refresh deadline stays in the slot if the fetch
        // fails: it is never handed out again, but may still be live at the
        // server for up to the margin, so a revoke must still find it.
        self.fetch_into(&mut slot).await
    }

    /// The server rejected the token of `generation`: fetch a new one unless
    /// another caller already did.
    #[cfg_attr(not(any(test, feature = "conductorone")), allow(dead_code))]
    pub(crate) async fn replace_rejected(&self, generation: u64) -> Result<(SecretString, u64)> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref() {
            if c.generation != generation && c.is_fresh() {
                return Ok((c.secret.clone(), c.generation));
            }
        }
        // Drop the rejected token first: if the fetch fails, nobody keeps
        // using it.
        *slot = None;
        self.fetch_into(&mut slot).await
    }

    /// The server rejected the token of `generation`: forget it (unless it
    /// was already replaced) so the next [`get`](Self::get) fetches, for
    /// callers that do not re-send the rejected request themselves.
    #[cfg_attr(not(feature = "atlas"), allow(dead_code))]
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.generation == generation) {
            *slot = None;
        }
    }

    /// Removes the cached token, expired or not, and runs `f` on it while
    /// still holding the lock, so that no caller fetches a replacement
    /// before `f` (a revocation) is done. `None` if nothing was cached.
    /// `f` must not use this cache: it would wait for itself.
    #[cfg_attr(not(feature = "atlas"), allow(dead_code))]
    pub(crate) async fn take_then<F, Fut, R>(&self, f: F) -> Option<R>
    where
        F: FnOnce(SecretString) -> Fut,
        Fut: Future<Output = R>,
    {
        let mut slot = self.slot.lock().await;
        let cached = slot.take()?;
        Some(f(cached.secret).await)
    }

    async fn fetch_into(&self, slot: &mut Option<Cached>) -> Result<(SecretString, u64)> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        // The server starts the lifetime when it issues the token, somewhere
        // during the exchange: counting from before the request errs early.
        let requested = Instant::now();
        let token = self.source.fetch().await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let lifetime = match (token.lifetime, self.max_lifetime) {
            (Some(l), Some(cap)) => Some(l.min(cap)),
            (l, _) => l,
        };
        let refresh_at = lifetime.and_then(|l| refresh_deadline(requested, l, self.margin));
        tracing::debug!(
            generation,
            lifetime_s = lifetime.map(|l| l.as_secs()),
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

/// Reads an OAuth token response (RFC 6749 §5.1), as every vendor's token
/// endpoint sends it: a non-empty `access_token`, a `token_type` of
/// `Bearer` if any, and `expires_in` in seconds, a number or (int64 over
/// JSON) a string; without it, an hour, and a 401 corrects us.
pub(crate) fn parse_token_response(body: &[u8]) -> Result<Token> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        access_token: Option<String>,
        token_type: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|e| {
        crate::Error::decode(format!("the token response is not an OAuth token ({e})"))
    })?;
    let access_token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| crate::Error::decode("the token response has no access_token"))?;
    if let Some(tt) = parsed.token_type.as_deref() {
        if !tt.is_empty() && !tt.eq_ignore_ascii_case("bearer") {
            return Err(crate::Error::decode(format!(
                "the token response has an unsupported token_type `{tt}`"
            )));
        }
    }
    Ok(Token {
        secret: SecretString::new(access_token),
        lifetime: Some(
            parse_lifetime(parsed.expires_in.as_ref()).unwrap_or(Duration::from_secs(3600)),
        ),
    })
}

/// `expires_in` as a number or a string of one.
fn parse_lifetime(v: Option<&serde_json::Value>) -> Option<Duration> {
    let secs = match v? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn token_responses_parse_leniently() {
        let lifetime = |body: &str| parse_token_response(body.as_bytes()).map(|t| t.lifetime);
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":600}"#).unwrap(),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":"3600"}"#).unwrap(),
            hour
        );
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":-1}"#).unwrap(),
            hour
        );
        assert_eq!(
            lifetime(r#"{"access_token":"t","token_type":"Bearer"}"#).unwrap(),
            hour
        );
        for bad in [
            r#"{"access_token":""}"#,
            r#"{"access_token":"t","token_type":"mac"}"#,
            "<html>",
        ] {
            assert_eq!(
                lifetime(bad).unwrap_err().kind(),
                crate::ErrorKind::Decode,
                "{bad}"
            );
        }
    }
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

    const TEN_S: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn refreshes_ten_seconds_before_expiry() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = TokenCache::new(Box::new(source.clone()), TEN_S);
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
        let cache = TokenCache::new(Box::new(source.clone()), TEN_S);
        cache.get().await.unwrap();
        tokio::time::sleep(Duration::from_millis(3900)).await;
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-1");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-2");
    }

    #[tokio::test(start_paused = true)]
    async fn one_fetch_for_many_concurrent_callers() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = TokenCache::new(Box::new(source.clone()), TEN_S);
        let all = futures::future::join_all((0..50).map(|_| cache.get())).await;
        assert!(all
            .iter()
            .all(|t| t.as_ref().unwrap().0.expose() == "tok-1"));
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_token_is_replaced_once() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = TokenCache::new(Box::new(source.clone()), TEN_S);
        let (_, generation) = cache.get().await.unwrap();
        // Ten requests that all used generation 1 get 401 at once.
        let replaced = (0..10).map(|_| cache.replace_rejected(generation));
        let all = futures::future::join_all(replaced).await;
        assert!(all
            .iter()
            .all(|t| t.as_ref().unwrap().0.expose() == "tok-2"));
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn invalidate_forgets_only_the_rejected_generation() {
        let source = FakeSource::new(Duration::from_secs(600));
        let cache = TokenCache::new(Box::new(source.clone()), TEN_S);
        let (_, first) = cache.get().await.unwrap();
        cache.invalidate(first).await;
        let (token, second) = cache.get().await.unwrap();
        assert_eq!(token.expose(), "tok-2");
        // A late 401 for the first token must not discard its replacement.
        cache.invalidate(first).await;
        assert_eq!(cache.get().await.unwrap(), (token, second));
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.fetches(), 2);
        // Revocation takes the token; the next call fetches anew.
        let taken = cache.take_then(|t| async move { t.expose().to_string() });
        assert_eq!(taken.await.as_deref(), Some("tok-2"));
        assert!(cache.take_then(|_| async {}).await.is_none());
        assert_eq!(cache.get().await.unwrap().0.expose(), "tok-3");
    }

    #[tokio::test(start_paused = true)]
    async fn lifetimes_are_capped_and_absurd_margins_do_not_panic() {
        let source = FakeSource {
            latency: Duration::ZERO,
            ..FakeSource::new(Duration::MAX)
        };
        let capped = TokenCache::new(Box::new(source.clone()), Duration::MAX)
            .with_max_lifetime(Duration::from_secs(100));
        assert_eq!(capped.get().await.unwrap().0.expose(), "tok-1");
        // A margin beyond the lifetime falls back to halfway: 50 s.
        tokio::time::advance(Duration::from_secs(49)).await;
        assert_eq!(capped.get().await.unwrap().0.expose(), "tok-1");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(capped.get().await.unwrap().0.expose(), "tok-2");
        // Uncapped, a deadline `Instant` cannot hold means no deadline.
        let uncapped = TokenCache::new(Box::new(source), TEN_S);
        assert_eq!(uncapped.get().await.unwrap().0.expose(), "tok-3");
        tokio::time::advance(Duration::from_secs(365 * 86_400)).await;
        assert_eq!(uncapped.get().await.unwrap().0.expose(), "tok-3");
    }
}
