//! Friendly types over the generated ones: exporters, open enums, and the
//! inputs for create and update.
//!
//! C1's enums are open (new values appear without notice), so the spec
//! carries them as plain strings with the known values in
//! `x-logexport-open-enum`; the enums here decode anything, keeping an
//! unknown value as `Unknown(String)`.

use super::generated::types as gen;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident, prefix = $prefix:literal, {
            $(#[$dmeta:meta])* $default:ident = $dwire:literal,
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        pub enum $name {
            $(#[$dmeta])*
            #[default]
            $default,
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of logexport does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value the spec lists, in its order.
            pub const KNOWN: &'static [&'static str] = &[$dwire, $($wire),+];

            #[doc = concat!("The wire form, e.g. `", $dwire, "`.")]
            pub fn as_str(&self) -> &str {
                match self {
                    $name::$default => $dwire,
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }

            /// Whether this is a value the spec did not list.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            /// Accepts the wire form, or the short form without the prefix
            /// in any case (`exporting`), so command lines can be brief.
            /// Anything else becomes `Unknown`.
            fn from(s: &str) -> Self {
                let s = s.trim();
                let long = format!("{}{}", $prefix, s.to_ascii_uppercase());
                let known = || [$name::$default, $($name::$variant),+].into_iter();
                known()
                    .find(|v| v.as_str() == s)
                    .or_else(|| known().find(|v| v.as_str() == long))
                    .unwrap_or_else(|| $name::Unknown(s.to_string()))
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            /// The same as `From<&str>`; never fails.
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// A string: one of [`Self::KNOWN`], or a value newer than this
        /// crate, so the schema lists the known values without closing the set.
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).to_string()
            }

            fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
                let mut schema = schemars::schema::SchemaObject {
                    instance_type: Some(schemars::schema::InstanceType::String.into()),
                    ..Default::default()
                };
                schema.metadata().description = Some(format!(
                    "An open set; known values: {}",
                    Self::KNOWN.join(", ")
                ));
                schema.into()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

open_enum! {
    /// Where an exporter stands (`Exporter.state`).
    ExportState, prefix = "EXPORT_STATE_", {
        /// Not set.
        Unspecified = "EXPORT_STATE_UNSPECIFIED",
        /// Delivering events.
        Exporting = "EXPORT_STATE_EXPORTING",
        /// Waiting for events or for its datasource.
        Waiting = "EXPORT_STATE_WAITING",
        /// Delivery failed.
        Error = "EXPORT_STATE_ERROR",
    }
}

open_enum! {
    /// The file format an exporter writes (`datasource.format`).
    ExportFormat, prefix = "EXPORT_FORMAT_", {
        /// Not set (the server picks).
        Unspecified = "EXPORT_FORMAT_UNSPECIFIED",
        /// OCSF JSON lines, zstd-compressed.
        OcsfJsonZstd = "EXPORT_FORMAT_OCSF_JSON_ZSTD",
        /// OCSF JSON lines, gzip-compressed.
        OcsfJsonGzip = "EXPORT_FORMAT_OCSF_JSON_GZIP",
    }
}

open_enum! {
    /// Event order for system log listings.
    SortDirection, prefix = "SORT_DIRECTION_", {
        /// The server's default (oldest first).
        Unspecified = "SORT_DIRECTION_UNSPECIFIED",
        /// Oldest first.
        Asc = "SORT_DIRECTION_ASC",
        /// Newest first.
        Desc = "SORT_DIRECTION_DESC",
    }
}

/// Where an exporter delivers: a datasource, a key prefix within it, and a format.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    /// The C1 datasource id.
    pub datasource_id: String,
    /// Object-key prefix inside the datasource (may be empty).
    pub prefix: String,
    /// The file format.
    pub format: ExportFormat,
}

impl Datasource {
    /// A datasource with no prefix and the server's default format.
    pub fn new(datasource_id: impl Into<String>) -> Self {
        Datasource {
            datasource_id: datasource_id.into(),
            ..Default::default()
        }
    }

    /// Sets the key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the format.
    pub fn with_format(mut self, format: ExportFormat) -> Self {
        self.format = format;
        self
    }

    fn from_gen(d: gen::C1ApiSystemlogV1ExportToDatasource) -> Self {
        Datasource {
            datasource_id: d.datasource_id.unwrap_or_default(),
            prefix: d.prefix.unwrap_or_default(),
            format: d
                .format
                .as_deref()
                .map(ExportFormat::from)
                .unwrap_or_default(),
        }
    }

    pub(crate) fn to_gen(&self) -> gen::C1ApiSystemlogV1ExportToDatasource {
        gen::C1ApiSystemlogV1ExportToDatasource {
            datasource_id: Some(self.datasource_id.clone()),
            prefix: (!self.prefix.is_empty()).then(|| self.prefix.clone()),
            format: (self.format != ExportFormat::Unspecified).then(|| self.format.to_string()),
        }
    }
}

/// A system log exporter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Exporter {
    /// The exporter id.
    pub export_id: String,
    /// Its display name.
    pub display_name: String,
    /// Its state; values newer than this crate decode as `Unknown`.
    pub state: ExportState,
    /// Where it delivers.
    pub datasource: Option<Datasource>,
    /// The uid of the last event it has delivered (empty: none yet).
    pub watermark_event_id: String,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Last update.
    pub updated_at: Option<DateTime<Utc>>,
    /// Deletion time, for a deleted exporter.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Exporter {
    pub(crate) fn from_gen(e: gen::C1ApiSystemlogV1Exporter) -> Self {
        Exporter {
            export_id: e.export_id.unwrap_or_default(),
            display_name: e.display_name.unwrap_or_default(),
            state: e
                .state
                .as_deref()
                .map(ExportState::from)
                .unwrap_or_default(),
            datasource: e.datasource.map(Datasource::from_gen),
            watermark_event_id: e.watermark_event_id.unwrap_or_default(),
            created_at: e.created_at,
            updated_at: e.updated_at,
            deleted_at: e.deleted_at,
        }
    }
}

/// The page sizes C1 accepts.
pub const PAGE_SIZES: std::ops::RangeInclusive<u32> = 10..=100;

pub(crate) fn check_id(field: &str, id: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(Error::invalid_input(field, "must not be empty"));
    }
    // Ids go into URL paths, where `.` and `..` are resolved away: an
    // exporter id `..` would turn its events URL into the system log's.
    if id.len() > 256 || id.chars().any(char::is_control) || id == "." || id == ".." {
        return Err(Error::invalid_input(field, "is not a plausible C1 id"));
    }
    Ok(())
}

/// An unknown format is sent only in wire form (`EXPORT_FORMAT_…`), so a
/// value newer than this crate still works, while a typo such as
/// `parquet` is refused here instead of by the server.
fn check_format(field: &str, format: &ExportFormat) -> Result<()> {
    match format {
        ExportFormat::Unknown(v)
            if !v.strip_prefix("EXPORT_FORMAT_").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            }) =>
        {
            Err(Error::invalid_input(
                field,
                format!(
                    "unknown format `{v}`; expected one of {}",
                    ExportFormat::KNOWN.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn check_datasource(d: &Datasource) -> Result<()> {
    check_id("datasource.datasourceId", &d.datasource_id)?;
    check_format("datasource.format", &d.format)
}

/// The input of [`Client::create_exporter`](super::Client::create_exporter).
///
/// ```
/// use logexport::conductorone::{Datasource, ExportFormat, NewExporter};
///
/// let new = NewExporter::new("SIEM feed")
///     .datasource(Datasource::new("ds-1").with_prefix("c1/").with_format(ExportFormat::OcsfJsonGzip));
/// assert_eq!(new.display_name, "SIEM feed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewExporter {
    /// The display name (required).
    pub display_name: String,
    /// Where to deliver.
    pub datasource: Option<Datasource>,
}

impl NewExporter {
    /// An exporter named `display_name`.
    pub fn new(display_name: impl Into<String>) -> Self {
        NewExporter {
            display_name: display_name.into(),
            datasource: None,
        }
    }

    /// Sets where it delivers.
    pub fn datasource(mut self, datasource: Datasource) -> Self {
        self.datasource = Some(datasource);
        self
    }

    pub(crate) fn to_gen(&self) -> Result<gen::C1ApiSystemlogV1ExportServiceCreateRequest> {
        if self.display_name.trim().is_empty() {
            return Err(Error::invalid_input("displayName", "must not be empty"));
        }
        if let Some(d) = &self.datasource {
            check_datasource(d)?;
        }
        Ok(gen::C1ApiSystemlogV1ExportServiceCreateRequest {
            display_name: Some(self.display_name.clone()),
            datasource: self.datasource.as_ref().map(Datasource::to_gen),
        })
    }
}

/// A change to an exporter. Each setter records its field in the update
/// mask, so only the fields you set are changed on the server.
///
/// ```
/// use logexport::conductorone::{ExportFormat, ExporterUpdate};
///
/// let update = ExporterUpdate::new().display_name("renamed").format(ExportFormat::OcsfJsonZstd);
/// assert_eq!(update.update_mask(), "displayName,datasource.format");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExporterUpdate {
    display_name: Option<String>,
    datasource: Datasource,
    paths: Vec<&'static str>,
}

impl ExporterUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        ExporterUpdate::default()
    }

    fn record(&mut self, path: &'static str) {
        // Setting the whole datasource subsumes its fields, and vice versa a
        // field after the whole is already covered.
        if self.paths.contains(&"datasource") && path.starts_with("datasource.") {
            return;
        }
        if path == "datasource" {
            self.paths.retain(|p| !p.starts_with("datasource."));
        }
        if !self.paths.contains(&path) {
            self.paths.push(path);
        }
    }

    /// Changes the display name (`displayName`).
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self.record("displayName");
        self
    }

    /// Replaces the whole datasource (`datasource`).
    pub fn datasource(mut self, datasource: Datasource) -> Self {
        self.datasource = datasource;
        self.record("datasource");
        self
    }

    /// Changes the datasource id (`datasource.datasourceId`).
    pub fn datasource_id(mut self, id: impl Into<String>) -> Self {
        self.datasource.datasource_id = id.into();
        self.record("datasource.datasourceId");
        self
    }

    /// Changes the key prefix (`datasource.prefix`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.datasource.prefix = prefix.into();
        self.record("datasource.prefix");
        self
    }

    /// Changes the format (`datasource.format`).
    pub fn format(mut self, format: ExportFormat) -> Self {
        self.datasource.format = format;
        self.record("datasource.format");
        self
    }

    /// The field mask, comma-separated, in the order fields were set.
    pub fn update_mask(&self) -> String {
        self.paths.join(",")
    }

    /// The field mask as paths (`displayName`, `datasource.prefix`, …).
    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    /// Whether no field was set.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub(crate) fn to_gen(&self) -> Result<gen::C1ApiSystemlogV1ExportServiceUpdateRequestInput> {
        if self.is_empty() {
            return Err(Error::invalid_input("update", "no field was changed"));
        }
        if let Some(n) = &self.display_name {
            if n.trim().is_empty() {
                return Err(Error::invalid_input("displayName", "must not be empty"));
            }
        }
        // Whether the update sets datasource field `path`, alone or with
        // the whole datasource.
        let sets = |path: &str| self.paths.iter().any(|p| *p == "datasource" || *p == path);
        if sets("datasource.datasourceId") {
            check_id("datasource.datasourceId", &self.datasource.datasource_id)?;
        }
        if sets("datasource.format") {
            check_format("datasource.format", &self.datasource.format)?;
        }
        let has_ds = self.paths.iter().any(|p| p.starts_with("datasource"));
        let ds = &self.datasource;
        let datasource = has_ds.then(|| gen::C1ApiSystemlogV1ExportToDatasource {
            datasource_id: sets("datasource.datasourceId").then(|| ds.datasource_id.clone()),
            prefix: sets("datasource.prefix").then(|| ds.prefix.clone()),
            format: sets("datasource.format").then(|| ds.format.to_string()),
        });
        Ok(gen::C1ApiSystemlogV1ExportServiceUpdateRequestInput {
            exporter: Some(gen::C1ApiSystemlogV1Exporter {
                display_name: self.display_name.clone(),
                datasource,
                ..Default::default()
            }),
            update_mask: Some(self.update_mask()),
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The token for the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

impl Page<Exporter> {
    /// A page of exporters from the generated `list` and `nextPageToken`.
    pub(crate) fn of_exporters(
        list: Option<Vec<gen::C1ApiSystemlogV1Exporter>>,
        next_page_token: Option<String>,
    ) -> Self {
        Page {
            items: list
                .unwrap_or_default()
                .into_iter()
                .map(Exporter::from_gen)
                .collect(),
            next_page_token: next_token(next_page_token),
        }
    }
}

/// `nextPageToken` with "" meaning "no more pages".
pub(crate) fn next_token(t: Option<String>) -> Option<String> {
    t.filter(|t| !t.is_empty())
}

/// How many empty pages in a row, each with a fresh token, we accept before
/// calling the listing broken. Filtered listings may legitimately return a
/// few empty pages; hundreds mean a server that will never finish.
const MAX_EMPTY_PAGES: u32 = 100;

/// Decides, page by page, whether a listing goes on. A faulty server can
/// keep a token-paged listing alive forever in two ways: by handing back a
/// token it already gave (a cycle, which need not be the previous token),
/// or by producing empty pages without end. Both end the listing with a
/// `Decode` error instead of looping or yielding duplicates.
#[derive(Debug, Default)]
pub(crate) struct PageCursor {
    /// Hashes of every token seen: bounded memory on very long listings; a
    /// 64-bit collision over even millions of pages is negligible.
    seen: std::collections::HashSet<u64>,
    empty_run: u32,
}

impl PageCursor {
    /// The token for the page after one of `items` items that pointed to
    /// `next`; `None` when the listing is complete.
    pub(crate) fn advance(&mut self, items: usize, next: Option<&str>) -> Result<Option<String>> {
        use std::hash::{Hash as _, Hasher as _};
        let Some(next) = next else {
            return Ok(None);
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        next.hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return Err(
                Error::decode("server returned a page token it had already returned")
                    .with_vendor(crate::Vendor::ConductorOne),
            );
        }
        self.empty_run = if items == 0 { self.empty_run + 1 } else { 0 };
        if self.empty_run >= MAX_EMPTY_PAGES {
            return Err(Error::decode(format!(
                "server returned {MAX_EMPTY_PAGES} empty pages in a row without finishing"
            ))
            .with_vendor(crate::Vendor::ConductorOne));
        }
        Ok(Some(next.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known values of each open enum, read from the committed spec, so
    /// a spec refresh that adds a value fails here until the enum learns it.
    fn spec_open_enum(property: &str) -> Vec<String> {
        let spec = include_str!("../../specs/conductorone.yaml");
        let lines: Vec<&str> = spec.lines().collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() != format!("{property}:") {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let mut j = i + 1;
            while j < lines.len() && lines[j].len() - lines[j].trim_start().len() > indent {
                if lines[j].trim() == "x-logexport-open-enum:" {
                    let mut k = j + 1;
                    while k < lines.len() && lines[k].trim_start().starts_with("- ") {
                        out.push(lines[k].trim_start()[2..].trim().to_string());
                        k += 1;
                    }
                }
                j += 1;
            }
        }
        out.dedup();
        out
    }

    #[test]
    fn enums_match_the_spec() {
        assert_eq!(spec_open_enum("state"), ExportState::KNOWN);
        assert_eq!(spec_open_enum("format"), ExportFormat::KNOWN);
        assert_eq!(spec_open_enum("sortDirection"), SortDirection::KNOWN);
        for v in ExportState::KNOWN {
            let parsed = ExportState::from(*v);
            assert!(!parsed.is_unknown());
            assert_eq!(parsed.to_string(), *v);
        }
    }

    #[test]
    fn unknown_values_decode_and_round_trip() {
        let e: ExportState = serde_json::from_str(r#""EXPORT_STATE_PAUSED""#).unwrap();
        assert_eq!(e, ExportState::Unknown("EXPORT_STATE_PAUSED".into()));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#""EXPORT_STATE_PAUSED""#
        );
        assert_eq!(
            "exporting".parse::<ExportState>().unwrap(),
            ExportState::Exporting
        );
        assert_eq!(
            "ocsf_json_gzip".parse::<ExportFormat>().unwrap(),
            ExportFormat::OcsfJsonGzip
        );
        assert_eq!(
            ExportFormat::from("EXPORT_FORMAT_PARQUET").to_string(),
            "EXPORT_FORMAT_PARQUET"
        );
    }

    #[test]
    fn update_masks_follow_the_setters() {
        let u = ExporterUpdate::new()
            .prefix("p/")
            .display_name("n")
            .prefix("q/");
        assert_eq!(u.update_mask(), "datasource.prefix,displayName");
        let body = serde_json::to_value(u.to_gen().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"exporter": {"displayName": "n", "datasource": {"prefix": "q/"}}, "updateMask": "datasource.prefix,displayName"})
        );
        let u = ExporterUpdate::new()
            .format(ExportFormat::OcsfJsonZstd)
            .datasource(Datasource::new("ds"));
        assert_eq!(u.update_mask(), "datasource");
        assert_eq!(
            ExporterUpdate::new().to_gen().unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
        assert_eq!(
            ExporterUpdate::new()
                .datasource_id(" ")
                .to_gen()
                .unwrap_err()
                .kind(),
            crate::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn page_cursor_stops_cycles_and_endless_empty_pages() {
        let mut c = PageCursor::default();
        assert_eq!(c.advance(10, Some("a")).unwrap().as_deref(), Some("a"));
        assert_eq!(c.advance(10, Some("b")).unwrap().as_deref(), Some("b"));
        assert_eq!(c.advance(3, None).unwrap(), None);
        // A → B → A is a cycle even though no token repeats back to back.
        let mut c = PageCursor::default();
        c.advance(10, Some("a")).unwrap();
        c.advance(10, Some("b")).unwrap();
        let e = c.advance(10, Some("a")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Decode);
        // Empty pages with fresh tokens: a few are fine, endless ones are not.
        let mut c = PageCursor::default();
        for i in 0..MAX_EMPTY_PAGES - 1 {
            c.advance(0, Some(&format!("t{i}"))).unwrap();
        }
        c.advance(1, Some("data")).unwrap();
        for i in 0..MAX_EMPTY_PAGES - 1 {
            c.advance(0, Some(&format!("u{i}"))).unwrap();
        }
        let e = c.advance(0, Some("last straw")).unwrap_err();
        assert!(e.to_string().contains("empty pages"), "{e}");
    }

    #[test]
    fn ids_and_formats_are_checked_before_sending() {
        for bad in ["", " ", ".", "..", "a\nb"] {
            assert_eq!(
                check_id("export_id", bad).unwrap_err().kind(),
                crate::ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
        check_id("export_id", "2ZxTkq3fGq8b1yQe6o1mB0cW9a1").unwrap();
        check_id("export_id", "a/b").unwrap(); // encoded as %2F, not a path step
        let typo = NewExporter::new("n")
            .datasource(Datasource::new("ds").with_format(ExportFormat::from("parquet")));
        let e = typo.to_gen().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("parquet"), "{e}");
        let newer = ExporterUpdate::new().format(ExportFormat::from("EXPORT_FORMAT_PARQUET"));
        assert_eq!(
            serde_json::to_value(newer.to_gen().unwrap()).unwrap()["exporter"]["datasource"]
                ["format"],
            "EXPORT_FORMAT_PARQUET"
        );
        let typo = ExporterUpdate::new().format(ExportFormat::from("parquet"));
        assert_eq!(
            typo.to_gen().unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
    }
}
