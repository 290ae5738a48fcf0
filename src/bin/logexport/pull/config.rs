//! `pull --config FILE`: the TOML file, checked into a typed [`Config`].
//! Every problem is reported at once, each with its line number, before
//! any request is sent.

use crate::clients::Credentials;
use crate::Failure;
use chrono::Duration;
use logexport::atlas::LogName;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Most sources run at once unless `concurrency` says otherwise.
const DEFAULT_CONCURRENCY: usize = 4;
/// Time between cycles with `--follow` unless `interval` says otherwise.
const DEFAULT_INTERVAL: &str = "5m";
/// Window length of windowed sources unless `step` says otherwise.
const DEFAULT_STEP: &str = "1h";
/// How long after a window ends the vendor is trusted to have its logs:
/// host logs and CLS indexing both run minutes behind.
const DEFAULT_LAG: &str = "5m";
/// Where a first run starts unless `start` says otherwise.
const DEFAULT_START: &str = "24h";

/// The whole file.
#[derive(Debug, Clone)]
pub struct Config {
    /// One sub-directory per source holds its checkpoint and lock.
    pub state_dir: PathBuf,
    /// Most sources pulled at once.
    pub concurrency: usize,
    /// `--follow`'s time between cycles (the flag wins).
    pub interval: std::time::Duration,
    /// The sources, in file order.
    pub sources: Vec<Source>,
}

/// One source: what to pull, with which credentials, to where.
#[derive(Debug, Clone)]
pub struct Source {
    /// Unique; names the state sub-directory and `{source}`.
    pub name: String,
    /// What to pull.
    pub what: What,
    /// Where its credentials come from.
    pub credentials: Credentials,
    /// Overrides the vendor base URL.
    pub endpoint: Option<String>,
    /// Where the first run starts (RFC 3339, unix seconds, or relative).
    pub start: String,
    /// Where pulling stops for good (a closed backfill); default: never.
    pub end: Option<String>,
    /// Window length (windowed sources).
    pub step: Duration,
    /// A window closes only this long after it ends.
    pub lag: Duration,
    /// Where its records go.
    pub sink: SinkSpec,
    /// Its `[[source]]` line, for messages.
    pub line: usize,
}

/// What a source pulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// ConductorOne system log events, or one exporter's.
    C1Events {
        /// Only this exporter's events.
        exporter: Option<String>,
    },
    /// Atlas stream processing audit logs of these workspaces (`None`: all
    /// of the project's, discovered each window).
    AtlasStreamAudit {
        /// Default: the credentials' project.
        project: Option<String>,
        /// `None`: discovered.
        workspaces: Option<Vec<String>>,
    },
    /// Atlas cluster host logs of these hosts (`None`: every process of the
    /// project, discovered each window).
    AtlasHostLogs {
        /// Default: the credentials' project.
        project: Option<String>,
        /// `None`: discovered.
        hosts: Option<Vec<String>>,
        /// Which log.
        log: LogName,
    },
    /// Atlas project (or, with `org`, organization) events.
    AtlasEvents {
        /// Default: the credentials' project.
        project: Option<String>,
        /// Organization events instead.
        org: Option<String>,
    },
    /// A CLS topic exported with a query, one CreateExport task per window.
    ClsExport {
        /// Default: the credentials' or profile's.
        region: Option<String>,
        /// Topic id.
        topic: String,
        /// Search statement.
        query: String,
    },
}

impl What {
    /// The vendor's name, as in the file.
    pub fn vendor(&self) -> &'static str {
        match self {
            What::C1Events { .. } => "c1",
            What::ClsExport { .. } => "cls",
            _ => "atlas",
        }
    }

    /// What a checkpoint must match to be resumed: the same stream.
    pub fn stream(&self) -> String {
        match self {
            What::C1Events { exporter } => {
                format!("c1 events {}", exporter.as_deref().unwrap_or("system-log"))
            }
            What::AtlasStreamAudit {
                project,
                workspaces,
            } => format!(
                "atlas stream-audit-logs {} {}",
                project.as_deref().unwrap_or("-"),
                workspaces.as_ref().map_or("*".into(), |w| w.join(","))
            ),
            What::AtlasHostLogs {
                project,
                hosts,
                log,
            } => format!(
                "atlas cluster-logs {} {} {}",
                project.as_deref().unwrap_or("-"),
                hosts.as_ref().map_or("*".into(), |h| h.join(",")),
                log.as_str()
            ),
            What::AtlasEvents { project, org } => format!(
                "atlas events {} {}",
                project.as_deref().unwrap_or("-"),
                org.as_deref().unwrap_or("-")
            ),
            What::ClsExport { topic, query, .. } => format!("cls export {topic} {query}"),
        }
    }
}

/// Where a source's records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// Standard output, each record as `{"source": …, "record": …}`.
    Stdout,
    /// Files named by a template, rotated.
    Files {
        /// The template, relative paths already resolved against the
        /// config file's directory.
        template: String,
        /// Start a new file before one would grow past this many record
        /// bytes (before compression).
        max_bytes: Option<u64>,
        /// Start a new file at each multiple of this many seconds (UTC);
        /// by default the template's finest time field (`{hour}`, `{date}`).
        every: Option<i64>,
        /// gzip, one member per flush.
        gzip: bool,
    },
}

/// One problem and where it is.
struct Problem {
    line: usize,
    message: String,
}

/// Keys that say what a source pulls; each applies to some kinds only.
const WHAT_KEYS: &[&str] = &[
    "project",
    "org",
    "workspaces",
    "hosts",
    "log",
    "exporter",
    "region",
    "topic",
    "query",
];

/// The other keys a `[[source]]` table may hold.
const COMMON_KEYS: &[&str] = &[
    "name",
    "vendor",
    "kind",
    "start",
    "end",
    "step",
    "lag",
    "endpoint",
    "profile",
    "env",
    "output",
    "rotate_bytes",
    "rotate_every",
    "gzip",
];

/// Top-level keys.
const TOP_KEYS: &[&str] = &["state_dir", "concurrency", "interval", "source"];

type Table = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The `[[source]]` array, each table with its span.
#[derive(serde::Deserialize)]
struct Sources {
    #[serde(default)]
    source: Vec<Spanned<Table>>,
}

/// Reads and checks `path`.
pub fn load(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    // Absolute, so checkpoints name files that a run from another
    // directory finds too.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base = absolute.parent().unwrap_or(Path::new("/"));
    parse(&text, base).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}: {}", path.display(), p.line, p.message))
            .collect();
        Failure::usage(format!(
            "{} problem(s) in the config:\n{}",
            lines.len(),
            lines.join("\n")
        ))
    })
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Parses `text`; relative paths are resolved against `base`.
fn parse(text: &str, base: &Path) -> Result<Config, Vec<Problem>> {
    let syntax = |e: toml::de::Error| {
        vec![Problem {
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        }]
    };
    let top: Table = toml::from_str(text).map_err(syntax)?;
    let sources: Sources = toml::from_str(text).map_err(syntax)?;
    let mut problems = Vec::new();
    let mut p = |span: std::ops::Range<usize>, message: String| {
        problems.push(Problem {
            line: line_of(text, span.start),
            message,
        })
    };
    for key in top.keys() {
        if !TOP_KEYS.contains(&key.get_ref().as_str()) {
            p(key.span(), format!("unknown key `{}`", key.get_ref()));
        }
    }
    let get = |k: &str| {
        top.iter()
            .find(|(key, _)| key.get_ref() == k)
            .map(|(_, v)| v)
    };
    let state_dir = match get("state_dir").map(|v| (v.span(), v.get_ref())) {
        Some((_, toml::Value::String(s))) if !s.is_empty() => Some(base.join(s)),
        Some((span, _)) => {
            p(span, "`state_dir` must be a non-empty path".into());
            None
        }
        None => {
            p(0..0, "missing `state_dir` (where checkpoints live)".into());
            None
        }
    };
    let concurrency = match get("concurrency").map(|v| (v.span(), v.get_ref())) {
        None => DEFAULT_CONCURRENCY,
        Some((_, toml::Value::Integer(n))) if (1..=64).contains(n) => *n as usize,
        Some((span, _)) => {
            p(span, "`concurrency` must be an integer from 1 to 64".into());
            DEFAULT_CONCURRENCY
        }
    };
    let interval = match get("interval").map(|v| (v.span(), v.get_ref())) {
        None => span_of(DEFAULT_INTERVAL),
        Some((span, toml::Value::String(s))) => span_of(s).or_else(|| {
            p(span, format!("`interval`: `{s}` is not a duration like 5m"));
            None
        }),
        Some((span, _)) => {
            p(span, "`interval` must be a string like \"5m\"".into());
            None
        }
    }
    .and_then(|d| d.to_std().ok())
    .unwrap_or(std::time::Duration::from_secs(300));

    if sources.source.is_empty() {
        p(0..0, "no `[[source]]` tables".into());
    }
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for table in &sources.source {
        let line = line_of(text, table.span().start);
        let mut local = Vec::new();
        let source = parse_source(table.get_ref(), base, line, &mut local);
        for (span, message) in local {
            p(span, message);
        }
        if let Some(source) = source {
            if let Some(first) = seen.insert(source.name.clone(), line) {
                p(
                    table.span(),
                    format!(
                        "source name `{}` is already used on line {first}",
                        source.name
                    ),
                );
            }
            out.push(source);
        }
    }
    // Two sources appending to one file would corrupt each other's
    // exactly-once bookkeeping.
    let mut templates: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &out {
        if let SinkSpec::Files { template, .. } = &s.sink {
            if let Some(other) = templates.insert(template, &s.name) {
                if !template.contains("{source}") {
                    problems.push(Problem {
                        line: s.line,
                        message: format!(
                            "source `{}` writes to the same files as `{other}`; put {{source}} in `output`",
                            s.name
                        ),
                    });
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    }
    Ok(Config {
        state_dir: state_dir.expect("checked"),
        concurrency,
        interval,
        sources: out,
    })
}

fn span_of(s: &str) -> Option<Duration> {
    if s.trim().trim_end_matches(['s', 'm', 'h', 'd', 'w']) == "0" {
        return Some(Duration::zero());
    }
    crate::time::parse_duration(s).ok()
}

type Range = std::ops::Range<usize>;

/// One `[[source]]`; problems go to `problems` with their spans.
fn parse_source(
    table: &Table,
    base: &Path,
    line: usize,
    problems: &mut Vec<(Range, String)>,
) -> Option<Source> {
    // Messages about a missing key point at the table's first key.
    let at = table
        .keys()
        .map(|k| k.span())
        .min_by_key(|s| s.start)
        .unwrap_or(0..0);
    let name_hint = table
        .iter()
        .find(|(k, _)| k.get_ref() == "name")
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string));
    let who = name_hint
        .as_deref()
        .map_or(format!("source on line {line}"), |n| {
            format!("source `{n}`")
        });
    let mut err = |span: Range, m: String| problems.push((span, format!("{who}: {m}")));
    for key in table.keys() {
        let k = key.get_ref().as_str();
        if !COMMON_KEYS.contains(&k) && !WHAT_KEYS.contains(&k) {
            err(key.span(), format!("unknown key `{}`", key.get_ref()));
        }
    }
    let value = |k: &str| {
        table
            .iter()
            .find(|(key, _)| key.get_ref() == k)
            .map(|(_, v)| v)
    };
    let string = |k: &str, err: &mut dyn FnMut(Range, String)| -> Option<String> {
        match value(k) {
            None => None,
            Some(v) => match v.get_ref() {
                toml::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                _ => {
                    err(v.span(), format!("`{k}` must be a non-empty string"));
                    None
                }
            },
        }
    };
    let mut failed = false;
    let mut e = |span: Range, m: String| {
        failed = true;
        err(span, m)
    };
    let name = string("name", &mut e);
    match &name {
        None if value("name").is_none() => e(at.clone(), "missing `name`".into()),
        Some(n)
            if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                || n.starts_with('.') =>
        {
            e(
                value("name").expect("present").span(),
                format!("name `{n}` may hold only letters, digits, '-', '_' and '.' (it names a directory)"),
            )
        }
        _ => {}
    }
    let vendor = string("vendor", &mut e);
    let kind = string("kind", &mut e);
    let list = |k: &str, e: &mut dyn FnMut(Range, String)| -> Option<Vec<String>> {
        let v = value(k)?;
        match v.get_ref() {
            toml::Value::Array(items) if !items.is_empty() => {
                let names: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                    .collect();
                if names.is_none() {
                    e(v.span(), format!("`{k}` must be a list of names"));
                }
                names
            }
            _ => {
                e(
                    v.span(),
                    format!(
                        "`{k}` must be a non-empty list of names (leave it out to discover them)"
                    ),
                );
                None
            }
        }
    };
    let project = string("project", &mut e);
    let org = string("org", &mut e);
    let vendor_span = value("vendor").map_or(at.clone(), |v| v.span());
    let kind_span = value("kind").map_or(vendor_span.clone(), |v| v.span());
    // Keys that mean something only for some kinds.
    let mut allowed: &[&str] = &[];
    let what = match (vendor.as_deref(), kind.as_deref()) {
        (None, _) => {
            if value("vendor").is_none() {
                e(at.clone(), "missing `vendor` (atlas, cls or c1)".into());
            }
            None
        }
        (Some("c1"), None | Some("events")) => {
            allowed = &["exporter"];
            Some(What::C1Events {
                exporter: string("exporter", &mut e),
            })
        }
        (Some("cls"), None | Some("export")) => {
            allowed = &["region", "topic", "query"];
            let topic = string("topic", &mut e);
            if value("topic").is_none() {
                e(at.clone(), "missing `topic`".into());
            }
            let query = string("query", &mut e).unwrap_or_else(|| "*".into());
            topic.map(|topic| What::ClsExport {
                region: string("region", &mut e),
                topic,
                query,
            })
        }
        (Some("atlas"), Some("stream-audit-logs")) => {
            allowed = &["project", "workspaces"];
            Some(What::AtlasStreamAudit {
                project: project.clone(),
                workspaces: list("workspaces", &mut e),
            })
        }
        (Some("atlas"), Some("cluster-logs")) => {
            allowed = &["project", "hosts", "log"];
            let log = match string("log", &mut e).as_deref() {
                None => LogName::MongodbAuditLog,
                Some("mongodb" | "mongodb.gz") => LogName::Mongodb,
                Some("mongos" | "mongos.gz") => LogName::Mongos,
                Some("mongodb-audit-log" | "mongodb-audit-log.gz") => LogName::MongodbAuditLog,
                Some("mongos-audit-log" | "mongos-audit-log.gz") => LogName::MongosAuditLog,
                Some(other) => {
                    e(
                        value("log").expect("present").span(),
                        format!("`log` `{other}` is not one of mongodb, mongos, mongodb-audit-log, mongos-audit-log"),
                    );
                    LogName::MongodbAuditLog
                }
            };
            Some(What::AtlasHostLogs {
                project: project.clone(),
                hosts: list("hosts", &mut e),
                log,
            })
        }
        (Some("atlas"), Some("events")) => {
            allowed = &["project", "org"];
            if project.is_some() && org.is_some() {
                e(
                    kind_span.clone(),
                    "give `project` or `org`, not both".into(),
                );
            }
            Some(What::AtlasEvents {
                project: project.clone(),
                org: org.clone(),
            })
        }
        (Some("atlas"), None) => {
            e(
                vendor_span.clone(),
                "missing `kind` (stream-audit-logs, cluster-logs or events)".into(),
            );
            None
        }
        (Some("atlas" | "cls" | "c1"), Some(k)) => {
            e(kind_span.clone(), format!("`kind` `{k}` does not exist for this vendor (atlas: stream-audit-logs, cluster-logs, events; cls: export; c1: events)"));
            None
        }
        (Some(v), _) => {
            e(
                vendor_span.clone(),
                format!("`vendor` `{v}` is not atlas, cls or c1"),
            );
            None
        }
    };
    for &k in WHAT_KEYS {
        if let Some(v) = value(k) {
            if what.is_some() && !allowed.contains(&k) {
                e(
                    v.span(),
                    format!("`{k}` does not apply to this kind of source"),
                );
            }
        }
    }
    let duration = |k: &str, default: &str, zero_ok: bool, e: &mut dyn FnMut(Range, String)| {
        let (s, span) = match value(k) {
            None => (default.to_string(), at.clone()),
            Some(v) => match v.get_ref() {
                toml::Value::String(s) => (s.clone(), v.span()),
                _ => {
                    e(v.span(), format!("`{k}` must be a string like \"1h\""));
                    return Duration::zero();
                }
            },
        };
        match span_of(&s) {
            Some(d) if d > Duration::zero() || zero_ok => d,
            _ => {
                e(
                    span,
                    format!(
                        "`{k}`: `{s}` is not a duration like 5m{}",
                        if zero_ok { " or 0" } else { "" }
                    ),
                );
                Duration::zero()
            }
        }
    };
    let step = duration("step", DEFAULT_STEP, false, &mut e);
    let lag = duration("lag", DEFAULT_LAG, true, &mut e);
    let start = string("start", &mut e).unwrap_or_else(|| DEFAULT_START.into());
    if let Err(m) = crate::time::parse_time(&start, chrono::Utc::now()) {
        e(
            value("start").map_or(at.clone(), |v| v.span()),
            format!("`start`: {m}"),
        );
    }
    let end = string("end", &mut e);
    if let Some(Err(m)) = end
        .as_deref()
        .map(|t| crate::time::parse_time(t, chrono::Utc::now()))
    {
        e(
            value("end").map_or(at.clone(), |v| v.span()),
            format!("`end`: {m}"),
        );
    }
    let endpoint = string("endpoint", &mut e);
    let profile = string("profile", &mut e);
    let env = match value("env") {
        None => None,
        Some(v) => match v.get_ref() {
            toml::Value::Table(t) => {
                let mut map = BTreeMap::new();
                for (k, val) in t {
                    match val.as_str() {
                        Some(s) if !s.is_empty() => {
                            map.insert(k.clone(), s.to_string());
                        }
                        _ => e(v.span(), format!("`env.{k}` must name a variable")),
                    }
                }
                Some(map)
            }
            _ => {
                e(
                    v.span(),
                    "`env` must be a table of STANDARD_NAME = \"YOUR_VARIABLE\"".into(),
                );
                None
            }
        },
    };
    // A source that names its own profile reads no ambient login either.
    let env = env.or_else(|| profile.as_ref().map(|_| BTreeMap::new()));
    let gzip = match value("gzip") {
        None => false,
        Some(v) => v.get_ref().as_bool().unwrap_or_else(|| {
            e(v.span(), "`gzip` must be true or false".into());
            false
        }),
    };
    let max_bytes = match value("rotate_bytes") {
        None => None,
        Some(v) => match v.get_ref() {
            toml::Value::Integer(n) if *n > 0 => Some(*n as u64),
            _ => {
                e(v.span(), "`rotate_bytes` must be a positive integer".into());
                None
            }
        },
    };
    let every = value("rotate_every").map(|v| {
        let d = duration("rotate_every", "1h", false, &mut e);
        if d > Duration::zero()
            && 86_400 % d.num_seconds().max(1) != 0
            && d.num_seconds() % 86_400 != 0
        {
            e(
                v.span(),
                "`rotate_every` must divide a day (e.g. 15m, 1h, 6h) or be whole days".into(),
            );
        }
        d.num_seconds()
    });
    let sink = match string("output", &mut e) {
        None => {
            if value("output").is_none() {
                e(at.clone(), "missing `output` (a path template like \"{source}/{date}/{hour}.ndjson\", or \"-\" for stdout)".into());
            }
            None
        }
        Some(o) if o == "-" => {
            for k in ["rotate_bytes", "rotate_every", "gzip"] {
                if let Some(v) = value(k) {
                    e(v.span(), format!("`{k}` applies to files, not stdout"));
                }
            }
            Some(SinkSpec::Stdout)
        }
        Some(o) => {
            let span = value("output").expect("present").span();
            if let Some(bad) = crate::pull::sink::unknown_field(&o) {
                e(span, format!("`output`: unknown field `{{{bad}}}` (use {{source}}, {{date}}, {{hour}}, {{minute}}, {{seq}})"));
            }
            let every = every.or_else(|| crate::pull::sink::implied_every(&o));
            Some(SinkSpec::Files {
                template: base.join(o).to_string_lossy().into_owned(),
                max_bytes,
                every,
                gzip,
            })
        }
    };
    if failed {
        return None;
    }
    Some(Source {
        name: name?,
        what: what?,
        credentials: Credentials { env, profile },
        endpoint,
        start,
        end,
        step,
        lag,
        sink: sink?,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Path::new("/base")) {
            Ok(_) => Vec::new(),
            Err(p) => p
                .into_iter()
                .map(|p| format!("{}: {}", p.line, p.message))
                .collect(),
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = r#"state_dir = "state"
colour = "blue"

[[source]]
name = "a"
vendor = "c1"
output = "{source}.ndjson"
lag = "soon"

[[source]]
name = "b"
vendor = "atlas"
kind = "cluster-logs"
log = "syslog"
topic = "t"
output = "{source}/{weekday}.ndjson"

[[source]]
name = "a"
vendor = "mysql"
output = "-"
"#;
        let got = problems(text);
        assert_eq!(
            got,
            vec![
                "2: unknown key `colour`",
                "8: source `a`: `lag`: `soon` is not a duration like 5m or 0",
                "14: source `b`: `log` `syslog` is not one of mongodb, mongos, mongodb-audit-log, mongos-audit-log",
                "15: source `b`: `topic` does not apply to this kind of source",
                "16: source `b`: `output`: unknown field `{weekday}` (use {source}, {date}, {hour}, {minute}, {seq})",
                "20: source `a`: `vendor` `mysql` is not atlas, cls or c1",
            ],
            "{got:#?}"
        );
    }

    #[test]
    fn a_syntax_error_has_its_line_and_a_good_file_parses() {
        let got = problems("state_dir = \"s\"\n\n[[source]]\nname = \"x\nvendor = \"c1\"\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("4: "), "{got:?}");

        let config = parse(
            r#"state_dir = "state"
concurrency = 2
[[source]]
name = "tenant"
vendor = "c1"
env = { CONE_CLIENT_ID = "PROD_CONE_ID", CONE_CLIENT_SECRET = "PROD_CONE_SECRET" }
output = "logs/{source}/{date}/{hour}.ndjson"
rotate_bytes = 1000
gzip = true
"#,
            Path::new("/etc/logexport"),
        )
        .ok()
        .unwrap();
        assert_eq!(config.state_dir, Path::new("/etc/logexport/state"));
        assert_eq!(config.concurrency, 2);
        let s = &config.sources[0];
        assert_eq!(s.what, What::C1Events { exporter: None });
        assert_eq!(
            s.sink,
            SinkSpec::Files {
                template: "/etc/logexport/logs/{source}/{date}/{hour}.ndjson".into(),
                max_bytes: Some(1000),
                every: Some(3600),
                gzip: true
            }
        );
        assert_eq!(
            s.credentials.env.as_ref().unwrap()["CONE_CLIENT_ID"],
            "PROD_CONE_ID"
        );
    }
}
