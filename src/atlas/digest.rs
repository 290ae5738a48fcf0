//! HTTP Digest access authentication (RFC 7616 / RFC 2617), MD5 with
//! `qop=auth`, as Atlas uses it for programmatic API keys.
//!
//! Pure functions only: parsing a challenge, computing a response, writing and
//! reading the `Authorization` header. The client keeps the challenge and the
//! nonce count. Header parsing (RFC 7235's challenge grammar: several schemes
//! in one value, quoted strings with escapes) is the `http-auth` crate's; the
//! hashing is here because its responder cannot reuse a nonce across
//! concurrent requests. The sandbox verifies with its own, separate code.

use md5::{Digest as _, Md5};
use std::fmt::Write as _;

/// A `WWW-Authenticate: Digest …` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space, e.g. `MMS Public API`.
    pub realm: String,
    /// The server nonce.
    pub nonce: String,
    /// Opaque data to echo back unchanged.
    pub opaque: Option<String>,
    /// `MD5` (also what an absent value means).
    pub algorithm: Option<String>,
    /// The quality-of-protection options offered (`auth`, `auth-int`).
    pub qop: Vec<String>,
    /// `true` when the previous nonce merely expired: the credentials were
    /// fine, so the client should retry with the new nonce.
    pub stale: bool,
    /// The `domain` parameter, unused by clients but echoed by servers.
    pub domain: Option<String>,
}

impl Challenge {
    /// Finds and parses the Digest challenge in a `WWW-Authenticate` value.
    /// Returns `None` when there is none or it lacks a realm or nonce.
    pub fn parse(header: &str) -> Option<Challenge> {
        let params = digest_params(header)?;
        let get = |k: &str| param(&params, k);
        Some(Challenge {
            realm: get("realm")?,
            nonce: get("nonce")?,
            opaque: get("opaque"),
            algorithm: get("algorithm"),
            qop: get("qop")
                .map(|q| {
                    q.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            domain: get("domain"),
        })
    }

    /// Whether this module can answer the challenge: MD5 (or no algorithm),
    /// with `qop=auth` or no qop at all (RFC 2069 compatibility).
    pub fn is_supported(&self) -> bool {
        let md5 = self
            .algorithm
            .as_deref()
            .is_none_or(|a| a.eq_ignore_ascii_case("MD5"));
        md5 && (self.qop.is_empty() || self.offers_auth())
    }

    fn offers_auth(&self) -> bool {
        self.qop.iter().any(|q| q.eq_ignore_ascii_case("auth"))
    }
}

/// The parameters of an `Authorization: Digest …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The user (for Atlas: the public API key).
    pub username: String,
    /// Echo of the challenge realm.
    pub realm: String,
    /// Echo of the challenge nonce.
    pub nonce: String,
    /// The request target (path and query) as sent.
    pub uri: String,
    /// The computed response hash (32 lowercase hex digits).
    pub response: String,
    /// Echo of the challenge algorithm, if it named one.
    pub algorithm: Option<String>,
    /// Echo of the challenge opaque value.
    pub opaque: Option<String>,
    /// `Some("auth")`, or `None` for RFC 2069 mode.
    pub qop: Option<String>,
    /// The nonce count: how many requests have used this nonce, this one included.
    pub nc: u32,
    /// The client nonce.
    pub cnonce: Option<String>,
}

impl Authorization {
    /// Answers `challenge` for one request. `uri` is the request target
    /// exactly as it goes on the request line (path plus `?query`).
    ///
    /// The password only enters the hash; it is never stored in the result.
    pub fn answer(
        challenge: &Challenge,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        nc: u32,
        cnonce: &str,
    ) -> Authorization {
        let qop = challenge.offers_auth().then(|| "auth".to_string());
        let mut auth = Authorization {
            username: username.to_string(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: challenge.algorithm.clone(),
            opaque: challenge.opaque.clone(),
            qop,
            nc,
            cnonce: Some(cnonce.to_string()),
        };
        auth.response = auth.expected_response(method, password);
        auth
    }

    /// The response hash these parameters call for, given the password.
    fn expected_response(&self, method: &str, password: &str) -> String {
        let ha1 = ha1(&self.username, &self.realm, password);
        let ha2 = ha2(method, &self.uri);
        match (&self.qop, &self.cnonce) {
            (Some(qop), Some(cnonce)) => {
                response(&ha1, &self.nonce, &nc_hex(self.nc), cnonce, qop, &ha2)
            }
            _ => md5_hex(format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }

    /// The `Authorization` header value.
    pub fn to_header_value(&self) -> String {
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
            escape(&self.username),
            escape(&self.realm),
            escape(&self.nonce),
            escape(&self.uri)
        );
        if let Some(a) = &self.algorithm {
            let _ = write!(out, ", algorithm={a}");
        }
        let _ = write!(out, ", response=\"{}\"", self.response);
        if let Some(o) = &self.opaque {
            let _ = write!(out, ", opaque=\"{}\"", escape(o));
        }
        if let (Some(q), Some(c)) = (&self.qop, &self.cnonce) {
            let _ = write!(
                out,
                ", qop={q}, nc={}, cnonce=\"{}\"",
                nc_hex(self.nc),
                escape(c)
            );
        }
        out
    }

    /// Parses an `Authorization: Digest …` header value.
    pub fn parse(header: &str) -> Option<Authorization> {
        let params = digest_params(header)?;
        let get = |k: &str| param(&params, k);
        let nc = match get("nc") {
            Some(n) => u32::from_str_radix(&n, 16).ok()?,
            None => 0,
        };
        Some(Authorization {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?,
            algorithm: get("algorithm"),
            opaque: get("opaque"),
            qop: get("qop"),
            nc,
            cnonce: get("cnonce"),
        })
    }
}

/// `MD5(username:realm:password)`.
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    md5_hex(format!("{username}:{realm}:{password}"))
}

/// `MD5(method:uri)` (qop `auth`: the body is not covered).
pub fn ha2(method: &str, uri: &str) -> String {
    md5_hex(format!("{method}:{uri}"))
}

/// `MD5(HA1:nonce:nc:cnonce:qop:HA2)`.
pub fn response(ha1: &str, nonce: &str, nc: &str, cnonce: &str, qop: &str, ha2: &str) -> String {
    md5_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
}

/// The nonce count as it travels: eight lowercase hex digits.
pub fn nc_hex(nc: u32) -> String {
    format!("{nc:08x}")
}

fn md5_hex(s: String) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// The unescaped parameters of the `Digest` item in a header that may list
/// several (`Bearer realm="x", Digest realm="y"`). An `Authorization` value
/// has the same grammar as one challenge, so one parser reads both. Items
/// after the Digest one are not looked at, so a malformed neighbour after it
/// does not hide it.
fn digest_params(header: &str) -> Option<Vec<(String, String)>> {
    for item in http_auth::parser::ChallengeParser::new(header) {
        let item = item.ok()?;
        if item.scheme.eq_ignore_ascii_case("Digest") {
            return Some(
                item.params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_unescaped()))
                    .collect(),
            );
        }
    }
    None
}

/// The parameter `key` (case-insensitive) of a [`digest_params`] list.
fn param(params: &[(String, String)], key: &str) -> Option<String> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.clone())
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 2617 section 3.5.
    const RFC2617_CHALLENGE: &str = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn rfc2617_example_vector() {
        let ch = Challenge::parse(RFC2617_CHALLENGE).unwrap();
        assert_eq!(ch.realm, "testrealm@host.com");
        assert_eq!(ch.qop, ["auth", "auth-int"]);
        assert!(ch.is_supported());
        let auth = Authorization::answer(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            1,
            "0a4f113b",
        );
        assert_eq!(auth.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(auth.qop.as_deref(), Some("auth"));
        let header = auth.to_header_value();
        assert!(header.contains("nc=00000001"), "{header}");
        assert!(
            header.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
            "{header}"
        );
        assert!(!header.contains("Circle"), "the password never travels");
    }

    #[test]
    fn intermediate_hashes() {
        // HA1 and HA2 of the same RFC example, recomputed independently.
        assert_eq!(
            ha1("Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
        assert_eq!(
            ha2("GET", "/dir/index.html"),
            "39aff3a2bab6126f332b942af96d3366"
        );
        assert_eq!(nc_hex(255), "000000ff");
    }

    #[test]
    fn header_round_trip() {
        let ch = Challenge::parse(
            r#"Digest realm="MMS Public API", domain="", nonce="n\"1", algorithm=MD5, qop="auth""#,
        )
        .unwrap();
        assert_eq!(ch.nonce, "n\"1");
        // Every parameter as Atlas sends it, the escaped quote unescaped.
        assert_eq!(
            ch,
            Challenge {
                realm: "MMS Public API".into(),
                nonce: "n\"1".into(),
                opaque: None,
                algorithm: Some("MD5".into()),
                qop: vec!["auth".into()],
                stale: false,
                domain: Some(String::new()),
            }
        );
        // The header we write reads back to the same answer (quotes, commas
        // and `?` in the URI survive); the hash itself is pinned by the RFC
        // vector above.
        let auth = Authorization::answer(&ch, "GET", "/api/x?a=1,b", "pub", "priv", 7, "abc");
        let back = Authorization::parse(&auth.to_header_value()).unwrap();
        assert_eq!(back, auth);
        assert_eq!(back.nonce, "n\"1");
        assert_eq!(back.uri, "/api/x?a=1,b");
        assert_eq!(back.nc, 7);
        assert_eq!(back.qop.as_deref(), Some("auth"));
        // The password and the method enter the hash.
        let other = |method, password| {
            Authorization::answer(&ch, method, "/api/x?a=1,b", "pub", password, 7, "abc").response
        };
        assert_ne!(back.response, other("GET", "wrong"));
        assert_ne!(back.response, other("POST", "priv"));
    }

    #[test]
    fn rfc2069_mode_without_qop() {
        let ch = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        let auth = Authorization::answer(&ch, "GET", "/", "u", "p", 1, "c");
        assert_eq!(auth.qop, None);
        let want = md5_hex(format!("{}:n:{}", ha1("u", "r", "p"), ha2("GET", "/")));
        assert_eq!(auth.response, want);
        assert!(!auth.to_header_value().contains("nc="));
    }

    #[test]
    fn stale_flag_and_multiple_challenges() {
        let h = "Bearer realm=\"x, Digest y\", Digest realm=\"MMS Public API\", domain=\"\", \
                 nonce=\"abc\", algorithm=MD5, qop=\"auth\", stale=true";
        let ch = Challenge::parse(h).unwrap();
        assert_eq!(ch.realm, "MMS Public API");
        assert_eq!(ch.nonce, "abc");
        assert!(ch.stale);
        assert!(Challenge::parse("Basic realm=\"x\"").is_none());
        assert!(
            Challenge::parse("Digest realm=\"x\"").is_none(),
            "a nonce is required"
        );
        let escaped = Challenge::parse(r#"Digest realm="a \"quoted\", realm", nonce="n""#).unwrap();
        assert_eq!(escaped.realm, r#"a "quoted", realm"#);
        assert!(
            Challenge::parse("Digest realm=\"x\", nonce=\"unterminated").is_none(),
            "a broken quoted string is not a challenge"
        );
    }

    #[test]
    fn unsupported_algorithms_are_detected() {
        let ch =
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"")
                .unwrap();
        assert!(!ch.is_supported());
        let ch = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"").unwrap();
        assert!(!ch.is_supported());
    }
}
