//! A CLS API on loopback whose one export is Completed and served, as
//! given, from `/file`: for export downloads no emulator would produce.
//! Included next to `rawserver.rs` (as `mod rawserver` at the crate root).

use crate::rawserver::{RawRequest, RawResponse, RawServer};

/// The topic of the one export.
pub const TOPIC: &str = "5c1d7b0e-3f4a-4e2b-9c8d-7a6b5c4d3e2f";
/// The one export.
pub const EXPORT: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/// Serves the export, in `format` (`json` or `csv`), as `file` with
/// `content_type`.
pub async fn cls_file_server(
    format: &'static str,
    content_type: &'static str,
    file: Vec<u8>,
) -> RawServer {
    let cos = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let cos2 = cos.clone();
    let server = RawServer::start(move |req: &RawRequest| {
        if req.path.starts_with("/file") {
            return RawResponse::ok(content_type, file.clone());
        }
        let body = match req.header("x-tc-action").unwrap_or_default() {
            "DescribeExports" => serde_json::json!({"Response": {
                "Exports": [{
                    "TopicId": TOPIC, "ExportId": EXPORT, "Query": "*",
                    "FileName": "x.tar.gz", "FileSize": file.len(), "Order": "desc",
                    "Format": format, "Count": 10, "Status": "Completed",
                    "From": 0, "To": 1, "CosPath": *cos2.lock().unwrap(),
                    "CreateTime": "2026-03-01 00:00:00", "SyntaxRule": 1
                }],
                "TotalCount": 1, "RequestId": "req-1"}}),
            _ => serde_json::json!({"Response": {"RequestId": "req-2"}}),
        };
        RawResponse::ok("application/json", body.to_string())
    })
    .await;
    *cos.lock().unwrap() = format!("{}/file?sign=x", server.url());
    server
}
