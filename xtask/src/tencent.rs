//! Tencent Cloud CLS: `api.json` (tccli's action/object description) → OpenAPI.
//!
//! Tencent publishes no OpenAPI. The wire form is `POST /` with the action
//! in `X-TC-Action`, which OpenAPI cannot express for several operations, so
//! each action gets its own path `/<Action>`; the request hook puts the call
//! back into wire form using `x-tc-action`/`x-tc-version`.
//!
//! Errors arrive with HTTP 200 inside the normal envelope, so no output
//! member is `required` and every `<Action>Response` has an optional `Error`.

use crate::selection::{Constraint, VendorSelection};
use crate::walk;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const ERROR_SCHEMA: &str = "TencentError";
pub const SERVER: &str = "https://cls.tencentcloudapi.com";

/// Builds the OpenAPI document for the selected actions.
pub fn convert(api: &Value, selection: &VendorSelection) -> Result<Value, String> {
    let actions = api
        .get("actions")
        .and_then(Value::as_object)
        .ok_or("api.json has no actions")?;
    let objects = api
        .get("objects")
        .and_then(Value::as_object)
        .ok_or("api.json has no objects")?;
    let version = api
        .pointer("/metadata/apiVersion")
        .and_then(Value::as_str)
        .ok_or("api.json has no metadata.apiVersion")?;

    let mut paths = Map::new();
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    for sel in &selection.operations {
        let action = actions
            .get(&sel.upstream)
            .ok_or_else(|| format!("action {} not found in api.json", sel.upstream))?;
        let object = |key: &str| -> Result<&Value, String> {
            let name = action.get(key).and_then(Value::as_str).unwrap_or("");
            objects
                .get(name)
                .ok_or_else(|| format!("{}: {key} object `{name}` missing", sel.upstream))
        };
        let a = &sel.upstream;
        let request = object_schema(a, object("input")?, &selection.constraints, &mut pending)?;
        let mut response =
            object_schema(a, object("output")?, &selection.constraints, &mut pending)?;
        response["properties"]["Error"] = json!({"$ref": walk::schema_ref(ERROR_SCHEMA)});
        response["properties"]["RequestId"] = json!({"type": "string"});
        if let Value::Object(r) = &mut response {
            r.remove("required");
        }
        schemas.insert(format!("{a}Request"), request);
        schemas.insert(format!("{a}Response"), response);
        schemas.insert(
            format!("{a}Envelope"),
            json!({"type": "object", "required": ["Response"],
                   "properties": {"Response": {"$ref": walk::schema_ref(&format!("{a}Response"))}}}),
        );
        let op = json!({
            "operationId": sel.name,
            "summary": sel.doc,
            "x-upstream-operation-id": a,
            "x-tc-action": a,
            "x-tc-version": version,
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": walk::schema_ref(&format!("{a}Request"))}}}},
            "responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": walk::schema_ref(&format!("{a}Envelope"))}}}}}
        });
        paths.insert(format!("/{a}"), json!({ "post": op }));
    }
    schemas.insert(
        ERROR_SCHEMA.into(),
        json!({"type": "object", "properties": {"Code": {"type": "string"}, "Message": {"type": "string"}}}),
    );
    // Shared data objects: only the transitive closure of what actions use.
    let mut done = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        let obj = objects
            .get(&name)
            .ok_or_else(|| format!("object `{name}` missing"))?;
        let schema = object_schema(&name, obj, &selection.constraints, &mut pending)?;
        if schemas.insert(name.clone(), schema).is_some() {
            return Err(format!(
                "object `{name}` collides with a generated schema name"
            ));
        }
    }
    let used: BTreeSet<&str> = selection
        .constraints
        .keys()
        .filter_map(|k| k.split_once('.').map(|(o, _)| o))
        .collect();
    for owner in used {
        if !selection.operations.iter().any(|o| o.upstream == owner) && !done.contains(owner) {
            return Err(format!("constraint on `{owner}`, which is not selected"));
        }
    }
    Ok(json!({
        "openapi": "3.0.3",
        "info": {"title": "Tencent Cloud Log Service (CLS)", "version": version},
        "servers": [{"url": SERVER}],
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// One api.json object → an object schema. `owner` names the constraints
/// (action name for an action's input, object name otherwise).
fn object_schema(
    owner: &str,
    object: &Value,
    constraints: &BTreeMap<String, Constraint>,
    pending: &mut Vec<String>,
) -> Result<Value, String> {
    let members = object
        .get("members")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{owner}: no members"))?;
    let mut properties = Map::new();
    let mut required = Vec::new();
    for m in members {
        if m.get("disabled") == Some(&json!(true)) {
            continue;
        }
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{owner}: member without name"))?;
        let mut schema = member_schema(m, pending).map_err(|e| format!("{owner}.{name}: {e}"))?;
        if m.get("value_allowed_null") == Some(&json!(true)) {
            schema = nullable(schema);
        }
        if let Some(c) = constraints.get(&format!("{owner}.{name}")) {
            apply_constraint(&mut schema, c);
        }
        if m.get("required") == Some(&json!(true)) {
            required.push(json!(name));
        }
        properties.insert(name.to_string(), schema);
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    Ok(schema)
}

/// Member type mapping (api.json `type` + `member`).
fn member_schema(m: &Value, pending: &mut Vec<String>) -> Result<Value, String> {
    let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
    let member = m.get("member").and_then(Value::as_str).unwrap_or("");
    match ty {
        "list" => Ok(json!({"type": "array", "items": scalar_or_ref(member, pending)?})),
        "object" => Ok(object_ref(member, pending)),
        "string" | "int" | "float" | "bool" => scalar_or_ref(member, pending),
        other => Err(format!("unknown member type `{other}`")),
    }
}

fn scalar_or_ref(member: &str, pending: &mut Vec<String>) -> Result<Value, String> {
    Ok(match member {
        "string" | "datetime" | "date" | "time" => json!({"type": "string"}),
        "int64" | "int" => json!({"type": "integer", "format": "int64"}),
        "uint64" => json!({"type": "integer", "format": "uint64", "minimum": 0}),
        "float" | "double" => json!({"type": "number", "format": "double"}),
        "bool" => json!({"type": "boolean"}),
        "" => return Err("member type missing".into()),
        name if name.starts_with(|c: char| c.is_ascii_uppercase()) => object_ref(name, pending),
        other => return Err(format!("unknown member primitive `{other}`")),
    })
}

fn object_ref(name: &str, pending: &mut Vec<String>) -> Value {
    pending.push(name.to_string());
    json!({"$ref": walk::schema_ref(name)})
}

fn nullable(schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        json!({"allOf": [schema], "nullable": true})
    } else {
        let mut s = schema;
        s["nullable"] = json!(true);
        s
    }
}

fn apply_constraint(schema: &mut Value, c: &Constraint) {
    if let Some(v) = &c.minimum {
        schema["minimum"] = Value::Number(v.clone());
    }
    if let Some(v) = &c.maximum {
        schema["maximum"] = Value::Number(v.clone());
    }
    if let Some(v) = &c.enum_values {
        schema["enum"] = json!(v);
    }
    if let Some(v) = &c.open_enum {
        schema["x-logexport-open-enum"] = json!(v);
    }
}

/// Lock-file facts: the api.json version.
pub fn upstream_version(api: &Value) -> Option<String> {
    api.pointer("/metadata/apiVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::OperationSelection;

    fn fixture() -> Value {
        json!({
            "metadata": {"apiVersion": "2020-10-16"},
            "actions": {
                "CreateThing": {"input": "CreateThingRequest", "output": "CreateThingResponse", "document": "prose"},
                "ListThings": {"input": "ListThingsRequest", "output": "ListThingsResponse"},
                "Unused": {"input": "UnusedRequest", "output": "UnusedResponse"}
            },
            "objects": {
                "CreateThingRequest": {"members": [
                    {"name": "TopicId", "type": "string", "member": "string", "required": true, "document": "p"},
                    {"name": "Count", "type": "int", "member": "uint64", "required": true},
                    {"name": "Order", "type": "string", "member": "string", "required": false},
                    {"name": "Old", "type": "string", "member": "string", "disabled": true}
                ]},
                "CreateThingResponse": {"members": [
                    {"name": "ThingId", "type": "string", "member": "string", "output_required": true},
                    {"name": "RequestId", "type": "string", "member": "string"}
                ]},
                "ListThingsRequest": {"members": [
                    {"name": "Filters", "type": "list", "member": "Filter"},
                    {"name": "From", "type": "int", "member": "int64"}
                ]},
                "ListThingsResponse": {"members": [
                    {"name": "Things", "type": "list", "member": "Thing", "value_allowed_null": true},
                    {"name": "Ratio", "type": "float", "member": "float"},
                    {"name": "RequestId", "type": "string", "member": "string"}
                ]},
                "Filter": {"members": [{"name": "Values", "type": "list", "member": "string", "required": true}]},
                "Thing": {"members": [
                    {"name": "On", "type": "bool", "member": "bool"},
                    {"name": "At", "type": "string", "member": "datetime"},
                    {"name": "Owner", "type": "object", "member": "Owner"}
                ]},
                "Owner": {"members": [{"name": "Id", "type": "string", "member": "string"}]},
                "Orphan": {"members": []}
            }
        })
    }

    fn selection() -> VendorSelection {
        let op = |up: &str, name: &str| OperationSelection {
            upstream: up.into(),
            name: name.into(),
            doc: "Ours.".into(),
            accept: None,
        };
        let mut constraints = BTreeMap::new();
        constraints.insert(
            "CreateThing.Count".to_string(),
            Constraint {
                maximum: Some(50_000_000.into()),
                ..Default::default()
            },
        );
        constraints.insert(
            "CreateThing.Order".to_string(),
            Constraint {
                enum_values: Some(vec!["asc".into(), "desc".into()]),
                ..Default::default()
            },
        );
        VendorSelection {
            operations: vec![
                op("CreateThing", "create_thing"),
                op("ListThings", "list_things"),
            ],
            constraints,
            ..Default::default()
        }
    }

    #[test]
    fn two_action_conversion() {
        let v = convert(&fixture(), &selection()).unwrap();
        let op = &v["paths"]["/CreateThing"]["post"];
        assert_eq!(op["operationId"], "create_thing");
        assert_eq!(op["x-tc-action"], "CreateThing");
        assert_eq!(op["x-tc-version"], "2020-10-16");
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/CreateThingRequest"
        );
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/CreateThingEnvelope"
        );
        let s = &v["components"]["schemas"];
        let names: Vec<_> = s.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            names,
            [
                "CreateThingEnvelope",
                "CreateThingRequest",
                "CreateThingResponse",
                "Filter",
                "ListThingsEnvelope",
                "ListThingsRequest",
                "ListThingsResponse",
                "Owner",
                "TencentError",
                "Thing"
            ]
        );
        assert_eq!(
            s["CreateThingRequest"],
            json!({"type": "object", "required": ["TopicId", "Count"], "properties": {
                "TopicId": {"type": "string"},
                "Count": {"type": "integer", "format": "uint64", "minimum": 0, "maximum": 50_000_000},
                "Order": {"type": "string", "enum": ["asc", "desc"]}
            }})
        );
        assert!(s["CreateThingResponse"].get("required").is_none());
        assert_eq!(
            s["CreateThingResponse"]["properties"]["Error"]["$ref"],
            "#/components/schemas/TencentError"
        );
        assert_eq!(s["CreateThingEnvelope"]["required"], json!(["Response"]));
        assert_eq!(
            s["ListThingsResponse"]["properties"]["Things"],
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Thing"}, "nullable": true})
        );
        assert_eq!(
            s["ListThingsResponse"]["properties"]["Ratio"],
            json!({"type": "number", "format": "double"})
        );
        assert_eq!(
            s["ListThingsRequest"]["properties"]["From"],
            json!({"type": "integer", "format": "int64"})
        );
        assert_eq!(s["Thing"]["properties"]["At"], json!({"type": "string"}));
        assert_eq!(s["Thing"]["properties"]["On"], json!({"type": "boolean"}));
        assert_eq!(s["Filter"]["required"], json!(["Values"]));
    }

    #[test]
    fn constraint_on_unselected_owner_is_an_error() {
        let mut sel = selection();
        sel.constraints
            .insert("Nope.X".into(), Constraint::default());
        assert!(convert(&fixture(), &sel).unwrap_err().contains("Nope"));
    }
}
