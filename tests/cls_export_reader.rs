#![cfg(feature = "tencent-cls")]
//! A CLS export whose download is reset part-way through its body on the
//! first attempt, then served whole: each way of reading it must come out
//! exactly as a clean run does. `save` writes the same file and counts
//! each replaced sequence (invalid UTF-8, a lone surrogate escape) once,
//! not once per attempt; `lines` and `into_reader` skip what they already
//! handed out, so the restart neither repeats a record nor doubles a
//! newline, and their replacement count is one clean pass's too.

#[path = "common/rawserver.rs"]
#[allow(dead_code)]
mod rawserver;

use futures::TryStreamExt;
use logexport::tencent_cls::{Client, Credentials, ExportEvent, ExportOptions, SaveMode};
use logexport::RetryPolicy;
use rawserver::{RawRequest, RawResponse, RawServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOPIC: &str = "5c1d7b0e-3f4a-4e2b-9c8d-7a6b5c4d3e2f";
const EXPORT: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/// Replaced sequences in the export: invalid UTF-8 and a lone surrogate
/// escape before the cut, and the same again after it.
const REPLACED: u64 = 4;

/// The records: the replaced ones near the start (read before the reset)
/// and near the end, with enough plain records between them that the cut
/// falls well after the first decoded chunks reached the consumer.
fn records() -> Vec<u8> {
    let mut text = Vec::new();
    text.extend_from_slice(b"{\"n\":0,\"msg\":\"bad \xff byte\"}\n");
    text.extend_from_slice(b"{\"n\":1,\"msg\":\"lone \\ud800 surrogate\"}\n");
    for n in 2..6_000 {
        let line = format!("{{\"n\":{n},\"msg\":\"plain record number {n:>8} of the export\"}}\n");
        text.extend_from_slice(line.as_bytes());
    }
    text.extend_from_slice(b"{\"n\":6000,\"msg\":\"lone \\udfff again\"}\n");
    text.extend_from_slice(b"{\"n\":6001,\"msg\":\"bad \xc3 again\"}\n");
    text
}

/// A `.tar.gz` of `data`, stored uncompressed so that a cut at byte N of
/// the body is about N bytes into the records.
fn tar_gz(data: &[u8]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "part-0", data).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

/// A file server on loopback: the first `resets` GETs announce the whole
/// file, send its first `cut` bytes and reset the connection; later ones
/// send it whole.
struct FileServer {
    url: String,
    gets: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FileServer {
    async fn start(file: Vec<u8>, resets: usize, cut: usize) -> FileServer {
        assert!(cut < file.len());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/file?sign=x", listener.local_addr().unwrap());
        let gets = Arc::new(AtomicUsize::new(0));
        let (file, counter) = (Arc::new(file), gets.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (file, counter) = (file.clone(), counter.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let index = counter.fetch_add(1, Ordering::SeqCst);
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        file.len()
                    );
                    if sock.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                    if index < resets {
                        let _ = sock.write_all(&file[..cut]).await;
                        let _ = sock.flush().await;
                        // Let the bytes arrive (and be decoded and read)
                        // before the reset discards anything unsent.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        // Linger 0: the close is a reset, not an orderly end.
                        #[allow(deprecated)]
                        let _ = sock.set_linger(Some(Duration::ZERO));
                        return;
                    }
                    let _ = sock.write_all(&file).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        FileServer { url, gets, task }
    }

    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

/// The CLS API: one Completed JSON export whose `CosPath` is `file_url`.
async fn api(file_url: String, size: usize) -> RawServer {
    RawServer::start(move |req: &RawRequest| {
        let body = match req.header("x-tc-action").unwrap_or_default() {
            "DescribeExports" => serde_json::json!({"Response": {
                "Exports": [{
                    "TopicId": TOPIC, "ExportId": EXPORT, "Query": "*",
                    "FileName": "x.tar.gz", "FileSize": size, "Order": "desc",
                    "Format": "json", "Count": 10, "Status": "Completed",
                    "From": 0, "To": 1, "CosPath": file_url,
                    "CreateTime": "2026-03-01 00:00:00", "SyntaxRule": 1
                }],
                "TotalCount": 1, "RequestId": "req-1"}}),
            _ => serde_json::json!({"Response": {"RequestId": "req-2"}}),
        };
        RawResponse::ok("application/json", body.to_string())
    })
    .await
}

/// The API and file servers of one export; the file's first `resets`
/// downloads are cut at `cut` bytes.
struct Setup {
    api: RawServer,
    file: FileServer,
}

async fn setup(resets: usize) -> Setup {
    let file = tar_gz(&records());
    // Past the first 64 KiB decoded chunk, well before the end.
    let cut = file.len() / 2;
    assert!(cut > 150_000, "the file is large enough: {}", file.len());
    let size = file.len();
    let file = FileServer::start(file, resets, cut).await;
    let api = api(file.url.clone(), size).await;
    Setup { api, file }
}

impl Setup {
    fn client(&self) -> Client {
        Client::builder()
            .endpoint(self.api.url())
            .credentials(Credentials::new("AKIDEXAMPLE", "secretkey"))
            .region("ap-guangzhou")
            .retry_policy(
                RetryPolicy::default()
                    .with_initial_backoff(Duration::from_millis(10))
                    .with_max_backoff(Duration::from_millis(50)),
            )
            .build()
            .unwrap()
    }
}

fn options() -> ExportOptions {
    ExportOptions::default().poll_interval(Duration::from_millis(10), Duration::from_millis(10))
}

/// Options that record, at each download retry, what `read` held then.
fn recording_retries(read: Arc<AtomicUsize>, at_retry: Arc<Mutex<Vec<usize>>>) -> ExportOptions {
    options().on_event(move |event| {
        if let ExportEvent::DownloadRetry { .. } = event {
            at_retry.lock().unwrap().push(read.load(Ordering::SeqCst));
        }
    })
}

/// `save` decoded: the file and the summary's `(attempts, replaced)`.
async fn save(setup: &Setup) -> (Vec<u8>, u32, u64) {
    let dir = tempfile::tempdir().unwrap();
    let summary = setup
        .client()
        .resume_export(TOPIC, EXPORT, options())
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap();
    let file = std::fs::read(&summary.path).unwrap();
    (file, summary.attempts, summary.replaced)
}

#[tokio::test]
async fn save_counts_each_replacement_once_after_a_reset_download() {
    let clean = setup(0).await;
    let (want, attempts, replaced) = save(&clean).await;
    assert_eq!((attempts, replaced), (1, REPLACED), "one clean pass");
    assert_eq!(clean.file.gets(), 1);

    let reset = setup(1).await;
    let (got, attempts, replaced) = save(&reset).await;
    assert_eq!(attempts, 2, "the first download was reset");
    assert_eq!(reset.file.gets(), 2);
    assert!(got == want, "the file is what a clean run writes");
    assert_eq!(replaced, REPLACED, "counted once, not once per attempt");
}

#[tokio::test]
async fn lines_after_a_reset_skip_what_was_handed_out_and_count_once() {
    let clean = setup(0).await;
    let (want, _, _) = save(&clean).await;

    let reset = setup(1).await;
    let (read, at_retry) = (Arc::new(AtomicUsize::new(0)), Arc::default());
    let mut lines = reset
        .client()
        .resume_export(
            TOPIC,
            EXPORT,
            recording_retries(read.clone(), Arc::clone(&at_retry)),
        )
        .lines();
    let replacements = lines.replacements();
    let mut got = Vec::new();
    while let Some(line) = lines.try_next().await.unwrap() {
        got.extend_from_slice(&line);
        got.push(b'\n');
        read.fetch_add(1, Ordering::SeqCst);
    }
    let at_retry = at_retry.lock().unwrap().clone();
    assert_eq!(at_retry.len(), 1, "one reset, one retry");
    assert!(
        at_retry[0] > 2,
        "records were read before the reset: {at_retry:?}"
    );
    assert_eq!(reset.file.gets(), 2);
    assert!(got == want, "no record repeated or lost");
    assert_eq!(
        replacements.get(),
        REPLACED,
        "counted once, not once per attempt"
    );
}

#[tokio::test]
async fn into_reader_after_a_reset_skips_what_was_read_with_one_newline_between_records() {
    let clean = setup(0).await;
    let (want, _, _) = save(&clean).await;
    let mut clean_read = Vec::new();
    clean
        .client()
        .resume_export(TOPIC, EXPORT, options())
        .into_reader()
        .read_to_end(&mut clean_read)
        .await
        .unwrap();
    assert!(clean_read == want, "a clean reader reads what save writes");

    let reset = setup(1).await;
    let (read, at_retry) = (Arc::new(AtomicUsize::new(0)), Arc::default());
    let mut reader = reset
        .client()
        .resume_export(
            TOPIC,
            EXPORT,
            recording_retries(read.clone(), Arc::clone(&at_retry)),
        )
        .into_reader();
    // Read in small pieces, counting, so the retry can say how far the
    // reader had got.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        read.fetch_add(n, Ordering::SeqCst);
    }
    let at_retry = at_retry.lock().unwrap().clone();
    assert_eq!(at_retry.len(), 1, "one reset, one retry");
    assert!(
        at_retry[0] > 0,
        "bytes were read before the reset: {at_retry:?}"
    );
    assert_eq!(reset.file.gets(), 2);
    assert!(
        !got.windows(2).any(|w| w == b"\n\n") && got.ends_with(b"}\n"),
        "exactly one newline between records"
    );
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the bytes of a clean run");
}
