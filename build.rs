//! Build-time client generation.
//!
//! Reads the committed, pre-processed specs in `specs/` (see `cargo xtask specs`)
//! and generates one progenitor client per enabled vendor feature into `OUT_DIR`.
//! The vendor modules `include!` the result; users never see these files directly.
//!
//! For Atlas it also emits the operation → versioned `Accept` table, because
//! progenitor sends no `Accept` for non-JSON bodies and knows nothing about
//! Atlas resource versions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One vendor: its feature, its spec, the hand-written type the generated
/// client carries as `inner` (where the auth/retry pipeline lives), and the
/// spec types that hand-written types replace.
struct Vendor {
    feature_env: &'static str,
    spec: &'static str,
    out: &'static str,
    inner_type: &'static str,
    replace: &'static [(&'static str, &'static str)],
}

const VENDORS: &[Vendor] = &[
    Vendor {
        feature_env: "CARGO_FEATURE_CONDUCTORONE",
        spec: "specs/conductorone.yaml",
        out: "conductorone.rs",
        inner_type: "crate::conductorone::Pipeline",
        // Event pages keep each event's JSON text: parsing a page into values
        // on the fetch path cost a quarter of the throughput, and the CLI
        // writes the text as it came.
        replace: &[
            (
                "C1ApiSystemlogV1SystemLogServiceListEventsResponse",
                "crate::conductorone::RawEventPage",
            ),
            (
                "C1ApiSystemlogV1ExportServiceListEventsResponse",
                "crate::conductorone::RawEventPage",
            ),
        ],
    },
    Vendor {
        feature_env: "CARGO_FEATURE_TENCENT_CLS",
        spec: "specs/tencent-cls.yaml",
        out: "tencent_cls.rs",
        inner_type: "crate::tencent_cls::Pipeline",
        replace: &[],
    },
    Vendor {
        feature_env: "CARGO_FEATURE_ATLAS",
        spec: "specs/atlas.yaml",
        out: "atlas.rs",
        inner_type: "crate::atlas::Pipeline",
        replace: &[],
    },
];

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for vendor in VENDORS {
        if std::env::var_os(vendor.feature_env).is_none() {
            continue;
        }
        // Only the files actually read: a no-op rebuild must not regenerate.
        println!("cargo:rerun-if-changed={}", vendor.spec);
        if let Err(msg) = generate(vendor, &out_dir) {
            // A readable one-line failure beats a panic backtrace from deep in
            // the generator.
            println!("cargo::error={}: {msg}", vendor.spec);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn generate(vendor: &Vendor, out_dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(vendor.spec)
        .map_err(|e| format!("cannot read the spec ({e}); run `cargo xtask specs refresh`"))?;
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(&text)
        .map_err(|e| format!("not a valid OpenAPI 3.0 document: {e}"))?;

    if vendor.out == "atlas.rs" {
        let table = accept_table(&spec)?;
        write(&out_dir.join("atlas_accept.rs"), &table)?;
    }

    let inner: proc_macro2::TokenStream = vendor
        .inner_type
        .parse()
        .map_err(|e| format!("bad inner type: {e}"))?;
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(inner);
    for (spec_type, rust_type) in vendor.replace {
        settings.with_replacement(spec_type, rust_type, std::iter::empty());
    }
    let mut generator = progenitor::Generator::new(&settings);

    // progenitor panics on some inputs it does not support; turn that into a
    // build error that names the spec rather than a backtrace.
    let tokens = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        generator.generate_tokens(&spec)
    }))
    .map_err(|_| {
        "progenitor panicked on this spec (see VENDOR-NOTES: unsupported construct)".to_string()
    })?
    .map_err(|e| format!("progenitor rejected the spec: {e}"))?;

    let file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    write(&out_dir.join(vendor.out), &prettyplease::unparse(&file))
}

/// Emits `ACCEPT: &[AcceptEntry]`, sorted by operation id for binary search.
fn accept_table(spec: &openapiv3::OpenAPI) -> Result<String, String> {
    let mut rows = Vec::new();
    for (path, item) in spec.paths.iter() {
        let openapiv3::ReferenceOr::Item(item) = item else {
            continue;
        };
        for (_, op) in item.iter() {
            let id = op
                .operation_id
                .as_deref()
                .ok_or_else(|| format!("operation at {path} has no operationId"))?;
            let default = op
                .extensions
                .get("x-logexport-accept")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("operation {id} lacks x-logexport-accept"))?;
            let versions = op
                .extensions
                .get("x-logexport-versions")
                .and_then(|v| v.as_array())
                .ok_or_else(|| format!("operation {id} lacks x-logexport-versions"))?;
            let mut known = Vec::new();
            for v in versions {
                let media = v
                    .get("media_type")
                    .and_then(|m| m.as_str())
                    .ok_or_else(|| format!("operation {id}: a version lacks media_type"))?;
                let sunset = v.get("sunset").and_then(|s| s.as_str());
                known.push((media.to_string(), sunset.map(str::to_string)));
            }
            rows.push((id.to_string(), default.to_string(), known));
        }
    }
    rows.sort();
    let mut out = String::from(
        "/// Operation id → default versioned media type and every version the spec lists.\n\
         pub(crate) static ACCEPT: &[AcceptEntry] = &[\n",
    );
    for (id, default, known) in rows {
        let _ = write!(
            out,
            "    AcceptEntry {{ operation: {id:?}, default: {default:?}, versions: &["
        );
        for (media, sunset) in known {
            let _ = write!(out, "({media:?}, {sunset:?}), ");
        }
        out.push_str("] },\n");
    }
    out.push_str("];\n");
    Ok(out)
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    // Skipping identical writes keeps mtimes stable for anything watching OUT_DIR.
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
