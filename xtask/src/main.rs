//! `cargo xtask`: repository automation that must not live in the library.
//!
//! `specs refresh` regenerates `specs/*.yaml` and `specs/specs.lock` from
//! upstream vendor descriptions; `specs check` proves the committed files are
//! exactly what refresh would write (for CI).

mod atlas;
mod c1;
mod check;
mod common;
mod fetch;
mod lock;
mod prose;
mod select;
mod selection;
mod specs;
mod tencent;
mod walk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Vendor {
    ConductorOne,
    TencentCls,
    Atlas,
}

impl Vendor {
    pub const ALL: [Vendor; 3] = [Vendor::ConductorOne, Vendor::TencentCls, Vendor::Atlas];

    pub fn name(self) -> &'static str {
        match self {
            Vendor::ConductorOne => "conductorone",
            Vendor::TencentCls => "tencent-cls",
            Vendor::Atlas => "atlas",
        }
    }

    pub fn spec_file(self) -> String {
        format!("{}.yaml", self.name())
    }

    fn parse(s: &str) -> Result<Self, String> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("unknown vendor `{s}` (conductorone, tencent-cls, atlas)"))
    }
}

const USAGE: &str = "usage:
  cargo xtask specs refresh [--vendor conductorone|tencent-cls|atlas]... [--from PATH] [--specs-dir DIR]
  cargo xtask specs check   [--vendor ...]... [--from PATH] [--specs-dir DIR]

--from PATH  a folder shaped like the upstream mirror (conductorone/openapi.yaml,
             atlas/atlas-api-v2.yaml, tencent-cls/intl-en/api.json), or with a
             single --vendor, one file. Default: download the canonical URLs.";

struct Args {
    command: String,
    vendors: Vec<Vendor>,
    from: Option<PathBuf>,
    specs_dir: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("specs") {
        return Err(USAGE.into());
    }
    let command = it.next().cloned().ok_or(USAGE)?;
    if command != "refresh" && command != "check" {
        return Err(USAGE.into());
    }
    let mut vendors = Vec::new();
    let mut from = None;
    // xtask/ lives directly under the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."));
    let mut specs_dir = root.join("specs");
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--vendor" => vendors.push(Vendor::parse(&value()?)?),
            "--from" => from = Some(PathBuf::from(value()?)),
            "--specs-dir" => specs_dir = PathBuf::from(value()?),
            _ => return Err(format!("unexpected argument `{arg}`\n{USAGE}")),
        }
    }
    if vendors.is_empty() {
        vendors = Vendor::ALL.to_vec();
    }
    vendors.sort();
    vendors.dedup();
    Ok(Args {
        command,
        vendors,
        from,
        specs_dir,
    })
}

fn run() -> Result<(), String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = parse_args(&argv)?;
    let single = args.vendors.len() == 1;
    let from = args.from.clone();
    let inputs = move |v: Vendor| fetch::load(v, from.as_deref(), single);
    match args.command.as_str() {
        "refresh" => specs::refresh(&args.specs_dir, &args.vendors, &inputs, true),
        _ => {
            specs::check(&args.specs_dir, &args.vendors, &inputs)?;
            eprintln!("specs are up to date");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
