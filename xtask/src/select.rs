//! Operation selection and component closure.
//!
//! The crate exposes a handful of operations out of hundreds; generating the
//! rest would cost compile time and drag in schemas we cannot vouch for. So we
//! keep only the selected operations and exactly the components they reach.

use crate::selection::OperationSelection;
use crate::walk;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Keeps only the selected operations (renamed, with our summary and the
/// upstream id in `x-upstream-operation-id`) and drops empty path items.
pub fn select_operations(spec: &mut Value, selection: &[OperationSelection]) -> Result<(), String> {
    let wanted: BTreeMap<&str, &OperationSelection> =
        selection.iter().map(|s| (s.upstream.as_str(), s)).collect();
    let mut found = BTreeSet::new();
    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no paths")?;
    paths.retain(|_, item| {
        let Some(item) = item.as_object_mut() else {
            return false;
        };
        item.retain(|key, op| {
            if !walk::METHODS.contains(&key.as_str()) {
                return true;
            }
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
            let Some(sel) = wanted.get(id) else {
                return false;
            };
            found.insert(id.to_string());
            let op = op.as_object_mut().expect("operation is a map");
            op.insert("operationId".into(), Value::String(sel.name.clone()));
            op.insert("summary".into(), Value::String(sel.doc.clone()));
            op.insert(
                "x-upstream-operation-id".into(),
                Value::String(sel.upstream.clone()),
            );
            true
        });
        item.keys().any(|k| walk::METHODS.contains(&k.as_str()))
    });
    let missing: Vec<_> = wanted.keys().filter(|id| !found.contains(**id)).collect();
    if !missing.is_empty() {
        return Err(format!("operations not found upstream: {missing:?}"));
    }
    Ok(())
}

/// Drops every component not transitively referenced from outside
/// `components` (paths, mostly). Empty sections are removed.
pub fn prune_components(spec: &mut Value) {
    let Some(root) = spec.as_object() else { return };
    let mut roots = Vec::new();
    for (k, v) in root {
        if k != "components" {
            roots.extend(walk::refs(v));
        }
    }
    let components = root.get("components").cloned().unwrap_or(Value::Null);
    let mut keep: BTreeSet<(String, String)> = BTreeSet::new();
    let mut work = roots;
    while let Some(r) = work.pop() {
        let Some(key) = walk::parse_component_ref(&r) else {
            continue;
        };
        if keep.contains(&key) {
            continue;
        }
        if let Some(target) = components.get(&key.0).and_then(|s| s.get(&key.1)) {
            work.extend(walk::refs(target));
        }
        keep.insert(key);
    }
    if let Some(Value::Object(components)) = spec.get_mut("components") {
        for (section, entries) in components.iter_mut() {
            if let Value::Object(entries) = entries {
                entries.retain(|name, _| keep.contains(&(section.clone(), name.clone())));
            }
        }
        components.retain(|_, entries| entries.as_object().is_some_and(|e| !e.is_empty()));
    }
    if spec["components"].as_object().is_some_and(Map::is_empty) {
        spec.as_object_mut().unwrap().remove("components");
    }
}

/// Fails on references that point nowhere: a dangling ref would only surface
/// later as an obscure generator error.
pub fn check_refs(spec: &Value) -> Result<(), String> {
    for r in walk::refs(spec) {
        let ok = walk::parse_component_ref(&r).is_some_and(|(s, n)| {
            spec.get("components")
                .and_then(|c| c.get(&s))
                .and_then(|c| c.get(&n))
                .is_some()
        });
        if !ok {
            return Err(format!("dangling reference {r}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(up: &str, name: &str) -> OperationSelection {
        OperationSelection {
            upstream: up.into(),
            name: name.into(),
            doc: "Doc.".into(),
            accept: None,
        }
    }

    #[test]
    fn closure_selection() {
        let mut spec = json!({
            "paths": {
                "/a": {"parameters": [{"$ref": "#/components/parameters/P"}],
                       "get": {"operationId": "A", "responses": {"200": {"$ref": "#/components/responses/R"}}},
                       "post": {"operationId": "A2"}},
                "/b": {"get": {"operationId": "B", "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Unused"}}}}}}}
            },
            "components": {
                "parameters": {"P": {"schema": {"$ref": "#/components/schemas/Id"}}},
                "responses": {"R": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}},
                "schemas": {
                    "Out": {"properties": {"x": {"$ref": "#/components/schemas/Kind"}}},
                    "Kind": {"discriminator": {"mapping": {"k": "#/components/schemas/Sub"}}},
                    "Sub": {"type": "object"},
                    "Id": {"type": "string"},
                    "Unused": {"type": "string"}
                },
                "headers": {"H": {"schema": {"type": "string"}}}
            }
        });
        select_operations(&mut spec, &[sel("A", "do_a")]).unwrap();
        prune_components(&mut spec);
        check_refs(&spec).unwrap();
        assert_eq!(spec["paths"].as_object().unwrap().len(), 1);
        assert!(spec["paths"]["/a"].get("post").is_none());
        assert_eq!(spec["paths"]["/a"]["get"]["operationId"], "do_a");
        assert_eq!(spec["paths"]["/a"]["get"]["x-upstream-operation-id"], "A");
        assert_eq!(spec["paths"]["/a"]["get"]["summary"], "Doc.");
        let schemas: Vec<_> = spec["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(schemas, ["Out", "Kind", "Sub", "Id"]);
        assert!(spec["components"].get("headers").is_none());
    }

    #[test]
    fn missing_operation_is_an_error() {
        let mut spec = json!({"paths": {}});
        assert!(select_operations(&mut spec, &[sel("Nope", "nope")])
            .unwrap_err()
            .contains("Nope"));
    }
}
