//! Read-only access to the logins the vendors' own CLIs have saved, so an
//! existing `tccli configure`, `atlas config init` or `cone login` works as
//! it is.
//!
//! Each tool module reads its tool's files in exactly the format the tool
//! writes, and has a `resolve` function that applies logexport's precedence:
//! **environment variables win over a profile**. When any of a vendor's
//! credential variables is set, the profile is not consulted for
//! credentials at all, so half a pair in the environment is an error rather
//! than a silent mix of two logins. Every resolved value carries a
//! [`Source`] saying where it came from (variable names, or tool, profile
//! and file), never the value itself, for `-v` and `--json` summaries.
//!
//! The readers do blocking file I/O: call them before starting the async
//! runtime, or from `spawn_blocking`.

// The shared reading helpers below serve the tool modules, which exist
// only with their vendor's feature: each is built only with a vendor on.

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
use crate::{Error, Result, Vendor};
use std::fmt;
#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
use std::path::Path;
use std::path::PathBuf;

#[cfg(feature = "atlas")]
pub mod atlascli;
#[cfg(feature = "conductorone")]
pub mod cone;
#[cfg(feature = "tencent-cls")]
pub mod tccli;

/// The name every tool uses when no profile is selected.
pub const DEFAULT_PROFILE: &str = "default";

/// A CLI whose saved profiles logexport can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Tool {
    /// Tencent Cloud's `tccli`.
    Tccli,
    /// MongoDB's `atlas` CLI.
    Atlascli,
    /// ConductorOne's `cone`.
    Cone,
}

impl Tool {
    /// The tool's command name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Tccli => "tccli",
            Tool::Atlascli => "atlas",
            Tool::Cone => "cone",
        }
    }

    #[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
    fn vendor(self) -> Vendor {
        match self {
            Tool::Tccli => Vendor::TencentCls,
            Tool::Atlascli => Vendor::Atlas,
            Tool::Cone => Vendor::ConductorOne,
        }
    }
}

/// Where a value came from. Shows names and paths, never values.
///
/// ```
/// use logexport::profile::Source;
///
/// let s = Source::Env { variables: vec!["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"] };
/// assert_eq!(s.to_string(), "environment (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Source {
    /// Environment variables, by name.
    Env {
        /// The variables the value was read from.
        variables: Vec<&'static str>,
    },
    /// A profile saved by a vendor CLI.
    Profile {
        /// The tool that wrote it.
        tool: Tool,
        /// The profile's name.
        name: String,
        /// The file it was read from.
        path: PathBuf,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env { variables } => write!(f, "environment ({})", variables.join(", ")),
            Source::Profile { tool, name, path } => {
                write!(f, "{} profile `{name}` ({})", tool.name(), path.display())
            }
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
impl<T> Sourced<T> {
    pub(crate) fn env(value: T, variables: Vec<&'static str>) -> Self {
        Sourced {
            value,
            source: Source::Env { variables },
        }
    }

    /// A value read from `tool`'s profile `name` in the file `path`.
    pub(crate) fn profile(value: T, tool: Tool, name: &str, path: &Path) -> Self {
        Sourced {
            value,
            source: Source::Profile {
                tool,
                name: name.to_string(),
                path: path.to_path_buf(),
            },
        }
    }
}

// Profile values follow the environment's rule: trimmed, blank is unset.
#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
pub(crate) use crate::env::{trimmed, var};

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
/// The home directory (`HOME`, or `USERPROFILE` on Windows).
pub(crate) fn home(lookup: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    var(lookup, "HOME")
        .or_else(|| var(lookup, "USERPROFILE").filter(|_| cfg!(windows)))
        .map(PathBuf::from)
}

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
/// The profile to read: the caller's choice, else the tool's own selector
/// variable, else [`DEFAULT_PROFILE`]. A name is also a file name for
/// tccli, so anything that could leave the directory is refused.
pub(crate) fn profile_name(
    tool: Tool,
    explicit: Option<&str>,
    selector: Option<String>,
) -> Result<String> {
    let name = explicit
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or(selector)
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let ok = name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        && !name.starts_with('.');
    if !ok {
        return Err(Error::invalid_input(
            "profile",
            "a profile name has only letters, digits, `-`, `_`, `.` and `@`, and does not start with `.`",
        )
        .with_vendor(tool.vendor()));
    }
    Ok(name)
}

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
/// Reads a profile file, `None` if it does not exist. Files are small; a
/// size cap keeps a wrong path (a device, a huge log) from being slurped.
pub(crate) fn read_optional(tool: Tool, path: &Path) -> Result<Option<String>> {
    const MAX: u64 = 1 << 20;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::from(e)
                .with_vendor(tool.vendor())
                .with_operation(format!("read {}", path.display())))
        }
    };
    let mut text = String::new();
    use std::io::Read as _;
    let read = file.take(MAX + 1).read_to_string(&mut text).map_err(|e| {
        // Not the io message: for invalid UTF-8 it is harmless, but keep
        // one wording for every unreadable file.
        Error::credentials(format!(
            "{} is not a readable text file ({:?})",
            path.display(),
            e.kind()
        ))
        .with_vendor(tool.vendor())
    })?;
    if read as u64 > MAX {
        return Err(Error::credentials(format!(
            "{} is larger than 1 MiB; it is not a {} profile file",
            path.display(),
            tool.name()
        ))
        .with_vendor(tool.vendor()));
    }
    Ok(Some(text))
}

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
/// A parse error that names the file and line, never the parser's message:
/// parsers quote the offending line, and that line may hold a secret.
pub(crate) fn parse_error(tool: Tool, path: &Path, format: &str, line: Option<usize>) -> Error {
    let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
    Error::credentials(format!(
        "{} is not valid {format}{at}; fix or remove it (`{}` wrote it)",
        path.display(),
        tool.name()
    ))
    .with_vendor(tool.vendor())
}

/// The 1-based line of a byte offset (TOML errors give offsets).
#[cfg(feature = "atlas")]
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(all(
    test,
    any(feature = "atlas", feature = "conductorone", feature = "tencent-cls")
))]
mod tests {
    use super::*;

    #[test]
    fn profile_names_cannot_escape_the_directory() {
        for bad in ["../x", "a/b", "a\\b", ".hidden", "a b", "x\0"] {
            assert!(profile_name(Tool::Tccli, Some(bad), None).is_err(), "{bad}");
        }
        assert_eq!(
            profile_name(Tool::Tccli, None, Some("prod".into())).unwrap(),
            "prod"
        );
        assert_eq!(
            profile_name(Tool::Tccli, Some("dev"), Some("prod".into())).unwrap(),
            "dev"
        );
        assert_eq!(profile_name(Tool::Cone, None, None).unwrap(), "default");
    }

    #[cfg(feature = "atlas")]
    #[test]
    fn lines_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
