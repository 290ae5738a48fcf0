//! Answer helpers every emulator builds its responses with: JSON bodies a
//! queued fault can cut, JSON errors with `Retry-After`, HTTP dates, the
//! host a request reached, attachments, and bodies generated on a blocking
//! thread. Each vendor's error *shape* stays in its own folder; how such a
//! body travels is the same for all three and lives here once.

use crate::{Fault, Faults};
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::io;

/// Generated bodies travel in chunks of about this size.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

/// A JSON answer of `body` with `fault` (a reset, a truncation) applied and
/// the `Content-Length` that goes with it.
pub(crate) fn json(body: Bytes, fault: Option<&Fault>) -> Response {
    let (body, len) = Faults::body(body, fault);
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

/// An error answer: `status` (500 if it is no status) with the vendor's
/// JSON `body`, and `Retry-After` when given.
pub(crate) fn json_error(
    status: u16,
    body: &serde_json::Value,
    retry_after: Option<u64>,
) -> Response {
    let mut r = json(Bytes::from(body.to_string()), None);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// `t` as an HTTP date (`Date`, `Deprecation`, `Sunset`).
pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The `Host` the request reached (the vendors build links and audiences
/// from it); `127.0.0.1` when absent.
pub(crate) fn host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
}

/// Marks a download as the file `name`.
pub(crate) fn attachment(headers: &mut HeaderMap, name: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
}

/// Where a body generated on a blocking thread is written: it hands chunks
/// of about [`CHUNK_BYTES`] through a small channel, so memory stays bounded
/// by the channel, not by the file. A write fails once the receiver is gone
/// (the client went away, or a fault cut the body), which stops the
/// generator.
pub(crate) struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `produce` on a blocking thread (generating and compressing is CPU
/// work that must stay off the runtime's workers) and streams what it
/// writes. The stream ends early if `produce` fails.
pub(crate) fn blocking_body<F>(produce: F) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
where
    F: FnOnce(&mut ChunkWriter) -> io::Result<()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        if produce(&mut out).is_ok() {
            let _ = out.send();
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::io::Write;

    #[tokio::test]
    async fn blocking_bodies_arrive_whole_and_in_chunks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let chunks: Vec<Bytes> =
            blocking_body(move |w| data.chunks(10_000).try_for_each(|c| w.write_all(c)))
                .map(|c| c.unwrap())
                .collect()
                .await;
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        assert_eq!(chunks.concat(), expected);
    }

    #[tokio::test]
    async fn a_failed_producer_ends_the_body() {
        let chunks: Vec<_> = blocking_body(|w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("generator failed"))
        })
        .collect()
        .await;
        assert!(chunks.is_empty(), "nothing half-written is flushed");
    }

    #[test]
    fn errors_carry_status_body_and_retry_after() {
        let r = json_error(429, &serde_json::json!({"e": 1}), Some(7));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(json_error(1, &serde_json::json!({}), None).status(), 500);
    }
}
