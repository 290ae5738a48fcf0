//! TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0.
//!
//! Pure functions in the style of `aws-sigv4`: nothing here does I/O or reads
//! a clock. [`sign`] takes the parts of a request, the credentials and a
//! timestamp and returns the headers to add, together with every
//! intermediate value ([`Intermediate`]) so tests can compare each step with
//! Tencent's published vectors and a failing signature can be debugged. The
//! sandbox recomputes signatures with the same functions, so client and
//! emulator cannot drift apart.
//!
//! The algorithm:
//! 1. `CanonicalRequest = METHOD \n / \n QUERY \n CANONICAL_HEADERS \n SIGNED_HEADERS \n hex(sha256(body))`,
//!    where canonical headers are `name:value\n` for each signed header,
//!    lowercase names, trimmed values, sorted by name; the `x-tc-action`
//!    value is lowercased too.
//! 2. `StringToSign = TC3-HMAC-SHA256 \n timestamp \n date/service/tc3_request \n hex(sha256(CanonicalRequest))`,
//!    with `date` the UTC day of the timestamp.
//! 3. The signing key is the HMAC-SHA256 chain `"TC3" + SecretKey` → date →
//!    service → `tc3_request`; the signature is the hex HMAC of the string
//!    to sign under it.

use crate::{Error, Result};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;

/// The algorithm name that starts the string to sign and the header.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The service name CLS signs with.
pub const SERVICE: &str = "cls";

/// The headers signed by default: the two Tencent requires plus the action,
/// as the current documentation does.
pub const DEFAULT_SIGNED_HEADERS: &[&str] = &["content-type", "host", "x-tc-action"];

/// The parts of a request that enter the signature.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The `Host` header value as sent (`host[:port]`).
    pub host: &'a str,
    /// The canonical URI. API 3.0 always uses `/`.
    pub path: &'a str,
    /// The query string as sent (already encoded), without `?`; empty for POST.
    pub query: &'a str,
    /// Request headers other than `Host` (any case); those named in
    /// [`SigningParams::signed_headers`] must be present.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// Who signs, for which service, at which moment.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The SecretId (`AKID…`).
    pub secret_id: &'a str,
    /// The SecretKey.
    pub secret_key: &'a str,
    /// The session token of temporary credentials; sent as `X-TC-Token`.
    pub token: Option<&'a str>,
    /// The service, `cls` for this crate.
    pub service: &'a str,
    /// Unix seconds; also sent as `X-TC-Timestamp`.
    pub timestamp: i64,
    /// Lowercase names of the headers to sign. `content-type` and `host`
    /// are mandatory.
    pub signed_headers: &'a [&'a str],
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"***")
            .field("token", &self.token.map(|_| "***"))
            .field("service", &self.service)
            .field("timestamp", &self.timestamp)
            .field("signed_headers", &self.signed_headers)
            .finish()
    }
}

/// Every value computed on the way to the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intermediate {
    /// `hex(sha256(body))`.
    pub hashed_request_payload: String,
    /// The `name:value\n` block.
    pub canonical_headers: String,
    /// `content-type;host;…`.
    pub signed_headers: String,
    /// Step 1.
    pub canonical_request: String,
    /// `hex(sha256(canonical_request))`.
    pub hashed_canonical_request: String,
    /// `YYYY-MM-DD` (UTC) of the timestamp.
    pub date: String,
    /// `date/service/tc3_request`.
    pub credential_scope: String,
    /// Step 2.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

/// The result of [`sign`]: headers to add, and how they were computed.
/// `Debug` shows `X-TC-Token` as `***`.
#[derive(Clone)]
pub struct SigningOutput {
    /// `Authorization`, `X-TC-Timestamp`, and `X-TC-Token` when the
    /// credentials are temporary. Header names are in their canonical
    /// spelling. The token value is a secret: mark it sensitive.
    pub headers: Vec<(&'static str, String)>,
    /// The intermediate values.
    pub intermediate: Intermediate,
}

impl fmt::Debug for SigningOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The session token is a bearer secret; the signature is not (it is
        // bound to one body and expires in minutes).
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| match *n {
                "X-TC-Token" => (*n, "***"),
                _ => (*n, v.as_str()),
            })
            .collect();
        f.debug_struct("SigningOutput")
            .field("headers", &headers)
            .field("intermediate", &self.intermediate)
            .finish()
    }
}

/// The derived signing key and the two steps before it. Its `Debug` hides
/// the bytes: they are as good as the SecretKey for a day.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// `HMAC("TC3" + SecretKey, date)`.
    pub secret_date: [u8; 32],
    /// `HMAC(secret_date, service)`.
    pub secret_service: [u8; 32],
    /// `HMAC(secret_service, "tc3_request")`: the key that signs.
    pub secret_signing: [u8; 32],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// Signs a request: the headers to add and the intermediate values.
///
/// ```
/// use logexport::tencent_cls::sign::{sign, SignableRequest, SigningParams, SERVICE, DEFAULT_SIGNED_HEADERS};
///
/// let headers = [("Content-Type", "application/json"), ("X-TC-Action", "DescribeTopics")];
/// let request = SignableRequest {
///     method: "POST",
///     host: "cls.ap-guangzhou.tencentcloudapi.com",
///     path: "/",
///     query: "",
///     headers: &headers,
///     body: b"{}",
/// };
/// let params = SigningParams {
///     secret_id: "AKIDEXAMPLE",
///     secret_key: "example-key",
///     token: None,
///     service: SERVICE,
///     timestamp: 1_700_000_000,
///     signed_headers: DEFAULT_SIGNED_HEADERS,
/// };
/// let out = sign(&request, &params).unwrap();
/// assert!(out.intermediate.canonical_request.contains("x-tc-action:describetopics\n"));
/// assert_eq!(out.headers[0].0, "Authorization");
/// ```
pub fn sign(request: &SignableRequest<'_>, params: &SigningParams<'_>) -> Result<SigningOutput> {
    let (canonical_headers, signed_headers) =
        canonical_headers(request.host, request.headers, params.signed_headers)?;
    let hashed_request_payload = sha256_hex(request.body);
    let canonical_request = canonical_request(
        request.method,
        request.path,
        request.query,
        &canonical_headers,
        &signed_headers,
        &hashed_request_payload,
    );
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let date = utc_date(params.timestamp)?;
    let credential_scope = credential_scope(&date, params.service);
    let string_to_sign = string_to_sign(
        params.timestamp,
        &credential_scope,
        &hashed_canonical_request,
    );
    let key = signing_key(params.secret_key, &date, params.service);
    let signature = signature(&key, &string_to_sign);
    let authorization = authorization(
        params.secret_id,
        &credential_scope,
        &signed_headers,
        &signature,
    );

    let mut headers = vec![
        ("Authorization", authorization.clone()),
        ("X-TC-Timestamp", params.timestamp.to_string()),
    ];
    if let Some(token) = params.token {
        headers.push(("X-TC-Token", token.to_string()));
    }
    Ok(SigningOutput {
        headers,
        intermediate: Intermediate {
            hashed_request_payload,
            canonical_headers,
            signed_headers,
            canonical_request,
            hashed_canonical_request,
            date,
            credential_scope,
            string_to_sign,
            signature,
            authorization,
        },
    })
}

/// The canonical header block and the signed-header list for `signed`
/// (any case, any order; duplicates collapse). `host` comes from `host`, the
/// others from `headers`. Fails if a signed header is missing, or if
/// `content-type` or `host` is not signed.
pub fn canonical_headers(
    host: &str,
    headers: &[(&str, &str)],
    signed: &[&str],
) -> Result<(String, String)> {
    // Callers pass lowercase names (the defaults are): borrowed as they are.
    let mut names: Vec<Cow<'_, str>> = signed
        .iter()
        .map(|n| {
            let n = n.trim();
            if n.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(n.to_ascii_lowercase())
            } else {
                Cow::Borrowed(n)
            }
        })
        .collect();
    names.sort();
    names.dedup();
    for required in ["content-type", "host"] {
        if !names.iter().any(|n| n == required) {
            return Err(Error::invalid_input(
                "signed_headers",
                format!("must include `{required}`"),
            ));
        }
    }
    // Each line is appended to the block in place: no string per header.
    let mut block = String::with_capacity(128);
    for name in &names {
        block.push_str(name);
        block.push(':');
        if name == "host" {
            block.push_str(host.trim());
        } else {
            let value = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
                .ok_or_else(|| {
                    Error::invalid_input(
                        "signed_headers",
                        format!("`{name}` is signed but not set"),
                    )
                })?;
            if name == "x-tc-action" {
                block.extend(value.chars().map(|c| c.to_ascii_lowercase()));
            } else {
                block.push_str(value);
            }
        }
        block.push('\n');
    }
    Ok((block, names.join(";")))
}

/// Step 1: the canonical request.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    hashed_request_payload: &str,
) -> String {
    format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{hashed_request_payload}")
}

/// `date/service/tc3_request`.
pub fn credential_scope(date: &str, service: &str) -> String {
    format!("{date}/{service}/tc3_request")
}

/// Step 2: the string to sign.
pub fn string_to_sign(
    timestamp: i64,
    credential_scope: &str,
    hashed_canonical_request: &str,
) -> String {
    format!("{ALGORITHM}\n{timestamp}\n{credential_scope}\n{hashed_canonical_request}")
}

/// The UTC calendar day of a Unix timestamp, `YYYY-MM-DD`.
pub fn utc_date(timestamp: i64) -> Result<String> {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .ok_or_else(|| Error::invalid_input("timestamp", "out of range"))
}

/// Step 3: the HMAC chain from the SecretKey to the signing key.
pub fn signing_key(secret_key: &str, date: &str, service: &str) -> SigningKey {
    let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    SigningKey {
        secret_date,
        secret_service,
        secret_signing,
    }
}

/// The hex signature of `string_to_sign`.
pub fn signature(key: &SigningKey, string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(&key.secret_signing, string_to_sign.as_bytes()))
}

/// The `Authorization` header value.
pub fn authorization(
    secret_id: &str,
    credential_scope: &str,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!("{ALGORITHM} Credential={secret_id}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}")
}

/// `hex(sha256(data))`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// An `Authorization` header taken apart, for servers (the sandbox) that
/// verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// The SecretId from `Credential=`.
    pub secret_id: String,
    /// The day from the credential scope.
    pub date: String,
    /// The service from the credential scope.
    pub service: String,
    /// The `SignedHeaders=` list, as sent.
    pub signed_headers: String,
    /// The hex signature.
    pub signature: String,
}

/// Parses `TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
/// Returns `None` for any other shape.
pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization> {
    let rest = value.trim().strip_prefix(ALGORITHM)?.trim_start();
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => return None,
        }
    }
    let mut scope = credential?.splitn(4, '/');
    let secret_id = scope.next()?.to_string();
    let date = scope.next()?.to_string();
    let service = scope.next()?.to_string();
    if scope.next()? != "tc3_request" || secret_id.is_empty() {
        return None;
    }
    Some(ParsedAuthorization {
        secret_id,
        date,
        service,
        signed_headers: signed_headers?.to_string(),
        signature: signature?.to_string(),
    })
}

/// Compares two signatures in constant time, so a verifier leaks nothing
/// about how much of a forged signature was right.
pub fn signatures_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a [(&'a str, &'a str)], body: &'a [u8]) -> SignableRequest<'a> {
        SignableRequest {
            method: "POST",
            host: "cls.tencentcloudapi.com",
            path: "/",
            query: "",
            headers,
            body,
        }
    }

    fn params(signed: &'static [&'static str]) -> SigningParams<'static> {
        SigningParams {
            secret_id: "AKIDEXAMPLE",
            secret_key: "k",
            token: None,
            service: SERVICE,
            timestamp: 1_700_000_000,
            signed_headers: signed,
        }
    }

    #[test]
    fn header_names_are_case_insensitive_and_sorted() {
        let headers = [
            ("X-TC-Action", " CreateExport "),
            ("Content-Type", "application/json"),
        ];
        let (block, list) =
            canonical_headers("h", &headers, &["X-TC-Action", "host", "Content-Type"]).unwrap();
        assert_eq!(
            block,
            "content-type:application/json\nhost:h\nx-tc-action:createexport\n"
        );
        assert_eq!(list, "content-type;host;x-tc-action");
    }

    #[test]
    fn content_type_and_host_are_mandatory() {
        let headers = [("Content-Type", "application/json")];
        assert!(canonical_headers("h", &headers, &["host"]).is_err());
        assert!(canonical_headers("h", &headers, &["content-type"]).is_err());
        assert!(
            canonical_headers("h", &headers, &["content-type", "host", "x-tc-action"]).is_err()
        );
    }

    #[test]
    fn token_is_added_and_authorization_round_trips() {
        let headers = [
            ("Content-Type", "application/json"),
            ("X-TC-Action", "DescribeTopics"),
        ];
        let mut p = params(DEFAULT_SIGNED_HEADERS);
        p.token = Some("tok");
        let out = sign(&request(&headers, b"{}"), &p).unwrap();
        let names: Vec<_> = out.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["Authorization", "X-TC-Timestamp", "X-TC-Token"]);
        let parsed = parse_authorization(&out.intermediate.authorization).unwrap();
        assert_eq!(parsed.secret_id, "AKIDEXAMPLE");
        assert_eq!(parsed.date, "2023-11-14");
        assert_eq!(parsed.service, "cls");
        assert_eq!(parsed.signed_headers, "content-type;host;x-tc-action");
        assert_eq!(parsed.signature, out.intermediate.signature);
        assert_eq!(out.headers[2].1, "tok");
        let shown = format!("{out:?}");
        assert!(!shown.contains("\"tok\""), "{shown}");
        assert!(shown.contains("X-TC-Token"), "{shown}");
    }

    #[test]
    fn any_change_changes_the_signature() {
        let headers = [
            ("Content-Type", "application/json"),
            ("X-TC-Action", "DescribeTopics"),
        ];
        let base = sign(&request(&headers, b"{}"), &params(DEFAULT_SIGNED_HEADERS)).unwrap();
        let body = sign(&request(&headers, b"{ }"), &params(DEFAULT_SIGNED_HEADERS)).unwrap();
        let mut later = params(DEFAULT_SIGNED_HEADERS);
        later.timestamp += 1;
        let later = sign(&request(&headers, b"{}"), &later).unwrap();
        let other = [
            ("Content-Type", "application/json"),
            ("X-TC-Action", "DescribeExports"),
        ];
        let action = sign(&request(&other, b"{}"), &params(DEFAULT_SIGNED_HEADERS)).unwrap();
        let sigs = [base, body, later, action].map(|o| o.intermediate.signature);
        let distinct: std::collections::HashSet<_> = sigs.iter().collect();
        assert_eq!(distinct.len(), sigs.len(), "{sigs:?}");
    }

    #[test]
    fn malformed_authorization_is_rejected() {
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "HMAC Credential=a/b/c/tc3_request, SignedHeaders=x, Signature=y",
            "TC3-HMAC-SHA256 Credential=a/b/c, SignedHeaders=x, Signature=y",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=x",
            "TC3-HMAC-SHA256 Credential=/b/c/tc3_request, SignedHeaders=x, Signature=y",
        ] {
            assert!(parse_authorization(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_keys() {
        let p = params(DEFAULT_SIGNED_HEADERS);
        assert!(!format!("{p:?}").contains("\"k\""));
        let key = signing_key("super-secret", "2023-11-14", "cls");
        assert_eq!(format!("{key:?}"), "SigningKey(***)");
    }

    #[test]
    fn constant_time_compare() {
        assert!(signatures_match("abc", "abc"));
        assert!(!signatures_match("abc", "abd"));
        assert!(!signatures_match("abc", "ab"));
    }
}
