//! Atlas credentials and the per-client state each scheme keeps.
//!
//! * API keys use HTTP Digest. Answering a fresh challenge on every call
//!   doubles the round trips (the official Go SDK does exactly that), so
//!   [`DigestState`] keeps the last challenge and reuses its nonce with an
//!   increasing nonce count until the server calls it stale.
//! * Service accounts use OAuth client credentials. Atlas allows at most 100
//!   live tokens per account, so the shared [`crate::token`] cache keeps one
//!   token per client (shared by clones) and lets exactly one caller fetch a
//!   replacement; [`ServiceAccount`] is how it fetches and revokes them.

use super::digest::{Authorization, Challenge};
use crate::http::attempt::Core;
use crate::token::{BoxFuture, Token, TokenCache, TokenSource};
use crate::{Endpoint, Error, ErrorKind, Result, SecretString, Vendor};
use base64::Engine as _;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Environment variable for the public half of an API key.
pub const ENV_PUBLIC_KEY: &str = "MONGODB_ATLAS_PUBLIC_API_KEY";
/// Environment variable for the private half of an API key.
pub const ENV_PRIVATE_KEY: &str = "MONGODB_ATLAS_PRIVATE_API_KEY";
/// Environment variable for a service account's client id.
pub const ENV_CLIENT_ID: &str = "MONGODB_ATLAS_CLIENT_ID";
/// Environment variable for a service account's client secret.
pub const ENV_CLIENT_SECRET: &str = "MONGODB_ATLAS_CLIENT_SECRET";
/// Environment variable overriding the endpoint (as the Atlas Terraform
/// provider and CLI tooling spell it).
pub const ENV_BASE_URL: &str = "MONGODB_ATLAS_BASE_URL";
/// The atlas CLI's name for the endpoint, read when [`ENV_BASE_URL`] is not
/// set.
pub const ENV_OPS_MANAGER_URL: &str = "MONGODB_ATLAS_OPS_MANAGER_URL";
/// Environment variable with the default project id (the atlas CLI's name).
pub const ENV_PROJECT_ID: &str = "MONGODB_ATLAS_PROJECT_ID";
/// Environment variable with the default organization id (the atlas CLI's
/// name).
pub const ENV_ORG_ID: &str = "MONGODB_ATLAS_ORG_ID";

/// What the environment says besides credentials: the endpoint and the
/// default project and organization, each trimmed and `None` when unset or
/// blank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvSettings {
    /// [`ENV_BASE_URL`], or else [`ENV_OPS_MANAGER_URL`].
    pub base_url: Option<String>,
    /// [`ENV_PROJECT_ID`]: the default for a project (`--project`).
    pub project_id: Option<String>,
    /// [`ENV_ORG_ID`]: the default for an organization (`--org`).
    pub org_id: Option<String>,
}

impl EnvSettings {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`from_env`](Self::from_env), over any variable lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| crate::env::var(&get, k);
        EnvSettings {
            base_url: get(ENV_BASE_URL).or_else(|| get(ENV_OPS_MANAGER_URL)),
            project_id: get(ENV_PROJECT_ID),
            org_id: get(ENV_ORG_ID),
        }
    }
}

/// A credentials error, from Atlas.
pub(crate) fn cred_err(msg: impl Into<String>) -> Error {
    Error::credentials(msg).with_vendor(Vendor::Atlas)
}

/// How a client proves who it is. `Debug` shows no secret: the secrets are
/// [`SecretString`]s.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// A programmatic API key, used with HTTP Digest.
    ApiKey {
        /// The public key (the Digest user name).
        public_key: String,
        /// The private key (the Digest password).
        private_key: SecretString,
    },
    /// A service account, used with OAuth 2.0 client credentials.
    ServiceAccount {
        /// The client id (`mdb_sa_id_…`).
        client_id: String,
        /// The client secret (`mdb_sa_sk_…`).
        client_secret: SecretString,
    },
}

impl Credentials {
    /// An API key pair for HTTP Digest.
    pub fn api_key(public_key: impl Into<String>, private_key: impl Into<SecretString>) -> Self {
        Credentials::ApiKey {
            public_key: public_key.into(),
            private_key: private_key.into(),
        }
    }

    /// Service-account client credentials for OAuth.
    pub fn service_account(
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        Credentials::ServiceAccount {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// Reads credentials from the environment: a service account
    /// (`MONGODB_ATLAS_CLIENT_ID` / `MONGODB_ATLAS_CLIENT_SECRET`) if both
    /// are set, else an API key (`MONGODB_ATLAS_PUBLIC_API_KEY` /
    /// `MONGODB_ATLAS_PRIVATE_API_KEY`). Half a pair is an error rather than
    /// a silent fall-through to the other scheme.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`from_env`](Self::from_env), over any variable lookup; blank
    /// values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| crate::env::var(&get, k);
        let pair = |a: &str, b: &str| -> Result<Option<(String, String)>> {
            match (get(a), get(b)) {
                (Some(x), Some(y)) => Ok(Some((x, y))),
                (None, None) => Ok(None),
                (Some(_), None) => Err(cred_err(format!("{a} is set but {b} is not"))),
                (None, Some(_)) => Err(cred_err(format!("{b} is set but {a} is not"))),
            }
        };
        if let Some((id, secret)) = pair(ENV_CLIENT_ID, ENV_CLIENT_SECRET)? {
            return Ok(Credentials::service_account(id, secret));
        }
        if let Some((public, private)) = pair(ENV_PUBLIC_KEY, ENV_PRIVATE_KEY)? {
            return Ok(Credentials::api_key(public, private));
        }
        Err(cred_err(format!(
            "no Atlas credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (service account) \
             or {ENV_PUBLIC_KEY} and {ENV_PRIVATE_KEY} (API key)"
        )))
    }

    pub(crate) fn check(&self) -> Result<()> {
        let (who, secret, what) = match self {
            Credentials::ApiKey {
                public_key,
                private_key,
            } => (public_key, private_key, "API key"),
            Credentials::ServiceAccount {
                client_id,
                client_secret,
            } => (client_id, client_secret, "service account"),
        };
        if who.trim().is_empty() || secret.is_empty() {
            return Err(cred_err(format!("the {what} has an empty part")));
        }
        if who.contains(':') && matches!(self, Credentials::ServiceAccount { .. }) {
            // Basic auth joins id and secret with ':'; an id containing one
            // would be split in the wrong place.
            return Err(cred_err("a service account client id cannot contain ':'"));
        }
        Ok(())
    }

    /// `"digest"` or `"service-account"`, for logs.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::ApiKey { .. } => "digest",
            Credentials::ServiceAccount { .. } => "service-account",
        }
    }
}

/// A cached challenge and how many requests have used its nonce.
#[derive(Debug)]
struct CachedChallenge {
    challenge: Challenge,
    nc: AtomicU32,
}

/// The Digest challenge a client reuses. Clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DigestState {
    current: Arc<Mutex<Option<Arc<CachedChallenge>>>>,
}

impl DigestState {
    /// An `Authorization` value for the next request, if a challenge is
    /// cached. Each call takes the next nonce count, so concurrent requests
    /// never share one.
    pub(crate) fn authorize(
        &self,
        method: &str,
        uri: &str,
        user: &str,
        password: &SecretString,
    ) -> Option<String> {
        let cached = self.current.lock().expect("digest lock").clone()?;
        let nc = cached.nc.fetch_add(1, Ordering::SeqCst) + 1;
        let cnonce = hex::encode(crate::random::bytes::<8>());
        let auth = Authorization::answer(
            &cached.challenge,
            method,
            uri,
            user,
            password.expose(),
            nc,
            &cnonce,
        );
        Some(auth.to_header_value())
    }

    /// Replaces the cached challenge (nonce count restarts at zero).
    pub(crate) fn replace(&self, challenge: Challenge) {
        *self.current.lock().expect("digest lock") = Some(Arc::new(CachedChallenge {
            challenge,
            nc: AtomicU32::new(0),
        }));
    }
}

/// Finds a Digest challenge among the `WWW-Authenticate` headers.
pub(crate) fn challenge_from(headers: &http::HeaderMap) -> Option<Challenge> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
}

/// The longest token lifetime believed, in seconds.
const MAX_TOKEN_LIFE: u64 = 86_400;

/// The service-account token cache a client and its clones share.
pub(crate) type Tokens = TokenCache<ServiceAccount>;

/// A cache for `source`'s tokens, replaced `margin` before they expire.
pub(crate) fn service_account_tokens(source: ServiceAccount, margin: Duration) -> Tokens {
    // `expires_in` comes from the server: no Atlas token lives longer than
    // an hour, so a day is a generous ceiling.
    TokenCache::new(Box::new(source), margin).with_max_lifetime(Duration::from_secs(MAX_TOKEN_LIFE))
}

/// Revokes the cached token, if any. Returns whether one was revoked. The
/// cache stays locked meanwhile, so no call fetches a new token before the
/// old one is gone.
pub(crate) async fn revoke(tokens: &Tokens) -> Result<bool> {
    let source = tokens.source();
    match tokens
        .take_then(|token| async move { source.revoke(&token).await })
        .await
    {
        Some(revoked) => revoked.map(|()| true),
        None => Ok(false),
    }
}

/// A service account's token endpoint: the Atlas half of [`Tokens`].
pub(crate) struct ServiceAccount {
    client_id: String,
    client_secret: SecretString,
    token_url: url::Url,
    revoke_url: url::Url,
    // The source is called from inside the cache, which knows nothing of
    // transports, so it carries the client's own core: the same transport,
    // redirect rule, caps, deadline and redaction as API calls.
    core: Core,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    pub(crate) fn new(
        endpoint: &Endpoint,
        client_id: String,
        client_secret: SecretString,
        core: Core,
    ) -> Result<Self> {
        let join = |p: &str| {
            url::Url::parse(&format!("{}{p}", endpoint.as_str()))
                .map_err(|e| Error::invalid_input("endpoint", e))
        };
        Ok(ServiceAccount {
            client_id,
            client_secret,
            token_url: join("/api/oauth/token")?,
            revoke_url: join("/api/oauth/revoke")?,
            core,
        })
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    fn basic(&self) -> String {
        let raw = format!("{}:{}", self.client_id, self.client_secret.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// POSTs a form to an OAuth endpoint with the account's Basic auth; a
    /// refusal becomes a token error.
    async fn post_form(&self, url: &url::Url, form: &str) -> Result<reqwest::Response> {
        let mut request = crate::http::attempt::form_post(url, form.to_string());
        let basic = self
            .basic()
            .parse()
            .expect("base64 is a valid header value");
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, basic);
        let response = self
            .core
            .send_once(request)
            .await
            .map_err(|e| e.with_vendor(Vendor::Atlas))?;
        if !response.status().is_success() {
            return Err(token_error(super::error::from_response(response).await));
        }
        Ok(response)
    }

    async fn request_token(&self) -> Result<Token> {
        let response = self
            .post_form(&self.token_url, "grant_type=client_credentials")
            .await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::from(e).with_vendor(Vendor::Atlas))?;
        crate::token::parse_token_response(&body).map_err(|e| e.with_vendor(Vendor::Atlas))
    }

    async fn revoke(&self, token: &SecretString) -> Result<()> {
        let form = serde_urlencoded::to_string([
            ("token", token.expose()),
            ("token_type_hint", "access_token"),
        ])
        .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        self.post_form(&self.revoke_url, &form).await.map(drop)
    }
}

impl TokenSource for ServiceAccount {
    fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
        Box::pin(self.request_token())
    }
}

/// How many live tokens Atlas lets one service account hold; past that
/// the token endpoint answers 403 until one is revoked or expires.
pub(crate) const MAX_LIVE_TOKENS: u32 = 100;

/// Token endpoint refusals are credential problems, whatever the status.
/// A 403 is almost always the live-token cap, which a bare "forbidden"
/// would leave the user to guess.
fn token_error(err: Error) -> Error {
    let refused = matches!(err.kind(), ErrorKind::Api | ErrorKind::Auth)
        && matches!(err.status(), Some(400..=499))
        && err.status() != Some(429);
    if !refused {
        return err;
    }
    let message = if err.status() == Some(403) {
        format!(
            "service-account token request refused (403): Atlas allows at most \
             {MAX_LIVE_TOKENS} live tokens per service account; revoke unused ones \
             (Client::revoke_token) or wait up to an hour for them to expire: {}",
            err.message()
        )
    } else {
        format!("service-account token request refused: {}", err.message())
    };
    let mut e = Error::new(ErrorKind::Auth, message).with_vendor(Vendor::Atlas);
    if let Some(s) = err.status() {
        e = e.with_status(s);
    }
    if let Some(c) = err.code() {
        e = e.with_code(c);
    }
    if let Some(id) = err.request_id() {
        e = e.with_request_id(id);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::transport::tests::FakeTransport;

    #[test]
    fn digest_state_counts_per_nonce() {
        let state = DigestState::default();
        let key = SecretString::new("priv");
        assert!(state.authorize("GET", "/x", "pub", &key).is_none());
        state.replace(Challenge::parse("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"").unwrap());
        let clone = state.clone();
        let a = Authorization::parse(&state.authorize("GET", "/x", "pub", &key).unwrap()).unwrap();
        let b = Authorization::parse(&clone.authorize("GET", "/x", "pub", &key).unwrap()).unwrap();
        assert_eq!((a.nc, b.nc), (1, 2), "clones share the count");
        assert_ne!(a.cnonce, b.cnonce);
        state.replace(Challenge::parse("Digest realm=\"r\", nonce=\"n2\", qop=\"auth\"").unwrap());
        let c = Authorization::parse(&clone.authorize("GET", "/x", "pub", &key).unwrap()).unwrap();
        assert_eq!((c.nonce.as_str(), c.nc), ("n2", 1));
    }

    /// The cache a client with the default 60 s margin builds.
    fn tokens(fake: &FakeTransport) -> Tokens {
        let endpoint = Endpoint::parse("http://127.0.0.1:9").unwrap();
        let core = Core::new(
            Arc::new(fake.clone()),
            Default::default(),
            Default::default(),
        );
        let account = ServiceAccount::new(&endpoint, "id".into(), "secret".into(), core);
        service_account_tokens(account.unwrap(), Duration::from_secs(60))
    }

    async fn token(tokens: &Tokens) -> Result<SecretString> {
        tokens.get().await.map(|(t, _)| t)
    }

    // Caching, single flight and the cap itself are the shared cache's
    // (tested in `crate::token`); what is Atlas's is the request, a Basic
    // POST to `/api/oauth/token`, and believing no token lives over a day.
    #[tokio::test(start_paused = true)]
    async fn token_requests_use_basic_auth_and_lifetimes_are_capped_at_a_day() {
        let fake = FakeTransport::new(|n, req| {
            assert_eq!(req.url().path(), "/api/oauth/token");
            let auth = req.headers()[http::header::AUTHORIZATION].to_str().unwrap();
            assert!(auth.starts_with("Basic "), "{auth}");
            let body = format!(r#"{{"access_token":"tok-{n}","expires_in":{}}}"#, u64::MAX);
            (200, vec![], body)
        });
        let source = tokens(&fake);
        assert_eq!(token(&source).await.unwrap().expose(), "tok-0");
        tokio::time::advance(Duration::from_secs(MAX_TOKEN_LIFE - 61)).await;
        assert_eq!(token(&source).await.unwrap().expose(), "tok-0");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(token(&source).await.unwrap().expose(), "tok-1");
        assert_eq!(fake.calls(), 2);
    }
}
