//! Reading bodies in bounded memory and bounded time.
//!
//! One capped reader serves every vendor: success JSON up to a per-call
//! cap, error bodies up to [`MAX_ERROR_BODY`]. Streamed downloads have no
//! size cap (archives are large) but must keep moving: [`guard`] fails a
//! body whose throughput, averaged over a window, falls below a minimum, so
//! a server dripping a byte every few seconds cannot hold a download open.
//! Every failure says how far the body got ("reset after 1.2 MiB").

use crate::download::ByteStream;
use crate::{Error, ErrorKind, Result};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The largest error body read: enough for any vendor's error JSON, bounded
/// so a hostile server cannot make an error path allocate without limit.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// The largest success JSON body read by default. Pages hold at most a few
/// hundred records (Atlas's access history at most 20000 entries), far
/// below this.
pub(crate) const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// The slowest a download may be: fewer than `bytes_per_sec` on average
/// over `window` fails it. The default is 1 KiB/s over 60 s.
///
/// ```
/// use logexport::Throughput;
/// use std::time::Duration;
///
/// let t = Throughput::new(4096, Duration::from_secs(30));
/// assert_eq!(t.bytes_per_sec(), 4096);
/// assert_eq!(Throughput::default().window(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    bytes_per_sec: u64,
    window: Duration,
}

impl Default for Throughput {
    fn default() -> Self {
        Throughput {
            bytes_per_sec: 1024,
            window: Duration::from_secs(60),
        }
    }
}

impl Throughput {
    /// At least `bytes_per_sec` on average over every `window` (at least
    /// 1 s). A rate of 0 turns the check off.
    pub fn new(bytes_per_sec: u64, window: Duration) -> Self {
        Throughput {
            bytes_per_sec,
            window: window.max(Duration::from_secs(1)),
        }
    }

    /// The minimum average rate.
    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// The window the rate is averaged over.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn required(&self) -> u64 {
        (self.bytes_per_sec as f64 * self.window.as_secs_f64()) as u64
    }
}

/// `n` bytes the way people read them: "512 bytes", "1.2 MiB".
pub(crate) fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} bytes")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / (K * K))
    } else {
        format!("{:.1} GiB", f / (K * K * K))
    }
}

/// The error for a body that broke off after `received` bytes.
fn broke_off(received: u64, cause: Error) -> Error {
    let message = format!(
        "the connection broke after {} of the body: {}",
        human_bytes(received),
        cause.message()
    );
    let retryable = cause.is_retryable();
    Error::new(cause.kind(), message)
        .with_retryable(retryable)
        .with_source(cause)
}

/// Wraps a response body as a [`ByteStream`]. A failure while the body
/// arrives is a network failure that says how far the body got.
pub fn response_stream(response: reqwest::Response) -> ByteStream {
    let mut received = 0u64;
    Box::pin(response.bytes_stream().map(move |chunk| match chunk {
        Ok(c) => {
            received += c.len() as u64;
            Ok(c)
        }
        Err(e) => Err(broke_off(received, body_error(e))),
    }))
}

/// Converts an error from a response body stream, keeping the cause chain
/// ("connection reset by peer") and dropping the URL (it can be
/// pre-signed). A body-guard error wrapped inside comes back as it was.
pub fn body_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    let cause = crate::error::cause_chain(&e);
    // A body-guard error (or one already converted here) already says what
    // broke and why; wrapping its text again would repeat it.
    let own = crate::error::causes(&e)
        .find_map(|c| c.downcast_ref::<Error>())
        .map(|own| (own.kind(), own.message().to_string()));
    if let Some((kind, message)) = own {
        return Error::new(kind, message).with_source(e);
    }
    let message = format!("the connection failed while receiving the body: {cause}");
    Error::new(ErrorKind::Network, message).with_source(e)
}

/// Reads a whole body of at most `cap` bytes. Past the cap it stops reading
/// and fails with a decode error (not retryable: the server would send the
/// same again).
pub(crate) async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Bytes> {
    // Content-Length lets an oversized body fail before any of it is read.
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large(cap));
    }
    let mut buf = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > cap {
                    return Err(too_large(cap));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Err(e) => return Err(broke_off(buf.len() as u64, body_error(e))),
        }
    }
}

fn too_large(cap: usize) -> Error {
    Error::decode(format!(
        "the response body is larger than the {} this client reads into memory",
        human_bytes(cap as u64)
    ))
    .with_retryable(false)
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of a (failed) response. A body
/// that breaks off is returned as far as it got: the status still says what
/// happened.
pub(crate) async fn read_error_body(mut response: reqwest::Response) -> Bytes {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Bytes::from(buf)
}

/// The head of a response whose body is being read, to put back around
/// the body.
pub(crate) struct Head(http::StatusCode, http::Version, http::HeaderMap);

impl Head {
    /// The head of `response`, copied.
    pub(crate) fn of(response: &reqwest::Response) -> Self {
        Head(
            response.status(),
            response.version(),
            response.headers().clone(),
        )
    }

    /// A response with this head around `body` (already read).
    pub(crate) fn rebuild(mut self, body: Bytes) -> reqwest::Response {
        // The body is no longer encoded or sized as the headers describe.
        self.2.remove(http::header::CONTENT_ENCODING);
        self.2.remove(http::header::CONTENT_LENGTH);
        self.around(body)
    }

    fn around(self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        let mut rebuilt = http::Response::new(body.into());
        *rebuilt.status_mut() = self.0;
        *rebuilt.version_mut() = self.1;
        *rebuilt.headers_mut() = self.2;
        reqwest::Response::from(rebuilt)
    }
}

/// Fails `body` when fewer than `min` bytes per second arrive on average
/// over a window, and says how far it got when it breaks off.
pub(crate) fn guard(body: ByteStream, min: Throughput) -> ByteStream {
    Box::pin(Guarded {
        inner: body,
        min,
        window_bytes: 0,
        total: 0,
        timer: Box::pin(tokio::time::sleep(min.window)),
        done: false,
    })
}

/// A streamed response whose body is [`guard`]ed, for the pipelines that
/// hand streaming responses on to generated code.
pub(crate) fn guard_response(response: reqwest::Response, min: Throughput) -> reqwest::Response {
    let head = Head::of(&response);
    let body = guard(response_stream(response), min);
    head.around(reqwest::Body::wrap_stream(body))
}

struct Guarded {
    inner: ByteStream,
    min: Throughput,
    window_bytes: u64,
    total: u64,
    timer: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl Stream for Guarded {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.window_bytes += chunk.len() as u64;
                    this.total += chunk.len() as u64;
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {}
            }
            if this.min.bytes_per_sec == 0 || this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if this.window_bytes < this.min.required() {
                this.done = true;
                let err = Error::new(
                    ErrorKind::Network,
                    format!(
                        "the download stalled after {}: {} in the last {}, below the minimum of {}/s",
                        human_bytes(this.total),
                        human_bytes(this.window_bytes),
                        super::deadline::human(this.min.window),
                        human_bytes(this.min.bytes_per_sec)
                    ),
                )
                .with_retryable(true);
                return Poll::Ready(Some(Err(err)));
            }
            this.window_bytes = 0;
            let next = tokio::time::Instant::now() + this.min.window;
            this.timer.as_mut().reset(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    async fn collect(body: ByteStream) -> Result<Vec<u8>> {
        let chunks: Vec<_> = body.try_collect().await?;
        Ok(chunks.concat())
    }

    /// `n` chunks of `size` bytes, one every `every`.
    fn drip(n: usize, size: usize, every: Duration) -> ByteStream {
        Box::pin(futures::stream::unfold(0, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from(vec![b'x'; size])), i + 1))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_drip_fails_after_one_window() {
        let start = tokio::time::Instant::now();
        let err = collect(guard(
            drip(10_000, 1, Duration::from_secs(2)),
            Throughput::default(),
        ))
        .await
        .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        assert_eq!(err.kind(), ErrorKind::Network);
        assert!(err.message().contains("stalled after 3"), "{err}");
        assert!(err.message().contains("1.0 KiB/s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_enough_body_passes_and_silence_fails() {
        // 2 KiB every 1 s is above 1 KiB/s.
        let fast = drip(200, 2048, Duration::from_secs(1));
        let got = collect(guard(fast, Throughput::default())).await.unwrap();
        assert_eq!(got.len(), 200 * 2048);

        let silent: ByteStream = Box::pin(futures::stream::pending());
        let start = tokio::time::Instant::now();
        let err = collect(guard(silent, Throughput::new(1, Duration::from_secs(30))))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert!(err.is_retryable());

        let off: ByteStream = Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"a"))]));
        assert_eq!(
            collect(guard(off, Throughput::new(0, Duration::ZERO)))
                .await
                .unwrap(),
            b"a"
        );
    }

    #[tokio::test]
    async fn capped_reads() {
        let r = |body: &'static str| reqwest::Response::from(http::Response::new(body));
        assert_eq!(&read_capped(r("1234"), 4).await.unwrap()[..], b"1234");
        let err = read_capped(r("12345"), 4).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(!err.is_retryable());
        assert!(err.message().contains("4 bytes"), "{err}");
        let big = reqwest::Response::from(http::Response::new(vec![b'x'; MAX_ERROR_BODY * 3]));
        assert_eq!(read_error_body(big).await.len(), MAX_ERROR_BODY);
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(1_258_291), "1.2 MiB");
    }
}
