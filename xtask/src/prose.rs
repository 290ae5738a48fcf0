//! Upstream prose removal.
//!
//! The committed specs carry structure only: upstream descriptions are
//! licensed (Atlas: CC BY-NC-SA), churn on every release (noisy diffs) and
//! would end up as doc comments we did not write. Vendor extensions are
//! dropped too unless they carry structure we rely on.

use crate::walk;
use serde_json::Value;

const PROSE: &[&str] = &[
    "description",
    "summary",
    "example",
    "examples",
    "externalDocs",
    "tags",
    "$comment",
];

/// Extensions that carry structure (kept); every other `x-*` goes.
const KEPT_EXTENSIONS: &[&str] = &[
    "x-speakeasy-unknown-values",
    "x-xgen-version",
    "x-sunset",
    "x-upstream-operation-id",
];

pub fn is_kept_extension(key: &str) -> bool {
    KEPT_EXTENSIONS.contains(&key) || key.starts_with("x-logexport-") || key.starts_with("x-tc-")
}

/// Removes prose keys and non-structural extensions from every node.
pub fn strip_prose(spec: &mut Value) {
    walk::visit_mut(spec, &mut |node| {
        node.retain(|k, _| {
            !PROSE.contains(&k.as_str()) && (!k.starts_with("x-") || is_kept_extension(k))
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prose_stripping() {
        let mut spec = json!({
            "info": {"title": "T", "description": "long", "x-topics": []},
            "tags": [{"name": "t", "description": "d"}],
            "paths": {"/a": {"get": {
                "summary": "s", "description": "d", "tags": ["t"], "x-codeSamples": [],
                "externalDocs": {"url": "u"},
                "parameters": [{"name": "p", "in": "query", "description": "d", "example": 1,
                                 "schema": {"type": "integer", "minimum": 1, "description": "d"}}],
                "responses": {"200": {"description": "OK", "content": {"application/json": {
                    "x-xgen-version": "2023-01-01", "x-sunset": "2026-01-01",
                    "examples": {"e": {"value": 1}},
                    "schema": {"title": "Keep", "properties": {
                        "description": {"type": "string", "description": "d", "pattern": "^a$"},
                        "summary": {"type": "string", "enum": ["a"], "default": "a",
                                    "x-speakeasy-unknown-values": "allow", "x-xgen-IPA-exception": {}}
                    }}}}}}
            }}}
        });
        strip_prose(&mut spec);
        let expected = json!({
            "info": {"title": "T"},
            "paths": {"/a": {"get": {
                "parameters": [{"name": "p", "in": "query", "schema": {"type": "integer", "minimum": 1}}],
                "responses": {"200": {"content": {"application/json": {
                    "x-xgen-version": "2023-01-01", "x-sunset": "2026-01-01",
                    "schema": {"title": "Keep", "properties": {
                        "description": {"type": "string", "pattern": "^a$"},
                        "summary": {"type": "string", "enum": ["a"], "default": "a",
                                    "x-speakeasy-unknown-values": "allow"}
                    }}}}}}
            }}}
        });
        assert_eq!(spec, expected);
    }
}
