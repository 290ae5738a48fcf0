//! Event pages as JSON text.
//!
//! The generated client reads an event page into [`RawEventPage`] (a type
//! replacement in `build.rs`), which only splits the `list` into events: no
//! `serde_json::Value` is built on the fetch path, one buffer holds the whole
//! page, and each [`RawEvent`] is a view into it. Parsing, when a caller
//! wants values, happens as events are handed out, while the next page is
//! already on its way; the CLI writes the text without parsing it at all.
//!
//! Every event is checked to be one well-formed JSON object. Its text is
//! handed on as it is: JSON sets no nesting or number limit, so an event
//! deeper than `serde_json`'s value parser goes (128 levels), or with a
//! number beyond `f64`, still passes as text, its uid and time still read;
//! only [`RawEvent::to_value`] refuses it, as a typed decode error that
//! also ends a stream of values. Checking that here would cost every event a
//! second pass on the fetch path for the sake of pages no server sends.
//! Lone UTF-16 surrogate
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
    /// [`event_uid`](super::event_uid) for a parsed event). Read on each
    /// call: keep the result rather than asking again.
    pub fn uid(&self) -> Option<Cow<'_, str>> {
        let metadata = field(self.as_str(), "metadata")?;
        let uid = field(metadata.get(), "uid")?;
        // `None` for a uid that is not a string, as for a parsed event.
        serde_json::from_str::<Text<'_>>(uid.get())
            .ok()
            .map(|t| t.0)
    }

    /// The event's `time` (see [`event_time`](super::event_time), which it
    /// agrees with: milliseconds as an integer or a string of one).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        let time = field(self.as_str(), "time")?.get();
        let ms: i64 = if time.starts_with('"') {
            serde_json::from_str::<Text<'_>>(time)
                .ok()?
                .0
                .parse()
                .ok()?
        } else {
            // A number's text: an integer parses as `Value::as_i64` reads
            // it; a fraction, an exponent or a wider integer does not, nor
            // `-0`, which `serde_json` keeps as a float for its sign.
            if time == "-0" {
                return None;
            }
            time.parse().ok()?
        };
        DateTime::from_timestamp_millis(ms)
    }
}

/// The value of `key` in the JSON object `json`, its last occurrence (as a
/// parsed value keeps), every other member skipped unparsed. Each field is
/// looked up on its own, so a field of an unexpected type or a repeated key
/// elsewhere cannot hide it.
fn field<'a>(json: &'a str, key: &str) -> Option<&'a RawValue> {
    let mut de = serde_json::Deserializer::from_str(json);
    de::Deserializer::deserialize_map(&mut de, FieldVisitor { key }).ok()?
}

struct FieldVisitor<'k> {
    key: &'k str,
}

impl<'de> Visitor<'de> for FieldVisitor<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.0 == self.key {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A string borrowed from the event unless it has escapes (serde borrows a
/// `Cow<str>` only as a field of its own with `borrow`).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
impl RawEvent {
    /// An event of any text, unchecked: for tests of what consumes events.
    pub(crate) fn unchecked(text: &str) -> Self {
        RawEvent {
            page: text.into(),
            range: 0..text.len(),
        }
    }
}

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

    #[test]
    fn uid_and_time_agree_with_the_parsed_event_field_by_field() {
        let cases = [
            // A uid that is not a string hides neither field's neighbour.
            r#"{"metadata": {"uid": 5}, "time": 1700000000000}"#,
            r#"{"metadata": "x", "time": "1700000000001"}"#,
            r#"{"metadata": {"uid": "a"}, "time": {"ms": 1}}"#,
            // Repeated keys: the last one counts, as in a parsed value.
            r#"{"time": 1, "metadata": {"uid": "a", "uid": "b"}, "time": 2}"#,
            r#"{"metadata": {"uid": "a"}, "metadata": {"other": 1}, "time": 3}"#,
            // Escaped keys and values, fractions, exponents, wide integers.
            r#"{"tim\u0065": "\u0031\u0032", "metadata": {"u\u0069d": "x\u0079"}}"#,
            r#"{"time": 1.5, "metadata": {"uid": null}}"#,
            r#"{"time": 1e3}"#,
            r#"{"time": 18446744073709551615}"#,
            r#"{"time": -0, "metadata": {"uid": ""}}"#,
            r#"{"time": " 12"}"#,
            "{}",
        ];
        for json in cases {
            let p = page(&format!(r#"{{"list": [{json}]}}"#));
            let event = &p.events()[0];
            let value = event.to_value().unwrap();
            assert_eq!(
                event.uid().as_deref(),
                super::super::event_uid(&value),
                "{json}"
            );
            assert_eq!(event.time(), super::super::event_time(&value), "{json}");
        }
        let p = page(r#"{"list": [{"metadata": {"uid": 5}, "time": 1700000000000}]}"#);
        assert_eq!(
            p.events()[0].time().unwrap().timestamp_millis(),
            1_700_000_000_000
        );
        let p = page(r#"{"list": [{"time": 1, "metadata": {"uid": "a", "uid": "b"}, "time": 2}]}"#);
        assert_eq!(p.events()[0].uid().as_deref(), Some("b"));
        assert_eq!(p.events()[0].time().unwrap().timestamp_millis(), 2);
    }

    /// An event nested `depth` levels deep (the event itself is one).
    fn nested(depth: usize) -> String {
        format!(
            r#"{{"metadata": {{"uid": "deep"}}, "x": {}1{}}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn events_past_the_value_parsers_limits_pass_as_text() {
        // The deepest event that parses on its own passes, whole.
        let p = page(&format!(r#"{{"list": [{}]}}"#, nested(127)));
        assert!(p.events()[0].to_value().is_ok());
        assert_eq!(p.events()[0].uid().as_deref(), Some("deep"));
        for event in [
            nested(128),
            nested(200),
            r#"{"metadata": {"uid": "deep"}, "a": 1e400}"#.to_string(),
            format!(
                r#"{{"metadata": {{"uid": "deep"}}, "a": {}}}"#,
                "9".repeat(400)
            ),
        ] {
            assert!(serde_json::from_str::<Value>(&event).is_err());
            let p = page(&format!(
                r#"{{"list": [{{"metadata": {{"uid": "ok"}}}}, {event}]}}"#
            ));
            let e = &p.events()[1];
            // Handed on as sent, with its uid; only a value is refused.
            assert_eq!(e.as_str(), event);
            assert_eq!(e.uid().as_deref(), Some("deep"));
            let err = e.to_value().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Decode, "{err}");
        }
    }
}
