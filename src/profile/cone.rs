//! cone's saved profiles: `config.yaml` under `~/.conductorone` (or the
//! directory `CONE_CONFIG_PATH` names), holding
//! `profiles: {<name>: {client-id, client-secret}}`.
//!
//! The profile is the caller's choice, else `CONE_PROFILE` (cone's own
//! selector), else `default`.

use super::{Sourced, Tool};
use crate::conductorone::credentials::cred_err;
use crate::conductorone::{
    endpoint_from_lookup, Credentials, ENV_ACCESS_TOKEN_NAMES, ENV_CLIENT_ID_NAMES,
    ENV_CLIENT_SECRET_NAMES, ENV_ENDPOINT_NAMES,
};
use crate::{Result, SecretString};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// cone's profile selector.
pub const ENV_PROFILE: &str = "CONE_PROFILE";
/// cone's configuration directory override (a directory holding
/// `config.yaml`; a path to the file itself is accepted too).
pub const ENV_CONFIG_PATH: &str = "CONE_CONFIG_PATH";

/// A cone profile as read from disk.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// The client id and secret.
    pub credentials: Credentials,
    /// The file.
    pub path: PathBuf,
}

/// What [`resolve`] found, each part with its source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Login {
    /// The credentials.
    pub credentials: Sourced<Credentials>,
    /// The API base URL when the environment names one (else it is derived
    /// from the client id).
    pub endpoint: Option<Sourced<String>>,
}

/// cone's `config.yaml`: under `CONE_CONFIG_PATH` if set, else
/// `~/.conductorone/config.yaml`.
pub fn default_path(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(p) = super::var(&lookup, ENV_CONFIG_PATH) {
        let p = PathBuf::from(p);
        let is_file = matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        return Some(if is_file { p } else { p.join("config.yaml") });
    }
    super::home(&lookup).map(|h| h.join(".conductorone").join("config.yaml"))
}

/// The profile to read: `explicit`, else `CONE_PROFILE`, else `default`.
pub fn profile_name(
    explicit: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    super::profile_name(Tool::Cone, explicit, super::var(&lookup, ENV_PROFILE))
}

#[derive(serde::Deserialize)]
struct ConfigFile {
    profiles: Option<BTreeMap<String, ProfileEntry>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ProfileEntry {
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Reads profile `name` from the `config.yaml` at `path`. `Ok(None)` if the
/// file or the profile does not exist.
pub fn read_profile(path: &Path, name: &str) -> Result<Option<Profile>> {
    let name = super::profile_name(Tool::Cone, Some(name), None)?;
    let Some(text) = super::read_optional(Tool::Cone, path)? else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let file: ConfigFile = serde_yaml::from_str(&text).map_err(|e| {
        super::parse_error(Tool::Cone, path, "YAML", e.location().map(|l| l.line()))
    })?;
    let Some(entry) = file.profiles.and_then(|mut p| p.remove(&name)) else {
        return Ok(None);
    };
    let (id, secret) = match (
        super::trimmed(entry.client_id),
        super::trimmed(entry.client_secret),
    ) {
        (Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(cred_err(format!(
                "{}: profile `{name}` needs both `client-id` and `client-secret`",
                path.display()
            )))
        }
    };
    // cone writes these placeholders into a fresh config before any login.
    if id == "<client-id>" || secret == "<client-secret>" {
        return Err(cred_err(format!(
            "{}: profile `{name}` still holds cone's placeholders; run `cone login` or edit the file",
            path.display()
        )));
    }
    let credentials =
        Credentials::client_credentials(&id, &SecretString::new(secret)).map_err(|e| {
            cred_err(format!(
                "{}: profile `{name}`: {}",
                path.display(),
                e.message()
            ))
        })?;
    Ok(Some(Profile {
        name,
        credentials,
        path: path.to_path_buf(),
    }))
}

/// Credentials by logexport's precedence: the `CONE_*`/`CONDUCTORONE_*`
/// variables when any credential variable is set (an access token first),
/// else the cone profile (`profile`, `CONE_PROFILE` or `default`); the
/// endpoint from the environment when it names one.
pub fn resolve(lookup: impl Fn(&str) -> Option<String>, profile: Option<&str>) -> Result<Login> {
    let path = default_path(&lookup);
    resolve_in(&lookup, path.as_deref(), profile)
}

/// [`resolve`] with the `config.yaml` path given (`None`: no home
/// directory).
pub fn resolve_in(
    lookup: impl Fn(&str) -> Option<String>,
    path: Option<&Path>,
    profile: Option<&str>,
) -> Result<Login> {
    let name = profile_name(profile, &lookup)?;
    let first = |names: &[&'static str]| {
        names
            .iter()
            .copied()
            .find(|n| super::var(&lookup, n).is_some())
    };
    let token = first(&ENV_ACCESS_TOKEN_NAMES);
    let id = first(&ENV_CLIENT_ID_NAMES);
    let secret = first(&ENV_CLIENT_SECRET_NAMES);
    let credentials = if token.is_some() || id.is_some() || secret.is_some() {
        let creds = Credentials::from_lookup(&lookup)?;
        let used = match (&creds, token) {
            (Credentials::AccessToken(_), Some(t)) => vec![t],
            _ => id.into_iter().chain(secret).collect(),
        };
        Sourced::env(creds, used)
    } else {
        let found = path.map(|p| read_profile(p, &name)).transpose()?.flatten();
        let found = found.map(|p| Sourced::profile(p.credentials, Tool::Cone, &p.name, &p.path));
        found.ok_or_else(|| {
            let looked = path
                .map(|p| format!(" (no profile `{name}` in {})", p.display()))
                .unwrap_or_default();
            cred_err(format!(
                "no ConductorOne credentials: set CONE_CLIENT_ID and CONE_CLIENT_SECRET, \
                 or CONE_ACCESS_TOKEN, or save a cone profile with `cone login`{looked}"
            ))
        })?
    };
    // An access token names no host; a client id beside it does.
    let is_token = matches!(credentials.value, Credentials::AccessToken(_));
    let endpoint = first(&ENV_ENDPOINT_NAMES)
        .or(id.filter(|_| is_token))
        .and_then(|n| endpoint_from_lookup(&lookup).map(|url| Sourced::env(url, vec![n])));
    Ok(Login {
        credentials,
        endpoint,
    })
}
