//! An emulator of Tencent Cloud CLS for the five actions this crate uses:
//! CreateExport, DescribeExports, DeleteExport, DescribeTopics, SearchLog.
//!
//! It answers like Tencent: `POST /` with the action in `X-TC-Action`,
//! `{"Response": …}` envelopes with a uuid `RequestId`, errors inside HTTP
//! 200, and a `Date` header on every response. It verifies TC3 signatures
//! with the registered secrets (recomputed by [`tc3`], written from
//! Tencent's documentation, not the client's code): a wrong signature, a timestamp more than
//! five minutes off the sandbox [`Clock`], an unknown SecretId or a wrong
//! session token are refused with the codes Tencent uses.
//!
//! Export tasks move Queuing → Processing → Completed on the sandbox clock
//! (short, configurable durations), expire after 3 days, and serve their file
//! from a signed `/cos/<export id>` URL of the sandbox's own that expires
//! after an hour. The file is a `.tar.gz` of JSON lines or CSV, generated on
//! the fly in chunks, so even multi-gigabyte exports cost no memory. The
//! logs are deterministic: [`expected_records`] returns exactly what an
//! export will contain. CreateExport and DescribeExports are limited to 20
//! requests per second each, and the shared [`Faults`] inject errors,
//! latency, resets and truncations.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use logexport_sandbox::tencent_cls::TencentClsSandbox;
//!
//! let sandbox = TencentClsSandbox::start().await?;
//! println!("CLS emulator at {}", sandbox.endpoint());
//! # Ok(()) }
//! ```

mod actions;
mod archive;
mod cos;
mod data;
mod envelope;
mod routes;
mod search;
mod state;
pub mod tc3;
mod types;

pub use data::{expected_count, expected_record, expected_records, expected_search};
pub use search::{SEARCH_CONTEXT_CAP, SEARCH_CONTEXT_TTL_SECS};
pub use types::{
    is_region, ExportParams, Format, Order, Secret, TimeRange, API_VERSION, MAX_EXPORT_COUNT,
};

use crate::{lock, Clock, Faults, RequestLog, Server, WindowLimit};
use state::{Registered, SandboxState};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The SecretId of the demo account.
pub const DEMO_SECRET_ID: &str = "AKIDlogexportSandboxDemo0000000000";
/// The SecretKey of the demo account. Not a secret: it only opens the sandbox.
pub const DEMO_SECRET_KEY: &str = "logexport-sandbox-demo-secret-key";
/// The SecretId of the demo temporary credentials.
pub const DEMO_TEMP_SECRET_ID: &str = "AKIDlogexportSandboxTemp0000000000";
/// The SecretKey of the demo temporary credentials.
pub const DEMO_TEMP_SECRET_KEY: &str = "logexport-sandbox-temporary-key";
/// The session token that must accompany [`DEMO_TEMP_SECRET_ID`].
pub const DEMO_SESSION_TOKEN: &str = "logexport-sandbox-session-token";
/// The region the demo client uses (any well-formed region is accepted).
pub const DEMO_REGION: &str = "ap-guangzhou";
/// The demo application-log topic.
pub const DEMO_TOPIC_ID: &str = "5c1d7b0e-3f4a-4e2b-9c8d-7a6b5c4d3e2f";
/// The demo audit-log topic.
pub const DEMO_AUDIT_TOPIC_ID: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
/// The logset both demo topics belong to.
pub const DEMO_LOGSET_ID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/// Every topic holds one log per this many milliseconds (at a jittered
/// time inside each interval).
pub const LOG_INTERVAL_MS: i64 = 100;

/// Actions limited to 20 requests per second.
const LIMITED: &[&str] = &["CreateExport", "DescribeExports"];

/// Options for [`TencentClsSandbox`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TencentClsSandboxBuilder {
    port: u16,
    clock: Clock,
    queuing: Duration,
    processing: Duration,
    retention: Duration,
    link_ttl: Duration,
    max_skew: Duration,
    rate_limit: Option<usize>,
    extra_credentials: Vec<Secret>,
}

impl Default for TencentClsSandboxBuilder {
    fn default() -> Self {
        TencentClsSandboxBuilder {
            port: 0,
            clock: Clock::new(),
            queuing: Duration::from_secs(1),
            processing: Duration::from_secs(1),
            retention: Duration::from_secs(3 * 24 * 3600),
            link_ttl: Duration::from_secs(3600),
            max_skew: Duration::from_secs(300),
            rate_limit: Some(20),
            extra_credentials: Vec::new(),
        }
    }
}

impl TencentClsSandboxBuilder {
    listen_options!();

    /// How long a new export stays Queuing, then Processing (default 1 s each).
    pub fn lifecycle(mut self, queuing: Duration, processing: Duration) -> Self {
        self.queuing = queuing;
        self.processing = processing;
        self
    }

    /// How long an export lives before it is Expired (default 3 days).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long a `CosPath` URL stays valid (default 1 hour).
    pub fn link_ttl(mut self, ttl: Duration) -> Self {
        self.link_ttl = ttl;
        self
    }

    /// Requests per second allowed for CreateExport and DescribeExports
    /// each (default 20, like CLS); `None` turns the limit off.
    pub fn rate_limit(mut self, per_second: Option<usize>) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// Registers more credentials besides the demo ones.
    pub fn credentials(mut self, credentials: impl Into<Secret>) -> Self {
        self.extra_credentials.push(credentials.into());
        self
    }

    /// Starts the server.
    pub async fn start(self) -> io::Result<TencentClsSandbox> {
        let mut creds = HashMap::new();
        let mut register = |c: &Secret| {
            creds.insert(
                c.secret_id.clone(),
                Registered {
                    key: c.secret_key.clone(),
                    token: c.session_token.clone(),
                },
            );
        };
        register(&demo_credentials());
        register(&demo_temporary_credentials());
        for c in &self.extra_credentials {
            register(c);
        }
        let limits = match self.rate_limit {
            Some(n) => LIMITED
                .iter()
                .map(|a| (*a, WindowLimit::new(n, Duration::from_secs(1))))
                .collect(),
            None => HashMap::new(),
        };
        let state = Arc::new(SandboxState {
            clock: self.clock,
            faults: Faults::default(),
            log: RequestLog::default(),
            queuing_ms: self.queuing.as_millis() as i64,
            processing_ms: self.processing.as_millis() as i64,
            retention_ms: self.retention.as_millis() as i64,
            link_ttl_secs: self.link_ttl.as_secs().max(1) as i64,
            max_skew_secs: self.max_skew.as_secs() as i64,
            credentials: Mutex::new(creds),
            exports: Mutex::new(Vec::new()),
            limits,
            throttled: AtomicU64::new(0),
            calls: Mutex::new(HashMap::new()),
            link_secret: crate::random(),
        });
        let app = routes::router(state.clone());
        let server = Server::start(app, self.port, state.log.clone()).await?;
        Ok(TencentClsSandbox { server, state })
    }
}

/// A running CLS emulator on 127.0.0.1. Dropping it stops the server.
#[derive(Debug)]
pub struct TencentClsSandbox {
    server: Server,
    state: Arc<SandboxState>,
}

impl TencentClsSandbox {
    /// Starts with defaults on a free port.
    pub async fn start() -> io::Result<Self> {
        TencentClsSandboxBuilder::default().start().await
    }

    /// Options.
    pub fn builder() -> TencentClsSandboxBuilder {
        TencentClsSandboxBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Registers more credentials while running.
    pub fn register(&self, credentials: impl Into<Secret>) {
        let credentials = credentials.into();
        lock(&self.state.credentials).insert(
            credentials.secret_id,
            Registered {
                key: credentials.secret_key,
                token: credentials.session_token,
            },
        );
    }

    /// The demo topic ids.
    pub fn topic_ids(&self) -> [&'static str; 2] {
        [DEMO_TOPIC_ID, DEMO_AUDIT_TOPIC_ID]
    }

    /// Fault injection. Operations are action names (`CreateExport`, …)
    /// and `Download` for the export file; `FaultTarget::Download` matches
    /// file downloads too.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// The sandbox's notion of now.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// Every request served (all API calls have the path `/`).
    pub fn requests(&self) -> &RequestLog {
        &self.state.log
    }

    /// How many requests named `action` reached the emulator.
    pub fn calls(&self, action: &str) -> usize {
        lock(&self.state.calls).get(action).copied().unwrap_or(0)
    }

    /// How many requests the rate limit refused with `RequestLimitExceeded`.
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::Relaxed)
    }

    /// The ids of every export task, oldest first.
    pub fn export_ids(&self) -> Vec<String> {
        lock(&self.state.exports)
            .iter()
            .map(|e| e.id.clone())
            .collect()
    }

    /// Makes an export task `Failed`. Returns whether it exists.
    pub fn fail_export(&self, export_id: &str) -> bool {
        let mut exports = lock(&self.state.exports);
        match exports.iter_mut().find(|e| e.id == export_id) {
            Some(e) => {
                e.failed = true;
                true
            }
            None => false,
        }
    }
}

/// The demo account.
pub fn demo_credentials() -> Secret {
    Secret::new(DEMO_SECRET_ID, DEMO_SECRET_KEY)
}

/// The demo temporary credentials.
pub fn demo_temporary_credentials() -> Secret {
    Secret::new(DEMO_TEMP_SECRET_ID, DEMO_TEMP_SECRET_KEY).with_session_token(DEMO_SESSION_TOKEN)
}
