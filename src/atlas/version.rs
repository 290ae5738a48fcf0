//! Atlas resource versions: which `Accept` media type each operation sends.
//!
//! Atlas versions every resource by date, named in
//! `Accept: application/vnd.atlas.YYYY-MM-DD+{json,gzip}`. A missing or
//! unknown version is answered with 406 and a sunset one with 410, so the
//! exact value matters. The table of known versions is generated at build
//! time from the committed spec (`$OUT_DIR/atlas_accept.rs`); pinning a
//! version outside it is refused locally.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One row of the build-time table: an operation, the media type sent by
/// default, and every version the spec lists with its `x-sunset` date.
#[derive(Debug)]
pub(crate) struct AcceptEntry {
    /// The operation id (the Rust-facing name, e.g. `download_cluster_log`).
    pub operation: &'static str,
    /// The media type sent unless the caller pins another one.
    pub default: &'static str,
    /// Every `(media type, sunset date)` the spec lists.
    pub versions: &'static [(&'static str, Option<&'static str>)],
}

include!(concat!(env!("OUT_DIR"), "/atlas_accept.rs"));

/// A resource version of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion {
    /// The full media type, e.g. `application/vnd.atlas.2023-02-01+gzip`.
    pub media_type: &'static str,
    /// The date part, e.g. `2023-02-01`.
    pub date: &'static str,
    /// The announced sunset date (`YYYY-MM-DD`), if the version is deprecated.
    pub sunset: Option<&'static str>,
    /// Whether this is the version sent unless another is pinned.
    pub is_default: bool,
}

pub(crate) fn entry(operation: &str) -> Option<&'static AcceptEntry> {
    ACCEPT
        .binary_search_by(|e| e.operation.cmp(operation))
        .ok()
        .map(|i| &ACCEPT[i])
}

/// The operation ids that have a version table.
pub fn operations() -> impl Iterator<Item = &'static str> {
    ACCEPT.iter().map(|e| e.operation)
}

/// Every version the spec lists for `operation` (oldest first), or `None`
/// for an operation this crate does not know.
///
/// ```
/// let v = logexport::atlas::versions("download_cluster_log").unwrap();
/// assert!(v.iter().any(|v| v.is_default && v.media_type.ends_with("+gzip")));
/// ```
pub fn versions(operation: &str) -> Option<Vec<ApiVersion>> {
    let e = entry(operation)?;
    let mut out: Vec<ApiVersion> = e
        .versions
        .iter()
        .map(|(media, sunset)| ApiVersion {
            media_type: media,
            date: date_of(media).unwrap_or(media),
            sunset: *sunset,
            is_default: *media == e.default,
        })
        .collect();
    out.sort_by_key(|v| v.date);
    Some(out)
}

/// `2023-02-01` from `application/vnd.atlas.2023-02-01+gzip`.
pub(crate) fn date_of(media_type: &str) -> Option<&str> {
    let rest = media_type.strip_prefix("application/vnd.atlas.")?;
    Some(rest.split('+').next().unwrap_or(rest))
}

/// Resolves a caller's version choice (`2023-01-01` or the full media
/// type) against the table. Unknown operations and versions are
/// `InvalidInput`.
pub(crate) fn resolve(operation: &str, version: &str) -> Result<&'static str> {
    let e = entry(operation).ok_or_else(|| {
        let known: Vec<_> = operations().collect();
        Error::invalid_input(
            "operation",
            format!(
                "`{operation}` is not an Atlas operation of this crate (known: {})",
                known.join(", ")
            ),
        )
    })?;
    let version = version.trim();
    let found = e
        .versions
        .iter()
        .find(|(media, _)| *media == version || date_of(media) == Some(version));
    let Some((media, sunset)) = found else {
        let known: Vec<_> = e.versions.iter().map(|(m, _)| *m).collect();
        return Err(Error::invalid_input(
            "version",
            format!(
                "`{version}` is not a version the spec lists for `{operation}` (known: {})",
                known.join(", ")
            ),
        )
        .with_vendor(crate::Vendor::Atlas));
    };
    if let Some(s) = sunset.filter(|s| sunset_passed(s)) {
        tracing::warn!(
            operation,
            version = *media,
            sunset = s,
            "pinned Atlas version is past its sunset; expect 410 VERSION_GONE"
        );
    }
    Ok(media)
}

fn sunset_passed(date: &str) -> bool {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .is_ok_and(|d| d <= chrono::Utc::now().date_naive())
}

/// Per-client version choices: operation → media type. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pins(Arc<BTreeMap<&'static str, &'static str>>);

impl Pins {
    pub(crate) fn with(&self, operation: &str, version: &str) -> Result<Pins> {
        let media = resolve(operation, version)?;
        let op = entry(operation).expect("resolved above").operation;
        let mut map = (*self.0).clone();
        map.insert(op, media);
        Ok(Pins(Arc::new(map)))
    }

    /// The media type to send for `operation`.
    pub(crate) fn accept(&self, operation: &str) -> Option<&'static str> {
        self.0
            .get(operation)
            .copied()
            .or_else(|| entry(operation).map(|e| e.default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(ACCEPT.windows(2).all(|w| w[0].operation < w[1].operation));
        for op in [
            "download_stream_audit_logs",
            "download_stream_operational_logs",
            "list_stream_workspaces",
            "get_stream_workspace",
            "download_cluster_log",
            "list_processes",
            "list_project_events",
            "list_org_events",
            "get_db_access_history_cluster",
        ] {
            let e = entry(op).unwrap_or_else(|| panic!("{op} missing"));
            assert!(
                e.versions.iter().any(|(m, _)| *m == e.default),
                "{op}: default is listed"
            );
            let suffix = if op.starts_with("download_") {
                "+gzip"
            } else {
                "+json"
            };
            assert!(
                e.default.starts_with("application/vnd.atlas.") && e.default.ends_with(suffix),
                "{op}"
            );
        }
    }

    #[test]
    fn pins_resolve_dates_and_media_types() {
        let pins = Pins::default();
        assert_eq!(
            pins.accept("download_cluster_log"),
            entry("download_cluster_log").map(|e| e.default)
        );
        let old = versions("download_cluster_log").unwrap()[0];
        let pinned = pins.with("download_cluster_log", old.date).unwrap();
        assert_eq!(pinned.accept("download_cluster_log"), Some(old.media_type));
        let again = pins.with("download_cluster_log", old.media_type).unwrap();
        assert_eq!(again.accept("download_cluster_log"), Some(old.media_type));
        // The original is unchanged: pins are values.
        assert_ne!(pins.accept("download_cluster_log"), Some(old.media_type));
    }

    #[test]
    fn unknown_versions_and_operations_are_invalid_input() {
        let e = Pins::default()
            .with("download_cluster_log", "2099-01-01")
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("2099-01-01"));
        let e = Pins::default()
            .with("no_such_op", "2023-01-01")
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        // A JSON version of a gzip-only operation is not the same version.
        let e = resolve(
            "download_stream_audit_logs",
            "application/vnd.atlas.2023-02-01+json",
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    }

    #[test]
    fn date_parsing() {
        assert_eq!(
            date_of("application/vnd.atlas.2023-02-01+gzip"),
            Some("2023-02-01")
        );
        assert_eq!(date_of("application/json"), None);
    }
}
