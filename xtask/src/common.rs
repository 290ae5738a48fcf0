//! Vendor-independent normalisation applied to every generated spec.
//!
//! These steps make the output acceptable to progenitor 0.15 (OpenAPI 3.0.x,
//! regress-compatible patterns, distinct enum variant names) and
//! byte-for-byte reproducible (sorted keys, no floats where integers are
//! meant, a fixed `info`).

use crate::walk;
use heck::ToPascalCase;
use serde_json::{json, Map, Number, Value};
use std::collections::BTreeSet;

/// Rewrites the document envelope: `openapi: 3.0.3`, a minimal `info`,
/// server URLs only, no security (auth is hand-written), no top-level prose.
pub fn envelope(spec: &mut Value, vendor: &str) {
    let root = spec.as_object_mut().expect("spec is a map");
    let info = root.get("info").cloned().unwrap_or(json!({}));
    let mut new_info = Map::new();
    new_info.insert(
        "title".into(),
        info.get("title").cloned().unwrap_or(json!(vendor)),
    );
    new_info.insert(
        "version".into(),
        info.get("version").cloned().unwrap_or(json!("0")),
    );
    new_info.insert("x-logexport-source".into(), json!(vendor));
    let servers: Vec<Value> = root
        .get("servers")
        .and_then(Value::as_array)
        .map(|servers| {
            servers
                .iter()
                .map(|s| {
                    let mut out = Map::new();
                    out.insert("url".into(), s.get("url").cloned().unwrap_or(json!("/")));
                    // A templated URL is only valid with its variables; keep
                    // their defaults (structure, not prose).
                    if let Some(Value::Object(vars)) = s.get("variables") {
                        let vars: Map<String, Value> = vars
                            .iter()
                            .map(|(k, v)| {
                                let default = v.get("default").cloned().unwrap_or(json!(""));
                                (k.clone(), json!({ "default": default }))
                            })
                            .collect();
                        out.insert("variables".into(), Value::Object(vars));
                    }
                    Value::Object(out)
                })
                .collect()
        })
        .unwrap_or_default();
    let paths = root.remove("paths").unwrap_or(json!({}));
    let mut components = root.remove("components").unwrap_or(json!({}));
    if let Value::Object(c) = &mut components {
        c.remove("securitySchemes");
    }
    root.clear();
    root.insert("openapi".into(), json!("3.0.3"));
    root.insert("info".into(), Value::Object(new_info));
    if !servers.is_empty() {
        root.insert("servers".into(), Value::Array(servers));
    }
    root.insert("paths".into(), paths);
    if components.as_object().is_some_and(|c| !c.is_empty()) {
        root.insert("components".into(), components);
    }
    for (_, _, op) in walk::operations_mut(spec) {
        op.remove("security");
    }
}

/// OpenAPI requires a `description` on responses; prose stripping removed
/// upstream's, so put back a neutral one of ours.
pub fn response_descriptions(spec: &mut Value) {
    let fix = |responses: &mut Map<String, Value>| {
        for (code, resp) in responses.iter_mut() {
            if let Value::Object(resp) = resp {
                if !resp.contains_key("$ref") {
                    let text = if code.starts_with('2') {
                        "Success"
                    } else {
                        "Error"
                    };
                    resp.insert("description".into(), json!(text));
                }
            }
        }
    };
    for (_, _, op) in walk::operations_mut(spec) {
        if let Some(Value::Object(r)) = op.get_mut("responses") {
            fix(r);
        }
    }
    if let Some(Value::Object(r)) = spec.pointer_mut("/components/responses") {
        fix(r);
    }
}

/// YAML writes `1.1991456e+09` for integer bounds; openapiv3 reads integer
/// `minimum`/`maximum` as i64 and rejects floats, so integral floats become
/// integers (harmless for `number` schemas).
pub fn integral_floats(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    *n = Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats),
        Value::Object(m) => m.values_mut().for_each(integral_floats),
        _ => {}
    }
}

/// Sorts every map's keys so output never depends on upstream ordering;
/// the document root keeps the conventional reading order instead.
pub fn sort_document(spec: &mut Value) {
    sort_keys(spec);
    if let Value::Object(root) = spec {
        const ORDER: &[&str] = &["openapi", "info", "servers", "paths", "components"];
        let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
        let mut entries: Vec<(String, Value)> = std::mem::take(root).into_iter().collect();
        entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        root.extend(entries);
    }
}

fn sort_keys(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_keys);
        }
        _ => {}
    }
}

/// Drops `pattern`s that regress (the ECMAScript engine typify validates with
/// at generation time, 0.12, and the generated code compiles at run time,
/// 0.10) rejects. Validating with the real engines beats guessing at syntax
/// (lookbehind, possessive quantifiers, `\p{..}`...). Returns the count.
pub fn drop_invalid_patterns(spec: &mut Value) -> usize {
    let mut dropped = 0;
    walk::visit_mut(spec, &mut |node| {
        if let Some(Value::String(p)) = node.get("pattern") {
            if !pattern_ok(p) {
                node.remove("pattern");
                dropped += 1;
            }
        }
    });
    dropped
}

pub fn pattern_ok(p: &str) -> bool {
    regress::Regex::new(p).is_ok() && regress012::Regex::new(p).is_ok()
}

/// Turns a closed string enum into an open one: typify would generate a
/// closed Rust enum that fails to decode unknown values, so the list moves to
/// `x-logexport-open-enum` and the schema becomes a plain string.
pub fn open_enum(node: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(values)) = node.get("enum") else {
        return false;
    };
    if !values.iter().all(|v| v.is_string() || v.is_null()) {
        return false;
    }
    let known: Vec<Value> = values.iter().filter(|v| v.is_string()).cloned().collect();
    node.remove("enum");
    node.insert("x-logexport-open-enum".into(), Value::Array(known));
    if !node.contains_key("type") {
        node.insert("type".into(), json!("string"));
    }
    true
}

/// typify names variants with `to_pascal_case` after replacing non-identifier
/// characters; values that map to the same name would not compile (or get
/// unreadable fallback names), so such enums are opened instead.
pub fn open_colliding_enums(spec: &mut Value) -> usize {
    let mut opened = 0;
    walk::visit_mut(spec, &mut |node| {
        let Some(Value::Array(values)) = node.get("enum") else {
            return;
        };
        let mut names = BTreeSet::new();
        let collides = values
            .iter()
            .filter_map(Value::as_str)
            .any(|s| !names.insert(variant_name(s)));
        if collides && open_enum(node) {
            opened += 1;
        }
    });
    opened
}

/// Replaces the named component schemas by free-form JSON objects marked
/// `x-logexport-opaque: true`; what they referenced is pruned afterwards.
pub fn make_opaque(spec: &mut Value, names: &[String]) -> Result<usize, String> {
    for name in names {
        let slot = spec
            .pointer_mut("/components/schemas")
            .and_then(|s| s.get_mut(name))
            .ok_or_else(|| {
                format!("opaque schema `{name}` is not used by the selected operations")
            })?;
        *slot = json!({"type": "object", "additionalProperties": true, "x-logexport-opaque": true});
    }
    Ok(names.len())
}

/// Replaces the named component schemas (a string enum, or a union of
/// enums) by one open enum holding every known value, first-seen order.
pub fn open_enum_schemas(spec: &mut Value, names: &[String]) -> Result<usize, String> {
    for name in names {
        let slot = spec
            .pointer_mut("/components/schemas")
            .and_then(|s| s.get_mut(name))
            .ok_or_else(|| {
                format!("open enum schema `{name}` is not used by the selected operations")
            })?;
        let mut values: Vec<Value> = Vec::new();
        walk::visit(slot, &mut |node| {
            for key in ["enum", "x-logexport-open-enum"] {
                for v in node
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if v.is_string() && !values.contains(v) {
                        values.push(v.clone());
                    }
                }
            }
        });
        if values.is_empty() {
            return Err(format!("open enum schema `{name}` lists no string values"));
        }
        *slot = json!({"type": "string", "x-logexport-open-enum": values});
    }
    Ok(names.len())
}

fn variant_name(raw: &str) -> String {
    let cleaned: String = raw
        .replace('\'', "")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.to_pascal_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_patterns_are_dropped() {
        let mut v = json!({"properties": {
            "a": {"type": "string", "pattern": "^[a-z]+$"},
            "b": {"type": "string", "pattern": "^(?<!x)a$"},
            "c": {"type": "string", "pattern": "^a++$"}
        }});
        let n = drop_invalid_patterns(&mut v);
        assert!(v["properties"]["a"].get("pattern").is_some());
        assert_eq!(n, 2 - usize::from(pattern_ok("^(?<!x)a$")));
        assert!(v["properties"]["c"].get("pattern").is_none());
    }

    #[test]
    fn colliding_enums_are_opened() {
        let mut v = json!({"properties": {
            "region": {"type": "string", "enum": ["ap-south-1", "AP_SOUTH_1", "US_EAST_1"]},
            "ok": {"type": "string", "enum": ["a", "b"]}
        }});
        assert_eq!(open_colliding_enums(&mut v), 1);
        assert_eq!(
            v["properties"]["region"]["x-logexport-open-enum"],
            json!(["ap-south-1", "AP_SOUTH_1", "US_EAST_1"])
        );
        assert!(v["properties"]["region"].get("enum").is_none());
        assert!(v["properties"]["ok"].get("enum").is_some());
    }

    #[test]
    fn opaque_and_open_enum_schemas() {
        let mut v = json!({"components": {"schemas": {
            "Event": {"oneOf": [{"$ref": "#/components/schemas/A"}]},
            "Kind": {"oneOf": [{"enum": ["X", "Y"], "type": "string"}, {"enum": ["Y", "Z"], "type": "string"}]}
        }}});
        make_opaque(&mut v, &["Event".into()]).unwrap();
        open_enum_schemas(&mut v, &["Kind".into()]).unwrap();
        assert_eq!(
            v["components"]["schemas"]["Event"],
            json!({"type": "object", "additionalProperties": true, "x-logexport-opaque": true})
        );
        assert_eq!(
            v["components"]["schemas"]["Kind"],
            json!({"type": "string", "x-logexport-open-enum": ["X", "Y", "Z"]})
        );
        assert!(make_opaque(&mut v, &["Nope".into()]).is_err());
    }

    #[test]
    fn floats_and_order() {
        let mut v: Value = serde_yaml::from_str("b: 1.1991456e+09\na: 0.5\n").unwrap();
        integral_floats(&mut v);
        sort_document(&mut v);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":0.5,"b":1199145600}"#
        );
        let mut v =
            json!({"paths": {"/b": 1, "/a": 2}, "components": {}, "openapi": "3.0.3", "info": {}});
        sort_document(&mut v);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"openapi":"3.0.3","info":{},"paths":{"/a":2,"/b":1},"components":{}}"#
        );
    }
}
