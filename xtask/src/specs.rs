//! The per-vendor pipelines and the refresh/check drivers.
//!
//! Each vendor is a fixed sequence of small transformations (see the other
//! modules); this module only orders them and turns the result into the
//! exact bytes committed under `specs/`.

use crate::selection::Selection;
use crate::{atlas, c1, check, common, fetch, lock, prose, select, tencent, Vendor};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub const SELECTION_FILE: &str = "operations.toml";

/// What a transformation run changed, for the refresh log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub operations: usize,
    pub schemas: usize,
    pub type_arrays: usize,
    pub null_unions: usize,
    pub open_enums: usize,
    pub colliding_enums: usize,
    pub cycles_broken: usize,
    pub patterns_dropped: usize,
    pub opaque: usize,
    pub unions_flattened: usize,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} operations, {} schemas; type arrays {}, null unions {}, enums opened {} (+{} colliding), opaque schemas {}, unions flattened {} (cycles broken {}), patterns dropped {}",
            self.operations,
            self.schemas,
            self.type_arrays,
            self.null_unions,
            self.open_enums,
            self.colliding_enums,
            self.opaque,
            self.unions_flattened,
            self.cycles_broken,
            self.patterns_dropped
        )
    }
}

pub struct Generated {
    pub yaml: String,
    pub entry: lock::Entry,
    pub stats: Stats,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn parse_yaml(bytes: &[u8], what: &str) -> Result<Value, String> {
    serde_yaml::from_slice(bytes).map_err(|e| format!("{what}: not valid YAML: {e}"))
}

fn info_str(spec: &Value, key: &str) -> Option<String> {
    spec.get("info")
        .and_then(|i| i.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Runs the full pipeline for one vendor on the upstream bytes.
pub fn generate(vendor: Vendor, input: &[u8], selection: &Selection) -> Result<Generated, String> {
    let sel = selection.vendor(vendor);
    let mut stats = Stats::default();
    let (mut spec, version, xgen_sha, license) = match vendor {
        Vendor::ConductorOne => {
            let mut spec = parse_yaml(input, "conductorone")?;
            let version = info_str(&spec, "version");
            let license = spec
                .pointer("/info/license/name")
                .and_then(Value::as_str)
                .unwrap_or("unspecified")
                .to_string();
            prose::strip_prose(&mut spec);
            select::select_operations(&mut spec, &sel.operations)?;
            select::prune_components(&mut spec);
            c1::downconvert_keywords(&mut spec);
            stats.type_arrays = c1::downconvert_type_arrays(&mut spec);
            stats.null_unions = c1::downconvert_null_unions(&mut spec);
            stats.open_enums = c1::open_enums(&mut spec);
            c1::only_json_200(&mut spec)?;
            (spec, version, None, license)
        }
        Vendor::Atlas => {
            let mut spec = parse_yaml(input, "atlas")?;
            let version = info_str(&spec, "version");
            let xgen_sha = info_str(&spec, "x-xgen-sha");
            let license = spec
                .pointer("/info/license/name")
                .and_then(Value::as_str)
                .unwrap_or("unspecified")
                .to_string();
            prose::strip_prose(&mut spec);
            select::select_operations(&mut spec, &sel.operations)?;
            select::prune_components(&mut spec);
            stats.opaque = common::make_opaque(&mut spec, &sel.opaque_schemas)?;
            stats.open_enums += common::open_enum_schemas(&mut spec, &sel.open_enum_schemas)?;
            atlas::rewrite_media_types(&mut spec, &sel.operations)?;
            select::prune_components(&mut spec);
            stats.cycles_broken = atlas::count_cycles(&spec);
            stats.unions_flattened = atlas::flatten_unions(&mut spec);
            select::prune_components(&mut spec);
            stats.open_enums += atlas::open_response_enums(&mut spec);
            (spec, version, xgen_sha, license)
        }
        Vendor::TencentCls => {
            let api: Value = serde_json::from_slice(input)
                .map_err(|e| format!("tencent-cls: not valid JSON: {e}"))?;
            let spec = tencent::convert(&api, sel)?;
            let version = tencent::upstream_version(&api);
            (spec, version, None, "Apache-2.0 (tccli)".to_string())
        }
    };
    select::prune_components(&mut spec);
    common::envelope(&mut spec, vendor.name());
    common::response_descriptions(&mut spec);
    stats.patterns_dropped = common::drop_invalid_patterns(&mut spec);
    stats.colliding_enums = common::open_colliding_enums(&mut spec);
    common::integral_floats(&mut spec);
    select::check_refs(&spec)?;
    common::sort_document(&mut spec);
    stats.operations = crate::walk::operations_mut(&mut spec).len();
    stats.schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map_or(0, |s| s.len());

    let url = fetch::url(vendor);
    let input_sha256 = sha256_hex(input);
    let body = serde_yaml::to_string(&spec).map_err(|e| format!("{}: {e}", vendor.name()))?;
    let yaml = format!(
        "# Generated by 'cargo xtask specs refresh' from {url} (sha256 {input_sha256}). Do not edit.\n{body}"
    );
    let entry = lock::Entry {
        url: url.to_string(),
        input_sha256,
        upstream_version: version,
        upstream_xgen_sha: xgen_sha,
        license,
        spec: vendor.spec_file(),
        spec_sha256: sha256_hex(yaml.as_bytes()),
    };
    Ok(Generated { yaml, entry, stats })
}

/// Everything `refresh` would write into `specs_dir`, by file name. With a
/// vendor subset, the other vendors' lock entries are kept as they are.
pub fn expected_files(
    specs_dir: &Path,
    vendors: &[Vendor],
    inputs: &dyn Fn(Vendor) -> Result<Vec<u8>, String>,
    log: bool,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let sel_path = specs_dir.join(SELECTION_FILE);
    let sel_text =
        std::fs::read_to_string(&sel_path).map_err(|e| format!("{}: {e}", sel_path.display()))?;
    let selection = Selection::parse(&sel_text)?;
    let lock_path = specs_dir.join(lock::FILE);
    let mut lock = if vendors.len() == Vendor::ALL.len() {
        lock::Lock::new()
    } else {
        match std::fs::read_to_string(&lock_path) {
            Ok(text) => lock::parse(&text)?,
            Err(_) => lock::Lock::new(),
        }
    };
    let mut files = BTreeMap::new();
    for &vendor in vendors {
        let input = inputs(vendor)?;
        let generated =
            generate(vendor, &input, &selection).map_err(|e| format!("{}: {e}", vendor.name()))?;
        if log {
            eprintln!("{}: {}", vendor.name(), generated.stats);
        }
        files.insert(vendor.spec_file(), generated.yaml.into_bytes());
        lock.insert(vendor.name().to_string(), generated.entry);
    }
    files.insert(lock::FILE.to_string(), lock::render(&lock)?.into_bytes());
    Ok(files)
}

pub fn refresh(
    specs_dir: &Path,
    vendors: &[Vendor],
    inputs: &dyn Fn(Vendor) -> Result<Vec<u8>, String>,
    log: bool,
) -> Result<(), String> {
    for (name, bytes) in expected_files(specs_dir, vendors, inputs, log)? {
        let path = specs_dir.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if log {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Ok(()) when `specs_dir` matches; Err with the drift report otherwise.
pub fn check(
    specs_dir: &Path,
    vendors: &[Vendor],
    inputs: &dyn Fn(Vendor) -> Result<Vec<u8>, String>,
) -> Result<(), String> {
    let expected = expected_files(specs_dir, vendors, inputs, false)?;
    let problems = check::compare(specs_dir, &expected);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "specs are out of date (run `cargo xtask specs refresh`):\n{}",
            problems.join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    fn inputs(v: Vendor) -> Result<Vec<u8>, String> {
        let name = match v {
            Vendor::ConductorOne => "c1.yaml",
            Vendor::TencentCls => "tencent.json",
            Vendor::Atlas => "atlas.yaml",
        };
        std::fs::read(fixtures().join(name)).map_err(|e| e.to_string())
    }

    fn specs_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixtures().join(SELECTION_FILE),
            dir.path().join(SELECTION_FILE),
        )
        .unwrap();
        dir
    }

    fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            );
        }
        out
    }

    #[test]
    fn determinism_refresh_twice_same_bytes() {
        let dir = specs_dir();
        refresh(dir.path(), &Vendor::ALL, &inputs, false).unwrap();
        let first = read_all(dir.path());
        assert_eq!(first.len(), 5, "{:?}", first.keys());
        refresh(dir.path(), &Vendor::ALL, &inputs, false).unwrap();
        assert_eq!(read_all(dir.path()), first);
        check(dir.path(), &Vendor::ALL, &inputs).unwrap();
    }

    #[test]
    fn check_detects_one_byte_drift_and_missing_files() {
        let dir = specs_dir();
        refresh(dir.path(), &Vendor::ALL, &inputs, false).unwrap();
        let path = dir.path().join("atlas.yaml");
        let mut bytes = std::fs::read(&path).unwrap();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        std::fs::write(&path, &bytes).unwrap();
        let err = check(dir.path(), &Vendor::ALL, &inputs).unwrap_err();
        assert!(err.contains("atlas.yaml: differs"), "{err}");
        assert!(err.contains("first difference at line"), "{err}");
        assert!(!err.contains("conductorone.yaml"), "{err}");

        std::fs::remove_file(dir.path().join("tencent-cls.yaml")).unwrap();
        let err = check(dir.path(), &Vendor::ALL, &inputs).unwrap_err();
        assert!(err.contains("tencent-cls.yaml: missing"), "{err}");
    }

    #[test]
    fn single_vendor_refresh_keeps_other_lock_entries() {
        let dir = specs_dir();
        refresh(dir.path(), &Vendor::ALL, &inputs, false).unwrap();
        let lock_before = std::fs::read(dir.path().join(lock::FILE)).unwrap();
        refresh(dir.path(), &[Vendor::Atlas], &inputs, false).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join(lock::FILE)).unwrap(),
            lock_before
        );
        check(dir.path(), &[Vendor::TencentCls], &inputs).unwrap();
    }

    #[test]
    fn fixture_outputs() {
        let sel =
            Selection::parse(&std::fs::read_to_string(fixtures().join(SELECTION_FILE)).unwrap())
                .unwrap();

        let c1 = generate(
            Vendor::ConductorOne,
            &inputs(Vendor::ConductorOne).unwrap(),
            &sel,
        )
        .unwrap();
        assert!(c1.yaml.starts_with("# Generated by 'cargo xtask specs refresh' from https://insulator.conductor.one/api/v1/openapi.yaml (sha256 "));
        let spec: Value = serde_yaml::from_str(&c1.yaml).unwrap();
        assert_eq!(spec["openapi"], "3.0.3");
        assert_eq!(
            spec["info"],
            serde_json::json!({"title": "Things API", "version": "0.1.0", "x-logexport-source": "conductorone"})
        );
        assert_eq!(
            spec["servers"],
            serde_json::json!([{"url": "https://{tenant}.example.com", "variables": {"tenant": {"default": "example"}}}])
        );
        assert!(spec.get("security").is_none());
        assert_eq!(spec["paths"].as_object().unwrap().len(), 1);
        let schemas: Vec<_> = spec["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(schemas, ["c1.Parent", "c1.Thing"]);
        assert_eq!(c1.stats.type_arrays, 1);
        assert_eq!(c1.stats.null_unions, 1);
        assert_eq!(c1.stats.open_enums, 1);
        assert!(!c1.yaml.contains("prose") && !c1.yaml.contains("example:"));
        assert_eq!(c1.entry.license, "unspecified");

        let atlas = generate(Vendor::Atlas, &inputs(Vendor::Atlas).unwrap(), &sel).unwrap();
        assert_eq!(atlas.stats.patterns_dropped, 1);
        assert_eq!(atlas.entry.upstream_xgen_sha.as_deref(), Some("abc123"));
        assert_eq!(atlas.entry.license, "CC BY-NC-SA 3.0 US");
        let spec: Value = serde_yaml::from_str(&atlas.yaml).unwrap();
        assert!(
            spec.get("components").is_none(),
            "error responses and their schemas are gone"
        );

        let tc = generate(
            Vendor::TencentCls,
            &inputs(Vendor::TencentCls).unwrap(),
            &sel,
        )
        .unwrap();
        assert_eq!(tc.entry.license, "Apache-2.0 (tccli)");
        assert_eq!(tc.entry.upstream_version.as_deref(), Some("2020-10-16"));
        let spec: Value = serde_yaml::from_str(&tc.yaml).unwrap();
        assert_eq!(
            spec["components"]["schemas"]["CreateThingRequest"]["properties"]["Count"]["maximum"],
            100
        );
    }
}
