#![cfg(all(feature = "atlas", feature = "sandbox"))]
//! Atlas log downloads and listings against the Atlas sandbox.

use futures::{StreamExt, TryStreamExt};
use logexport::atlas::{
    Client, Download, EventQuery, LogName, SaveMode, StreamLogOptions, TimeRange,
};
use logexport::sandbox::atlas::{
    AtlasSandbox, DEMO_HOST, DEMO_ORG_ID, DEMO_PROCESSORS, DEMO_PROJECT_ID, DEMO_WORKSPACE,
    DEMO_WORKSPACE_2,
};
use logexport::sandbox::prelude::*;
use logexport::sandbox::{Fault, FaultTarget};
use logexport::ErrorKind;
use std::sync::{Arc, Mutex};

fn window() -> TimeRange {
    TimeRange::from_unix_secs(1_772_323_200, 1_772_326_800).unwrap() // 2026-03-01, one hour
}

async fn setup() -> (AtlasSandbox, Client) {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    (sb, client)
}

async fn all_lines(d: Download) -> logexport::Result<Vec<String>> {
    d.lines().try_collect().await
}

#[tokio::test]
async fn cluster_log_lines_match_the_sandbox() {
    let (sb, client) = setup().await;
    for log_name in LogName::ALL {
        let d = client
            .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, log_name, window())
            .await
            .unwrap();
        let meta = d.meta().clone();
        let got = all_lines(d).await.unwrap();
        let want = sb.expected_cluster_log_lines(DEMO_PROJECT_ID, DEMO_HOST, log_name, window());
        assert!(want.len() > 100, "{log_name}: {}", want.len());
        assert_eq!(got, want, "{log_name}");
        let bytes: u64 = want.iter().map(|l| l.len() as u64 + 1).sum();
        assert_eq!(meta.uncompressed_length, Some(bytes));
        assert!(meta.content_length.is_some_and(|n| n > 0 && n < bytes));
        let first: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
        if log_name.is_audit() {
            assert!(
                first["atype"].is_string() && first["ts"]["$date"].is_string(),
                "{first}"
            );
        } else {
            assert!(
                first["t"]["$date"].is_string() && first["msg"].is_string(),
                "{first}"
            );
        }
    }
    // Each log is its own: different names, different content.
    let a = sb.expected_cluster_log_lines(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window());
    let b = sb.expected_cluster_log_lines(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongos, window());
    assert_ne!(a, b);
}

#[tokio::test]
async fn stream_logs_match_the_sandbox_with_and_without_a_processor() {
    let (sb, client) = setup().await;
    let all = client
        .download_stream_audit_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            window(),
            StreamLogOptions::default(),
        )
        .await
        .unwrap();
    let all = all_lines(all).await.unwrap();
    assert_eq!(
        all,
        sb.expected_stream_audit_lines(DEMO_PROJECT_ID, DEMO_WORKSPACE, None, window())
    );

    let one = client
        .download_stream_audit_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            window(),
            StreamLogOptions::default().processor(DEMO_PROCESSORS[1]),
        )
        .await
        .unwrap();
    let one = all_lines(one).await.unwrap();
    assert_eq!(
        one,
        sb.expected_stream_audit_lines(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            Some(DEMO_PROCESSORS[1]),
            window()
        )
    );
    assert!(!one.is_empty() && one.len() < all.len());

    let ops = client
        .download_stream_operational_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE_2,
            window(),
            StreamLogOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        ops.meta().media_type,
        "application/vnd.atlas.2025-03-12+gzip"
    );
    let ops = all_lines(ops).await.unwrap();
    assert_eq!(
        ops,
        sb.expected_stream_operational_lines(DEMO_PROJECT_ID, DEMO_WORKSPACE_2, None, window())
    );
}

#[tokio::test]
async fn empty_window_is_no_lines_and_no_error() {
    let (sb, client) = setup().await;
    // Before the sandbox's data begins (2020).
    let old = TimeRange::from_unix_secs(1_420_070_400, 1_420_074_000).unwrap();
    assert!(sb
        .expected_cluster_log_lines(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, old)
        .is_empty());
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, old)
        .await
        .unwrap();
    assert!(d.meta().is_empty());
    assert!(all_lines(d).await.unwrap().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let d = client
        .download_stream_audit_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            old,
            StreamLogOptions::default(),
        )
        .await
        .unwrap();
    let saved = d.save(dir.path(), SaveMode::Decoded).await.unwrap();
    assert_eq!(saved.bytes, 0);
}

#[tokio::test]
async fn content_disposition_names_the_file_in_a_directory() {
    let (sb, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let d = client
        .download_cluster_log(
            DEMO_PROJECT_ID,
            DEMO_HOST,
            LogName::MongodbAuditLog,
            window(),
        )
        .await
        .unwrap();
    let server_name = d
        .meta()
        .server_file_name
        .clone()
        .expect("the sandbox sends Content-Disposition");
    assert!(
        server_name.ends_with(".log.gz") && server_name.contains(DEMO_HOST),
        "{server_name}"
    );
    let saved = d.save(dir.path(), SaveMode::Raw).await.unwrap();
    assert_eq!(saved.path, dir.path().join(&server_name));
    let raw = std::fs::read(&saved.path).unwrap();
    assert_eq!(raw.len() as u64, saved.bytes);
    assert_eq!(&raw[..2], &[0x1f, 0x8b], "raw mode keeps the gzip");

    let d = client
        .download_cluster_log(
            DEMO_PROJECT_ID,
            DEMO_HOST,
            LogName::MongodbAuditLog,
            window(),
        )
        .await
        .unwrap();
    let saved = d.save(dir.path(), SaveMode::Decoded).await.unwrap();
    assert_eq!(
        saved.path,
        dir.path().join(server_name.trim_end_matches(".gz"))
    );
    let text = std::fs::read_to_string(&saved.path).unwrap();
    let want = sb.expected_cluster_log_lines(
        DEMO_PROJECT_ID,
        DEMO_HOST,
        LogName::MongodbAuditLog,
        window(),
    );
    assert_eq!(text.lines().collect::<Vec<_>>(), want);

    // An explicit file path is used as given.
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap();
    let target = dir.path().join("mine.gz");
    assert_eq!(d.save(&target, SaveMode::Raw).await.unwrap().path, target);
}

#[tokio::test]
async fn truncated_gzip_fails_and_leaves_no_file() {
    let (sb, client) = setup().await;
    for mode in [SaveMode::Raw, SaveMode::Decoded] {
        let dir = tempfile::tempdir().unwrap();
        sb.faults()
            .inject(FaultTarget::Download, Fault::Truncate { keep: 20_000 }, 1);
        let d = client
            .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
            .await
            .unwrap();
        assert_eq!(d.meta().content_length, Some(20_000));
        let err = d.save(dir.path(), mode).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{mode:?}: {err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{mode:?}: nothing left behind"
        );
    }
    sb.faults()
        .inject(FaultTarget::Download, Fault::Truncate { keep: 20_000 }, 1);
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap();
    assert_eq!(all_lines(d).await.unwrap_err().kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn reset_mid_download_fails_and_leaves_no_file() {
    let (sb, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    sb.faults().inject(
        FaultTarget::Download,
        Fault::ResetAfter { after: 10_000 },
        1,
    );
    let d = client
        .download_stream_audit_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            window(),
            StreamLogOptions::default(),
        )
        .await
        .unwrap();
    let err = d.save(dir.path(), SaveMode::Raw).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // The cut came after the response head: the request was not repeated.
    let path = format!("/api/atlas/v2/groups/{DEMO_PROJECT_ID}/streams/{DEMO_WORKSPACE}/auditLogs");
    let statuses: Vec<u16> = sb
        .requests()
        .entries()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [401, 200]);
}

#[tokio::test]
async fn progress_reports_every_byte() {
    let (_sb, client) = setup().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap()
        .on_progress(move |p| s.lock().unwrap().push(p.bytes));
    let expected = d.meta().content_length.unwrap();
    let mut raw = d.into_raw_stream();
    let mut n = 0u64;
    while let Some(chunk) = raw.next().await {
        n += chunk.unwrap().len() as u64;
    }
    let seen = seen.lock().unwrap();
    assert_eq!(n, expected);
    assert_eq!(seen.last().copied(), Some(expected));
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "cumulative and increasing"
    );
}

#[tokio::test]
async fn events_are_paged_as_a_stream() {
    let (sb, client) = setup().await;
    let events: Vec<_> = client
        .project_events(DEMO_PROJECT_ID, EventQuery::default())
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let pages = sb
        .requests()
        .count_path(&format!("/api/atlas/v2/groups/{DEMO_PROJECT_ID}/events"));
    // 100 per page; the first request was also Digest-challenged once.
    assert_eq!(pages, events.len().div_ceil(100) + 1);
    assert!(events.len() > 200);
    let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "no event twice");
    assert!(
        events.windows(2).all(|w| w[0].created >= w[1].created),
        "newest first"
    );
    assert!(events
        .iter()
        .all(|e| e.group_id.as_deref() == Some(DEMO_PROJECT_ID)));
    // Fields outside the named ones survive.
    assert!(events.iter().any(|e| e.extra.contains_key("clusterName")));

    let some_type = events[0].event_type_name.clone();
    let filtered: Vec<_> = client
        .project_events(
            DEMO_PROJECT_ID,
            EventQuery::default()
                .event_type(some_type.clone())
                .items_per_page(7),
        )
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let want = events
        .iter()
        .filter(|e| e.event_type_name == some_type)
        .count();
    assert_eq!(filtered.len(), want);
    assert!(filtered.iter().all(|e| e.event_type_name == some_type));

    let since = events[50].created.unwrap();
    let recent: Vec<_> = client
        .project_events(DEMO_PROJECT_ID, EventQuery::default().since(since))
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(recent.len(), 51);

    let org: Vec<_> = client
        .org_events(DEMO_ORG_ID, EventQuery::default().items_per_page(500))
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        !org.is_empty()
            && org
                .iter()
                .all(|e| e.org_id.as_deref() == Some(DEMO_ORG_ID) && e.group_id.is_none())
    );
}

#[tokio::test]
async fn processes_and_workspaces() {
    let (_sb, client) = setup().await;
    let procs: Vec<_> = client
        .processes(DEMO_PROJECT_ID)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(procs[0].hostname, DEMO_HOST);
    assert_eq!(procs[0].type_name.as_deref(), Some("REPLICA_PRIMARY"));
    assert_eq!(procs[0].port, Some(27017));
    let ws: Vec<String> = client
        .stream_workspaces(DEMO_PROJECT_ID)
        .unwrap()
        .map_ok(|w| w.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ws, [DEMO_WORKSPACE, DEMO_WORKSPACE_2]);
    let one = client
        .stream_workspace(DEMO_PROJECT_ID, DEMO_WORKSPACE)
        .await
        .unwrap();
    assert_eq!(one.group_id.as_deref(), Some(DEMO_PROJECT_ID));
    assert!(one.extra.contains_key("dataProcessRegion"));
}

#[tokio::test]
async fn concurrent_downloads_share_one_client() {
    let (sb, client) = setup().await;
    let hosts = logexport::sandbox::atlas::DEMO_HOSTS;
    let got = futures::future::join_all(hosts.iter().map(|h| {
        let c = client.clone();
        async move {
            all_lines(
                c.download_cluster_log(DEMO_PROJECT_ID, h, LogName::Mongodb, window())
                    .await?,
            )
            .await
        }
    }))
    .await;
    for (h, lines) in hosts.iter().zip(got) {
        assert_eq!(
            lines.unwrap(),
            sb.expected_cluster_log_lines(DEMO_PROJECT_ID, h, LogName::Mongodb, window())
        );
    }
}

/// Streams about 1 GiB of uncompressed log through the client and reports
/// the peak resident set size. Run with:
/// `cargo test --release --no-default-features --features atlas,sandbox --test atlas_downloads -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn large_download_streams_in_bounded_memory() {
    fn vm_hwm_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    // 100 lines a second for 10 hours: about 3.6 million lines.
    let sb = AtlasSandbox::builder()
        .lines_per_hour(360_000)
        .start()
        .await
        .unwrap();
    let client = sb.client_builder().build().unwrap();
    let range = TimeRange::from_unix_secs(1_772_323_200, 1_772_323_200 + 10 * 3600).unwrap();
    let before = vm_hwm_kib();
    let started = std::time::Instant::now();
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::MongodbAuditLog, range)
        .await
        .unwrap();
    let announced = d.meta().uncompressed_length.unwrap();
    assert!(announced >= 1 << 30, "announced {announced} bytes");
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let r = received.clone();
    let d = d.on_progress(move |p| r.store(p.bytes, std::sync::atomic::Ordering::Relaxed));
    let mut lines = d.lines();
    let (mut count, mut bytes) = (0u64, 0u64);
    while let Some(line) = lines.try_next().await.unwrap() {
        count += 1;
        bytes += line.len() as u64 + 1;
    }
    let after = vm_hwm_kib();
    println!(
        "large download: {count} lines, {bytes} bytes uncompressed ({:.2} GiB), {} bytes gzip, {:.1} s; \
         VmHWM before {before} KiB, after {after} KiB",
        bytes as f64 / f64::from(1u32 << 30),
        received.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(bytes, announced);
    assert!(after < 256 * 1024, "peak RSS {after} KiB is not bounded");
}

/// The connection breaks mid-body, then the gzip is cut short: read through
/// `into_reader`, the first fails in the body stream, the second in the
/// decoder, and both errors name Atlas and the operation, as `lines()` does.
#[tokio::test]
async fn reader_errors_name_atlas_and_the_operation() {
    use tokio::io::AsyncReadExt as _;
    let (sb, client) = setup().await;
    let faults = [
        (Fault::ResetAfter { after: 10_000 }, ErrorKind::Network),
        (Fault::Truncate { keep: 20_000 }, ErrorKind::Decode),
    ];
    for (fault, kind) in faults {
        sb.faults().inject(FaultTarget::Download, fault, 1);
        let d = client
            .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
            .await
            .unwrap();
        let mut reader = d.into_reader().await.unwrap();
        let io = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        let err = logexport::Error::from(io);
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.vendor(), Some(logexport::Vendor::Atlas), "{err}");
        assert_eq!(err.operation(), Some("download_cluster_log"), "{err}");
        // Each cause is said once, however many layers carried it.
        let text = err.to_string();
        assert_eq!(
            text.matches("the connection failed while receiving the body")
                .count(),
            usize::from(kind == ErrorKind::Network),
            "{text}"
        );
    }
}
