//! What the export and topic actions read and answer: CreateExport (which
//! starts sizing the archive on a blocking thread, as a real export spends
//! its Processing time), DescribeExports, DeleteExport and DescribeTopics,
//! with Tencent's parameter checks and error codes.

use super::archive::{write_archive, CountingWriter};
use super::data::{DemoTopic, LogSpec, DEMO_TOPICS};
use super::envelope::{request_id, ApiError};
use super::state::{ArchiveInfo, ExportTask, SandboxState};
use super::types::{Format, Order, MAX_EXPORT_COUNT};
use crate::lock;
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};

/// A string parameter, if given.
pub(super) fn get_str(p: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::new(
            "InvalidParameter",
            format!("`{key}` must be a string."),
        )),
    }
}

/// An integer parameter, if given.
pub(super) fn get_int(p: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            ApiError::new("InvalidParameter", format!("`{key}` must be an integer."))
        }),
    }
}

/// A parameter that must be given.
pub(super) fn required<T>(v: Option<T>, key: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| {
        ApiError::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{key}`."),
        )
    })
}

/// The demo topic `id`, or CLS's error for a topic that does not exist.
pub(super) fn known_topic(id: &str) -> Result<&'static DemoTopic, ApiError> {
    DEMO_TOPICS.iter().find(|t| t.id == id).ok_or_else(|| {
        ApiError::new(
            "ResourceNotFound.TopicNotExist",
            format!("The topic `{id}` does not exist."),
        )
    })
}

/// A `From`/`To` window in milliseconds must not be empty or negative.
pub(super) fn check_window(from: i64, to: i64) -> Result<(), ApiError> {
    if from < 0 || from >= to {
        return Err(ApiError::new(
            "InvalidParameter",
            "`From` must be earlier than `To`.",
        ));
    }
    Ok(())
}

/// The orders CLS sorts by.
pub(super) const ORDERS: [(&str, Order); 2] = [("asc", Order::Asc), ("desc", Order::Desc)];

/// A string parameter that names one of two `options`; `default` when absent.
pub(super) fn choice<T: Copy>(
    p: &Map<String, Value>,
    key: &str,
    options: [(&str, T); 2],
    default: T,
) -> Result<T, ApiError> {
    let Some(given) = get_str(p, key)? else {
        return Ok(default);
    };
    let ([(a, _), (b, _)], found) = (options, options.iter().find(|(name, _)| *name == given));
    found.map(|(_, v)| *v).ok_or_else(|| {
        ApiError::new(
            "InvalidParameter",
            format!("`{key}` `{given}` is not {a} or {b}."),
        )
    })
}

fn paging(
    p: &Map<String, Value>,
    default_limit: i64,
    max: i64,
) -> Result<(usize, usize), ApiError> {
    let offset = get_int(p, "Offset")?.unwrap_or(0);
    let limit = get_int(p, "Limit")?.unwrap_or(default_limit);
    if offset < 0 {
        return Err(ApiError::new(
            "InvalidParameter",
            "`Offset` must not be negative.",
        ));
    }
    if !(1..=max).contains(&limit) {
        return Err(ApiError::new(
            "InvalidParameter",
            format!("`Limit` must be between 1 and {max}."),
        ));
    }
    Ok((offset as usize, limit as usize))
}

pub(super) fn create_export(
    st: &SandboxState,
    p: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let topic_id = required(get_str(p, "TopicId")?, "TopicId")?;
    let query = required(get_str(p, "Query")?, "Query")?;
    let count = required(get_int(p, "Count")?, "Count")?;
    let from = required(get_int(p, "From")?, "From")?;
    let to = required(get_int(p, "To")?, "To")?;
    known_topic(&topic_id)?;
    if !(1..=MAX_EXPORT_COUNT as i64).contains(&count) {
        return Err(ApiError::new(
            "InvalidParameter",
            "`Count` must be between 1 and 50000000.",
        ));
    }
    check_window(from, to)?;
    let formats = [("json", Format::Json), ("csv", Format::Csv)];
    let format = choice(p, "Format", formats, Format::Json)?;
    let order = choice(p, "Order", ORDERS, Order::Desc)?;
    let syntax_rule = get_int(p, "SyntaxRule")?.unwrap_or(0);
    if !(0..=1).contains(&syntax_rule) {
        return Err(ApiError::new(
            "InvalidParameter",
            "`SyntaxRule` must be 0 or 1.",
        ));
    }
    let derived_fields = match p.get("DerivedFields") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let spec = LogSpec {
        topic_id,
        query,
        from_ms: from,
        to_ms: to,
        count: count as u64,
        order,
    };
    let id = format!("export-{}", request_id());
    let created_ms = st.clock.unix_millis();
    let archive = Arc::new(OnceLock::new());
    // Sizing the archive means generating and compressing it once, which
    // is what a real export spends its Processing time on.
    {
        let (spec, archive, id) = (spec.clone(), archive.clone(), id.clone());
        let mtime = (created_ms / 1000) as u32;
        tokio::task::spawn_blocking(move || {
            let mut counter = CountingWriter(0);
            if write_archive(&spec, format, &id, mtime, &mut counter).is_ok() {
                let _ = archive.set(ArchiveInfo {
                    file_size: counter.0,
                });
            }
        });
    }
    lock(&st.exports).push(ExportTask {
        id: id.clone(),
        spec,
        format,
        syntax_rule: syntax_rule as u64,
        derived_fields,
        created_ms,
        failed: false,
        archive,
    });
    let mut out = Map::new();
    out.insert("ExportId".into(), Value::String(id));
    Ok(out)
}

pub(super) fn describe_exports(
    st: &SandboxState,
    p: &Map<String, Value>,
    host: &str,
) -> Result<Map<String, Value>, ApiError> {
    let topic_id = required(get_str(p, "TopicId")?, "TopicId")?;
    known_topic(&topic_id)?;
    let (offset, limit) = paging(p, 20, 100)?;
    let now_ms = st.clock.unix_millis();
    let exports = lock(&st.exports);
    let mine: Vec<&ExportTask> = exports
        .iter()
        .rev()
        .filter(|e| e.spec.topic_id == topic_id)
        .collect();
    let page: Vec<Value> = mine
        .iter()
        .skip(offset)
        .take(limit)
        .map(|e| {
            let status = e.status(now_ms, st);
            let completed = status == "Completed";
            let cos_path = if completed {
                st.cos_path(host, &e.id)
            } else {
                String::new()
            };
            let file_size = if completed {
                e.archive.get().map_or(0, |a| a.file_size)
            } else {
                0
            };
            json!({
                "TopicId": e.spec.topic_id,
                "ExportId": e.id,
                "Query": e.spec.query,
                "FileName": e.file_name(),
                "FileSize": file_size,
                "Order": e.spec.order.as_str(),
                "Format": e.format.as_str(),
                "Count": e.spec.count,
                "Status": status,
                "From": e.spec.from_ms,
                "To": e.spec.to_ms,
                "CosPath": cos_path,
                "CreateTime": china_time(e.created_ms),
                "SyntaxRule": e.syntax_rule,
                "DerivedFields": e.derived_fields,
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Exports".into(), Value::Array(page));
    out.insert("TotalCount".into(), json!(mine.len()));
    Ok(out)
}

pub(super) fn delete_export(
    st: &SandboxState,
    p: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let id = required(get_str(p, "ExportId")?, "ExportId")?;
    let mut exports = lock(&st.exports);
    let Some(pos) = exports.iter().position(|e| e.id == id) else {
        return Err(ApiError::new(
            "ResourceNotFound.ExportNotExist",
            format!("The export `{id}` does not exist."),
        ));
    };
    exports.remove(pos);
    Ok(Map::new())
}

pub(super) fn describe_topics(p: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let (offset, limit) = paging(p, 20, 100)?;
    let precise = get_int(p, "PreciseSearch")?.unwrap_or(0) == 1;
    let mut topics: Vec<&DemoTopic> = DEMO_TOPICS.iter().collect();
    if let Some(filters) = p.get("Filters").and_then(Value::as_array) {
        for f in filters {
            let key = f.get("Key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = f
                .get("Values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let keep = |t: &&DemoTopic| match key {
                "topicName" if precise => values.contains(&t.name),
                "topicName" => values.iter().any(|v| t.name.contains(v)),
                "topicId" => values.contains(&t.id),
                "logsetId" => values.contains(&t.logset_id),
                _ => true,
            };
            if ![
                "topicName",
                "topicId",
                "logsetId",
                "logsetName",
                "tag:",
                "storageType",
            ]
            .iter()
            .any(|k| key.starts_with(k))
            {
                return Err(ApiError::new(
                    "InvalidFilter",
                    format!("The filter key `{key}` is not supported."),
                ));
            }
            topics.retain(keep);
        }
    }
    let total = topics.len();
    let page: Vec<Value> = topics
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|t| {
            json!({
                "LogsetId": t.logset_id,
                "TopicId": t.id,
                "TopicName": t.name,
                "PartitionCount": 1,
                "Index": true,
                "CreateTime": t.created,
                "Status": true,
                "Tags": [],
                "AutoSplit": true,
                "MaxSplitPartitions": 50,
                "StorageType": "hot",
                "Period": 30,
                "BizType": 0,
                "Describes": t.describes,
                "HotPeriod": 0,
                "IsWebTracking": false,
                "Extends": {"AnonymousAccess": null},
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Topics".into(), Value::Array(page));
    out.insert("TotalCount".into(), json!(total));
    Ok(out)
}

fn china_time(ms: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn choices_default_accept_and_name_the_options() {
        let p = params(json!({"Order": "asc", "Sort": "up", "Format": 3}));
        assert_eq!(
            choice(&p, "Order", ORDERS, Order::Desc).unwrap(),
            Order::Asc
        );
        assert_eq!(
            choice(&p, "Nope", ORDERS, Order::Desc).unwrap(),
            Order::Desc
        );
        let err = format!("{:?}", choice(&p, "Sort", ORDERS, Order::Desc).unwrap_err());
        assert!(err.contains("`Sort` `up` is not asc or desc."), "{err}");
        let formats = [("json", Format::Json), ("csv", Format::Csv)];
        let err = format!(
            "{:?}",
            choice(&p, "Format", formats, Format::Json).unwrap_err()
        );
        assert!(err.contains("`Format` must be a string."), "{err}");
    }

    #[test]
    fn windows_and_topics_are_checked() {
        assert!(check_window(0, 1).is_ok());
        assert!(check_window(5, 5).is_err() && check_window(-1, 5).is_err());
        assert_eq!(
            known_topic(DEMO_TOPICS[0].id).unwrap().name,
            DEMO_TOPICS[0].name
        );
        let err = format!("{:?}", known_topic("nope").err().unwrap());
        assert!(err.contains("ResourceNotFound.TopicNotExist"), "{err}");
    }
}
