//! A log download in progress: the response head is in, the body streams.
//!
//! Atlas serves logs as gzip of any size. A [`Download`] never buffers the
//! body: it can be read as decompressed lines, as a decompressed reader, as
//! the raw bytes, or written to a file atomically (raw `.gz`, verified, or
//! decompressed). An empty body means "no logs in that window" and is not an
//! error.

use crate::download::{self, BoxReader, ByteStream};
use crate::{Result, Vendor};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// How [`Download::save`] writes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    /// The `.gz` exactly as served, verified as complete gzip on the way.
    Raw,
    /// Decompressed.
    Decoded,
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
        };
        let body: ByteStream = Box::pin(
            rv.into_inner_stream()
                .map_err(|e| download::body_error(e).with_vendor(Vendor::Atlas)),
        );
        Download { meta, body }
    }

    /// The response metadata.
    pub fn meta(&self) -> &DownloadMeta {
        &self.meta
    }

    /// Calls `progress` with the total compressed bytes received so far,
    /// after every chunk.
    pub fn on_progress(self, mut progress: impl FnMut(u64) + Send + 'static) -> Self {
        let total = Arc::new(AtomicU64::new(0));
        let body = download::observe(self.body, move |n| {
            progress(total.fetch_add(n, Ordering::Relaxed) + n);
        });
        Download {
            meta: self.meta,
            body,
        }
    }

    /// The body exactly as served (gzip).
    pub fn into_raw_stream(self) -> ByteStream {
        self.body
    }

    /// The decompressed body. A truncated gzip fails when the reader
    /// reaches the cut; an empty body reads as empty.
    pub async fn into_reader(self) -> Result<BoxReader> {
        Ok(download::decode(self.body).await?.0)
    }

    /// The decompressed log lines, without terminators, blank lines skipped.
    pub fn lines(self) -> BoxStream<'static, Result<String>> {
        let body = self.body;
        futures::stream::once(async move { download::decode(body).await })
            .map_ok(|(reader, _)| download::lines(reader))
            .try_flatten()
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
        let bytes = match mode {
            SaveMode::Raw => download::write_raw(&path, self.body, true).await?,
            SaveMode::Decoded => {
                let (reader, _) = download::decode(self.body).await?;
                download::write_decoded(&path, reader).await?
            }
        };
        Ok(Saved { path, bytes })
    }

    /// [`save`](Self::save) in [`SaveMode::Raw`].
    pub async fn write_raw(self, target: impl AsRef<Path>) -> Result<Saved> {
        self.save(target, SaveMode::Raw).await
    }

    /// [`save`](Self::save) in [`SaveMode::Decoded`].
    pub async fn write_decoded(self, target: impl AsRef<Path>) -> Result<Saved> {
        self.save(target, SaveMode::Decoded).await
    }
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
    }

    #[test]
    fn decoded_names() {
        assert_eq!(decoded_name("host_mongodb.log.gz"), "host_mongodb.log");
        assert_eq!(decoded_name("audit"), "audit.log");
        assert_eq!(decoded_name(".gz"), ".gz.log");
    }
}
