//! The signed JWT assertion exchanged for a C1 access token.
//!
//! Building it is a pure function of claims, key and nonce so the exact bytes
//! can be unit-tested; only [`new_nonce`] and the caller's choice of "now"
//! bring in randomness and time.

use super::credentials::{encode_b64url, ClientSecret};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// `alg` of every assertion.
pub const ALGORITHM: &str = "EdDSA";

/// How far `nbf` lies before and `exp` after `iat` (C1's SDKs use 2 minutes).
pub const VALIDITY: Duration = Duration::from_secs(120);

/// The JWS protected header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always `EdDSA`.
    pub alg: String,
    /// `JWT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// 32 lowercase hex characters (16 random bytes), making every assertion unique.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// The assertion's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The client id.
    pub iss: String,
    /// The client id again.
    pub sub: String,
    /// The API host without port, as a one-element list.
    pub aud: Vec<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before: `iat` − 2 minutes.
    pub nbf: i64,
    /// Expiry: `iat` + 2 minutes.
    pub exp: i64,
}

impl Claims {
    /// The claims for `client_id` talking to `audience_host` at `now`.
    pub fn new(client_id: &str, audience_host: &str, now: SystemTime) -> Self {
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let v = VALIDITY.as_secs() as i64;
        Claims {
            iss: client_id.to_string(),
            sub: client_id.to_string(),
            aud: vec![audience_host.to_string()],
            iat,
            nbf: iat - v,
            exp: iat + v,
        }
    }
}

/// 16 random bytes for the header nonce.
pub fn new_nonce() -> [u8; 16] {
    crate::random::bytes()
}

/// The compact JWS `base64url(header).base64url(claims).base64url(signature)`,
/// signed with Ed25519.
pub fn build_assertion(claims: &Claims, key: &ClientSecret, nonce: &[u8; 16]) -> String {
    let header = Header {
        alg: ALGORITHM.to_string(),
        typ: Some("JWT".to_string()),
        nonce: Some(hex::encode(nonce)),
    };
    let header = serde_json::to_vec(&header).expect("header serialises");
    let claims = serde_json::to_vec(claims).expect("claims serialise");
    let signing_input = format!("{}.{}", encode_b64url(&header), encode_b64url(&claims));
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", encode_b64url(&signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conductorone::credentials::decode_b64;
    use ed25519_dalek::{Signature, VerifyingKey};

    #[test]
    fn assertion_claims_and_signature() {
        let key = ClientSecret::from_seed([11; 32]);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let claims = Claims::new("bot@acme.conductor.one/cli", "acme.conductor.one", now);
        let nonce = [0xab; 16];
        let jws = build_assertion(&claims, &key, &nonce);

        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts
            .iter()
            .all(|p| !p.contains('=') && !p.contains('+') && !p.contains('/')));

        let header: serde_json::Value =
            serde_json::from_slice(&decode_b64(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        let n = header["nonce"].as_str().unwrap();
        assert_eq!(n.len(), 32);
        assert!(n.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(n, "ab".repeat(16));

        let body: serde_json::Value =
            serde_json::from_slice(&decode_b64(parts[1]).unwrap()).unwrap();
        assert_eq!(body["iss"], "bot@acme.conductor.one/cli");
        assert_eq!(body["sub"], body["iss"]);
        assert_eq!(body["aud"], serde_json::json!(["acme.conductor.one"]));
        assert_eq!(body["iat"], 1_750_000_000);
        assert_eq!(body["nbf"], 1_750_000_000 - 120);
        assert_eq!(body["exp"], 1_750_000_000 + 120);

        let sig: [u8; 64] = decode_b64(parts[2]).unwrap().try_into().unwrap();
        let vk = VerifyingKey::from_bytes(&key.public_key()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        vk.verify_strict(input.as_bytes(), &Signature::from_bytes(&sig))
            .unwrap();
        // A different key does not verify it.
        let other =
            VerifyingKey::from_bytes(&ClientSecret::from_seed([12; 32]).public_key()).unwrap();
        assert!(other
            .verify_strict(input.as_bytes(), &Signature::from_bytes(&sig))
            .is_err());
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(new_nonce(), new_nonce());
    }
}
