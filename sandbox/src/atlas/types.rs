//! The emulator's own vocabulary for Atlas requests (host log names, time
//! windows), so it needs none of the client's types.

use chrono::{DateTime, Utc};

/// A cluster host log, as the `logName` path segment names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogName {
    /// `mongodb`.
    Mongodb,
    /// `mongos`.
    Mongos,
    /// `mongodb-audit-log`.
    MongodbAuditLog,
    /// `mongos-audit-log`.
    MongosAuditLog,
}

impl LogName {
    /// Every log name Atlas serves.
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

    /// Whether the log holds audit records rather than server log lines.
    pub fn is_audit(self) -> bool {
        matches!(self, LogName::MongodbAuditLog | LogName::MongosAuditLog)
    }

    /// The log name for a wire value.
    pub fn parse(s: &str) -> Option<LogName> {
        LogName::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for LogName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A window of log time, start inclusive, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}
