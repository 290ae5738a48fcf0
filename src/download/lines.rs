//! Byte-level line splitting for bulk output.
//!
//! [`lines`](fn@super::lines) yields one `String` per line, which is right for
//! a caller that looks at records, and wasteful for one that only writes
//! them out again. [`LineNormalizer`] produces the same records, each ended
//! by `\n`, straight into an output buffer: runs of lines that need no
//! change are copied as one slice, and nothing is allocated per line.

use super::MAX_LINE_BYTES;
use crate::{Error, Result};

/// Rewrites decoded text, chunk by chunk, as the records
/// [`lines`](fn@super::lines) would yield, each followed by `\n`: a trailing
/// `\r` is dropped, blank lines are skipped, and a line longer than
/// [`MAX_LINE_BYTES`] is an error.
#[derive(Debug, Default)]
pub struct LineNormalizer {
    /// The start of a line cut by the chunk boundary.
    partial: Vec<u8>,
    records: u64,
}

impl LineNormalizer {
    /// A normalizer at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the complete lines of `chunk` to `out`, keeping an
    /// unfinished last line for the next chunk.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                return self.keep(rest);
            };
            self.keep(&rest[..nl])?;
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, out);
            self.partial = line;
            self.partial.clear();
            rest = &rest[nl + 1..];
        }
        // `run` is a stretch of lines that pass as they are (each ends in
        // `\n`), copied in one go when something interrupts it.
        let mut run = 0;
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', rest) {
            let line = &rest[start..nl];
            if line.len() > MAX_LINE_BYTES {
                return Err(too_long());
            }
            if line.last() == Some(&b'\r') || is_blank(line) {
                out.extend_from_slice(&rest[run..start]);
                self.emit(line, out);
                run = nl + 1;
            } else {
                self.records += 1;
            }
            start = nl + 1;
        }
        out.extend_from_slice(&rest[run..start]);
        self.keep(&rest[start..])
    }

    /// Ends the text: an unfinished last line is a record too. Returns the
    /// number of records written in all.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> u64 {
        let line = std::mem::take(&mut self.partial);
        self.emit(&line, out);
        self.records
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn keep(&mut self, piece: &[u8]) -> Result<()> {
        if self.partial.len() + piece.len() > MAX_LINE_BYTES {
            return Err(too_long());
        }
        self.partial.extend_from_slice(piece);
        Ok(())
    }

    fn emit(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if is_blank(line) {
            return;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        self.records += 1;
    }
}

fn too_long() -> Error {
    Error::decode(format!("a line is longer than {MAX_LINE_BYTES} bytes"))
}

/// Whether a line is only whitespace, as `str::trim` sees it. Decided on
/// the first byte in the usual case; Unicode spaces need the slow path.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    match line.iter().position(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(i) if line[i] < 0x80 => false,
        Some(i) => std::str::from_utf8(&line[i..]).is_ok_and(|s| s.trim().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    async fn via_lines(text: &[u8]) -> Vec<u8> {
        let chunks: Vec<Result<bytes::Bytes>> = vec![Ok(bytes::Bytes::copy_from_slice(text))];
        let (reader, _) = crate::download::decode(Box::pin(futures::stream::iter(chunks)))
            .await
            .unwrap();
        let lines: Vec<String> = crate::download::lines(reader).try_collect().await.unwrap();
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    fn normalized(text: &[u8], cut: usize) -> (Vec<u8>, u64) {
        let mut n = LineNormalizer::new();
        let mut out = Vec::new();
        for piece in text.chunks(cut.max(1)) {
            n.push(piece, &mut out).unwrap();
        }
        let records = n.finish(&mut out);
        (out, records)
    }

    #[tokio::test]
    async fn same_records_as_lines_however_the_text_is_cut() {
        let text = "a\r\n\n  \n{\"x\":1}\n\u{3000}\nb\r\r\n é \nlast".as_bytes();
        let want = via_lines(text).await;
        let records = want.iter().filter(|b| **b == b'\n').count() as u64;
        for cut in 1..=text.len() {
            assert_eq!(normalized(text, cut), (want.clone(), records), "cut {cut}");
        }
    }

    #[test]
    fn a_line_too_long_is_an_error_even_across_chunks() {
        let mut n = LineNormalizer::new();
        let mut out = Vec::new();
        let piece = vec![b'x'; MAX_LINE_BYTES / 4 + 1];
        let err = (0..5)
            .try_for_each(|_| n.push(&piece, &mut out))
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
    }
}
