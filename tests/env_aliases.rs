//! The official tools' environment names reach the wire: a session token
//! from `TENCENTCLOUD_TOKEN`/`TENCENTCLOUD_SECURITY_TOKEN` is sent as
//! `X-TC-Token`, a ConductorOne access token from the SDKs' names is tried
//! first and goes to the SDKs' server URL, and the atlas CLI's
//! `MONGODB_ATLAS_OPS_MANAGER_URL` is where Atlas requests go. A bare
//! loopback server records each request's head.

#![cfg(all(feature = "tencent-cls", feature = "atlas", feature = "conductorone"))]

use logexport::{atlas, conductorone, tencent_cls};
use std::collections::BTreeMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one request on an ephemeral loopback port with `status` and the
/// JSON `reply`; the handle yields the request line and lowercased headers.
async fn capture_one(
    status: u16,
    reply: &'static str,
) -> (
    String,
    tokio::task::JoinHandle<(String, BTreeMap<String, String>)>,
) {
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
        let request_line = lines.next().unwrap().to_string();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        );
        sock.write_all(response.as_bytes()).await.unwrap();
        (request_line, headers)
    });
    (url, handle)
}

fn vars(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    let pairs = pairs.to_vec();
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

async fn cls_token_header(pairs: &[(&'static str, &'static str)]) -> Option<String> {
    let (url, seen) = capture_one(200, r#"{"Response":{"RequestId":"r-1"}}"#).await;
    let creds = tencent_cls::Credentials::from_vars(vars(pairs)).unwrap();
    let client = tencent_cls::Client::builder()
        .credentials(creds)
        .region("ap-guangzhou")
        .endpoint(url)
        .build()
        .unwrap();
    client.delete_export("export-1").await.unwrap();
    let (_, headers) = seen.await.unwrap();
    headers.get("x-tc-token").cloned()
}

#[tokio::test]
async fn tencent_session_token_aliases_are_sent() {
    let keys = [
        ("TENCENTCLOUD_SECRET_ID", "AKIDexample"),
        ("TENCENTCLOUD_SECRET_KEY", "secret-key"),
    ];
    for (name, value) in [
        ("TENCENTCLOUD_TOKEN", "tccli-sts-token"),
        ("TENCENTCLOUD_SECURITY_TOKEN", "terraform-sts-token"),
        ("TENCENTCLOUD_SESSION_TOKEN", "own-sts-token"),
    ] {
        let mut pairs = keys.to_vec();
        pairs.push((name, value));
        assert_eq!(
            cls_token_header(&pairs).await.as_deref(),
            Some(value),
            "{name}"
        );
    }
    assert_eq!(cls_token_header(&keys).await, None);
}

#[tokio::test]
async fn conductorone_sdk_names_reach_the_sdk_server_url_with_the_token() {
    let (url, seen) = capture_one(
        200,
        r#"{"exporter":{"exportId":"e1","displayName":"x","state":"EXPORT_STATE_WAITING"}}"#,
    )
    .await;
    let url: &'static str = Box::leak(url.into_boxed_str());
    let secret = conductorone::ClientSecret::from_seed([9; 32]).to_secret_string();
    let secret: &'static str = Box::leak(secret.expose().to_string().into_boxed_str());
    // Both an access token and client credentials: the token is tried first.
    let env = vars(&[
        ("CONDUCTORONE_ACCESS_TOKEN", "sdk-access-token"),
        ("CONDUCTORONE_CLIENT_ID", "bot@acme.conductor.one/x"),
        ("CONDUCTORONE_CLIENT_SECRET", secret),
        ("CONDUCTORONE_SERVER_URL", url),
    ]);
    let endpoint = conductorone::endpoint_from_lookup(&env).unwrap();
    assert_eq!(endpoint, url);
    let client = conductorone::Client::builder()
        .credentials(conductorone::Credentials::from_lookup(&env).unwrap())
        .endpoint(&endpoint)
        .build()
        .unwrap();
    let _ = client.get_exporter("e1").await;
    let (line, headers) = seen.await.unwrap();
    assert!(
        line.starts_with("GET /api/v1/systemlog/exports/e1"),
        "{line}"
    );
    assert_eq!(
        headers.get("authorization").map(String::as_str),
        Some("Bearer sdk-access-token")
    );
}

#[tokio::test]
async fn atlas_ops_manager_url_is_the_endpoint() {
    let (url, seen) = capture_one(
        401,
        r#"{"error":401,"errorCode":"UNAUTHORIZED","detail":"no"}"#,
    )
    .await;
    let url: &'static str = Box::leak(url.into_boxed_str());
    let env = vars(&[
        ("MONGODB_ATLAS_OPS_MANAGER_URL", url),
        ("MONGODB_ATLAS_PUBLIC_API_KEY", "pub"),
        ("MONGODB_ATLAS_PRIVATE_API_KEY", "priv"),
        ("MONGODB_ATLAS_PROJECT_ID", "64b7f3a2c1d0e9f8a7b6c5d4"),
        ("MONGODB_ATLAS_ORG_ID", "5e2211c17a3e5a48f5497de3"),
    ]);
    let settings = atlas::EnvSettings::from_lookup(&env);
    assert_eq!(settings.base_url.as_deref(), Some(url));
    let project = settings.project_id.clone().unwrap();
    assert_eq!(settings.org_id.as_deref(), Some("5e2211c17a3e5a48f5497de3"));
    let client = atlas::Client::builder()
        .credentials(atlas::Credentials::from_lookup(&env).unwrap())
        .endpoint(settings.base_url.as_deref().unwrap())
        .build()
        .unwrap();
    let err = client.stream_workspace(&project, "ws1").await.unwrap_err();
    assert_eq!(err.kind(), logexport::ErrorKind::Auth, "{err}");
    let (line, _) = seen.await.unwrap();
    assert!(
        line.starts_with(&format!("GET /api/atlas/v2/groups/{project}/streams/ws1")),
        "{line}"
    );
    // The base URL wins over the CLI's name when both are set.
    let both = atlas::EnvSettings::from_lookup(vars(&[
        ("MONGODB_ATLAS_OPS_MANAGER_URL", "https://cli.example.com"),
        ("MONGODB_ATLAS_BASE_URL", "https://base.example.com"),
    ]));
    assert_eq!(both.base_url.as_deref(), Some("https://base.example.com"));
}
