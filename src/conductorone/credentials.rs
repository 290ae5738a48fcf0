//! ConductorOne credentials: client ids, Ed25519 client secrets, bearer
//! tokens, and the client-credentials exchange that turns them into one.
//!
//! A C1 API client is `name@<tenant>.conductor.one/<use>` plus a secret
//! `secret-token:conductorone.com:v1:<base64url JWK>` holding an Ed25519
//! private key. Parsing failures say which part is wrong but never echo the
//! input: users paste secrets into the wrong variable often enough that even
//! the client id is not repeated back.

use super::assertion::{build_assertion, new_nonce, Claims};
use super::error::error_of_kind;
use crate::token::{BoxFuture, Token, TokenSource};
use crate::{Error, Result, SecretString, Vendor};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use ed25519_dalek::SigningKey;
use std::fmt;
use std::time::Duration;

/// The prefix of every v1 client secret.
pub const SECRET_PREFIX: &str = "secret-token:conductorone.com:v1:";

/// Environment variable holding the client id.
pub const ENV_CLIENT_ID: &str = "CONE_CLIENT_ID";
/// Environment variable holding the client secret.
pub const ENV_CLIENT_SECRET: &str = "CONE_CLIENT_SECRET";
/// Environment variable holding a ready-made bearer access token.
pub const ENV_ACCESS_TOKEN: &str = "CONE_ACCESS_TOKEN";
/// Environment variable overriding the API endpoint (logexport's own name;
/// needed with an access token, from which no host can be derived).
pub const ENV_ENDPOINT: &str = "CONE_ENDPOINT";

/// Every name each setting is read from, first match wins: cone's (and
/// logexport's) `CONE_*` names, then the official SDKs' `CONDUCTORONE_*`.
pub const ENV_CLIENT_ID_NAMES: [&str; 2] = [ENV_CLIENT_ID, "CONDUCTORONE_CLIENT_ID"];
/// See [`ENV_CLIENT_ID_NAMES`].
pub const ENV_CLIENT_SECRET_NAMES: [&str; 2] = [ENV_CLIENT_SECRET, "CONDUCTORONE_CLIENT_SECRET"];
/// See [`ENV_CLIENT_ID_NAMES`].
pub const ENV_ACCESS_TOKEN_NAMES: [&str; 2] = [ENV_ACCESS_TOKEN, "CONDUCTORONE_ACCESS_TOKEN"];
/// See [`ENV_CLIENT_ID_NAMES`]; `CONE_API_ENDPOINT` is cone's name and
/// `CONDUCTORONE_SERVER_URL` the SDKs'.
pub const ENV_ENDPOINT_NAMES: [&str; 3] =
    [ENV_ENDPOINT, "CONE_API_ENDPOINT", "CONDUCTORONE_SERVER_URL"];

/// The first of `names` that `lookup` finds non-blank, with its name and
/// its value trimmed ([`crate::env::var`]'s rule; every parser here trims
/// again, so trimming first changes no outcome).
pub(crate) fn first_set(
    lookup: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|n| crate::env::var(lookup, n).map(|v| (*n, v)))
}

/// The API base URL the environment names: one of [`ENV_ENDPOINT_NAMES`]
/// (a bare host gets `https://`), or else the host of the client id in
/// [`ENV_CLIENT_ID_NAMES`], so an access token alone with a client id still
/// reaches the right tenant, as cone does.
pub fn endpoint_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some((_, url)) = first_set(&lookup, &ENV_ENDPOINT_NAMES) {
        let url = url.trim();
        return Some(if url.contains("://") {
            url.to_string()
        } else {
            format!("https://{url}")
        });
    }
    let (_, id) = first_set(&lookup, &ENV_CLIENT_ID_NAMES)?;
    ClientId::parse(&id)
        .ok()
        .map(|id| format!("https://{}", id.host()))
}

const PADDING_INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, PADDING_INDIFFERENT);
const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, PADDING_INDIFFERENT);
const URL_SAFE_NO_PAD: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes base64url or standard base64, padded or not: C1 documents
/// base64url, but secrets copied through other tools arrive in either form.
pub(crate) fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    URL_SAFE_ANY
        .decode(s)
        .or_else(|_| STANDARD_ANY.decode(s))
        .ok()
}

/// Unpadded base64url, as JOSE wants it.
pub(crate) fn encode_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A credentials error, from ConductorOne.
pub(crate) fn cred_err(msg: impl Into<String>) -> Error {
    Error::credentials(msg).with_vendor(Vendor::ConductorOne)
}

/// `e`, prefixed with the environment variable its value came from.
fn in_var(var: &str, e: Error) -> Error {
    cred_err(format!("{var}: {}", e.message()))
}

/// A parsed client id, `name@<tenant>.conductor.one/<use>`.
///
/// The host between `@` and `/` is the tenant's API host.
///
/// ```
/// use logexport::conductorone::ClientId;
///
/// let id: ClientId = "robot@acme.conductor.one/logexport".parse().unwrap();
/// assert_eq!(id.host(), "acme.conductor.one");
/// assert_eq!(id.name(), "robot");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId {
    raw: String,
    at: usize,
    slash: usize,
}

impl ClientId {
    /// Parses and validates a client id.
    pub fn parse(s: &str) -> Result<Self> {
        let raw = s.trim();
        if raw.is_empty() {
            return Err(cred_err("client id is empty"));
        }
        if raw.starts_with("secret-token:") {
            return Err(cred_err("client id looks like a client secret; the id has the form `name@<tenant>.conductor.one/<use>`"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(cred_err("client id contains whitespace"));
        }
        let at = raw.find('@').ok_or_else(|| {
            cred_err("client id has no `@`; expected `name@<tenant>.conductor.one/<use>`")
        })?;
        let slash = raw[at..]
            .find('/')
            .map(|i| at + i)
            .ok_or_else(|| cred_err("client id has no `/<use>` after the host; expected `name@<tenant>.conductor.one/<use>`"))?;
        if at == 0 {
            return Err(cred_err("client id has an empty name before `@`"));
        }
        let host = &raw[at + 1..slash];
        if host.is_empty() {
            return Err(cred_err("client id has an empty host between `@` and `/`"));
        }
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.contains('.') || !host.split('.').all(valid_label) {
            return Err(cred_err(
                "client id host is not a DNS name like `<tenant>.conductor.one`",
            ));
        }
        if slash + 1 == raw.len() {
            return Err(cred_err("client id has an empty `<use>` after `/`"));
        }
        Ok(ClientId {
            raw: raw.to_string(),
            at,
            slash,
        })
    }

    /// The whole id, as sent in `iss`, `sub` and `client_id`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The part before `@`.
    pub fn name(&self) -> &str {
        &self.raw[..self.at]
    }

    /// The tenant's API host, e.g. `acme.conductor.one`.
    pub fn host(&self) -> &str {
        &self.raw[self.at + 1..self.slash]
    }

    /// The part after the host's `/`.
    pub fn usage(&self) -> &str {
        &self.raw[self.slash + 1..]
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.raw)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for ClientId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ClientId::parse(s)
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Jwk {
    kty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
}

/// A client secret: the Ed25519 private key that signs token assertions.
///
/// `Debug` never shows the key.
///
/// ```
/// use logexport::conductorone::ClientSecret;
///
/// let secret = ClientSecret::from_seed([7; 32]);
/// let text = secret.to_secret_string();
/// assert!(text.expose().starts_with("secret-token:conductorone.com:v1:"));
/// let parsed = ClientSecret::parse(text.expose()).unwrap();
/// assert_eq!(parsed.public_key(), secret.public_key());
/// assert_eq!(format!("{parsed:?}"), "ClientSecret(***)");
/// ```
#[derive(Clone)]
pub struct ClientSecret {
    // Boxed: keeps `Credentials` small, and the key in one place in memory.
    key: Box<SigningKey>,
}

impl ClientSecret {
    /// Parses `secret-token:conductorone.com:v1:<base64url JWK>`. The JWK
    /// must be an Ed25519 `OKP` private key; padded and unpadded base64 are
    /// both accepted, and `x` (when present) must be `d`'s public key.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Err(cred_err("client secret is empty"));
        }
        let Some(encoded) = s.strip_prefix(SECRET_PREFIX) else {
            return Err(cred_err(format!(
                "client secret has the wrong prefix: expected `{SECRET_PREFIX}<base64url JWK>`"
            )));
        };
        let json = decode_b64(encoded).ok_or_else(|| {
            cred_err(
                "client secret: the part after the prefix is not valid base64 (is it truncated?)",
            )
        })?;
        let jwk: Jwk = serde_json::from_slice(&json).map_err(|_| {
            cred_err("client secret: the decoded key is not a JSON Web Key (the secret may be truncated)")
        })?;
        match jwk.kty.as_deref() {
            Some("OKP") => {}
            Some(other) if other.len() <= 16 && other.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                return Err(cred_err(format!(
                    "client secret: key type `{other}` is not supported; expected an Ed25519 `OKP` key"
                )))
            }
            _ => return Err(cred_err("client secret: key type (`kty`) must be `OKP`")),
        }
        if jwk.crv.as_deref() != Some("Ed25519") {
            return Err(cred_err("client secret: curve (`crv`) must be `Ed25519`"));
        }
        let d = jwk.d.as_deref().ok_or_else(|| {
            cred_err("client secret: the key has no private part `d` (is it a public key?)")
        })?;
        let d: [u8; 32] = decode_b64(d)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                cred_err("client secret: private key `d` is not 32 bytes of base64url")
            })?;
        let key = SigningKey::from_bytes(&d);
        if let Some(x) = jwk.x.as_deref() {
            let x = decode_b64(x)
                .ok_or_else(|| cred_err("client secret: public key `x` is not valid base64url"))?;
            if x.as_slice() != key.verifying_key().as_bytes() {
                return Err(cred_err(
                    "client secret: public key `x` does not match private key `d`",
                ));
            }
        }
        Ok(ClientSecret { key: Box::new(key) })
    }

    /// A secret from a 32-byte Ed25519 seed (the JWK's `d`).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        ClientSecret {
            key: Box::new(SigningKey::from_bytes(&seed)),
        }
    }

    /// A fresh random key, e.g. to register with the sandbox.
    pub fn generate() -> Self {
        ClientSecret::from_seed(crate::random::bytes())
    }

    /// The Ed25519 public key, to register with a server (or the sandbox).
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The secret in C1's text form, `secret-token:conductorone.com:v1:…`.
    pub fn to_secret_string(&self) -> SecretString {
        let jwk = Jwk {
            kty: Some("OKP".into()),
            crv: Some("Ed25519".into()),
            x: Some(encode_b64url(&self.public_key())),
            d: Some(encode_b64url(&self.key.to_bytes())),
        };
        let json = serde_json::to_vec(&jwk).expect("a JWK serialises");
        SecretString::new(format!("{SECRET_PREFIX}{}", encode_b64url(&json)))
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// How a client authenticates.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A client id and secret, exchanged for short-lived bearer tokens.
    ClientCredentials {
        /// The client id; its host is the default API host.
        client_id: ClientId,
        /// The Ed25519 key that signs token assertions.
        secret: ClientSecret,
    },
    /// A bearer access token obtained elsewhere. It cannot be refreshed, and
    /// the API endpoint must be given explicitly.
    AccessToken(SecretString),
}

impl Credentials {
    /// Parses a client id and secret.
    pub fn client_credentials(client_id: &str, secret: &SecretString) -> Result<Self> {
        Ok(Credentials::ClientCredentials {
            client_id: ClientId::parse(client_id)?,
            secret: ClientSecret::parse(secret.expose())?,
        })
    }

    /// Wraps a bearer access token.
    pub fn access_token(token: impl Into<SecretString>) -> Result<Self> {
        let token: SecretString = token.into();
        let t = token.expose().trim();
        let t = t.strip_prefix("Bearer ").unwrap_or(t).trim();
        if t.is_empty() {
            return Err(cred_err("access token is empty"));
        }
        if t.starts_with(SECRET_PREFIX) {
            return Err(cred_err(
                "the access token is a client secret; pass it with a client id instead",
            ));
        }
        if t.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(cred_err(
                "access token contains whitespace or control characters",
            ));
        }
        Ok(Credentials::AccessToken(SecretString::new(t)))
    }

    /// Reads an access token from [`ENV_ACCESS_TOKEN_NAMES`] first (as cone
    /// does), or else a client id and secret from [`ENV_CLIENT_ID_NAMES`] and
    /// [`ENV_CLIENT_SECRET_NAMES`].
    pub fn from_env() -> Result<Self> {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Credentials::from_env`] over any variable lookup (for tests and
    /// configuration layers).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        // As cone does: an access token first. Errors name the variable at
        // fault, never its value.
        if let Some((name, token)) = first_set(&lookup, &ENV_ACCESS_TOKEN_NAMES) {
            return Credentials::access_token(token).map_err(|e| in_var(name, e));
        }
        match (
            first_set(&lookup, &ENV_CLIENT_ID_NAMES),
            first_set(&lookup, &ENV_CLIENT_SECRET_NAMES),
        ) {
            (Some((id_name, id)), Some((secret_name, secret))) => {
                Ok(Credentials::ClientCredentials {
                    client_id: ClientId::parse(&id).map_err(|e| in_var(id_name, e))?,
                    secret: ClientSecret::parse(&secret).map_err(|e| in_var(secret_name, e))?,
                })
            }
            (Some((id_name, _)), None) => Err(cred_err(format!(
                "{id_name} is set but {ENV_CLIENT_SECRET} is not"
            ))),
            (None, Some((secret_name, _))) => Err(cred_err(format!(
                "{secret_name} is set but {ENV_CLIENT_ID} is not"
            ))),
            (None, None) => Err(cred_err(format!(
                "no ConductorOne credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, or {ENV_ACCESS_TOKEN}"
            ))),
        }
    }

    /// The API host the credentials name, if they name one.
    pub fn host(&self) -> Option<&str> {
        match self {
            Credentials::ClientCredentials { client_id, .. } => Some(client_id.host()),
            Credentials::AccessToken(_) => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ClientCredentials { client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("secret", &"***")
                .finish(),
            Credentials::AccessToken(_) => f.write_str("AccessToken(***)"),
        }
    }
}

// The client-credentials exchange is how C1 credentials become the bearer
// token every call sends: obtaining credentials, so it lives here. Caching,
// single-flight refresh and replace-after-401 are the shared
// [`crate::token`] cache's.
/// How long before expiry a token is replaced (C1's Go SDK uses 10 s).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(10);

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
    /// The client's transport and rules (redirects, caps, deadline,
    /// redaction), held outside the attempt loop: the cache retries.
    pub core: crate::http::attempt::Core,
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

impl Exchange {
    /// One token request, within the client's call deadline.
    async fn exchange_once(&self) -> Result<Token> {
        let claims = Claims::new(
            self.client_id.as_str(),
            &self.audience,
            std::time::SystemTime::now(),
        );
        let assertion = build_assertion(&claims, &self.secret, &new_nonce());
        // A server or proxy that echoes the form must not show it.
        self.core.guard().redactor.add(assertion.as_str());
        let form = serde_urlencoded::to_string([
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .map_err(|e| Error::invalid_input("client_id", e))?;
        // The core refuses redirects: the assertion must not be re-POSTed
        // anywhere else.
        let request = crate::http::attempt::form_post(&self.token_url, form);
        let response = self.core.send_once(request).await?;
        let status = response.status().as_u16();
        if status != 200 {
            let headers = response.headers().clone();
            // Already capped and redacted by the core.
            let body = crate::http::body::read_error_body(response).await;
            // A 400 here means the server judged the assertion (OAuth's
            // `invalid_client`/`invalid_grant`): an authentication failure.
            let kind = match status {
                400 => crate::ErrorKind::Auth,
                _ => crate::ErrorKind::for_status(status),
            };
            let context = Some("token exchange failed");
            return Err(error_of_kind(kind, status, &headers, &body, context));
        }
        // Capped by the core already; a token response is a few hundred bytes.
        let body = crate::http::body::read_capped(response, 64 * 1024).await?;
        crate::token::parse_token_response(&body)
    }
}

impl TokenSource for Exchange {
    fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
        let named = |e: Error| {
            e.with_vendor(Vendor::ConductorOne)
                .with_operation("token_exchange")
        };
        Box::pin(async move { self.exchange_once().await.map_err(named) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn jwk_secret(json: &str, engine: &GeneralPurpose) -> String {
        format!("{SECRET_PREFIX}{}", engine.encode(json))
    }

    /// A secret holding `json` as C1 documents it: unpadded base64url.
    fn jwk(json: &str) -> String {
        jwk_secret(json, &URL_SAFE_NO_PAD)
    }

    /// A variable lookup over `pairs`.
    fn env(pairs: &[(&'static str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<_> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    fn key_json(seed: [u8; 32]) -> String {
        let s = ClientSecret::from_seed(seed);
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","d":"{}"}}"#,
            encode_b64url(&s.public_key()),
            encode_b64url(&seed)
        )
    }

    #[test]
    fn client_id_parts_and_errors() {
        let id = ClientId::parse("bot@acme.conductor.one/cli").unwrap();
        assert_eq!(
            (id.name(), id.host(), id.usage()),
            ("bot", "acme.conductor.one", "cli")
        );
        for (bad, says) in [
            ("", "empty"),
            ("bot.acme.conductor.one/cli", "`@`"),
            ("bot@acme.conductor.one", "`/<use>`"),
            ("@acme.conductor.one/cli", "empty name"),
            ("bot@/cli", "empty host"),
            ("bot@acme.conductor.one/", "empty `<use>`"),
            ("bot@bad_host!/cli", "DNS name"),
            ("bot@acme.conductor.one:443/cli", "DNS name"),
        ] {
            let e = ClientId::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Credentials, "{bad}");
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn secret_good_padded_and_unpadded() {
        let json = key_json([3; 32]);
        let want = ClientSecret::from_seed([3; 32]).public_key();
        let unpadded = jwk(&json);
        assert!(!unpadded.ends_with('='));
        let padded = jwk_secret(&json, &URL_SAFE);
        // The JSON length is chosen by the key; make sure padding is really exercised.
        let padded = if padded.ends_with('=') {
            padded
        } else {
            jwk_secret(&format!("{json} "), &URL_SAFE)
        };
        assert!(padded.ends_with('='), "{padded}");
        for s in [unpadded, padded, jwk_secret(&json, &STANDARD)] {
            assert_eq!(ClientSecret::parse(&s).unwrap().public_key(), want);
        }
        // And our own encoder round-trips.
        let ours = ClientSecret::from_seed([3; 32]).to_secret_string();
        assert_eq!(
            ClientSecret::parse(ours.expose()).unwrap().public_key(),
            want
        );
    }

    #[test]
    fn secret_errors_name_the_part_without_echoing() {
        let good = ClientSecret::from_seed([9; 32]).to_secret_string();
        let good = good.expose();
        let d = encode_b64url(&[9; 32]);
        let other_x = encode_b64url(&ClientSecret::from_seed([1; 32]).public_key());
        let cases: Vec<(String, &str)> = vec![
            (
                good.replace("conductorone.com:v1", "conductorone.com:v2"),
                "wrong prefix",
            ),
            (
                format!("secret-token:{}", &good[SECRET_PREFIX.len()..]),
                "wrong prefix",
            ),
            (good[..good.len() - 12].to_string(), "truncated"),
            (
                format!("{SECRET_PREFIX}!!!not base64!!!"),
                "not valid base64",
            ),
            (
                jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AA"}"#),
                "key type `RSA`",
            ),
            (
                jwk(r#"{"kty":"EC","crv":"P-256","d":"AA"}"#),
                "key type `EC`",
            ),
            (jwk(r#"{"kty":"OKP","crv":"X25519","d":"AA"}"#), "`Ed25519`"),
            (
                jwk(r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#),
                "private part `d`",
            ),
            (
                jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"AAAA"}"#),
                "32 bytes",
            ),
            (
                jwk(&format!(
                    r#"{{"kty":"OKP","crv":"Ed25519","x":"{other_x}","d":"{d}"}}"#
                )),
                "does not match",
            ),
        ];
        for (bad, says) in cases {
            let e = ClientSecret::parse(&bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Credentials);
            let shown = format!("{e} {e:?}");
            assert!(shown.contains(says), "{says}: {shown}");
            assert!(!shown.contains(&d), "secret echoed: {shown}");
            let tail = &bad[bad.len().saturating_sub(20)..];
            assert!(!shown.contains(tail), "input echoed: {shown}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let secret = ClientSecret::from_seed([5; 32]);
        let text = secret.to_secret_string();
        let creds = Credentials::client_credentials("a@b.conductor.one/c", &text).unwrap();
        let token = Credentials::access_token("tok-SECRET-123").unwrap();
        let shown = format!("{secret:?} {creds:?} {token:?} {text:?}");
        assert!(!shown.contains(&text.expose()[SECRET_PREFIX.len()..]));
        assert!(!shown.contains(&encode_b64url(&[5; 32])));
        assert!(!shown.contains("tok-SECRET-123"));
        assert!(shown.contains("a@b.conductor.one/c"));
    }

    #[test]
    fn env_lookup_precedence_and_errors() {
        let secret = ClientSecret::from_seed([2; 32]).to_secret_string();
        let token = |vars: &[(&'static str, &str)]| match Credentials::from_lookup(env(vars)) {
            Ok(Credentials::AccessToken(t)) => t.expose().to_string(),
            other => panic!("not an access token: {other:?}"),
        };
        // cone tries the access token first; so do we.
        let id = (ENV_CLIENT_ID, "a@t.conductor.one/x");
        let all = [
            id,
            (ENV_CLIENT_SECRET, secret.expose()),
            (ENV_ACCESS_TOKEN, "tok"),
        ];
        assert_eq!(token(&all), "tok");
        assert_eq!(token(&[(ENV_ACCESS_TOKEN, "tok"), id]), "tok");
        assert_eq!(token(&[(ENV_ACCESS_TOKEN, "Bearer tok")]), "tok");
        assert_eq!(
            token(&[("CONDUCTORONE_ACCESS_TOKEN", "sdk-tok")]),
            "sdk-tok"
        );
        let e = Credentials::from_lookup(env(&[id])).unwrap_err();
        assert!(e.to_string().contains("CONE_CLIENT_SECRET is not"), "{e}");
        let e = Credentials::from_lookup(env(&[])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credentials);
        assert!(e.to_string().contains("CONE_ACCESS_TOKEN"));
        let sdk = env(&[
            ("CONDUCTORONE_CLIENT_ID", "a@t.conductor.one/x"),
            ("CONDUCTORONE_CLIENT_SECRET", secret.expose()),
        ]);
        let c = Credentials::from_lookup(sdk).unwrap();
        assert_eq!(c.host(), Some("t.conductor.one"));
    }

    #[test]
    fn endpoints_from_explicit_names_in_order_else_the_client_id() {
        let id = (ENV_CLIENT_ID, "a@t.conductor.one/x");
        let sdk_url = ("CONDUCTORONE_SERVER_URL", "https://sdk.example.com");
        let cone_url = ("CONE_API_ENDPOINT", "cone.example.com");
        let cases: [(&[(&'static str, &str)], _); 6] = [
            (
                &[("CONDUCTORONE_CLIENT_ID", "a@t.conductor.one/x")],
                Some("https://t.conductor.one"),
            ),
            // An access token names no host; the client id beside it does.
            (
                &[(ENV_ACCESS_TOKEN, "tok"), id],
                Some("https://t.conductor.one"),
            ),
            // A bare host gets https.
            (&[cone_url, id], Some("https://cone.example.com")),
            (&[sdk_url, id], Some("https://sdk.example.com")),
            (
                &[
                    sdk_url,
                    cone_url,
                    (ENV_ENDPOINT, "https://ours.example.com"),
                ],
                Some("https://ours.example.com"),
            ),
            (&[], None),
        ];
        for (vars, want) in cases {
            assert_eq!(endpoint_from_lookup(env(vars)).as_deref(), want, "{vars:?}");
        }
    }
}
