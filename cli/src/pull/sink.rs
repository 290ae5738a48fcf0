//! Where a source's records go: files named by a path template
//! (`{source}/{date}/{hour}.ndjson`), rotated by size and/or time,
//! optionally gzip; or stdout, each record wrapped as
//! `{"source": …, "record": …}`.
//!
//! Records are buffered and written in large blocks on a blocking-capable
//! thread. Exactly once: [`Out::commit`] syncs the data before the caller
//! records the checkpoint, and a rotation notes the new file in the
//! checkpoint's `spill` before creating it, so [`Out::open`] can undo
//! everything written after the last commit.

use super::config::SinkSpec;
use super::state::{FileState, Ledger};
use crate::blocking::blocking;
use crate::Failure;
use chrono::DateTime;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Buffered record bytes written out at once.
const FLUSH_AT: usize = 1 << 20;

/// The template fields.
const FIELDS: [&str; 5] = ["source", "date", "hour", "minute", "seq"];

/// The first `{field}` in `template` that is not one of [`FIELDS`].
pub fn unknown_field(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !FIELDS.contains(&name) {
            return Some(name.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

/// Time rotation a template implies: a new file when its finest time
/// field changes.
pub fn implied_every(template: &str) -> Option<i64> {
    [("{minute}", 60), ("{hour}", 3_600), ("{date}", 86_400)]
        .into_iter()
        .find(|(f, _)| template.contains(f))
        .map(|(_, s)| s)
}

/// The file name for `source`, time `at`, and sequence `seq`. Without
/// `{seq}` in the template, a later file of the same bucket gets `.N`
/// before its extension (`13.ndjson`, `13.1.ndjson`).
pub fn render(template: &str, source: &str, at: i64, seq: u32, gzip: bool) -> PathBuf {
    let t = DateTime::from_timestamp(at, 0).unwrap_or_default();
    let mut path = template
        .replace("{source}", source)
        .replace("{date}", &t.format("%Y-%m-%d").to_string())
        .replace("{hour}", &t.format("%H").to_string())
        .replace("{minute}", &t.format("%M").to_string());
    if template.contains("{seq}") {
        path = path.replace("{seq}", &seq.to_string());
    } else if seq > 0 {
        let name_at = path.rfind('/').map_or(0, |i| i + 1);
        let dot = path[name_at..]
            .find('.')
            .map_or(path.len(), |i| name_at + i);
        path.insert_str(dot, &format!(".{seq}"));
    }
    if gzip && !path.ends_with(".gz") {
        path.push_str(".gz");
    }
    PathBuf::from(path)
}

/// The wall clock, in unix seconds; tests use their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock (no calendar arithmetic: it may be read per record).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |d| d.as_secs() as i64)
    })
}

/// One source's output.
pub struct Out {
    kind: Kind,
    /// Record bytes not yet written.
    buf: Vec<u8>,
}

enum Kind {
    /// `{"source":"NAME","record":` before each record.
    Stdout {
        prefix: Vec<u8>,
    },
    Files(Files),
}

struct Files {
    template: String,
    source: String,
    max_bytes: Option<u64>,
    every: Option<i64>,
    gzip: bool,
    clock: Clock,
    current: Option<Current>,
}

/// The file being appended to. `state.len` counts what reached the file,
/// `state.raw` every record assigned to it (buffered ones included).
struct Current {
    file: std::fs::File,
    state: FileState,
}

impl Out {
    /// Opens `source`'s output as `spec` says, first undoing whatever a
    /// crashed cycle wrote after its last commit.
    pub fn open(
        spec: &SinkSpec,
        source: &str,
        ledger: &mut Ledger,
        clock: Clock,
    ) -> Result<Out, Failure> {
        let kind = match spec {
            SinkSpec::Stdout => {
                let mut prefix = b"{\"source\":".to_vec();
                serde_json::to_writer(&mut prefix, source).expect("a string serialises");
                prefix.extend_from_slice(b",\"record\":");
                Kind::Stdout { prefix }
            }
            SinkSpec::Files {
                template,
                max_bytes,
                every,
                gzip,
            } => Kind::Files(Files {
                template: template.clone(),
                source: source.to_string(),
                max_bytes: *max_bytes,
                every: *every,
                gzip: *gzip,
                clock,
                current: None,
            }),
        };
        let mut out = Out {
            kind,
            buf: Vec::new(),
        };
        out.reset(ledger)?;
        Ok(out)
    }

    /// Back to the last commit: spill files removed, the committed file cut
    /// to its recorded length, nothing buffered.
    pub fn reset(&mut self, ledger: &mut Ledger) -> Result<(), Failure> {
        self.buf.clear();
        let Kind::Files(files) = &mut self.kind else {
            return Ok(());
        };
        files.current = None;
        let spill = std::mem::take(&mut ledger.state.spill);
        let committed = ledger.state.file.clone();
        blocking(|| -> Result<Option<Current>, Failure> {
            for path in &spill {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Failure::path(path, "cannot remove", e)),
                }
            }
            let Some(state) = committed else {
                return Ok(None);
            };
            let file = crate::checkpoint::reopen_at(&state.path, state.len)?;
            Ok(Some(Current { file, state }))
        })
        .map(|current| files.current = current)?;
        if !spill.is_empty() {
            ledger.save()?;
        }
        Ok(())
    }

    /// Appends one record; it is stored only once committed.
    pub fn append(&mut self, line: &[u8], ledger: &mut Ledger) -> Result<(), Failure> {
        match &mut self.kind {
            Kind::Stdout { prefix } => {
                self.buf.extend_from_slice(prefix);
                wrap_record(line, &mut self.buf);
                self.buf.extend_from_slice(b"}\n");
            }
            Kind::Files(files) => {
                let size = line.len() as u64 + 1;
                if let Some((at, seq)) = files.rotation(size) {
                    files.rotate(at, seq, &mut self.buf, ledger)?;
                }
                let current = files.current.as_mut().expect("opened by rotation");
                current.state.raw += size;
                self.buf.extend_from_slice(line);
                self.buf.push(b'\n');
            }
        }
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        if self.buf.is_empty() {
            return Ok(());
        }
        match &mut self.kind {
            Kind::Stdout { .. } => {
                // One locked write per block: sources never interleave
                // inside a record.
                let buf = &self.buf;
                blocking(|| {
                    let mut out = std::io::stdout().lock();
                    out.write_all(buf).and_then(|()| out.flush())
                })
                .map_err(|e| Failure::runtime(format!("cannot write to stdout: {e}")))?;
            }
            Kind::Files(files) => files.write(&self.buf)?,
        }
        self.buf.clear();
        Ok(())
    }

    /// Makes every appended record durable and notes the file in the
    /// ledger; the caller then records the position and saves.
    pub fn commit(&mut self, ledger: &mut Ledger) -> Result<(), Failure> {
        self.flush()?;
        if let Kind::Files(files) = &mut self.kind {
            if let Some(current) = &files.current {
                blocking(|| current.file.sync_data())
                    .map_err(|e| Failure::path(&current.state.path, "cannot sync", e))?;
                ledger.state.file = Some(current.state.clone());
            }
            ledger.state.spill.clear();
        }
        Ok(())
    }
}

impl Files {
    /// Whether a record of `size` bytes needs a new file first, and the
    /// new file's time and sequence number.
    fn rotation(&self, size: u64) -> Option<(i64, u32)> {
        // The clock is read per record only when files rotate by time.
        let bucket = self.every.map(|e| (self.clock)().div_euclid(e) * e);
        let Some(current) = &self.current else {
            return Some((bucket.unwrap_or_else(|| (self.clock)()), 0));
        };
        if let Some(b) = bucket.filter(|b| *b != current.state.bucket) {
            return Some((b, 0));
        }
        let full = self
            .max_bytes
            .is_some_and(|max| current.state.raw > 0 && current.state.raw + size > max);
        full.then(|| (current.state.bucket, current.state.seq + 1))
    }

    /// Finishes the current file and starts the next, noting it in the
    /// ledger's spill before it exists.
    fn rotate(
        &mut self,
        at: i64,
        mut seq: u32,
        buf: &mut Vec<u8>,
        ledger: &mut Ledger,
    ) -> Result<(), Failure> {
        if !buf.is_empty() {
            self.write(buf)?;
            buf.clear();
        }
        if let Some(current) = &self.current {
            blocking(|| current.file.sync_data())
                .map_err(|e| Failure::path(&current.state.path, "cannot sync", e))?;
        }
        let committed = ledger.state.file.as_ref().map(|f| f.path.clone());
        // A file that exists holds committed records of an earlier bucket
        // (the clock went back, or a later file of this one): never reuse it.
        let path = loop {
            let path = render(&self.template, &self.source, at, seq, self.gzip);
            if !path.exists() && committed.as_ref() != Some(&path) {
                break path;
            }
            seq += 1;
        };
        ledger.state.spill.push(path.clone());
        ledger.save()?;
        let file = blocking(|| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
        })
        .map_err(|e| Failure::path(&path, "cannot create", e))?;
        self.current = Some(Current {
            file,
            state: FileState {
                path,
                len: 0,
                raw: 0,
                bucket: at,
                seq,
            },
        });
        Ok(())
    }

    /// Writes `bytes` to the current file (one gzip member with `gzip`).
    fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let gzip = self.gzip;
        let current = self.current.as_mut().expect("a record opened a file");
        let path = current.state.path.clone();
        let written = blocking(|| -> std::io::Result<u64> {
            if gzip {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(bytes)?;
                let member = enc.finish()?;
                current.file.write_all(&member)?;
                Ok(member.len() as u64)
            } else {
                current.file.write_all(bytes)?;
                Ok(bytes.len() as u64)
            }
        })
        .map_err(|e| Failure::path(&path, "cannot write", e))?;
        current.state.len += written;
        Ok(())
    }
}

/// Appends `line` as a JSON value: as it is when it is JSON, else as a
/// JSON string (a plain-text log line).
fn wrap_record(line: &[u8], out: &mut Vec<u8>) {
    if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
        out.extend_from_slice(line);
    } else {
        // Borrowed, not copied: the library hands out valid UTF-8.
        let text = String::from_utf8_lossy(line);
        serde_json::to_writer(out, &text).expect("a string serialises");
    }
}

/// Where `render` would put `source`'s files, for messages.
pub fn describe(spec: &SinkSpec, source: &str) -> String {
    match spec {
        SinkSpec::Stdout => "stdout".into(),
        SinkSpec::Files { template, .. } => template.replace("{source}", source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct Fixture {
        dir: tempfile::TempDir,
        now: Arc<AtomicI64>,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                now: Arc::new(AtomicI64::new(0)),
            }
        }
        fn ledger(&self) -> Ledger {
            Ledger::open(&self.dir.path().join("state"), "s", "test").unwrap()
        }
        fn out(&self, spec: &SinkSpec, ledger: &mut Ledger) -> Out {
            let now = self.now.clone();
            Out::open(
                spec,
                "s",
                ledger,
                Arc::new(move || now.load(Ordering::SeqCst)),
            )
            .unwrap()
        }
        fn spec(&self, template: &str, max_bytes: Option<u64>, gzip: bool) -> SinkSpec {
            let template = self
                .dir
                .path()
                .join(template)
                .to_string_lossy()
                .into_owned();
            SinkSpec::Files {
                every: implied_every(&template),
                template,
                max_bytes,
                gzip,
            }
        }
        fn read(&self, name: &str) -> String {
            std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_else(|e| format!("<{e}>"))
        }
    }

    fn commit(out: &mut Out, ledger: &mut Ledger) {
        out.commit(ledger).unwrap();
        ledger.save().unwrap();
    }

    #[test]
    fn size_rotation_happens_exactly_at_the_limit() {
        let f = Fixture::new();
        // Three 9-byte records fill 27 bytes exactly; the fourth starts a file.
        let spec = f.spec("{source}.ndjson", Some(27), false);
        let mut ledger = f.ledger();
        let mut out = f.out(&spec, &mut ledger);
        for r in [
            "aaaaaaaa",
            "bbbbbbbb",
            "cccccccc",
            "dddddddd",
            "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            "f",
        ] {
            out.append(r.as_bytes(), &mut ledger).unwrap();
        }
        commit(&mut out, &mut ledger);
        assert_eq!(f.read("s.ndjson"), "aaaaaaaa\nbbbbbbbb\ncccccccc\n");
        // A record larger than the limit still gets a file of its own.
        assert_eq!(f.read("s.1.ndjson"), "dddddddd\n");
        assert_eq!(f.read("s.2.ndjson"), "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n");
        assert_eq!(f.read("s.3.ndjson"), "f\n");
    }

    #[test]
    fn time_rotation_happens_exactly_at_the_hour() {
        let f = Fixture::new();
        let spec = f.spec("{source}/{date}/{hour}.ndjson", None, false);
        let mut ledger = f.ledger();
        let mut out = f.out(&spec, &mut ledger);
        f.now.store(86_400 + 3_599, Ordering::SeqCst);
        out.append(b"last of 00h", &mut ledger).unwrap();
        f.now.store(86_400 + 3_600, Ordering::SeqCst);
        out.append(b"first of 01h", &mut ledger).unwrap();
        commit(&mut out, &mut ledger);
        assert_eq!(f.read("s/1970-01-02/00.ndjson"), "last of 00h\n");
        assert_eq!(f.read("s/1970-01-02/01.ndjson"), "first of 01h\n");
    }

    #[test]
    fn everything_after_the_last_commit_is_undone_on_open() {
        let f = Fixture::new();
        let spec = f.spec("{source}.ndjson", Some(10), false);
        let mut ledger = f.ledger();
        let mut out = f.out(&spec, &mut ledger);
        out.append(b"one", &mut ledger).unwrap();
        commit(&mut out, &mut ledger);
        // Uncommitted: more in the committed file, then a rotation.
        out.append(b"two", &mut ledger).unwrap();
        out.append(b"three", &mut ledger).unwrap();
        out.flush().unwrap();
        assert_eq!(f.read("s.ndjson"), "one\ntwo\n");
        assert_eq!(f.read("s.1.ndjson"), "three\n");
        drop((out, ledger)); // a crash
        let mut ledger = f.ledger();
        let mut out = f.out(&spec, &mut ledger);
        assert_eq!(f.read("s.ndjson"), "one\n");
        assert!(!f.dir.path().join("s.1.ndjson").exists());
        out.append(b"two", &mut ledger).unwrap();
        out.append(b"three", &mut ledger).unwrap();
        commit(&mut out, &mut ledger);
        assert_eq!(
            f.read("s.ndjson") + &f.read("s.1.ndjson"),
            "one\ntwo\nthree\n"
        );
    }

    #[test]
    fn gzip_files_are_one_member_per_flush_and_cut_at_members() {
        use std::io::Read;
        let f = Fixture::new();
        let spec = f.spec("{source}.ndjson", None, true);
        let mut ledger = f.ledger();
        let mut out = f.out(&spec, &mut ledger);
        out.append(b"{\"a\":1}", &mut ledger).unwrap();
        commit(&mut out, &mut ledger);
        out.append(b"{\"a\":2}", &mut ledger).unwrap();
        commit(&mut out, &mut ledger);
        out.append(b"lost", &mut ledger).unwrap();
        out.flush().unwrap();
        drop((out, ledger));
        let mut ledger = f.ledger();
        drop(f.out(&spec, &mut ledger));
        let bytes = std::fs::read(f.dir.path().join("s.ndjson.gz")).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn stdout_records_are_wrapped_with_their_source() {
        let mut out = Vec::new();
        wrap_record(b"{\"x\":[1,2]}", &mut out);
        out.push(b' ');
        wrap_record(b"plain \"text\" line", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"x\":[1,2]} \"plain \\\"text\\\" line\""
        );
        assert_eq!(
            render(
                "/o/{source}/{date}T{hour}{minute}.ndjson",
                "a",
                3_660,
                2,
                true
            ),
            Path::new("/o/a/1970-01-01T0101.2.ndjson.gz")
        );
        assert_eq!(unknown_field("{source}/{day}.x").as_deref(), Some("day"));
    }
}
