//! Deterministic demo data: log lines in the real formats, events,
//! processes, workspaces and access history.
//!
//! Everything is a pure function of its inputs (project, host or workspace,
//! time), so a test can ask for the lines of any window and compare.

use super::LogName;
use super::{DEMO_CLUSTER, DEMO_HOSTS, DEMO_ORG_ID, DEMO_PROCESSORS, DEMO_PUBLIC_KEY};
use chrono::DateTime;
use std::fmt::Write as _;

/// Logs exist from this time on (2020-01-01T00:00:00Z).
pub(super) const DATA_EPOCH: i64 = 1_577_836_800;
/// Rough bytes per generated line, for size estimates.
const EST_LINE_BYTES: u64 = 400;
/// Events of every project.
pub(super) const PROJECT_EVENTS: u32 = 257;
/// Events of the demo organization.
pub(super) const ORG_EVENTS: u32 = 83;

pub(super) fn iso(secs: i64, millis: i64) -> String {
    DateTime::from_timestamp(secs, (millis as u32) * 1_000_000)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

pub(super) fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

pub(super) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) fn object_id(parts: &[&str]) -> String {
    let h = hash(parts);
    format!("{:016x}{:08x}", mix(h, 1), mix(h, 2) as u32)
}

pub(super) fn workspace_json(group: &str, name: &str) -> serde_json::Value {
    let id = object_id(&[group, name]);
    serde_json::json!({
        "_id": id,
        "name": name,
        "groupId": group,
        "hostnames": [format!("atlas-stream-{}-x1y2z.virginia-usa.a.query.mongodb.net", &id[..12])],
        "dataProcessRegion": {"cloudProvider": "AWS", "region": "VIRGINIA_USA"},
        "streamConfig": {"tier": "SP30"},
        "links": [],
    })
}

pub(super) fn process_json(group: &str, host: &str, i: usize, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{host}:27017"),
        "hostname": host,
        "port": 27017,
        "typeName": if i == 0 { "REPLICA_PRIMARY" } else { "REPLICA_SECONDARY" },
        "replicaSetName": "atlas-x1y2z-shard-0",
        "userAlias": host,
        "version": "8.0.4",
        "groupId": group,
        "created": iso(1_704_067_200, 0),
        "lastPing": iso(now - 7, 0),
        "links": [],
    })
}

const PROJECT_EVENT_TYPES: [&str; 8] = [
    "JOINED_GROUP",
    "CLUSTER_UPDATE_SUBMITTED",
    "MONGODB_LOGS_DOWNLOADED",
    "API_KEY_ACCESS_LIST_ENTRY_ADDED",
    "PRIMARY_ELECTED",
    "DATA_EXPLORER",
    "MONGODB_USER_ADDED",
    "STREAM_PROCESSOR_STARTED",
];
const ORG_EVENT_TYPES: [&str; 5] = [
    "JOINED_ORG",
    "INVITED_TO_ORG",
    "ORG_API_KEY_ADDED",
    "GROUP_CREATED",
    "SERVICE_ACCOUNT_CREATED",
];
/// Events count back from this instant (2026-01-01T00:00:00Z).
const EVENT_ANCHOR: i64 = 1_767_225_600;

pub(super) fn event_json(group: Option<&str>, i: u32) -> serde_json::Value {
    let scope = group.unwrap_or(DEMO_ORG_ID);
    let h = mix(hash(&[scope, "event"]), u64::from(i));
    let created = EVENT_ANCHOR - i64::from(i) * 3_917 - (h % 600) as i64;
    let kind = if group.is_some() {
        PROJECT_EVENT_TYPES[(h >> 8) as usize % PROJECT_EVENT_TYPES.len()]
    } else {
        ORG_EVENT_TYPES[(h >> 8) as usize % ORG_EVENT_TYPES.len()]
    };
    let mut e = serde_json::json!({
        "id": object_id(&[scope, "event", &i.to_string()]),
        "created": iso(created, 0),
        "eventTypeName": kind,
        "orgId": DEMO_ORG_ID,
        "isGlobalAdmin": false,
        "links": [],
    });
    if let Some(g) = group {
        e["groupId"] = g.into();
    }
    let user =
        ["ada@example.com", "grace@example.com", "linus@example.com"][(h >> 20) as usize % 3];
    match kind {
        "PRIMARY_ELECTED" | "MONGODB_LOGS_DOWNLOADED" => {
            e["hostname"] = DEMO_HOSTS[(h >> 24) as usize % 3].into();
            e["port"] = 27017.into();
            e["clusterName"] = DEMO_CLUSTER.into();
            e["replicaSetName"] = "atlas-x1y2z-shard-0".into();
        }
        "CLUSTER_UPDATE_SUBMITTED" | "DATA_EXPLORER" => {
            e["clusterName"] = DEMO_CLUSTER.into();
            e["username"] = user.into();
            e["remoteAddress"] = format!("203.0.113.{}", (h >> 32) % 250 + 1).into();
        }
        "API_KEY_ACCESS_LIST_ENTRY_ADDED" | "ORG_API_KEY_ADDED" => {
            e["publicKey"] = DEMO_PUBLIC_KEY.into();
            e["whitelistEntry"] = format!("198.51.100.{}", (h >> 40) % 250 + 1).into();
        }
        _ => {
            e["username"] = user.into();
            e["targetUsername"] = "new.user@example.com".into();
        }
    }
    e
}

pub(super) fn access_entry(group: &str, at_ms: i64, k: i64) -> serde_json::Value {
    let h = mix(hash(&[group, "access"]), k as u64);
    let ok = !h.is_multiple_of(7);
    let user = ["appUser", "reporting", "etl-writer", "admin"][(h >> 8) as usize % 4];
    let ip = format!("10.0.{}.{}", (h >> 16) % 8, (h >> 24) % 250 + 2);
    let host = DEMO_HOSTS[(h >> 32) as usize % 3];
    let when = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    let log_line = format!(
        "{{\"t\":{{\"$date\":\"{}\"}},\"s\":\"I\",\"c\":\"ACCESS\",\"id\":{},\"ctx\":\"conn{}\",\"msg\":\"{}\",\"attr\":{{\"mechanism\":\"SCRAM-SHA-256\",\"principalName\":\"{user}\",\"authenticationDatabase\":\"admin\",\"remote\":\"{ip}:{}\"}}}}",
        when.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        if ok { 5_286_306 } else { 5_286_307 },
        h % 9000 + 100,
        if ok { "Successfully authenticated" } else { "Failed to authenticate" },
        40_000 + (h >> 40) % 20_000,
    );
    let mut e = serde_json::json!({
        "authResult": ok,
        "authSource": "admin",
        "groupId": group,
        "hostname": host,
        "ipAddress": ip,
        "logLine": log_line,
        "timestamp": when.format("%a %b %d %H:%M:%S GMT %Y").to_string(),
        "username": user,
    });
    if !ok {
        e["failureReason"] =
            "AuthenticationFailed: SCRAM authentication failed, storedKey mismatch".into();
    }
    e
}

/// Which log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    HostLog,
    HostAudit,
    StreamAudit,
    StreamOps,
}

/// Everything that determines a log body.
pub(super) struct LogSpec {
    kind: Kind,
    seed: u64,
    /// Only lines of this stream processor.
    processor: Option<String>,
    start: i64,
    end: i64,
    lines_per_hour: u32,
}

impl LogSpec {
    /// A host log. `now` ends every log: nothing is logged in the future.
    pub(super) fn host(
        now: i64,
        lines_per_hour: u32,
        project: &str,
        host: &str,
        log_name: LogName,
        (start, end): (i64, i64),
    ) -> LogSpec {
        let kind = if log_name.is_audit() {
            Kind::HostAudit
        } else {
            Kind::HostLog
        };
        LogSpec {
            kind,
            seed: hash(&[&project.to_ascii_lowercase(), host, log_name.as_str()]),
            processor: None,
            start: start.max(DATA_EPOCH),
            end: end.min(now),
            lines_per_hour,
        }
    }

    /// A stream processing log (audit or operational) of a workspace,
    /// optionally of one processor.
    pub(super) fn stream(
        now: i64,
        lines_per_hour: u32,
        kind: Kind,
        project: &str,
        workspace: &str,
        processor: Option<&str>,
        (start, end): (i64, i64),
    ) -> LogSpec {
        let what = if kind == Kind::StreamAudit {
            "audit"
        } else {
            "ops"
        };
        LogSpec {
            kind,
            seed: hash(&[&project.to_ascii_lowercase(), workspace, what]),
            processor: processor.map(str::to_string),
            start: start.max(DATA_EPOCH),
            end: end.min(now),
            lines_per_hour,
        }
    }

    pub(super) fn estimated_bytes(&self) -> u64 {
        let secs = (self.end - self.start).max(0) as u64;
        secs * u64::from(self.lines_per_hour) / 3600 * EST_LINE_BYTES
    }

    /// Calls `f` with every line (without newline), oldest first.
    pub(super) fn for_each_line(&self, mut f: impl FnMut(&str)) {
        let rate = f64::from(self.lines_per_hour) / 3600.0;
        let (base, frac) = (rate.floor() as u64, rate.fract());
        let mut buf = String::with_capacity(512);
        for s in self.start..self.end {
            let hs = mix(self.seed, s as u64);
            let extra = ((hs >> 11) as f64 / (1u64 << 53) as f64) < frac;
            let n = base + u64::from(extra);
            for i in 0..n {
                let h = mix(hs, i + 1);
                let ms = (i * 1000 / n + h % (1000 / n).max(1)).min(999) as i64;
                if let Some(p) = &self.processor {
                    if DEMO_PROCESSORS[(h >> 48) as usize % DEMO_PROCESSORS.len()] != p {
                        continue;
                    }
                }
                buf.clear();
                self.line(&mut buf, s, ms, h);
                f(&buf);
            }
        }
    }

    fn line(&self, out: &mut String, secs: i64, ms: i64, h: u64) {
        let ts = iso(secs, ms);
        match self.kind {
            Kind::HostAudit | Kind::StreamAudit => audit_line(
                out,
                &ts,
                h,
                (self.kind == Kind::StreamAudit).then(|| DEMO_PROCESSORS[(h >> 48) as usize % 2]),
            ),
            Kind::HostLog => host_line(out, &ts, h),
            Kind::StreamOps => ops_line(out, &ts, h, DEMO_PROCESSORS[(h >> 48) as usize % 2]),
        }
    }
}

const USERS: [(&str, &str, &str); 4] = [
    ("appUser", "admin", "readWrite"),
    ("reporting", "admin", "read"),
    ("etl-writer", "admin", "readWrite"),
    ("admin", "admin", "atlasAdmin"),
];
const NAMESPACES: [(&str, &str); 4] = [
    ("orders", "items"),
    ("orders", "customers"),
    ("analytics", "events"),
    ("inventory", "stock"),
];

fn audit_line(out: &mut String, ts: &str, h: u64, processor: Option<&str>) {
    let (user, db, role) = USERS[(h >> 8) as usize % USERS.len()];
    let (ns_db, coll) = NAMESPACES[(h >> 12) as usize % NAMESPACES.len()];
    let remote_ip = format!(
        "10.{}.{}.{}",
        (h >> 16) % 4,
        (h >> 20) % 256,
        (h >> 28) % 250 + 2
    );
    let remote_port = 40_000 + (h >> 36) % 20_000;
    let choice = (h >> 4) % 10;
    let (atype, param, result) = match choice {
        0..=3 => (
            "authenticate",
            format!("{{\"user\":\"{user}\",\"db\":\"{db}\",\"mechanism\":\"SCRAM-SHA-256\"}}"),
            if h.is_multiple_of(13) { 18 } else { 0 },
        ),
        4 | 5 => (
            "authCheck",
            format!("{{\"command\":\"find\",\"ns\":\"{ns_db}.{coll}\",\"args\":{{\"find\":\"{coll}\",\"filter\":{{\"status\":\"open\"}},\"$db\":\"{ns_db}\"}}}}"),
            if h.is_multiple_of(17) { 13 } else { 0 },
        ),
        6 => ("createCollection", format!("{{\"ns\":\"{ns_db}.{coll}_{}\"}}", h % 100), 0),
        7 => (
            "createIndex",
            format!("{{\"ns\":\"{ns_db}.{coll}\",\"indexName\":\"created_1\",\"indexSpec\":{{\"key\":{{\"created\":1}},\"name\":\"created_1\"}}}}"),
            0,
        ),
        8 => ("logout", format!("{{\"reason\":\"Client has disconnected\",\"initialUsers\":[{{\"user\":\"{user}\",\"db\":\"{db}\"}}],\"updatedUsers\":[]}}"), 0),
        _ => ("dropCollection", format!("{{\"ns\":\"{ns_db}.tmp_{}\"}}", h % 1000), 0),
    };
    let _ = write!(
        out,
        "{{\"atype\":\"{atype}\",\"ts\":{{\"$date\":\"{ts}\"}},\"local\":{{\"ip\":\"192.168.248.{}\",\"port\":27017}},\"remote\":{{\"ip\":\"{remote_ip}\",\"port\":{remote_port}}},\"users\":[{{\"user\":\"{user}\",\"db\":\"{db}\"}}],\"roles\":[{{\"role\":\"{role}\",\"db\":\"{ns_db}\"}}],\"param\":{param},\"result\":{result}",
        (h >> 44) % 3 + 10
    );
    if let Some(p) = processor {
        let _ = write!(out, ",\"spName\":\"{p}\"");
    }
    out.push('}');
}

fn host_line(out: &mut String, ts: &str, h: u64) {
    let conn = (h >> 8) % 90_000 + 1_000;
    let remote = format!(
        "10.{}.{}.{}:{}",
        (h >> 16) % 4,
        (h >> 20) % 256,
        (h >> 28) % 250 + 2,
        40_000 + (h >> 36) % 20_000
    );
    let (s, c, id, ctx, msg, attr) = match (h >> 4) % 12 {
        0..=2 => ("I", "NETWORK", 22943, "listener".to_string(), "Connection accepted", format!("{{\"remote\":\"{remote}\",\"isLoadBalanced\":false,\"connectionId\":{conn},\"connectionCount\":{}}}", (h >> 40) % 200 + 5)),
        3..=5 => ("I", "NETWORK", 22944, format!("conn{conn}"), "Connection ended", format!("{{\"remote\":\"{remote}\",\"isLoadBalanced\":false,\"connectionId\":{conn},\"connectionCount\":{}}}", (h >> 40) % 200 + 4)),
        6 | 7 => {
            let (user, db, _) = USERS[(h >> 44) as usize % USERS.len()];
            ("I", "ACCESS", 5286306, format!("conn{conn}"), "Successfully authenticated", format!("{{\"client\":\"{remote}\",\"isSpeculative\":true,\"isClusterMember\":false,\"mechanism\":\"SCRAM-SHA-256\",\"user\":\"{user}\",\"db\":\"{db}\",\"result\":0}}"))
        }
        8 | 9 => {
            let (db, coll) = NAMESPACES[(h >> 44) as usize % NAMESPACES.len()];
            ("I", "COMMAND", 51803, format!("conn{conn}"), "Slow query", format!("{{\"type\":\"command\",\"ns\":\"{db}.{coll}\",\"command\":{{\"find\":\"{coll}\",\"filter\":{{\"status\":\"open\"}},\"$db\":\"{db}\"}},\"planSummary\":\"COLLSCAN\",\"docsExamined\":{},\"nreturned\":{},\"durationMillis\":{}}}", (h >> 20) % 100_000, (h >> 30) % 500, (h >> 40) % 900 + 100))
        }
        10 => ("I", "STORAGE", 22430, "Checkpointer".to_string(), "WiredTiger message", format!("{{\"message\":{{\"ts_sec\":{},\"ts_usec\":{},\"thread\":\"1234:0x7f\",\"session_name\":\"WT_SESSION.checkpoint\",\"category\":\"WT_VERB_CHECKPOINT_PROGRESS\",\"verbose_level\":\"DEBUG_1\",\"msg\":\"saving checkpoint snapshot min: {}\"}}}}", h % 1_000_000_000, (h >> 10) % 1_000_000, (h >> 20) % 100_000)),
        _ => ("W", "REPL", 21405, "ReplCoord-3".to_string(), "Heartbeat took longer than expected", format!("{{\"target\":\"{}:27017\",\"durationMillis\":{}}}", DEMO_HOSTS[(h >> 44) as usize % 3], (h >> 30) % 4000 + 1000)),
    };
    let _ = write!(out, "{{\"t\":{{\"$date\":\"{ts}\"}},\"s\":\"{s}\",\"c\":\"{c}\",\"id\":{id},\"ctx\":\"{ctx}\",\"msg\":\"{msg}\",\"attr\":{attr}}}");
}

fn ops_line(out: &mut String, ts: &str, h: u64, processor: &str) {
    let (s, msg, attr) = match (h >> 4) % 5 {
        0 | 1 => (
            "I",
            "Checkpoint committed",
            format!(
                "{{\"checkpointId\":{},\"durationMillis\":{}}}",
                h % 1_000_000,
                (h >> 20) % 500
            ),
        ),
        2 => (
            "I",
            "Batch processed",
            format!(
                "{{\"inputDocs\":{},\"outputDocs\":{},\"dlqDocs\":{}}}",
                (h >> 8) % 5000,
                (h >> 20) % 5000,
                (h >> 32) % 3
            ),
        ),
        3 => (
            "W",
            "Source lag above threshold",
            format!("{{\"lagSeconds\":{}}}", (h >> 8) % 120 + 30),
        ),
        _ => (
            "I",
            "Processor heartbeat",
            format!(
                "{{\"state\":\"STARTED\",\"memoryUsageBytes\":{}}}",
                (h >> 8) % 1_000_000_000
            ),
        ),
    };
    let _ = write!(out, "{{\"t\":{{\"$date\":\"{ts}\"}},\"s\":\"{s}\",\"c\":\"STREAMS\",\"ctx\":\"{processor}\",\"msg\":\"{msg}\",\"attr\":{attr}}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: Kind, start: i64, end: i64, lph: u32) -> LogSpec {
        LogSpec {
            kind,
            seed: 42,
            processor: None,
            start,
            end,
            lines_per_hour: lph,
        }
    }

    fn lines(s: &LogSpec) -> Vec<String> {
        let mut v = Vec::new();
        s.for_each_line(|l| v.push(l.to_string()));
        v
    }

    #[test]
    fn logs_are_deterministic_and_windows_compose() {
        let t0 = 1_700_000_000;
        let whole = lines(&spec(Kind::HostLog, t0, t0 + 7200, 3600));
        let a = lines(&spec(Kind::HostLog, t0, t0 + 3600, 3600));
        let b = lines(&spec(Kind::HostLog, t0 + 3600, t0 + 7200, 3600));
        assert_eq!(whole, [a, b].concat());
        assert!(whole.len() > 6000 && whole.len() < 8400, "{}", whole.len());
        assert_eq!(whole, lines(&spec(Kind::HostLog, t0, t0 + 7200, 3600)));
    }

    #[test]
    fn lines_are_json_in_the_real_shapes() {
        let t0 = 1_700_000_000;
        for (kind, keys) in [
            (
                Kind::HostAudit,
                &[
                    "atype", "ts", "local", "remote", "users", "roles", "param", "result",
                ][..],
            ),
            (
                Kind::StreamAudit,
                &[
                    "atype", "ts", "local", "remote", "users", "roles", "param", "result", "spName",
                ][..],
            ),
            (
                Kind::HostLog,
                &["t", "s", "c", "id", "ctx", "msg", "attr"][..],
            ),
            (Kind::StreamOps, &["t", "s", "c", "ctx", "msg", "attr"][..]),
        ] {
            let all = lines(&spec(kind, t0, t0 + 3600, 3600));
            let mut prev = String::new();
            for l in &all {
                let v: serde_json::Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{kind:?}: {e}: {l}"));
                for k in keys {
                    assert!(v.get(*k).is_some(), "{kind:?} lacks {k}: {l}");
                }
                let ts = v.get("ts").or(v.get("t")).unwrap()["$date"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(ts >= prev, "lines are in time order");
                prev = ts;
            }
        }
    }

    #[test]
    fn processor_filter_is_a_subset() {
        let t0 = 1_700_000_000;
        let all = lines(&spec(Kind::StreamAudit, t0, t0 + 3600, 3600));
        let mut only = spec(Kind::StreamAudit, t0, t0 + 3600, 3600);
        only.processor = Some(DEMO_PROCESSORS[0].into());
        let some = lines(&only);
        assert!(!some.is_empty() && some.len() < all.len());
        assert!(some.iter().all(|l| l.contains("\"spName\":\"sp-orders\"")));
        assert_eq!(
            some,
            all.into_iter()
                .filter(|l| l.contains("\"spName\":\"sp-orders\""))
                .collect::<Vec<_>>()
        );
    }
}
