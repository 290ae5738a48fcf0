//! The crate's one policy for vendor text that is not clean UTF-8.
//!
//! Vendors occasionally emit a stray byte (a truncated multi-byte character,
//! Latin-1 from some client) or a lone UTF-16 surrogate escape (`\ud800`) in
//! JSON. Failing on it would make that time window impossible to export,
//! forever, and dropping the record would lose data silently. So every
//! decoder in this crate replaces each invalid sequence with U+FFFD, counts
//! it ([`Replacements`]) and logs a warning. Valid UTF-8 passes through byte
//! for byte: each chunk is validated once, and copied with replacements only
//! when it is invalid.
//!
//! Data with a NUL byte is not text at all (git's heuristic): it is rejected
//! as [`ErrorKind::Decode`](crate::ErrorKind::Decode) rather than "repaired"
//! into pages of U+FFFD.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// U+FFFD REPLACEMENT CHARACTER, as UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// A shared count of the invalid sequences replaced with U+FFFD. Clones
/// share the count, so a caller can keep one while a stream consumes the
/// download and read it once the stream is done.
#[derive(Debug, Clone, Default)]
pub struct Replacements(Arc<AtomicU64>);

impl Replacements {
    /// A new count at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Invalid sequences replaced so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, n: u64) {
        if n > 0 {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Applies the policy to a byte stream arriving in chunks: a multi-byte
/// character split across two chunks is carried over, not replaced.
#[derive(Debug, Default)]
pub(crate) struct TextGuard {
    /// The start of a character cut by the chunk boundary (at most 3 bytes).
    carry: Vec<u8>,
    /// Bytes seen so far, to say where a NUL byte was.
    offset: u64,
    replaced: u64,
}

impl TextGuard {
    /// Appends `chunk`, repaired, to `out`. Fails on a NUL byte.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if let Some(at) = memchr::memchr(0, chunk) {
            return Err(binary(self.offset + at as u64));
        }
        self.offset += chunk.len() as u64;
        let joined;
        let data = if self.carry.is_empty() {
            chunk
        } else {
            // Rare (a character cut by the boundary): one copy of the chunk.
            joined = [&std::mem::take(&mut self.carry)[..], chunk].concat();
            &joined[..]
        };
        let tail = repair(data, out, false, &mut self.replaced);
        self.carry.extend_from_slice(&data[data.len() - tail..]);
        Ok(())
    }

    /// Ends the stream: a character still incomplete is replaced. Returns
    /// the number of replacements made in all.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> u64 {
        let carry = std::mem::take(&mut self.carry);
        repair(&carry, out, true, &mut self.replaced);
        self.replaced
    }
}

fn binary(offset: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the data is binary (a NUL byte at offset {offset}), not log lines"),
    )
}

/// Copies `data` to `out`, each invalid sequence replaced by U+FFFD.
/// Unless `at_end`, an incomplete character at the very end is left out:
/// returns its length so the caller can carry it to the next chunk.
fn repair(mut data: &[u8], out: &mut Vec<u8>, at_end: bool, replaced: &mut u64) -> usize {
    loop {
        match std::str::from_utf8(data) {
            Ok(_) => {
                out.extend_from_slice(data);
                return 0;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                out.extend_from_slice(&data[..valid]);
                match e.error_len() {
                    Some(bad) => {
                        out.extend_from_slice(REPLACEMENT);
                        *replaced += 1;
                        data = &data[valid + bad..];
                    }
                    None if at_end => {
                        out.extend_from_slice(REPLACEMENT);
                        *replaced += 1;
                        return 0;
                    }
                    None => return data.len() - valid,
                }
            }
        }
    }
}

/// Repairs a whole text in one go: `Cow::Borrowed` when it was valid.
#[cfg_attr(not(feature = "conductorone"), allow(dead_code))]
pub(crate) fn repair_str(data: &[u8]) -> (std::borrow::Cow<'_, str>, u64) {
    match std::str::from_utf8(data) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), 0),
        Err(_) => {
            let mut out = Vec::with_capacity(data.len() + 8);
            let mut n = 0;
            repair(data, &mut out, true, &mut n);
            let s = String::from_utf8(out).expect("repair yields UTF-8");
            (std::borrow::Cow::Owned(s), n)
        }
    }
}

/// Replaces lone UTF-16 surrogate escapes (`\ud800` without its pair, or a
/// low half alone) inside the strings of a JSON text with `\ufffd`, which
/// `serde_json` would otherwise reject. Returns the text (borrowed when
/// nothing changed) and the number of escapes replaced. Never fails: text
/// that is not JSON is returned for the JSON parser to reject.
#[cfg_attr(not(feature = "conductorone"), allow(dead_code))]
pub(crate) fn repair_json_surrogates(json: &str) -> (std::borrow::Cow<'_, str>, u64) {
    let b = json.as_bytes();
    // Cheap exit for the usual page: no `\u` escape of a surrogate at all.
    if !memchr::memmem::find_iter(b, b"\\u")
        .any(|i| b.get(i + 2).is_some_and(|c| matches!(c, b'd' | b'D')))
    {
        return (std::borrow::Cow::Borrowed(json), 0);
    }
    let mut out = String::with_capacity(json.len());
    let mut replaced = 0u64;
    let mut in_string = false;
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let low = |at| matches!(hex4(b, at), Some(0xDC00..=0xDFFF));
                let escape = (b.get(i + 1) == Some(&b'u')).then(|| hex4(b, i + 2));
                match escape.flatten() {
                    Some(0xD800..=0xDBFF)
                        if b.get(i + 6..i + 8) == Some(&b"\\u"[..]) && low(i + 8) =>
                    {
                        i += 12;
                    }
                    Some(0xD800..=0xDFFF) => {
                        out.push_str(&json[copied..i]);
                        out.push_str("\\ufffd");
                        replaced += 1;
                        i += 6;
                        copied = i;
                    }
                    // `\"`, `\\`, other `\u` escapes and friends: skip the
                    // escaped character.
                    _ => i += 2,
                }
            }
            _ => i += 1,
        }
    }
    if replaced == 0 {
        return (std::borrow::Cow::Borrowed(json), 0);
    }
    out.push_str(&json[copied.min(json.len())..]);
    (std::borrow::Cow::Owned(out), replaced)
}

#[cfg_attr(not(feature = "conductorone"), allow(dead_code))]
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard_all(chunks: &[&[u8]]) -> io::Result<(Vec<u8>, u64)> {
        let mut g = TextGuard::default();
        let mut out = Vec::new();
        for c in chunks {
            g.push(c, &mut out)?;
        }
        let n = g.finish(&mut out);
        Ok((out, n))
    }

    #[test]
    fn valid_text_passes_byte_exact_even_split_mid_character() {
        let text = "héllo wörld ✓ 𝄞\n".as_bytes();
        for cut in 0..text.len() {
            let (out, n) = guard_all(&[&text[..cut], &text[cut..]]).unwrap();
            assert_eq!((out.as_slice(), n), (text, 0), "cut at {cut}");
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_and_are_counted() {
        let (out, n) = guard_all(&[b"a\xffb", b"\xe2\x82", b"c\n"]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\u{FFFD}b\u{FFFD}c\n");
        assert_eq!(n, 2);
        // A character cut by the end of the data.
        let (out, n) = guard_all(&[b"x\xf0\x9d"]).unwrap();
        assert_eq!(
            (String::from_utf8(out).unwrap().as_str(), n),
            ("x\u{FFFD}", 1)
        );
    }

    #[test]
    fn a_nul_byte_is_binary_data() {
        let err = guard_all(&[b"ab", b"c\0d"]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("offset 3"), "{err}");
    }

    #[test]
    fn lone_surrogate_escapes_are_replaced_pairs_kept() {
        let (s, n) = repair_json_surrogates(r#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800"}"#);
        assert_eq!(n, 1);
        assert_eq!(s, r#"{"a":"x\ufffdy","b":"\ud83d\ude00","c":"\\ud800"}"#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x\u{FFFD}y");
        let (s, n) = repair_json_surrogates(r#"["\udc00\ud800"]"#);
        assert_eq!((s.as_ref(), n), (r#"["\ufffd\ufffd"]"#, 2));
        let clean = r#"{"a":"\u00e9"}"#;
        assert!(matches!(
            repair_json_surrogates(clean),
            (std::borrow::Cow::Borrowed(_), 0)
        ));
    }
}
