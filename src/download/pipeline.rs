//! The decoding pipeline: network chunks in, verified text out, with gzip
//! and tar on a blocking thread.
//!
//! The network task only moves [`Bytes`] into a bounded channel. A
//! dedicated blocking thread reads them through a synchronous
//! [`Read`] adapter, inflates (every gzip member, to its trailer), unpacks
//! tar with the maintained `tar` crate (header checksums verified), applies
//! the text policy of [`super::text`] and hands chunks back through a second
//! bounded channel. Inflate and untar thus never run on the runtime's worker
//! threads, and at most a few chunks are in flight at either end, so memory
//! stays bounded whatever the body size.

use super::text::{Replacements, TextGuard};
use super::{BoxReader, ByteStream, Layout};
use crate::{Error, Result};
use bytes::{Buf, Bytes};
use futures::StreamExt;
use std::io::{self, BufReader, Read};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// How much is read or handed on at a time.
const CHUNK: usize = 64 * 1024;
/// Network chunks buffered ahead of the decoder.
const IN_FLIGHT: usize = 8;
/// Decoded chunks buffered ahead of the consumer.
const OUT_FLIGHT: usize = 4;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What a caller requires of a body before it is decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    require_gzip: bool,
}

impl DecodeOptions {
    /// Fail unless a non-empty body is gzip: for endpoints that promise
    /// gzip, where anything else is a proxy's page or a vendor's message.
    pub fn require_gzip(mut self, require: bool) -> Self {
        self.require_gzip = require;
        self
    }
}

/// A rewrite of the decoded text that runs on the decoding thread, after
/// the text policy, before the chunks are handed on: parsing that would
/// otherwise run on the runtime's worker threads (CLS records to NDJSON).
pub(crate) trait Transform: Send + 'static {
    /// Rewrites the next piece of text into `out`.
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()>;
    /// Ends the text: whatever is still held back is written or rejected.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<()>;
}

/// The body's own failure (a reset connection), kept whole while an
/// `io::Error` stands in for it inside the decoders.
type Failure = Arc<Mutex<Option<Error>>>;

/// A synchronous reader over chunks arriving on a channel. Only for use on
/// a blocking thread: it waits with `blocking_recv`.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
    failure: Failure,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Result<Bytes>>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
            failure: Failure::default(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    if let Ok(mut slot) = self.failure.lock() {
                        slot.get_or_insert(e);
                    }
                    return Err(io::Error::other("the body stream failed"));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// Stops a spawned task when dropped: the consumer went away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Moves `body` into a bounded channel from a task on the runtime.
fn pump(mut body: ByteStream) -> (ChannelReader, AbortOnDrop) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let task = tokio::spawn(async move {
        while let Some(item) = body.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    (ChannelReader::new(rx), AbortOnDrop(task))
}

/// The error for a failure on the decoding thread: the body's own failure
/// if there was one, else a decode error. A body that ends too early may be
/// cured by downloading it again; anything else (a bad checksum, a wrong
/// format, binary data) would fail the same way again.
fn classify(e: io::Error, failure: &Failure) -> Error {
    if let Some(err) = failure.lock().ok().and_then(|mut s| s.take()) {
        return err;
    }
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::from(e);
    }
    let truncated = e.kind() == io::ErrorKind::UnexpectedEof;
    let what = if truncated {
        "the download is truncated"
    } else {
        "the download is corrupt"
    };
    Error::decode(format!("{what}: {e}"))
        .with_retryable(truncated)
        .with_source(e)
}

/// A reader that yields sniffed bytes again, then the rest.
type Replay<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads up to `n` bytes, returning them and a reader that yields them
/// again followed by the rest.
fn sniff<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, Replay<R>)> {
    let mut head = Vec::with_capacity(n);
    r.by_ref().take(n as u64).read_to_end(&mut head)?;
    Ok((head.clone(), Read::chain(io::Cursor::new(head), r)))
}

/// The error for a body that should be gzip and is not.
pub(crate) fn not_gzip(head: &[u8]) -> Error {
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(16)])
        .escape_debug()
        .collect();
    Error::decode(format!("the body is not gzip (it starts with \"{shown}\")"))
        .with_retryable(false)
}

/// Sniffs and decodes `body` on a blocking thread, rewriting the text with
/// `transform` there if one is given; see the module docs.
pub(crate) async fn decode(
    body: ByteStream,
    options: DecodeOptions,
    replacements: Replacements,
    transform: Option<Box<dyn Transform>>,
) -> Result<(BoxReader, Layout)> {
    let (src, pump_guard) = pump(body);
    let failure = src.failure.clone();
    let (layout_tx, layout_rx) = oneshot::channel::<Result<Layout>>();
    let (out_tx, mut out_rx) = mpsc::channel::<io::Result<Bytes>>(OUT_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut layout_tx = Some(layout_tx);
        let run = run(
            src,
            options,
            &replacements,
            transform,
            &mut layout_tx,
            &out_tx,
        );
        if let Err(e) = run {
            let err = classify(e, &failure);
            match layout_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(err));
                }
                None => {
                    let _ = out_tx.blocking_send(Err(io::Error::other(err)));
                }
            }
        }
    });
    let layout = layout_rx
        .await
        .map_err(|_| Error::new(crate::ErrorKind::Io, "the decoding thread stopped"))??;
    let chunks = futures::stream::poll_fn(move |cx| {
        // The pump lives as long as the reader.
        let _ = &pump_guard;
        out_rx.poll_recv(cx)
    });
    let reader = tokio_util::io::StreamReader::new(chunks);
    Ok((Box::pin(reader), layout))
}

fn run(
    src: ChannelReader,
    options: DecodeOptions,
    replacements: &Replacements,
    transform: Option<Box<dyn Transform>>,
    layout_tx: &mut Option<oneshot::Sender<Result<Layout>>>,
    out: &mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let (head, src) = sniff(src, 2)?;
    let gzip = head == GZIP_MAGIC;
    if options.require_gzip && !head.is_empty() && !gzip {
        return Err(io::Error::other(not_gzip(&head)));
    }
    let inner: Box<dyn Read + Send> = if gzip {
        // Vendors (and `cat a.gz b.gz`) produce multi-member files; every
        // member is checked against its trailer.
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            CHUNK, src,
        )))
    } else {
        Box::new(src)
    };
    let (head, inner) = sniff(inner, 512)?;
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    if let Some(tx) = layout_tx.take() {
        let _ = tx.send(Ok(Layout { gzip, tar }));
    }
    let mut sink = Sink {
        tx: out,
        guard: TextGuard::default(),
        buf: Vec::with_capacity(CHUNK + 1024),
        transform,
        text: Vec::new(),
    };
    let mut buf = vec![0u8; CHUNK];
    if tar {
        read_tar(inner, &mut sink, &mut buf)?;
    } else {
        let mut inner = inner;
        copy(&mut inner, &mut buf, |data| sink.write(data))?;
    }
    let replaced = sink.finish()?;
    if replaced > 0 {
        replacements.add(replaced);
        tracing::warn!(
            replaced,
            "invalid UTF-8 sequences in the download were replaced with U+FFFD"
        );
    }
    Ok(())
}

/// Reads `r` to its end, handing each piece to `each`.
fn copy<R: Read + ?Sized>(
    r: &mut R,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                each(&buf[..n])?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The regular files of a tar stream, concatenated, each ending in a
/// newline so records from adjacent files never merge. After the
/// end-of-archive block the stream is read to its end (so the gzip trailer
/// is checked), and anything but zero padding there is an error.
fn read_tar<R: Read>(r: R, sink: &mut Sink<'_>, buf: &mut [u8]) -> io::Result<()> {
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        // Directories, links, pax and GNU headers carry no log records.
        if !(kind.is_file() || kind.is_contiguous()) {
            continue;
        }
        let size = entry.size();
        let mut last = None;
        let got = copy(&mut entry, buf, |data| {
            last = data.last().copied();
            sink.write(data)
        })?;
        if got != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the tar archive is truncated",
            ));
        }
        if got > 0 && last != Some(b'\n') {
            sink.write(b"\n")?;
        }
    }
    let mut rest = archive.into_inner();
    copy(&mut rest, buf, |data| {
        if data.iter().any(|b| *b != 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "data follows the end of the tar archive",
            ));
        }
        Ok(())
    })?;
    Ok(())
}

/// The decoded side: text policy applied, transformed if asked, handed on
/// in chunks.
struct Sink<'a> {
    tx: &'a mpsc::Sender<io::Result<Bytes>>,
    guard: TextGuard,
    buf: Vec<u8>,
    transform: Option<Box<dyn Transform>>,
    /// With a transform: the text it reads, reused chunk after chunk.
    text: Vec<u8>,
}

impl Sink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.transform {
            None => self.guard.push(data, &mut self.buf)?,
            Some(t) => {
                self.guard.push(data, &mut self.text)?;
                let done = t.push(&self.text, &mut self.buf);
                self.text.clear();
                done.map_err(io::Error::other)?;
            }
        }
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the text and hands on the rest. Returns the number of invalid
    /// sequences replaced.
    fn finish(&mut self) -> io::Result<u64> {
        let replaced = match &mut self.transform {
            None => self.guard.finish(&mut self.buf),
            Some(t) => {
                let replaced = self.guard.finish(&mut self.text);
                t.push(&self.text, &mut self.buf)
                    .and_then(|()| t.finish(&mut self.buf))
                    .map_err(io::Error::other)?;
                replaced
            }
        };
        self.flush()?;
        Ok(replaced)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 1024));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader was dropped"))
    }
}

/// Checks a raw gzip body as it is saved: on a blocking thread, every
/// member inflated and checked against its trailer (CRC-32 and size).
pub(crate) struct GzipVerifier {
    tx: Option<mpsc::Sender<Result<Bytes>>>,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl GzipVerifier {
    pub(crate) fn start() -> Self {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let task = tokio::task::spawn_blocking(move || {
            let (head, src) = sniff(ChannelReader::new(rx), 2)?;
            if head.is_empty() {
                // An empty body is "nothing in that window".
                return Ok(());
            }
            if head != GZIP_MAGIC {
                return Err(io::Error::other(not_gzip(&head)));
            }
            let mut gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(CHUNK, src));
            let mut buf = vec![0u8; CHUNK];
            copy(&mut gz, &mut buf, |_| Ok(()))?;
            Ok(())
        });
        GzipVerifier {
            tx: Some(tx),
            task: Some(task),
        }
    }

    /// Passes a chunk on. An error means the verification already failed.
    pub(crate) async fn feed(&mut self, chunk: Bytes) -> Result<()> {
        let sent = match &self.tx {
            Some(tx) => tx.send(Ok(chunk)).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        self.tx = None;
        self.wait().await?;
        Err(Error::decode("the gzip check ended before the body did"))
    }

    /// Ends the input and waits for the verdict.
    pub(crate) async fn finish(mut self) -> Result<()> {
        self.tx = None;
        self.wait().await
    }

    async fn wait(&mut self) -> Result<()> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(classify(e, &Failure::default())),
            Err(e) => Err(Error::new(
                crate::ErrorKind::Io,
                format!("the gzip check stopped: {e}"),
            )),
        }
    }
}
