//! Wire tests: each vendor's generated client, driven through its hand-written
//! hook, sends exactly the request the vendor documents. A bare loopback
//! server captures one request byte for byte (no emulator logic in between),
//! so these pin the method, path, headers and JSON body.

#![cfg(all(feature = "tencent-cls", feature = "atlas", feature = "conductorone"))]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One captured HTTP/1.1 request.
#[derive(Debug)]
struct Captured {
    method: String,
    target: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Serves one request on an ephemeral loopback port, answering `status`
/// with the JSON `reply`; the handle yields what was received.
async fn capture_one(status: u16, reply: Value) -> (String, tokio::task::JoinHandle<Captured>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the request head ended");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap().split(' ');
        let (method, target) = (
            first.next().unwrap().to_string(),
            first.next().unwrap().to_string(),
        );
        let headers: BTreeMap<String, String> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let len: usize = headers
            .get("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let mut body = buf[head_end..].to_vec();
        while body.len() < len {
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed inside the body");
            body.extend_from_slice(&chunk[..n]);
        }
        let payload = serde_json::to_vec(&reply).unwrap();
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            payload.len()
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&payload).await.unwrap();
        sock.shutdown().await.unwrap();
        Captured {
            method,
            target,
            headers,
            body,
        }
    });
    (url, handle)
}

#[tokio::test]
async fn tencent_create_export_is_a_signed_post_to_root() {
    use logexport::tencent_cls::{sign, Client, Credentials, ExportParams, TimeRange};

    let (url, seen) = capture_one(
        200,
        json!({"Response": {"ExportId": "exp-1", "RequestId": "req-1"}}),
    )
    .await;
    let client = Client::builder()
        .endpoint(url.as_str())
        .region("ap-guangzhou")
        .credentials(Credentials::new("AKIDwiretest", "wire-secret-key"))
        .build()
        .unwrap();
    let params = ExportParams::new(
        "topic-1",
        "status:200",
        TimeRange::from_millis(1_000, 2_000),
    );
    assert_eq!(client.create_export(&params).await.unwrap(), "exp-1");

    let req = seen.await.unwrap();
    assert_eq!((req.method.as_str(), req.target.as_str()), ("POST", "/"));
    assert_eq!(req.header("x-tc-action"), "CreateExport");
    assert_eq!(req.header("x-tc-version"), "2020-10-16");
    assert_eq!(req.header("x-tc-region"), "ap-guangzhou");
    assert!(req.header("content-type").starts_with("application/json"));
    let body = req.json();
    assert_eq!(body["TopicId"], "topic-1");
    assert_eq!(body["Query"], "status:200");
    assert_eq!(
        (body["From"].as_i64(), body["To"].as_i64()),
        (Some(1_000), Some(2_000))
    );
    assert_eq!(body["SyntaxRule"], 0, "SyntaxRule is always sent");
    assert!(body["Count"].as_u64().is_some_and(|c| c > 0));

    // The Authorization header is exactly what the signer computes from the
    // bytes that went over the wire.
    let timestamp: i64 = req.header("x-tc-timestamp").parse().unwrap();
    let auth = sign::parse_authorization(req.header("authorization")).expect("TC3 Authorization");
    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "host")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = sign::sign(
        &sign::SignableRequest {
            method: "POST",
            host: req.header("host"),
            path: "/",
            query: "",
            headers: &headers,
            body: &req.body,
        },
        &sign::SigningParams {
            secret_id: "AKIDwiretest",
            secret_key: "wire-secret-key",
            token: None,
            service: "cls",
            timestamp,
            signed_headers: &signed,
        },
    )
    .unwrap();
    assert_eq!(
        req.header("authorization"),
        expected.intermediate.authorization
    );
    assert!(signed.contains(&"content-type") && signed.contains(&"host"));
}

#[tokio::test]
async fn atlas_events_send_the_versioned_accept() {
    use futures::TryStreamExt;
    use logexport::atlas::{Client, EventQuery};

    let (url, seen) = capture_one(
        200,
        json!({"results": [{"id": "e1", "eventTypeName": "X"}], "totalCount": 1, "links": []}),
    )
    .await;
    let client = Client::builder()
        .endpoint(&url)
        .api_key("pub", "priv")
        .build()
        .unwrap();
    let project = "0123456789abcdef01234567";
    let events: Vec<_> = client
        .project_events(project, EventQuery::default())
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1);

    let req = seen.await.unwrap();
    assert_eq!(req.method, "GET");
    assert!(
        req.target
            .starts_with(&format!("/api/atlas/v2/groups/{project}/events")),
        "{}",
        req.target
    );
    let expected = client.media_type("list_project_events").unwrap();
    assert!(
        expected.starts_with("application/vnd.atlas.20") && expected.ends_with("+json"),
        "{expected}"
    );
    assert_eq!(req.header("accept"), expected);
    assert!(req.body.is_empty());
}

#[tokio::test]
async fn conductorone_get_exporter_sends_the_bearer_token() {
    use logexport::conductorone::Client;

    let (url, seen) = capture_one(
        200,
        json!({"exporter": {"exportId": "ex-1", "displayName": "SIEM", "state": "EXPORT_STATE_EXPORTING"}}),
    )
    .await;
    let client = Client::builder()
        .endpoint(&url)
        .access_token("wire-token")
        .build()
        .unwrap();
    let exporter = client.get_exporter("ex-1").await.unwrap();
    assert_eq!(exporter.export_id, "ex-1");

    let req = seen.await.unwrap();
    assert_eq!(
        (req.method.as_str(), req.target.as_str()),
        ("GET", "/api/v1/systemlog/exports/ex-1")
    );
    assert_eq!(req.header("authorization"), "Bearer wire-token");
    assert!(req.header("accept").contains("application/json"));
}
