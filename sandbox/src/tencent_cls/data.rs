//! The CLS emulator's demo data: the two demo topics, and their logs, a
//! pure function of (topic, query, time range, count, order), so a test can
//! know exactly what an export or a search holds ([`expected_records`]).

use super::types::{csv_field, ExportParams, Format, Order, TimeRange};
use super::{DEMO_AUDIT_TOPIC_ID, DEMO_LOGSET_ID, DEMO_TOPIC_ID, LOG_INTERVAL_MS};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A topic the emulator has.
pub(super) struct DemoTopic {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) logset_id: &'static str,
    pub(super) created: &'static str,
    pub(super) describes: &'static str,
}

/// The demo topics, in the order DescribeTopics lists them.
pub(super) const DEMO_TOPICS: &[DemoTopic] = &[
    DemoTopic {
        id: DEMO_TOPIC_ID,
        name: "app-access-logs",
        logset_id: DEMO_LOGSET_ID,
        created: "2024-03-01 10:00:00",
        describes: "HTTP access logs of the demo services",
    },
    DemoTopic {
        id: DEMO_AUDIT_TOPIC_ID,
        name: "audit-events",
        logset_id: DEMO_LOGSET_ID,
        created: "2024-03-02 11:30:00",
        describes: "Control-plane audit events",
    },
];

/// What determines the logs of one export or search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogSpec {
    pub(super) topic_id: String,
    pub(super) query: String,
    pub(super) from_ms: i64,
    pub(super) to_ms: i64,
    pub(super) count: u64,
    pub(super) order: Order,
}

/// The columns of one spec: fixed ones, then keys the query adds.
pub(super) struct Shape {
    pub(super) seed: u64,
    pub(super) overrides: Vec<(String, String)>,
    pub(super) extra_keys: Vec<String>,
}

pub(super) const BASE_KEYS: &[&str] = &[
    "__SOURCE__",
    "__FILENAME__",
    "__HOSTNAME__",
    "level",
    "service",
    "method",
    "path",
    "status",
    "latency_ms",
    "user_agent",
    "__CONTENT__",
];

impl Shape {
    pub(super) fn csv_header(&self) -> Vec<u8> {
        let mut s = String::from("__TIMESTAMP__");
        for k in BASE_KEYS
            .iter()
            .copied()
            .chain(self.extra_keys.iter().map(String::as_str))
        {
            s.push(',');
            csv_field(k, &mut s);
        }
        s.push('\n');
        s.into_bytes()
    }
}

/// One generated log.
pub(super) struct Record {
    pub(super) timestamp_ms: i64,
    pub(super) fields: Vec<(String, String)>,
}

impl Record {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn write_json_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"__TIMESTAMP__\":");
        out.extend_from_slice(self.timestamp_ms.to_string().as_bytes());
        for (k, v) in &self.fields {
            out.push(b',');
            serde_json::to_writer(&mut *out, k).expect("writing to a Vec");
            out.push(b':');
            serde_json::to_writer(&mut *out, v).expect("writing to a Vec");
        }
        out.extend_from_slice(b"}\n");
    }

    pub(super) fn json_line(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_json_line(&mut v);
        v.pop();
        v
    }

    pub(super) fn write_csv_line(&self, shape: &Shape, out: &mut Vec<u8>) {
        let mut s = self.timestamp_ms.to_string();
        for k in BASE_KEYS
            .iter()
            .copied()
            .chain(shape.extra_keys.iter().map(String::as_str))
        {
            s.push(',');
            csv_field(self.get(k).unwrap_or_default(), &mut s);
        }
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
    }

    pub(super) fn to_value(&self, format: Format) -> Value {
        let mut m = Map::new();
        let ts = match format {
            Format::Json => json!(self.timestamp_ms),
            Format::Csv => Value::String(self.timestamp_ms.to_string()),
        };
        m.insert("__TIMESTAMP__".into(), ts);
        for (k, v) in &self.fields {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        Value::Object(m)
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn topic_seed(topic_id: &str) -> u64 {
    let d = Sha256::digest(topic_id.as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// `key:value` terms of a simple Lucene query; generated logs carry them so
/// that they match the query.
fn query_terms(query: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // Whatever follows `|` is CQL analysis, not a filter.
    let filter = query.split('|').next().unwrap_or_default();
    for term in filter.split_whitespace() {
        let Some((k, v)) = term.split_once(':') else {
            continue;
        };
        let v = v.trim_matches('"');
        let key_ok = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !key_ok || v.is_empty() || v.contains('*') || k == "__TIMESTAMP__" {
            continue;
        }
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        }
    }
    out
}

impl LogSpec {
    pub(super) fn from_params(p: &ExportParams) -> Self {
        LogSpec {
            topic_id: p.topic_id.clone(),
            query: p.query.clone(),
            from_ms: p.range.from_ms,
            to_ms: p.range.to_ms,
            count: p.count,
            order: p.order,
        }
    }

    pub(super) fn shape(&self) -> Shape {
        let overrides = query_terms(&self.query);
        let extra_keys = overrides
            .iter()
            .filter(|(k, _)| !BASE_KEYS.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        Shape {
            seed: topic_seed(&self.topic_id),
            overrides,
            extra_keys,
        }
    }

    /// Time of log number `k` of the topic: one per interval, jittered.
    pub(super) fn time_of(seed: u64, k: u64) -> i64 {
        let jitter = (splitmix(seed ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03))
            % LOG_INTERVAL_MS as u64) as i64;
        // Saturating: a client may ask for a range ending near `i64::MAX`,
        // and the emulator must answer it rather than panic.
        (k as i64)
            .saturating_mul(LOG_INTERVAL_MS)
            .saturating_add(jitter)
    }

    /// The topic's logs in `[from, to)` are numbers `start..end`.
    pub(super) fn bounds(&self) -> (u64, u64) {
        if self.from_ms >= self.to_ms || self.to_ms <= 0 {
            return (0, 0);
        }
        let seed = topic_seed(&self.topic_id);
        let from = self.from_ms.max(0);
        let k0 = (from / LOG_INTERVAL_MS) as u64;
        let start = k0 + u64::from(Self::time_of(seed, k0) < from);
        let k1 = (self.to_ms / LOG_INTERVAL_MS) as u64;
        let end = k1 + u64::from(Self::time_of(seed, k1) < self.to_ms);
        (start, end.max(start))
    }

    pub(super) fn len(&self) -> u64 {
        let (s, e) = self.bounds();
        (e - s).min(self.count)
    }

    pub(super) fn record_with(&self, i: u64, shape: &Shape) -> Record {
        let (s, e) = self.bounds();
        let k = match self.order {
            Order::Asc => s + i,
            Order::Desc => e - 1 - i,
        };
        generate(shape, k)
    }
}

fn generate(shape: &Shape, k: u64) -> Record {
    const SERVICES: &[&str] = &["api-gateway", "orders", "payments", "auth", "search"];
    const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "GET"];
    const STATUSES: &[u16] = &[
        200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 400, 403, 404, 404, 500, 503,
    ];
    const AGENTS: &[&str] = &[
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "logexport-sandbox/1.0 (\"demo\", offline)",
        "Go-http-client/2.0",
    ];
    let r = splitmix(shape.seed ^ k);
    let r2 = splitmix(r);
    let svc = SERVICES[(r % SERVICES.len() as u64) as usize];
    let method = METHODS[((r >> 8) % METHODS.len() as u64) as usize];
    let status = STATUSES[((r >> 16) % STATUSES.len() as u64) as usize];
    let id = (r2 >> 20) % 100_000;
    let path = match (r >> 24) % 5 {
        0 => format!("/api/v1/orders/{id}"),
        1 => format!("/api/v1/users/{id}"),
        2 => format!("/api/v1/search?q=item{id}&page={}", id % 7),
        3 => "/healthz".to_string(),
        _ => format!("/api/v1/payments/{id}"),
    };
    let latency = (r2 % 1000) * ((r2 >> 10) % 3 + 1);
    let level = level_for(status);
    let mut fields: Vec<(String, String)> = vec![
        (
            "__SOURCE__".into(),
            format!("10.0.{}.{}", (r >> 32) % 8, (r >> 40) % 250 + 2),
        ),
        ("__FILENAME__".into(), format!("/var/log/{svc}/access.log")),
        ("__HOSTNAME__".into(), format!("{svc}-{}", (r >> 48) % 6)),
        ("level".into(), level.into()),
        ("service".into(), svc.into()),
        ("method".into(), method.into()),
        ("path".into(), path.clone()),
        ("status".into(), status.to_string()),
        ("latency_ms".into(), latency.to_string()),
        (
            "user_agent".into(),
            AGENTS[((r2 >> 40) % AGENTS.len() as u64) as usize].into(),
        ),
        ("__CONTENT__".into(), String::new()),
    ];
    for (key, value) in &shape.overrides {
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => fields.push((key.clone(), value.clone())),
        }
    }
    // A status the query imposed still implies its level, unless the query
    // imposed a level too.
    if !shape.overrides.iter().any(|(k, _)| k == "level") {
        let status: u16 = fields[7].1.parse().unwrap_or(status);
        fields[3].1 = level_for(status).into();
    }
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content = format!(
        "{} {} {} {}ms level={}",
        get("method"),
        get("path"),
        get("status"),
        get("latency_ms"),
        get("level")
    );
    if let Some(slot) = fields.iter_mut().find(|(k, _)| k == "__CONTENT__") {
        if slot.1.is_empty() {
            slot.1 = content;
        }
    }
    Record {
        timestamp_ms: LogSpec::time_of(shape.seed, k),
        fields,
    }
}

fn level_for(status: u16) -> &'static str {
    match status {
        500.. => "ERROR",
        400.. => "WARN",
        _ => "INFO",
    }
}

/// The records an export with these parameters contains, in order, as the
/// client yields them (JSON: `__TIMESTAMP__` a number, other values
/// strings; CSV: every value a string). Lazy, so a large export can be
/// compared record by record.
pub fn expected_records(params: &ExportParams) -> impl Iterator<Item = Value> + Send + 'static {
    let spec = LogSpec::from_params(params);
    let shape = spec.shape();
    let format = params.format;
    (0..spec.len()).map(move |i| spec.record_with(i, &shape).to_value(format))
}

/// Record number `index` (0-based) of an export with these parameters, or
/// `None` past its end.
pub fn expected_record(params: &ExportParams, index: u64) -> Option<Value> {
    let spec = LogSpec::from_params(params);
    (index < spec.len()).then(|| {
        spec.record_with(index, &spec.shape())
            .to_value(params.format)
    })
}

/// How many records an export with these parameters contains: at most
/// `count`, and one per [`LOG_INTERVAL_MS`] of the range.
pub fn expected_count(params: &ExportParams) -> u64 {
    LogSpec::from_params(params).len()
}

/// The logs SearchLog returns for this topic, query and range, in `order`,
/// as the `LogJson` objects it carries.
pub fn expected_search(
    topic_id: &str,
    query: &str,
    range: TimeRange,
    order: Order,
) -> impl Iterator<Item = Value> {
    let spec = LogSpec {
        topic_id: topic_id.to_string(),
        query: query.to_string(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        count: u64::MAX,
        order,
    };
    let shape = spec.shape();
    (0..spec.len()).map(move |i| spec.record_with(i, &shape).to_value(Format::Json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(from: i64, to: i64, count: u64, order: Order) -> LogSpec {
        LogSpec {
            topic_id: DEMO_TOPIC_ID.into(),
            query: "*".into(),
            from_ms: from,
            to_ms: to,
            count,
            order,
        }
    }

    #[test]
    fn logs_fall_inside_the_range_in_order() {
        for (from, to) in [
            (1_000_000, 1_010_000),
            (1_000_050, 1_000_150),
            (5, 7),
            (0, 1_000),
        ] {
            let s = spec(from, to, u64::MAX, Order::Asc);
            let shape = s.shape();
            let times: Vec<i64> = (0..s.len())
                .map(|i| s.record_with(i, &shape).timestamp_ms)
                .collect();
            assert!(
                times.iter().all(|t| (from..to).contains(t)),
                "{from}..{to}: {times:?}"
            );
            assert!(times.windows(2).all(|w| w[0] < w[1]));
            // Every log of the topic in the range is there: one per interval.
            let all: Vec<i64> = (0..(to / LOG_INTERVAL_MS + 2) as u64)
                .map(|k| LogSpec::time_of(shape.seed, k))
                .filter(|t| (from..to).contains(t))
                .collect();
            assert_eq!(times, all);
        }
    }

    #[test]
    fn desc_is_asc_reversed_and_count_truncates() {
        let asc = spec(1_000_000, 1_020_000, u64::MAX, Order::Asc);
        let desc = spec(1_000_000, 1_020_000, u64::MAX, Order::Desc);
        let (sa, sd) = (asc.shape(), desc.shape());
        let a: Vec<i64> = (0..asc.len())
            .map(|i| asc.record_with(i, &sa).timestamp_ms)
            .collect();
        let mut d: Vec<i64> = (0..desc.len())
            .map(|i| desc.record_with(i, &sd).timestamp_ms)
            .collect();
        d.reverse();
        assert_eq!(a, d);
        assert_eq!(spec(1_000_000, 1_020_000, 7, Order::Desc).len(), 7);
    }

    #[test]
    fn query_terms_are_carried_by_the_logs() {
        let mut s = spec(0, 10_000, 50, Order::Asc);
        s.query = "status:500 AND region:\"ap-guangzhou\" | select count(*)".into();
        let shape = s.shape();
        assert_eq!(shape.extra_keys, ["region"]);
        for i in 0..s.len() {
            let r = s.record_with(i, &shape);
            assert_eq!(r.get("status"), Some("500"));
            assert_eq!(
                r.get("level"),
                Some("ERROR"),
                "the level follows the status"
            );
            assert_eq!(r.get("region"), Some("ap-guangzhou"));
        }
    }
}
