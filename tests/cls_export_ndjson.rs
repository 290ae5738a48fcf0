#![cfg(feature = "tencent-cls")]
//! A CLS export to NDJSON, end to end against a loopback server: JSON lines
//! pass through byte for byte, CSV rows (quoted multi-line fields, CRLF, a
//! byte-order mark, ragged rows, the header repeated by a later file)
//! become objects in header order, and every way of reading the export
//! (`save` decoded, `lines`, `into_reader`, `records`) sees the same records.
//! And the answers the workflow must turn into typed errors: a CreateExport
//! without an id, an export file answered with an HTTP error, a task that
//! never completes.

#[path = "common/cls_file.rs"]
#[allow(dead_code)]
mod cls_file;
#[path = "common/rawserver.rs"]
#[allow(dead_code)]
mod rawserver;

use cls_file::{cls_file_server, EXPORT, TOPIC};
use futures::TryStreamExt;
use logexport::tencent_cls::{
    Client, Credentials, ExportOptions, ExportParams, SaveMode, TimeRange,
};
use logexport::{ErrorKind, Vendor};
use rawserver::{RawRequest, RawResponse, RawServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn tar_gz(files: &[&[u8]]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (i, data) in files.iter().enumerate() {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("part-{i}"), *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

async fn server(format: &'static str, file: Vec<u8>) -> RawServer {
    cls_file_server(format, "application/octet-stream", file).await
}

fn client(server: &RawServer) -> Client {
    Client::builder()
        .endpoint(server.url())
        .credentials(Credentials::new("AKIDEXAMPLE", "secretkey"))
        .region("ap-guangzhou")
        .build()
        .unwrap()
}

fn options() -> ExportOptions {
    ExportOptions::default().poll_interval(Duration::from_millis(10), Duration::from_millis(10))
}

/// `save(.., SaveMode::Decoded)`'s file, `lines` joined, `into_reader` read, and `records` re-read.
async fn every_way(server: &RawServer) -> (String, String, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let summary = client(server)
        .resume_export(TOPIC, EXPORT, options())
        .save(&path, SaveMode::Decoded)
        .await
        .unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(summary.records, Some(file.lines().count() as u64));
    let lines: Vec<bytes::Bytes> = client(server)
        .resume_export(TOPIC, EXPORT, options())
        .lines()
        .try_collect()
        .await
        .unwrap();
    let mut joined = String::new();
    for line in lines {
        joined.push_str(std::str::from_utf8(&line).unwrap());
        joined.push('\n');
    }
    let mut read = String::new();
    tokio::io::AsyncReadExt::read_to_string(
        &mut client(server)
            .resume_export(TOPIC, EXPORT, options())
            .into_reader(),
        &mut read,
    )
    .await
    .unwrap();
    assert_eq!(read, file, "into_reader reads what save writes");
    let values = client(server)
        .resume_export(TOPIC, EXPORT, options())
        .records()
        .try_collect()
        .await
        .unwrap();
    (file, joined, values)
}

#[tokio::test]
async fn json_lines_pass_through_byte_for_byte() {
    let first = "{\"z\": 1.50, \"a\" : \"caf\\u00e9\"}\r\n\n{\"big\":12345678901234567890123}\n";
    let second = "  [1,2]\n{\"k\":{\"y\":null,\"x\":1e3}}";
    let server = server("json", tar_gz(&[first.as_bytes(), second.as_bytes()])).await;
    let (file, lines, values) = every_way(&server).await;
    let want = "{\"z\": 1.50, \"a\" : \"caf\\u00e9\"}\n{\"big\":12345678901234567890123}\n[1,2]\n{\"k\":{\"y\":null,\"x\":1e3}}\n";
    assert_eq!(file, want);
    assert_eq!(lines, want);
    let reparsed: Vec<serde_json::Value> = want
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(values, reparsed);
}

#[tokio::test]
async fn csv_rows_become_objects_in_header_order() {
    let first = "\u{feff}time,msg,level\r\n1,\"multi\r\nline, \"\"quoted\"\"\",INFO\r\n2,short\r\n";
    let second = "\u{feff}time,msg,level\n3,\"a\nb\nc\",WARN,extra\n\n4\n";
    let server = server("csv", tar_gz(&[first.as_bytes(), second.as_bytes()])).await;
    let (file, lines, values) = every_way(&server).await;
    let want = concat!(
        "{\"time\":\"1\",\"msg\":\"multi\\r\\nline, \\\"quoted\\\"\",\"level\":\"INFO\"}\n",
        "{\"time\":\"2\",\"msg\":\"short\"}\n",
        "{\"time\":\"3\",\"msg\":\"a\\nb\\nc\",\"level\":\"WARN\",\"column_4\":\"extra\"}\n",
        "{\"time\":\"4\"}\n",
    );
    assert_eq!(file, want);
    assert_eq!(lines, want);
    assert_eq!(values.len(), 4);
}

#[tokio::test]
async fn a_line_that_is_not_json_fails_without_a_file() {
    let server = server("json", tar_gz(&[b"{\"a\":1}\n{\"a\":\n2}\n"])).await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&server)
        .resume_export(TOPIC, EXPORT, options())
        .save(dir.path().join("out.ndjson"), SaveMode::Decoded)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // The reader ends in the same typed error, after at most the good record.
    let mut reader = client(&server)
        .resume_export(TOPIC, EXPORT, options())
        .into_reader();
    let mut read = Vec::new();
    let io = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut read)
        .await
        .unwrap_err();
    assert!(read.is_empty() || read == b"{\"a\":1}\n", "{read:?}");
    let inner = io
        .get_ref()
        .and_then(|e| e.downcast_ref::<logexport::Error>())
        .expect("the library's error inside");
    assert_eq!(inner.kind(), ErrorKind::Decode, "{inner}");
}

/// A CLS API whose one export is in `status`, its file at `/file`
/// answered with HTTP `file_status`.
async fn one_export(status: &'static str, file_status: u16) -> RawServer {
    let cos = Arc::new(Mutex::new(String::new()));
    let cos_path = cos.clone();
    let server = RawServer::start(move |req: &RawRequest| {
        if req.path.starts_with("/file") {
            return RawResponse {
                status: file_status,
                headers: Vec::new(),
                body: b"no such file".to_vec(),
            };
        }
        let body = serde_json::json!({"Response": {
            "Exports": [{"TopicId": TOPIC, "ExportId": EXPORT, "Status": status,
                         "Format": "json", "CosPath": *cos_path.lock().unwrap()}],
            "TotalCount": 1, "RequestId": "req-1"}});
        RawResponse::ok("application/json", body.to_string())
    })
    .await;
    *cos.lock().unwrap() = format!("{}/file?sign=x", server.url());
    server
}

#[tokio::test]
async fn a_download_answering_404_is_not_found_and_not_repeated() {
    let server = one_export("Completed", 404).await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&server)
        .resume_export(TOPIC, EXPORT, options())
        .save(dir.path().join("out.tar.gz"), SaveMode::Raw)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.vendor(), Some(Vendor::TencentCls));
    assert_eq!(err.operation(), Some("download_export"));
    assert!(err.to_string().contains("answered HTTP 404"), "{err}");
    let downloads = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/file"))
        .count();
    assert_eq!(downloads, 1, "a missing file is not fetched again");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_task_that_never_completes_times_out_retryably() {
    let server = one_export("Processing", 200).await;
    let options = options().timeout(Duration::from_millis(60));
    let err = client(&server)
        .wait_for_export(TOPIC, EXPORT, &options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ExportFailed, "{err}");
    assert_eq!(err.vendor(), Some(Vendor::TencentCls));
    assert!(err.is_retryable(), "the task keeps running: {err}");
    assert!(err.to_string().contains("did not complete within"), "{err}");
}

#[tokio::test]
async fn create_export_without_an_export_id_is_a_decode_error_with_the_request_id() {
    for body in [
        r#"{"Response":{"RequestId":"req-7"}}"#,
        r#"{"Response":{"ExportId":"","RequestId":"req-7"}}"#,
    ] {
        let server = RawServer::start(move |_| RawResponse::ok("application/json", body)).await;
        let params = ExportParams::new(TOPIC, "*", TimeRange::from_millis(1_000, 2_000));
        let err = client(&server).create_export(&params).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
        assert_eq!(err.vendor(), Some(Vendor::TencentCls), "{body}");
        assert_eq!(err.request_id(), Some("req-7"), "{body}");
        assert!(err.to_string().contains("no ExportId"), "{body}: {err}");
        assert_eq!(server.requests().len(), 1, "a decode error is not retried");
    }
}
