//! The CLS emulator's in-memory model: registered credentials, export
//! tasks and their lifecycle on the sandbox clock (Queuing → Processing →
//! Completed, Failed when forced, Expired after the retention), call counts
//! and the rate limits.

use super::data::LogSpec;
use super::types::Format;
use crate::{Clock, Faults, RequestLog, WindowLimit};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

/// A SecretKey and, for temporary credentials, the session token that must
/// come with it.
pub(super) struct Registered {
    pub(super) key: String,
    pub(super) token: Option<String>,
}

/// Everything one emulator holds, shared by its handlers.
pub(super) struct SandboxState {
    pub(super) clock: Clock,
    pub(super) faults: Faults,
    pub(super) log: RequestLog,
    pub(super) queuing_ms: i64,
    pub(super) processing_ms: i64,
    pub(super) retention_ms: i64,
    pub(super) link_ttl_secs: i64,
    pub(super) max_skew_secs: i64,
    pub(super) credentials: Mutex<HashMap<String, Registered>>,
    pub(super) exports: Mutex<Vec<ExportTask>>,
    pub(super) limits: HashMap<&'static str, WindowLimit>,
    pub(super) throttled: AtomicU64,
    pub(super) calls: Mutex<HashMap<String, usize>>,
    pub(super) link_secret: [u8; 32],
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// One export task.
pub(super) struct ExportTask {
    pub(super) id: String,
    pub(super) spec: LogSpec,
    pub(super) format: Format,
    pub(super) syntax_rule: u64,
    pub(super) derived_fields: Vec<String>,
    pub(super) created_ms: i64,
    pub(super) failed: bool,
    /// Set by the background job that sizes the archive.
    pub(super) archive: Arc<OnceLock<ArchiveInfo>>,
}

/// What sizing the finished archive found.
#[derive(Debug, Clone, Copy)]
pub(super) struct ArchiveInfo {
    pub(super) file_size: u64,
}

impl ExportTask {
    /// The status CLS would report at `now_ms`.
    pub(super) fn status(&self, now_ms: i64, st: &SandboxState) -> &'static str {
        let age = now_ms - self.created_ms;
        if age >= st.retention_ms {
            "Expired"
        } else if self.failed {
            "Failed"
        } else if age < st.queuing_ms {
            "Queuing"
        } else if age < st.queuing_ms + st.processing_ms || self.archive.get().is_none() {
            "Processing"
        } else {
            "Completed"
        }
    }

    /// The file the download is named.
    pub(super) fn file_name(&self) -> String {
        format!("{}.tar.gz", self.id)
    }
}
