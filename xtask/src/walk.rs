//! Keyword-aware traversal of OpenAPI documents.
//!
//! Every transformation edits "nodes" (schemas, operations, parameters...)
//! by keyword. A plain recursive walk would also treat user-chosen names as
//! keywords (a property called `description` or `enum`), so this module knows
//! which maps are keyed by names and which values are opaque data.

use serde_json::{Map, Value};

/// Maps whose keys are names chosen by the spec author, not keywords.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "schemas",
    "responses",
    "parameters",
    "headers",
    "content",
    "requestBodies",
    "securitySchemes",
    "paths",
    "links",
    "callbacks",
    "encoding",
    "variables",
    "mapping",
];

/// Values that are data (literal JSON), never nodes.
fn is_opaque(key: &str) -> bool {
    matches!(key, "enum" | "default" | "const" | "example" | "examples") || key.starts_with("x-")
}

/// Calls `f` on every node (pre-order; children are visited after `f` ran).
pub fn visit_mut(v: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    visit_inner(v, false, f)
}

fn visit_inner(v: &mut Value, name_map: bool, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            if !name_map {
                f(m);
            }
            for (k, child) in m.iter_mut() {
                if !name_map && is_opaque(k) {
                    continue;
                }
                visit_inner(child, !name_map && NAME_MAPS.contains(&k.as_str()), f);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_inner(item, false, f);
            }
        }
        _ => {}
    }
}

/// Read-only variant of [`visit_mut`].
pub fn visit(v: &Value, f: &mut dyn FnMut(&Map<String, Value>)) {
    visit_ro(v, false, f)
}

fn visit_ro(v: &Value, name_map: bool, f: &mut dyn FnMut(&Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            if !name_map {
                f(m);
            }
            for (k, child) in m {
                if !name_map && is_opaque(k) {
                    continue;
                }
                visit_ro(child, !name_map && NAME_MAPS.contains(&k.as_str()), f);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_ro(item, false, f);
            }
        }
        _ => {}
    }
}

/// Every `#/components/...` reference below `v`: `$ref`s and discriminator
/// mappings (which are references too, and would dangle if not kept).
pub fn refs(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    visit(v, &mut |node| {
        if let Some(Value::String(r)) = node.get("$ref") {
            out.push(r.clone());
        }
        if let Some(Value::Object(mapping)) =
            node.get("discriminator").and_then(|d| d.get("mapping"))
        {
            for target in mapping.values() {
                if let Value::String(r) = target {
                    out.push(r.clone());
                }
            }
        }
    });
    out
}

/// Splits `#/components/<section>/<name>` (JSON-pointer escaped).
pub fn parse_component_ref(r: &str) -> Option<(String, String)> {
    let rest = r.strip_prefix("#/components/")?;
    let (section, name) = rest.split_once('/')?;
    Some((unescape(section), unescape(name)))
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

/// The reference string for a schema component.
pub fn schema_ref(name: &str) -> String {
    format!(
        "#/components/schemas/{}",
        name.replace('~', "~0").replace('/', "~1")
    )
}

pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation object, with its path and method.
pub fn operations_mut(spec: &mut Value) -> Vec<(String, String, &mut Map<String, Value>)> {
    let mut out = Vec::new();
    if let Some(Value::Object(paths)) = spec.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            if let Value::Object(item) = item {
                for (method, op) in item.iter_mut() {
                    if METHODS.contains(&method.as_str()) {
                        if let Value::Object(op) = op {
                            out.push((path.clone(), method.clone(), op));
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_names_are_not_keywords() {
        let mut v = json!({"properties": {"enum": {"type": "string"}}, "enum": [{"type": 1}]});
        let mut seen = Vec::new();
        visit_mut(&mut v, &mut |n| {
            seen.push(n.keys().cloned().collect::<Vec<_>>())
        });
        assert_eq!(
            seen,
            vec![
                vec!["properties".to_string(), "enum".into()],
                vec!["type".into()]
            ]
        );
    }

    #[test]
    fn refs_include_mappings() {
        let v = json!({"discriminator": {"mapping": {"a": "#/components/schemas/A"}}, "items": {"$ref": "#/components/schemas/B"}});
        assert_eq!(
            refs(&v),
            vec!["#/components/schemas/A", "#/components/schemas/B"]
        );
        assert_eq!(
            parse_component_ref("#/components/schemas/a~1b"),
            Some(("schemas".into(), "a/b".into()))
        );
    }
}
