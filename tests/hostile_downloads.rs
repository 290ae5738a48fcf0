#![cfg(all(feature = "atlas", feature = "tencent-cls", feature = "conductorone"))]
//! Downloads from loopback servers that misbehave on purpose: each way a
//! body can lie about what it is ends in a typed error (or, for bad text,
//! in U+FFFD, counted), and never leaves a file behind.

#[path = "common/cls_file.rs"]
#[allow(dead_code)]
mod cls_file;
#[path = "common/rawserver.rs"]
#[allow(dead_code)]
mod rawserver;

use cls_file::{cls_file_server, EXPORT, TOPIC};
use futures::TryStreamExt;
use logexport::atlas::{LogName, SaveMode, TimeRange};
use logexport::tencent_cls::{ExportOptions, Format};
use logexport::{Error, ErrorKind, RetryPolicy};
use rawserver::{RawResponse, RawServer};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const PROJECT: &str = "5f0c8e1a2b3c4d5e6f708192";
const HOST: &str = "cluster0-shard-00-00.abcde.mongodb.net";
const GZIP: &str = "application/vnd.atlas.2023-01-01+gzip";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A gzip whose trailer CRC-32 no longer matches its data.
fn bad_crc(data: &[u8]) -> Vec<u8> {
    let mut gz = gzip(data);
    let n = gz.len();
    gz[n - 8] ^= 0xff;
    gz
}

fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn range() -> TimeRange {
    TimeRange::from_unix_secs(1_772_323_200, 1_772_326_800).unwrap()
}

fn assert_empty_dir(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

async fn atlas_server(content_type: &'static str, body: Vec<u8>) -> RawServer {
    RawServer::start(move |_| RawResponse::ok(content_type, body.clone())).await
}

async fn atlas_download(server: &RawServer) -> logexport::atlas::Download {
    logexport::atlas::Client::builder()
        .endpoint(server.url())
        .api_key("pubkey", "privkey")
        .build()
        .unwrap()
        .download_cluster_log(PROJECT, HOST, LogName::Mongodb, range())
        .await
        .unwrap()
}

/// Every way of consuming an Atlas download fails the same way, leaving no
/// file; returns the error of decoded lines.
async fn atlas_fails_everywhere(content_type: &'static str, body: Vec<u8>) -> Error {
    let server = atlas_server(content_type, body).await;
    let dir = tempfile::tempdir().unwrap();
    for mode in [SaveMode::Decoded, SaveMode::Raw] {
        let err = atlas_download(&server)
            .await
            .save(dir.path().join("out"), mode)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{mode:?}: {err}");
        assert_eq!(err.operation(), Some("download_cluster_log"), "{err}");
        assert!(!err.is_retryable(), "{err}");
        assert_empty_dir(dir.path());
    }
    // The raw stream (`--raw` to stdout) ends in the same error.
    let raw = atlas_download(&server)
        .await
        .into_raw_stream()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(raw.kind(), ErrorKind::Decode, "{raw}");
    assert_eq!(raw.operation(), Some("download_cluster_log"), "{raw}");
    let err = atlas_download(&server)
        .await
        .lines()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(err.operation(), Some("download_cluster_log"), "{err}");
    err
}

#[tokio::test]
async fn atlas_html_502_page_served_with_200_is_an_error() {
    let page = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n".to_vec();
    let err = atlas_fails_everywhere("text/html; charset=utf-8", page.clone()).await;
    assert!(err.to_string().contains("text/html"), "{err}");
    assert!(err.to_string().contains("download_cluster_log"), "{err}");
    // The same page under a gzip content type fails on its first bytes.
    let err = atlas_fails_everywhere(GZIP, page).await;
    assert!(err.to_string().contains("not gzip"), "{err}");
}

#[tokio::test]
async fn atlas_json_body_on_a_gzip_download_is_an_error() {
    let body = br#"{"detail":"Internal error","errorCode":"UNEXPECTED_ERROR"}"#.to_vec();
    let err = atlas_fails_everywhere("application/json", body.clone()).await;
    assert!(err.to_string().contains("application/json"), "{err}");
    atlas_fails_everywhere(GZIP, body).await;
}

#[tokio::test]
async fn atlas_raw_saves_verify_every_gzip_trailer() {
    // The first member's trailer is wrong.
    atlas_fails_everywhere(GZIP, bad_crc(b"{\"a\":1}\n")).await;
    // The first member is fine; the second one's CRC is not.
    let mut two = gzip(b"{\"a\":1}\n");
    two.extend(bad_crc(b"{\"a\":2}\n"));
    atlas_fails_everywhere(GZIP, two).await;
    // The trailer is missing altogether.
    let mut cut = gzip(b"{\"a\":1}\n");
    cut.truncate(cut.len() - 8);
    let server = atlas_server(GZIP, cut).await;
    let dir = tempfile::tempdir().unwrap();
    let err = atlas_download(&server)
        .await
        .save(dir.path().join("x.gz"), SaveMode::Raw)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_empty_dir(dir.path());
}

#[tokio::test]
async fn atlas_binary_junk_is_not_written_as_lines() {
    let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    let err = atlas_fails_everywhere(GZIP, junk.clone()).await;
    assert!(err.to_string().contains("not gzip"), "{err}");
    // Gzipped junk is valid gzip: raw saves keep it, decoded output refuses it.
    let server = atlas_server(GZIP, gzip(&junk)).await;
    let dir = tempfile::tempdir().unwrap();
    let err = atlas_download(&server)
        .await
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("binary"), "{err}");
    assert_empty_dir(dir.path());
}

#[tokio::test]
async fn atlas_a_non_utf8_line_becomes_a_replacement_character() {
    let body = gzip(b"{\"msg\":\"ok\"}\n{\"msg\":\"caf\xe9\"}\n");
    let server = atlas_server(GZIP, body).await;
    let d = atlas_download(&server).await;
    let replaced = d.replacements();
    let lines: Vec<String> = d.lines().try_collect().await.unwrap();
    assert_eq!(lines, ["{\"msg\":\"ok\"}", "{\"msg\":\"caf\u{FFFD}\"}"]);
    assert_eq!(replaced.get(), 1);
    // Saved decoded, the same.
    let dir = tempfile::tempdir().unwrap();
    let saved = atlas_download(&server)
        .await
        .save(dir.path().join("out.log"), SaveMode::Decoded)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(saved.path).unwrap(),
        "{\"msg\":\"ok\"}\n{\"msg\":\"caf\u{FFFD}\"}\n"
    );
}

#[tokio::test]
async fn atlas_an_empty_200_is_still_no_logs() {
    let server = atlas_server(GZIP, Vec::new()).await;
    let lines: Vec<String> = atlas_download(&server)
        .await
        .lines()
        .try_collect()
        .await
        .unwrap();
    assert!(lines.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let saved = atlas_download(&server)
        .await
        .save(dir.path().join("x.gz"), SaveMode::Raw)
        .await
        .unwrap();
    assert_eq!(saved.bytes, 0);
}

// ------------------------------------------------------------- Tencent CLS

/// A CLS API whose one export is Completed, served from `/file` with the
/// given content type and bytes.
async fn cls_server(content_type: &'static str, file: Vec<u8>) -> RawServer {
    cls_file_server("json", content_type, file).await
}

fn cls_client(server: &RawServer) -> logexport::tencent_cls::Client {
    logexport::tencent_cls::Client::builder()
        .endpoint(server.url())
        .credentials(logexport::tencent_cls::Credentials::new(
            "AKIDEXAMPLE",
            "secretkey",
        ))
        .region("ap-guangzhou")
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

fn cls_options() -> ExportOptions {
    ExportOptions::default()
        .format(Format::Json)
        .poll_interval(Duration::from_millis(10), Duration::from_millis(10))
        .download_attempts(3)
}

fn file_gets(server: &RawServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/file"))
        .count()
}

/// `save` (decoded), `records` and (unless `raw_ok`) `save` (raw) all fail with a
/// Decode error after one download, leaving no file.
async fn cls_fails_everywhere(content_type: &'static str, file: Vec<u8>, raw_ok: bool) -> Error {
    let server = cls_server(content_type, file).await;
    let client = cls_client(&server);
    let dir = tempfile::tempdir().unwrap();
    let err = client
        .resume_export(TOPIC, EXPORT, cls_options())
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(
        file_gets(&server),
        1,
        "a deterministic failure is not re-downloaded: {err}"
    );
    assert_empty_dir(dir.path());
    let records = client
        .resume_export(TOPIC, EXPORT, cls_options())
        .records()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(records.kind(), ErrorKind::Decode, "{records}");
    assert_eq!(file_gets(&server), 2);
    let raw = client
        .resume_export(TOPIC, EXPORT, cls_options())
        .save(dir.path().join("out.tar.gz"), SaveMode::Raw)
        .await;
    if raw_ok {
        raw.unwrap();
    } else {
        let raw = raw.unwrap_err();
        assert_eq!(raw.kind(), ErrorKind::Decode, "{raw}");
        assert_eq!(file_gets(&server), 3);
        assert_empty_dir(dir.path());
    }
    err
}

#[tokio::test]
async fn cls_good_archive_decodes() {
    let archive = gzip(&tar(&[
        ("a.json", b"{\"a\":1}\n"),
        ("b.json", b"{\"a\":2}"),
    ]));
    let server = cls_server("application/octet-stream", archive).await;
    let dir = tempfile::tempdir().unwrap();
    let summary = cls_client(&server)
        .resume_export(TOPIC, EXPORT, cls_options())
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap();
    assert_eq!((summary.records, summary.replaced), (Some(2), 0));
}

#[tokio::test]
async fn cls_tar_gz_with_a_bad_crc_fails() {
    let archive = tar(&[("a.json", b"{\"a\":1}\n")]);
    let err = cls_fails_everywhere("application/octet-stream", bad_crc(&archive), false).await;
    assert_eq!(err.operation(), Some("download_export"), "{err}");
}

#[tokio::test]
async fn cls_tar_gz_without_its_trailer_fails() {
    let archive = tar(&[("a.json", b"{\"a\":1}\n")]);
    let mut gz = gzip(&archive);
    gz.truncate(gz.len() - 8);
    let server = cls_server("application/octet-stream", gz).await;
    let dir = tempfile::tempdir().unwrap();
    let err = cls_client(&server)
        .resume_export(TOPIC, EXPORT, cls_options())
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_empty_dir(dir.path());
}

#[tokio::test]
async fn cls_tar_with_a_bad_header_checksum_fails() {
    let mut archive = tar(&[("a.json", b"{\"a\":1}\n")]);
    archive[0] ^= 0x01; // the name changes, the checksum does not
                        // The gzip is intact, so the file as served is kept by a raw save.
    let err = cls_fails_everywhere("application/octet-stream", gzip(&archive), true).await;
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[tokio::test]
async fn cls_html_or_json_instead_of_the_archive_fails_once() {
    let err = cls_fails_everywhere("text/html", b"<html>502</html>".to_vec(), false).await;
    assert!(err.to_string().contains("text/html"), "{err}");
    let err =
        cls_fails_everywhere("application/octet-stream", b"{\"error\":1}".to_vec(), false).await;
    assert!(err.to_string().contains("not gzip"), "{err}");
}

#[tokio::test]
async fn cls_binary_junk_in_the_archive_fails() {
    let archive = tar(&[("a.json", b"\x00\x01\x02junk\x00")]);
    let err = cls_fails_everywhere("application/octet-stream", gzip(&archive), true).await;
    assert!(err.to_string().contains("binary"), "{err}");
}

#[tokio::test]
async fn cls_a_non_utf8_record_is_replaced_and_counted() {
    let archive = gzip(&tar(&[("a.json", b"{\"a\":\"caf\xe9\"}\n")]));
    let server = cls_server("application/octet-stream", archive).await;
    let dir = tempfile::tempdir().unwrap();
    let summary = cls_client(&server)
        .resume_export(TOPIC, EXPORT, cls_options())
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap();
    assert_eq!((summary.records, summary.replaced), (Some(1), 1));
    let text = std::fs::read_to_string(summary.path).unwrap();
    assert_eq!(text, "{\"a\":\"caf\u{FFFD}\"}\n");
}

// ------------------------------------------------------------ ConductorOne

async fn c1_events(page: Vec<u8>) -> (Vec<serde_json::Value>, u64) {
    let server = RawServer::start(move |_| RawResponse::ok("application/json", page.clone())).await;
    let client = logexport::conductorone::Client::builder()
        .endpoint(server.url())
        .access_token("test-token")
        .build()
        .unwrap();
    let mut stream = client.events().stream().unwrap();
    let mut got = Vec::new();
    while let Some(e) = stream.try_next().await.unwrap() {
        got.push(e);
    }
    (got, stream.replaced())
}

#[tokio::test]
async fn c1_a_page_with_a_bad_byte_is_not_lost() {
    let page =
        b"{\"list\":[{\"metadata\":{\"uid\":\"u1\"},\"msg\":\"ok\"},{\"metadata\":{\"uid\":\"u2\"},\"msg\":\"caf\xe9\"}],\"nextPageToken\":\"\"}"
            .to_vec();
    let (events, replaced) = c1_events(page).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["msg"], "caf\u{FFFD}");
    assert_eq!(replaced, 1);
}

#[tokio::test]
async fn c1_a_page_with_a_lone_surrogate_escape_is_not_lost() {
    let page = br#"{"list":[{"metadata":{"uid":"u1"},"msg":"x\ud800y"},{"metadata":{"uid":"u2"},"msg":"\ud83d\ude00"}],"nextPageToken":""}"#
        .to_vec();
    let (events, replaced) = c1_events(page).await;
    assert_eq!(events[0]["msg"], "x\u{FFFD}y");
    assert_eq!(events[1]["msg"], "\u{1F600}", "a valid pair is kept");
    assert_eq!(replaced, 1);
}
