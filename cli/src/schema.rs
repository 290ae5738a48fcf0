//! `logexport schema KIND`: the JSON Schema of each kind of NDJSON record
//! the CLI writes, so a SIEM's field mapping can be written (and checked)
//! against it instead of against sample lines.
//!
//! Listings are the library's own types, which derive `JsonSchema`, so the
//! schema and the serializer cannot drift. Log lines pass through as the
//! vendor wrote them; their schemas describe the fields the vendor
//! documents and leave every other field open.

use schemars::{schema_for, JsonSchema};
use serde_json::Value;
use std::collections::BTreeMap;

/// A kind of record, named after the command that writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `atlas stream-audit-logs`: one stream processing audit event per line.
    AtlasStreamAuditLog,
    /// `atlas cluster-logs --log mongodb-audit-log|mongos-audit-log`.
    AtlasAuditLog,
    /// `atlas cluster-logs --log mongodb|mongos`: structured diagnostic log lines.
    AtlasHostLog,
    /// `atlas events`.
    AtlasEvent,
    /// `atlas processes`.
    AtlasProcess,
    /// `c1 events`: OCSF events.
    C1Event,
    /// `c1 exporters list|get|create|update`.
    C1Exporter,
    /// `cls export`: one log record per line.
    ClsRecord,
    /// `cls exports`.
    ClsExport,
    /// `cls topics`.
    ClsTopic,
}

impl Kind {
    /// The schema, as JSON.
    pub fn schema(self) -> Value {
        let root = match self {
            Kind::AtlasStreamAuditLog => schema_for!(StreamAuditRecord),
            Kind::AtlasAuditLog => schema_for!(AuditRecord),
            Kind::AtlasHostLog => schema_for!(HostLogRecord),
            Kind::AtlasEvent => schema_for!(logexport::atlas::Event),
            Kind::AtlasProcess => schema_for!(logexport::atlas::Process),
            Kind::C1Event => schema_for!(OcsfEvent),
            Kind::C1Exporter => schema_for!(logexport::conductorone::Exporter),
            Kind::ClsRecord => schema_for!(ClsRecord),
            Kind::ClsExport => schema_for!(logexport::tencent_cls::Export),
            Kind::ClsTopic => schema_for!(logexport::tencent_cls::Topic),
        };
        serde_json::to_value(root).expect("a schema is plain JSON")
    }
}

/// The schema of `kind` as `logexport schema` prints it.
pub fn render(kind: Kind) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(&kind.schema()).expect("a schema is plain JSON");
    out.push(b'\n');
    out
}

/// MongoDB Extended JSON date: `{"$date": "2026-11-24T06:00:00.000Z"}`.
#[allow(dead_code)] // Read only by schemars: the CLI never builds one.
#[derive(JsonSchema)]
struct ExtendedDate {
    #[serde(rename = "$date")]
    date: String,
}

/// A network endpoint of an audit event.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct AuditEndpoint {
    ip: Option<String>,
    port: Option<u16>,
    /// A Unix domain socket path, instead of ip and port.
    unix: Option<String>,
}

/// A user (`user`, `db`) or role (`role`, `db`) named in an audit event.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct AuditPrincipal {
    user: Option<String>,
    role: Option<String>,
    db: String,
}

/// One MongoDB audit event, as the server writes it in JSON.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct AuditRecord {
    /// The action, e.g. `authenticate`, `authCheck`, `createCollection`.
    atype: String,
    /// When it happened.
    ts: ExtendedDate,
    /// The event's UUID (Extended JSON binary), when the server adds one.
    uuid: Option<Value>,
    /// The server's endpoint.
    local: AuditEndpoint,
    /// The client's endpoint.
    remote: AuditEndpoint,
    /// The authenticated users.
    users: Vec<AuditPrincipal>,
    /// Their roles.
    roles: Vec<AuditPrincipal>,
    /// Action-specific details.
    param: BTreeMap<String, Value>,
    /// The error code; 0 is success.
    result: i64,
    /// Any field a newer server adds.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// One stream processing audit event: a MongoDB audit event, with the
/// stream processor it concerns.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct StreamAuditRecord {
    #[serde(flatten)]
    event: AuditRecord,
    /// The stream processor's name, for processor actions.
    #[serde(rename = "spName")]
    sp_name: Option<String>,
}

/// One line of MongoDB's structured (JSON) diagnostic log.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct HostLogRecord {
    /// When it was written.
    t: ExtendedDate,
    /// Severity: `F`, `E`, `W`, `I`, or `D1`–`D5`.
    s: String,
    /// The component, e.g. `NETWORK`, `ACCESS`, `COMMAND`.
    c: String,
    /// The message's stable id.
    id: Option<i64>,
    /// The thread or connection, e.g. `conn1234`.
    ctx: String,
    /// The message text.
    msg: String,
    /// The message's attributes.
    attr: Option<BTreeMap<String, Value>>,
    /// Tags such as `startupWarnings`.
    tags: Option<Vec<String>>,
    /// What was cut from an oversized line.
    truncated: Option<Value>,
    /// The sizes of truncated attributes.
    size: Option<Value>,
    /// Any field a newer server adds.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// The metadata every OCSF event carries.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct OcsfMetadata {
    /// The event's unique id; logexport's checkpoints resume after it.
    uid: String,
    /// The OCSF schema version.
    version: Option<String>,
    /// When the product logged it (ms since the epoch).
    logged_time: Option<i64>,
    /// Any other metadata.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// One ConductorOne system log event, an OCSF event object. The fields
/// named here are OCSF's base attributes; each event class adds its own.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct OcsfEvent {
    /// When it happened (ms since the epoch); logexport windows by it.
    time: i64,
    /// Ids and versions.
    metadata: OcsfMetadata,
    /// The event class, e.g. 6003 (API Activity).
    class_uid: Option<i64>,
    /// The category, e.g. 6 (Application Activity).
    category_uid: Option<i64>,
    /// The activity within the class.
    activity_id: Option<i64>,
    /// `class_uid * 100 + activity_id`.
    type_uid: Option<i64>,
    /// 0 unknown … 6 fatal.
    severity_id: Option<i64>,
    /// 0 unknown, 1 success, 2 failure.
    status_id: Option<i64>,
    /// A human-readable summary.
    message: Option<String>,
    /// Class-specific attributes (`actor`, `api`, `src_endpoint`, …).
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// One CLS log record from an export, JSON or CSV alike: the log's time,
/// CLS's reserved fields, and the topic's own fields as strings.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct ClsRecord {
    /// The log time (ms since the epoch): a number from JSON exports, a
    /// string of digits from CSV ones.
    #[serde(rename = "__TIMESTAMP__")]
    timestamp: Value,
    /// The collecting machine's address.
    #[serde(rename = "__SOURCE__")]
    source: Option<String>,
    /// The file the log was collected from.
    #[serde(rename = "__FILENAME__")]
    file_name: Option<String>,
    /// The collecting machine's name.
    #[serde(rename = "__HOSTNAME__")]
    host_name: Option<String>,
    /// The raw line, for topics without field extraction.
    #[serde(rename = "__CONTENT__")]
    content: Option<String>,
    /// The topic's fields.
    #[serde(flatten)]
    fields: BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum as _;

    #[test]
    fn every_kind_has_a_titled_object_schema() {
        for kind in Kind::value_variants() {
            let schema = kind.schema();
            assert_eq!(schema["type"], "object", "{kind:?}");
            assert!(schema["title"].is_string(), "{kind:?}: {schema}");
            assert!(schema["properties"].is_object(), "{kind:?}");
        }
    }

    #[test]
    fn listings_use_the_vendors_field_names() {
        let export = Kind::ClsExport.schema();
        for key in ["ExportId", "From", "To", "Status"] {
            assert!(export["properties"].get(key).is_some(), "{key}: {export}");
        }
        assert!(export["properties"].get("CosPath").is_none());
        let exporter = Kind::C1Exporter.schema();
        assert!(exporter["properties"].get("exportId").is_some());
        let event = Kind::AtlasEvent.schema();
        assert!(event["properties"].get("eventTypeName").is_some());
    }
}
