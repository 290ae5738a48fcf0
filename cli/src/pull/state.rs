//! One checkpoint per source in the state directory
//! (`STATE_DIR/NAME/checkpoint.json`), held under an exclusive lock for a
//! cycle, so two live instances never pull the same source at once.
//!
//! It records where the next cycle resumes, which output file holds the
//! source's committed records and how long it is, and the files opened
//! since (`spill`): after a crash, the committed file is cut back to its
//! recorded length and the spill files are removed, so every record lands
//! exactly once.

use crate::checkpoint::{write_atomic, CheckpointLock, PendingTask};
use crate::Failure;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The checkpoint's file name inside the source's directory.
const FILE: &str = "checkpoint.json";

/// The output file a source appends to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Its path.
    pub path: PathBuf,
    /// Committed length on disk.
    pub len: u64,
    /// Committed record bytes (before compression), for size rotation.
    pub raw: u64,
    /// Start (unix seconds) of the time bucket it belongs to.
    pub bucket: i64,
    /// Its sequence number within the bucket (size rotation).
    pub seq: u32,
}

/// What a source's checkpoint holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// What the source pulls; a checkpoint is resumed only for the same.
    pub stream: String,
    /// Resume position: the last stored event uid, or the next window
    /// start (unix seconds).
    pub position: Option<String>,
    /// Time (unix seconds) of the newest stored record, where the position
    /// is not a time itself (ConductorOne event uids).
    #[serde(default)]
    pub newest: Option<i64>,
    /// Records stored in total.
    pub records: u64,
    /// Record bytes stored in total.
    #[serde(default)]
    pub bytes: u64,
    /// The file holding the last committed records.
    #[serde(default)]
    pub file: Option<FileState>,
    /// Files opened after the last commit: they hold only uncommitted
    /// records.
    #[serde(default)]
    pub spill: Vec<PathBuf>,
    /// A vendor task started for the next window (a CLS export).
    #[serde(default)]
    pub pending: Option<PendingTask>,
    /// When the last cycle ended (unix seconds).
    #[serde(default)]
    pub last_run: Option<i64>,
    /// The last cycle's error, if it failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Failed cycles in a row.
    #[serde(default)]
    pub failures: u32,
}

/// A source's checkpoint, locked while it lives.
pub struct Ledger {
    path: PathBuf,
    /// The state as last saved (or about to be).
    pub state: State,
    _lock: CheckpointLock,
}

/// The source's directory inside `state_dir`.
pub fn source_dir(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(name)
}

impl Ledger {
    /// Locks and reads `name`'s checkpoint (a fresh one if none), refusing
    /// one written for another stream.
    pub fn open(state_dir: &Path, name: &str, stream: &str) -> Result<Ledger, Failure> {
        // Directory, lock and file: each may block.
        crate::blocking::blocking(|| Self::open_now(state_dir, name, stream))
    }

    fn open_now(state_dir: &Path, name: &str, stream: &str) -> Result<Ledger, Failure> {
        let dir = source_dir(state_dir, name);
        std::fs::create_dir_all(&dir).map_err(|e| Failure::path(&dir, "cannot create", e))?;
        let path = dir.join(FILE);
        let lock = CheckpointLock::acquire(&path)?;
        let state = match read(state_dir, name)? {
            Some(state) if state.stream != stream => {
                return Err(Failure::usage(format!(
                    "{} belongs to `{}`, not `{stream}`: the source changed what it pulls; give it a new name",
                    path.display(),
                    state.stream
                )))
            }
            Some(state) => state,
            None => State {
                stream: stream.to_string(),
                ..State::default()
            },
        };
        Ok(Ledger {
            path,
            state,
            _lock: lock,
        })
    }

    /// Replaces the checkpoint atomically.
    pub fn save(&self) -> Result<(), Failure> {
        let bytes = serde_json::to_vec_pretty(&self.state).expect("serialisable");
        write_atomic(&self.path, &bytes)
    }
}

/// Reads `name`'s checkpoint without locking it (`--status`): it is
/// replaced by rename, so a reader sees one whole version.
pub fn read(state_dir: &Path, name: &str) -> Result<Option<State>, Failure> {
    let path = source_dir(state_dir, name).join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Failure::runtime(format!("{} is unreadable: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::path(&path, "cannot read", e)),
    }
}
