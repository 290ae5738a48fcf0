//! Streaming downloads: decoding, line splitting and atomic files.
//!
//! Log archives can be many gigabytes, so nothing here buffers a whole body.
//! Bodies are sniffed as they arrive: gzip by its magic bytes (`1f 8b`), tar
//! by `ustar` at offset 257 of the decompressed stream, because the vendors
//! document neither layout reliably. Decoding runs on a blocking thread
//! (inflate and untar are CPU work), reads gzip to its last trailer and tar
//! past its end-of-archive blocks, and verifies both. Files are written to a
//! temporary sibling and renamed into place only once the body is complete
//! and verified, so a failed download never leaves a half-written file.
//!
//! # Text policy
//!
//! Decoded log data must be text. One policy holds for the whole crate
//! (Atlas lines, CLS records, ConductorOne event pages):
//! - valid UTF-8 passes through byte for byte;
//! - each invalid UTF-8 sequence, and each lone UTF-16 surrogate escape in
//!   JSON, becomes U+FFFD, is counted ([`Replacements`]) and logged as a
//!   warning, so one bad byte never makes a time window impossible to
//!   export, and nothing is dropped silently;
//! - data containing a NUL byte is binary, not log lines: an
//!   [`ErrorKind::Decode`](crate::ErrorKind::Decode) error.
//!
//! Failures that downloading again cannot cure (a wrong content type, a
//! corrupt archive, binary data) are not retryable; a body that merely ends
//! too early is.

mod lines;
mod pipeline;
mod text;
mod writer;

pub use lines::LineNormalizer;
pub use writer::BackgroundWriter;
use writer::WriteBack;

#[cfg(feature = "atlas")]
pub(crate) use pipeline::not_gzip;
pub use pipeline::DecodeOptions;
#[cfg(any(feature = "conductorone", feature = "tencent-cls"))]
pub(crate) use text::repair_json_surrogates;
#[cfg(feature = "conductorone")]
pub(crate) use text::repair_str;
pub use text::Replacements;
#[cfg(feature = "tencent-cls")]
pub(crate) use {
    lines::{is_blank, Carry},
    pipeline::Transform,
};

use crate::error::{Error, Result};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// A body as a stream of chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A decoded body, readable as bytes or lines.
pub type BoxReader = Pin<Box<dyn AsyncBufRead + Send>>;

/// The longest line [`lines`] accepts. A longer one is an error rather than
/// an unbounded allocation.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// How far a download has got: what every download's `on_progress`
/// reports, after every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes received so far (as served, so compressed for gzip).
    pub bytes: u64,
    /// The size the server announced, when it did.
    pub total: Option<u64>,
}

/// A download progress callback, the one type every vendor's downloads
/// take. Called on the task reading the body: keep it quick.
pub type ProgressFn = std::sync::Arc<dyn Fn(Progress) + Send + Sync>;

/// How a download's `save` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    /// The file exactly as served (gzip, tar.gz), verified as complete
    /// gzip on the way.
    Raw,
    /// Decoded: decompressed log lines (Atlas), or the records as NDJSON
    /// (Tencent CLS).
    Decoded,
}

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

/// Calls `on_chunk` with the size of every chunk as it passes, for progress
/// reporting.
pub fn observe(body: ByteStream, mut on_chunk: impl FnMut(u64) + Send + 'static) -> ByteStream {
    Box::pin(body.inspect_ok(move |chunk| on_chunk(chunk.len() as u64)))
}

/// Sniffs `body` and returns a reader over its decoded content: gunzipped if
/// gzip, unpacked if tar, as-is otherwise, under the [text policy](self).
/// An empty body decodes to an empty reader. A truncated or corrupt gzip or
/// tar fails when the reader reaches the damage.
pub async fn decode(body: ByteStream) -> Result<(BoxReader, Layout)> {
    decode_with(body, DecodeOptions::default(), &Replacements::new()).await
}

/// [`decode`] with requirements on the body, counting the invalid UTF-8
/// sequences replaced into `replacements`.
pub async fn decode_with(
    body: ByteStream,
    options: DecodeOptions,
    replacements: &Replacements,
) -> Result<(BoxReader, Layout)> {
    pipeline::decode(body, options, replacements.clone(), None).await
}

/// [`decode_with`], the text rewritten by `transform` on the decoding
/// thread before it reaches the reader.
#[cfg(feature = "tencent-cls")]
pub(crate) async fn decode_transformed(
    body: ByteStream,
    options: DecodeOptions,
    replacements: &Replacements,
    transform: Box<dyn Transform>,
) -> Result<(BoxReader, Layout)> {
    pipeline::decode(body, options, replacements.clone(), Some(transform)).await
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

/// Rejects a download whose `Content-Type` says it is a page or a message
/// (HTML, JSON, XML, any `text/*`) where a log file was expected: what a
/// proxy or a vendor's error handler sends, even with HTTP 200. A missing
/// or binary type is accepted; the body's bytes are checked next.
pub fn check_file_content_type(content_type: Option<&str>) -> Result<()> {
    let Some(value) = content_type else {
        return Ok(());
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let message_like = essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/problem+json"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml");
    if message_like {
        let shown: String = value.chars().take(100).collect();
        return Err(Error::decode(format!(
            "the server sent `{shown}` where a gzip log file was expected"
        ))
        .with_retryable(false));
    }
    Ok(())
}

/// A file that appears at its destination only when [`commit`](Self::commit)
/// succeeds. Dropped uncommitted (an error, a panic, a cancelled task), it
/// removes its temporary file.
///
/// Writes are gathered into large buffers and written by a dedicated
/// blocking thread ([`BackgroundWriter`]), not one blocking-pool hand-off
/// per write. That thread also starts the kernel's write-back every 16 MiB,
/// so the `fsync` before the rename does not stall on the whole file.
#[derive(Debug)]
pub struct AtomicFile {
    file: BackgroundWriter<WriteBack>,
    temp: tempfile::TempPath,
    dest: PathBuf,
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
            file: BackgroundWriter::new(WriteBack::new(file)),
            temp,
            dest,
        })
    }

    /// Appends bytes.
    pub async fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.file.write_all(buf).await?;
        Ok(())
    }

    /// The write buffer, for callers that build output in place (so it is
    /// copied once); follow with [`send_if_full`](Self::send_if_full).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.file.buffer()
    }

    /// Hands the write buffer to the writing thread once it is full.
    pub async fn send_if_full(&mut self) -> Result<()> {
        self.file.send_if_full().await?;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.file.written()
    }

    /// Appends all that `reader` yields, in the decoder's own chunks (so
    /// each is copied once, into the write buffer), showing each to `seen`.
    pub(crate) async fn copy_from(
        &mut self,
        reader: &mut BoxReader,
        mut seen: impl FnMut(&[u8]),
    ) -> Result<()> {
        loop {
            let chunk = reader.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(());
            }
            seen(chunk);
            let n = chunk.len();
            self.write_all(chunk).await?;
            reader.as_mut().consume(n);
        }
    }

    /// Flushes to disk and renames into place. Returns the bytes written.
    pub async fn commit(self) -> Result<u64> {
        let AtomicFile { file, temp, dest } = self;
        let written = file.written();
        // Write-back ran during the download, so this fsync is short.
        let file = file.finish().await?.into_inner();
        // Off the runtime: on a large file this waits for the disk. Were
        // this future dropped meanwhile, `temp` still removes the file.
        tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(|e| Error::new(crate::ErrorKind::Io, format!("fsync failed: {e}")))??;
        temp.persist(&dest).map_err(|e| Error::from(e.error))?;
        // The rename itself is durable only once the directory is synced.
        if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(written)
    }
}

/// Writes `body` to `dest` atomically, exactly as served. With
/// `verify_gzip`, a non-empty body must be gzip, and every member is
/// inflated on a blocking thread and checked against its trailer (CRC-32
/// and size) on the way, so a truncated or corrupt archive fails instead of
/// landing. An empty body is written as an empty file.
pub async fn write_raw(dest: impl AsRef<Path>, body: ByteStream, verify_gzip: bool) -> Result<u64> {
    let mut body = if verify_gzip {
        verify_gzip_stream(body)
    } else {
        body
    };
    let mut out = AtomicFile::create(dest).await?;
    while let Some(chunk) = body.next().await {
        out.write_all(&chunk?).await?;
    }
    out.commit().await
}

/// Passes `body` through unchanged while checking it as gzip on a blocking
/// thread: the stream ends in an error instead of `None` if the body is not
/// gzip, or any member fails its trailer (CRC-32 and size). For writers
/// that cannot hold the bytes back (stdout); files use [`write_raw`]. An
/// empty body passes.
pub fn verify_gzip_stream(body: ByteStream) -> ByteStream {
    let state = (body, None::<pipeline::GzipVerifier>);
    Box::pin(futures::stream::try_unfold(
        state,
        |(mut body, mut check)| async move {
            // Started here, inside the runtime, not when the stream is built.
            let verifier = check.get_or_insert_with(pipeline::GzipVerifier::start);
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    verifier.feed(chunk.clone()).await?;
                    Ok(Some((chunk, (body, check))))
                }
                None => {
                    if let Some(c) = check.take() {
                        c.finish().await?;
                    }
                    Ok(None)
                }
            }
        },
    ))
}

/// Writes a decoded reader to `dest` atomically.
pub async fn write_decoded(dest: impl AsRef<Path>, mut reader: BoxReader) -> Result<u64> {
    let mut out = AtomicFile::create(dest).await?;
    out.copy_from(&mut reader, |_| {}).await?;
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
            // RFC 8187: charset'lang'percent-encoded. Percent-decoding
            // only: `+` is a plus here, not a form-encoded space.
            let mut fields = v.splitn(3, '\'');
            let (charset, encoded) = (fields.next()?, fields.nth(1)?);
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
            extended = Some(if charset.eq_ignore_ascii_case("iso-8859-1") {
                bytes.iter().map(|&b| char::from(b)).collect()
            } else {
                String::from_utf8(bytes).ok()?
            });
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
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = ::tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// `bytes` in chunks of `size`, so sniffing has to cross chunk boundaries.
    fn chunked(bytes: &[u8], size: usize) -> ByteStream {
        let chunks: Vec<Result<Bytes>> = bytes
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures::stream::iter(chunks))
    }

    fn body(bytes: Vec<u8>) -> ByteStream {
        chunked(&bytes, 7)
    }

    async fn decode_lines(bytes: Vec<u8>) -> Result<(Vec<String>, Layout)> {
        let (reader, layout) = decode(body(bytes)).await?;
        Ok((lines(reader).try_collect().await?, layout))
    }

    #[tokio::test]
    async fn plain_gzip_tar_gz_and_empty_bodies_decode_to_their_lines() {
        let text = b"{\"a\":1}\n{\"a\":2}\n".to_vec();
        let records = ["{\"a\":1}", "{\"a\":2}"];
        // Two files, the first without a trailing newline: records must not merge.
        let archive = tar(&[("a.log", b"{\"a\":1}"), ("b.log", b"{\"a\":2}\n")]);
        let mut two_members = gzip(b"one\n");
        two_members.extend(gzip(b"two\n"));
        let cases: [(Vec<u8>, &[&str], bool, bool); 5] = [
            (text.clone(), &records, false, false),
            (gzip(&text), &records, true, false),
            (gzip(&archive), &records, true, true),
            // Multi-member gzip is read whole.
            (two_members, &["one", "two"], true, false),
            (Vec::new(), &[], false, false),
        ];
        for (bytes, want, gzip, tar) in cases {
            let (got, layout) = decode_lines(bytes).await.unwrap();
            assert_eq!(got, want);
            assert_eq!(layout, Layout { gzip, tar });
        }
    }

    #[tokio::test]
    async fn damaged_gzip_and_tar_are_decode_errors() {
        let data: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let long = gzip(&data);
        let archive = tar(&[("a.log", b"one\n")]);
        let gz = gzip(&archive);
        let n = gz.len();
        let mut bad_crc = gz.clone();
        bad_crc[n - 8] ^= 0xff;
        let mut junk = archive.clone();
        junk.extend_from_slice(b"junk");
        let mut bad_header = archive.clone();
        bad_header[0] ^= 1;
        let cases = [
            ("truncated gzip", long[..long.len() / 2].to_vec(), ""),
            (
                "truncated tar",
                gzip(&tar(&[("a.log", &[b'x'; 2000])])[..1000]),
                "",
            ),
            // The gzip trailer is still checked after the tar's end.
            ("bad CRC after the tar end", bad_crc, ""),
            ("missing trailer", gz[..n - 8].to_vec(), ""),
            ("junk after the end-of-archive blocks", gzip(&junk), ""),
            ("bad tar header checksum", gzip(&bad_header), "checksum"),
        ];
        for (case, bytes, says) in cases {
            let err = decode_lines(bytes).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Decode, "{case}: {err}");
            assert!(err.to_string().contains(says), "{case}: {err}");
        }
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
    async fn raw_verification_wants_gzip_however_it_is_chunked() {
        let dir = tempfile::tempdir().unwrap();
        // An empty body is "no logs": an empty file.
        let dest = dir.path().join("empty");
        assert_eq!(write_raw(&dest, chunked(b"", 1), true).await.unwrap(), 0);
        assert_eq!(std::fs::read(&dest).unwrap(), b"");
        // Anything else that is not gzip fails, even one byte, and leaves nothing.
        for data in [b"x".to_vec(), b"<html>502</html>\n".to_vec()] {
            let dest = dir.path().join("plain");
            let err = write_raw(&dest, chunked(&data, 1), true).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Decode, "{err}");
            assert!(!err.is_retryable());
            assert!(!dest.exists());
        }
        // Unverified, a plain body is written as is.
        let dest = dir.path().join("plain");
        write_raw(&dest, chunked(b"plain", 1), false).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"plain");
        // A gzip whose magic arrives one byte per chunk is still verified.
        let mut bad = gzip(&[b'q'; 5_000]);
        bad.truncate(bad.len() - 3);
        assert!(write_raw(dir.path().join("bad"), chunked(&bad, 1), true)
            .await
            .is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[tokio::test]
    async fn raw_verification_checks_every_member_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let mut two = gzip(b"first\n");
        let mut second = gzip(b"second\n");
        let n = second.len();
        second[n - 8] ^= 0xff; // the second member's CRC-32
        two.extend(second);
        let err = write_raw(dir.path().join("x.gz"), body(two), true)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Decode, "{err}");
        assert!(!err.is_retryable(), "a bad CRC is not cured by a retry");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn required_gzip_and_the_text_policy() {
        let opts = DecodeOptions::default().require_gzip(true);
        let err = decode_with(body(b"<html>502".to_vec()), opts, &Replacements::new())
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
        assert!(err.to_string().contains("not gzip"), "{err}");
        let counted = Replacements::new();
        let (reader, _) = decode_with(body(gzip(b"ok\nbad \xff byte\n")), opts, &counted)
            .await
            .unwrap();
        let got: Vec<String> = lines(reader).try_collect().await.unwrap();
        assert_eq!(got, ["ok", "bad \u{FFFD} byte"]);
        assert_eq!(counted.get(), 1);
        let err = decode_lines(gzip(b"bin\0ary")).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
        assert!(!err.is_retryable());
    }

    #[test]
    fn message_content_types_are_not_files() {
        for ct in [
            "text/html; charset=utf-8",
            "application/json",
            "text/plain",
            "application/problem+json",
            "application/xml",
        ] {
            assert!(check_file_content_type(Some(ct)).is_err(), "{ct}");
        }
        for ct in [
            None,
            Some("application/gzip"),
            Some("application/octet-stream"),
            Some("application/vnd.atlas.2023-01-01+gzip"),
        ] {
            assert!(check_file_content_type(ct).is_ok(), "{ct:?}");
        }
    }

    #[test]
    fn content_disposition_names_are_sanitised() {
        for (header, want) in [
            ("attachment; filename=\"audit.gz\"", Some("audit.gz")),
            ("attachment; filename=\"../../etc/passwd\"", Some("passwd")),
            (
                "attachment; filename=x; filename*=UTF-8''m%C3%BC.gz",
                Some("mü.gz"),
            ),
            ("attachment; filename=\"..\"", None),
            ("inline", None),
            // `+` is a plus, not a form-encoded space; Latin-1 is decoded as such.
            ("attachment; filename*=UTF-8''a+b%20c.gz", Some("a+b c.gz")),
            (
                "attachment; filename*=iso-8859-1'en'%E9t%E9.gz",
                Some("été.gz"),
            ),
        ] {
            assert_eq!(
                content_disposition_filename(header).as_deref(),
                want,
                "{header}"
            );
        }
    }
}
