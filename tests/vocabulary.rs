#![cfg(all(
    feature = "sandbox",
    feature = "atlas",
    feature = "tencent-cls",
    feature = "conductorone"
))]
//! One public vocabulary across the vendors: the same builder setters with
//! the same argument types, one `TimeRange`, listings of one shape, one
//! download progress type.

use futures::stream::BoxStream;
use futures::TryStreamExt;
use logexport::download::{Progress, SaveMode};
use logexport::sandbox::atlas::{AtlasSandbox, DEMO_PROJECT_ID};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::prelude::*;
use logexport::sandbox::tencent_cls::{TencentClsSandbox, DEMO_TOPIC_ID};
use logexport::tencent_cls::{ExportOptions, TopicFilter};
use logexport::{ErrorKind, RateLimiter, RetryPolicy, Throughput, TimeRange};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Applies every shared setter, with the same argument types, to a builder.
macro_rules! every_setter {
    ($builder:expr, $endpoint:expr) => {
        $builder
            .endpoint($endpoint)
            .http_client(reqwest::Client::new())
            .retry_policy(RetryPolicy::default())
            .rate_limit(RateLimiter::new(100, Duration::from_secs(1)))
            .timeout(Duration::from_secs(30))
            .operation_timeout(Duration::from_secs(60))
            .min_throughput(Throughput::default())
    };
}

/// Every listing has this shape: bad input fails before the stream exists.
fn listing<T>(
    l: logexport::Result<BoxStream<'static, logexport::Result<T>>>,
) -> BoxStream<'static, logexport::Result<T>> {
    l.expect("a valid listing")
}

#[tokio::test]
async fn every_builder_takes_the_same_setters_and_listings_have_one_shape() {
    let atlas = AtlasSandbox::start().await.unwrap();
    let cls = TencentClsSandbox::start().await.unwrap();
    let c1 = ConductorOneSandbox::start().await.unwrap();

    let a = every_setter!(atlas.client_builder(), atlas.endpoint())
        .build()
        .unwrap();
    let t = every_setter!(cls.client_builder(), cls.endpoint())
        .build()
        .unwrap();
    let c = every_setter!(c1.client_builder(), c1.endpoint())
        .build()
        .unwrap();

    let hosts: Vec<_> = listing(a.processes(DEMO_PROJECT_ID))
        .try_collect()
        .await
        .unwrap();
    let topics: Vec<_> = listing(t.list_topics(TopicFilter::default()))
        .try_collect()
        .await
        .unwrap();
    let exporters: Vec<_> = listing(c.list_exporters().stream())
        .try_collect()
        .await
        .unwrap();
    assert!(!hosts.is_empty() && !topics.is_empty() && !exporters.is_empty());

    // Bad input is an error of the call, before any request.
    let before = cls.requests().len();
    let err = t.list_exports(" ").err().expect("a bad topic id");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let mut search = logexport::tencent_cls::SearchParams::new(
        DEMO_TOPIC_ID,
        "*",
        TimeRange::from_millis(2_000, 1_000),
    );
    search.limit = 10;
    let err = t.search_logs(search).err().expect("an empty window");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(cls.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn one_time_range_serves_every_vendor() {
    let range: TimeRange = TimeRange::from_millis(1_772_323_200_000, 1_772_326_800_000);
    // The vendor modules re-export the one type, not a look-alike.
    let atlas: logexport::atlas::TimeRange = range;
    let cls: logexport::tencent_cls::TimeRange = range;
    let c1: logexport::conductorone::TimeRange = range;
    assert_eq!((atlas, cls, c1), (range, range, range));
    assert_eq!(range.start.timestamp(), 1_772_323_200);
    assert_eq!(range.end_ms(), 1_772_326_800_000);
    assert_eq!(
        TimeRange::from_unix_secs(1_772_323_200, 1_772_326_800).unwrap(),
        range
    );
    // Extremes are held at the representable edge, for the call to reject.
    let r = TimeRange::from_millis(-5, 1_234);
    assert_eq!((r.start_ms(), r.end_ms()), (-5, 1_234));
    let r = TimeRange::from_millis(i64::MIN, i64::MAX);
    assert_eq!(
        (r.start, r.end),
        (
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        )
    );
    assert_eq!(
        TimeRange::last(Duration::MAX).start,
        chrono::DateTime::<chrono::Utc>::MIN_UTC
    );
}

#[tokio::test]
async fn conductorone_requests_are_paced_by_the_rate_limit() {
    let sb = ConductorOneSandbox::start().await.unwrap();
    let per = Duration::from_millis(400);
    let client = sb
        .client_builder()
        .rate_limit(RateLimiter::new(1, per))
        .build()
        .unwrap();
    // Warm up (the token exchange is not paced), then three paced pages.
    client.list_exporters().page(None).await.unwrap();
    let start = Instant::now();
    for _ in 0..3 {
        client.list_exporters().page(None).await.unwrap();
    }
    // One slot: each request waits until `per` after the previous answer.
    assert!(start.elapsed() >= per * 3, "{:?}", start.elapsed());
}

#[tokio::test]
async fn cls_downloads_report_progress_in_the_shared_type() {
    let sb = TencentClsSandbox::builder()
        .lifecycle(Duration::from_millis(50), Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let client = sb.client_builder().build().unwrap();
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    let dir = tempfile::tempdir().unwrap();
    let options = ExportOptions::default()
        .count(500)
        .poll_interval(Duration::from_millis(25), Duration::from_millis(100));
    let summary = client
        .export_logs(
            DEMO_TOPIC_ID,
            "*",
            TimeRange::from_millis(1_772_323_200_000, 1_772_323_800_000),
            options,
        )
        .on_progress(move |p| sink.lock().unwrap().push(p))
        .save(dir.path(), SaveMode::Raw)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "progress was reported");
    assert!(seen.windows(2).all(|w| w[0].bytes <= w[1].bytes));
    let last = seen.last().unwrap();
    assert_eq!(last.bytes, summary.bytes, "the whole file, counted once");
}
