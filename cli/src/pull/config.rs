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
    let mut f = Fields::new(&top, 0..0, String::new());
    f.unknown_keys(&[TOP_KEYS]);
    let state_dir = f.typed("state_dir", "`state_dir` must be a non-empty path", |v| {
        v.as_str().filter(|s| !s.is_empty()).map(|s| base.join(s))
    });
    if f.value("state_dir").is_none() {
        f.problem(0..0, "missing `state_dir` (where checkpoints live)");
    }
    let concurrency = f
        .typed(
            "concurrency",
            "`concurrency` must be an integer from 1 to 64",
            |v| v.as_integer().filter(|n| (1..=64).contains(n)),
        )
        .map_or(DEFAULT_CONCURRENCY, |n| n as usize);
    let interval = f
        .typed("interval", "`interval` must be a string like \"5m\"", |v| {
            v.as_str().map(str::to_string)
        })
        .map_or(span_of(DEFAULT_INTERVAL), |s| {
            span_of(&s).or_else(|| {
                let message = format!("`interval`: `{s}` is not a duration like 5m");
                f.problem(f.span("interval"), message);
                None
            })
        })
        .and_then(|d| d.to_std().ok())
        .unwrap_or(std::time::Duration::from_secs(300));

    if sources.source.is_empty() {
        f.problem(0..0, "no `[[source]]` tables");
    }
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for table in &sources.source {
        let line = line_of(text, table.span().start);
        let source = parse_source(table.get_ref(), base, line, &mut f.problems);
        if let Some(source) = source {
            if let Some(first) = seen.insert(source.name.clone(), line) {
                f.problem(
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
    let mut problems: Vec<Problem> = f
        .problems
        .into_iter()
        .map(|(span, message)| Problem {
            line: line_of(text, span.start),
            message,
        })
        .collect();
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

/// A TOML table being checked: typed getters that note each problem with
/// its span and go on, so every problem is reported at once.
struct Fields<'t> {
    table: &'t Table,
    /// Where a message about a missing key points.
    at: Range,
    /// Put before each message: "source `a`: ", or nothing at the top.
    who: String,
    problems: Vec<(Range, String)>,
}

impl<'t> Fields<'t> {
    fn new(table: &'t Table, at: Range, who: String) -> Self {
        Fields {
            table,
            at,
            who,
            problems: Vec::new(),
        }
    }

    fn value(&self, k: &str) -> Option<&'t Spanned<toml::Value>> {
        self.table
            .iter()
            .find(|(key, _)| key.get_ref() == k)
            .map(|(_, v)| v)
    }

    /// Where `k` is, else where the table starts.
    fn span(&self, k: &str) -> Range {
        self.value(k).map_or(self.at.clone(), |v| v.span())
    }

    fn problem(&mut self, span: Range, message: impl std::fmt::Display) {
        self.problems.push((span, format!("{}{message}", self.who)));
    }

    /// Notes every key that is in none of `known`.
    fn unknown_keys(&mut self, known: &[&[&str]]) {
        for key in self.table.keys() {
            let k = key.get_ref().as_str();
            if !known.iter().any(|keys| keys.contains(&k)) {
                self.problem(key.span(), format!("unknown key `{k}`"));
            }
        }
    }

    /// `k` as `convert` makes it; `None` when absent, or when `convert`
    /// refuses it, which notes `message`.
    fn typed<T>(
        &mut self,
        k: &str,
        message: impl std::fmt::Display,
        convert: impl FnOnce(&'t toml::Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.value(k)?;
        let converted = convert(v.get_ref());
        if converted.is_none() {
            self.problem(v.span(), message);
        }
        converted
    }

    fn string(&mut self, k: &str) -> Option<String> {
        let message = format!("`{k}` must be a non-empty string");
        self.typed(k, message, |v| {
            v.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
        })
    }

    /// [`string`](Self::string), noting `missing` when the key is absent.
    fn required(&mut self, k: &str, missing: &str) -> Option<String> {
        let s = self.string(k);
        if self.value(k).is_none() {
            self.problem(self.at.clone(), missing);
        }
        s
    }

    fn list(&mut self, k: &str) -> Option<Vec<String>> {
        let message =
            format!("`{k}` must be a non-empty list of names (leave it out to discover them)");
        let items = self.typed(k, message, |v| v.as_array().filter(|a| !a.is_empty()))?;
        let names = items
            .iter()
            .map(|i| i.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect();
        self.typed(k, format!("`{k}` must be a list of names"), |_| names)
    }

    /// A span like `1h`, else `default`; `0` only where `zero_ok`.
    fn duration(&mut self, k: &str, default: &str, zero_ok: bool) -> Duration {
        let s = match self.value(k) {
            None => default.to_string(),
            Some(_) => {
                let message = format!("`{k}` must be a string like \"1h\"");
                match self.typed(k, message, |v| v.as_str().map(str::to_string)) {
                    Some(s) => s,
                    None => return Duration::zero(),
                }
            }
        };
        match span_of(&s) {
            Some(d) if d > Duration::zero() || zero_ok => d,
            _ => {
                let or_zero = if zero_ok { " or 0" } else { "" };
                let message = format!("`{k}`: `{s}` is not a duration like 5m{or_zero}");
                self.problem(self.span(k), message);
                Duration::zero()
            }
        }
    }

    /// A time as `--since` takes it, else `default`.
    fn time(&mut self, k: &str, default: Option<&str>) -> Option<String> {
        let s = self.string(k).or(default.map(str::to_string))?;
        if let Err(m) = crate::time::parse_time(&s, chrono::Utc::now()) {
            self.problem(self.span(k), format!("`{k}`: {m}"));
        }
        Some(s)
    }
}

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
        .and_then(|(_, v)| v.get_ref().as_str());
    let who = name_hint.map_or(format!("source on line {line}: "), |n| {
        format!("source `{n}`: ")
    });
    let mut f = Fields::new(table, at, who);
    f.unknown_keys(&[COMMON_KEYS, WHAT_KEYS]);
    // Unknown keys alone do not keep the source from being checked
    // against the others (duplicate names, shared files).
    let checked = f.problems.len();
    let name = f.required("name", "missing `name`");
    if let Some(n) = &name {
        if !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || n.starts_with('.')
        {
            f.problem(
                f.span("name"),
                format!("name `{n}` may hold only letters, digits, '-', '_' and '.' (it names a directory)"),
            );
        }
    }
    let vendor = f.string("vendor");
    let kind = f.string("kind");
    let project = f.string("project");
    let org = f.string("org");
    let vendor_span = f.span("vendor");
    let kind_span = f.value("kind").map_or(vendor_span.clone(), |v| v.span());
    // Keys that mean something only for some kinds.
    let mut allowed: &[&str] = &[];
    let what = match (vendor.as_deref(), kind.as_deref()) {
        (None, _) => {
            if f.value("vendor").is_none() {
                f.problem(f.at.clone(), "missing `vendor` (atlas, cls or c1)");
            }
            None
        }
        (Some("c1"), None | Some("events")) => {
            allowed = &["exporter"];
            Some(What::C1Events {
                exporter: f.string("exporter"),
            })
        }
        (Some("cls"), None | Some("export")) => {
            allowed = &["region", "topic", "query"];
            let topic = f.required("topic", "missing `topic`");
            let query = f.string("query").unwrap_or_else(|| "*".into());
            topic.map(|topic| What::ClsExport {
                region: f.string("region"),
                topic,
                query,
            })
        }
        (Some("atlas"), Some("stream-audit-logs")) => {
            allowed = &["project", "workspaces"];
            Some(What::AtlasStreamAudit {
                project,
                workspaces: f.list("workspaces"),
            })
        }
        (Some("atlas"), Some("cluster-logs")) => {
            allowed = &["project", "hosts", "log"];
            // The names `--log` takes, aliases included.
            use clap::ValueEnum;
            let log = match f.string("log") {
                None => LogName::MongodbAuditLog,
                Some(s) => match crate::atlas::LogArg::from_str(&s, false) {
                    Ok(arg) => LogName::from(arg),
                    Err(_) => {
                        let names: Vec<_> = crate::atlas::LogArg::value_variants()
                            .iter()
                            .filter_map(|v| v.to_possible_value())
                            .map(|v| v.get_name().to_string())
                            .collect();
                        f.problem(
                            f.span("log"),
                            format!("`log` `{s}` is not one of {}", names.join(", ")),
                        );
                        LogName::MongodbAuditLog
                    }
                },
            };
            Some(What::AtlasHostLogs {
                project,
                hosts: f.list("hosts"),
                log,
            })
        }
        (Some("atlas"), Some("events")) => {
            allowed = &["project", "org"];
            if project.is_some() && org.is_some() {
                f.problem(kind_span, "give `project` or `org`, not both");
            }
            Some(What::AtlasEvents { project, org })
        }
        (Some("atlas"), None) => {
            f.problem(
                vendor_span,
                "missing `kind` (stream-audit-logs, cluster-logs or events)",
            );
            None
        }
        (Some("atlas" | "cls" | "c1"), Some(k)) => {
            f.problem(kind_span, format!("`kind` `{k}` does not exist for this vendor (atlas: stream-audit-logs, cluster-logs, events; cls: export; c1: events)"));
            None
        }
        (Some(v), _) => {
            f.problem(
                vendor_span,
                format!("`vendor` `{v}` is not atlas, cls or c1"),
            );
            None
        }
    };
    if what.is_some() {
        for &k in WHAT_KEYS.iter().filter(|k| !allowed.contains(k)) {
            if let Some(v) = f.value(k) {
                f.problem(
                    v.span(),
                    format!("`{k}` does not apply to this kind of source"),
                );
            }
        }
    }
    let step = f.duration("step", DEFAULT_STEP, false);
    let lag = f.duration("lag", DEFAULT_LAG, true);
    let start = f.time("start", Some(DEFAULT_START)).unwrap_or_default();
    let end = f.time("end", None);
    let endpoint = f.string("endpoint");
    let profile = f.string("profile");
    let env = match f.value("env") {
        None => None,
        Some(v) => match v.get_ref() {
            toml::Value::Table(t) => {
                let mut map = BTreeMap::new();
                for (k, val) in t {
                    match val.as_str() {
                        Some(s) if !s.is_empty() => {
                            map.insert(k.clone(), s.to_string());
                        }
                        _ => f.problem(v.span(), format!("`env.{k}` must name a variable")),
                    }
                }
                Some(map)
            }
            _ => {
                f.problem(
                    v.span(),
                    "`env` must be a table of STANDARD_NAME = \"YOUR_VARIABLE\"",
                );
                None
            }
        },
    };
    // A source that names its own profile reads no ambient login either.
    let env = env.or_else(|| profile.as_ref().map(|_| BTreeMap::new()));
    let gzip = f.typed("gzip", "`gzip` must be true or false", toml::Value::as_bool);
    let max_bytes = f.typed(
        "rotate_bytes",
        "`rotate_bytes` must be a positive integer",
        |v| v.as_integer().filter(|n| *n > 0).map(|n| n as u64),
    );
    let every = f.value("rotate_every").map(|v| {
        let d = f.duration("rotate_every", "1h", false);
        if d > Duration::zero()
            && 86_400 % d.num_seconds().max(1) != 0
            && d.num_seconds() % 86_400 != 0
        {
            f.problem(
                v.span(),
                "`rotate_every` must divide a day (e.g. 15m, 1h, 6h) or be whole days",
            );
        }
        d.num_seconds()
    });
    let sink = match f.required("output", "missing `output` (a path template like \"{source}/{date}/{hour}.ndjson\", or \"-\" for stdout)") {
        None => None,
        Some(o) if o == "-" => {
            for k in ["rotate_bytes", "rotate_every", "gzip"] {
                if let Some(v) = f.value(k) {
                    f.problem(v.span(), format!("`{k}` applies to files, not stdout"));
                }
            }
            Some(SinkSpec::Stdout)
        }
        Some(o) => {
            if let Some(bad) = crate::pull::sink::unknown_field(&o) {
                f.problem(f.span("output"), format!("`output`: unknown field `{{{bad}}}` (use {{source}}, {{date}}, {{hour}}, {{minute}}, {{seq}})"));
            }
            let every = every.or_else(|| crate::pull::sink::implied_every(&o));
            Some(SinkSpec::Files {
                template: base.join(o).to_string_lossy().into_owned(),
                max_bytes,
                every,
                gzip: gzip.unwrap_or(false),
            })
        }
    };
    let failed = f.problems.len() > checked;
    problems.append(&mut f.problems);
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
