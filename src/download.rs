//! Streaming downloads: decoding, line splitting and atomic files.
//!
//! Log archives can be many gigabytes, so nothing here buffers a whole body.
//! Bodies are sniffed as they arrive: gzip by its magic bytes (`1f 8b`), tar
//! by `ustar` at offset 257 of the decompressed stream, because the vendors
//! document neither layout reliably. Files are written to a temporary sibling
//! and renamed into place only once the body is complete and, for gzip,
//! verified, so a failed download never leaves a half-written file behind.

use crate::error::{Error, Result};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

/// A body as a stream of chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A decoded body, readable as bytes or lines.
pub type BoxReader = Pin<Box<dyn AsyncBufRead + Send>>;

/// The longest line [`lines`] accepts. A longer one is an error rather than
/// an unbounded allocation.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// What [`decode`] found the body to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// The body was gzip (possibly multi-member).
    pub gzip: bool,
    /// The (decompressed) body was a tar archive; the reader yields the
    /// regular files' contents one after another.
    pub tar: bool,
}

// Reading response bodies (capped, guarded, with context) lives in
// `crate::http::body`; these stay reachable here for existing callers.
pub use crate::http::body::{body_error, response_stream};
#[allow(unused_imports)]
pub(crate) use crate::http::body::{read_error_body, MAX_ERROR_BODY};

/// Calls `on_chunk` with the size of every chunk as it passes, for progress
/// reporting.
pub fn observe(body: ByteStream, mut on_chunk: impl FnMut(u64) + Send + 'static) -> ByteStream {
    Box::pin(body.inspect_ok(move |chunk| on_chunk(chunk.len() as u64)))
}

/// Sniffs `body` and returns a reader over its decoded content: gunzipped if
/// gzip, unpacked if tar, as-is otherwise. An empty body decodes to an empty
/// reader. A truncated gzip fails when the reader reaches the cut.
pub async fn decode(body: ByteStream) -> Result<(BoxReader, Layout)> {
    let raw = tokio_util::io::StreamReader::new(body.map_err(io::Error::other));
    let (head, raw) = sniff(raw, 2).await?;
    let mut layout = Layout::default();
    let inner: Pin<Box<dyn AsyncRead + Send>> = if head == [0x1f, 0x8b] {
        layout.gzip = true;
        let mut gz = async_compression::tokio::bufread::GzipDecoder::new(BufReader::new(raw));
        // Vendors (and `cat a.gz b.gz`) produce multi-member files.
        gz.multiple_members(true);
        Box::pin(gz)
    } else {
        Box::pin(raw)
    };
    let (head, inner) = sniff(inner, 262).await?;
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        layout.tar = true;
        let files = tar_contents(inner);
        let reader = tokio_util::io::StreamReader::new(files);
        return Ok((Box::pin(reader), layout));
    }
    Ok((Box::pin(BufReader::with_capacity(64 * 1024, inner)), layout))
}

/// Splits a decoded body into lines (without terminators), skipping blank
/// ones. Memory is bounded by [`MAX_LINE_BYTES`].
pub fn lines(reader: BoxReader) -> impl Stream<Item = Result<String>> + Send {
    let codec = tokio_util::codec::LinesCodec::new_with_max_length(MAX_LINE_BYTES);
    tokio_util::codec::FramedRead::new(reader, codec)
        .map_err(|e| match e {
            tokio_util::codec::LinesCodecError::Io(e) => Error::from(e),
            tokio_util::codec::LinesCodecError::MaxLineLengthExceeded => {
                Error::decode(format!("a line is longer than {MAX_LINE_BYTES} bytes"))
            }
        })
        .try_filter(|l| futures::future::ready(!l.trim().is_empty()))
}

/// Splits a decoded body on `\n` only, keeping blank lines and any `\r`:
/// what a parser of multi-line records (quoted CSV fields) needs to see the
/// data exactly. Memory is bounded by [`MAX_LINE_BYTES`].
pub fn exact_lines(reader: BoxReader) -> impl Stream<Item = Result<String>> + Send {
    let codec = tokio_util::codec::AnyDelimiterCodec::new_with_max_length(
        b"\n".to_vec(),
        Vec::new(),
        MAX_LINE_BYTES,
    );
    tokio_util::codec::FramedRead::new(reader, codec).map(|item| match item {
        Ok(bytes) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| Error::decode("a line is not UTF-8"))
        }
        Err(tokio_util::codec::AnyDelimiterCodecError::Io(e)) => Err(Error::from(e)),
        Err(tokio_util::codec::AnyDelimiterCodecError::MaxChunkLengthExceeded) => Err(
            Error::decode(format!("a line is longer than {MAX_LINE_BYTES} bytes")),
        ),
    })
}

/// Reads up to `n` bytes without losing them: returns them together with a
/// reader that yields them again followed by the rest.
async fn sniff<R>(mut r: R, n: usize) -> Result<(Vec<u8>, Pin<Box<dyn AsyncRead + Send>>)>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let mut head = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        let got = r.read(&mut head[filled..]).await?;
        if got == 0 {
            break;
        }
        filled += got;
    }
    head.truncate(filled);
    let replay = io::Cursor::new(head.clone());
    Ok((head, Box::pin(replay.chain(r))))
}

/// The regular files of a tar stream, concatenated, each ending in a newline
/// so records from adjacent files never merge.
fn tar_contents<R>(reader: R) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    R: AsyncRead + Send + Unpin + 'static,
{
    struct State<R> {
        r: R,
        remaining: u64,
        padding: u64,
        last_byte: Option<u8>,
        done: bool,
    }
    let state = State {
        r: reader,
        remaining: 0,
        padding: 0,
        last_byte: None,
        done: false,
    };
    futures::stream::try_unfold(state, |mut s| async move {
        loop {
            if s.done {
                return Ok(None);
            }
            if s.remaining > 0 {
                let mut buf = vec![0u8; s.remaining.min(64 * 1024) as usize];
                s.r.read_exact(&mut buf).await.map_err(truncated_tar)?;
                s.remaining -= buf.len() as u64;
                s.last_byte = buf.last().copied();
                if s.remaining == 0 {
                    skip(&mut s.r, s.padding).await?;
                    if s.last_byte != Some(b'\n') {
                        buf.push(b'\n');
                    }
                }
                return Ok(Some((Bytes::from(buf), s)));
            }
            let mut header = [0u8; 512];
            let got = read_full(&mut s.r, &mut header).await?;
            if got == 0 || header.iter().all(|b| *b == 0) {
                // End of archive (two zero blocks), or a writer that omits them.
                s.done = true;
                continue;
            }
            if got < 512 {
                return Err(truncated_tar(io::ErrorKind::UnexpectedEof.into()));
            }
            let size = tar_size(&header[124..136])?;
            let padding = (512 - size % 512) % 512;
            match header[156] {
                // Regular file (old and new spellings) and contiguous file.
                b'0' | 0 | b'7' => {
                    s.remaining = size;
                    s.padding = padding;
                    if size == 0 {
                        skip(&mut s.r, padding).await?;
                    }
                }
                // Directories, links, pax and GNU long-name headers carry no
                // log records.
                _ => skip(&mut s.r, size + padding).await?,
            }
        }
    })
}

fn truncated_tar(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(io::ErrorKind::UnexpectedEof, "tar archive is truncated")
    } else {
        e
    }
}

async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

async fn skip<R: AsyncRead + Unpin>(r: &mut R, n: u64) -> io::Result<()> {
    let copied = tokio::io::copy(&mut r.take(n), &mut tokio::io::sink()).await?;
    if copied < n {
        return Err(truncated_tar(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

/// Parses a tar size field: NUL/space-terminated octal, or GNU base-256 for
/// files over 8 GiB.
fn tar_size(field: &[u8]) -> io::Result<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(bad_tar)?;
        }
        return Ok(v);
    }
    let text = std::str::from_utf8(field).map_err(|_| bad_tar())?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| bad_tar())
}

/// A ustar header for a regular file: what [`decode`] reads, for the
/// emulators that serve tar archives and for tests.
#[cfg(any(test, all(feature = "sandbox", feature = "tencent-cls")))]
pub(crate) fn ustar_header(name: &str, size: u64, mtime: u32) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = name.as_bytes();
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(format!("{mtime:011o}\0").as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn bad_tar() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "malformed tar header")
}

/// A file that appears at its destination only when [`commit`](Self::commit)
/// succeeds. Dropped uncommitted (an error, a panic, a cancelled task), it
/// removes its temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    file: tokio::fs::File,
    temp: tempfile::TempPath,
    dest: PathBuf,
    written: u64,
}

impl AtomicFile {
    /// Starts a file that will become `dest`. The temporary file sits in the
    /// same directory so the final rename cannot cross file systems.
    pub async fn create(dest: impl AsRef<Path>) -> Result<Self> {
        let dest = dest.as_ref().to_path_buf();
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Error::invalid_input("output", "names no file"))?
            .to_string_lossy()
            .into_owned();
        let (file, temp) = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(Error::from)?
            .into_parts();
        Ok(AtomicFile {
            file: tokio::fs::File::from_std(file),
            temp,
            dest,
            written: 0,
        })
    }

    /// Appends bytes.
    pub async fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.file.write_all(buf).await?;
        self.written += buf.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes to disk and renames into place. Returns the bytes written.
    pub async fn commit(mut self) -> Result<u64> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        drop(self.file);
        let dest = self.dest.clone();
        self.temp.persist(&dest).map_err(|e| Error::from(e.error))?;
        // The rename itself is durable only once the directory is synced.
        if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.written)
    }
}

/// Writes `body` to `dest` atomically, exactly as served. With
/// `verify_gzip`, the bytes are also run through a gzip decoder on the way,
/// so a truncated or corrupt archive fails instead of landing.
pub async fn write_raw(
    dest: impl AsRef<Path>,
    mut body: ByteStream,
    verify_gzip: bool,
) -> Result<u64> {
    let mut out = AtomicFile::create(dest).await?;
    let mut check = verify_gzip.then(|| flate2::write::MultiGzDecoder::new(io::sink()));
    // Only a body that really is gzip can be verified as gzip, and that takes
    // two bytes, which may arrive in separate chunks; an empty or plain body
    // is written untouched.
    let mut head: Option<Vec<u8>> = check.is_some().then(Vec::new);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if let Some(h) = head.as_mut() {
            h.extend_from_slice(&chunk[..chunk.len().min(2 - h.len())]);
            if h.len() == 2 {
                if h[..] != [0x1f, 0x8b] {
                    check = None;
                }
                head = None;
            }
        }
        if let Some(c) = check.as_mut() {
            io::Write::write_all(c, &chunk)?;
        }
        out.write_all(&chunk).await?;
    }
    if head.as_ref().is_some_and(|h| !h.is_empty()) {
        // A one-byte body cannot be gzip.
        check = None;
    }
    if let Some(c) = check.as_mut() {
        if out.written() > 0 {
            c.try_finish()
                .map_err(|e| Error::decode(format!("gzip body is truncated or corrupt: {e}")))?;
        }
    }
    out.commit().await
}

/// Writes a decoded reader to `dest` atomically.
pub async fn write_decoded(dest: impl AsRef<Path>, mut reader: BoxReader) -> Result<u64> {
    let mut out = AtomicFile::create(dest).await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).await?;
    }
    out.commit().await
}

/// The file name a `Content-Disposition` header suggests, reduced to a plain
/// name: no directories, no leading dots, nothing a server could use to write
/// outside the folder the caller chose.
pub fn content_disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in value.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            // RFC 5987: charset'lang'percent-encoded
            let encoded = v.splitn(3, '\'').nth(2)?;
            extended = Some(
                url::form_urlencoded::parse(format!("x={encoded}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())?,
            );
        } else if let Some(v) = part.strip_prefix("filename=") {
            plain = Some(v.trim_matches('"').to_string());
        }
    }
    sanitize_file_name(&extended.or(plain)?)
}

/// Reduces a server-suggested name to a plain file name: the last path
/// component, without leading dots or surrounding space. `None` if nothing
/// usable is left.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let name = name
        .rsplit(['/', '\\'])
        .next()?
        .trim_start_matches('.')
        .trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Where to write: `target` itself, or, when it is an existing directory,
/// `default_name` inside it.
pub fn resolve_output(target: &Path, default_name: &str) -> PathBuf {
    if target.is_dir() {
        target.join(default_name)
    } else {
        target.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            let h = ustar_header(name, data.len() as u64, 0);
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    /// Splits into small chunks so sniffing has to cross chunk boundaries.
    fn body(bytes: Vec<u8>) -> ByteStream {
        let chunks: Vec<Result<Bytes>> = bytes
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures::stream::iter(chunks))
    }

    async fn decode_lines(bytes: Vec<u8>) -> Result<(Vec<String>, Layout)> {
        let (reader, layout) = decode(body(bytes)).await?;
        Ok((lines(reader).try_collect().await?, layout))
    }

    #[tokio::test]
    async fn plain_gzip_and_tar_gz_decode_to_the_same_lines() {
        let text = b"{\"a\":1}\n{\"a\":2}\n".to_vec();
        let want = vec!["{\"a\":1}".to_string(), "{\"a\":2}".to_string()];
        let (l, layout) = decode_lines(text.clone()).await.unwrap();
        assert_eq!((l, layout), (want.clone(), Layout::default()));
        let (l, layout) = decode_lines(gzip(&text)).await.unwrap();
        assert_eq!(
            (l, layout),
            (
                want.clone(),
                Layout {
                    gzip: true,
                    tar: false
                }
            )
        );
        // Two files, the first without a trailing newline: records must not merge.
        let archive = tar(&[("a.log", b"{\"a\":1}"), ("b.log", b"{\"a\":2}\n")]);
        let (l, layout) = decode_lines(gzip(&archive)).await.unwrap();
        assert_eq!(
            (l, layout),
            (
                want,
                Layout {
                    gzip: true,
                    tar: true
                }
            )
        );
    }

    #[tokio::test]
    async fn multi_member_gzip_is_read_whole() {
        let mut both = gzip(b"one\n");
        both.extend(gzip(b"two\n"));
        let (l, _) = decode_lines(both).await.unwrap();
        assert_eq!(l, ["one", "two"]);
    }

    #[tokio::test]
    async fn empty_body_is_no_lines() {
        let (l, layout) = decode_lines(Vec::new()).await.unwrap();
        assert!(l.is_empty());
        assert_eq!(layout, Layout::default());
    }

    #[tokio::test]
    async fn truncated_gzip_is_a_decode_error() {
        let data: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut gz = gzip(&data);
        gz.truncate(gz.len() / 2);
        let err = decode_lines(gz).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Decode, "{err}");
    }

    #[tokio::test]
    async fn truncated_tar_is_an_error() {
        let mut archive = tar(&[("a.log", &[b'x'; 2000])]);
        archive.truncate(1000);
        assert!(decode_lines(gzip(&archive)).await.is_err());
    }

    #[tokio::test]
    async fn atomic_write_lands_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.gz");
        let good = gzip(b"hello\n");
        assert_eq!(
            write_raw(&dest, body(good.clone()), true).await.unwrap(),
            good.len() as u64
        );
        assert_eq!(std::fs::read(&dest).unwrap(), good);

        // A truncated gzip fails verification and leaves nothing behind,
        // neither the destination nor the temporary file.
        let dest2 = dir.path().join("bad.gz");
        let mut bad = gzip(&[b'z'; 10_000]);
        bad.truncate(bad.len() - 4);
        assert!(write_raw(&dest2, body(bad), true).await.is_err());
        assert!(!dest2.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only out.gz remains");
    }

    #[tokio::test]
    async fn a_stream_error_midway_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.log");
        let chunks: Vec<Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"part")),
            Err(Error::new(crate::ErrorKind::Network, "reset")),
        ];
        let err = write_raw(&dest, Box::pin(futures::stream::iter(chunks)), false)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Network);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn stream_errors_keep_their_kind_through_decoding() {
        let chunks: Vec<Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"a\n")),
            Err(Error::new(crate::ErrorKind::Network, "reset")),
        ];
        let chunks = futures::stream::iter(chunks);
        // The error may surface while sniffing or while reading lines.
        let err = async {
            let (reader, _) = decode(Box::pin(chunks)).await?;
            lines(reader).try_collect::<Vec<_>>().await
        }
        .await
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Network);
    }

    #[tokio::test]
    async fn plain_bodies_pass_raw_verification_however_they_are_chunked() {
        let dir = tempfile::tempdir().unwrap();
        for data in [b"x".to_vec(), b"plain text\n".to_vec(), Vec::new()] {
            let dest = dir.path().join("plain");
            // `body` splits into 7-byte chunks; a single byte is its own chunk.
            let chunks: Vec<Result<Bytes>> = data
                .iter()
                .map(|b| Ok(Bytes::copy_from_slice(&[*b])))
                .collect();
            let n = write_raw(&dest, Box::pin(futures::stream::iter(chunks)), true)
                .await
                .unwrap();
            assert_eq!(
                (n, std::fs::read(&dest).unwrap()),
                (data.len() as u64, data)
            );
        }
        // A gzip whose magic arrives one byte per chunk is still verified.
        let mut bad = gzip(&[b'q'; 5_000]);
        bad.truncate(bad.len() - 3);
        let chunks: Vec<Result<Bytes>> = bad
            .iter()
            .map(|b| Ok(Bytes::copy_from_slice(&[*b])))
            .collect();
        assert!(write_raw(
            dir.path().join("bad"),
            Box::pin(futures::stream::iter(chunks)),
            true
        )
        .await
        .is_err());
    }

    #[tokio::test]
    async fn exact_lines_keep_blank_lines_and_carriage_returns() {
        let (reader, _) = decode(body(b"a,\"x\r\n\r\ny\"\n\nlast".to_vec()))
            .await
            .unwrap();
        let got: Vec<String> = exact_lines(reader).try_collect().await.unwrap();
        assert_eq!(got, ["a,\"x\r", "\r", "y\"", "", "last"]);
    }

    #[test]
    fn content_disposition_names_are_sanitised() {
        assert_eq!(
            content_disposition_filename("attachment; filename=\"audit.gz\"").as_deref(),
            Some("audit.gz")
        );
        assert_eq!(
            content_disposition_filename("attachment; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            content_disposition_filename("attachment; filename=x; filename*=UTF-8''m%C3%BC.gz")
                .as_deref(),
            Some("mü.gz")
        );
        assert_eq!(
            content_disposition_filename("attachment; filename=\"..\""),
            None
        );
        assert_eq!(content_disposition_filename("inline"), None);
    }

    #[test]
    fn tar_sizes() {
        assert_eq!(tar_size(b"00000000012\0").unwrap(), 10);
        assert_eq!(tar_size(b"          \0\0").unwrap(), 0);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[11] = 1;
        big[10] = 2;
        assert_eq!(tar_size(&big).unwrap(), 513);
    }
}
