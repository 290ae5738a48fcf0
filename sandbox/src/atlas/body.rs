//! Response bodies: gzip logs (in memory when small, generated and
//! compressed in chunks when large) and fault-aware bodies.

use super::data::LogSpec;
use crate::{Fault, Faults};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;
use std::io::Write as _;
use std::sync::Arc;

/// Bodies estimated above this are streamed rather than built in memory.
const IN_MEMORY_LIMIT: u64 = 8 * 1024 * 1024;

/// A gzip download of `spec`: built in memory when small (so faults and
/// `Content-Length` are exact), generated and compressed in chunks on a
/// blocking thread when large.
pub(super) async fn gzip_response(
    spec: LogSpec,
    file_name: &str,
    fault: Option<&Fault>,
) -> Response {
    let spec = Arc::new(spec);
    let counting = spec.clone();
    let uncompressed = tokio::task::spawn_blocking(move || {
        let mut total = 0u64;
        counting.for_each_line(|l| total += l.len() as u64 + 1);
        total
    })
    .await
    .unwrap_or(0);
    let mut response = if uncompressed == 0 {
        // No logs in the window: an empty 200, as Atlas answers.
        let mut r = Response::new(Body::empty());
        r.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
        r
    } else if spec.estimated_bytes().max(uncompressed) <= IN_MEMORY_LIMIT {
        let gz = tokio::task::spawn_blocking(move || {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            spec.for_each_line(|l| {
                let _ = enc.write_all(l.as_bytes());
                let _ = enc.write_all(b"\n");
            });
            enc.finish().unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let (body, len) = Faults::body(Bytes::from(gz), fault);
        let mut r = Response::new(body);
        if let Some(len) = len {
            r.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        r
    } else {
        Response::new(Faults::stream_body(streamed_gzip(spec), fault, None).0)
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        "x-uncompressed-content-length",
        HeaderValue::from(uncompressed),
    );
    response
}

/// Generates and compresses on a blocking thread, handing 64 KiB chunks
/// through a small channel: memory stays bounded by the channel, not the log.
fn streamed_gzip(
    spec: Arc<LogSpec>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(128 * 1024),
            flate2::Compression::fast(),
        );
        let mut open = true;
        spec.for_each_line(|l| {
            if !open {
                return;
            }
            let _ = enc.write_all(l.as_bytes());
            let _ = enc.write_all(b"\n");
            if enc.get_ref().len() >= 64 * 1024 {
                let chunk = Bytes::from(std::mem::take(enc.get_mut()));
                // A closed channel means the client went away (or a fault cut
                // the body): stop generating.
                open = tx.blocking_send(Ok(chunk)).is_ok();
            }
        });
        if open {
            if let Ok(rest) = enc.finish() {
                if !rest.is_empty() {
                    let _ = tx.blocking_send(Ok(Bytes::from(rest)));
                }
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
