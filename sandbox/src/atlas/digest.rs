//! HTTP Digest as a server sees it, written from RFC 7616 (and nothing of
//! the client): the `WWW-Authenticate` challenge, the `Authorization`
//! header's parameters, and the `response` check for MD5 with `qop=auth`.
//!
//! Pinned by the RFC's own example (§3.9.1), so the emulator's idea of a
//! correct answer comes from the standard, not from the client it tests.

use md5::{Digest as _, Md5};

/// A challenge to send in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space.
    pub realm: String,
    /// A fresh server nonce.
    pub nonce: String,
    /// Whether the previous nonce was only stale (RFC 7616 §3.3).
    pub stale: bool,
}

impl Challenge {
    /// `Digest realm="…", domain="", nonce="…", algorithm=MD5, qop="auth",
    /// stale=…`, the shape Atlas sends.
    pub fn header_value(&self) -> String {
        format!(
            "Digest realm=\"{}\", domain=\"\", nonce=\"{}\", algorithm=MD5, qop=\"auth\", stale={}",
            self.realm, self.nonce, self.stale
        )
    }
}

/// The parameters of an `Authorization: Digest …` header (RFC 7616 §3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, echoed from the challenge.
    pub nonce: String,
    /// `uri`: the request target.
    pub uri: String,
    /// `response`: 32 lowercase hex digits for MD5.
    pub response: String,
    /// `algorithm`, if sent.
    pub algorithm: Option<String>,
    /// `cnonce`, required with `qop`.
    pub cnonce: Option<String>,
    /// `qop`, unquoted.
    pub qop: Option<String>,
    /// `nc` as sent (8 hex digits).
    pub nc: Option<String>,
}

impl Credentials {
    /// Parses `Digest k=v, k="v", …`. Quoted strings may hold commas and
    /// backslash escapes (RFC 7230 quoted-string). `None` if it is not
    /// Digest, a parameter is repeated or a required one is missing.
    pub fn parse(header: &str) -> Option<Credentials> {
        let rest = header.trim();
        let (scheme, rest) = rest.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let mut out = Credentials::default();
        let mut seen = std::collections::HashSet::new();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let mut key = String::new();
            while let Some(c) = chars.peek().copied() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                key.push(c);
                chars.next();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.next() != Some('=') {
                return None;
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => value.push(chars.next()?),
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.peek().copied() {
                    if c == ',' || c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            let key = key.to_ascii_lowercase();
            if !seen.insert(key.clone()) {
                return None;
            }
            match key.as_str() {
                "username" => out.username = value,
                "realm" => out.realm = value,
                "nonce" => out.nonce = value,
                "uri" => out.uri = value,
                "response" => out.response = value,
                "algorithm" => out.algorithm = Some(value),
                "cnonce" => out.cnonce = Some(value),
                "qop" => out.qop = Some(value),
                "nc" => out.nc = Some(value),
                // opaque, userhash and extensions do not enter MD5 + auth.
                _ => {}
            }
        }
        let complete = ["username", "realm", "nonce", "uri", "response"]
            .iter()
            .all(|k| seen.contains(*k));
        complete.then_some(out)
    }

    /// The nonce count as a number, if `nc` is exactly 8 hex digits.
    pub fn nonce_count(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        if nc.len() != 8 {
            return None;
        }
        u32::from_str_radix(nc, 16).ok()
    }

    /// Whether `response` is right for `password` and `method`, per
    /// RFC 7616 §3.4.1 with `qop=auth`: `KD(H(A1), nonce:nc:cnonce:qop:H(A2))`
    /// with `A1 = user:realm:password` and `A2 = method:uri`.
    pub fn verify(&self, method: &str, password: &str) -> bool {
        let (Some(cnonce), Some(nc), Some("auth")) = (
            self.cnonce.as_deref(),
            self.nc.as_deref(),
            self.qop.as_deref(),
        ) else {
            return false;
        };
        let expected = response(
            &self.username,
            &self.realm,
            password,
            method,
            &self.uri,
            &self.nonce,
            nc,
            cnonce,
        );
        let got = self.response.to_ascii_lowercase();
        expected.len() == got.len()
            && expected
                .bytes()
                .zip(got.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn h(data: &str) -> String {
    hex::encode(Md5::digest(data.as_bytes()))
}

/// The MD5 `response` for `qop=auth` (RFC 7616 §3.4.1).
#[allow(clippy::too_many_arguments)]
pub fn response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
) -> String {
    let ha1 = h(&format!("{username}:{realm}:{password}"));
    let ha2 = h(&format!("{method}:{uri}"));
    h(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1, the MD5 half of the example.
    const RFC_HEADER: &str = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;

    #[test]
    fn rfc_7616_example_reproduces() {
        assert_eq!(
            response(
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life",
                "GET",
                "/dir/index.html",
                "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                "00000001",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            ),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let c = Credentials::parse(RFC_HEADER).expect("parses");
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.nonce_count(), Some(1));
        assert!(c.verify("GET", "Circle of Life"));
        assert!(!c.verify("GET", "Circle of life"));
        assert!(!c.verify("POST", "Circle of Life"));
    }

    #[test]
    fn answers_without_cnonce_nc_or_qop_are_refused() {
        let c = Credentials::parse(RFC_HEADER).expect("parses");
        for strip in [
            |c: &mut Credentials| c.cnonce = None,
            |c: &mut Credentials| c.nc = None,
            |c: &mut Credentials| c.qop = None,
        ] {
            let mut c = c.clone();
            strip(&mut c);
            assert!(!c.verify("GET", "Circle of Life"));
        }
        // RFC 2069's digest (no nc, no cnonce) of the same request.
        let ha1 = h("Mufasa:http-auth@example.org:Circle of Life");
        let ha2 = h("GET:/dir/index.html");
        let legacy = h(&format!("{ha1}:{}:{ha2}", c.nonce));
        let c = Credentials {
            response: legacy,
            ..c
        };
        assert!(!c.verify("GET", "Circle of Life"));
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(Credentials::parse("Basic dXNlcjpwYXNz").is_none());
        assert!(Credentials::parse(r#"Digest username="a", realm="r""#).is_none());
        assert!(Credentials::parse(r#"Digest username="a, realm="r""#).is_none());
        let twice = format!("{RFC_HEADER}, nonce=\"x\"");
        assert!(Credentials::parse(&twice).is_none());
        let mut c = Credentials::parse(RFC_HEADER).expect("parses");
        c.nc = Some("1".into());
        assert_eq!(c.nonce_count(), None);
    }

    #[test]
    fn challenge_names_md5_and_auth() {
        let v = Challenge {
            realm: "MMS Public API".into(),
            nonce: "n".into(),
            stale: true,
        }
        .header_value();
        assert!(v.starts_with("Digest realm=\"MMS Public API\""));
        assert!(
            v.contains("qop=\"auth\"") && v.contains("algorithm=MD5") && v.ends_with("stale=true")
        );
    }
}
