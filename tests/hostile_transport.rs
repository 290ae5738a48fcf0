//! Every vendor against a loopback server that misbehaves on purpose:
//! redirects to another origin, bodies dripped a byte at a time, silence,
//! huge bodies, resets mid-body, error pages that echo the request. The
//! outcome is always a typed `logexport::Error` that names vendor and
//! operation, never a hang, a leaked credential or unbounded memory.
#![cfg(all(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]

#[path = "common/hostile.rs"]
mod hostile;

use futures::TryStreamExt;
use hostile::{Hostile, Reply, Seen};
use logexport::{Error, ErrorKind, RetryPolicy, Throughput, Vendor};
use std::time::{Duration, Instant};

const CLS_ID: &str = "AKIDhostiletest0000000000000000";
const CLS_KEY: &str = "cls-secret-key-hostile-0123456789";
const CLS_TOKEN: &str = "cls-session-token-hostile-ABCDEFGHIJ";
const C1_TOKEN: &str = "c1-bearer-token-hostile-0123456789";
const ATLAS_PUBLIC: &str = "hostilepub";
const ATLAS_PRIVATE: &str = "atlas-private-key-hostile-0123456789";
const SA_ID: &str = "mdb_sa_id_hostile0001";
const SA_SECRET: &str = "mdb_sa_sk_hostile-secret-0123456789";
const PROJECT: &str = "64b7f3a2c1d0e9f8a7b6c5d4";
const HOST: &str = "cluster0-shard-00-00.abcde.mongodb.net";

fn cls(endpoint: &str) -> logexport::tencent_cls::ClientBuilder {
    logexport::tencent_cls::Client::builder()
        .credentials(
            logexport::tencent_cls::Credentials::new(CLS_ID, CLS_KEY).with_session_token(CLS_TOKEN),
        )
        .region("ap-guangzhou")
        .endpoint(endpoint)
        .retry_policy(RetryPolicy::disabled())
}

fn c1_bearer(endpoint: &str) -> logexport::conductorone::ClientBuilder {
    logexport::conductorone::Client::builder()
        .access_token(C1_TOKEN)
        .endpoint(endpoint)
        .retry_policy(RetryPolicy::disabled())
}

fn c1_assertion(endpoint: &str) -> logexport::conductorone::ClientBuilder {
    logexport::conductorone::Client::builder()
        .client_credentials(
            logexport::sandbox::conductorone::DEMO_CLIENT_ID,
            logexport::sandbox::conductorone::demo_secret().to_secret_string(),
        )
        .endpoint(endpoint)
        .retry_policy(RetryPolicy::disabled())
}

fn atlas_digest(endpoint: &str) -> logexport::atlas::ClientBuilder {
    logexport::atlas::Client::builder()
        .api_key(ATLAS_PUBLIC, ATLAS_PRIVATE)
        .endpoint(endpoint)
        .retry_policy(RetryPolicy::disabled())
}

fn atlas_sa(endpoint: &str) -> logexport::atlas::ClientBuilder {
    logexport::atlas::Client::builder()
        .service_account(SA_ID, SA_SECRET)
        .endpoint(endpoint)
        .retry_policy(RetryPolicy::disabled())
}

async fn cls_call(client: &logexport::tencent_cls::Client) -> Result<(), Error> {
    client
        .describe_topics(&Default::default(), 0, 10)
        .await
        .map(drop)
}

async fn c1_call(client: &logexport::conductorone::Client) -> Result<(), Error> {
    client.get_exporter("e1").await.map(drop)
}

async fn atlas_call(client: &logexport::atlas::Client) -> Result<(), Error> {
    client.processes(PROJECT)?.try_next().await.map(drop)
}

async fn atlas_download(client: &logexport::atlas::Client) -> Result<u64, Error> {
    let download = client
        .download_cluster_log(
            PROJECT,
            HOST,
            logexport::atlas::LogName::Mongodb,
            logexport::atlas::TimeRange::last(Duration::from_secs(3600)),
        )
        .await?;
    download
        .into_raw_stream()
        .try_fold(0u64, |n, c| async move { Ok(n + c.len() as u64) })
        .await
}

/// A Digest challenge for the first request, then `then` for the rest.
fn digest_then(then: Reply) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |seen, _| {
        if seen.header("authorization").is_none() {
            return Reply::Send {
                status: 401,
                headers: vec![(
                    "www-authenticate".into(),
                    r#"Digest realm="MMS Public API", domain="", nonce="N1", algorithm=MD5, qop="auth", stale=false"#.into(),
                )],
                body: Vec::new(),
            };
        }
        then.clone()
    }
}

fn redirect_to(target: &Hostile) -> Reply {
    Reply::Redirect {
        status: 307,
        location: format!("{}/elsewhere?sig=PRESIGNED-SECRET", target.url()),
    }
}

/// The redirect is refused with an error naming the target origin only,
/// and the target saw nothing.
fn assert_refused(err: &Error, target: &Hostile, vendor: Vendor) {
    let text = err.to_string();
    assert_eq!(err.vendor(), Some(vendor), "{text}");
    assert!(text.contains(&target.url()), "names the origin: {text}");
    assert!(
        !text.contains("PRESIGNED") && !text.contains("/elsewhere"),
        "no path or query: {text}"
    );
    assert!(!err.is_retryable(), "{text}");
    assert!(
        target.seen().is_empty(),
        "the redirect target saw {:?}",
        target.seen()
    );
}

// ---- 1. No credential crosses an origin -------------------------------

#[tokio::test]
async fn redirect_tc3_with_session_token_is_refused() {
    let target = Hostile::recorder().await;
    let location = redirect_to(&target);
    let api = Hostile::start(move |_, _| location.clone()).await;
    let client = cls(&api.url()).build().unwrap();
    let err = cls_call(&client).await.unwrap_err();
    assert_refused(&err, &target, Vendor::TencentCls);
    assert!(api.seen()[0].header("x-tc-token").is_some());
}

#[tokio::test]
async fn redirect_c1_assertion_is_refused() {
    let target = Hostile::recorder().await;
    let location = redirect_to(&target);
    let api = Hostile::start(move |_, _| location.clone()).await;
    let client = c1_assertion(&api.url()).build().unwrap();
    let err = c1_call(&client).await.unwrap_err();
    assert_refused(&err, &target, Vendor::ConductorOne);
    let seen = api.seen();
    assert_eq!(seen[0].path(), "/auth/v1/token");
    assert!(String::from_utf8_lossy(&seen[0].body).contains("client_assertion="));
}

#[tokio::test]
async fn redirect_c1_bearer_is_refused() {
    let target = Hostile::recorder().await;
    let location = redirect_to(&target);
    let api = Hostile::start(move |_, _| location.clone()).await;
    let client = c1_bearer(&api.url()).build().unwrap();
    let err = c1_call(&client).await.unwrap_err();
    assert_refused(&err, &target, Vendor::ConductorOne);
    assert_eq!(err.operation(), Some("get_exporter"));
}

#[tokio::test]
async fn redirect_atlas_digest_is_refused() {
    let target = Hostile::recorder().await;
    let api = Hostile::start(digest_then(redirect_to(&target))).await;
    let client = atlas_digest(&api.url()).build().unwrap();
    let err = atlas_call(&client).await.unwrap_err();
    assert_refused(&err, &target, Vendor::Atlas);
    assert!(api.seen()[1]
        .header("authorization")
        .is_some_and(|a| a.starts_with("Digest ")));
}

#[tokio::test]
async fn redirect_atlas_service_account_is_refused() {
    let target = Hostile::recorder().await;
    let location = redirect_to(&target);
    let api = Hostile::start(move |_, _| location.clone()).await;
    let client = atlas_sa(&api.url()).build().unwrap();
    let err = atlas_call(&client).await.unwrap_err();
    assert_refused(&err, &target, Vendor::Atlas);
    assert!(api.seen()[0]
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
}

// ---- 4. Every wait is bounded -----------------------------------------

fn drip_json() -> Reply {
    Reply::Drip {
        headers: vec![("content-type".into(), "application/json".into())],
        every: Duration::from_millis(300),
        total: 1000,
    }
}

/// `err` is a timeout that names vendor and operation, and came in time.
fn assert_timed_out(err: &Error, started: Instant, vendor: Vendor, within: Duration) {
    let text = err.to_string();
    assert_eq!(err.vendor(), Some(vendor), "{text}");
    assert!(err.operation().is_some(), "{text}");
    assert!(text.contains("timed out after 1 s"), "{text}");
    assert_eq!(err.kind(), ErrorKind::Network, "{text}");
    assert!(started.elapsed() < within, "{:?}", started.elapsed());
}

#[tokio::test]
async fn dripped_json_hits_the_call_deadline_for_every_vendor() {
    let t = Duration::from_secs(1);
    let api = Hostile::start(|_, _| drip_json()).await;
    let start = Instant::now();
    let err = cls_call(&cls(&api.url()).timeout(t).build().unwrap())
        .await
        .unwrap_err();
    assert_timed_out(&err, start, Vendor::TencentCls, Duration::from_secs(5));

    let start = Instant::now();
    let err = c1_call(&c1_bearer(&api.url()).timeout(t).build().unwrap())
        .await
        .unwrap_err();
    assert_timed_out(&err, start, Vendor::ConductorOne, Duration::from_secs(5));

    let api = Hostile::start(digest_then(drip_json())).await;
    let start = Instant::now();
    let err = atlas_call(&atlas_digest(&api.url()).timeout(t).build().unwrap())
        .await
        .unwrap_err();
    assert_timed_out(&err, start, Vendor::Atlas, Duration::from_secs(5));
}

#[tokio::test]
async fn silence_costs_one_operation_deadline_not_attempts_times_timeouts() {
    let api = Hostile::start(|_, _| Reply::Silence).await;
    let retries = RetryPolicy::default()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(10))
        .without_jitter();
    let client = atlas_digest(&api.url())
        .retry_policy(retries)
        .timeout(Duration::from_secs(1))
        .operation_timeout(Duration::from_millis(2500))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = atlas_call(&client).await.unwrap_err();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(err.to_string().contains("operation deadline"), "{err}");
    assert!(!err.is_retryable());
    // A silent server was asked more than once: the per-call deadline
    // ended each attempt and the retries ran until the operation's.
    assert!(api.seen().len() >= 2, "{}", api.seen().len());
}

#[tokio::test]
async fn a_dripped_atlas_download_fails_below_the_minimum_throughput() {
    let api = Hostile::start(digest_then(Reply::Drip {
        headers: vec![("content-type".into(), "application/gzip".into())],
        every: Duration::from_millis(200),
        total: 10_000,
    }))
    .await;
    let client = atlas_digest(&api.url())
        .min_throughput(Throughput::new(100, Duration::from_secs(1)))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = atlas_download(&client).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Network, "{text}");
    assert!(text.contains("stalled"), "{text}");
    assert_eq!(err.vendor(), Some(Vendor::Atlas), "{text}");
}

// ---- 5. Memory is bounded on every path --------------------------------

fn huge(status: u16) -> Reply {
    Reply::Huge {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        size: 40 * 1024 * 1024,
    }
}

fn assert_too_large(err: &Error, vendor: Vendor) {
    let text = err.to_string();
    assert_eq!(
        (err.kind(), err.vendor()),
        (ErrorKind::Decode, Some(vendor)),
        "{text}"
    );
    assert!(text.contains("larger than"), "{text}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn huge_success_bodies_are_refused_past_the_cap() {
    let api = Hostile::start(|_, _| huge(200)).await;
    let err = cls_call(&cls(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_too_large(&err, Vendor::TencentCls);
    let err = c1_call(&c1_bearer(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_too_large(&err, Vendor::ConductorOne);
    let api = Hostile::start(digest_then(huge(200))).await;
    let err = atlas_call(&atlas_digest(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_too_large(&err, Vendor::Atlas);
}

/// The client hung up long before the 40 MiB were sent: what it took is
/// at most the cap plus what the loopback socket buffers hold.
async fn assert_hung_up_early(api: &Hostile) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(api.written() < 20 * 1024 * 1024, "{}", api.written());
}

#[tokio::test]
async fn huge_error_bodies_are_read_only_to_64_kib() {
    let api = Hostile::start(|_, _| huge(500)).await;
    let err = cls_call(&cls(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.vendor()),
        (Some(500), Some(Vendor::TencentCls))
    );
    assert_hung_up_early(&api).await;
    let api = Hostile::start(|_, _| huge(500)).await;
    let err = c1_call(&c1_bearer(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.vendor()),
        (Some(500), Some(Vendor::ConductorOne))
    );
    assert_hung_up_early(&api).await;
    let api = Hostile::start(digest_then(huge(500))).await;
    let err = atlas_call(&atlas_digest(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.vendor()),
        (Some(500), Some(Vendor::Atlas))
    );
    assert!(err.to_string().len() < 2000);
    assert_hung_up_early(&api).await;
}

// ---- 8. Errors say what happened ---------------------------------------

#[tokio::test]
async fn a_refused_connection_names_vendor_operation_cause_and_address() {
    // Bind and drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = c1_call(&c1_bearer(&url).build().unwrap())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("ConductorOne get_exporter: "), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[tokio::test]
async fn a_reset_download_says_how_far_it_got() {
    let api = Hostile::start(digest_then(Reply::Reset {
        headers: vec![("content-type".into(), "application/gzip".into())],
        announced: 4 * 1024 * 1024,
        sent: 1_300_000,
    }))
    .await;
    let client = atlas_digest(&api.url()).build().unwrap();
    let err = atlas_download(&client).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Network, "{text}");
    assert!(text.contains("after 1.2 MiB of the body"), "{text}");
    assert_eq!(err.vendor(), Some(Vendor::Atlas), "{text}");
}

// ---- 9. Echoed secrets are redacted ------------------------------------

/// An error page that echoes the whole request, as some proxies do.
fn echo(status: u16) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |seen, _| {
        let echoed = format!(
            "{}{}",
            seen.head.replace(['\r', '\n', '"'], " "),
            String::from_utf8_lossy(&seen.body)
        );
        Reply::json(
            status,
            serde_json::json!({
                "code": 3,
                "message": echoed,
                "detail": echoed,
                "error_description": echoed,
                "Response": {"Error": {"Code": "InvalidParameter", "Message": echoed}, "RequestId": "r1"}
            })
            .to_string(),
        )
    }
}

fn assert_redacted(err: &Error, secrets: &[&str]) {
    let text = format!("{err} {err:?}");
    for s in secrets {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
    assert!(text.contains("[redacted]"), "{text}");
}

#[tokio::test]
async fn echoed_c1_bearer_token_is_redacted() {
    let api = Hostile::start(echo(400)).await;
    let err = c1_call(&c1_bearer(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_redacted(&err, &[C1_TOKEN]);
}

#[tokio::test]
async fn echoed_c1_assertion_is_redacted() {
    let api = Hostile::start(echo(401)).await;
    let err = c1_call(&c1_assertion(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    let body = String::from_utf8(api.seen()[0].body.clone()).unwrap();
    let assertion = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("client_assertion="))
        .unwrap()
        .to_string();
    assert_redacted(&err, &[&assertion]);
}

#[tokio::test]
async fn echoed_tc3_session_token_is_redacted() {
    let api = Hostile::start(echo(200)).await;
    let err = cls_call(&cls(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameter"));
    assert_redacted(&err, &[CLS_TOKEN]);
}

#[tokio::test]
async fn echoed_atlas_basic_header_is_redacted() {
    let api = Hostile::start(echo(401)).await;
    let err = atlas_call(&atlas_sa(&api.url()).build().unwrap())
        .await
        .unwrap_err();
    let basic = api.seen()[0]
        .header("authorization")
        .unwrap()
        .trim_start_matches("Basic ")
        .to_string();
    assert_redacted(&err, &[&basic, SA_SECRET]);
}
