//! Benchmark of ConductorOne event throughput.
//!
//! The C1 emulator (`logexport-sandbox`) serves many events on loopback.
//! The serve rate is what a plain `reqwest` loop gets when it only fetches
//! pages (reading each body and its `nextPageToken`, nothing else). Ours is
//! the library's `EventStream` handing out every event, twice: as the JSON
//! text the server sent (`stream_raw`, what the CLI writes) and as a parsed
//! `serde_json::Value` (`stream`). Each prints pages/s and its ratio to the
//! serve rate (the goal is at least 0.9). Rounds are interleaved, so a burst
//! of load on a shared machine hits all three alike; the best of each counts.
//!
//! Run: `cargo bench --bench c1_events` (add `-- --quick` for a short run).

mod support;

use futures::TryStreamExt;
use logexport::sandbox::conductorone::{ConductorOneSandbox, EVENTS_PATH};
use logexport::sandbox::prelude::*;
use std::time::Duration;
use support::best_of;

const PAGE: u32 = 100;

/// Pages fetched by a loop that does nothing else.
async fn serve_rate(sb: &ConductorOneSandbox, http: &reqwest::Client, token: &str) -> u64 {
    #[derive(serde::Deserialize)]
    struct Next {
        #[serde(rename = "nextPageToken")]
        next: Option<String>,
    }
    let url = format!("{}{EVENTS_PATH}", sb.endpoint());
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = serde_json::json!({"pageSize": PAGE, "pageToken": page_token});
        let bytes = http
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        pages += 1;
        let next: Next = serde_json::from_slice(&bytes).unwrap();
        match next.next.filter(|t| !t.is_empty()) {
            Some(t) => page_token = Some(t),
            None => return pages,
        }
    }
}

/// Pages the library's stream goes through while yielding every event as a
/// value.
async fn values(sb: &ConductorOneSandbox) -> (u64, u64) {
    let client = sb.client_builder().build().unwrap();
    let mut stream = client.events().page_size(PAGE).stream().unwrap();
    let mut events = 0u64;
    while let Some(event) = stream.try_next().await.unwrap() {
        std::hint::black_box(&event);
        events += 1;
    }
    (stream.pages(), events)
}

/// The same, every event as its JSON text.
async fn raw(sb: &ConductorOneSandbox) -> (u64, u64) {
    let client = sb.client_builder().build().unwrap();
    let mut stream = client.events().page_size(PAGE).stream_raw().unwrap();
    let mut events = 0u64;
    while let Some(event) = stream.try_next().await.unwrap() {
        std::hint::black_box(event.as_str());
        events += 1;
    }
    (stream.pages(), events)
}

/// Keeps the faster of two timed runs.
fn keep<T>(best: &mut (Duration, T), run: (Duration, T)) {
    if run.0 < best.0 {
        *best = run;
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2 } else { 4 };
    let count = if quick { 5_000 } else { 20_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sb = rt.block_on(async {
        ConductorOneSandbox::builder()
            .event_count(count)
            .start()
            .await
            .unwrap()
    });
    let token = sb.mint_access_token();
    let http = reqwest::Client::new();
    println!("C1 events: {count} events in pages of {PAGE}, best of {rounds} interleaved rounds");
    let mut base = (Duration::MAX, 0);
    let mut best_values = (Duration::MAX, (0, 0));
    let mut best_raw = (Duration::MAX, (0, 0));
    for _ in 0..rounds {
        keep(
            &mut base,
            best_of(1, || rt.block_on(serve_rate(&sb, &http, &token))),
        );
        keep(&mut best_values, best_of(1, || rt.block_on(values(&sb))));
        keep(&mut best_raw, best_of(1, || rt.block_on(raw(&sb))));
    }
    let (base, base_pages) = base;
    let rate = |pages: u64, t: Duration| pages as f64 / t.as_secs_f64();
    println!(
        "  serve rate (plain reqwest loop, pages only): {:.0} pages/s",
        rate(base_pages, base)
    );
    for (name, (t, (pages, events))) in [
        ("stream_raw (every event as its JSON text)", best_raw),
        ("stream (every event as a JSON value)", best_values),
    ] {
        assert_eq!(events, count as u64, "every event once");
        assert_eq!(pages, base_pages, "both read the same pages");
        println!(
            "  {name}: {:.0} pages/s, {:.0} events/s, ratio {:.2} of the serve rate",
            rate(pages, t),
            events as f64 / t.as_secs_f64(),
            base.as_secs_f64() / t.as_secs_f64()
        );
    }
}
