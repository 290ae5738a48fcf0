//! System log events as a stream of OCSF JSON objects.
//!
//! Events are paged by `nextPageToken`. [`EventStream`] fetches the next page
//! in a background task while the caller works through the current one, and
//! never more than one page ahead, so memory stays bounded by two pages
//! however slow the consumer is. The task only splits a page into events'
//! text ([`RawEvent`]); a value is built, if the caller streams values, as
//! each event is handed out, so the next request is not held up by parsing.
//! To resume after a restart, store the uid of the last event handled
//! ([`event_uid`]) and start again with [`EventQuery::since_event_uid`].
//!
//! A page with an invalid UTF-8 byte or a lone UTF-16 surrogate escape
//! (`\ud800`) in one event does not fail the listing: under the crate's
//! [text policy](crate::download) each such sequence becomes U+FFFD, is
//! counted ([`EventStream::replaced`]) and logged as a warning.

use super::error::convert;
use super::generated::Client;
use super::raw::{RawEvent, RawEventPage};
use super::types::{check_id, Page, PageCursor, SortDirection, PAGE_SIZES};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument as _;

/// The page size used unless one is set: the largest, for fewest round trips.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The uid of an OCSF event (`metadata.uid`), the key to resume from.
///
/// ```
/// let event = serde_json::json!({"metadata": {"uid": "2ZxT"}});
/// assert_eq!(logexport::conductorone::event_uid(&event), Some("2ZxT"));
/// ```
pub fn event_uid(event: &Value) -> Option<&str> {
    event.pointer("/metadata/uid").and_then(Value::as_str)
}

/// The time of an OCSF event (`time`, milliseconds since the epoch).
pub fn event_time(event: &Value) -> Option<DateTime<Utc>> {
    let ms = match event.get("time")? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    DateTime::from_timestamp_millis(ms)
}

/// A query over system log events, or over the events of one exporter.
///
/// ```no_run
/// # async fn demo(client: logexport::conductorone::Client) -> logexport::Result<()> {
/// use futures::TryStreamExt as _;
///
/// let mut events = client.events().since_event_uid("2ZxTk…").page_size(50).stream()?;
/// while let Some(event) = events.try_next().await? {
///     println!("{}", logexport::conductorone::event_uid(&event).unwrap_or("?"));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until `.stream()` or `.page()`"]
pub struct EventQuery {
    client: Client,
    exporter: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    since_event_uid: Option<String>,
    until_event_uid: Option<String>,
    sort: Option<SortDirection>,
    page_size: u32,
}

impl EventQuery {
    pub(crate) fn new(client: Client) -> Self {
        EventQuery {
            client,
            exporter: None,
            since: None,
            until: None,
            since_event_uid: None,
            until_event_uid: None,
            sort: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Lists the events of this exporter (those after its watermark) instead
    /// of the tenant's system log. The time and uid bounds do not apply there.
    pub fn exporter(mut self, export_id: impl Into<String>) -> Self {
        self.exporter = Some(export_id.into());
        self
    }

    /// Only events in `range`: [`since`](Self::since) its start and
    /// [`until`](Self::until) its end.
    pub fn range(self, range: crate::TimeRange) -> Self {
        self.since(range.start).until(range.end)
    }

    /// Only events at or after this time.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Only events before this time.
    pub fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }

    /// Only events after the one with this uid: resume exactly after the
    /// last event stored.
    pub fn since_event_uid(mut self, uid: impl Into<String>) -> Self {
        self.since_event_uid = Some(uid.into());
        self
    }

    /// Only events before the one with this uid.
    pub fn until_event_uid(mut self, uid: impl Into<String>) -> Self {
        self.until_event_uid = Some(uid.into());
        self
    }

    /// Oldest first ([`SortDirection::Asc`]) or newest first.
    pub fn sort(mut self, direction: SortDirection) -> Self {
        self.sort = Some(direction);
        self
    }

    /// Events per page, 10–100 (default 100).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// Checks the query without sending anything.
    pub fn validate(&self) -> Result<()> {
        if !PAGE_SIZES.contains(&self.page_size) {
            return Err(Error::invalid_input(
                "page_size",
                format!("{} is outside 10..=100", self.page_size),
            ));
        }
        if let (Some(s), Some(u)) = (self.since, self.until) {
            if s > u {
                return Err(Error::invalid_input("since", "is after `until`"));
            }
        }
        if let Some(uid) = &self.since_event_uid {
            check_id("since_event_uid", uid)?;
        }
        if let Some(uid) = &self.until_event_uid {
            check_id("until_event_uid", uid)?;
        }
        if let Some(SortDirection::Unknown(v)) = &self.sort {
            return Err(Error::invalid_input(
                "sort",
                format!("unknown direction `{v}`"),
            ));
        }
        if let Some(id) = &self.exporter {
            check_id("export_id", id)?;
            let bounded = self.since.is_some()
                || self.until.is_some()
                || self.since_event_uid.is_some()
                || self.until_event_uid.is_some()
                || self.sort.is_some();
            if bounded {
                return Err(Error::invalid_input(
                    "exporter",
                    "exporter events run from the exporter's watermark; since/until/uids/sort apply to the system log only",
                ));
            }
        }
        Ok(())
    }

    /// Fetches one page; `page_token` is `None` for the first. Invalid text
    /// in it is replaced under the [text policy](crate::download).
    pub async fn page(&self, page_token: Option<&str>) -> Result<Page<Value>> {
        self.validate()?;
        let (events, next, _) = self
            .fetch(page_token)
            .instrument(self.span(false))
            .await?
            .into_parts();
        Ok(Page {
            items: events
                .iter()
                .map(RawEvent::to_value)
                .collect::<Result<_>>()?,
            next_page_token: next,
        })
    }

    fn span(&self, stream: bool) -> tracing::Span {
        let operation = if self.exporter.is_some() {
            "list_exporter_events"
        } else {
            "list_system_log_events"
        };
        tracing::info_span!("conductorone", vendor = "conductorone", operation, stream)
    }

    /// One page as text; invalid UTF-8 is replaced and counted in it.
    async fn fetch(&self, page_token: Option<&str>) -> Result<RawEventPage> {
        let api = &self.client;
        let page_size = Some(self.page_size as i32);
        let page_token = page_token.map(str::to_string);
        let sent = match &self.exporter {
            Some(id) => {
                let body =
                    super::generated::types::C1ApiSystemlogV1ExportServiceListEventsRequestInput {
                        page_size,
                        page_token,
                    };
                api.list_exporter_events()
                    .export_id(id.as_str())
                    .body(body)
                    .send()
                    .await
            }
            None => {
                let body =
                    super::generated::types::C1ApiSystemlogV1SystemLogServiceListEventsRequest {
                        page_size,
                        page_token,
                        since: self.since,
                        until: self.until,
                        since_event_uid: self.since_event_uid.clone(),
                        until_event_uid: self.until_event_uid.clone(),
                        sort_direction: self.sort.as_ref().map(ToString::to_string),
                    };
                api.list_system_log_events().body(body).send().await
            }
        };
        match sent {
            Ok(page) => Ok(page.into_inner()),
            Err(e) => tolerate(e).await,
        }
    }

    /// Streams every matching event as a [`Value`], following page tokens,
    /// fetching at most one page ahead of the consumer. Must be called within
    /// a Tokio runtime.
    pub fn stream(self) -> Result<EventStream<Value>> {
        self.stream_of()
    }

    /// Streams every matching event as the JSON text the server sent
    /// ([`RawEvent`]), for callers that store or forward events rather than
    /// read them: no value is built. Otherwise like [`stream`](Self::stream).
    pub fn stream_raw(self) -> Result<EventStream<RawEvent>> {
        self.stream_of()
    }

    fn stream_of<T>(self) -> Result<EventStream<T>> {
        self.validate()?;
        let span = self.span(true);
        // Two pages at most: the one the consumer holds (or that waits for
        // it) and the one in flight. A page's permit travels with it and is
        // released when the consumer moves past the page, so while it holds
        // page k only page k+1 can be fetched, and a consumer that is waiting
        // holds nothing: the next request leaves as soon as a page is handed
        // over, without waiting for the consumer's thread to wake. The fetch
        // only splits a page into events; values, if wanted, are built as the
        // consumer takes them.
        let pages = Arc::new(Semaphore::new(2));
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Held>>(2);
        let task = tokio::spawn(
            async move {
                let mut token: Option<String> = None;
                let mut cursor = PageCursor::default();
                loop {
                    let Ok(permit) = pages.clone().acquire_owned().await else {
                        return;
                    };
                    let page = self.fetch(token.as_deref()).await.and_then(|page| {
                        let next = cursor.advance(page.events().len(), page.next_page_token())?;
                        Ok((page, next))
                    });
                    let (sent, next) = match page {
                        Ok((page, next)) => (Ok((page, permit)), next),
                        Err(e) => (Err(e), None),
                    };
                    if tx.send(sent).await.is_err() {
                        return;
                    }
                    match next {
                        Some(t) => token = Some(t),
                        None => return,
                    }
                }
            }
            .instrument(span),
        );
        Ok(EventStream {
            rx,
            current: Vec::new().into_iter(),
            held: None,
            task,
            last_uid: None,
            last_raw: None,
            pages: 0,
            replaced: 0,
            done: false,
            item: PhantomData,
        })
    }
}

/// A page and its place in the two-page budget.
type Held = (RawEventPage, OwnedSemaphorePermit);

/// The stream behind [`EventQuery::stream`] (`T` = [`Value`]) and
/// [`EventQuery::stream_raw`] (`T` = [`RawEvent`]): `Result<T>` per OCSF
/// event, ending after the last page or the first error. Dropping it stops
/// the background fetch.
pub struct EventStream<T = Value> {
    rx: tokio::sync::mpsc::Receiver<Result<Held>>,
    current: std::vec::IntoIter<RawEvent>,
    /// The budget place of the page `current` came from.
    held: Option<OwnedSemaphorePermit>,
    task: tokio::task::JoinHandle<()>,
    /// The value stream's resume point, copied from each value it parsed.
    last_uid: Option<String>,
    /// The text stream's last event: its uid is read only when asked for,
    /// so handing out an event parses nothing.
    last_raw: Option<RawEvent>,
    pages: u64,
    replaced: u64,
    done: bool,
    item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for EventStream<T> {
    // Counts only: the buffered events are audit data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("buffered", &self.current.len())
            .field(
                "has_last_event",
                &(self.last_uid.is_some() || self.last_raw.is_some()),
            )
            .field("pages", &self.pages)
            .field("replaced", &self.replaced)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T> EventStream<T> {
    /// The uid of the last event this stream yielded, `None` before the
    /// first or if that event has none: a checkpoint for
    /// [`EventQuery::since_event_uid`]. A text stream reads it from the
    /// event on each call (so the event's page stays in memory until the
    /// next event is yielded or the stream is dropped); a value stream keeps
    /// it from the value it parsed.
    pub fn last_event_uid(&self) -> Option<Cow<'_, str>> {
        match &self.last_raw {
            Some(event) => event.uid(),
            None => self.last_uid.as_deref().map(Cow::Borrowed),
        }
    }

    /// Pages received so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Invalid UTF-8 sequences and lone surrogate escapes replaced with
    /// U+FFFD in the pages received so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// The next event's text.
    fn poll_raw(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RawEvent>>> {
        loop {
            if let Some(event) = self.current.next() {
                return Poll::Ready(Some(Ok(event)));
            }
            // Past the page: its place may go to the next fetch.
            self.held = None;
            if self.done {
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok((page, permit)))) => {
                    let (events, _, replaced) = page.into_parts();
                    self.pages += 1;
                    self.replaced += replaced;
                    self.current = events.into_iter();
                    self.held = Some(permit);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Notes the uid of the value being handed out as the resume point.
    fn note_uid(&mut self, uid: Option<&str>) {
        match uid {
            Some(uid) => {
                // The buffer is reused: no allocation per event.
                let last = self.last_uid.get_or_insert_with(String::new);
                last.clear();
                last.push_str(uid);
            }
            None => self.last_uid = None,
        }
    }
}

impl Stream for EventStream<RawEvent> {
    type Item = Result<RawEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.poll_raw(cx);
        if let Poll::Ready(Some(Ok(event))) = &polled {
            // A clone shares the page's text: no copy, no parse.
            this.last_raw = Some(event.clone());
        }
        polled
    }
}

impl Stream for EventStream<Value> {
    type Item = Result<Value>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this
            .poll_raw(cx)
            .map(|event| event.map(|event| event?.to_value()));
        match &polled {
            Poll::Ready(Some(Ok(event))) => this.note_uid(event_uid(event)),
            Poll::Ready(Some(Err(_))) => {
                // The stream ends at its first error, a value's included:
                // drop the rest of the page and its budget place.
                this.current = Vec::new().into_iter();
                this.held = None;
                this.done = true;
            }
            _ => {}
        }
        polled
    }
}

impl<T> Drop for EventStream<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The response of a generated call that failed: a page whose only fault
/// is invalid text is repaired and parsed (its replacements counted in the
/// page); any other failure becomes the usual error.
async fn tolerate(err: progenitor_client::Error<()>) -> Result<RawEventPage> {
    if let progenitor_client::Error::InvalidResponsePayload(bytes, _) = &err {
        if let Some((mut page, n)) = reparse::<RawEventPage>(bytes) {
            tracing::warn!(
                replaced = n,
                "invalid text in an event page was replaced with U+FFFD"
            );
            page.add_replaced(n);
            return Ok(page);
        }
    }
    Err(convert(err).await)
}

/// Parses `bytes` after replacing invalid UTF-8 and lone surrogate escapes;
/// `None` if there was nothing to replace or it still does not parse.
fn reparse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<(T, u64)> {
    let (text, bad_bytes) = crate::download::repair_str(bytes);
    let (json, surrogates) = crate::download::repair_json_surrogates(&text);
    let n = bad_bytes + surrogates;
    if n == 0 {
        return None;
    }
    serde_json::from_str(&json).ok().map(|v| (v, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_with_bad_text_are_repaired_not_rejected() {
        let raw = b"{\"list\":[{\"msg\":\"a\xffb\",\"s\":\"\\ud800\"}]}";
        assert!(serde_json::from_slice::<Value>(raw).is_err());
        let (v, n): (Value, u64) = reparse(raw).unwrap();
        assert_eq!(n, 2);
        assert_eq!(v["list"][0]["msg"], "a\u{FFFD}b");
        assert_eq!(v["list"][0]["s"], "\u{FFFD}");
        // Clean text needs no repair; broken JSON stays broken.
        assert!(reparse::<Value>(b"{\"a\":1}").is_none());
        assert!(reparse::<Value>(b"{\"a\":\xff").is_none());
    }

    #[test]
    fn uid_and_time_helpers() {
        let e = json!({"time": 1_700_000_000_123i64, "metadata": {"uid": "u1"}});
        assert_eq!(event_uid(&e), Some("u1"));
        assert_eq!(
            event_time(&e).unwrap().timestamp_millis(),
            1_700_000_000_123
        );
        assert_eq!(event_uid(&json!({"metadata": {}})), None);
        assert_eq!(
            event_time(&json!({"time": "1700000000000"}))
                .unwrap()
                .timestamp(),
            1_700_000_000
        );
    }

    /// A stream over `events` already received, with no fetch behind it.
    fn stream_over<T>(events: &[&str]) -> EventStream<T> {
        let (_, rx) = tokio::sync::mpsc::channel(1);
        let events: Vec<RawEvent> = events.iter().map(|e| RawEvent::unchecked(e)).collect();
        EventStream {
            rx,
            current: events.into_iter(),
            held: None,
            task: tokio::spawn(async {}),
            last_uid: None,
            last_raw: None,
            pages: 1,
            replaced: 0,
            done: false,
            item: PhantomData,
        }
    }

    #[tokio::test]
    async fn debug_shows_counts_not_events() {
        use futures::StreamExt as _;
        let events = [
            r#"{"metadata": {"uid": "u-secret-1"}, "actor": "alice@example.com"}"#,
            r#"{"metadata": {"uid": "u-secret-2"}, "actor": "bob@example.com"}"#,
        ];
        let mut raw = stream_over::<RawEvent>(&events);
        raw.next().await.unwrap().unwrap();
        let mut values = stream_over::<Value>(&events);
        values.next().await.unwrap().unwrap();
        for debug in [format!("{raw:?}"), format!("{values:?}")] {
            assert!(!debug.contains("secret"), "{debug}");
            assert!(!debug.contains("example.com"), "{debug}");
            assert!(debug.contains("buffered: 1"), "{debug}");
            assert!(debug.contains("has_last_event: true"), "{debug}");
        }
        assert_eq!(raw.last_event_uid().as_deref(), Some("u-secret-1"));
        assert_eq!(values.last_event_uid().as_deref(), Some("u-secret-1"));
    }

    #[tokio::test]
    async fn the_last_uid_is_the_last_events_on_both_streams() {
        use futures::StreamExt as _;
        let events = [r#"{"metadata": {"uid": "u1"}}"#, r#"{"metadata": {}}"#];
        let mut raw = stream_over::<RawEvent>(&events);
        let mut values = stream_over::<Value>(&events);
        assert_eq!(raw.last_event_uid(), None);
        raw.next().await.unwrap().unwrap();
        values.next().await.unwrap().unwrap();
        assert_eq!(raw.last_event_uid().as_deref(), Some("u1"));
        assert_eq!(values.last_event_uid().as_deref(), Some("u1"));
        raw.next().await.unwrap().unwrap();
        values.next().await.unwrap().unwrap();
        assert_eq!(raw.last_event_uid(), None);
        assert_eq!(values.last_event_uid(), None);
    }

    #[tokio::test]
    async fn the_value_stream_ends_at_an_event_that_does_not_parse() {
        use futures::StreamExt as _;
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200));
        let mut values = stream_over::<Value>(&[&deep, r#"{"metadata": {"uid": "u2"}}"#]);
        let err = values.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
        assert!(values.next().await.is_none(), "nothing after the error");
        assert_eq!(values.last_event_uid(), None);
    }
}
