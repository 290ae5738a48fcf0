//! Response bodies: gzip logs (in memory when small, generated and
//! compressed in chunks when large) and fault-aware bodies.

use super::data::LogSpec;
use crate::{answer, Fault, Faults};
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
    answer::attachment(h, file_name);
    h.insert(
        "x-uncompressed-content-length",
        HeaderValue::from(uncompressed),
    );
    response
}

/// Generates and compresses on a blocking thread, in chunks: memory stays
/// bounded by the channel [`answer::blocking_body`] hands them through, not
/// by the log.
fn streamed_gzip(
    spec: Arc<LogSpec>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    answer::blocking_body(move |out| {
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        let mut written = Ok(());
        spec.for_each_line(|l| {
            // A failed write means the client went away (or a fault cut the
            // body): stop generating.
            if written.is_ok() {
                written = enc
                    .write_all(l.as_bytes())
                    .and_then(|()| enc.write_all(b"\n"));
            }
        });
        written?;
        enc.finish().map(drop)
    })
}
