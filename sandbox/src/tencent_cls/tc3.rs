//! TC3-HMAC-SHA256 verification, written from Tencent Cloud's signing
//! documentation (API 3.0 "Signature v3") and nothing else.
//!
//! The emulator must not share code with the client it checks: a wrong
//! assumption in shared code would agree with itself. So this module
//! rebuilds the canonical request from what arrived on the wire (the
//! headers the request names in `SignedHeaders`, the body bytes as
//! received) and recomputes the signature from the registered key. It is
//! pinned by Tencent's published vectors (`tests/fixtures/tc3-vectors.json`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm TC3 defines.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The service name CLS signs with.
pub const SERVICE: &str = "cls";

/// The parts of an `Authorization: TC3-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `Credential`'s SecretId.
    pub secret_id: String,
    /// `Credential`'s date (`YYYY-MM-DD`, UTC).
    pub date: String,
    /// `Credential`'s service.
    pub service: String,
    /// `SignedHeaders`, as sent (`;`-separated).
    pub signed_headers: String,
    /// `Signature`, lowercase hex.
    pub signature: String,
}

impl Authorization {
    /// Parses `TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
    /// SignedHeaders=<list>, Signature=<hex>`; `None` if anything is missing
    /// or the scope does not end in `tc3_request`.
    pub fn parse(value: &str) -> Option<Authorization> {
        let rest = value.trim().strip_prefix(ALGORITHM)?;
        if !rest.starts_with(' ') {
            return None;
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            let slot = match k {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return None,
            };
            if slot.replace(v.trim()).is_some() {
                return None;
            }
        }
        let mut scope = credential?.split('/');
        let (secret_id, date, service, terminator) =
            (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
        if terminator != "tc3_request" || scope.next().is_some() || secret_id.is_empty() {
            return None;
        }
        Some(Authorization {
            secret_id: secret_id.to_string(),
            date: date.to_string(),
            service: service.to_string(),
            signed_headers: signed?.to_string(),
            signature: signature?.to_string(),
        })
    }
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `SignedHeaders` is not lowercase, sorted and unique, or lacks
    /// `content-type` or `host`.
    SignedHeaders,
    /// A header named in `SignedHeaders` was not sent.
    MissingHeader,
    /// The recomputed signature differs.
    Mismatch,
}

/// Lowercase hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `CanonicalHeaders` from `(lowercase name, value)` pairs: each value
/// trimmed, `x-tc-action`'s lowercased, sorted by name, one `name:value\n`
/// each.
pub fn canonical_headers(pairs: &[(&str, &str)]) -> String {
    let mut lines: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| {
            let name = n.to_ascii_lowercase();
            let value = v.trim();
            let value = if name == "x-tc-action" {
                value.to_ascii_lowercase()
            } else {
                value.to_string()
            };
            (name, value)
        })
        .collect();
    lines.sort();
    lines.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

/// `CanonicalRequest`: method, URI `/`, query, canonical headers, signed
/// headers and the hex SHA-256 of the payload, joined by newlines.
pub fn canonical_request(
    method: &str,
    query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload: &[u8],
) -> String {
    format!(
        "{method}\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(payload)
    )
}

/// `StringToSign` for a canonical request.
pub fn string_to_sign(
    timestamp: i64,
    date: &str,
    service: &str,
    canonical_request: &str,
) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The derived key: HMAC chain `"TC3" + key` → date → service → `tc3_request`.
/// Returns the three intermediate keys, the signing key last.
pub fn derive_keys(secret_key: &str, date: &str, service: &str) -> [[u8; 32]; 3] {
    let secret_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac(&secret_date, service.as_bytes());
    let secret_signing = hmac(&secret_service, b"tc3_request");
    [secret_date, secret_service, secret_signing]
}

/// The hex signature of `string_to_sign`.
pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let [_, _, signing] = derive_keys(secret_key, date, service);
    hex::encode(hmac(&signing, string_to_sign.as_bytes()))
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp.
pub fn utc_date(timestamp: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(timestamp, 0).map(|d| d.format("%Y-%m-%d").to_string())
}

/// What arrived: method, raw query, every header as received and the body.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The query string without `?` (empty for POST).
    pub query: &'a str,
    /// Headers as received.
    pub headers: &'a http::HeaderMap,
    /// The body bytes as received.
    pub body: &'a [u8],
}

/// Checks `auth`'s signature over `request` with `secret_key`, for the
/// `timestamp` the request carried.
pub fn verify(
    request: &Received<'_>,
    auth: &Authorization,
    secret_key: &str,
    timestamp: i64,
) -> Result<(), Refusal> {
    let names: Vec<&str> = auth.signed_headers.split(';').collect();
    let well_formed = names
        .iter()
        .all(|n| !n.is_empty() && *n == n.to_ascii_lowercase())
        && names.windows(2).all(|w| w[0] < w[1])
        && names.contains(&"content-type")
        && names.contains(&"host");
    if !well_formed {
        return Err(Refusal::SignedHeaders);
    }
    let mut pairs = Vec::with_capacity(names.len());
    for name in &names {
        let mut values = request.headers.get_all(*name).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(Refusal::MissingHeader);
        };
        let value = value.to_str().map_err(|_| Refusal::MissingHeader)?;
        pairs.push((*name, value));
    }
    let canonical = canonical_request(
        request.method,
        request.query,
        &canonical_headers(&pairs),
        &auth.signed_headers,
        request.body,
    );
    let to_sign = string_to_sign(timestamp, &auth.date, &auth.service, &canonical);
    let expected = signature(secret_key, &auth.date, &auth.service, &to_sign);
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

/// Compares without an early exit, so timing reveals nothing of the
/// expected value.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Vec<Value> {
        let text = include_str!("../../../tests/fixtures/tc3-vectors.json");
        let doc: Value = serde_json::from_str(text).expect("vectors parse");
        doc["vectors"].as_array().expect("vectors").clone()
    }

    fn s<'a>(v: &'a Value, k: &str) -> &'a str {
        v[k].as_str().unwrap_or_else(|| panic!("{k}"))
    }

    #[test]
    fn reproduces_every_published_intermediate_value() {
        let all = vectors();
        assert!(all.iter().filter(|v| v["official"] == true).count() >= 3);
        for v in &all {
            let name = s(v, "name");
            let e = &v["expected"];
            let payload = s(v, "payload").as_bytes();
            assert_eq!(
                sha256_hex(payload),
                s(e, "hashed_request_payload"),
                "{name}"
            );
            let mut pairs = vec![
                ("content-type", s(v, "content_type")),
                ("host", s(v, "host")),
            ];
            if s(v, "signed_headers").contains("x-tc-action") {
                pairs.push(("x-tc-action", s(v, "action")));
            }
            let headers = canonical_headers(&pairs);
            assert_eq!(headers, s(v, "canonical_headers"), "{name}");
            let canonical = canonical_request(
                s(v, "method"),
                s(v, "query"),
                &headers,
                s(v, "signed_headers"),
                payload,
            );
            assert_eq!(canonical, s(e, "canonical_request"), "{name}");
            assert_eq!(
                sha256_hex(canonical.as_bytes()),
                s(e, "hashed_canonical_request"),
                "{name}"
            );
            let ts = v["timestamp"].as_i64().expect("timestamp");
            assert_eq!(utc_date(ts).as_deref(), Some(s(v, "date")), "{name}");
            let to_sign = string_to_sign(ts, s(v, "date"), s(v, "service"), &canonical);
            assert_eq!(to_sign, s(e, "string_to_sign"), "{name}");
            let Some(key) = v["secret_key"].as_str() else {
                continue;
            };
            let [d, sv, sg] = derive_keys(key, s(v, "date"), s(v, "service"));
            assert_eq!(hex::encode(d), s(e, "secret_date"), "{name}");
            assert_eq!(hex::encode(sv), s(e, "secret_service"), "{name}");
            assert_eq!(hex::encode(sg), s(e, "secret_signing"), "{name}");
            let sig = signature(key, s(v, "date"), s(v, "service"), &to_sign);
            assert_eq!(sig, s(e, "signature"), "{name}");
            let auth = Authorization::parse(s(e, "authorization")).expect("parses");
            assert_eq!(auth.secret_id, s(v, "secret_id"));
            assert_eq!(auth.signature, sig);
            // And the whole verifier accepts the request as published.
            let mut map = http::HeaderMap::new();
            for (n, val) in &pairs {
                map.insert(*n, val.parse().expect("header"));
            }
            let received = Received {
                method: s(v, "method"),
                query: s(v, "query"),
                headers: &map,
                body: payload,
            };
            assert_eq!(verify(&received, &auth, key, ts), Ok(()), "{name}");
            let other = Received {
                body: b"{}",
                ..received
            };
            assert_eq!(verify(&other, &auth, key, ts), Err(Refusal::Mismatch));
        }
    }

    #[test]
    fn malformed_or_unsorted_signed_headers_are_refused() {
        assert!(Authorization::parse(
            "TC3-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=00"
        )
        .is_none());
        assert!(Authorization::parse(
            "TC3-HMAC-SHA256Credential=a/b/cls/tc3_request, SignedHeaders=host, Signature=00"
        )
        .is_none());
        let mut map = http::HeaderMap::new();
        map.insert("host", "h".parse().expect("header"));
        map.insert("content-type", "application/json".parse().expect("header"));
        let received = Received {
            method: "POST",
            query: "",
            headers: &map,
            body: b"",
        };
        for signed in ["host;content-type", "content-type", "Content-Type;host"] {
            let auth = Authorization::parse(&format!(
                "TC3-HMAC-SHA256 Credential=id/2024-01-01/cls/tc3_request, SignedHeaders={signed}, Signature=00"
            ))
            .expect("parses");
            assert_eq!(
                verify(&received, &auth, "k", 0),
                Err(Refusal::SignedHeaders)
            );
        }
        let auth = Authorization::parse(
            "TC3-HMAC-SHA256 Credential=id/2024-01-01/cls/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=00",
        )
        .expect("parses");
        assert_eq!(
            verify(&received, &auth, "k", 0),
            Err(Refusal::MissingHeader)
        );
    }
}
