//! Hand-written request and response types of the Atlas layer.
//!
//! Responses are open: Atlas adds event types and fields often, so every
//! struct keeps the fields it does not name in `extra`, and nothing is a
//! closed enum that a new server value could break.

pub use crate::TimeRange;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which log of a cluster host to download (`logName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogName {
    /// `mongodb`: the mongod diagnostic log.
    Mongodb,
    /// `mongos`: the mongos diagnostic log.
    Mongos,
    /// `mongodb-audit-log`: the mongod audit log (database auditing must be on).
    MongodbAuditLog,
    /// `mongos-audit-log`: the mongos audit log.
    MongosAuditLog,
}

impl LogName {
    /// Every value, in the spec's order.
    pub const ALL: [LogName; 4] = [
        LogName::Mongodb,
        LogName::Mongos,
        LogName::MongodbAuditLog,
        LogName::MongosAuditLog,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            LogName::Mongodb => "mongodb",
            LogName::Mongos => "mongos",
            LogName::MongodbAuditLog => "mongodb-audit-log",
            LogName::MongosAuditLog => "mongos-audit-log",
        }
    }

    /// Whether this is an audit log (JSON audit records rather than
    /// structured diagnostic log lines).
    pub fn is_audit(self) -> bool {
        matches!(self, LogName::MongodbAuditLog | LogName::MongosAuditLog)
    }
}

impl fmt::Display for LogName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogName {
    type Err = Error;
    /// Parses a wire value; anything else is `InvalidInput`.
    fn from_str(s: &str) -> Result<Self> {
        LogName::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                Error::invalid_input(
                    "logName",
                    format!(
                        "`{s}` is not one of mongodb, mongos, mongodb-audit-log, mongos-audit-log"
                    ),
                )
            })
    }
}

impl TryFrom<&str> for LogName {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

/// Options for stream processing log downloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamLogOptions {
    pub(crate) processor: Option<String>,
}

impl StreamLogOptions {
    /// Only the logs of this stream processor (`spName`); the default is
    /// every processor of the workspace.
    pub fn processor(mut self, name: impl Into<String>) -> Self {
        self.processor = Some(name.into());
        self
    }
}

/// Filters for project and organization events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub(crate) event_types: Vec<String>,
    pub(crate) excluded_event_types: Vec<String>,
    pub(crate) cluster_names: Vec<String>,
    pub(crate) min_date: Option<DateTime<Utc>>,
    pub(crate) max_date: Option<DateTime<Utc>>,
    pub(crate) items_per_page: Option<u32>,
    pub(crate) include_raw: bool,
}

impl EventQuery {
    /// Only events of this type (repeatable), e.g. `JOINED_GROUP`.
    pub fn event_type(mut self, t: impl Into<String>) -> Self {
        self.event_types.push(t.into());
        self
    }

    /// Leave out events of this type (project events only; repeatable).
    pub fn exclude_event_type(mut self, t: impl Into<String>) -> Self {
        self.excluded_event_types.push(t.into());
        self
    }

    /// Only events about this cluster (project events only; repeatable).
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_names.push(name.into());
        self
    }

    /// Events created in `range`: [`since`](Self::since) its start and
    /// [`until`](Self::until) its end.
    pub fn range(self, range: TimeRange) -> Self {
        self.since(range.start).until(range.end)
    }

    /// Events created at or after `t` (`minDate`).
    pub fn since(mut self, t: DateTime<Utc>) -> Self {
        self.min_date = Some(t);
        self
    }

    /// Events created before `t` (`maxDate`).
    pub fn until(mut self, t: DateTime<Utc>) -> Self {
        self.max_date = Some(t);
        self
    }

    /// Events per request, 1 to 500 (default 100).
    pub fn items_per_page(mut self, n: u32) -> Self {
        self.items_per_page = Some(n);
        self
    }

    /// Ask for the `raw` document of each event too.
    pub fn include_raw(mut self, yes: bool) -> Self {
        self.include_raw = yes;
        self
    }
}

/// Filters for the database access history of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessHistoryQuery {
    pub(crate) range: Option<TimeRange>,
    pub(crate) n_logs: Option<u32>,
    pub(crate) auth_result: Option<bool>,
    pub(crate) ip_address: Option<String>,
}

impl AccessHistoryQuery {
    /// Only attempts in this window (sent as milliseconds).
    pub fn range(mut self, range: TimeRange) -> Self {
        self.range = Some(range);
        self
    }

    /// At most this many entries, 0 to 20000 (the server's default is 20000).
    pub fn limit(mut self, n: u32) -> Self {
        self.n_logs = Some(n);
        self
    }

    /// Only successful (`true`) or failed (`false`) attempts.
    pub fn auth_result(mut self, ok: bool) -> Self {
        self.auth_result = Some(ok);
        self
    }

    /// Only attempts from this address.
    pub fn ip_address(mut self, ip: impl Into<String>) -> Self {
        self.ip_address = Some(ip.into());
        self
    }
}

/// One project or organization event. The event type set changes often,
/// so only the common fields are named; the rest stays in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Event {
    /// The event id.
    #[serde(default)]
    pub id: String,
    /// The event type, e.g. `JOINED_GROUP` (an open set).
    #[serde(default)]
    pub event_type_name: String,
    /// When the event happened (`None` if absent or not a date: one odd
    /// event must not break a whole listing).
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<DateTime<Utc>>,
    /// The project, for project events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One MongoDB process (host) of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Process {
    /// `hostname:port`.
    #[serde(default)]
    pub id: String,
    /// The host name: what [`Client::download_cluster_log`](super::Client::download_cluster_log) takes.
    #[serde(default)]
    pub hostname: String,
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `REPLICA_PRIMARY`, `SHARD_MONGOS`, … (an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// The replica set, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_set_name: Option<String>,
    /// The shard, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_name: Option<String>,
    /// The MongoDB version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A stream processing workspace (Atlas calls it a tenant in paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StreamWorkspace {
    /// The workspace id.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The workspace name: what the stream log downloads take.
    #[serde(default)]
    pub name: String,
    /// The project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Connection host names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One database authentication attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AccessLogEntry {
    /// Whether the attempt succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_result: Option<bool>,
    /// The authentication database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_source: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The host that logged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// The raw log line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_line: Option<String>,
    /// When, as the server formats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The database user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An RFC 3339 time if the value is one, else `None`.
fn lenient_time<'de, D>(d: D) -> std::result::Result<Option<DateTime<Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_parse_and_reject() {
        for l in LogName::ALL {
            assert_eq!(l.as_str().parse::<LogName>().unwrap(), l);
        }
        let e = "mongod".parse::<LogName>().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    }

    #[test]
    fn events_keep_unknown_fields_and_types() {
        let raw = serde_json::json!({
            "id": "1", "eventTypeName": "SOMETHING_NEW_2031", "created": "2024-05-01T10:00:00Z",
            "groupId": "g", "brandNewField": {"x": 1}
        });
        let e: Event = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(e.event_type_name, "SOMETHING_NEW_2031");
        assert_eq!(e.extra["brandNewField"]["x"], 1);
        assert_eq!(serde_json::to_value(&e).unwrap(), raw);

        for created in [serde_json::json!("yesterday"), serde_json::json!(17)] {
            let e: Event = serde_json::from_value(serde_json::json!({
                "id": "2", "eventTypeName": "X", "created": created
            }))
            .unwrap();
            assert_eq!((e.id.as_str(), e.created), ("2", None));
        }
    }

    #[test]
    fn absurd_durations_make_an_invalid_window_instead_of_a_panic() {
        let r = TimeRange::last(std::time::Duration::from_secs(u64::MAX));
        assert_eq!(r.start, DateTime::<Utc>::MIN_UTC);
        let r = TimeRange::last(std::time::Duration::from_secs(1 << 50));
        assert_eq!(r.start, DateTime::<Utc>::MIN_UTC);
        let e = crate::atlas::validate::window_secs(&r).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        let r = TimeRange::last(std::time::Duration::from_secs(3600));
        assert_eq!((r.end - r.start).num_seconds(), 3600);
    }
}
