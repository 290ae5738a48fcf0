//! Echoed secrets are redacted.
//!
//! Vendors and proxies echo requests in their error pages: a bearer token,
//! a Basic header, `X-TC-Token`, a signed assertion. Every client keeps a
//! [`Redactor`] with every credential value it holds (and the ones it
//! obtains later, like access tokens); vendor text passes through it before
//! it is shown or logged. Each value is also registered in its base64
//! forms, since that is how it travels in `Basic` headers and JWTs.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Values shorter than this are not redacted: they would match too much
/// ordinary text to be worth hiding, and no real credential is this short.
const MIN_SECRET_LEN: usize = 6;

/// Bounds the list when tokens rotate for days: the oldest go first.
const MAX_SECRETS: usize = 256;

/// The credential values one client holds. Clones share the list.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Arc<RwLock<Secrets>>,
}

#[derive(Default)]
struct Secrets {
    /// In the order they were learned, to forget the oldest first.
    learned: Vec<String>,
    /// Longest first, so a secret containing another is replaced whole.
    by_length: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(..)")
    }
}

impl Redactor {
    /// Registers `secret` and its base64 forms. Cheap when already known.
    pub(crate) fn add(&self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        if self.read().learned.iter().any(|s| s == secret) {
            return;
        }
        let forms = [
            secret.to_string(),
            base64(secret.as_bytes(), STANDARD, true),
            base64(secret.as_bytes(), URL_SAFE, false),
            base64(secret.as_bytes(), STANDARD, false),
        ];
        let mut list = self
            .secrets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for form in forms {
            if !list.learned.contains(&form) {
                list.learned.push(form);
            }
        }
        if list.learned.len() > MAX_SECRETS {
            let excess = list.learned.len() - MAX_SECRETS;
            list.learned.drain(..excess);
        }
        let mut by_length = list.learned.clone();
        by_length.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list.by_length = by_length;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Secrets> {
        self.secrets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `text` with every registered value replaced by `[redacted]`.
    pub(crate) fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let list = self.read();
        let mut out = Cow::Borrowed(text);
        for secret in list.by_length.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// [`redact`](Self::redact) for a body that may not be UTF-8: invalid
    /// sequences are replaced, since the result is only ever shown.
    pub(crate) fn redact_bytes(&self, body: &[u8]) -> bytes::Bytes {
        let text = String::from_utf8_lossy(body);
        match self.redact(&text) {
            Cow::Borrowed(_) if matches!(text, Cow::Borrowed(_)) => {
                bytes::Bytes::copy_from_slice(body)
            }
            redacted => bytes::Bytes::from(redacted.into_owned()),
        }
    }
}

/// Standard padded base64, for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn tests_base64(input: &[u8]) -> String {
    base64(input, STANDARD, true)
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 without a dependency: the `base64` crate is only enabled with some
/// vendor features, and this is ten lines.
fn base64(input: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (raw, std) in [
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes(), STANDARD, true), std);
            assert_eq!(
                base64(raw.as_bytes(), STANDARD, false),
                std.trim_end_matches('=')
            );
        }
        assert_eq!(base64(&[0xfb, 0xff], URL_SAFE, false), "-_8");
    }

    #[test]
    fn secrets_and_their_base64_forms_are_replaced() {
        let r = Redactor::default();
        r.add("id:s3cr3t-value");
        r.add("tok");
        let basic = base64(b"id:s3cr3t-value", STANDARD, true);
        let text = format!("echo: Authorization: Basic {basic}; raw id:s3cr3t-value; tok stays");
        let out = r.redact(&text);
        assert!(!out.contains(&basic) && !out.contains("s3cr3t"), "{out}");
        assert!(out.contains("tok stays"), "short values are not secrets");
        assert_eq!(out.matches(REDACTED).count(), 2);
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
        assert_eq!(
            &r.redact_bytes(b"x id:s3cr3t-value \xff")[..],
            "x [redacted] \u{fffd}".as_bytes()
        );
    }
}
