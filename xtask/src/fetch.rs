//! Input acquisition: the canonical upstream URLs, or a local copy.
//!
//! The URLs are constants so the lock file and the header of each generated
//! spec name the same source whether bytes came from the network or from a
//! `--from` folder (which must mirror those URLs' contents).

use crate::Vendor;
use std::io::Read;
use std::path::Path;

pub const C1_URL: &str = "https://insulator.conductor.one/api/v1/openapi.yaml";
pub const ATLAS_URL: &str =
    "https://raw.githubusercontent.com/mongodb/openapi/main/openapi/v2.yaml";
pub const TENCENT_URL: &str =
    "https://raw.githubusercontent.com/TencentCloud/tencentcloud-cli-intl-en/master/tccli/services/cls/v20201016/api.json";

/// Upstream specs are a few MB; anything past this is not a spec.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

pub fn url(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::ConductorOne => C1_URL,
        Vendor::Atlas => ATLAS_URL,
        Vendor::TencentCls => TENCENT_URL,
    }
}

/// Location of a vendor's input inside a `--from` folder.
pub fn relative_path(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::ConductorOne => "conductorone/openapi.yaml",
        Vendor::Atlas => "atlas/atlas-api-v2.yaml",
        Vendor::TencentCls => "tencent-cls/intl-en/api.json",
    }
}

/// Reads the input for `vendor`: from `from` (a folder shaped like the
/// upstream mirror, or a single file when only one vendor is processed), or
/// downloaded from the canonical URL.
pub fn load(vendor: Vendor, from: Option<&Path>, single_vendor: bool) -> Result<Vec<u8>, String> {
    match from {
        Some(p) if p.is_dir() => {
            let file = p.join(relative_path(vendor));
            std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))
        }
        Some(p) if single_vendor => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())),
        Some(p) => Err(format!(
            "{} is a file; a single input file needs --vendor (or pass a folder)",
            p.display()
        )),
        None => download(url(vendor)),
    }
}

fn download(url: &str) -> Result<Vec<u8>, String> {
    let fail = |e: &dyn std::fmt::Display| {
        format!("downloading {url} failed: {e}\n(offline? pass --from <folder> with a local copy)")
    };
    let response = ureq::get(url).call().map_err(|e| fail(&e))?;
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(fail(&"response larger than 64 MiB"));
    }
    Ok(bytes)
}
