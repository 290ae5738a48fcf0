#![cfg(feature = "tencent-cls")]
//! CLS answers that succeed but leave out what the client needs, against a
//! loopback server: a typed decode error that keeps the request id, never a
//! panic or an empty id.

#[path = "common/rawserver.rs"]
#[allow(dead_code)]
mod rawserver;

use logexport::tencent_cls::{Client, Credentials, ExportParams, TimeRange};
use logexport::{ErrorKind, Vendor};
use rawserver::{RawResponse, RawServer};

#[tokio::test]
async fn create_export_without_an_export_id_is_a_decode_error_with_the_request_id() {
    for body in [
        r#"{"Response":{"RequestId":"req-7"}}"#,
        r#"{"Response":{"ExportId":"","RequestId":"req-7"}}"#,
    ] {
        let server = RawServer::start(move |_| RawResponse::ok("application/json", body)).await;
        let client = Client::builder()
            .endpoint(server.url())
            .credentials(Credentials::new("AKIDEXAMPLE", "secretkey"))
            .region("ap-guangzhou")
            .build()
            .unwrap();
        let params = ExportParams::new("topic-1", "*", TimeRange::from_millis(1_000, 2_000));
        let err = client.create_export(&params).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
        assert_eq!(err.vendor(), Some(Vendor::TencentCls), "{body}");
        assert_eq!(err.request_id(), Some("req-7"), "{body}");
        assert!(err.to_string().contains("no ExportId"), "{body}: {err}");
        assert_eq!(server.requests().len(), 1, "a decode error is not retried");
    }
}
