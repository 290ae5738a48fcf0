//! A log download in progress: the response head is in, the body streams.
//!
//! Atlas serves logs as gzip of any size. A [`Download`] never buffers the
//! body: it can be read as decompressed lines, as a decompressed reader, as
//! the raw bytes, or written to a file atomically (raw `.gz`, verified, or
//! decompressed). An empty body means "no logs in that window" and is not an
//! error.
//!
//! A download is what it claims to be, or it fails: a `Content-Type` of
//! HTML, JSON or text (a proxy's 502 page served with 200), or a non-empty
//! body without the gzip magic, is a [`ErrorKind::Decode`](crate::ErrorKind)
//! error naming the operation, and no file is left. Decoded text follows
//! the crate's [text policy](crate::download): invalid UTF-8 becomes U+FFFD
//! and is counted in [`Download::replacements`].

use crate::download::{
    self, BoxReader, ByteStream, DecodeOptions, Progress, Replacements, SaveMode,
};
use crate::{Error, Result, Vendor};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};

/// What the response head says about a download.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadMeta {
    /// The operation id, e.g. `download_cluster_log`.
    pub operation: &'static str,
    /// The `Accept` media type that was sent.
    pub media_type: &'static str,
    /// The server's file name (`Content-Disposition`), sanitised.
    pub server_file_name: Option<String>,
    /// The name used when saving into a directory: the server's, or one
    /// derived from the request.
    pub file_name: String,
    /// `Content-Length`: the compressed size, for progress bars.
    pub content_length: Option<u64>,
    /// `X-Uncompressed-Content-Length`.
    pub uncompressed_length: Option<u64>,
    /// The `Deprecation` header: this resource version is deprecated.
    pub deprecation: Option<String>,
    /// The `Sunset` header: when this resource version stops working.
    pub sunset: Option<String>,
    /// The `Content-Type` the server sent.
    pub content_type: Option<String>,
}

impl DownloadMeta {
    /// Whether the server announced an empty body: no logs in the window.
    pub fn is_empty(&self) -> bool {
        self.content_length == Some(0)
    }

    /// [`deprecation`](Self::deprecation) as a time: an HTTP date (what Atlas
    /// sends) or RFC 9745's `@<unix seconds>`. `None` if absent or neither.
    pub fn deprecated_since(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let v = self.deprecation.as_deref()?.trim();
        match v.strip_prefix('@') {
            Some(secs) => chrono::DateTime::from_timestamp(secs.parse().ok()?, 0),
            None => http_date(v),
        }
    }

    /// [`sunset`](Self::sunset) as a time (an HTTP date, RFC 8594).
    pub fn sunset_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        http_date(self.sunset.as_deref()?.trim())
    }
}

fn http_date(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    // httpdate takes all three RFC 9110 forms; chrono's RFC 2822 parser
    // rejects the RFC 850 and asctime ones.
    httpdate::parse_http_date(v)
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from)
}

/// Where a saved download landed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Saved {
    /// The file written.
    pub path: PathBuf,
    /// Bytes written (compressed for [`SaveMode::Raw`], else decompressed).
    pub bytes: u64,
}

/// A streaming log download. Consume it with one of the `into_*`, `lines`
/// or `save` methods.
pub struct Download {
    meta: DownloadMeta,
    body: ByteStream,
    replacements: Replacements,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Download {
    pub(crate) fn from_response(
        rv: progenitor_client::ResponseValue<progenitor_client::ByteStream>,
        operation: &'static str,
        media_type: &'static str,
        fallback_name: String,
    ) -> Self {
        let headers = rv.headers();
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let number = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
        let server_file_name = text("content-disposition")
            .as_deref()
            .and_then(download::content_disposition_filename);
        let meta = DownloadMeta {
            operation,
            media_type,
            file_name: server_file_name.clone().unwrap_or(fallback_name),
            server_file_name,
            content_length: number("content-length"),
            uncompressed_length: number("x-uncompressed-content-length"),
            deprecation: text("deprecation"),
            sunset: text("sunset"),
            content_type: text("content-type"),
        };
        let body: ByteStream = Box::pin(
            rv.into_inner_stream()
                .map_err(|e| download::body_error(e).with_vendor(Vendor::Atlas)),
        );
        Download {
            meta,
            body,
            replacements: Replacements::new(),
        }
    }

    /// The response metadata.
    pub fn meta(&self) -> &DownloadMeta {
        &self.meta
    }

    /// Calls `progress` after every chunk with the compressed bytes
    /// received so far and the announced size (`Content-Length`).
    pub fn on_progress(self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        let (total, mut bytes) = (self.meta.content_length, 0);
        let body = download::observe(self.body, move |n| {
            bytes += n;
            progress(Progress { bytes, total });
        });
        Download { body, ..self }
    }

    /// A handle on the count of invalid UTF-8 sequences replaced with
    /// U+FFFD while decoding (see the [text policy](crate::download)). Take
    /// it before consuming the download; read it when done.
    pub fn replacements(&self) -> Replacements {
        self.replacements.clone()
    }

    /// Attributes an error to this download's operation.
    fn tag(operation: &'static str) -> impl Fn(Error) -> Error + Clone + Send + Sync {
        move |e: Error| e.with_vendor(Vendor::Atlas).with_operation(operation)
    }

    /// The body, once the response head says it is a file.
    fn checked_body(self) -> Result<(ByteStream, Replacements, &'static str)> {
        let operation = self.meta.operation;
        download::check_file_content_type(self.meta.content_type.as_deref())
            .map_err(Self::tag(operation))?;
        Ok((self.body, self.replacements, operation))
    }

    /// The body exactly as served (gzip). A message content type, or a
    /// body that does not start with the gzip magic, is an error before any
    /// byte of it is yielded; a gzip member that fails its trailer check
    /// ends the stream with an error after its bytes.
    pub fn into_raw_stream(self) -> ByteStream {
        let tag = Self::tag(self.meta.operation);
        match self.checked_body() {
            Ok((body, _, _)) => {
                let body = download::verify_gzip_stream(Box::pin(gzip_magic_first(body)));
                Box::pin(body.map_err(tag))
            }
            Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
        }
    }

    async fn decode(self) -> Result<BoxReader> {
        let (body, replacements, operation) = self.checked_body()?;
        let options = DecodeOptions::default().require_gzip(true);
        let (reader, _) = download::decode_with(body, options, &replacements)
            .await
            .map_err(Self::tag(operation))?;
        Ok(Box::pin(Tagged {
            inner: reader,
            operation,
        }))
    }

    /// The decompressed body. A truncated gzip fails when the reader
    /// reaches the cut; an empty body reads as empty. Its `io::Error`s wrap
    /// a [`crate::Error`] naming Atlas and the operation, which
    /// `Error::from(io_error)` (or `?` into [`crate::Result`]) recovers.
    pub async fn into_reader(self) -> Result<BoxReader> {
        self.decode().await
    }

    /// The decompressed log lines, without terminators, blank lines skipped.
    pub fn lines(self) -> BoxStream<'static, Result<String>> {
        let tag = Self::tag(self.meta.operation);
        futures::stream::once(self.decode())
            .map_ok(download::lines)
            .try_flatten()
            .map_err(tag)
            .boxed()
    }

    /// Writes the body to `target` atomically: nothing appears there unless
    /// the whole body arrived (and, for gzip, verified). If `target` is an
    /// existing directory, the file inside it is named after
    /// `Content-Disposition` (without `.gz` in [`SaveMode::Decoded`]).
    pub async fn save(self, target: impl AsRef<Path>, mode: SaveMode) -> Result<Saved> {
        let name = match mode {
            SaveMode::Raw => self.meta.file_name.clone(),
            SaveMode::Decoded => decoded_name(&self.meta.file_name),
        };
        let path = download::resolve_output(target.as_ref(), &name);
        let tag = Self::tag(self.meta.operation);
        let bytes = match mode {
            SaveMode::Raw => {
                let (body, _, _) = self.checked_body()?;
                download::write_raw(&path, body, true).await.map_err(tag)?
            }
            SaveMode::Decoded => {
                let reader = self.decode().await?;
                download::write_decoded(&path, reader).await.map_err(tag)?
            }
        };
        Ok(Saved { path, bytes })
    }
}

/// The decoder's reader, its errors attributed to Atlas and `operation`
/// like those of [`Download::lines`]: a reader's caller sees only an
/// `io::Error`, so the tagged [`Error`] travels inside it. No copy: reads
/// and buffers pass straight through.
struct Tagged {
    inner: BoxReader,
    operation: &'static str,
}

impl Tagged {
    fn tag(operation: &'static str, e: std::io::Error) -> std::io::Error {
        std::io::Error::other(Download::tag(operation)(Error::from(e)))
    }
}

impl tokio::io::AsyncRead for Tagged {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.inner.as_mut().poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e)) => {
                std::task::Poll::Ready(Err(Self::tag(this.operation, e)))
            }
            other => other,
        }
    }
}

impl tokio::io::AsyncBufRead for Tagged {
    fn poll_fill_buf(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        let operation = this.operation;
        match this.inner.as_mut().poll_fill_buf(cx) {
            std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(Self::tag(operation, e))),
            other => other,
        }
    }

    fn consume(self: std::pin::Pin<&mut Self>, amt: usize) {
        self.get_mut().inner.as_mut().consume(amt)
    }
}

/// Holds the body back until its first two bytes show the gzip magic; an
/// empty body passes (no logs in the window).
fn gzip_magic_first(body: ByteStream) -> impl futures::Stream<Item = Result<bytes::Bytes>> + Send {
    let state = (body, Some(Vec::<u8>::new()));
    futures::stream::try_unfold(state, |(mut body, mut head)| async move {
        loop {
            let Some(held) = head.as_mut() else {
                return match body.next().await {
                    Some(chunk) => Ok(Some((chunk?, (body, None)))),
                    None => Ok(None),
                };
            };
            match body.next().await {
                Some(chunk) => held.extend_from_slice(&chunk?),
                None if held.is_empty() => return Ok(None),
                None => return Err(download::not_gzip(held)),
            }
            if held.len() >= 2 {
                if held[..2] != [0x1f, 0x8b] {
                    return Err(download::not_gzip(held));
                }
                let first = bytes::Bytes::from(std::mem::take(held));
                return Ok(Some((first, (body, None))));
            }
        }
    })
}

fn decoded_name(name: &str) -> String {
    match name.strip_suffix(".gz") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => format!("{name}.log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deprecation_and_sunset_parse_leniently() {
        let meta = |deprecation: Option<&str>, sunset: Option<&str>| DownloadMeta {
            operation: "download_cluster_log",
            media_type: "application/vnd.atlas.2023-01-01+gzip",
            server_file_name: None,
            file_name: "x.gz".into(),
            content_length: None,
            uncompressed_length: None,
            deprecation: deprecation.map(str::to_string),
            sunset: sunset.map(str::to_string),
            content_type: None,
        };
        let m = meta(
            Some("Wed, 01 Feb 2023 00:00:00 GMT"),
            Some("Thu, 01 Jul 2027 00:00:00 GMT"),
        );
        assert_eq!(m.deprecated_since().unwrap().timestamp(), 1_675_209_600);
        assert_eq!(m.sunset_at().unwrap().timestamp(), 1_814_400_000);
        assert_eq!(
            meta(Some("@1688169599"), None)
                .deprecated_since()
                .unwrap()
                .timestamp(),
            1_688_169_599
        );
        let odd = meta(Some("true"), Some("soon"));
        assert_eq!((odd.deprecated_since(), odd.sunset_at()), (None, None));
        assert_eq!(meta(None, None).sunset_at(), None);
        // The RFC 850 and asctime forms RFC 9110 requires a recipient to take.
        let old = meta(None, Some("Thursday, 01-Jul-27 00:00:00 GMT"));
        assert_eq!(old.sunset_at().unwrap().timestamp(), 1_814_400_000);
        let asctime = meta(None, Some("Thu Jul  1 00:00:00 2027"));
        assert_eq!(asctime.sunset_at().unwrap().timestamp(), 1_814_400_000);
    }

    #[test]
    fn decoded_names() {
        assert_eq!(decoded_name("host_mongodb.log.gz"), "host_mongodb.log");
        assert_eq!(decoded_name("audit"), "audit.log");
        assert_eq!(decoded_name(".gz"), ".gz.log");
    }
}
