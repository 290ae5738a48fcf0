//! `logexport schema KIND` describes what the commands really write: every
//! line each command prints against the sandbox is checked against the
//! schema printed for its kind, by a small draft-07 checker written here
//! (types, required properties, nested objects and arrays, `$ref`).

mod support;

use logexport::sandbox::atlas as atlas_sb;
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use serde_json::Value;
use support::{logexport, ndjson, text, tokio_rt};

fn schema(kind: &str) -> Value {
    let out = logexport(&["schema", kind]).output().unwrap();
    assert!(out.status.success(), "{kind}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{kind}: not JSON: {e}"))
}

fn lines(args: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let mut cmd = logexport(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    let all = ndjson(&out.stdout);
    assert!(!all.is_empty(), "{args:?} wrote nothing");
    all
}

/// The mismatches of `value` against `schema` (empty when it conforms).
fn check(root: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/definitions/").expect("local refs only");
        return check(root, &root["definitions"][name], value, at, out);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(root, s, value, at, out);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let fits = any.iter().any(|s| {
            let mut errs = Vec::new();
            check(root, s, value, at, &mut errs);
            errs.is_empty()
        });
        if !fits {
            out.push(format!("{at}: matches no alternative: {value}"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("{at}: odd type {types}"),
        };
        let fits = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("{at}: unknown type {other}"),
        });
        if !fits {
            out.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(obj) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().unwrap();
            if !obj.contains_key(key) {
                out.push(format!("{at}: required `{key}` is missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(root, s, v, &format!("{at}.{k}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}: unexpected `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check(root, items, v, &format!("{at}[{i}]"), out);
        }
    }
}

fn conforms(kind: &str, records: &[Value]) {
    let schema = schema(kind);
    let mut errors = Vec::new();
    for r in records {
        check(&schema, &schema, r, kind, &mut errors);
    }
    assert!(errors.is_empty(), "{kind}: {errors:#?}");
}

/// The checker itself must reject what does not fit, or the test above
/// could pass by checking nothing.
#[test]
fn the_checker_rejects_mismatches() {
    let s = schema("c1-event");
    let mut errors = Vec::new();
    check(
        &s,
        &s,
        &serde_json::json!({"time": "soon"}),
        "c1-event",
        &mut errors,
    );
    assert!(errors.iter().any(|e| e.contains("time")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("metadata")), "{errors:?}");
    let s = schema("cls-export");
    let mut errors = Vec::new();
    check(
        &s,
        &s,
        &serde_json::json!({"ExportId": 7}),
        "cls-export",
        &mut errors,
    );
    assert!(!errors.is_empty());
}

#[test]
fn every_atlas_record_kind_conforms() {
    let p = atlas_sb::DEMO_PROJECT_ID;
    let sb = ["--sandbox", "-q", "atlas"];
    let with = |rest: &[&'static str]| [&sb[..], rest].concat();
    conforms(
        "atlas-stream-audit-log",
        &lines(
            &with(&[
                "stream-audit-logs",
                "--project",
                p,
                "--workspace",
                atlas_sb::DEMO_WORKSPACE,
                "--since",
                "2h",
            ]),
            &[],
        ),
    );
    for (log, kind) in [
        ("mongodb", "atlas-host-log"),
        ("mongodb-audit-log", "atlas-audit-log"),
    ] {
        conforms(
            kind,
            &lines(
                &with(&[
                    "cluster-logs",
                    "--project",
                    p,
                    "--host",
                    atlas_sb::DEMO_HOST,
                    "--log",
                    log,
                    "--since",
                    "1h",
                ]),
                &[],
            ),
        );
    }
    conforms(
        "atlas-event",
        &lines(&with(&["events", "--project", p]), &[]),
    );
    conforms(
        "atlas-process",
        &lines(&with(&["processes", "--project", p]), &[]),
    );
}

#[test]
fn every_c1_record_kind_conforms() {
    conforms(
        "c1-event",
        &lines(&["--sandbox", "-q", "c1", "events"], &[]),
    );
    conforms(
        "c1-exporter",
        &lines(&["--sandbox", "-q", "c1", "exporters", "list"], &[]),
    );
}

#[test]
fn every_cls_record_kind_conforms() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    let endpoint = sb.endpoint();
    let env = [
        ("TENCENTCLOUD_SECRET_ID", cls_sb::DEMO_SECRET_ID),
        ("TENCENTCLOUD_SECRET_KEY", cls_sb::DEMO_SECRET_KEY),
    ];
    let base = ["-q", "--endpoint", endpoint.as_str(), "cls"];
    let with = |rest: &[&'static str]| [&base[..], rest].concat();
    let region = ["--region", cls_sb::DEMO_REGION];
    let topic = ["--topic", cls_sb::DEMO_TOPIC_ID];
    for format in ["json", "csv"] {
        // `--keep-task` leaves the task behind for the listing below.
        let export = [
            &["export"][..],
            &region,
            &topic,
            &[
                "--query",
                "*",
                "--since",
                "10m",
                "--count",
                "40",
                "--format",
                format,
                "--keep-task",
            ],
        ]
        .concat();
        conforms("cls-record", &lines(&with(&export), &env));
    }
    conforms(
        "cls-export",
        &lines(&with(&[&["exports"][..], &region, &topic].concat()), &env),
    );
    conforms(
        "cls-topic",
        &lines(&with(&[&["topics"][..], &region].concat()), &env),
    );
}
