//! Durable progress for resumable exports.
//!
//! A checkpoint records where the last complete page (or time window) ended
//! and how long the output file was at that moment. Output is appended and
//! synced *before* the checkpoint is replaced (atomically), so after a crash
//! at any point the output holds at most one page beyond the checkpoint, and
//! resuming truncates back to the recorded length before continuing: every
//! record lands exactly once.

use serde::{Deserialize, Serialize};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

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
}

impl Resumable {
    /// Opens (or starts) `output` with `checkpoint`. If the output grew past
    /// the checkpoint (a crash between writing a page and recording it), the
    /// tail is cut off so it is written again exactly once.
    pub fn open(output: &Path, checkpoint: &Path, stream: &str) -> Result<Self, String> {
        let state = match std::fs::read(checkpoint) {
            Ok(bytes) => {
                let cp: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
                    format!("checkpoint {} is unreadable: {e}", checkpoint.display())
                })?;
                if cp.stream != stream {
                    return Err(format!(
                        "checkpoint {} belongs to `{}`, not `{stream}`; use another file",
                        checkpoint.display(),
                        cp.stream
                    ));
                }
                cp
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint {
                stream: stream.to_string(),
                ..Checkpoint::default()
            },
            Err(e) => {
                return Err(format!(
                    "cannot read checkpoint {}: {e}",
                    checkpoint.display()
                ))
            }
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(output)
            .map_err(|e| format!("cannot open {}: {e}", output.display()))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        if len < state.output_len {
            return Err(format!(
                "{} is shorter than its checkpoint records ({len} < {} bytes); it was changed by something else",
                output.display(),
                state.output_len
            ));
        }
        if len > state.output_len {
            file.set_len(state.output_len).map_err(|e| e.to_string())?;
        }
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| e.to_string())?;
        Ok(Resumable {
            path: output.to_path_buf(),
            output: file,
            checkpoint_path: checkpoint.to_path_buf(),
            pending: Vec::new(),
            pending_records: 0,
            written: 0,
            state,
        })
    }

    /// Appends one record. It counts as stored only after [`commit`](Self::commit).
    pub fn append(&mut self, line: &str) -> Result<(), String> {
        self.pending.extend_from_slice(line.as_bytes());
        self.pending.push(b'\n');
        self.pending_records += 1;
        if self.pending.len() >= 1 << 20 {
            self.flush_pending()?;
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<(), String> {
        self.output
            .write_all(&self.pending)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Makes everything appended so far durable, then records `position` as
    /// the place to resume from.
    pub fn commit(&mut self, position: Option<String>) -> Result<(), String> {
        self.flush_pending()?;
        self.output.sync_data().map_err(|e| e.to_string())?;
        self.state.output_len += self.written;
        self.state.records += self.pending_records;
        self.written = 0;
        self.pending_records = 0;
        if position.is_some() {
            self.state.position = position;
        }
        write_atomic(
            &self.checkpoint_path,
            &serde_json::to_vec_pretty(&self.state).expect("serialisable"),
        )
    }
}

/// Replaces `path` with `bytes` via a synced temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    tmp.write_all(bytes).map_err(|e| e.to_string())?;
    tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    tmp.persist(path).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(Resumable::open(&out, &cp, "other").is_err());
    }
}
