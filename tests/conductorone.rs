#![cfg(all(feature = "conductorone", feature = "sandbox"))]
//! The C1 client against the C1 sandbox on loopback.

mod common;

use chrono::Duration as ChronoDuration;
use futures::{StreamExt as _, TryStreamExt as _};
use logexport::conductorone::{
    event_uid, Client, ClientSecret, Datasource, ExportFormat, ExportState, ExporterUpdate,
    NewExporter, SortDirection,
};
use logexport::sandbox::conductorone::{ConductorOneSandbox, EVENTS_PATH, TOKEN_PATH};
use logexport::sandbox::prelude::*;
use logexport::sandbox::{Fault, LoggedRequest};
use logexport::{ErrorKind, RetryPolicy};
use serde_json::Value;
use std::time::{Duration, Instant};

const EXPORTS_PATH: &str = "/api/v1/systemlog/exports";

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(200))
}

async fn sandbox() -> ConductorOneSandbox {
    ConductorOneSandbox::start().await.expect("sandbox starts")
}

fn client(sb: &ConductorOneSandbox) -> Client {
    sb.client_builder()
        .retry_policy(quick_retries())
        .build()
        .expect("client builds")
}

fn statuses(log: &[LoggedRequest], path: &str) -> Vec<u16> {
    log.iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect()
}

async fn all_events(q: logexport::conductorone::EventQuery) -> Vec<Value> {
    q.stream().unwrap().try_collect().await.unwrap()
}

#[tokio::test]
async fn token_flow_end_to_end() {
    let sb = sandbox().await;
    let c = client(&sb);
    assert!(sb.requests().is_empty(), "building a client sends nothing");
    let exporters: Vec<_> = c
        .list_exporters()
        .stream()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(exporters.len(), 1);
    assert_eq!(exporters[0].display_name, "Demo SIEM export");
    let log = sb.requests().entries();
    assert_eq!(
        log.iter()
            .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
            .collect::<Vec<_>>(),
        [("POST", TOKEN_PATH, 200), ("GET", EXPORTS_PATH, 200)]
    );
    // The cached token serves the next calls.
    c.get_exporter(&exporters[0].export_id).await.unwrap();
    c.clone().list_exporters().page(None).await.unwrap();
    assert_eq!(sb.requests().count_path(TOKEN_PATH), 1);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_without_retry_or_leak() {
    let sb = sandbox().await;
    let wrong = ClientSecret::generate().to_secret_string();
    let c = Client::builder()
        .endpoint(sb.endpoint())
        .client_credentials(sb.client_id(), wrong.clone())
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let err = c.list_exporters().page(None).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::Auth, Some(401), Some("16"))
    );
    assert!(err.message().contains("signature"), "{err}");
    assert_eq!(
        sb.requests().entries().len(),
        1,
        "rejected credentials are not retried"
    );
    let shown = format!("{err} {err:?} {c:?}");
    assert!(!shown.contains(&wrong.expose()[40..]));
    assert!(!shown.contains("eyJ"), "no assertion in errors: {shown}");

    // A registered second client works with its own key.
    let key = ClientSecret::generate();
    sb.register_client("ci@sandbox.conductor.one/ci", key.public_key());
    let c = Client::builder()
        .endpoint(sb.endpoint())
        .client_credentials("ci@sandbox.conductor.one/ci", key.to_secret_string())
        .build()
        .unwrap();
    c.list_exporters().page(None).await.unwrap();
}

#[tokio::test]
async fn sandbox_clock_skew_is_an_auth_error() {
    let sb = sandbox().await;
    sb.clock().advance(Duration::from_secs(600));
    let err = client(&sb).list_exporters().page(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.message().contains("expired"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_request_under_50_concurrent_calls() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = sb.exporter_ids().remove(0);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let c = c.clone();
            let id = id.clone();
            tokio::spawn(async move { c.get_exporter(&id).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sb.requests().count_path(TOKEN_PATH), 1);
    assert_eq!(
        sb.requests().count_path(&format!("{EXPORTS_PATH}/{id}")),
        50
    );
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    // 2 s tokens: the client replaces them halfway (too short for the 10 s margin).
    let sb = ConductorOneSandbox::builder()
        .token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let c = client(&sb);
    c.list_exporters().page(None).await.unwrap();
    c.list_exporters().page(None).await.unwrap();
    assert_eq!(sb.requests().count_path(TOKEN_PATH), 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    c.list_exporters().page(None).await.unwrap();
    assert_eq!(sb.requests().count_path(TOKEN_PATH), 2);
    assert!(
        sb.requests().entries().iter().all(|r| r.status == 200),
        "refreshed before any 401"
    );
}

#[tokio::test]
async fn a_revoked_token_gets_401_then_refresh_then_success() {
    let sb = sandbox().await;
    let c = client(&sb);
    c.list_exporters().page(None).await.unwrap();
    sb.revoke_tokens();
    sb.requests().clear();
    let page = c.list_exporters().page(None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let log: Vec<_> = sb
        .requests()
        .entries()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        log,
        [
            (EXPORTS_PATH.to_string(), 401),
            (TOKEN_PATH.to_string(), 200),
            (EXPORTS_PATH.to_string(), 200)
        ]
    );
}

#[tokio::test]
async fn access_tokens_work_but_cannot_be_refreshed() {
    let sb = sandbox().await;
    let c = Client::builder()
        .endpoint(sb.endpoint())
        .access_token(sb.issue_access_token())
        .build()
        .unwrap();
    c.list_exporters().page(None).await.unwrap();
    sb.revoke_tokens();
    let err = c.list_exporters().page(None).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Auth, Some(401)));
    assert_eq!(sb.requests().count_path(TOKEN_PATH), 0);
}

#[tokio::test]
async fn exporter_crud_round_trip_with_update_mask() {
    let sb = ConductorOneSandbox::builder()
        .waiting_period(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let c = client(&sb);
    let ds = Datasource::new("ds-1")
        .with_prefix("c1/")
        .with_format(ExportFormat::OcsfJsonZstd);
    let created = c
        .create_exporter(NewExporter::new("SIEM feed").datasource(ds.clone()))
        .await
        .unwrap();
    assert_eq!(created.display_name, "SIEM feed");
    assert_eq!(created.datasource.as_ref(), Some(&ds));
    assert_eq!(created.state, ExportState::Waiting);
    assert!(created.created_at.is_some() && created.deleted_at.is_none());

    let got = c.get_exporter(&created.export_id).await.unwrap();
    assert_eq!(got, created);

    // Only the masked field changes.
    let renamed = c
        .update_exporter(
            &created.export_id,
            ExporterUpdate::new().display_name("SIEM (prod)"),
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "SIEM (prod)");
    assert_eq!(renamed.datasource.as_ref(), Some(&ds));
    let moved = c
        .update_exporter(&created.export_id, ExporterUpdate::new().prefix("audit/"))
        .await
        .unwrap();
    assert_eq!(moved.display_name, "SIEM (prod)");
    let ds2 = moved.datasource.clone().unwrap();
    assert_eq!(
        (ds2.datasource_id.as_str(), ds2.prefix.as_str(), &ds2.format),
        ("ds-1", "audit/", &ExportFormat::OcsfJsonZstd)
    );
    assert_eq!(c.get_exporter(&created.export_id).await.unwrap(), moved);

    // Listed and searchable.
    let all: Vec<_> = c
        .list_exporters()
        .stream()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(all.iter().any(|e| e.export_id == created.export_id));
    let found: Vec<_> = c
        .search_exporters()
        .display_name("siem (PROD)")
        .stream()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|e| e.export_id.as_str())
            .collect::<Vec<_>>(),
        [created.export_id.as_str()]
    );
    let by_ref = c
        .search_exporters()
        .export_ids([created.export_id.clone()])
        .page(None)
        .await
        .unwrap();
    assert_eq!(by_ref.items.len(), 1);
    let by_query = c.search_exporters().query("ds-1").page(None).await.unwrap();
    assert_eq!(by_query.items.len(), 1);

    // Delete is soft: the record keeps deletedAt, the API answers 404.
    c.delete_exporter(&created.export_id).await.unwrap();
    let err = c.get_exporter(&created.export_id).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::NotFound, Some(404), Some("5"))
    );
    assert!(err.request_id().is_some());
    assert!(sb.exporter_json(&created.export_id).unwrap()["deletedAt"].is_string());
    let all: Vec<_> = c
        .list_exporters()
        .stream()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(all.iter().all(|e| e.export_id != created.export_id));
    assert_eq!(
        c.delete_exporter(&created.export_id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn exporter_listing_follows_page_tokens() {
    let sb = ConductorOneSandbox::builder()
        .seed_exporter(false)
        .start()
        .await
        .unwrap();
    let c = client(&sb);
    for i in 0..25 {
        c.create_exporter(NewExporter::new(format!("feed {i:02}")))
            .await
            .unwrap();
    }
    sb.requests().clear();
    let names: Vec<String> = c
        .list_exporters()
        .page_size(10)
        .stream()
        .unwrap()
        .map_ok(|e| e.display_name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        names,
        (0..25).map(|i| format!("feed {i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(
        statuses(&sb.requests().entries(), EXPORTS_PATH),
        [200, 200, 200]
    );
}

#[tokio::test]
async fn unknown_enum_values_decode() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = sb.exporter_ids().remove(0);
    assert!(sb.set_exporter_state(&id, "EXPORT_STATE_PAUSED"));
    assert!(sb.set_exporter_format(&id, "EXPORT_FORMAT_PARQUET"));
    let e = c.get_exporter(&id).await.unwrap();
    assert_eq!(e.state, ExportState::Unknown("EXPORT_STATE_PAUSED".into()));
    assert_eq!(e.state.to_string(), "EXPORT_STATE_PAUSED");
    assert_eq!(
        e.datasource.unwrap().format,
        ExportFormat::Unknown("EXPORT_FORMAT_PARQUET".into())
    );
    let listed = c.list_exporters().page(None).await.unwrap();
    assert!(listed.items[0].state.is_unknown());
}

#[tokio::test]
async fn events_page_without_gap_or_duplicate() {
    let sb = ConductorOneSandbox::builder()
        .event_count(73)
        .start()
        .await
        .unwrap();
    let c = client(&sb);
    let got = all_events(c.events().page_size(10)).await;
    assert_eq!(got, sb.events(), "every event once, in order");
    assert_eq!(
        statuses(&sb.requests().entries(), EVENTS_PATH),
        vec![200; 8]
    );
    // And newest first.
    let mut desc = all_events(c.events().page_size(25).sort(SortDirection::Desc)).await;
    desc.reverse();
    assert_eq!(desc, sb.events());
}

#[tokio::test]
async fn events_prefetch_at_most_one_page_ahead() {
    let sb = ConductorOneSandbox::builder()
        .event_count(60)
        .start()
        .await
        .unwrap();
    let c = client(&sb);
    let mut stream = c.events().page_size(10).stream().unwrap();
    let fetched = || sb.requests().count_path(EVENTS_PATH);
    let mut seen = Vec::new();
    for n in 1..=60usize {
        seen.push(stream.next().await.unwrap().unwrap());
        let page = (n - 1) / 10 + 1;
        if n % 10 == 1 || n % 10 == 0 {
            // The next page is fetched while this one is consumed…
            let want = (page + 1).min(6);
            let deadline = Instant::now() + Duration::from_secs(5);
            while fetched() < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // …and, given every chance to run further ahead, no more.
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert_eq!(fetched(), want, "after event {n} (page {page})");
        }
    }
    assert!(stream.next().await.is_none());
    assert_eq!(fetched(), 6);
    assert_eq!(seen, sb.events());
    assert_eq!(stream.pages(), 6);
}

#[tokio::test]
async fn resume_from_since_event_uid_gives_exactly_the_rest() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut first = c.events().page_size(20).stream().unwrap();
    let mut stored = Vec::new();
    for _ in 0..137 {
        stored.push(first.next().await.unwrap().unwrap());
    }
    let checkpoint = first.last_event_uid().unwrap().to_string();
    assert_eq!(Some(checkpoint.as_str()), event_uid(stored.last().unwrap()));
    drop(first);

    let rest = all_events(c.events().page_size(50).since_event_uid(checkpoint)).await;
    stored.extend(rest);
    assert_eq!(stored, sb.events());
}

#[tokio::test]
async fn since_and_until_select_a_time_window() {
    let sb = sandbox().await;
    let c = client(&sb);
    let since = sb.event_base() - ChronoDuration::hours(30);
    let until = sb.event_base() - ChronoDuration::hours(6);
    let got = all_events(c.events().since(since).until(until)).await;
    let want: Vec<Value> = sb
        .events()
        .iter()
        .filter(|e| {
            let t = logexport::conductorone::event_time(e).unwrap();
            t >= since && t < until
        })
        .cloned()
        .collect();
    assert!(want.len() > 50, "{}", want.len());
    assert_eq!(got, want);
}

#[tokio::test]
async fn exporter_events_start_after_the_watermark() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = sb.exporter_ids().remove(0);
    let watermark = c.get_exporter(&id).await.unwrap().watermark_event_id;
    let got = all_events(c.exporter_events(&id).page_size(25)).await;
    let want: Vec<Value> = sb
        .events()
        .iter()
        .filter(|e| event_uid(e).unwrap() > watermark.as_str())
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let uid = event_uid(&sb.events()[10]).unwrap().to_string();
    sb.set_watermark(&id, &uid);
    assert_eq!(all_events(c.exporter_events(&id)).await, sb.events()[11..]);
    let err = c
        .exporter_events("nope")
        .stream()
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_cut_event_page_is_fetched_again() {
    let sb = ConductorOneSandbox::builder()
        .event_count(40)
        .start()
        .await
        .unwrap();
    let c = client(&sb);
    sb.faults().inject(
        "list_system_log_events",
        Fault::ResetAfter { after: 200 },
        1,
    );
    let got = all_events(c.events().page_size(10)).await;
    assert_eq!(got, sb.events());
    assert_eq!(sb.requests().count_path(EVENTS_PATH), 5);
}

#[tokio::test]
async fn retries_429_and_503_honouring_retry_after() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = sb.exporter_ids().remove(0);
    sb.faults().inject(
        "list_exporters",
        Fault::Error {
            status: 429,
            code: "8".into(),
            retry_after: Some(1),
        },
        1,
    );
    sb.faults().inject(
        "get_exporter",
        Fault::Error {
            status: 503,
            code: "unavailable".into(),
            retry_after: Some(1),
        },
        1,
    );
    let start = Instant::now();
    c.list_exporters().page(None).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
    let start = Instant::now();
    c.get_exporter(&id).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
    let log = sb.requests().entries();
    assert_eq!(statuses(&log, EXPORTS_PATH), [429, 200]);
    assert_eq!(statuses(&log, &format!("{EXPORTS_PATH}/{id}")), [503, 200]);

    // When retries run out, the last answer is reported with its code.
    sb.faults().inject(
        "list_exporters",
        Fault::Error {
            status: 429,
            code: "resource_exhausted".into(),
            retry_after: None,
        },
        4,
    );
    let err = c.list_exporters().page(None).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.message()),
        (
            ErrorKind::RateLimited,
            Some("resource_exhausted"),
            "injected fault: resource_exhausted"
        )
    );
}

#[tokio::test]
async fn a_failing_token_endpoint_is_retried() {
    let sb = sandbox().await;
    sb.faults().inject(
        "token",
        Fault::Error {
            status: 503,
            code: "14".into(),
            retry_after: Some(0),
        },
        1,
    );
    // Nothing was sent to the API yet, so even a create may go ahead.
    client(&sb)
        .create_exporter(NewExporter::new("after token retry"))
        .await
        .unwrap();
    assert_eq!(statuses(&sb.requests().entries(), TOKEN_PATH), [503, 200]);
    assert_eq!(statuses(&sb.requests().entries(), EXPORTS_PATH), [200]);
}

#[tokio::test]
async fn create_is_not_retried_after_it_may_have_been_applied() {
    let sb = sandbox().await;
    let c = client(&sb);
    c.list_exporters().page(None).await.unwrap();
    let before = sb.exporter_count();
    sb.faults().inject(
        "create_exporter",
        Fault::Error {
            status: 503,
            code: "14".into(),
            retry_after: Some(0),
        },
        1,
    );
    let err = c
        .create_exporter(NewExporter::new("once"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::Api, Some(503), Some("14"))
    );
    assert_eq!(statuses(&sb.requests().entries(), EXPORTS_PATH), [200, 503]);
    // The sandbox applied it before failing: exactly one new exporter.
    assert_eq!(sb.exporter_count(), before + 1);

    // A 429 is a refusal, so the create is sent again.
    sb.faults().inject(
        "create_exporter",
        Fault::Error {
            status: 429,
            code: "8".into(),
            retry_after: Some(0),
        },
        1,
    );
    c.create_exporter(NewExporter::new("twice")).await.unwrap();
    assert_eq!(sb.exporter_count(), before + 2);
}

#[tokio::test]
async fn create_is_retried_after_connect_errors() {
    let first = sandbox().await;
    let port = first
        .endpoint()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let c = first
        .client_builder()
        .http_client(http)
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(20)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    c.list_exporters().page(None).await.unwrap();
    drop(first);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let restart = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        ConductorOneSandbox::builder()
            .port(port)
            .start()
            .await
            .unwrap()
    });
    let created = c
        .create_exporter(NewExporter::new("after outage"))
        .await
        .unwrap();
    let second = restart.await.unwrap();
    // Connection refusals were retried. The restarted server did not know
    // the old token (401: not applied), so one refresh, then one create.
    let creates: Vec<u16> = second
        .requests()
        .entries()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == EXPORTS_PATH)
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [401, 200]);
    assert_eq!(second.requests().count_path(TOKEN_PATH), 1);
    assert_eq!(
        second.exporter_ids(),
        [second.exporter_ids()[0].clone(), created.export_id]
    );
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_request() {
    let sb = sandbox().await;
    let c = client(&sb);
    let now = chrono::Utc::now();
    let errors = vec![
        c.list_exporters()
            .page_size(5)
            .page(None)
            .await
            .unwrap_err(),
        c.list_exporters().page_size(101).stream().err().unwrap(),
        c.search_exporters()
            .export_ids([""])
            .page(None)
            .await
            .unwrap_err(),
        c.get_exporter("").await.unwrap_err(),
        c.get_exporter("  ").await.unwrap_err(),
        c.delete_exporter("").await.unwrap_err(),
        c.update_exporter("x", ExporterUpdate::new())
            .await
            .unwrap_err(),
        c.update_exporter("", ExporterUpdate::new().display_name("n"))
            .await
            .unwrap_err(),
        c.update_exporter("x", ExporterUpdate::new().display_name(" "))
            .await
            .unwrap_err(),
        c.create_exporter(NewExporter::new("")).await.unwrap_err(),
        c.create_exporter(NewExporter::new("n").datasource(Datasource::new("")))
            .await
            .unwrap_err(),
        c.events().page_size(9).stream().err().unwrap(),
        c.events()
            .since(now)
            .until(now - ChronoDuration::seconds(1))
            .stream()
            .err()
            .unwrap(),
        c.events().since_event_uid("").page(None).await.unwrap_err(),
        c.exporter_events("").stream().err().unwrap(),
        c.exporter_events("x").since(now).stream().err().unwrap(),
        // `..` would resolve the exporter-events URL to the system log's.
        c.exporter_events("..").stream().err().unwrap(),
        c.get_exporter(".").await.unwrap_err(),
        c.create_exporter(
            NewExporter::new("n")
                .datasource(Datasource::new("ds").with_format(ExportFormat::from("parquet"))),
        )
        .await
        .unwrap_err(),
    ];
    for e in &errors {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(sb.requests().len(), 0, "nothing reached the sandbox");
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors() {
    let sb = sandbox().await;
    let secret = sb.client_secret();
    let jwk_part = &secret.expose()[logexport::conductorone::SECRET_PREFIX.len()..];
    let builder = sb.client_builder();
    let c = client(&sb);
    c.list_exporters().page(None).await.unwrap();
    let token = sb.issue_access_token();
    let tc = Client::builder()
        .endpoint(sb.endpoint())
        .access_token(token.clone())
        .build()
        .unwrap();
    let shown = format!(
        "{builder:?} {c:?} {:?} {sb:?} {tc:?} {:?}",
        c.generated(),
        tc.generated()
    );
    assert!(!shown.contains(jwk_part), "{shown}");
    assert!(!shown.contains(token.expose()), "{shown}");

    // Malformed secrets: the error says what is wrong and never repeats it.
    let truncated = &secret.expose()[..secret.expose().len() - 10];
    let err = Client::builder()
        .client_credentials(sb.client_id(), truncated)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials);
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("client secret"), "{msg}");
    assert!(!msg.contains(&truncated[truncated.len() - 30..]), "{msg}");
}

/// Signs `claims` under `header` with `key`, as a compact JWS.
fn jws(header: &Value, claims: &Value, key: &ed25519_dalek::SigningKey) -> String {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64.encode(sig.to_bytes()))
}

#[tokio::test]
async fn the_sandbox_checks_every_part_of_the_assertion() {
    let sb = sandbox().await;
    let id = "claims@sandbox.conductor.one/test";
    let seed = [42u8; 32];
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    sb.register_client(id, ClientSecret::from_seed(seed).public_key());
    let other = ed25519_dalek::SigningKey::from_bytes(&[43u8; 32]);
    let http = reqwest::Client::new();
    let url = format!("{}{TOKEN_PATH}", sb.endpoint());
    let now = sb.clock().unix_secs();
    let nonce = |i: u32| format!("{i:032x}");
    let header = |n: String| serde_json::json!({"alg": "EdDSA", "typ": "JWT", "nonce": n});
    let claims = || {
        serde_json::json!({"iss": id, "sub": id, "aud": ["127.0.0.1"],
            "iat": now, "nbf": now - 120, "exp": now + 120})
    };
    let exchange = |assertion: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ];
            let r = http.post(&url).form(&form).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body)
        }
    };

    // The well-formed assertion passes, and issues a token that works.
    let good = jws(&header(nonce(1)), &claims(), &key);
    let (status, body) = exchange(good.clone()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    Client::builder()
        .endpoint(sb.endpoint())
        .access_token(token)
        .build()
        .unwrap()
        .list_exporters()
        .page(None)
        .await
        .unwrap();

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        c
    };
    let mut tampered: Vec<String> = good.split('.').map(str::to_string).collect();
    tampered[1] = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(with(&|c| c["exp"] = (now + 3600).into()).to_string())
    };
    let cases: Vec<(&str, String)> = vec![
        ("replayed nonce", jws(&header(nonce(1)), &claims(), &key)),
        (
            "signed by another key",
            jws(&header(nonce(2)), &claims(), &other),
        ),
        ("claims changed after signing", tampered.join(".")),
        (
            "alg other than EdDSA",
            jws(
                &serde_json::json!({"alg": "HS256", "nonce": nonce(3)}),
                &claims(),
                &key,
            ),
        ),
        (
            "no nonce",
            jws(&serde_json::json!({"alg": "EdDSA"}), &claims(), &key),
        ),
        ("short nonce", jws(&header("abcd".into()), &claims(), &key)),
        (
            "wrong audience",
            jws(
                &header(nonce(4)),
                &with(&|c| c["aud"] = serde_json::json!(["acme.conductor.one"])),
                &key,
            ),
        ),
        (
            "iss is not the client",
            jws(
                &header(nonce(5)),
                &with(&|c| c["iss"] = "x@sandbox.conductor.one/y".into()),
                &key,
            ),
        ),
        (
            "sub is not the client",
            jws(
                &header(nonce(6)),
                &with(&|c| c["sub"] = "x@sandbox.conductor.one/y".into()),
                &key,
            ),
        ),
        (
            "expired",
            jws(
                &header(nonce(7)),
                &with(&|c| c["exp"] = (now - 5).into()),
                &key,
            ),
        ),
        (
            "exp more than 5 minutes ahead",
            jws(
                &header(nonce(8)),
                &with(&|c| c["exp"] = (now + 400).into()),
                &key,
            ),
        ),
        (
            "nbf in the future",
            jws(
                &header(nonce(9)),
                &with(&|c| c["nbf"] = (now + 60).into()),
                &key,
            ),
        ),
        (
            "no exp",
            jws(
                &header(nonce(10)),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                &key,
            ),
        ),
    ];
    for (what, assertion) in cases {
        let (status, body) = exchange(assertion).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], 16, "{what}: {body}");
    }
    assert_eq!(statuses(&sb.requests().entries(), TOKEN_PATH)[0], 200);
}

#[tokio::test]
async fn redirects_off_https_are_refused() {
    use logexport::sandbox::{RequestLog, Server};
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [("location", "http://203.0.113.7/auth/v1/token")],
        )
    });
    let server = Server::start(app, 0, RequestLog::default()).await.unwrap();
    let c = Client::builder()
        .endpoint(server.url())
        .client_credentials(
            "bot@acme.conductor.one/x",
            ClientSecret::from_seed([1; 32]).to_secret_string(),
        )
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let start = Instant::now();
    let err = c.list_exporters().page(None).await.unwrap_err();
    // Refused at once, not after trying to reach the plain-HTTP host.
    assert!(start.elapsed() < Duration::from_secs(5));
    // No redirect is followed at all; the error names the target origin.
    assert_eq!(err.kind(), ErrorKind::Api);
    let mut chain = format!("{err}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(" / {s}"));
        source = s.source();
    }
    assert!(chain.contains("http://203.0.113.7:80"), "{chain}");
}

#[tokio::test]
async fn the_sandbox_survives_absurd_page_tokens() {
    use base64::Engine as _;
    let sb = sandbox().await;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x:18446744073709551615");
    let r = reqwest::Client::new()
        .get(format!("{}{EXPORTS_PATH}", sb.endpoint()))
        .query(&[("page_size", "10"), ("page_token", token.as_str())])
        .bearer_auth(sb.issue_access_token().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["list"], serde_json::json!([]));
    assert_eq!(body["nextPageToken"], "");
}

#[tokio::test]
async fn secrets_stay_out_of_tracing() {
    let capture = common::capture::global();
    let sb = sandbox().await;
    let c = client(&sb);
    // Token exchange, a 401 and its refresh, a retry, an event stream, an error.
    c.list_exporters().page(None).await.unwrap();
    sb.revoke_tokens();
    sb.faults().inject(
        "list_system_log_events",
        Fault::Error {
            status: 503,
            code: "14".into(),
            retry_after: Some(0),
        },
        1,
    );
    let events = all_events(c.events().page_size(100)).await;
    assert_eq!(events.len(), sb.events().len());
    c.get_exporter("missing").await.unwrap_err();

    let text = capture.text();
    // The capture saw the calls, so its silence about secrets means something.
    for expected in [
        "operation=\"list_system_log_events\"",
        "access token rejected",
        "retrying",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    let secret = sb.client_secret();
    let jwk_part = &secret.expose()[logexport::conductorone::SECRET_PREFIX.len()..];
    for leak in [jwk_part, "c1sbx_", "eyJ", "Bearer"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}
