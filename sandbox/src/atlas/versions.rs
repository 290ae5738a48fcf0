//! Which resource versions each Atlas operation accepts, read from the
//! committed spec (`specs/atlas.yaml`, its `x-logexport-accept` and
//! `x-logexport-versions` extensions), not from the client's table, so a
//! client that sends a version the spec does not list is refused; and how
//! a request's `Accept` is answered: 406 for a version not listed, 410 past
//! its sunset, `Deprecation` and `Sunset` headers before it.

use super::error::api_error;
use super::state::Inner;
use super::VersionStatus;
use crate::{answer, lock};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The spec the emulator serves, as committed.
const SPEC: &str = include_str!("../../../specs/atlas.yaml");

/// One operation's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// The media type the spec names as the operation's default.
    pub default: String,
    /// Every `(media type, sunset date)` the spec lists.
    pub listed: Vec<(String, Option<String>)>,
}

/// The table, by operation id, parsed once.
pub fn table() -> &'static HashMap<String, Versions> {
    static TABLE: OnceLock<HashMap<String, Versions>> = OnceLock::new();
    TABLE.get_or_init(|| parse(SPEC).expect("specs/atlas.yaml carries the version extensions"))
}

/// The versions of `operation`, if the spec has it.
pub fn of(operation: &str) -> Option<&'static Versions> {
    table().get(operation)
}

/// The date part of `application/vnd.atlas.<date>+<suffix>`.
pub fn date_of(media_type: &str) -> Option<&str> {
    let rest = media_type.strip_prefix("application/vnd.atlas.")?;
    Some(rest.split('+').next().unwrap_or(rest))
}

fn parse(text: &str) -> Result<HashMap<String, Versions>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let paths = doc
        .get("paths")
        .and_then(|p| p.as_mapping())
        .ok_or("the spec has no paths")?;
    let mut out = HashMap::new();
    for item in paths.values() {
        let Some(item) = item.as_mapping() else {
            continue;
        };
        for op in item.values() {
            let Some(id) = op.get("operationId").and_then(|v| v.as_str()) else {
                continue;
            };
            let default = op
                .get("x-logexport-accept")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("{id} lacks x-logexport-accept"))?;
            let listed = op
                .get("x-logexport-versions")
                .and_then(|v| v.as_sequence())
                .ok_or_else(|| format!("{id} lacks x-logexport-versions"))?
                .iter()
                .map(|v| {
                    let media = v
                        .get("media_type")
                        .and_then(|m| m.as_str())
                        .ok_or_else(|| format!("{id}: a version lacks media_type"))?;
                    let sunset = v.get("sunset").and_then(|s| s.as_str()).map(str::to_string);
                    Ok((media.to_string(), sunset))
                })
                .collect::<Result<Vec<_>, String>>()?;
            out.insert(
                id.to_string(),
                Versions {
                    default: default.to_string(),
                    listed,
                },
            );
        }
    }
    Ok(out)
}

impl Inner {
    /// The media type to answer with and, for deprecated versions, the
    /// `Deprecation` and `Sunset` values.
    #[allow(clippy::type_complexity)]
    pub(super) fn check_version(
        &self,
        operation: &str,
        accept: &str,
    ) -> Result<(&'static str, Option<(String, String)>), Box<Response>> {
        let entry = of(operation).expect("the spec lists every routed operation");
        let requested = accept
            .split(',')
            .map(|p| p.split(';').next().unwrap_or("").trim())
            .find(|p| p.starts_with("application/vnd.atlas."));
        let invalid = |what: String| {
            Box::new(api_error(
                406,
                "INVALID_VERSION_DATE",
                format!(
                    "{what}; this resource supports: {}",
                    entry
                        .listed
                        .iter()
                        .map(|(m, _)| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ))
        };
        let Some(requested) = requested else {
            return Err(invalid(format!(
                "The Accept header `{accept}` names no API version"
            )));
        };
        let Some(index) = entry.listed.iter().position(|(m, _)| m == requested) else {
            return Err(invalid(format!(
                "`{requested}` is not a valid version of this resource"
            )));
        };
        let (media, table_sunset) = &entry.listed[index];
        let media = media.as_str();
        let today = self.clock.now();
        let today: DateTime<Utc> = today.into();
        let overridden = lock(&self.versions)
            .get(&(operation.to_string(), media.to_string()))
            .copied();
        let sunset = match overridden {
            Some(VersionStatus::Unknown) => {
                return Err(invalid(format!(
                    "`{requested}` is not a valid version of this resource"
                )))
            }
            Some(VersionStatus::Gone) => return Err(gone(media)),
            Some(VersionStatus::Current) => None,
            Some(VersionStatus::Deprecated { sunset }) => Some(sunset),
            None => table_sunset
                .as_deref()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()),
        };
        let Some(sunset) = sunset else {
            return Ok((media, None));
        };
        if sunset <= today.date_naive() {
            return Err(gone(media));
        }
        // Deprecated since the next version appeared, or since today when
        // there is none (an override on the newest version).
        let mut dates: Vec<&str> = entry
            .listed
            .iter()
            .filter_map(|(m, _)| date_of(m))
            .collect();
        dates.sort_unstable();
        let own = date_of(media).unwrap_or("");
        let since = dates
            .iter()
            .find(|d| **d > own)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or(today.date_naive());
        let at_midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        Ok((
            media,
            Some((
                answer::http_date(at_midnight(since)),
                answer::http_date(at_midnight(sunset)),
            )),
        ))
    }
}

fn gone(media: &str) -> Box<Response> {
    Box::new(api_error(
        410,
        "VERSION_GONE",
        format!("The API version {media} has been sunset and is no longer available."),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_lists_every_served_operation_with_its_default() {
        let t = table();
        assert!(t.len() >= 8, "{}", t.len());
        for (id, v) in t {
            assert!(
                v.listed.iter().any(|(m, _)| *m == v.default),
                "{id}: default not among listed versions"
            );
            assert!(v.listed.iter().all(|(m, _)| date_of(m).is_some()), "{id}");
        }
        let logs = of("download_cluster_log").expect("cluster logs");
        assert_eq!(logs.default, "application/vnd.atlas.2023-02-01+gzip");
        assert!(logs.listed.contains(&(
            "application/vnd.atlas.2023-01-01+gzip".into(),
            Some("2027-07-01".into())
        )));
    }

    #[test]
    fn a_spec_without_the_extensions_is_refused() {
        let bad = "paths:\n  /x:\n    get:\n      operationId: x\n";
        assert!(parse(bad).is_err());
    }
}
