//! MongoDB Atlas: versioned media types, single responses, cycles, enums.
//!
//! Atlas versions every resource through the Accept header
//! (`application/vnd.atlas.<date>+json|gzip`). progenitor types only exact
//! `application/json` and panics on several response types, so each
//! operation keeps one success response with one plain media type, and the
//! versioning facts move to extensions the hand-written layer reads.

use crate::common;
use crate::selection::OperationSelection;
use crate::walk;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const SUCCESS: &[&str] = &["200", "201", "202", "204"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Version {
    date: String,
    media_type: String,
    sunset: Option<String>,
}

/// `application/vnd.atlas.2023-02-01+gzip` → (`2023-02-01`, `gzip`).
fn parse_media_type(mt: &str) -> Option<(&str, &str)> {
    mt.strip_prefix("application/vnd.atlas.")?.split_once('+')
}

/// Versioned media types become one plain entry: JSON → `application/json`
/// (typed by progenitor), anything else → `application/octet-stream`
/// (a `ByteStream`). The chosen version is the override from
/// `operations.toml`, else the newest without `x-sunset`, else the newest:
/// a fixed rule, never the clock, so output is reproducible.
/// Records `x-logexport-accept` and `x-logexport-versions` (every version
/// upstream lists, so callers can pin one and unknown ones are rejected).
pub fn rewrite_media_types(
    spec: &mut Value,
    selection: &[OperationSelection],
) -> Result<(), String> {
    let overrides: BTreeMap<&str, &str> = selection
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.accept.as_deref()?)))
        .collect();
    for (path, method, op) in walk::operations_mut(spec) {
        let what = format!("{method} {path}");
        let responses = op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{what}: no responses"))?;
        let code = SUCCESS
            .iter()
            .find(|c| responses.contains_key(**c))
            .ok_or_else(|| format!("{what}: no success response"))?
            .to_string();
        let mut success = responses.remove(&code).unwrap();
        responses.clear();

        let mut versions = BTreeSet::new();
        collect_versions(success.get("content"), &mut versions);
        collect_versions(
            op.get("requestBody").and_then(|b| b.get("content")),
            &mut versions,
        );
        let name = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let chosen = match overrides.get(name.as_str()) {
            Some(mt) => versions
                .iter()
                .find(|v| v.media_type == *mt)
                .cloned()
                .ok_or_else(|| format!("{what}: accept override {mt} is not offered upstream"))?,
            None => versions
                .iter()
                .rev()
                .find(|v| v.sunset.is_none())
                .or_else(|| versions.iter().next_back())
                .cloned()
                .ok_or_else(|| format!("{what}: no versioned media type"))?,
        };
        if let Some(content) = success.get_mut("content") {
            *content = single_media_type(content, &chosen.media_type, &what)?;
        }
        if let Some(Value::Object(body)) = op.get_mut("requestBody") {
            if let Some(content) = body.get_mut("content") {
                let mt = chosen.media_type.replace("+gzip", "+json");
                *content = single_media_type(content, &mt, &what)?;
            }
        }
        let responses = op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .unwrap();
        responses.insert(code, success);
        op.insert("x-logexport-accept".into(), json!(chosen.media_type));
        let list: Vec<Value> = versions
            .iter()
            .map(|v| {
                let mut m = Map::new();
                m.insert("media_type".into(), json!(v.media_type));
                m.insert("version".into(), json!(v.date));
                if let Some(s) = &v.sunset {
                    m.insert("sunset".into(), json!(s));
                }
                Value::Object(m)
            })
            .collect();
        op.insert("x-logexport-versions".into(), Value::Array(list));
    }
    Ok(())
}

fn collect_versions(content: Option<&Value>, out: &mut BTreeSet<Version>) {
    let Some(Value::Object(content)) = content else {
        return;
    };
    for (mt, entry) in content {
        if let Some((date, _)) = parse_media_type(mt) {
            let date = entry
                .get("x-xgen-version")
                .and_then(Value::as_str)
                .unwrap_or(date);
            out.insert(Version {
                date: date.to_string(),
                media_type: mt.clone(),
                sunset: entry
                    .get("x-sunset")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
    }
}

/// Keeps only `chosen` (or, for a request body, the entry of the same
/// version) under its plain media type name.
fn single_media_type(content: &Value, chosen: &str, what: &str) -> Result<Value, String> {
    let content = content
        .as_object()
        .ok_or_else(|| format!("{what}: content is not a map"))?;
    let (mt, entry) = content
        .get_key_value(chosen)
        .or_else(|| {
            let date = parse_media_type(chosen)?.0;
            content
                .iter()
                .find(|(k, _)| parse_media_type(k).is_some_and(|(d, _)| d == date))
        })
        .or_else(|| content.iter().next())
        .ok_or_else(|| format!("{what}: empty content"))?;
    let plain = match parse_media_type(mt) {
        Some((_, "json")) => "application/json",
        Some(_) => "application/octet-stream",
        None => mt.as_str(),
    };
    let mut entry = entry.clone();
    if let Value::Object(e) = &mut entry {
        e.remove("x-xgen-version");
        e.remove("x-sunset");
    }
    let mut out = Map::new();
    out.insert(plain.into(), entry);
    Ok(Value::Object(out))
}

/// Counts parent/child cycles: a parent whose `oneOf`/`discriminator` lists
/// children that each `allOf` the parent makes typify recurse forever.
/// [`flatten_unions`] removes them; this count is for the refresh log.
pub fn count_cycles(spec: &Value) -> usize {
    let Some(Value::Object(schemas)) = spec.pointer("/components/schemas") else {
        return 0;
    };
    let mut edges = 0;
    for (parent, schema) in schemas {
        let parent_ref = json!(walk::schema_ref(parent));
        for child in union_arms(schema) {
            let Some((_, child)) = child
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(walk::parse_component_ref)
            else {
                continue;
            };
            let refs_parent = schemas
                .get(&child)
                .and_then(|c| c.get("allOf"))
                .and_then(Value::as_array)
                .is_some_and(|all| all.iter().any(|a| a.get("$ref") == Some(&parent_ref)));
            edges += usize::from(refs_parent);
        }
    }
    edges
}

/// `oneOf`/`anyOf` arms plus discriminator mapping targets, deduplicated.
fn union_arms(schema: &Value) -> Vec<Value> {
    let mut arms: Vec<Value> = Vec::new();
    for key in ["oneOf", "anyOf"] {
        for arm in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !arms.contains(arm) {
                arms.push(arm.clone());
            }
        }
    }
    if let Some(Value::Object(mapping)) = schema.pointer("/discriminator/mapping") {
        for target in mapping.values().filter_map(Value::as_str) {
            let arm = json!({ "$ref": target });
            if !arms.contains(&arm) {
                arms.push(arm);
            }
        }
    }
    arms
}

/// Flattens object unions into one struct holding every arm's properties,
/// all optional. typify turns such unions into `#[serde(untagged)]` enums
/// whose first all-optional variant matches any object, silently dropping
/// the other variants' fields (and unknown variants would fail); with a
/// parent/child `allOf` cycle it overflows the stack. A flat struct decodes
/// every variant, present and future, losslessly for the known fields.
/// Properties whose schemas differ between arms become untyped JSON. The
/// discriminator property name, if any, is kept in
/// `x-logexport-discriminator`. Returns the number of unions flattened.
pub fn flatten_unions(spec: &mut Value) -> usize {
    let schemas = spec
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(json!({}));
    let mut flattened = 0;
    walk::visit_mut(spec, &mut |node| {
        let node_value = Value::Object(node.clone());
        let arms = union_arms(&node_value);
        if arms.is_empty() {
            return;
        }
        if let Some(values) = string_union_values(&arms, &schemas) {
            node.clear();
            node.insert("type".into(), json!("string"));
            node.insert("x-logexport-open-enum".into(), Value::Array(values));
            flattened += 1;
            return;
        }
        let mut props = Map::new();
        let mut seen = BTreeSet::new();
        let mut own = node_value.clone();
        for k in ["oneOf", "anyOf", "discriminator"] {
            own.as_object_mut().unwrap().remove(k);
        }
        let mut objects = true;
        collect_properties(&own, &schemas, &mut seen, &mut props, &mut objects);
        for arm in &arms {
            collect_properties(arm, &schemas, &mut seen, &mut props, &mut objects);
        }
        if !objects {
            return;
        }
        let discriminator = node
            .get("discriminator")
            .and_then(|d| d.get("propertyName"))
            .cloned();
        for k in ["oneOf", "anyOf", "discriminator", "allOf"] {
            node.remove(k);
        }
        node.insert("type".into(), json!("object"));
        node.insert("properties".into(), Value::Object(props));
        if let Some(d) = discriminator {
            node.insert("x-logexport-discriminator".into(), d);
        }
        flattened += 1;
    });
    flattened
}

/// A union whose arms are all strings (upstream: per-cloud region enums)
/// becomes one open string enum; as an untagged enum the first arm would
/// always win. Returns the known values, or None if some arm is no string.
fn string_union_values(arms: &[Value], schemas: &Value) -> Option<Vec<Value>> {
    let mut values = Vec::new();
    for arm in arms {
        let arm = match arm.get("$ref").and_then(Value::as_str) {
            Some(r) => schemas.get(walk::parse_component_ref(r)?.1)?,
            None => arm,
        };
        if arm.get("type").and_then(Value::as_str) != Some("string") {
            return None;
        }
        for key in ["enum", "x-logexport-open-enum"] {
            for v in arm.get(key).and_then(Value::as_array).into_iter().flatten() {
                if v.is_string() && !values.contains(v) {
                    values.push(v.clone());
                }
            }
        }
    }
    Some(values)
}

/// Merges the properties of `schema` (its own, its `allOf` parts and its
/// union arms, following `$ref`s once each) into `out`. Clears `objects`
/// when an arm is not an object (a scalar union cannot be flattened).
fn collect_properties(
    schema: &Value,
    schemas: &Value,
    seen: &mut BTreeSet<String>,
    out: &mut Map<String, Value>,
    objects: &mut bool,
) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if !seen.insert(r.to_string()) {
            return;
        }
        if let Some(target) = walk::parse_component_ref(r).and_then(|(_, n)| schemas.get(&n)) {
            collect_properties(target, schemas, seen, out, objects);
        }
        return;
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        if t != "object" {
            *objects = false;
        }
    }
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, prop) in props {
            match out.get(name) {
                None => {
                    out.insert(name.clone(), prop.clone());
                }
                Some(existing) if same_shape(existing, prop) => {}
                Some(_) => {
                    out.insert(name.clone(), json!({}));
                }
            }
        }
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_properties(part, schemas, seen, out, objects);
    }
    for arm in union_arms(schema) {
        collect_properties(&arm, schemas, seen, out, objects);
    }
}

/// Same Rust type after generation: extensions and constraints aside.
fn same_shape(a: &Value, b: &Value) -> bool {
    let key = |v: &Value| ["type", "format", "$ref", "items", "allOf"].map(|k| v.get(k).cloned());
    key(a) == key(b)
}

/// Opens every string enum reachable from a response: Atlas adds event
/// types, states and regions often, and a closed Rust enum would turn each
/// addition into a decode failure. Request-only enums stay closed (they
/// check our own input). Returns the number of enums opened.
pub fn open_response_enums(spec: &mut Value) -> usize {
    let mut roots = Vec::new();
    let mut inline_opened = 0;
    for (_, _, op) in walk::operations_mut(spec) {
        if let Some(responses) = op.get_mut("responses") {
            roots.extend(walk::refs(responses));
            walk::visit_mut(responses, &mut |node| {
                if common::open_enum(node) {
                    inline_opened += 1;
                }
            });
        }
    }
    let mut reached = BTreeSet::new();
    while let Some(r) = roots.pop() {
        let Some((section, name)) = walk::parse_component_ref(&r) else {
            continue;
        };
        if !reached.insert((section.clone(), name.clone())) {
            continue;
        }
        if let Some(target) = spec
            .pointer(&format!("/components/{section}"))
            .and_then(|s| s.get(&name))
        {
            roots.extend(walk::refs(target));
        }
    }
    let mut opened = inline_opened;
    for (section, name) in reached {
        if let Some(target) = spec
            .get_mut("components")
            .and_then(|c| c.get_mut(&section))
            .and_then(|s| s.get_mut(&name))
        {
            walk::visit_mut(target, &mut |node| {
                if common::open_enum(node) {
                    opened += 1;
                }
            });
        }
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_sel(name: &str, accept: Option<&str>) -> OperationSelection {
        OperationSelection {
            upstream: "x".into(),
            name: name.into(),
            doc: "d".into(),
            accept: accept.map(Into::into),
        }
    }

    fn spec() -> Value {
        json!({"paths": {"/logs": {"get": {"operationId": "download", "responses": {
            "200": {"content": {
                "application/vnd.atlas.2023-01-01+gzip": {"schema": {"type": "string", "format": "binary"},
                    "x-sunset": "2027-07-01", "x-xgen-version": "2023-01-01"},
                "application/vnd.atlas.2023-02-01+gzip": {"schema": {"type": "string", "format": "binary"},
                    "x-xgen-version": "2023-02-01"}
            }},
            "400": {"$ref": "#/components/responses/badRequest"},
            "default": {"content": {"application/json": {}}}
        }}},
        "/events": {"get": {"operationId": "events", "responses": {"200": {"content": {
            "application/vnd.atlas.2023-01-01+json": {"schema": {"$ref": "#/components/schemas/E"}, "x-xgen-version": "2023-01-01"}
        }}}}}}})
    }

    #[test]
    fn media_type_rewrite_and_extensions() {
        let mut v = spec();
        rewrite_media_types(&mut v, &[]).unwrap();
        let op = &v["paths"]["/logs"]["get"];
        assert_eq!(
            op["responses"],
            json!({"200": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
        );
        assert_eq!(
            op["x-logexport-accept"],
            "application/vnd.atlas.2023-02-01+gzip"
        );
        assert_eq!(
            op["x-logexport-versions"],
            json!([
                {"media_type": "application/vnd.atlas.2023-01-01+gzip", "version": "2023-01-01", "sunset": "2027-07-01"},
                {"media_type": "application/vnd.atlas.2023-02-01+gzip", "version": "2023-02-01"}
            ])
        );
        let ev = &v["paths"]["/events"]["get"];
        assert_eq!(
            ev["responses"]["200"]["content"],
            json!({"application/json": {"schema": {"$ref": "#/components/schemas/E"}}})
        );
        assert_eq!(
            ev["x-logexport-accept"],
            "application/vnd.atlas.2023-01-01+json"
        );
    }

    #[test]
    fn accept_override_and_sunset_fallback() {
        let mut v = spec();
        rewrite_media_types(
            &mut v,
            &[op_sel(
                "download",
                Some("application/vnd.atlas.2023-01-01+gzip"),
            )],
        )
        .unwrap();
        assert_eq!(
            v["paths"]["/logs"]["get"]["x-logexport-accept"],
            "application/vnd.atlas.2023-01-01+gzip"
        );
        let mut v = spec();
        assert!(rewrite_media_types(
            &mut v,
            &[op_sel(
                "download",
                Some("application/vnd.atlas.2099-01-01+gzip")
            )]
        )
        .is_err());
        // Every version sunset: the newest wins.
        let mut v = json!({"paths": {"/a": {"get": {"responses": {"200": {"content": {
            "application/vnd.atlas.2023-01-01+json": {"x-sunset": "2026-01-01"},
            "application/vnd.atlas.2024-01-01+json": {"x-sunset": "2027-01-01"}
        }}}}}}});
        rewrite_media_types(&mut v, &[]).unwrap();
        assert_eq!(
            v["paths"]["/a"]["get"]["x-logexport-accept"],
            "application/vnd.atlas.2024-01-01+json"
        );
    }

    #[test]
    fn cycle_breaking_by_union_flattening() {
        let mut v = json!({"components": {"schemas": {
            "Conn": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                     "required": ["type"],
                     "oneOf": [{"$ref": "#/components/schemas/Kafka"}, {"$ref": "#/components/schemas/S3"}],
                     "discriminator": {"propertyName": "type", "mapping": {
                         "Kafka": "#/components/schemas/Kafka", "S3": "#/components/schemas/S3"}}},
            "Kafka": {"allOf": [{"$ref": "#/components/schemas/Conn"},
                                {"properties": {"brokers": {"type": "string"}, "port": {"type": "integer"}}}]},
            "S3": {"allOf": [{"$ref": "#/components/schemas/Conn"},
                             {"properties": {"bucket": {"type": "string"}, "port": {"type": "string"}}}]},
            "Region": {"oneOf": [{"enum": ["a"], "type": "string"}, {"enum": ["b"], "type": "string"}]}
        }}});
        assert_eq!(count_cycles(&v), 2);
        assert_eq!(flatten_unions(&mut v), 2);
        assert_eq!(count_cycles(&v), 0);
        let s = &v["components"]["schemas"];
        assert_eq!(
            s["Conn"],
            json!({
                "type": "object", "required": ["type"], "x-logexport-discriminator": "type",
                "properties": {"name": {"type": "string"}, "type": {"type": "string"},
                               "brokers": {"type": "string"}, "port": {}, "bucket": {"type": "string"}}
            })
        );
        // Children are untouched (and pruned later if nothing else uses them).
        assert_eq!(s["Kafka"]["allOf"][0]["$ref"], "#/components/schemas/Conn");
        // A union of string enums becomes one open enum.
        assert_eq!(
            s["Region"],
            json!({"type": "string", "x-logexport-open-enum": ["a", "b"]})
        );
    }

    #[test]
    fn response_enums_open_request_enums_stay() {
        let mut v = json!({
            "paths": {"/a": {"get": {
                "parameters": [{"name": "kind", "in": "path", "schema": {"type": "string", "enum": ["x", "y"]}}],
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}}
            }}},
            "components": {"schemas": {
                "Out": {"properties": {"t": {"$ref": "#/components/schemas/T"}}},
                "T": {"type": "string", "enum": ["A", "B"]}
            }}
        });
        assert_eq!(open_response_enums(&mut v), 1);
        assert_eq!(
            v["components"]["schemas"]["T"],
            json!({"type": "string", "x-logexport-open-enum": ["A", "B"]})
        );
        assert_eq!(
            v["paths"]["/a"]["get"]["parameters"][0]["schema"]["enum"],
            json!(["x", "y"])
        );
    }
}
