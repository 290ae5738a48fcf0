//! SearchLog: pages of raw logs chained by a `Context` that names where the
//! chain stands, expires as a whole, and silently ends after
//! [`SEARCH_CONTEXT_CAP`] logs as the service does.

use super::actions::{check_window, choice, get_int, get_str, known_topic, required, ORDERS};
use super::data::LogSpec;
use super::envelope::ApiError;
use super::tc3;
use super::types::Order;
use serde_json::{json, Map, Value};

/// How many raw logs one `Context` chain of SearchLog yields at most; past
/// it the service reports the list as over although it is not, which is
/// what a client must detect and work around.
pub const SEARCH_CONTEXT_CAP: u64 = 10_000;

/// How long a SearchLog `Context` stays valid.
pub const SEARCH_CONTEXT_TTL_SECS: u64 = 3600;

pub(super) fn search_log(
    p: &Map<String, Value>,
    now_secs: u64,
) -> Result<Map<String, Value>, ApiError> {
    let from = required(get_int(p, "From")?, "From")?;
    let to = required(get_int(p, "To")?, "To")?;
    let topic_id = required(get_str(p, "TopicId")?, "TopicId")?;
    let t = known_topic(&topic_id)?;
    let query = get_str(p, "QueryString")?
        .or(get_str(p, "Query")?)
        .unwrap_or_else(|| "*".into());
    let limit = get_int(p, "Limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            "InvalidParameter",
            "`Limit` must be between 1 and 1000.",
        ));
    }
    check_window(from, to)?;
    let order = choice(p, "Sort", ORDERS, Order::Desc)?;
    let spec = LogSpec {
        topic_id: topic_id.clone(),
        query,
        from_ms: from,
        to_ms: to,
        count: u64::MAX,
        order,
    };
    let fingerprint = &tc3::sha256_hex(
        format!(
            "{}|{}|{}|{}|{:?}",
            spec.topic_id, spec.query, from, to, order
        )
        .as_bytes(),
    )[..16];
    let (start, issued) = match get_str(p, "Context")?.filter(|c| !c.is_empty()) {
        None => (0, now_secs),
        Some(ctx) => decode_context(&ctx, fingerprint)
            .filter(|(_, issued)| now_secs.saturating_sub(*issued) <= SEARCH_CONTEXT_TTL_SECS)
            .ok_or_else(|| {
                ApiError::new(
                    "FailedOperation.InvalidContext",
                    "The search context is invalid or expired.",
                )
            })?,
    };
    let n = spec.len();
    // The cap is silent on purpose: the chain just ends, as if the range
    // held no more logs.
    let end = start
        .saturating_add(limit as u64)
        .min(n)
        .min(SEARCH_CONTEXT_CAP);
    let shape = spec.shape();
    let results: Vec<Value> = (start..end)
        .map(|i| {
            let r = spec.record_with(i, &shape);
            let field = |k: &str| r.get(k).unwrap_or_default().to_string();
            json!({
                "Time": r.timestamp_ms,
                "TopicId": topic_id,
                "TopicName": t.name,
                "Source": field("__SOURCE__"),
                "FileName": field("__FILENAME__"),
                "HostName": field("__HOSTNAME__"),
                "PkgId": format!("{:016X}", r.timestamp_ms),
                "PkgLogId": "0",
                "HighLights": [],
                "LogJson": String::from_utf8(r.json_line()).unwrap_or_default(),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "Context".into(),
        Value::String(encode_context(end, issued, fingerprint)),
    );
    out.insert(
        "ListOver".into(),
        Value::Bool(end >= n || end >= SEARCH_CONTEXT_CAP),
    );
    out.insert("Analysis".into(), Value::Bool(false));
    out.insert("ColNames".into(), json!([]));
    out.insert("Results".into(), Value::Array(results));
    Ok(out)
}

/// A context names where the chain stands and when it began; a chain keeps
/// the time of its first page, so it expires as a whole.
fn encode_context(position: u64, issued_secs: u64, fingerprint: &str) -> String {
    hex::encode(format!("{position}:{issued_secs}:{fingerprint}"))
}

fn decode_context(ctx: &str, fingerprint: &str) -> Option<(u64, u64)> {
    let text = String::from_utf8(hex::decode(ctx).ok()?).ok()?;
    let mut parts = text.splitn(3, ':');
    let pos = parts.next()?.parse().ok()?;
    let issued = parts.next()?.parse().ok()?;
    (parts.next()? == fingerprint).then_some((pos, issued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_context_round_trips() {
        let ctx = encode_context(42, 7, "abc");
        assert_eq!(decode_context(&ctx, "abc"), Some((42, 7)));
        assert_eq!(decode_context(&ctx, "abd"), None);
        assert_eq!(decode_context("zz", "abc"), None);
    }
}
