//! The client assertion check of C1's token endpoint (RFC 7523
//! `private_key_jwt` with an Ed25519 key, RFC 8037), done by the
//! `jsonwebtoken` crate rather than by hand: it splits the JWS, checks `alg`
//! and the signature with the client's registered key, and the required
//! claims `iss`, `sub` (the client id) and `aud` (the host the request
//! reached). What jsonwebtoken cannot know is checked here: the header
//! nonce's shape, and the times, against the sandbox [`Clock`](crate::Clock)
//! (which tests move to emulate client clock skew) rather than the system
//! clock. Remembering nonces against replay is the state's job.

use super::error::ApiError;
use base64::Engine as _;
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The furthest ahead an assertion's `exp` may be.
const MAX_LIFETIME_SECS: i64 = 300;

/// What a verified assertion leaves for the replay check.
#[derive(Debug)]
pub(super) struct Accepted {
    /// The header nonce.
    pub(super) nonce: String,
    /// Until when the nonce must be remembered (the assertion's `exp`).
    pub(super) exp: i64,
}

/// A client's registered Ed25519 public key as JOSE sees it: the `x` of an
/// OKP JWK. `None` if it is not a point on the curve.
pub(super) fn decoding_key(public_key: &[u8; 32]) -> Option<DecodingKey> {
    ed25519_dalek::VerifyingKey::from_bytes(public_key).ok()?;
    DecodingKey::from_ed_components(&B64.encode(public_key)).ok()
}

/// Verifies `assertion` for `client_id` with its `key`; `audience` is the
/// host the request reached and `now` the sandbox time in Unix seconds.
pub(super) fn verify(
    assertion: &str,
    client_id: &str,
    key: &DecodingKey,
    audience: &str,
    now: i64,
) -> Result<Accepted, ApiError> {
    let unauth = ApiError::unauthenticated;
    // jsonwebtoken splits from the right and would call a 4-part token a
    // bad header; C1 names the shape.
    if assertion.split('.').count() != 3 {
        return Err(unauth("client_assertion is not a compact JWS"));
    }
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| unauth("malformed assertion header"))?;
    if header.alg != Algorithm::EdDSA {
        return Err(unauth("assertion alg must be EdDSA"));
    }
    let nonce = header.nonce.unwrap_or_default();
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unauth("assertion header needs a 32-hex-character nonce"));
    }
    let claims = jsonwebtoken::decode::<Value>(assertion, key, &validation(client_id, audience))
        .map_err(|e| refusal(&e, assertion, audience))?
        .claims;
    // jsonwebtoken also takes a list of issuers; RFC 7523 wants the one
    // client id.
    if !claims["iss"].is_string() {
        return Err(unauth("assertion iss and sub must be the client id"));
    }
    let (Some(exp), Some(nbf), Some(_iat)) = (
        claims["exp"].as_i64(),
        claims["nbf"].as_i64(),
        claims["iat"].as_i64(),
    ) else {
        return Err(unauth("assertion needs exp, nbf and iat"));
    };
    if exp <= now {
        return Err(unauth("assertion expired (check the clock)"));
    }
    if exp - now > MAX_LIFETIME_SECS {
        return Err(unauth(
            "assertion expires more than 5 minutes ahead (check the clock)",
        ));
    }
    if nbf > now {
        return Err(unauth("assertion not yet valid (check the clock)"));
    }
    Ok(Accepted { nonce, exp })
}

/// EdDSA only; `exp`, `nbf`, `iss`, `sub` and `aud` required; `iss` and
/// `sub` the client id; `aud` the host. Times are left to [`verify`], on
/// the sandbox clock, without leeway.
fn validation(client_id: &str, audience: &str) -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
    v.set_issuer(&[client_id]);
    v.sub = Some(client_id.to_string());
    v.set_audience(&[audience]);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    v
}

/// C1's message for what jsonwebtoken refused.
fn refusal(e: &Error, assertion: &str, audience: &str) -> ApiError {
    let message = match e.kind() {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEddsaKey => {
            "assertion signature does not verify".to_string()
        }
        ErrorKind::InvalidAlgorithm => "assertion alg must be EdDSA".to_string(),
        ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
            "assertion iss and sub must be the client id".to_string()
        }
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c)
            if c == "iss" || c == "sub" =>
        {
            "assertion iss and sub must be the client id".to_string()
        }
        ErrorKind::InvalidAudience => format!("assertion audience must be `{audience}`"),
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => {
            format!("assertion audience must be `{audience}`")
        }
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            "assertion needs exp, nbf and iat".to_string()
        }
        // The signature is decoded before the claims: if it decodes, the
        // claims were what could not be read.
        _ if signature_decodes(assertion) => "malformed assertion claims".to_string(),
        _ => "malformed assertion signature".to_string(),
    };
    ApiError::unauthenticated(message)
}

fn signature_decodes(assertion: &str) -> bool {
    assertion
        .rsplit('.')
        .next()
        .and_then(|s| B64.decode(s).ok())
        .is_some_and(|s| s.len() == 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;
    use serde_json::json;

    /// RFC 8037 §A.1/§A.2: the example Ed25519 key, private `d` and public `x`.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    /// RFC 8037 §A.4: the JWS of `{"alg":"EdDSA"}` over "Example of Ed25519 signing".
    const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn rfc_verifies(jws: &str) -> bool {
        let key = DecodingKey::from_ed_components(RFC8037_X).unwrap();
        let (input, sig) = jws.rsplit_once('.').unwrap();
        jsonwebtoken::crypto::verify(sig, input.as_bytes(), &key, Algorithm::EdDSA).unwrap_or(false)
    }

    #[test]
    fn the_rfc_8037_example_verifies_and_a_changed_byte_does_not() {
        assert!(rfc_verifies(RFC8037_JWS));
        // The registered-key path builds the same key from the raw bytes.
        let x: [u8; 32] = B64.decode(RFC8037_X).unwrap().try_into().unwrap();
        let key = decoding_key(&x).unwrap();
        let (input, sig) = RFC8037_JWS.rsplit_once('.').unwrap();
        assert_eq!(
            jsonwebtoken::crypto::verify(sig, input.as_bytes(), &key, Algorithm::EdDSA).ok(),
            Some(true)
        );
        // One byte changed anywhere: the payload, the header, the signature.
        for at in [30, 5, RFC8037_JWS.len() - 10] {
            let mut b = RFC8037_JWS.as_bytes().to_vec();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(b).unwrap();
            assert!(!rfc_verifies(&changed), "byte {at} changed still verifies");
        }
        // And §A.1's private key is the one behind §A.2's public key.
        let d: [u8; 32] = B64.decode(RFC8037_D).unwrap().try_into().unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&d);
        assert_eq!(B64.encode(sk.verifying_key().to_bytes()), RFC8037_X);
    }

    const ID: &str = "bot@acme.conductor.one/x";
    const NOW: i64 = 1_750_000_000;

    fn sign(header: &Value, claims: &Value) -> String {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        format!(
            "{input}.{}",
            B64.encode(sk.sign(input.as_bytes()).to_bytes())
        )
    }

    fn header() -> Value {
        json!({"alg": "EdDSA", "typ": "JWT", "nonce": "0123456789abcdef0123456789abcdef"})
    }

    fn claims() -> Value {
        json!({"iss": ID, "sub": ID, "aud": "127.0.0.1", "iat": NOW, "nbf": NOW - 60, "exp": NOW + 120})
    }

    fn check(assertion: &str) -> Result<Accepted, String> {
        let public = ed25519_dalek::SigningKey::from_bytes(&[7; 32])
            .verifying_key()
            .to_bytes();
        verify(
            assertion,
            ID,
            &decoding_key(&public).unwrap(),
            "127.0.0.1",
            NOW,
        )
        .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn a_good_assertion_passes_with_its_nonce_and_exp() {
        let ok = check(&sign(&header(), &claims())).unwrap();
        assert_eq!(
            (ok.nonce.as_str(), ok.exp),
            ("0123456789abcdef0123456789abcdef", NOW + 120)
        );
        let mut listed = claims();
        listed["aud"] = json!(["other.example", "127.0.0.1"]);
        assert!(check(&sign(&header(), &listed)).is_ok());
    }

    #[test]
    fn each_refusal_names_its_reason() {
        let with = |k: &str, v: Value| {
            let mut c = claims();
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v;
            }
            sign(&header(), &c)
        };
        let good = sign(&header(), &claims());
        let (h, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let resigned_claims = format!("{h}.{}.{sig}", B64.encode(with("exp", json!(NOW + 60))));
        let cases = [
            ("a.b", "not a compact JWS"),
            ("%%.b.c", "malformed assertion header"),
            (
                &sign(&json!({"alg": "HS256", "nonce": "0".repeat(32)}), &claims()),
                "alg must be EdDSA",
            ),
            (
                &sign(&json!({"alg": "EdDSA", "nonce": "xyz"}), &claims()),
                "32-hex-character nonce",
            ),
            (
                &sign(&json!({"alg": "EdDSA"}), &claims()),
                "32-hex-character nonce",
            ),
            (&resigned_claims, "signature does not verify"),
            (
                &format!("{h}.{}.{sig}", B64.encode("not json")),
                "signature does not verify",
            ),
            (
                &format!("{}.%%", good.rsplit_once('.').unwrap().0),
                "malformed assertion signature",
            ),
            (&with("iss", json!("x@acme.conductor.one/y")), "iss and sub"),
            (&with("iss", json!([ID])), "iss and sub"),
            (&with("sub", json!("x@acme.conductor.one/y")), "iss and sub"),
            (&with("sub", Value::Null), "iss and sub"),
            (
                &with("aud", json!("acme.conductor.one")),
                "audience must be `127.0.0.1`",
            ),
            (&with("aud", Value::Null), "audience must be `127.0.0.1`"),
            (&with("exp", Value::Null), "needs exp, nbf and iat"),
            (&with("iat", Value::Null), "needs exp, nbf and iat"),
            (&with("nbf", json!("soon")), "needs exp, nbf and iat"),
            (&with("exp", json!(NOW)), "expired"),
            (&with("exp", json!(NOW + 301)), "more than 5 minutes ahead"),
            (&with("nbf", json!(NOW + 1)), "not yet valid"),
        ];
        for (assertion, reason) in cases {
            let err = check(assertion).unwrap_err();
            assert!(err.contains(reason), "{reason}: {err}");
            assert!(err.contains("UNAUTHORIZED") || err.contains("401"), "{err}");
        }
    }

    #[test]
    fn signed_garbage_claims_are_malformed_claims() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let input = format!(
            "{}.{}",
            B64.encode(header().to_string()),
            B64.encode("not json")
        );
        let jws = format!(
            "{input}.{}",
            B64.encode(sk.sign(input.as_bytes()).to_bytes())
        );
        let err = check(&jws).unwrap_err();
        assert!(err.contains("malformed assertion claims"), "{err}");
    }
}
