#![cfg(all(feature = "tencent-cls", feature = "sandbox"))]
//! SearchLog past its limits: the emulator ends a `Context` chain silently
//! at 10,000 logs and expires contexts after an hour, as the service does;
//! `search_logs` must still return every log exactly once.

use futures::{StreamExt, TryStreamExt};
use logexport::sandbox::prelude::*;
use logexport::sandbox::tencent_cls::{expected_search, TencentClsSandbox, DEMO_TOPIC_ID};
use logexport::tencent_cls::{Order, SearchParams, TimeRange, MAX_RESULTS_PER_CONTEXT};
use serde_json::Value;
use std::time::Duration;

/// 2026-03-01 00:00:00 UTC, in ms.
const T0: i64 = 1_772_323_200_000;

/// 25,000 logs: one per 100 ms over 2,500 s.
fn range() -> TimeRange {
    TimeRange::from_millis(T0, T0 + 2_500_000)
}

#[tokio::test]
async fn every_log_exactly_once_past_the_context_cap() {
    let sb = TencentClsSandbox::start().await.unwrap();
    let client = sb.client_builder().no_rate_limit().build().unwrap();
    for order in [Order::Asc, Order::Desc] {
        let want: Vec<Value> = expected_search(DEMO_TOPIC_ID, "*", range(), order).collect();
        assert!(
            want.len() as u64 > 2 * MAX_RESULTS_PER_CONTEXT,
            "the range spans three chains"
        );

        // One chain alone stops at the cap and says the list is over: the
        // silent truncation the listing must see through.
        let mut params = SearchParams::new(DEMO_TOPIC_ID, "*", range());
        params.order = order;
        params.limit = 1000;
        let mut chain = 0;
        loop {
            let page = client.search_log(&params).await.unwrap();
            chain += page.results.len() as u64;
            if page.list_over {
                break;
            }
            params.context = page.context;
        }
        assert_eq!(chain, MAX_RESULTS_PER_CONTEXT, "{order:?}");

        let mut params = SearchParams::new(DEMO_TOPIC_ID, "*", range());
        params.order = order;
        params.limit = 1000;
        let got: Vec<Value> = client
            .search_logs(params)
            .unwrap()
            .map_ok(|e| e.fields)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.len(), want.len(), "{order:?}");
        assert!(got == want, "{order:?}: every log once, in order");
    }
}

#[tokio::test]
async fn an_expired_context_is_continued_not_lost() {
    let sb = TencentClsSandbox::start().await.unwrap();
    let client = sb.client_builder().no_rate_limit().build().unwrap();
    let range = TimeRange::from_millis(T0, T0 + 300_000);
    let want: Vec<Value> = expected_search(DEMO_TOPIC_ID, "*", range, Order::Asc).collect();
    let mut params = SearchParams::new(DEMO_TOPIC_ID, "*", range);
    params.order = Order::Asc;
    params.limit = 500;
    let mut stream = client.search_logs(params).unwrap();
    let mut got = Vec::new();
    for _ in 0..700 {
        got.push(stream.next().await.unwrap().unwrap().fields);
    }
    // The consumer was slow: the context the listing holds is now stale.
    sb.clock().advance(Duration::from_secs(2 * 3600));
    while let Some(entry) = stream.try_next().await.unwrap() {
        got.push(entry.fields);
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want);
}
