//! Response bodies: gzip logs (in memory when small, generated and
//! compressed in chunks when large) and fault-aware bodies.

use super::data::LogSpec;
use crate::sandbox::{Fault, Faults};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;
use std::io::Write as _;
use std::sync::Arc;

/// Bodies estimated above this are streamed rather than built in memory.
const IN_MEMORY_LIMIT: u64 = 8 * 1024 * 1024;

/// The shared fault-aware body ([`Faults::body`]).
pub(super) fn body_with_fault(data: Bytes, fault: Option<&Fault>) -> (Body, Option<u64>) {
    Faults::body(data, fault)
}

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
        let (body, len) = body_with_fault(Bytes::from(gz), fault);
        let mut r = Response::new(body);
        if let Some(len) = len {
            r.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        r
    } else {
        Response::new(streamed_gzip(spec, fault.cloned()))
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
/// through a small channel: memory stays bounded by the channel, not the
/// log. Truncate and reset faults cut the stream.
fn streamed_gzip(spec: Arc<LogSpec>, fault: Option<Fault>) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(128 * 1024),
            flate2::Compression::fast(),
        );
        let mut sent = 0usize;
        let limit = match &fault {
            Some(Fault::Truncate { keep }) => Some((*keep, false)),
            Some(Fault::ResetAfter { after }) => Some((*after, true)),
            _ => None,
        };
        let mut stopped = false;
        // Sends what the encoder produced; returns false once the body must end.
        let flush = |buf: &mut Vec<u8>, sent: &mut usize| -> bool {
            if buf.is_empty() {
                return true;
            }
            let mut chunk = Bytes::from(std::mem::take(buf));
            let mut cut = false;
            if let Some((max, _)) = limit {
                if *sent + chunk.len() >= max {
                    chunk = chunk.slice(..max - *sent);
                    cut = true;
                }
            }
            *sent += chunk.len();
            if !chunk.is_empty() && tx.blocking_send(Ok(chunk)).is_err() {
                return false;
            }
            if cut {
                if let Some((_, true)) = limit {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "injected reset",
                    )));
                }
                return false;
            }
            true
        };
        spec.for_each_line(|l| {
            if stopped {
                return;
            }
            let _ = enc.write_all(l.as_bytes());
            let _ = enc.write_all(b"\n");
            if enc.get_ref().len() >= 64 * 1024 && !flush(enc.get_mut(), &mut sent) {
                stopped = true;
            }
        });
        if !stopped {
            if let Ok(mut rest) = enc.finish() {
                flush(&mut rest, &mut sent);
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}
