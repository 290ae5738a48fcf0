//! System log events as a stream of OCSF JSON objects.
//!
//! Events are paged by `nextPageToken`. [`EventStream`] fetches the next page
//! in a background task while the caller works through the current one, and
//! never more than one page ahead, so memory stays bounded by two pages
//! however slow the consumer is. Pages are parsed on a blocking thread; the
//! next request goes out as soon as a light pass has read the token. To resume after a restart, store the uid of
//! the last event handled ([`event_uid`]) and start again with
//! [`EventQuery::since_event_uid`].
//!
//! A page with an invalid UTF-8 byte or a lone UTF-16 surrogate escape
//! (`\ud800`) in one event does not fail the listing: under the crate's
//! [text policy](crate::download) each such sequence becomes U+FFFD, is
//! counted ([`EventStream::replaced`]) and logged as a warning.

use super::error::convert;
use super::generated::Client;
use super::types::{check_id, next_token, Page, PageCursor, SortDirection, PAGE_SIZES};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
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
        let span = tracing::info_span!(
            "conductorone",
            vendor = "conductorone",
            operation = self.operation()
        );
        Ok(self.fetch(page_token).instrument(span).await?.0)
    }

    /// The operation this query runs, as the pipeline and errors name it.
    fn operation(&self) -> &'static str {
        if self.exporter.is_some() {
            "list_exporter_events"
        } else {
            "list_system_log_events"
        }
    }

    /// One page, parsed on a blocking thread, and the number of invalid
    /// sequences replaced in it.
    async fn fetch(&self, page_token: Option<&str>) -> Result<(Page<Value>, u64)> {
        parse_off_runtime(self.fetch_body(page_token).await?).await
    }

    /// One page's body as received, through the same pipeline (auth,
    /// retries, rate limit) and error mapping as the generated call. The
    /// generated `send()` would parse the page on the async worker; taking
    /// the bytes lets the stream parse it elsewhere while the next page is
    /// already on its way.
    async fn fetch_body(&self, page_token: Option<&str>) -> Result<bytes::Bytes> {
        use super::generated::types::{
            C1ApiSystemlogV1ExportServiceListEventsRequestInput as ExporterBody,
            C1ApiSystemlogV1SystemLogServiceListEventsRequest as SystemLogBody,
        };
        use progenitor_client::{ClientInfo as _, Error as Generated};
        let api = &self.client;
        let page_size = Some(self.page_size as i32);
        let page_token = page_token.map(str::to_string);
        let builder = match &self.exporter {
            Some(id) => {
                let url = format!(
                    "{}/api/v1/systemlog/exports/{}/events",
                    api.baseurl(),
                    progenitor_client::encode_path(id)
                );
                let body = ExporterBody {
                    page_size,
                    page_token,
                };
                api.client().post(url).json(&body)
            }
            None => {
                let url = format!("{}/api/v1/systemlog/events", api.baseurl());
                let body = SystemLogBody {
                    page_size,
                    page_token,
                    since: self.since,
                    until: self.until,
                    since_event_uid: self.since_event_uid.clone(),
                    until_event_uid: self.until_event_uid.clone(),
                    sort_direction: self.sort.as_ref().map(ToString::to_string),
                };
                api.client().post(url).json(&body)
            }
        };
        let request = builder
            .header(reqwest::header::ACCEPT, "application/json")
            .header("api-version", Client::api_version())
            .build();
        let sent = match request {
            Ok(request) => api.inner().execute(request, self.operation()).await,
            Err(e) => Err(e),
        };
        let response = match sent {
            Ok(r) if r.status() == reqwest::StatusCode::OK => r,
            Ok(r) => return Err(convert(Generated::UnexpectedResponse(r)).await),
            Err(e) => return Err(convert(Generated::CommunicationError(e)).await),
        };
        match response.bytes().await {
            Ok(bytes) => Ok(bytes),
            Err(e) => Err(convert(Generated::ResponseBodyError(e)).await),
        }
    }

    /// Streams every matching event, following page tokens, fetching at most
    /// one page ahead of the consumer. Must be called within a Tokio runtime.
    pub fn stream(self) -> Result<EventStream> {
        self.validate()?;
        let span = tracing::info_span!(
            "conductorone",
            vendor = "conductorone",
            operation = self.operation(),
            stream = true
        );
        // Capacity 1, and a slot is reserved *before* each fetch: while the
        // consumer holds page k, only page k+1 can be fetched. What goes
        // through is page k+1 still being parsed on a blocking thread, so
        // its parse overlaps the fetch of page k+2.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Parsing>>(1);
        let task = tokio::spawn(
            async move {
                let mut token: Option<String> = None;
                let mut cursor = PageCursor::default();
                loop {
                    let Ok(permit) = tx.reserve().await else {
                        return;
                    };
                    let next = match self.fetch_body(token.as_deref()).await {
                        Ok(body) => next_in_line(body, &mut cursor).await,
                        Err(e) => Err(e),
                    };
                    match next {
                        Ok((parsing, next)) => {
                            permit.send(Ok(parsing));
                            match next {
                                Some(t) => token = Some(t),
                                None => return,
                            }
                        }
                        Err(e) => {
                            permit.send(Err(e));
                            return;
                        }
                    }
                }
            }
            .instrument(span),
        );
        Ok(EventStream {
            rx,
            parsing: None,
            current: VecDeque::new(),
            task,
            last_uid: None,
            pages: 0,
            replaced: 0,
            done: false,
        })
    }
}

/// A page on its way from bytes to events, and the invalid sequences
/// replaced in it.
type Parsing = Pin<Box<dyn Future<Output = Result<(Page<Value>, u64)>> + Send>>;

/// The token and item count of a page, read without building any event: a
/// pass that allocates nothing but the token, so the next request can be
/// sent before the page is parsed.
#[derive(serde::Deserialize)]
struct Outline {
    #[serde(default)]
    list: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(rename = "nextPageToken", default)]
    next_page_token: Option<String>,
}

/// Starts parsing `body` off the runtime and returns it with the token of
/// the page after it (`None` at the end), checked by `cursor`.
async fn next_in_line(
    body: bytes::Bytes,
    cursor: &mut PageCursor,
) -> Result<(Parsing, Option<String>)> {
    if let Ok(outline) = serde_json::from_slice::<Outline>(&body) {
        let items = outline.list.map_or(0, |l| l.len());
        let next = cursor.advance(items, next_token(outline.next_page_token).as_deref())?;
        return Ok((Box::pin(parse_off_runtime(body)), next));
    }
    // Text that needs repair (or a broken page): the full parse decides,
    // before anything else is sent.
    let (page, replaced) = parse_off_runtime(body).await?;
    let next = cursor.advance(page.items.len(), page.next_page_token.as_deref())?;
    Ok((Box::pin(std::future::ready(Ok((page, replaced)))), next))
}

/// Parses a page body on a blocking thread: a page of a hundred events is
/// too much work for an async worker.
async fn parse_off_runtime(body: bytes::Bytes) -> Result<(Page<Value>, u64)> {
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(|| parse_page(body))).await {
        Ok(Ok(parsed)) => Ok(parsed),
        Ok(Err((body, e))) => {
            Err(convert(progenitor_client::Error::InvalidResponsePayload(body, e)).await)
        }
        Err(e) => Err(Error::decode(format!("parsing an event page failed: {e}"))
            .with_vendor(crate::Vendor::ConductorOne)),
    }
}

/// A page from its body. A page whose only fault is invalid text is repaired
/// and parsed (counting the replacements); any other fault is returned with
/// the body, to become the error the generated call would have given.
fn parse_page(
    body: bytes::Bytes,
) -> std::result::Result<(Page<Value>, u64), (bytes::Bytes, serde_json::Error)> {
    type Response = super::generated::types::C1ApiSystemlogV1SystemLogServiceListEventsResponse;
    let (response, replaced) = match serde_json::from_slice::<Response>(&body) {
        Ok(r) => (r, 0),
        Err(e) => match reparse::<Response>(&body) {
            Some((r, n)) => {
                tracing::warn!(
                    replaced = n,
                    "invalid text in an event page was replaced with U+FFFD"
                );
                (r, n)
            }
            None => return Err((body, e)),
        },
    };
    let page = Page {
        items: response
            .list
            .unwrap_or_default()
            .into_iter()
            .map(Value::Object)
            .collect(),
        next_page_token: next_token(response.next_page_token),
    };
    Ok((page, replaced))
}

/// The stream behind [`EventQuery::stream`]: `Result<serde_json::Value>`
/// per OCSF event, ending after the last page or the first error. Dropping
/// it stops the background fetch.
pub struct EventStream {
    rx: tokio::sync::mpsc::Receiver<Result<Parsing>>,
    parsing: Option<Parsing>,
    current: VecDeque<Value>,
    task: tokio::task::JoinHandle<()>,
    last_uid: Option<String>,
    pages: u64,
    replaced: u64,
    done: bool,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("buffered", &self.current.len())
            .field("last_uid", &self.last_uid)
            .field("pages", &self.pages)
            .field("replaced", &self.replaced)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// The uid of the last event this stream yielded: a checkpoint for
    /// [`EventQuery::since_event_uid`].
    pub fn last_event_uid(&self) -> Option<&str> {
        self.last_uid.as_deref()
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
}

impl Stream for EventStream {
    type Item = Result<Value>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(event) = self.current.pop_front() {
                if let Some(uid) = event_uid(&event) {
                    // Reuses the last uid's buffer: no allocation per event.
                    match &mut self.last_uid {
                        Some(last) => {
                            last.clear();
                            last.push_str(uid);
                        }
                        None => self.last_uid = Some(uid.to_owned()),
                    }
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            if let Some(parsing) = self.parsing.as_mut() {
                let parsed = std::task::ready!(parsing.as_mut().poll(cx));
                self.parsing = None;
                match parsed {
                    Ok((page, replaced)) => {
                        self.pages += 1;
                        self.replaced += replaced;
                        self.current = page.items.into();
                        continue;
                    }
                    Err(e) => {
                        self.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            match std::task::ready!(self.rx.poll_recv(cx)) {
                Some(Ok(parsing)) => self.parsing = Some(parsing),
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    self.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
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
}
