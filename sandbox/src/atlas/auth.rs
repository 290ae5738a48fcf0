//! Who may call the Atlas emulator: HTTP Digest challenges and answers
//! (verified by [`digest`](super::digest), with expiring nonces and no
//! nonce count twice), bearer tokens, and the service-account OAuth
//! endpoints that issue (Basic auth, client credentials, at most
//! `max_live_tokens` live) and revoke them.

use super::digest::{Challenge, Credentials as DigestCredentials};
use super::error::api_error;
use super::state::{Inner, NonceInfo, TokenInfo};
use super::REALM;
use crate::{answer, lock};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

impl Inner {
    /// A 401 with a fresh nonce; `stale` when only the nonce was old.
    fn challenge(&self, stale: bool) -> Response {
        let nonce = base64::engine::general_purpose::STANDARD.encode(crate::random::<24>());
        let mut nonces = lock(&self.nonces);
        let now = self.clock.unix_millis();
        if nonces.len() > 10_000 {
            let ttl = self.cfg.nonce_lifetime.as_millis() as i64;
            nonces.retain(|_, n| now - n.issued_ms < ttl);
        }
        nonces.insert(
            nonce.clone(),
            NonceInfo {
                issued_ms: now,
                seen: HashSet::new(),
            },
        );
        drop(nonces);
        let ch = Challenge {
            realm: REALM.into(),
            nonce,
            stale,
        };
        let mut r = api_error(
            401,
            "UNAUTHORIZED",
            "You are not authorized for this resource.",
            None,
        );
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&ch.header_value()).expect("ascii"),
        );
        r
    }

    /// Lets a request through with a live bearer token or a Digest answer
    /// to a fresh nonce with an unseen count; else the 401 challenge.
    pub(super) fn authenticate(&self, req: &Request) -> Result<(), Box<Response>> {
        let Some(header) = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(Box::new(self.challenge(false)));
        };
        if let Some(token) = header.strip_prefix("Bearer ") {
            let now = self.clock.unix_millis();
            let tokens = lock(&self.tokens);
            return match tokens.get(token.trim()) {
                Some(t) if !t.revoked && t.expires_ms > now => Ok(()),
                _ => Err(Box::new(self.challenge(false))),
            };
        }
        let Some(auth) = DigestCredentials::parse(header) else {
            return Err(Box::new(self.challenge(false)));
        };
        let password = lock(&self.keys).get(&auth.username).cloned();
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        // Atlas offers only MD5; a client claiming another algorithm did
        // not answer this challenge, whatever its hash happens to be.
        let valid = auth.realm == REALM
            && auth
                .algorithm
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
            && auth.uri == target
            && password.is_some_and(|p| auth.verify(req.method().as_str(), &p));
        if !valid {
            return Err(Box::new(self.challenge(false)));
        }
        let now = self.clock.unix_millis();
        let ttl = self.cfg.nonce_lifetime.as_millis() as i64;
        let mut nonces = lock(&self.nonces);
        let Some(n) = nonces.get_mut(&auth.nonce) else {
            drop(nonces);
            return Err(Box::new(self.challenge(false)));
        };
        if now - n.issued_ms >= ttl {
            nonces.remove(&auth.nonce);
            drop(nonces);
            // The digest was right; only the nonce is old.
            return Err(Box::new(self.challenge(true)));
        }
        // A nonce count seen before is a replay. Concurrent requests may
        // arrive out of order, so any unseen count is accepted.
        let nc = auth.nonce_count().unwrap_or(0);
        if nc == 0 || !n.seen.insert(nc) {
            drop(nonces);
            return Err(Box::new(self.challenge(false)));
        }
        Ok(())
    }

    /// The service account a Basic `Authorization` names, if its secret
    /// matches (compared in constant time).
    fn basic_client(&self, headers: &HeaderMap) -> Option<String> {
        let h = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("Basic ")?.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (id, secret) = text.split_once(':')?;
        let known = lock(&self.accounts).get(id).cloned()?;
        (known.len() == secret.len()
            && known
                .bytes()
                .zip(secret.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0)
            .then(|| id.to_string())
    }

    /// `POST /api/oauth/token`.
    pub(super) fn issue_token(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
        let Some(client_id) = self.basic_client(headers) else {
            return oauth_error(401, "invalid_client", "Invalid client credentials.");
        };
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        if !form
            .iter()
            .any(|(k, v)| k == "grant_type" && v == "client_credentials")
        {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported.",
            );
        }
        let now = self.clock.unix_millis();
        let mut tokens = lock(&self.tokens);
        let live = tokens
            .values()
            .filter(|t| t.client_id == client_id && !t.revoked && t.expires_ms > now)
            .count();
        if live >= self.cfg.max_live_tokens {
            return oauth_error(
                403,
                "access_denied",
                &format!("The service account already has {live} active access tokens; revoke one or reuse it."),
            );
        }
        let token = format!("sbx.{}", hex::encode(crate::random::<24>()));
        let lifetime = self.cfg.token_lifetime;
        tokens.insert(
            token.clone(),
            TokenInfo {
                client_id,
                expires_ms: now + lifetime.as_millis() as i64,
                revoked: false,
            },
        );
        let body = serde_json::json!({"access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer"});
        let mut r = Response::new(Body::from(body.to_string()));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        r
    }

    /// `POST /api/oauth/revoke` (RFC 7009).
    pub(super) fn revoke(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let Some(client_id) = self.basic_client(headers) else {
            return oauth_error(401, "invalid_client", "Invalid client credentials.");
        };
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let Some(token) = form
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.clone())
        else {
            return oauth_error(400, "invalid_request", "The token parameter is required.");
        };
        // RFC 7009: an unknown token is not an error.
        if let Some(t) = lock(&self.tokens).get_mut(&token) {
            if t.client_id == client_id {
                t.revoked = true;
            }
        }
        Response::new(Body::empty())
    }
}

/// An OAuth error answer (RFC 6749 §5.2).
fn oauth_error(status: u16, code: &str, description: &str) -> Response {
    answer::json_error(
        status,
        &serde_json::json!({"error": code, "error_description": description}),
        None,
    )
}
