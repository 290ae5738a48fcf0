#![cfg(all(feature = "conductorone", feature = "sandbox"))]
//! The event stream's one-page prefetch: order and exactly-once across page
//! boundaries, invalid text counted on prefetched pages, and a dropped
//! stream cancelling the request it has in flight.

use futures::{StreamExt as _, TryStreamExt as _};
use logexport::conductorone::{event_uid, Client};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::prelude::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A loopback C1 events endpoint that answers by page token: `Some(body)`
/// is sent at once, `None` holds the request open and reports, through
/// `closed`, when the client hangs up on it.
struct PageServer {
    url: String,
    held: Arc<Notify>,
    closed: Arc<Notify>,
}

impl PageServer {
    async fn start(answer: fn(Option<&str>) -> Option<Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (held, closed) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (h, c) = (held.clone(), closed.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, answer, h.clone(), c.clone()));
            }
        });
        PageServer { url, held, closed }
    }

    fn client(&self) -> Client {
        Client::builder()
            .endpoint(self.url.as_str())
            .access_token("c1-test-access-token")
            .build()
            .unwrap()
    }
}

async fn serve(
    mut sock: TcpStream,
    answer: fn(Option<&str>) -> Option<Vec<u8>>,
    held: Arc<Notify>,
    closed: Arc<Notify>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // One request: head, then a body of Content-Length bytes.
        let (head_end, len) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if buf.len() >= end + 4 + len {
                    break (end + 4, len);
                }
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let body: Value = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
        buf.drain(..head_end + len);
        let Some(page) = answer(body["pageToken"].as_str()) else {
            held.notify_one();
            // Hold the answer until the client goes away.
            while let Ok(n) = sock.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
            }
            closed.notify_one();
            return;
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            page.len()
        );
        if sock.write_all(head.as_bytes()).await.is_err() || sock.write_all(&page).await.is_err() {
            return;
        }
    }
}

/// A page of ten events `first..first + 10` (uids `e<n>`), `next` its token.
fn page(first: usize, next: Option<&str>) -> Vec<u8> {
    let list: Vec<Value> = (first..first + 10)
        .map(|n| serde_json::json!({"time": n, "metadata": {"uid": format!("e{n}")}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"list": list, "nextPageToken": next})).unwrap()
}

#[tokio::test]
async fn dropping_the_stream_mid_prefetch_cancels_the_request_in_flight() {
    let server = PageServer::start(|token| match token {
        None => Some(page(0, Some("p2"))),
        // Page 2 is never answered: the stream's prefetch of it hangs.
        _ => None,
    })
    .await;
    let mut stream = server.client().events().stream().unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(event_uid(&first), Some("e0"));
    tokio::time::timeout(Duration::from_secs(10), server.held.notified())
        .await
        .expect("page 2 is fetched while page 1 is handed out");
    drop(stream);
    tokio::time::timeout(Duration::from_secs(10), server.closed.notified())
        .await
        .expect("dropping the stream hangs up on the prefetch");
}

#[tokio::test]
async fn a_prefetched_page_with_bad_text_is_counted_in_order() {
    let server = PageServer::start(|token| match token {
        None => Some(page(0, Some("p2"))),
        Some("p2") => {
            // One invalid UTF-8 byte and one lone surrogate escape.
            let mut p = page(10, Some("p3"));
            let at = p.windows(3).position(|w| w == b"e10").unwrap();
            p.splice(at + 1..at + 1, *b"\xff\\ud800");
            Some(p)
        }
        Some("p3") => Some(page(20, None)),
        Some(other) => panic!("unexpected token {other}"),
    })
    .await;
    let mut stream = server.client().events().stream().unwrap();
    let mut uids = Vec::new();
    while let Some(e) = stream.try_next().await.unwrap() {
        uids.push(event_uid(&e).unwrap().to_string());
    }
    let mut want: Vec<String> = (0..30).map(|n| format!("e{n}")).collect();
    want[10] = "e\u{FFFD}\u{FFFD}10".into();
    assert_eq!(uids, want);
    assert_eq!((stream.pages(), stream.replaced()), (3, 2));
}

#[tokio::test]
async fn order_and_exactly_once_across_pages_with_a_slow_consumer_and_a_resume() {
    let sb = ConductorOneSandbox::builder()
        .event_count(95)
        .start()
        .await
        .unwrap();
    let client = sb.client_builder().build().unwrap();
    let all = sb.events();
    // A consumer that pauses on page boundaries, so every prefetch lands
    // while a page is still being handed out, stopping mid-page 4.
    let mut stream = client.events().page_size(10).stream().unwrap();
    let mut got = Vec::new();
    for n in 0..37 {
        if n % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        got.push(stream.next().await.unwrap().unwrap());
    }
    let checkpoint = stream.last_event_uid().unwrap().to_string();
    drop(stream);
    let rest: Vec<Value> = client
        .events()
        .page_size(10)
        .since_event_uid(checkpoint)
        .stream()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    got.extend(rest);
    assert_eq!(got, all, "every event once, in order, across the resume");
}

/// A pretty-printed page (line breaks between tokens) whose events keep the
/// server's key order, not serde_json's sorted one.
fn pretty_page(first: usize, next: Option<&str>) -> Vec<u8> {
    let list: Vec<String> = (first..first + 10)
        .map(|n| format!("{{\n    \"zeta\": \"line\\nbreak\",\r\n    \"metadata\": {{ \"uid\": \"e{n}\" }},\n    \"time\": {n}\n  }}"))
        .collect();
    let next = next.map_or("null".to_string(), |t| format!("\"{t}\""));
    format!(
        "{{\n  \"list\": [\n  {}\n  ],\n  \"nextPageToken\": {next}\n}}\n",
        list.join(",\n  ")
    )
    .into_bytes()
}

#[tokio::test]
async fn raw_events_are_the_servers_text_one_line_each() {
    let server = PageServer::start(|token| match token {
        None => Some(pretty_page(0, Some("p2"))),
        Some("p2") => {
            let mut p = pretty_page(10, None);
            let at = p.windows(3).position(|w| w == b"e15").unwrap();
            p.splice(at + 1..at + 1, *b"\xff\\ud800");
            Some(p)
        }
        Some(other) => panic!("unexpected token {other}"),
    })
    .await;
    let mut stream = server.client().events().stream_raw().unwrap();
    let mut got = Vec::new();
    while let Some(event) = stream.try_next().await.unwrap() {
        got.push(event);
    }
    assert_eq!(got.len(), 20);
    assert_eq!(
        got[3].as_str(),
        "{    \"zeta\": \"line\\nbreak\",    \"metadata\": { \"uid\": \"e3\" },    \"time\": 3  }"
    );
    assert!(got.iter().all(|e| !e.as_str().contains(['\n', '\r'])));
    assert_eq!(got[15].uid().as_deref(), Some("e\u{FFFD}\u{FFFD}15"));
    assert_eq!(got[19].time().unwrap().timestamp_millis(), 19);
    assert_eq!(stream.last_event_uid().as_deref(), Some("e19"));
    assert_eq!((stream.pages(), stream.replaced()), (2, 2));
    // The same events as values, through the parsing stream.
    let values: Vec<Value> = server
        .client()
        .events()
        .stream()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    // Both against an oracle that shares no code with the library: the
    // clean pages parsed whole by serde_json, with the one repair the bad
    // bytes call for written in by hand.
    let mut want = Vec::new();
    for page in [pretty_page(0, Some("p2")), pretty_page(10, None)] {
        let page: Value = serde_json::from_slice(&page).unwrap();
        want.extend(page["list"].as_array().unwrap().iter().cloned());
    }
    want[15]["metadata"]["uid"] = "e\u{FFFD}\u{FFFD}15".into();
    assert_eq!(values, want);
    let parsed: Vec<Value> = got
        .iter()
        .map(|e| serde_json::from_str(e.as_str()).unwrap())
        .collect();
    assert_eq!(parsed, want);
    assert_eq!(values[3]["zeta"], "line\nbreak");
}

#[tokio::test]
async fn a_page_whose_events_are_not_objects_is_a_decode_error() {
    let server = PageServer::start(|token| match token {
        None => Some(page(0, Some("p2"))),
        Some(_) => Some(
            br#"{"list": [{"metadata": {"uid": "e10"}}, "e11"], "nextPageToken": ""}"#.to_vec(),
        ),
    })
    .await;
    page_two_fails_whole(&server).await;
}

#[tokio::test]
async fn an_event_nested_past_the_value_parser_passes_as_text_and_ends_the_values() {
    // JSON has no depth limit; `serde_json`'s value parser stops at 128. The
    // text stream hands the event on as sent, uid and all; the value stream
    // gives page 1's events, then a typed decode error, then ends. (The
    // server's answer is a `fn`, so it spells the same event again.)
    let deep = format!(
        r#"{{"metadata": {{"uid": "e10"}}, "x": {}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let server = PageServer::start(|token| match token {
        None => Some(page(0, Some("p2"))),
        Some(_) => Some(
            format!(
                r#"{{"list": [{{"metadata": {{"uid": "e10"}}, "x": {}{}}}], "nextPageToken": ""}}"#,
                "[".repeat(200),
                "]".repeat(200)
            )
            .into_bytes(),
        ),
    })
    .await;
    let client = server.client();
    let mut raw = client.events().stream_raw().unwrap();
    let mut texts = Vec::new();
    while let Some(e) = raw.try_next().await.unwrap() {
        texts.push(e.to_string());
    }
    assert_eq!(texts.len(), 11);
    assert_eq!(texts[10], deep);
    assert_eq!(raw.last_event_uid().as_deref(), Some("e10"));

    let values: Vec<logexport::Result<Value>> = client.events().stream().unwrap().collect().await;
    assert_eq!(values.len(), 11, "page 1, then the error: {values:?}");
    assert!(values[..10].iter().all(Result::is_ok));
    let err = values[10].as_ref().unwrap_err();
    assert_eq!(err.kind(), logexport::ErrorKind::Decode, "{err}");
}

/// Both streams yield page 1's ten events, then one decode error for page 2
/// (none of its events), then end.
async fn page_two_fails_whole(server: &PageServer) {
    for raw in [true, false] {
        let client = server.client();
        let events: Vec<logexport::Result<String>> = if raw {
            let s = client.events().stream_raw().unwrap();
            s.map_ok(|e| e.to_string()).collect().await
        } else {
            let s = client.events().stream().unwrap();
            s.map_ok(|e| e.to_string()).collect().await
        };
        assert_eq!(events.len(), 11, "page 1, then the error: {events:?}");
        assert!(events[..10].iter().all(Result::is_ok));
        let err = events[10].as_ref().unwrap_err();
        assert_eq!(err.kind(), logexport::ErrorKind::Decode, "{err}");
    }
}

#[tokio::test]
async fn an_idle_consumer_holds_no_page_so_two_are_fetched_and_no_more() {
    let sb = ConductorOneSandbox::builder()
        .event_count(50)
        .start()
        .await
        .unwrap();
    let fetched = || {
        sb.requests()
            .count_path(logexport::sandbox::conductorone::EVENTS_PATH)
    };
    let client = sb.client_builder().build().unwrap();
    let mut stream = client.events().page_size(10).stream_raw().unwrap();
    // Not polled yet: page 1 waits for the consumer, page 2 is fetched
    // beside it (it need not wait for the consumer to wake), page 3 is not.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while fetched() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(fetched(), 2);
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.uid().as_deref(), event_uid(&sb.events()[0]));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(fetched(), 2, "holding page 1 with page 2 waiting: no third");
}
