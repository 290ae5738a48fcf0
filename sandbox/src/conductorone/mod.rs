//! An in-process ConductorOne emulator: token exchange, system log
//! exporters and OCSF events, on `127.0.0.1`.
//!
//! **Auth, as C1 does it.** `POST /auth/v1/token` verifies the client
//! assertion (RFC 7523) with the `jsonwebtoken` crate against the client's
//! registered Ed25519 key: signature,
//! `alg = EdDSA`, a 32-hex-character header nonce (never seen before),
//! `iss` = `sub` = the client id, `aud` = the host the request reached
//! (the `Host` header without port, so `127.0.0.1`: a client with an
//! endpoint override uses the override's host as audience), `exp` in the
//! future and at most 5 minutes away, `nbf` not in the future. All times are
//! on the sandbox [`Clock`], so moving it emulates client clock skew. Tokens
//! expire after the configured lifetime (default 600 s) on the same clock;
//! [`ConductorOneSandbox::revoke_tokens`] invalidates them all at once.
//! Failures answer 401 with a C1-style body `{"code": 16, "message", "details": []}`.
//!
//! **Exporters** live in memory. Update masks are honoured (only masked
//! fields change; read-only or unknown paths are rejected; an empty mask
//! replaces every field the body carries). Delete is soft, as in C1: the
//! record keeps a `deletedAt`, but get/update/delete/events answer 404 and
//! list/search skip it ([`ConductorOneSandbox::exporter_json`] still shows it).
//! A new exporter is `EXPORT_STATE_WAITING` for the configured waiting period
//! (default 2 s), then `EXPORT_STATE_EXPORTING`, unless a test forces a state.
//!
//! **Events** are [`demo_events`]: deterministic OCSF API Activity records
//! (class 6003) spread over the 3 days before a base time, ordered by
//! `metadata.uid` (KSUID-like, so uid order is time order). The system log
//! honours `since` (inclusive), `until` (exclusive), `sinceEventUid` and
//! `untilEventUid` (both exclusive), `sortDirection` and page tokens; an
//! exporter's events are those after its `watermarkEventId`.
//!
//! Page sizes outside 10–100 are rejected (0 or absent: 50). Fault operation
//! names (for [`Faults::inject`]) are the operation ids: `token`,
//! `list_exporters`, `create_exporter`, `get_exporter`, `update_exporter`,
//! `delete_exporter`, `list_exporter_events`, `search_exporters`,
//! `list_system_log_events`. A 5xx fault on `create_exporter` is answered
//! *after* the exporter was created, as a gateway timing out on a slow
//! backend would, so tests can prove a client does not create twice.

mod data;
mod error;
mod jwt;
mod routes;
mod state;

pub use data::{demo_events, demo_public_key, demo_seed};

use crate::{lock, Clock, Faults, RequestLog, Server};
use chrono::{DateTime, Utc};
use serde_json::Value;
use state::{Ds, Shared};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The demo client id the sandbox registers.
pub const DEMO_CLIENT_ID: &str = "logexport-demo@sandbox.conductor.one/logexport";

/// The token endpoint path (for counting token requests in the log).
pub const TOKEN_PATH: &str = "/auth/v1/token";

/// The system log events path.
pub const EVENTS_PATH: &str = "/api/v1/systemlog/events";

// ------------------------------------------------------------------ config

/// Options for [`ConductorOneSandbox`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ConductorOneSandboxBuilder {
    port: u16,
    clock: Clock,
    faults: Faults,
    token_lifetime: Duration,
    event_count: usize,
    event_base: Option<DateTime<Utc>>,
    waiting_period: Duration,
    seed_exporter: bool,
    max_page_size: usize,
}

impl Default for ConductorOneSandboxBuilder {
    fn default() -> Self {
        ConductorOneSandboxBuilder {
            port: 0,
            clock: Clock::new(),
            faults: Faults::default(),
            token_lifetime: Duration::from_secs(600),
            event_count: 300,
            event_base: None,
            waiting_period: Duration::from_secs(2),
            seed_exporter: true,
            max_page_size: 100,
        }
    }
}

impl ConductorOneSandboxBuilder {
    listen_options!();

    /// Shares a fault queue with the test.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// How long issued access tokens live (default 600 s, at least 1 s).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// How many system log events exist (default 300).
    pub fn event_count(mut self, count: usize) -> Self {
        self.event_count = count;
        self
    }

    /// The time the events lead up to (default: the start of the current hour).
    pub fn event_base(mut self, base: DateTime<Utc>) -> Self {
        self.event_base = Some(base);
        self
    }

    /// How long a new exporter stays `WAITING` (default 2 s).
    pub fn waiting_period(mut self, period: Duration) -> Self {
        self.waiting_period = period;
        self
    }

    /// The most events one page holds, whatever the client asks for
    /// (default 100, the API's own bound), as a server under load may
    /// answer: clients must follow the page token, not count on full pages.
    pub fn max_page_size(mut self, size: usize) -> Self {
        self.max_page_size = size.max(1);
        self
    }

    /// Whether to start with one demo exporter (default true).
    pub fn seed_exporter(mut self, seed: bool) -> Self {
        self.seed_exporter = seed;
        self
    }

    /// Starts the emulator.
    pub async fn start(self) -> std::io::Result<ConductorOneSandbox> {
        let base = self.event_base.unwrap_or_else(|| {
            let now = self.clock.unix_secs();
            DateTime::from_timestamp(now - now.rem_euclid(3600), 0).unwrap_or_default()
        });
        let events = demo_events(base, self.event_count);
        let index = events
            .iter()
            .map(|e| {
                let uid = e["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (uid, e["time"].as_i64().unwrap_or_default())
            })
            .collect();
        let mut clients = HashMap::new();
        clients
            .extend(jwt::decoding_key(&demo_public_key()).map(|k| (DEMO_CLIENT_ID.to_string(), k)));
        let log = RequestLog::default();
        let shared = Arc::new(Shared {
            clock: self.clock,
            faults: self.faults,
            log: log.clone(),
            token_lifetime: self.token_lifetime,
            waiting_period: self.waiting_period,
            clients: Mutex::new(clients),
            tokens: Mutex::default(),
            nonces: Mutex::default(),
            exporters: Mutex::default(),
            events,
            index,
            event_base: base,
            request_ids: AtomicU64::new(0),
            max_page_size: self.max_page_size,
        });
        if self.seed_exporter {
            shared.seed();
        }
        let app = routes::router(shared.clone());
        let server = Server::start(app, self.port, log).await?;
        Ok(ConductorOneSandbox { server, shared })
    }
}

// ------------------------------------------------------------------ sandbox

/// A running ConductorOne emulator. Dropping it stops the server.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use logexport_sandbox::conductorone::ConductorOneSandbox;
///
/// let sandbox = ConductorOneSandbox::start().await?;
/// println!("C1 emulator at {}", sandbox.endpoint());
/// # Ok(()) }
/// ```
pub struct ConductorOneSandbox {
    server: Server,
    shared: Arc<Shared>,
}

impl fmt::Debug for ConductorOneSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConductorOneSandbox")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl ConductorOneSandbox {
    /// Starts with the defaults on a free port.
    pub async fn start() -> std::io::Result<Self> {
        ConductorOneSandbox::builder().start().await
    }

    /// Options.
    pub fn builder() -> ConductorOneSandboxBuilder {
        ConductorOneSandboxBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// The fault queue.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The sandbox clock.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Every request served.
    pub fn requests(&self) -> &RequestLog {
        &self.shared.log
    }

    /// The demo client id.
    pub fn client_id(&self) -> &str {
        DEMO_CLIENT_ID
    }

    /// Registers another client and its public key.
    pub fn register_client(&self, client_id: &str, public_key: [u8; 32]) {
        if let Some(key) = jwt::decoding_key(&public_key) {
            lock(&self.shared.clients).insert(client_id.to_string(), key);
        }
    }

    /// Mints an access token for the demo client without an exchange (for
    /// testing access-token credentials).
    pub fn mint_access_token(&self) -> String {
        self.shared.issue(DEMO_CLIENT_ID)
    }

    /// Invalidates every issued access token (the next API call gets 401).
    pub fn revoke_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// The events the sandbox serves, oldest first.
    pub fn events(&self) -> &[Value] {
        &self.shared.events
    }

    /// The base time the events lead up to.
    pub fn event_base(&self) -> DateTime<Utc> {
        self.shared.event_base
    }

    /// Forces an exporter's state to any string, e.g. `EXPORT_STATE_PAUSED`,
    /// a value the client has never heard of. False if there is no such exporter.
    pub fn set_exporter_state(&self, export_id: &str, state: &str) -> bool {
        self.shared
            .with_record(export_id, |r| r.state = Some(state.to_string()))
    }

    /// Forces an exporter's datasource format to any string.
    pub fn set_exporter_format(&self, export_id: &str, format: &str) -> bool {
        self.shared.with_record(export_id, |r| {
            r.datasource.get_or_insert_with(Ds::default).format = format.to_string()
        })
    }

    /// Moves an exporter's watermark (its events are those after it).
    pub fn set_watermark(&self, export_id: &str, event_uid: &str) -> bool {
        self.shared
            .with_record(export_id, |r| r.watermark = event_uid.to_string())
    }

    /// The stored exporter as JSON, deleted or not.
    pub fn exporter_json(&self, export_id: &str) -> Option<Value> {
        let ex = lock(&self.shared.exporters);
        ex.records
            .iter()
            .find(|r| r.id == export_id)
            .map(|r| self.shared.render(r))
    }

    /// The ids of the exporters that are not deleted, oldest first.
    pub fn exporter_ids(&self) -> Vec<String> {
        let ex = lock(&self.shared.exporters);
        ex.records
            .iter()
            .filter(|r| r.deleted_ms.is_none())
            .map(|r| r.id.clone())
            .collect()
    }

    /// How many exporters exist, deleted ones included.
    pub fn exporter_count(&self) -> usize {
        lock(&self.shared.exporters).records.len()
    }
}
