//! ConductorOne: OpenAPI 3.1 → 3.0 down-conversion and open enums.
//!
//! The C1 spec is labelled 3.1 (which progenitor refuses) but is written in
//! 3.0 style except for nullability; rewriting the few 3.1 constructs is
//! cheaper and more faithful than a general converter.

use crate::common;
use crate::walk;
use serde_json::{json, Map, Value};

/// `type: [X, "null"]` → `type: X, nullable: true`. A union of several
/// non-null types has no 3.0 spelling and becomes untyped (any JSON).
pub fn downconvert_type_arrays(spec: &mut Value) -> usize {
    let mut n = 0;
    walk::visit_mut(spec, &mut |node| {
        let Some(Value::Array(types)) = node.get("type") else {
            return;
        };
        let nullable = types.iter().any(|t| t == "null");
        let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        match rest.as_slice() {
            [one] => {
                node.insert("type".into(), one.clone());
            }
            _ => {
                node.remove("type");
            }
        }
        if nullable {
            node.insert("nullable".into(), json!(true));
        }
        n += 1;
    });
    n
}

/// `oneOf`/`anyOf: [{$ref}, {type: "null"}]` (either order) →
/// `allOf: [{$ref}], nullable: true`: a bare `$ref` cannot carry `nullable`
/// in 3.0, and the two-armed union would become a needless Rust enum.
pub fn downconvert_null_unions(spec: &mut Value) -> usize {
    let mut n = 0;
    walk::visit_mut(spec, &mut |node| {
        for key in ["oneOf", "anyOf"] {
            let Some(Value::Array(arms)) = node.get(key) else {
                continue;
            };
            let is_null = |a: &Value| {
                a.get("type") == Some(&json!("null")) && a.as_object().is_some_and(|o| o.len() == 1)
            };
            if arms.len() < 2 || !arms.iter().any(is_null) {
                continue;
            }
            let rest: Vec<Value> = arms.iter().filter(|a| !is_null(a)).cloned().collect();
            node.remove(key);
            if rest.len() == 1 {
                node.insert("allOf".into(), Value::Array(rest));
            } else {
                node.insert(key.into(), Value::Array(rest));
            }
            node.insert("nullable".into(), json!(true));
            n += 1;
        }
    });
    n
}

/// Other 3.1-only keywords: `const` → single-value `enum`; numeric
/// `exclusiveMinimum/Maximum` → 3.0 boolean form; JSON-Schema bookkeeping
/// keywords dropped.
pub fn downconvert_keywords(spec: &mut Value) {
    walk::visit_mut(spec, &mut |node| {
        if let Some(c) = node.remove("const") {
            node.insert("enum".into(), json!([c]));
        }
        for (excl, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if let Some(Value::Number(v)) = node.get(excl).cloned() {
                node.insert(bound.into(), Value::Number(v));
                node.insert(excl.into(), json!(true));
            }
        }
        for k in [
            "$schema",
            "$id",
            "$anchor",
            "$comment",
            "contentEncoding",
            "contentMediaType",
            "unevaluatedProperties",
        ] {
            node.remove(k);
        }
    });
}

/// Enums marked `x-speakeasy-unknown-values: allow` must accept values added
/// later, so they become strings with the known values in
/// `x-logexport-open-enum`.
pub fn open_enums(spec: &mut Value) -> usize {
    let mut n = 0;
    walk::visit_mut(spec, &mut |node| {
        if node.get("x-speakeasy-unknown-values") == Some(&json!("allow"))
            && common::open_enum(node)
        {
            n += 1;
        }
    });
    n
}

/// Exactly one typed response per operation: the 200 `application/json` one.
pub fn only_json_200(spec: &mut Value) -> Result<(), String> {
    for (path, method, op) in walk::operations_mut(spec) {
        let responses = op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{method} {path}: no responses"))?;
        let mut ok = responses
            .remove("200")
            .ok_or_else(|| format!("{method} {path}: no 200 response"))?;
        let json = ok
            .get("content")
            .and_then(|c| c.get("application/json"))
            .cloned()
            .ok_or_else(|| format!("{method} {path}: 200 is not application/json"))?;
        let mut content = Map::new();
        content.insert("application/json".into(), json);
        ok["content"] = Value::Object(content);
        responses.clear();
        responses.insert("200".into(), ok);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_array_downconvert() {
        let mut v = json!({"properties": {
            "a": {"type": ["string", "null"], "format": "date-time"},
            "b": {"type": ["array", "null"], "items": {"type": ["integer", "null"]}},
            "c": {"type": ["string", "integer"]},
            "type": {"type": ["string"]}
        }});
        assert_eq!(downconvert_type_arrays(&mut v), 5);
        assert_eq!(
            v["properties"]["a"],
            json!({"type": "string", "format": "date-time", "nullable": true})
        );
        assert_eq!(
            v["properties"]["b"]["items"],
            json!({"type": "integer", "nullable": true})
        );
        assert_eq!(v["properties"]["c"], json!({}));
        assert_eq!(v["properties"]["type"], json!({"type": "string"}));
    }

    #[test]
    fn one_of_null() {
        let r = json!({"$ref": "#/components/schemas/X"});
        let mut v = json!({"properties": {
            "a": {"oneOf": [r, {"type": "null"}]},
            "b": {"oneOf": [{"type": "null"}, r]},
            "c": {"oneOf": [r, {"type": "string"}]}
        }});
        assert_eq!(downconvert_null_unions(&mut v), 2);
        assert_eq!(
            v["properties"]["a"],
            json!({"allOf": [r], "nullable": true})
        );
        assert_eq!(
            v["properties"]["b"],
            json!({"allOf": [r], "nullable": true})
        );
        assert_eq!(v["properties"]["c"]["oneOf"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn other_31_keywords() {
        let mut v =
            json!({"$schema": "x", "properties": {"k": {"const": "v", "exclusiveMinimum": 0}}});
        downconvert_keywords(&mut v);
        assert_eq!(
            v,
            json!({"properties": {"k": {"enum": ["v"], "minimum": 0, "exclusiveMinimum": true}}})
        );
    }

    #[test]
    fn open_enum_handling() {
        let mut v = json!({"properties": {
            "state": {"type": "string", "enum": ["A", "B"], "x-speakeasy-unknown-values": "allow"},
            "closed": {"type": "string", "enum": ["C"]}
        }});
        assert_eq!(open_enums(&mut v), 1);
        assert_eq!(
            v["properties"]["state"],
            json!({"type": "string", "x-speakeasy-unknown-values": "allow", "x-logexport-open-enum": ["A", "B"]})
        );
        assert_eq!(v["properties"]["closed"]["enum"], json!(["C"]));
    }

    #[test]
    fn single_json_response() {
        let mut v = json!({"paths": {"/a": {"get": {"responses": {
            "200": {"content": {"application/json": {"schema": {}}, "text/plain": {}}},
            "default": {"content": {"application/json": {}}}
        }}}}});
        only_json_200(&mut v).unwrap();
        assert_eq!(
            v["paths"]["/a"]["get"]["responses"],
            json!({"200": {"content": {"application/json": {"schema": {}}}}})
        );
    }
}
