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
    partial: Carry,
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
        let mut partial = std::mem::take(&mut self.partial);
        let rest = partial.complete(chunk, |line| {
            self.emit(line, out);
            Ok(())
        });
        self.partial = partial;
        let Some(rest) = rest? else {
            return Ok(());
        };
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
        self.partial.keep(&rest[start..])
    }

    /// Ends the text: an unfinished last line is a record too. Returns the
    /// number of records written in all.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> u64 {
        let line = self.partial.take();
        self.emit(&line, out);
        self.records
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
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

/// The start of a line cut by a chunk boundary, carried to the next chunk,
/// at most [`MAX_LINE_BYTES`] long.
#[derive(Debug, Default)]
pub(crate) struct Carry(Vec<u8>);

impl Carry {
    /// Completes the carried line (if any) with the start of `chunk`, hands
    /// it to `line`, and returns the rest of the chunk; `None` when the
    /// chunk has no newline and was carried whole.
    pub(crate) fn complete<'a>(
        &mut self,
        chunk: &'a [u8],
        line: impl FnOnce(&[u8]) -> Result<()>,
    ) -> Result<Option<&'a [u8]>> {
        if self.0.is_empty() {
            return Ok(Some(chunk));
        }
        let Some(nl) = memchr::memchr(b'\n', chunk) else {
            self.keep(chunk)?;
            return Ok(None);
        };
        self.keep(&chunk[..nl])?;
        let done = line(&self.0);
        self.0.clear();
        done.map(|()| Some(&chunk[nl + 1..]))
    }

    /// Carries `piece` (the unfinished end of a chunk).
    pub(crate) fn keep(&mut self, piece: &[u8]) -> Result<()> {
        if self.0.len() + piece.len() > MAX_LINE_BYTES {
            return Err(too_long());
        }
        self.0.extend_from_slice(piece);
        Ok(())
    }

    /// Ends the text: the unfinished last line, if any.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
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
