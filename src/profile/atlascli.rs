//! The atlas CLI's saved profiles: `config.toml` in its configuration
//! directory (`$XDG_CONFIG_HOME/atlascli` or `~/.config/atlascli`; on macOS
//! `~/Library/Application Support/atlascli`), one table per profile with
//! `public_api_key`/`private_api_key` or `client_id`/`client_secret`, and
//! `org_id`, `project_id`, `ops_manager_url`, `service`.
//!
//! The profile is the caller's choice, else the CLI's default profile,
//! `default`. Newer atlas CLI versions may keep secrets in the system
//! keyring instead of the file; those logins are reported as having no
//! credentials, since logexport reads files only.

use super::{Sourced, Tool};
use crate::atlas::{
    Credentials, EnvSettings, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_PRIVATE_KEY, ENV_PUBLIC_KEY,
};
use crate::{Result, SecretString};
use std::path::{Path, PathBuf};

/// The Atlas for Government endpoint, which `service = "cloudgov"` means.
pub const CLOUDGOV_URL: &str = "https://cloud.mongodbgov.com";

/// An atlas CLI profile as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// The API key or service account, if the file holds one.
    pub credentials: Option<Credentials>,
    /// `ops_manager_url`, or [`CLOUDGOV_URL`] for `service = "cloudgov"`.
    pub base_url: Option<String>,
    /// `project_id`.
    pub project_id: Option<String>,
    /// `org_id`.
    pub org_id: Option<String>,
    /// The file.
    pub path: PathBuf,
}

/// What [`resolve`] found, each part with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Login {
    /// The credentials.
    pub credentials: Sourced<Credentials>,
    /// The endpoint, if set anywhere (else Atlas's default).
    pub base_url: Option<Sourced<String>>,
    /// The default project id (for `--project`).
    pub project_id: Option<Sourced<String>>,
    /// The default organization id (for `--org`).
    pub org_id: Option<Sourced<String>>,
}

/// The atlas CLI's `config.toml`.
pub fn default_path(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = if cfg!(target_os = "macos") {
        super::home(&lookup).map(|h| h.join("Library/Application Support"))
    } else {
        super::var(&lookup, "XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| super::home(&lookup).map(|h| h.join(".config")))
    };
    dir.map(|d| d.join("atlascli").join("config.toml"))
}

use crate::atlas::credentials::cred_err;

/// Reads profile `name` from the `config.toml` at `path`. `Ok(None)` if the
/// file or the profile does not exist.
pub fn read_profile(path: &Path, name: &str) -> Result<Option<Profile>> {
    let name = super::profile_name(Tool::Atlascli, Some(name), None)?;
    let Some(text) = super::read_optional(Tool::Atlascli, path)? else {
        return Ok(None);
    };
    let doc: toml::Table = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| super::line_of(&text, s.start));
        super::parse_error(Tool::Atlascli, path, "TOML", line)
    })?;
    let Some(table) = doc.get(&name) else {
        return Ok(None);
    };
    let Some(table) = table.as_table() else {
        return Err(cred_err(format!(
            "{}: `{name}` is not a profile table",
            path.display()
        )));
    };
    let get = |key: &str| -> Result<Option<String>> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(super::trimmed(Some(s.clone()))),
            Some(_) => Err(cred_err(format!(
                "{}: `{key}` in profile `{name}` is not a string",
                path.display()
            ))),
        }
    };
    let pair = |a: &str, b: &str| -> Result<Option<(String, String)>> {
        match (get(a)?, get(b)?) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => Err(cred_err(format!(
                "{}: profile `{name}` has only one of `{a}` and `{b}` \
                 (the atlas CLI may keep the other in the system keyring, which logexport does not read)",
                path.display()
            ))),
        }
    };
    let credentials = if let Some((id, secret)) = pair("client_id", "client_secret")? {
        Some(Credentials::service_account(id, SecretString::new(secret)))
    } else {
        pair("public_api_key", "private_api_key")?
            .map(|(public, private)| Credentials::api_key(public, SecretString::new(private)))
    };
    let base_url = match get("ops_manager_url")? {
        Some(url) => Some(url),
        None if get("service")?.as_deref() == Some("cloudgov") => Some(CLOUDGOV_URL.to_string()),
        None => None,
    };
    let (project_id, org_id) = (get("project_id")?, get("org_id")?);
    Ok(Some(Profile {
        name,
        credentials,
        base_url,
        project_id,
        org_id,
        path: path.to_path_buf(),
    }))
}

/// Credentials and settings by logexport's precedence: the
/// `MONGODB_ATLAS_*` credential variables when any is set, else the atlas
/// CLI profile (`profile` or `default`); the endpoint, project and
/// organization each from the environment ([`EnvSettings`]), else the
/// profile.
pub fn resolve(lookup: impl Fn(&str) -> Option<String>, profile: Option<&str>) -> Result<Login> {
    let path = default_path(&lookup);
    resolve_in(&lookup, path.as_deref(), profile)
}

/// [`resolve`] with the `config.toml` path given (`None`: no home
/// directory).
pub fn resolve_in(
    lookup: impl Fn(&str) -> Option<String>,
    path: Option<&Path>,
    profile: Option<&str>,
) -> Result<Login> {
    let name = super::profile_name(Tool::Atlascli, profile, None)?;
    let env = EnvSettings::from_lookup(&lookup);
    let env_has_creds = [
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
        ENV_PUBLIC_KEY,
        ENV_PRIVATE_KEY,
    ]
    .into_iter()
    .any(|n| super::var(&lookup, n).is_some());
    let need_profile = !env_has_creds
        || env.base_url.is_none()
        || env.project_id.is_none()
        || env.org_id.is_none();
    let file = match path {
        Some(p) if need_profile => read_profile(p, &name)?,
        _ => None,
    };
    let credentials = if env_has_creds {
        let creds = Credentials::from_lookup(&lookup)?;
        let used = match creds {
            Credentials::ServiceAccount { .. } => vec![ENV_CLIENT_ID, ENV_CLIENT_SECRET],
            _ => vec![ENV_PUBLIC_KEY, ENV_PRIVATE_KEY],
        };
        Sourced::env(creds, used)
    } else {
        let found = file.as_ref().and_then(|p| {
            p.credentials
                .clone()
                .map(|c| Sourced::profile(c, Tool::Atlascli, &p.name, &p.path))
        });
        found.ok_or_else(|| {
            let why = match (&file, path) {
                (Some(p), _) => format!(
                    " (profile `{}` in {} has no API key or service account; \
                     the atlas CLI may keep it in the system keyring, which logexport does not read)",
                    p.name,
                    p.path.display()
                ),
                (None, Some(path)) => format!(" (no profile `{name}` in {})", path.display()),
                (None, None) => String::new(),
            };
            cred_err(format!(
                "no Atlas credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (service account) \
                 or {ENV_PUBLIC_KEY} and {ENV_PRIVATE_KEY} (API key), or save an atlas CLI profile{why}"
            ))
        })?
    };
    let pick = |env_value: Option<String>,
                env_names: Vec<&'static str>,
                field: fn(&Profile) -> Option<String>| {
        match env_value {
            Some(v) => Some(Sourced::env(v, env_names)),
            None => file.as_ref().and_then(|p| {
                field(p).map(|value| Sourced::profile(value, Tool::Atlascli, &p.name, &p.path))
            }),
        }
    };
    let base_url_var = if super::var(&lookup, crate::atlas::ENV_BASE_URL).is_some() {
        crate::atlas::ENV_BASE_URL
    } else {
        crate::atlas::ENV_OPS_MANAGER_URL
    };
    Ok(Login {
        credentials,
        base_url: pick(env.base_url, vec![base_url_var], |p| p.base_url.clone()),
        project_id: pick(env.project_id, vec![crate::atlas::ENV_PROJECT_ID], |p| {
            p.project_id.clone()
        }),
        org_id: pick(env.org_id, vec![crate::atlas::ENV_ORG_ID], |p| {
            p.org_id.clone()
        }),
    })
}
