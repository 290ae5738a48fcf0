//! tccli's saved logins: `~/.tccli/<profile>.credential` (JSON with
//! `secretId`, `secretKey` and, for temporary keys, `token`) and
//! `<profile>.configure` (JSON; the region under `_sys_param`).
//!
//! The profile is the caller's choice, else `TCCLI_PROFILE` (tccli's own
//! selector), else `default`.

use super::{Sourced, Tool};
use crate::tencent_cls::{
    Credentials, Region, ENV_REGION, ENV_SECRET_ID, ENV_SECRET_KEY, ENV_SESSION_TOKEN,
    ENV_SESSION_TOKEN_ALIASES,
};
use crate::{Error, Result, Vendor};
use std::path::{Path, PathBuf};

/// tccli's profile selector.
pub const ENV_PROFILE: &str = "TCCLI_PROFILE";

/// A tccli profile as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// The keys from `<name>.credential`, if that file exists.
    pub credentials: Option<Credentials>,
    /// The region from `<name>.configure`, if set there.
    pub region: Option<Region>,
    /// `<name>.credential`.
    pub credential_path: PathBuf,
    /// `<name>.configure`.
    pub configure_path: PathBuf,
}

/// What [`resolve`] found, each part with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Login {
    /// The credentials.
    pub credentials: Sourced<Credentials>,
    /// The region, if the environment or the profile names one.
    pub region: Option<Sourced<Region>>,
}

/// tccli's directory, `~/.tccli`.
pub fn default_dir(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    super::home(&lookup).map(|h| h.join(".tccli"))
}

/// The profile to read: `explicit`, else `TCCLI_PROFILE`, else `default`.
pub fn profile_name(
    explicit: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    super::profile_name(Tool::Tccli, explicit, super::var(&lookup, ENV_PROFILE))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialFile {
    secret_id: Option<String>,
    secret_key: Option<String>,
    token: Option<String>,
    #[serde(rename = "role-arn")]
    role_arn: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(serde::Deserialize)]
struct ConfigureFile {
    #[serde(rename = "_sys_param")]
    sys_param: Option<SysParam>,
}

#[derive(serde::Deserialize)]
struct SysParam {
    region: Option<String>,
}

fn cred_err(msg: String) -> Error {
    Error::credentials(msg).with_vendor(Vendor::TencentCls)
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| super::parse_error(Tool::Tccli, path, "JSON", Some(e.line())))
}

/// Reads profile `name` from `dir` (normally [`default_dir`]). Missing
/// files give `None` fields; malformed ones are errors naming the file.
pub fn read_profile(dir: &Path, name: &str) -> Result<Profile> {
    let name = super::profile_name(Tool::Tccli, Some(name), None)?;
    let credential_path = dir.join(format!("{name}.credential"));
    let configure_path = dir.join(format!("{name}.configure"));
    let credentials = match super::read_optional(Tool::Tccli, &credential_path)? {
        None => None,
        Some(text) => {
            let file: CredentialFile = parse_json(&credential_path, &text)?;
            let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&file.secret_id) && blank(&file.secret_key) {
                let how = match (&file.role_arn, &file.kind) {
                    (Some(r), _) if !r.trim().is_empty() => " (it assumes a role with `role-arn`, which tccli does itself and logexport does not)",
                    (_, Some(k)) if !k.trim().is_empty() => " (it uses an instance or OIDC role, which logexport does not)",
                    _ => "",
                };
                return Err(cred_err(format!(
                    "{} has no secretId and secretKey{how}",
                    credential_path.display()
                )));
            }
            let field = |v: Option<String>, what: &str| {
                super::trimmed(v)
                    .ok_or_else(|| cred_err(format!("{} has no {what}", credential_path.display())))
            };
            let mut creds = Credentials::new(
                field(file.secret_id, "secretId")?,
                field(file.secret_key, "secretKey")?,
            );
            if let Some(token) = super::trimmed(file.token) {
                creds = creds.with_session_token(token);
            }
            creds
                .validate()
                .map_err(|e| cred_err(format!("{}: {}", credential_path.display(), e.message())))?;
            Some(creds)
        }
    };
    let region = match super::read_optional(Tool::Tccli, &configure_path)? {
        None => None,
        Some(text) => {
            let file: ConfigureFile = parse_json(&configure_path, &text)?;
            let invalid =
                |e: Error| cred_err(format!("{}: {}", configure_path.display(), e.message()));
            super::trimmed(file.sys_param.and_then(|p| p.region))
                .map(|r| Region::new(r).map_err(invalid))
                .transpose()?
        }
    };
    Ok(Profile {
        name,
        credentials,
        region,
        credential_path,
        configure_path,
    })
}

/// Credentials and region by logexport's precedence: the `TENCENTCLOUD_*`
/// variables when any credential variable is set, else the tccli profile
/// (`profile`, `TCCLI_PROFILE` or `default` under [`default_dir`]); the
/// region from `TENCENTCLOUD_REGION`, else the profile.
pub fn resolve(lookup: impl Fn(&str) -> Option<String>, profile: Option<&str>) -> Result<Login> {
    let dir = default_dir(&lookup);
    resolve_in(&lookup, dir.as_deref(), profile)
}

/// [`resolve`] with tccli's directory given (`None`: no home directory).
pub fn resolve_in(
    lookup: impl Fn(&str) -> Option<String>,
    dir: Option<&Path>,
    profile: Option<&str>,
) -> Result<Login> {
    let name = profile_name(profile, &lookup)?;
    let token_names = std::iter::once(ENV_SESSION_TOKEN).chain(ENV_SESSION_TOKEN_ALIASES);
    let env_has_creds = [ENV_SECRET_ID, ENV_SECRET_KEY]
        .into_iter()
        .any(|n| super::var(&lookup, n).is_some());
    let env_region = super::var(&lookup, ENV_REGION);
    // Only touch the files when the environment leaves something open, so a
    // broken profile cannot fail a run that does not need it.
    let profile = match dir {
        Some(d) if !env_has_creds || env_region.is_none() => Some(read_profile(d, &name)?),
        _ => None,
    };
    let credentials = if env_has_creds {
        let creds = Credentials::from_vars(&lookup)?;
        let mut names = vec![ENV_SECRET_ID, ENV_SECRET_KEY];
        names.extend(
            token_names
                .filter(|n| super::var(&lookup, n).is_some())
                .take(1),
        );
        Sourced::env(creds, names)
    } else {
        let found = profile.as_ref().and_then(|p| {
            let creds = p.credentials.clone()?;
            Some(Sourced::profile(
                creds,
                Tool::Tccli,
                &p.name,
                &p.credential_path,
            ))
        });
        found.ok_or_else(|| {
            let looked = profile
                .as_ref()
                .map(|p| format!(" (no {})", p.credential_path.display()))
                .unwrap_or_default();
            cred_err(format!(
                "no Tencent Cloud credentials: set {ENV_SECRET_ID} and {ENV_SECRET_KEY}, \
                 or save a tccli profile with `tccli configure`{looked}"
            ))
        })?
    };
    let region = match env_region {
        Some(r) => Some(Sourced::env(Region::new(r)?, vec![ENV_REGION])),
        None => profile.and_then(|p| {
            let region = p.region?;
            Some(Sourced::profile(
                region,
                Tool::Tccli,
                &p.name,
                &p.configure_path,
            ))
        }),
    };
    Ok(Login {
        credentials,
        region,
    })
}
