//! The Atlas emulator's in-memory model: registered API keys, service
//! accounts and projects, the Digest nonces handed out and the nonce counts
//! seen, the OAuth tokens issued, and version overrides.

use super::error::api_error;
use super::{AtlasSandboxBuilder, VersionStatus};
use crate::{lock, Clock, Faults, WindowLimit};
use axum::response::Response;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;

/// Everything one emulator holds, shared by its handlers.
pub(super) struct Inner {
    pub(super) cfg: AtlasSandboxBuilder,
    pub(super) clock: Clock,
    pub(super) faults: Faults,
    pub(super) keys: Mutex<HashMap<String, String>>,
    pub(super) accounts: Mutex<HashMap<String, String>>,
    pub(super) projects: Mutex<BTreeSet<String>>,
    pub(super) nonces: Mutex<HashMap<String, NonceInfo>>,
    pub(super) tokens: Mutex<HashMap<String, TokenInfo>>,
    pub(super) token_requests: AtomicUsize,
    pub(super) versions: Mutex<HashMap<(String, String), VersionStatus>>,
    pub(super) limit: Option<(WindowLimit, Duration)>,
}

pub(super) struct NonceInfo {
    pub(super) issued_ms: i64,
    pub(super) seen: HashSet<u32>,
}

pub(super) struct TokenInfo {
    pub(super) client_id: String,
    pub(super) expires_ms: i64,
    pub(super) revoked: bool,
}

impl Inner {
    /// Whether `group` is a well-formed id of a project that exists.
    pub(super) fn known_project(&self, group: &str) -> Result<(), Box<Response>> {
        if !is_object_id(group) {
            return Err(Box::new(api_error(
                400,
                "INVALID_GROUP_ID",
                format!("{group} is not a valid group id"),
                None,
            )));
        }
        if !lock(&self.projects).contains(&group.to_ascii_lowercase()) {
            return Err(Box::new(api_error(
                404,
                "GROUP_NOT_FOUND",
                format!("No group with ID {group} exists."),
                None,
            )));
        }
        Ok(())
    }
}

/// Whether `id` has the shape of an Atlas id (24 hex digits, an ObjectId).
pub(super) fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}
