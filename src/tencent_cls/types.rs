//! The hand-written request and result types of the CLS client.
//!
//! They wrap the generated ones (`generated::types`) where those are too
//! loose: closed enums for the values CLS accepts ([`Format`], [`Order`],
//! [`SyntaxRule`]), an open one for what it reports ([`ExportStatus`]), and
//! checks of every input the service would otherwise reject after a round
//! trip ([`ExportParams::validate`]).

use super::generated::types as gen;
pub use crate::TimeRange;
use crate::{Error, Result};
use std::fmt;

/// The largest `Count` CreateExport accepts.
pub const MAX_EXPORT_COUNT: u64 = 50_000_000;

/// The largest `Limit` DescribeExports and DescribeTopics accept.
pub const MAX_PAGE_LIMIT: u32 = 100;

/// The largest `Limit` SearchLog accepts.
pub const MAX_SEARCH_LIMIT: u32 = 1000;

/// The wire value of a closed enum: `as_str`, `Display`, the generated
/// type's twin, and a `FromStr` (any case) whose error names the field and
/// the values allowed.
macro_rules! wire_enum {
    ($name:ident, $field:literal, $gen:ident { $($variant:ident = $wire:literal),+ }) => {
        impl $name {
            /// The wire value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            fn to_gen(self) -> gen::$gen {
                match self {
                    $($name::$variant => gen::$gen::$variant,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(Error::invalid_input(
                        $field,
                        format!("`{s}` is not one of {}", [$($wire),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

wire_enum!(Format, "format", CreateExportRequestFormat { Json = "json", Csv = "csv" });

/// The order of records in an export or a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the service's default).
    #[default]
    Desc,
}

wire_enum!(Order, "order", CreateExportRequestOrder { Asc = "asc", Desc = "desc" });

/// The query language. The documentation disagrees on the default, so the
/// client always sends one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SyntaxRule {
    /// Lucene syntax (`0`).
    #[default]
    Lucene,
    /// CLS Query Language (`1`).
    Cql,
}

impl SyntaxRule {
    /// The wire value.
    pub fn as_u64(self) -> u64 {
        match self {
            SyntaxRule::Lucene => 0,
            SyntaxRule::Cql => 1,
        }
    }
}

/// Checks a window as CLS wants it (`from < to`, both after the epoch) and
/// returns it in milliseconds.
pub(crate) fn range_ms(range: &TimeRange) -> Result<(i64, i64)> {
    let (from_ms, to_ms) = (range.start_ms(), range.end_ms());
    if from_ms < 0 {
        return Err(Error::invalid_input("from", "must not be before 1970"));
    }
    if from_ms >= to_ms {
        return Err(Error::invalid_input(
            "from",
            format!("must be before `to` (from {from_ms} ms, to {to_ms} ms)"),
        ));
    }
    Ok((from_ms, to_ms))
}

/// What to export: everything CreateExport takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportParams {
    /// The log topic.
    pub topic_id: String,
    /// The search statement; `*` for everything.
    pub query: String,
    /// The time range.
    pub range: TimeRange,
    /// The most records to export, 1 ..= [`MAX_EXPORT_COUNT`].
    pub count: u64,
    /// The file format.
    pub format: Format,
    /// The record order.
    pub order: Order,
    /// The query language.
    pub syntax_rule: SyntaxRule,
    /// Extra derived fields to include.
    pub derived_fields: Vec<String>,
}

impl ExportParams {
    /// Defaults: as many records as the service allows, JSON, newest first,
    /// Lucene syntax.
    pub fn new(topic_id: impl Into<String>, query: impl Into<String>, range: TimeRange) -> Self {
        ExportParams {
            topic_id: topic_id.into(),
            query: query.into(),
            range,
            count: MAX_EXPORT_COUNT,
            format: Format::Json,
            order: Order::Desc,
            syntax_rule: SyntaxRule::Lucene,
            derived_fields: Vec::new(),
        }
    }

    /// Checks everything CreateExport would reject.
    pub fn validate(&self) -> Result<()> {
        check_topic_id(&self.topic_id)?;
        if self.query.trim().is_empty() {
            return Err(Error::invalid_input(
                "query",
                "is empty; use `*` to export everything",
            ));
        }
        range_ms(&self.range)?;
        check_within("count", self.count, MAX_EXPORT_COUNT)
    }

    pub(crate) fn to_request(&self) -> gen::CreateExportRequest {
        gen::CreateExportRequest {
            count: self.count,
            derived_fields: self.derived_fields.clone(),
            format: Some(self.format.to_gen()),
            from: self.range.start_ms(),
            order: Some(self.order.to_gen()),
            query: self.query.clone(),
            // Always sent: the documented defaults disagree.
            syntax_rule: Some(self.syntax_rule.as_u64()),
            to: self.range.end_ms(),
            topic_id: self.topic_id.clone(),
        }
    }
}

/// Checks that `value` is in `1..=max`, naming `field` if not.
pub(crate) fn check_within<T>(field: &str, value: T, max: T) -> Result<()>
where
    T: PartialOrd + From<u8> + fmt::Display,
{
    if value < T::from(1) || value > max {
        return Err(Error::invalid_input(
            field,
            format!("{value} is outside 1..={max}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_export_id(export_id: &str) -> Result<()> {
    if export_id.trim().is_empty() {
        return Err(Error::invalid_input("export_id", "is empty"));
    }
    Ok(())
}

pub(crate) fn check_topic_id(topic_id: &str) -> Result<()> {
    if topic_id.trim().is_empty() {
        return Err(Error::invalid_input("topic_id", "is empty"));
    }
    if topic_id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid_input("topic_id", "contains whitespace"));
    }
    Ok(())
}

/// The state of an export task. Open: values this crate does not know yet
/// arrive as [`ExportStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportStatus {
    /// Waiting to start.
    Queuing,
    /// Running.
    Processing,
    /// Done; the file can be downloaded.
    Completed,
    /// The task failed.
    Failed,
    /// The task is older than its retention (3 days); the file is gone.
    Expired,
    /// A status this crate does not know.
    Other(String),
}

impl serde::Serialize for ExportStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A string: the values this crate knows, or a newer one.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for ExportStatus {
    fn schema_name() -> String {
        "ExportStatus".to_string()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let mut schema = schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            ..Default::default()
        };
        schema.metadata().description = Some(
            "An open set; known values: Queuing, Processing, Completed, Failed, Expired".into(),
        );
        schema.into()
    }
}

impl ExportStatus {
    /// Parses the wire value.
    pub fn parse(s: &str) -> Self {
        match s {
            "Queuing" => ExportStatus::Queuing,
            "Processing" => ExportStatus::Processing,
            "Completed" => ExportStatus::Completed,
            "Failed" => ExportStatus::Failed,
            "Expired" => ExportStatus::Expired,
            other => ExportStatus::Other(other.to_string()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            ExportStatus::Queuing => "Queuing",
            ExportStatus::Processing => "Processing",
            ExportStatus::Completed => "Completed",
            ExportStatus::Failed => "Failed",
            ExportStatus::Expired => "Expired",
            ExportStatus::Other(s) => s,
        }
    }

    /// Whether the task will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ExportStatus::Completed | ExportStatus::Failed | ExportStatus::Expired
        )
    }
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One export task as DescribeExports reports it. It serializes with CLS's
/// own field names (`ExportId`, `From`, …), without the download URL: that
/// grants access by itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Export {
    /// The task id.
    pub export_id: String,
    /// The topic.
    pub topic_id: Option<String>,
    /// Where the task is in its life.
    pub status: ExportStatus,
    /// The search statement.
    pub query: Option<String>,
    /// Start of the range (ms).
    #[serde(rename = "From")]
    pub from_ms: Option<i64>,
    /// End of the range (ms).
    #[serde(rename = "To")]
    pub to_ms: Option<i64>,
    /// Requested record count.
    pub count: Option<u64>,
    /// File format (`json`, `csv`).
    pub format: Option<String>,
    /// Record order (`asc`, `desc`).
    pub order: Option<String>,
    /// The file's name, e.g. `…​.tar.gz`.
    pub file_name: Option<String>,
    /// The file's size in bytes.
    pub file_size: Option<u64>,
    /// When the task was created, as the service formats it.
    pub create_time: Option<String>,
    /// The query language (0 Lucene, 1 CQL).
    pub syntax_rule: Option<u64>,
    /// The `CosPath`.
    #[serde(skip)]
    download_url: Option<SignedUrl>,
}

/// A pre-signed URL. Its query is the signature, so `Debug` shows only
/// that there is one.
#[derive(Clone, PartialEq, Eq)]
struct SignedUrl(String);

impl fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once('?') {
            Some((path, _)) => write!(f, "{:?}", format!("{path}?***")),
            None => write!(f, "{:?}", self.0),
        }
    }
}

impl Export {
    /// The pre-signed download URL (valid for about an hour after it was
    /// described). It grants access by itself: do not log it.
    pub fn download_url(&self) -> Option<&str> {
        self.download_url.as_ref().map(|u| u.0.as_str())
    }

    /// The file format, if it is one this crate knows.
    pub fn file_format(&self) -> Option<Format> {
        self.format.as_deref().and_then(|f| f.parse().ok())
    }

    pub(crate) fn from_gen(info: gen::ExportInfo) -> Option<Self> {
        Some(Export {
            export_id: info.export_id?,
            topic_id: info.topic_id,
            status: ExportStatus::parse(info.status.as_deref().unwrap_or("")),
            query: info.query,
            from_ms: info.from,
            to_ms: info.to,
            count: info.count,
            format: info.format,
            order: info.order,
            file_name: info.file_name,
            file_size: info.file_size,
            create_time: info.create_time,
            syntax_rule: info.syntax_rule,
            download_url: info.cos_path.filter(|u| !u.is_empty()).map(SignedUrl),
        })
    }
}

/// One page of DescribeExports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExportPage {
    /// The tasks on this page, newest first.
    pub exports: Vec<Export>,
    /// How many tasks the topic has in total.
    pub total_count: u64,
    /// The request id of the call.
    pub request_id: String,
}

/// A log topic. It serializes with CLS's own field names (`TopicId`, …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Topic {
    /// The topic id, what every other call takes.
    pub topic_id: String,
    /// The display name.
    pub topic_name: Option<String>,
    /// The logset the topic belongs to.
    pub logset_id: Option<String>,
    /// When it was created, as the service formats it.
    pub create_time: Option<String>,
    /// Whether collection is on.
    pub status: Option<bool>,
    /// Whether the topic is indexed (searchable).
    pub index: Option<bool>,
    /// `hot` or `cold` storage.
    pub storage_type: Option<String>,
    /// Retention in days.
    pub period: Option<i64>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub describes: Option<String>,
}

impl Topic {
    pub(crate) fn from_gen(t: gen::TopicInfo) -> Option<Self> {
        Some(Topic {
            topic_id: t.topic_id?,
            topic_name: t.topic_name,
            logset_id: t.logset_id,
            create_time: t.create_time,
            status: t.status,
            index: t.index,
            storage_type: t.storage_type,
            period: t.period,
            describes: t.describes,
        })
    }
}

/// Which topics DescribeTopics returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicFilter {
    /// Topics whose name contains this (or equals it, with `precise`).
    pub name: Option<String>,
    /// Only this topic id.
    pub topic_id: Option<String>,
    /// Only topics of this logset.
    pub logset_id: Option<String>,
    /// Match `name` exactly.
    pub precise: bool,
}

impl TopicFilter {
    pub(crate) fn to_filters(&self) -> Vec<gen::Filter> {
        let mut out = Vec::new();
        let mut push = |key: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push(gen::Filter {
                    key: key.to_string(),
                    values: vec![v.clone()],
                });
            }
        };
        push("topicName", &self.name);
        push("topicId", &self.topic_id);
        push("logsetId", &self.logset_id);
        out
    }
}

/// One page of DescribeTopics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TopicPage {
    /// The topics on this page.
    pub topics: Vec<Topic>,
    /// How many topics match in total.
    pub total_count: u64,
    /// The request id of the call.
    pub request_id: String,
}

/// A SearchLog query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// The topic.
    pub topic_id: String,
    /// The search statement; `*` for everything.
    pub query: String,
    /// The time range.
    pub range: TimeRange,
    /// Results per page, 1 ..= [`MAX_SEARCH_LIMIT`].
    pub limit: u32,
    /// Newest or oldest first.
    pub order: Order,
    /// The query language.
    pub syntax_rule: SyntaxRule,
    /// Where the previous page ended (`SearchPage::context`).
    pub context: Option<String>,
}

impl SearchParams {
    /// 100 results per page, newest first, Lucene syntax.
    pub fn new(topic_id: impl Into<String>, query: impl Into<String>, range: TimeRange) -> Self {
        SearchParams {
            topic_id: topic_id.into(),
            query: query.into(),
            range,
            limit: 100,
            order: Order::Desc,
            syntax_rule: SyntaxRule::Lucene,
            context: None,
        }
    }

    /// Checks everything SearchLog would reject.
    pub fn validate(&self) -> Result<()> {
        check_topic_id(&self.topic_id)?;
        range_ms(&self.range)?;
        check_within("limit", self.limit, MAX_SEARCH_LIMIT)
    }

    pub(crate) fn to_request(&self) -> gen::SearchLogRequest {
        gen::SearchLogRequest {
            context: self.context.clone(),
            from: self.range.start_ms(),
            high_light: None,
            limit: Some(i64::from(self.limit)),
            offset: None,
            query_string: Some(self.query.clone()),
            query_syntax: Some(self.syntax_rule.as_u64()),
            sampling_rate: None,
            sort: Some(self.order.as_str().to_string()),
            to: self.range.end_ms(),
            topic_id: Some(self.topic_id.clone()),
            topics: Vec::new(),
            use_new_analysis: None,
        }
    }
}

/// One log from SearchLog.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogEntry {
    /// The log time (ms).
    pub time_ms: i64,
    /// The topic it came from.
    pub topic_id: Option<String>,
    /// The source IP.
    pub source: Option<String>,
    /// The file it was collected from.
    pub file_name: Option<String>,
    /// The host it was collected on.
    pub host_name: Option<String>,
    /// The log's fields (`LogJson` parsed), or the raw log as a string.
    pub fields: serde_json::Value,
    /// The log package it was collected in.
    pub pkg_id: Option<String>,
    /// Its index within that package: with `pkg_id`, what tells apart logs
    /// of the same millisecond.
    pub pkg_log_id: Option<String>,
}

impl LogEntry {
    /// A log at `time_ms` with `fields` and nothing else known.
    pub fn new(time_ms: i64, fields: serde_json::Value) -> Self {
        LogEntry {
            time_ms,
            topic_id: None,
            source: None,
            file_name: None,
            host_name: None,
            fields,
            pkg_id: None,
            pkg_log_id: None,
        }
    }

    pub(crate) fn from_gen(info: gen::LogInfo) -> Self {
        let fields = match (info.log_json.as_deref(), info.raw_log) {
            (Some(json), _) if !json.is_empty() => serde_json::from_str(json)
                .unwrap_or_else(|_| serde_json::Value::String(json.to_string())),
            (_, Some(raw)) => serde_json::Value::String(raw),
            _ => serde_json::Value::Null,
        };
        LogEntry {
            time_ms: info.time.unwrap_or_default(),
            topic_id: info.topic_id,
            source: info.source,
            file_name: info.file_name,
            host_name: info.host_name,
            fields,
            pkg_id: info.pkg_id,
            pkg_log_id: info.pkg_log_id,
        }
    }
}

/// One page of SearchLog.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SearchPage {
    /// The logs on this page.
    pub results: Vec<LogEntry>,
    /// Pass back as [`SearchParams::context`] for the next page.
    pub context: Option<String>,
    /// Whether this was the last page.
    pub list_over: bool,
    /// The request id of the call.
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn params() -> ExportParams {
        ExportParams::new("topic-1", "*", TimeRange::from_millis(1_000, 2_000))
    }

    #[test]
    fn defaults_are_valid_and_always_send_syntax_rule() {
        let p = params();
        p.validate().unwrap();
        let body = serde_json::to_value(p.to_request()).unwrap();
        assert_eq!(body["SyntaxRule"], 0);
        assert_eq!(body["Format"], "json");
        assert_eq!(body["Order"], "desc");
        assert_eq!(body["Count"], MAX_EXPORT_COUNT);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Edit = fn(&mut ExportParams);
        let cases: Vec<(&str, Edit)> = vec![
            ("topic_id", (|p| p.topic_id = " ".into())),
            ("query", (|p| p.query = String::new())),
            ("from", (|p| p.range = TimeRange::from_millis(2_000, 2_000))),
            ("from", (|p| p.range = TimeRange::from_millis(3_000, 2_000))),
            ("count", (|p| p.count = 0)),
            ("count", (|p| p.count = MAX_EXPORT_COUNT + 1)),
        ];
        for (field, edit) in cases {
            let mut p = params();
            edit(&mut p);
            let err = p.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(field), "{err}");
        }
        let mut p = params();
        p.count = MAX_EXPORT_COUNT;
        p.validate().unwrap();
    }

    #[test]
    fn enums_parse_only_allowed_values() {
        assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(
            err.to_string().contains("`xml` is not one of json, csv"),
            "{err}"
        );
        assert_eq!("asc".parse::<Order>().unwrap(), Order::Asc);
        assert!("sideways".parse::<Order>().is_err());
    }

    #[test]
    fn status_is_open() {
        assert_eq!(ExportStatus::parse("Completed"), ExportStatus::Completed);
        assert!(ExportStatus::parse("Expired").is_terminal());
        assert_eq!(
            ExportStatus::parse("Paused"),
            ExportStatus::Other("Paused".into())
        );
        assert!(!ExportStatus::parse("Paused").is_terminal());
    }

    #[test]
    fn export_debug_hides_the_url_signature() {
        let info = gen::ExportInfo {
            export_id: Some("e1".into()),
            cos_path: Some("https://cos.example/e1.tar.gz?sign=SECRET".into()),
            ..Default::default()
        };
        let e = Export::from_gen(info).unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("e1.tar.gz?***"));
        assert_eq!(
            e.download_url(),
            Some("https://cos.example/e1.tar.gz?sign=SECRET")
        );
    }
}
