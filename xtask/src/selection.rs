//! The human-edited selection file, `specs/operations.toml`.
//!
//! It is the only place where we decide what the crate exposes: which
//! upstream operations, under which Rust names, with which one-line docs (our
//! own words, so no upstream prose ends up in the repo), plus facts that the
//! upstream machine-readable descriptions only state in prose.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub conductorone: VendorSelection,
    #[serde(rename = "tencent-cls")]
    pub tencent_cls: VendorSelection,
    pub atlas: VendorSelection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorSelection {
    pub operations: Vec<OperationSelection>,
    /// Tencent only: `"<Action or Object>.<Member>" = { maximum = .., enum = [..] }`.
    #[serde(default)]
    pub constraints: BTreeMap<String, Constraint>,
    /// Component schemas replaced by free-form JSON objects (shapes that
    /// change too often to type, e.g. Atlas event views).
    #[serde(default)]
    pub opaque_schemas: Vec<String>,
    /// Component schemas (string enums, or unions of them) turned into one
    /// open enum: a string plus the known values.
    #[serde(default)]
    pub open_enum_schemas: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSelection {
    /// Upstream operationId (Tencent: the action name).
    pub upstream: String,
    /// snake_case Rust-facing name; becomes the operationId.
    pub name: String,
    /// One line written by us; becomes the operation summary.
    pub doc: String,
    /// Atlas only: the versioned media type to use by default instead of
    /// "newest version without x-sunset".
    #[serde(default)]
    pub accept: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    #[serde(default)]
    pub minimum: Option<serde_json::Number>,
    #[serde(default)]
    pub maximum: Option<serde_json::Number>,
    /// Closed set of values (request-side fields).
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    /// Known values of an open set (response-side fields), recorded as
    /// `x-logexport-open-enum`.
    #[serde(default)]
    pub open_enum: Option<Vec<String>>,
}

impl Selection {
    pub fn parse(text: &str) -> Result<Self, String> {
        let sel: Selection =
            toml::from_str(text).map_err(|e| format!("specs/operations.toml: {e}"))?;
        for (vendor, v) in [
            ("conductorone", &sel.conductorone),
            ("tencent-cls", &sel.tencent_cls),
            ("atlas", &sel.atlas),
        ] {
            v.validate(vendor)?;
        }
        Ok(sel)
    }

    pub fn vendor(&self, vendor: crate::Vendor) -> &VendorSelection {
        match vendor {
            crate::Vendor::ConductorOne => &self.conductorone,
            crate::Vendor::TencentCls => &self.tencent_cls,
            crate::Vendor::Atlas => &self.atlas,
        }
    }
}

impl VendorSelection {
    fn validate(&self, vendor: &str) -> Result<(), String> {
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for op in &self.operations {
            let snake = !op.name.is_empty()
                && op.name.starts_with(|c: char| c.is_ascii_lowercase())
                && op
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !snake {
                return Err(format!("{vendor}: name `{}` is not snake_case", op.name));
            }
            if op.doc.trim().is_empty() || op.doc.contains('\n') {
                return Err(format!("{vendor}: `{}` needs a one-line doc", op.name));
            }
            if !names.insert(&op.name) {
                return Err(format!("{vendor}: duplicate name `{}`", op.name));
            }
            if !ids.insert(&op.upstream) {
                return Err(format!("{vendor}: `{}` selected twice", op.upstream));
            }
        }
        Ok(())
    }
}
