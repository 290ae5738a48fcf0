//! What every command gets: the global flags, progress drawing, the
//! sandbox, and the summary each command prints when it ends.

use crate::{progress, sandbox, Global};
use std::time::Instant;

/// What every command gets.
pub struct Ctx {
    /// The global flags.
    pub global: Global,
    /// Progress drawing.
    pub progress: progress::Progress,
    /// Emulators started for `--sandbox`.
    pub sandboxes: Option<sandbox::Sandboxes>,
    /// When the command started, for the summary's duration.
    pub started: Instant,
    /// Where single commands read credentials: the process environment
    /// and `--profile`.
    login: crate::clients::Credentials,
    /// Where the credentials came from (names and paths, never values).
    credentials: std::sync::Mutex<Option<logexport::profile::Source>>,
    /// The counters of invalid text replaced with U+FFFD, one per download
    /// or stream, read when the summary is printed.
    replaced: std::sync::Mutex<Vec<logexport::download::Replacements>>,
}

/// Fields every summary carries, `null` when a command has no such thing
/// (a topic listing has no time windows), so scripts read one shape.
const SUMMARY_FIELDS: [&str; 4] = ["records", "bytes", "windows", "resume_from"];

impl Ctx {
    /// A context for one command.
    pub fn new(global: Global, sandboxes: Option<sandbox::Sandboxes>) -> Self {
        Ctx {
            progress: progress::Progress::new(global.quiet || global.json),
            login: crate::clients::Credentials {
                env: None,
                profile: global.profile.clone(),
            },
            global,
            sandboxes,
            started: Instant::now(),
            credentials: std::sync::Mutex::new(None),
            replaced: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Counts `replacements` into the summary's `replaced`: the crate's text
    /// policy turns invalid UTF-8 into U+FFFD and says how often.
    pub fn count_replacements(&self, replacements: logexport::download::Replacements) {
        self.replaced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(replacements);
    }

    /// What single commands build their client from: the process
    /// environment, `--profile`, `--endpoint` and `--sandbox`.
    pub fn setup(&self) -> crate::clients::Setup<'_> {
        crate::clients::Setup {
            credentials: &self.login,
            endpoint: self.global.endpoint.as_deref(),
            sandboxes: self.sandboxes.as_ref(),
        }
    }

    /// Records where the credentials came from (if not the sandbox), for
    /// the summary.
    pub fn note_credentials(&self, source: Option<logexport::profile::Source>) {
        if let Some(source) = source {
            *self.credentials.lock().unwrap_or_else(|e| e.into_inner()) = Some(source);
        }
    }

    /// Prints the run's summary: one JSON object on stderr with `--json`
    /// (always with records, bytes, windows, resume_from and duration_ms), a
    /// short `key=value` line otherwise (unless `--quiet`).
    pub fn summary(&self, value: serde_json::Value) {
        let mut map = match value {
            serde_json::Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("result".into(), other);
                map
            }
        };
        for field in SUMMARY_FIELDS {
            map.entry(field).or_insert(serde_json::Value::Null);
        }
        let replaced: u64 = self
            .replaced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|r| r.get())
            .sum();
        map.entry("replaced").or_insert(replaced.into());
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        map.insert("duration_ms".into(), elapsed.into());
        let source = self
            .credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(source) = source {
            // An object for scripts, one readable phrase for people.
            let value = if self.global.json {
                serde_json::to_value(&source).unwrap_or(serde_json::Value::Null)
            } else {
                source.to_string().into()
            };
            map.insert("credentials".into(), value);
        }
        if self.global.json {
            eprintln!("{}", serde_json::Value::Object(map));
        } else if !self.global.quiet {
            let parts: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    format!("{k}={v}")
                })
                .collect();
            eprintln!("{}", parts.join(" "));
        }
    }
}
