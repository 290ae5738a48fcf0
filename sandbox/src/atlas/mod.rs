//! An in-process MongoDB Atlas emulator for the log operations.
//!
//! It answers under `/api/atlas/v2` like Atlas does for the operations in
//! `specs/atlas.yaml`, and checks what Atlas checks:
//!
//! * **HTTP Digest** for API keys (MD5, `qop=auth`, realm `MMS Public API`),
//!   verified by [`digest`], written from RFC 7616 (not the client's code).
//!   Nonces expire (an expired nonce with a correct digest is answered
//!   `stale=true`) and a nonce count may not be used twice.
//! * **Service accounts**: `/api/oauth/token` (Basic auth, client
//!   credentials) issues expiring bearer tokens, at most 100 live per account
//!   (then 403); `/api/oauth/revoke` revokes them.
//! * **Versions**: the `Accept` media type must be one `specs/atlas.yaml`
//!   lists for the operation ([`versions`]; else 406 `INVALID_VERSION_DATE`); a version past its sunset
//!   is 410 `VERSION_GONE`; a deprecated one answers with `Deprecation` and
//!   `Sunset`. [`AtlasSandbox::set_version_status`] overrides the table.
//! * **Rate limits** (optional) with 429 `RATE_LIMITED` and `Retry-After`,
//!   and the shared [`Faults`].
//!
//! Log downloads are generated deterministically from (project, host or
//! workspace, log kind) and the window, in the real line formats (audit
//! records with `atype`/`ts`/`local`/`remote`/`users`/`roles`/`param`/
//! `result`; mongod structured lines with `t`/`s`/`c`/`id`/`ctx`/`msg`/
//! `attr`). The `expected_*_lines` methods return what a download of the
//! same window holds. Large windows are generated and compressed in chunks,
//! so a gigabyte of log never sits in memory. Logs exist from 2020-01-01 up
//! to the sandbox clock's "now"; a window outside that is an empty 200.

mod auth;
mod body;
mod data;
pub mod digest;
mod error;
mod operations;
mod routes;
mod state;
mod types;
pub mod versions;

pub use types::{LogName, TimeRange};

use crate::{lock, Clock, Faults, RequestLog, Server, WindowLimit};
use chrono::NaiveDate;
use data::{Kind, LogSpec};
use state::Inner;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The demo organization.
pub const DEMO_ORG_ID: &str = "64b7f3a2c1d0e9f8a7b6c500";
/// The demo project (Atlas calls projects groups).
pub const DEMO_PROJECT_ID: &str = "64b7f3a2c1d0e9f8a7b6c5d4";
/// The demo stream processing workspace.
pub const DEMO_WORKSPACE: &str = "demo-workspace";
/// A second workspace of every project.
pub const DEMO_WORKSPACE_2: &str = "etl-workspace";
/// The stream processors of every workspace.
pub const DEMO_PROCESSORS: [&str; 2] = ["sp-orders", "sp-clickstream"];
/// The demo cluster.
pub const DEMO_CLUSTER: &str = "Cluster0";
/// The hosts of the demo cluster, primary first.
pub const DEMO_HOSTS: [&str; 3] = [
    "cluster0-shard-00-00.x1y2z.mongodb.net",
    "cluster0-shard-00-01.x1y2z.mongodb.net",
    "cluster0-shard-00-02.x1y2z.mongodb.net",
];
/// The demo host: the primary of [`DEMO_CLUSTER`].
pub const DEMO_HOST: &str = DEMO_HOSTS[0];
/// The demo API key's public half.
pub const DEMO_PUBLIC_KEY: &str = "sbxpubky";
/// The demo API key's private half.
pub const DEMO_PRIVATE_KEY: &str = "5a1e7c3d-0b9f-4e2a-8c6d-sandbox00001";
/// The demo service account's client id.
pub const DEMO_CLIENT_ID: &str = "mdb_sa_id_64b7f3a2c1d0e9f8a7b6c5aa";
/// The demo service account's client secret.
pub const DEMO_CLIENT_SECRET: &str = "mdb_sa_sk_sandboxsandboxsandboxsandbox0001";
/// The Digest realm Atlas uses.
pub const REALM: &str = "MMS Public API";

/// How the sandbox treats one resource version of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStatus {
    /// Served without remarks.
    Current,
    /// Served with `Deprecation` and `Sunset` headers.
    Deprecated {
        /// The announced sunset date.
        sunset: NaiveDate,
    },
    /// Past its sunset: 410 `VERSION_GONE`.
    Gone,
    /// Not known to the server: 406 `INVALID_VERSION_DATE`.
    Unknown,
}

/// Options for [`AtlasSandbox`].
#[derive(Debug, Clone)]
pub struct AtlasSandboxBuilder {
    port: u16,
    clock: Clock,
    token_lifetime: Duration,
    nonce_lifetime: Duration,
    max_live_tokens: usize,
    rate_limit: Option<(usize, Duration)>,
    lines_per_hour: u32,
}

impl Default for AtlasSandboxBuilder {
    fn default() -> Self {
        AtlasSandboxBuilder {
            port: 0,
            clock: Clock::new(),
            token_lifetime: Duration::from_secs(3600),
            nonce_lifetime: Duration::from_secs(300),
            max_live_tokens: 100,
            rate_limit: None,
            lines_per_hour: 720,
        }
    }
}

impl AtlasSandboxBuilder {
    listen_options!();

    /// How long issued OAuth tokens live (default 3600 s).
    pub fn token_lifetime(mut self, d: Duration) -> Self {
        self.token_lifetime = d;
        self
    }

    /// How long a Digest nonce stays fresh (default 300 s).
    pub fn nonce_lifetime(mut self, d: Duration) -> Self {
        self.nonce_lifetime = d;
        self
    }

    /// Live tokens allowed per service account (default 100, as Atlas).
    pub fn max_live_tokens(mut self, n: usize) -> Self {
        self.max_live_tokens = n;
        self
    }

    /// Answer 429 once more than `limit` API requests arrive within `per`.
    pub fn rate_limit(mut self, limit: usize, per: Duration) -> Self {
        self.rate_limit = Some((limit, per));
        self
    }

    /// Average log lines per hour per host or workspace (default 720).
    pub fn lines_per_hour(mut self, n: u32) -> Self {
        self.lines_per_hour = n;
        self
    }

    /// Starts the server.
    pub async fn start(self) -> std::io::Result<AtlasSandbox> {
        let log = RequestLog::default();
        let state = Arc::new(Inner {
            clock: self.clock.clone(),
            faults: Faults::default(),
            keys: Mutex::new(HashMap::from([(
                DEMO_PUBLIC_KEY.to_string(),
                DEMO_PRIVATE_KEY.to_string(),
            )])),
            accounts: Mutex::new(HashMap::from([(
                DEMO_CLIENT_ID.to_string(),
                DEMO_CLIENT_SECRET.to_string(),
            )])),
            projects: Mutex::new(BTreeSet::from([DEMO_PROJECT_ID.to_string()])),
            nonces: Mutex::default(),
            tokens: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            versions: Mutex::default(),
            limit: self
                .rate_limit
                .map(|(n, per)| (WindowLimit::new(n, per), per)),
            cfg: self,
        });
        let app = routes::router(state.clone());
        let server = Server::start(app, state.cfg.port, log.clone()).await?;
        Ok(AtlasSandbox { server, state, log })
    }
}

/// A running Atlas emulator. Dropping it stops the server.
pub struct AtlasSandbox {
    server: Server,
    state: Arc<Inner>,
    log: RequestLog,
}

impl std::fmt::Debug for AtlasSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlasSandbox")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl AtlasSandbox {
    /// Starts a sandbox with the defaults.
    pub async fn start() -> std::io::Result<Self> {
        AtlasSandboxBuilder::default().start().await
    }

    /// Options.
    pub fn builder() -> AtlasSandboxBuilder {
        AtlasSandboxBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, the client's endpoint.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Fault injection. Operation names are the operation ids
    /// (`download_cluster_log`, `list_project_events`, …) plus
    /// `oauth_token` and `oauth_revoke`; downloads count as
    /// [`FaultTarget::Download`](super::FaultTarget::Download).
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// The sandbox clock.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// Every request served, including Digest challenges and token requests.
    pub fn requests(&self) -> &RequestLog {
        &self.log
    }

    /// Registers another API key.
    pub fn add_api_key(&self, public_key: &str, private_key: &str) {
        lock(&self.state.keys).insert(public_key.into(), private_key.into());
    }

    /// Registers another service account.
    pub fn add_service_account(&self, client_id: &str, client_secret: &str) {
        lock(&self.state.accounts).insert(client_id.into(), client_secret.into());
    }

    /// Makes another project id exist (with the same demo workspaces, hosts
    /// and events as the demo project, but its own log content).
    pub fn add_project(&self, project_id: &str) {
        lock(&self.state.projects).insert(project_id.to_ascii_lowercase());
    }

    /// Overrides how a version of an operation is treated. `version` is a
    /// date (`2023-02-01`) or a full media type; the suffix (`+json`,
    /// `+gzip`) is taken from the operation's table entry.
    pub fn set_version_status(&self, operation: &str, version: &str, status: VersionStatus) {
        let media = if version.starts_with("application/") {
            version.to_string()
        } else {
            let suffix = versions::of(operation)
                .and_then(|e| e.default.rsplit_once('+').map(|(_, s)| s))
                .unwrap_or("json");
            format!("application/vnd.atlas.{version}+{suffix}")
        };
        lock(&self.state.versions).insert((operation.to_string(), media), status);
    }

    /// Token requests served so far (successful or not).
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Tokens that are neither expired nor revoked.
    pub fn live_tokens(&self) -> usize {
        let now = self.state.clock.unix_millis();
        lock(&self.state.tokens)
            .values()
            .filter(|t| !t.revoked && t.expires_ms > now)
            .count()
    }

    /// Every token issued so far, for tests that replay one by hand.
    pub fn issued_token_values(&self) -> Vec<String> {
        lock(&self.state.tokens).keys().cloned().collect()
    }

    /// The lines a stream audit log download of `range` holds.
    pub fn expected_stream_audit_lines(
        &self,
        project: &str,
        workspace: &str,
        processor: Option<&str>,
        range: impl Into<TimeRange>,
    ) -> Vec<String> {
        self.expected_stream(
            Kind::StreamAudit,
            project,
            workspace,
            processor,
            range.into(),
        )
    }

    /// The lines a stream operational log download of `range` holds.
    pub fn expected_stream_operational_lines(
        &self,
        project: &str,
        workspace: &str,
        processor: Option<&str>,
        range: impl Into<TimeRange>,
    ) -> Vec<String> {
        self.expected_stream(Kind::StreamOps, project, workspace, processor, range.into())
    }

    /// The lines a cluster host log download of `range` holds.
    pub fn expected_cluster_log_lines(
        &self,
        project: &str,
        host: &str,
        log_name: impl Into<LogName>,
        range: impl Into<TimeRange>,
    ) -> Vec<String> {
        let (log_name, range) = (log_name.into(), range.into());
        let st = &self.state;
        self.expected(LogSpec::host(
            st.clock.unix_secs(),
            st.cfg.lines_per_hour,
            project,
            host,
            log_name,
            secs(&range),
        ))
    }

    fn expected_stream(
        &self,
        kind: Kind,
        project: &str,
        workspace: &str,
        processor: Option<&str>,
        range: TimeRange,
    ) -> Vec<String> {
        let st = &self.state;
        self.expected(LogSpec::stream(
            st.clock.unix_secs(),
            st.cfg.lines_per_hour,
            kind,
            project,
            workspace,
            processor,
            secs(&range),
        ))
    }

    fn expected(&self, spec: LogSpec) -> Vec<String> {
        let mut out = Vec::new();
        spec.for_each_line(|l| out.push(l.to_string()));
        out
    }
}

/// A window in the seconds the download endpoints take.
fn secs(range: &TimeRange) -> (i64, i64) {
    (range.start.timestamp(), range.end.timestamp())
}
