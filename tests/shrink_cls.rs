#![cfg(feature = "tencent-cls")]
//! CLS answers the export workflow must turn into typed errors, against a
//! loopback server: a CreateExport without an id, an export file answered
//! with an HTTP error, a task that never completes.

#[path = "common/rawserver.rs"]
#[allow(dead_code)]
mod rawserver;

use logexport::tencent_cls::{
    Client, Credentials, ExportOptions, ExportParams, SaveMode, TimeRange,
};
use logexport::{ErrorKind, Vendor};
use rawserver::{RawRequest, RawResponse, RawServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOPIC: &str = "topic-1";
const EXPORT: &str = "export-1";

fn client(server: &RawServer) -> Client {
    Client::builder()
        .endpoint(server.url())
        .credentials(Credentials::new("AKIDEXAMPLE", "secretkey"))
        .region("ap-guangzhou")
        .build()
        .unwrap()
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

fn quick() -> ExportOptions {
    ExportOptions::default().poll_interval(Duration::from_millis(10), Duration::from_millis(10))
}

#[tokio::test]
async fn a_download_answering_404_is_not_found_and_not_repeated() {
    let server = one_export("Completed", 404).await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&server)
        .resume_export(TOPIC, EXPORT, quick())
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
    let options = quick().timeout(Duration::from_millis(60));
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
