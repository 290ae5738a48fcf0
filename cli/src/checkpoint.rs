//! Durable progress for resumable exports.
//!
//! A checkpoint records where the last complete page (or time window) ended
//! and how long the output file was at that moment. Output is appended and
//! synced *before* the checkpoint is replaced (atomically), so after a crash
//! at any point the output holds at most one page beyond the checkpoint, and
//! resuming truncates back to the recorded length before continuing: every
//! record lands exactly once.
//!
//! One run at a time: an exclusive advisory lock on a sidecar `FILE.lock`
//! (the checkpoint itself is replaced by rename, so it cannot carry the
//! lock) is held for as long as the [`Resumable`] lives. Two overlapping
//! runs (a cron overlap) would otherwise interleave their output.

use crate::blocking::blocking;
use crate::Failure;
use logexport::download::LineNormalizer;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Appended records are written to the output in blocks of this size.
const PENDING_BLOCK: usize = 1 << 20;

/// What a checkpoint file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The command this checkpoint belongs to, so one file is not reused for another stream.
    pub stream: String,
    /// Resume position: the last stored event uid, or the next window start (unix seconds).
    pub position: Option<String>,
    /// Length of the output file when `position` was recorded.
    pub output_len: u64,
    /// Records written in total.
    pub records: u64,
    /// A server-side task started for the window beginning at `position`
    /// but not yet stored, so a rerun after a crash downloads that task
    /// instead of creating another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingTask>,
}

/// A vendor task covering the window from the checkpoint's position to `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTask {
    /// The vendor's id for the task (a CLS export id).
    pub id: String,
    /// End of the window the task covers (unix seconds).
    pub end: i64,
}

/// The exclusive lock on a checkpoint, released when dropped (or when the
/// process dies, however it dies: the OS drops advisory locks with the file).
#[derive(Debug)]
pub struct CheckpointLock {
    _file: std::fs::File,
}

impl CheckpointLock {
    /// Takes the lock on `checkpoint` without waiting. A lock held by
    /// another run is a usage error (exit 2) naming that run's pid.
    pub fn acquire(checkpoint: &Path) -> Result<Self, Failure> {
        let mut path = checkpoint.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let mut file = open_rw(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes its pid right after locking; an empty
                // file means we looked in between.
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let pid = if holder.is_empty() { "unknown" } else { holder };
                return Err(Failure::usage(format!(
                    "checkpoint {} is in use (pid {pid})",
                    checkpoint.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Failure::runtime(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )))
            }
        }
        // The lock file is never removed: a run that opened the old file
        // just before a removal would lock an unlinked inode and run
        // alongside the next one.
        file.set_len(0)
            .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
        Ok(CheckpointLock { _file: file })
    }
}

/// An output file plus its checkpoint.
pub struct Resumable {
    path: PathBuf,
    output: std::fs::File,
    checkpoint_path: PathBuf,
    pending: Vec<u8>,
    pending_records: u64,
    written: u64,
    /// The state as last committed.
    pub state: Checkpoint,
    _lock: CheckpointLock,
}

impl Resumable {
    /// Opens (or starts) `output` with `checkpoint`. If the output grew past
    /// the checkpoint (a crash between writing a page and recording it), the
    /// tail is cut off so it is written again exactly once. Holds the
    /// checkpoint's lock until dropped.
    ///
    /// Like every method here that touches the disk, it may be called on the
    /// async runtime: its blocking I/O runs in place of a worker thread
    /// (`block_in_place`), so other tasks move on.
    pub fn open(output: &Path, checkpoint: &Path, stream: &str) -> Result<Self, Failure> {
        blocking(|| Self::open_now(output, checkpoint, stream))
    }

    fn open_now(output: &Path, checkpoint: &Path, stream: &str) -> Result<Self, Failure> {
        // Before anything is read or truncated: the holder may be mid-write.
        let lock = CheckpointLock::acquire(checkpoint)?;
        let state = match std::fs::read(checkpoint) {
            Ok(bytes) => {
                let cp: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
                    Failure::runtime(format!(
                        "checkpoint {} is unreadable: {e}",
                        checkpoint.display()
                    ))
                })?;
                if cp.stream != stream {
                    return Err(Failure::runtime(format!(
                        "checkpoint {} belongs to `{}`, not `{stream}`; use another file",
                        checkpoint.display(),
                        cp.stream
                    )));
                }
                cp
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint {
                stream: stream.to_string(),
                ..Checkpoint::default()
            },
            Err(e) => return Err(Failure::path(checkpoint, "cannot read checkpoint", e)),
        };
        Ok(Resumable {
            path: output.to_path_buf(),
            output: reopen_at(output, state.output_len)?,
            checkpoint_path: checkpoint.to_path_buf(),
            pending: Vec::new(),
            pending_records: 0,
            written: 0,
            state,
            _lock: lock,
        })
    }

    /// Appends one record (its bytes, without the newline). It counts as
    /// stored only after [`commit`](Self::commit).
    pub fn append(&mut self, record: impl AsRef<[u8]>) -> Result<(), Failure> {
        self.pending.extend_from_slice(record.as_ref());
        self.pending.push(b'\n');
        self.appended(1)
    }

    /// Appends the records of a piece of decoded text, one per line as
    /// [`LineNormalizer`] makes them, copied into the pending block without a
    /// `String` per line. Call [`end_text`](Self::end_text) after the last piece.
    pub fn append_text(&mut self, text: &[u8], lines: &mut LineNormalizer) -> Result<(), Failure> {
        let before = lines.records();
        lines.push(text, &mut self.pending)?;
        self.appended(lines.records() - before)
    }

    /// Ends a text given to [`append_text`](Self::append_text): an
    /// unfinished last line is a record too.
    pub fn end_text(&mut self, lines: &mut LineNormalizer) -> Result<(), Failure> {
        let before = lines.records();
        let after = lines.finish(&mut self.pending);
        self.appended(after - before)
    }

    /// Counts `records` just added to the pending block, and writes the
    /// block out once it is large.
    fn appended(&mut self, records: u64) -> Result<(), Failure> {
        self.pending_records += records;
        if self.pending.len() >= PENDING_BLOCK {
            self.flush_pending()?;
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<(), Failure> {
        let (output, pending) = (&mut self.output, &self.pending);
        blocking(|| output.write_all(pending))
            .map_err(|e| Failure::path(&self.path, "cannot write", e))?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Makes everything appended so far durable, then records `position` as
    /// the place to resume from.
    pub fn commit(&mut self, position: Option<String>) -> Result<(), Failure> {
        self.flush_pending()?;
        blocking(|| self.output.sync_data())
            .map_err(|e| Failure::path(&self.path, "cannot sync", e))?;
        self.state.output_len += self.written;
        self.state.records += self.pending_records;
        self.written = 0;
        self.pending_records = 0;
        if position.is_some() {
            self.state.position = position;
            // The task (if any) covered the window just stored.
            self.state.pending = None;
        }
        self.save()
    }

    /// Records a task started for the next window before its records are
    /// fetched. Nothing may be pending in the output meanwhile.
    pub fn set_pending(&mut self, task: PendingTask) -> Result<(), Failure> {
        debug_assert!(self.pending.is_empty() && self.written == 0);
        self.state.pending = Some(task);
        self.save()
    }

    /// Forgets the pending task and every record appended since the last
    /// commit.
    pub fn clear_pending(&mut self) -> Result<(), Failure> {
        self.pending.clear();
        self.pending_records = 0;
        self.written = 0;
        blocking(|| truncate(&mut self.output, self.state.output_len, &self.path))?;
        self.state.pending = None;
        self.save()
    }

    fn save(&self) -> Result<(), Failure> {
        let bytes = serde_json::to_vec_pretty(&self.state).expect("serialisable");
        write_atomic(&self.checkpoint_path, &bytes)
    }
}

/// Opens (or creates) `path` for appending after its first `len` bytes:
/// what a crash wrote past the checkpoint is cut off. A file shorter than
/// its checkpoint says was changed by something else, and is refused.
pub fn reopen_at(path: &Path, len: u64) -> Result<std::fs::File, Failure> {
    let mut file = open_rw(path)?;
    let found = file
        .metadata()
        .map_err(|e| Failure::path(path, "cannot stat", e))?
        .len();
    if found < len {
        return Err(Failure::runtime(format!(
            "{} is shorter than its checkpoint records ({found} < {len} bytes); it was changed by something else",
            path.display()
        )));
    }
    truncate(&mut file, len, path)?;
    Ok(file)
}

/// Opens `path` to read and write, created if missing, its bytes kept.
fn open_rw(path: &Path) -> Result<std::fs::File, Failure> {
    std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Failure::path(path, "cannot open", e))
}

/// Cuts `file` (at `path`) to `len` bytes and appends from there.
fn truncate(file: &mut std::fs::File, len: u64, path: &Path) -> Result<(), Failure> {
    file.set_len(len)
        .and_then(|()| file.seek(std::io::SeekFrom::End(0)).map(drop))
        .map_err(|e| Failure::path(path, "cannot truncate", e))
}

/// Replaces `path` with `bytes` via a synced temporary file and a rename,
/// on a thread that may block.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    blocking(|| {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    })
    .map_err(|e: std::io::Error| Failure::path(path, "cannot write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_that_cannot_be_written_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.checkpoint");
        let failure = write_atomic(&path, b"{}").unwrap_err();
        assert!(
            failure.message.starts_with("cannot write ")
                && failure.message.contains(&path.display().to_string()),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_page_written_but_not_recorded_is_cut_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("events.ndjson");
        let cp = dir.path().join("events.checkpoint");
        let mut r = Resumable::open(&out, &cp, "c1 events").unwrap();
        r.append("{\"a\":1}").unwrap();
        r.commit(Some("uid-1".into())).unwrap();
        r.append("{\"a\":2}").unwrap();
        drop(r);
        // A crash after part of page 2 reached the file but before its checkpoint.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&out)
            .unwrap()
            .write_all(b"{\"a\":2}\n{\"a\"")
            .unwrap();
        let r = Resumable::open(&out, &cp, "c1 events").unwrap();
        assert_eq!(
            (r.state.position.as_deref(), r.state.records),
            (Some("uid-1"), 1)
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"a\":1}\n");
        drop(r);
        let other = Resumable::open(&out, &cp, "other").err().unwrap();
        assert!(
            other.message.contains("belongs to `c1 events`"),
            "{}",
            other.message
        );
    }

    #[test]
    fn a_pending_task_is_kept_until_its_window_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (out, cp) = (dir.path().join("o"), dir.path().join("c"));
        let mut r = Resumable::open(&out, &cp, "s").unwrap();
        let task = PendingTask {
            id: "task-1".into(),
            end: 60,
        };
        r.set_pending(task.clone()).unwrap();
        drop(r);
        let mut r = Resumable::open(&out, &cp, "s").unwrap();
        assert_eq!(r.state.pending.as_ref(), Some(&task));
        r.append("x").unwrap();
        r.commit(Some("60".into())).unwrap();
        drop(r);
        let mut r = Resumable::open(&out, &cp, "s").unwrap();
        assert_eq!((r.state.pending.clone(), r.state.records), (None, 1));
        // An abandoned window leaves neither its task nor its records.
        r.set_pending(task).unwrap();
        r.append("y".repeat(2 << 20)).unwrap();
        r.append("z").unwrap();
        r.clear_pending().unwrap();
        r.append("w").unwrap();
        r.commit(Some("120".into())).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "x\nw\n");
        assert_eq!((r.state.pending.clone(), r.state.records), (None, 2));
    }

    #[test]
    fn text_and_whole_records_are_appended_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (out, cp) = (dir.path().join("o"), dir.path().join("c"));
        let mut r = Resumable::open(&out, &cp, "s").unwrap();
        let mut lines = LineNormalizer::new();
        for piece in [&b"{\"a\":1}\r\n\n{\"a\""[..], b":2}\n{\"a\":3}"] {
            r.append_text(piece, &mut lines).unwrap();
        }
        r.end_text(&mut lines).unwrap();
        r.append(r#"{"b":[1,"x"]}"#).unwrap();
        r.commit(Some("1".into())).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"b\":[1,\"x\"]}\n"
        );
        assert_eq!(r.state.records, 4);
    }
}
