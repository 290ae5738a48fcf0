//! The one way to build each vendor's client: from the sandbox, else from
//! credentials (variables, else the official tool's saved profile), with an
//! optional endpoint override. Single commands read the process environment
//! and `--profile`; `pull` sources bring their own [`Credentials`].

use crate::blocking::blocking;
use crate::sandbox::Sandboxes;
use crate::Failure;
use logexport::profile::{atlascli, cone, tccli, Source};
use logexport::sandbox::prelude::*;
use logexport::{atlas, conductorone, tencent_cls};
use std::collections::BTreeMap;

/// Variable prefixes that belong to a vendor's login. A `pull` source with
/// an `env` table sees only the ones it maps, so an ambient login (which
/// the resolvers would prefer) never mixes into it.
const VENDOR_PREFIXES: [&str; 5] = [
    "MONGODB_ATLAS_",
    "TENCENTCLOUD_",
    "TCCLI_",
    "CONE_",
    "CONDUCTORONE_",
];

/// Where a client's credentials come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Credentials {
    /// `None`: the process environment as it is (single commands).
    /// `Some(map)`: a `pull` source's own view, where each standard name
    /// is read from the variable it maps to and unmapped vendor variables
    /// are unset.
    pub env: Option<BTreeMap<String, String>>,
    /// The official tool's profile, when the variables hold no login.
    pub profile: Option<String>,
}

impl Credentials {
    /// Reads the standard variable `name` through this source's view.
    pub fn var(&self, name: &str) -> Option<String> {
        let actual = match &self.env {
            None => name,
            Some(map) => match map.get(name) {
                Some(actual) => actual.as_str(),
                None if VENDOR_PREFIXES.iter().any(|p| name.starts_with(p)) => return None,
                None => name,
            },
        };
        std::env::var(actual).ok()
    }
}

/// Everything a client is built from.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// Where the credentials come from (ignored with a sandbox).
    pub credentials: &'a Credentials,
    /// Overrides the vendor base URL.
    pub endpoint: Option<&'a str>,
    /// The in-process emulators, which win over everything else.
    pub sandboxes: Option<&'a Sandboxes>,
}

/// A client and where its credentials came from (`None` for the sandbox).
pub struct Built<C> {
    /// The client.
    pub client: C,
    /// Names and paths, never values, for `-v` and the summary.
    pub source: Option<Source>,
}

impl<C> Built<C> {
    fn new(client: C, source: Option<Source>) -> Self {
        Built { client, source }
    }
}

/// Says under `-v` where the credentials came from.
fn note(source: &Source) {
    tracing::info!(credentials = %source, "credentials from {source}");
}

/// Atlas's default project and organization, each from the variables,
/// else the atlas CLI profile.
#[derive(Debug, Clone, Default)]
pub struct AtlasDefaults {
    /// `MONGODB_ATLAS_PROJECT_ID`, else the profile's `project_id`.
    pub project: Option<String>,
    /// `MONGODB_ATLAS_ORG_ID`, else the profile's `org_id`.
    pub org: Option<String>,
}

impl AtlasDefaults {
    /// The project `given`, else the default, else a usage error that
    /// starts with `ask`: how to give one where the caller takes it.
    pub fn project(&self, given: Option<String>, ask: &str) -> Result<String, Failure> {
        given.or_else(|| self.project.clone()).ok_or_else(|| {
            Failure::usage(format!(
                "{ask} {} (or project_id in the atlas CLI profile)",
                atlas::ENV_PROJECT_ID
            ))
        })
    }
}

/// An Atlas client. Service-account clients are registered so their token
/// is revoked when the process ends.
pub fn atlas(setup: Setup<'_>) -> Result<(Built<atlas::Client>, AtlasDefaults), Failure> {
    let (built, defaults) = if let Some(sb) = setup.sandboxes {
        // The sandbox reads no profile: only the variables.
        let var = |n: &str| {
            setup
                .credentials
                .var(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let defaults = AtlasDefaults {
            project: var(atlas::ENV_PROJECT_ID),
            org: var(atlas::ENV_ORG_ID),
        };
        let client = sb.atlas.client_builder().build()?;
        (Built::new(client, None), defaults)
    } else {
        // The library's error names the variable and what is wrong with it.
        let creds = setup.credentials;
        let login = blocking(|| atlascli::resolve(|n| creds.var(n), creds.profile.as_deref()))?;
        note(&login.credentials.source);
        let mut builder = atlas::Client::builder().credentials(login.credentials.value);
        let base_url = login.base_url.map(|u| u.value);
        if let Some(url) = setup.endpoint.map(str::to_string).or(base_url) {
            builder = builder.endpoint(&url);
        }
        let defaults = AtlasDefaults {
            project: login.project_id.map(|p| p.value),
            org: login.org_id.map(|o| o.value),
        };
        (
            Built::new(builder.build()?, Some(login.credentials.source)),
            defaults,
        )
    };
    crate::atlas::revoke_at_exit(&built.client);
    Ok((built, defaults))
}

/// A CLS client for `region`, else the variables' or the profile's region.
pub fn cls(setup: Setup<'_>, region: Option<&str>) -> Result<Built<tencent_cls::Client>, Failure> {
    let no_region = || {
        Failure::usage(
            "give --region, or set TENCENTCLOUD_REGION (or region in the tccli profile's .configure file)",
        )
    };
    if let Some(sb) = setup.sandboxes {
        let region = region
            .map(str::to_string)
            .or_else(|| setup.credentials.var("TENCENTCLOUD_REGION"))
            .ok_or_else(no_region)?;
        return Ok(Built::new(
            sb.cls.client_builder().region(region).build()?,
            None,
        ));
    }
    let creds = setup.credentials;
    let login = blocking(|| tccli::resolve(|n| creds.var(n), creds.profile.as_deref()))?;
    note(&login.credentials.source);
    let region = match (region, login.region) {
        (Some(r), _) => r.to_string(),
        (None, Some(r)) => r.value.as_str().to_string(),
        (None, None) => return Err(no_region()),
    };
    let mut builder = tencent_cls::Client::builder()
        .credentials(login.credentials.value)
        .region(region);
    if let Some(url) = setup.endpoint {
        builder = builder.endpoint(url);
    }
    Ok(Built::new(builder.build()?, Some(login.credentials.source)))
}

/// A ConductorOne client.
pub fn c1(setup: Setup<'_>) -> Result<Built<conductorone::Client>, Failure> {
    if let Some(sb) = setup.sandboxes {
        return Ok(Built::new(sb.conductorone.client_builder().build()?, None));
    }
    let creds = setup.credentials;
    let login = blocking(|| cone::resolve(|n| creds.var(n), creds.profile.as_deref()))?;
    note(&login.credentials.source);
    let mut builder = conductorone::Client::builder().credentials(login.credentials.value);
    let endpoint = login.endpoint.map(|e| e.value);
    if let Some(url) = setup.endpoint.map(str::to_string).or(endpoint) {
        builder = builder.endpoint(&url);
    }
    Ok(Built::new(builder.build()?, Some(login.credentials.source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_view_hides_unmapped_vendor_variables() {
        // Names no other code reads, so parallel tests are unaffected.
        std::env::set_var("LOGEXPORT_TEST_MAPPED_KEY", "mapped");
        std::env::set_var("MONGODB_ATLAS_LOGEXPORT_TEST", "ambient");
        let creds = Credentials {
            env: Some(BTreeMap::from([(
                "MONGODB_ATLAS_PUBLIC_API_KEY".to_string(),
                "LOGEXPORT_TEST_MAPPED_KEY".to_string(),
            )])),
            profile: None,
        };
        assert_eq!(
            creds.var("MONGODB_ATLAS_PUBLIC_API_KEY").as_deref(),
            Some("mapped")
        );
        assert_eq!(creds.var("MONGODB_ATLAS_LOGEXPORT_TEST"), None);
        assert_eq!(
            Credentials::default()
                .var("MONGODB_ATLAS_LOGEXPORT_TEST")
                .as_deref(),
            Some("ambient")
        );
    }
}
