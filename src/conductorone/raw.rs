//! Event pages as JSON text.
//!
//! The generated client reads an event page into [`RawEventPage`] (a type
//! replacement in `build.rs`), which only splits the `list` into events: no
//! `serde_json::Value` is built on the fetch path, one buffer holds the whole
//! page, and each [`RawEvent`] is a view into it. Parsing, when a caller
//! wants values, happens as events are handed out, while the next page is
//! already on its way; the CLI writes the text without parsing it at all.
//!
//! Every event is checked to be one JSON object. Lone UTF-16 surrogate
//! escapes are replaced here (counted in [`RawEventPage::replaced`]) so that
//! the text parses anywhere; invalid UTF-8 fails the page's parse and is
//! repaired by the caller's fallback (`events::tolerate`). A line break
//! between tokens (a pretty-printed page) is removed, so an event is always
//! one line of NDJSON.

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// One OCSF event as the JSON text the server sent: a single line, an
/// object, valid UTF-8. Cloning it is cheap: the events of a page share the
/// page's text, which stays in memory while any of them is held (keep
/// [`as_str`](Self::as_str) copies, not events, to hold a few for long).
///
/// ```
/// let page: logexport::conductorone::RawEventPage = serde_json::from_str(
///     r#"{"list": [{"time": 1700000000000, "metadata": {"uid": "2ZxT"}}], "nextPageToken": ""}"#,
/// )?;
/// let event = &page.events()[0];
/// assert_eq!(event.uid().as_deref(), Some("2ZxT"));
/// assert_eq!(event.as_str(), r#"{"time": 1700000000000, "metadata": {"uid": "2ZxT"}}"#);
/// # Ok::<_, serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct RawEvent {
    page: Arc<str>,
    range: Range<usize>,
}

impl RawEvent {
    /// The event's JSON text.
    pub fn as_str(&self) -> &str {
        &self.page[self.range.clone()]
    }

    /// The event parsed into a value.
    pub fn to_value(&self) -> crate::Result<Value> {
        serde_json::from_str(self.as_str())
            .map_err(|e| crate::Error::decode(format!("a ConductorOne event does not parse: {e}")))
    }

    /// The event's `metadata.uid`, the key to resume from (see
    /// [`event_uid`](super::event_uid) for a parsed event).
    pub fn uid(&self) -> Option<Cow<'_, str>> {
        self.head().and_then(|h| Some(h.metadata?.uid?.0))
    }

    /// The event's `time` (see [`event_time`](super::event_time)).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        let time = self.head()?.time?.get();
        let ms = time.trim_matches('"').parse().ok()?;
        DateTime::from_timestamp_millis(ms)
    }

    /// The two fields the stream and the CLI need, without building a value:
    /// serde skips everything else.
    fn head(&self) -> Option<Head<'_>> {
        serde_json::from_str(self.as_str()).ok()
    }
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    uid: Option<Text<'a>>,
}

/// A string borrowed from the event unless it has escapes (serde borrows a
/// `Cow<str>` only as a field of its own with `borrow`).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl fmt::Display for RawEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RawEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawEvent").field(&self.as_str()).finish()
    }
}

impl PartialEq for RawEvent {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// One page of events as the generated client reads it: the events' JSON
/// text and the token of the next page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEventPage {
    events: Vec<RawEvent>,
    next_page_token: Option<String>,
    replaced: u64,
}

impl RawEventPage {
    /// The events of this page, in order.
    pub fn events(&self) -> &[RawEvent] {
        &self.events
    }

    /// The token of the next page; `None` on the last (C1 sends it empty).
    pub fn next_page_token(&self) -> Option<&str> {
        self.next_page_token.as_deref()
    }

    /// Lone surrogate escapes replaced with `\ufffd` in this page.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Counts replacements made before the page was parsed.
    pub(crate) fn add_replaced(&mut self, n: u64) {
        self.replaced += n;
    }

    /// The parts: events, next page token, replacements.
    pub(crate) fn into_parts(self) -> (Vec<RawEvent>, Option<String>, u64) {
        (self.events, self.next_page_token, self.replaced)
    }
}

impl<'de> Deserialize<'de> for RawEventPage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PageVisitor)
    }
}

struct PageVisitor;

impl<'de> Visitor<'de> for PageVisitor {
    type Value = RawEventPage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event page: {\"list\": [...], \"nextPageToken\": ...}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEventPage, A::Error> {
        let mut list = None;
        let mut next_page_token = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "list" => list = map.next_value::<Option<List>>()?,
                "nextPageToken" => next_page_token = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let List {
            text,
            ranges,
            replaced,
        } = list.unwrap_or_default();
        let page: Arc<str> = text.into();
        let events = ranges
            .into_iter()
            .map(|range| RawEvent {
                page: page.clone(),
                range,
            })
            .collect();
        Ok(RawEventPage {
            events,
            next_page_token: super::types::next_token(next_page_token),
            replaced,
        })
    }
}

/// The `list` array, its events' text laid end to end in one buffer.
#[derive(Default)]
struct List {
    text: String,
    ranges: Vec<Range<usize>>,
    replaced: u64,
}

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ListVisitor)
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = List;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of event objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List, A::Error> {
        let mut list = List::default();
        // Borrowed: the page is read with `from_slice`/`from_str`, so each
        // event is a slice of the body until it is copied once, below.
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let json = raw.get();
            if !json.starts_with('{') {
                return Err(de::Error::custom("an event is not a JSON object"));
            }
            let (json, replaced) = crate::download::repair_json_surrogates(json);
            list.replaced += replaced;
            let start = list.text.len();
            if memchr::memchr2(b'\n', b'\r', json.as_bytes()).is_some() {
                push_without_line_breaks(&mut list.text, &json);
            } else {
                list.text.push_str(&json);
            }
            list.ranges.push(start..list.text.len());
        }
        Ok(list)
    }
}

/// Appends valid JSON `json` minus the line breaks between its tokens
/// (inside a string a line break is always escaped, so every raw CR or LF
/// is whitespace).
fn push_without_line_breaks(out: &mut String, json: &str) {
    out.extend(json.chars().filter(|c| !matches!(c, '\n' | '\r')));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> RawEventPage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn events_are_the_text_sent_one_line_each() {
        let p = page(
            "{\"extra\": [1, {\"a\": 2}], \"list\": [\n  {\"b\": \"x y\",\n   \"metadata\": {\"uid\": \"u1\"}},\r\n  {\"metadata\":{\"uid\":\"u\\u0032\"},\"time\":\"1700000000000\"}\n], \"nextPageToken\": \"t\"}",
        );
        let texts: Vec<_> = p.events().iter().map(RawEvent::as_str).collect();
        assert_eq!(
            texts,
            [
                "{\"b\": \"x y\",   \"metadata\": {\"uid\": \"u1\"}}",
                "{\"metadata\":{\"uid\":\"u\\u0032\"},\"time\":\"1700000000000\"}",
            ]
        );
        assert_eq!(p.next_page_token(), Some("t"));
        assert_eq!(p.events()[0].uid().as_deref(), Some("u1"));
        assert!(matches!(p.events()[0].uid(), Some(Cow::Borrowed(_))));
        assert_eq!(p.events()[1].uid().as_deref(), Some("u2"));
        assert_eq!(p.events()[0].time(), None);
        assert_eq!(
            p.events()[1].time().unwrap().timestamp_millis(),
            1_700_000_000_000
        );
        assert_eq!(
            p.events()[0].to_value().unwrap(),
            serde_json::json!({"b": "x y", "metadata": {"uid": "u1"}})
        );
    }

    #[test]
    fn lone_surrogates_are_replaced_and_counted() {
        let p = page(r#"{"list": [{"s": "\ud800", "t": "\ud83d\ude00", "u": "\\ud800"}]}"#);
        assert_eq!(p.replaced(), 1);
        let v = p.events()[0].to_value().unwrap();
        assert_eq!(v["s"], "\u{FFFD}");
        assert_eq!(v["t"], "😀");
        assert_eq!(v["u"], "\\ud800");
    }

    #[test]
    fn pages_without_a_list_and_foreign_shapes() {
        assert!(page("{}").events().is_empty());
        assert_eq!(page(r#"{"nextPageToken": ""}"#).next_page_token(), None);
        assert!(page(r#"{"list": null, "nextPageToken": null}"#)
            .events()
            .is_empty());
        for bad in [
            r#"{"list": [1]}"#,
            r#"{"list": ["{}"]}"#,
            r#"{"list": {}}"#,
            r#"{"list": [{"a": }]}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<RawEventPage>(bad).is_err(), "{bad}");
        }
        // Invalid UTF-8 inside a string fails the parse (the caller repairs it).
        assert!(
            serde_json::from_slice::<RawEventPage>(b"{\"list\": [{\"a\": \"\xff\"}]}").is_err()
        );
    }
}
