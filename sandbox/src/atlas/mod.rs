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

mod body;
mod data;
pub mod digest;
mod types;
pub mod versions;

pub use types::{LogName, TimeRange};

use crate::{Clock, Fault, Faults, RequestLog, Server, WindowLimit};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use body::gzip_response;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use data::{
    access_entry, event_json, process_json, workspace_json, Kind, LogSpec, DATA_EPOCH, ORG_EVENTS,
    PROJECT_EVENTS,
};
use digest::{Challenge, Credentials as DigestCredentials};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::collections::{BTreeSet, HashMap, HashSet};
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
    /// Listen on this port (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Use this clock (shared with the test) for token and nonce expiry,
    /// version sunsets and the "now" that ends every log.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

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
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
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

struct Inner {
    cfg: AtlasSandboxBuilder,
    clock: Clock,
    faults: Faults,
    keys: Mutex<HashMap<String, String>>,
    accounts: Mutex<HashMap<String, String>>,
    projects: Mutex<BTreeSet<String>>,
    nonces: Mutex<HashMap<String, NonceInfo>>,
    tokens: Mutex<HashMap<String, TokenInfo>>,
    token_requests: AtomicUsize,
    versions: Mutex<HashMap<(String, String), VersionStatus>>,
    limit: Option<(WindowLimit, Duration)>,
}

struct NonceInfo {
    issued_ms: i64,
    seen: HashSet<u32>,
}

struct TokenInfo {
    client_id: String,
    expires_ms: i64,
    revoked: bool,
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
        self.state
            .keys
            .lock()
            .expect("lock")
            .insert(public_key.into(), private_key.into());
    }

    /// Registers another service account.
    pub fn add_service_account(&self, client_id: &str, client_secret: &str) {
        self.state
            .accounts
            .lock()
            .expect("lock")
            .insert(client_id.into(), client_secret.into());
    }

    /// Makes another project id exist (with the same demo workspaces, hosts
    /// and events as the demo project, but its own log content).
    pub fn add_project(&self, project_id: &str) {
        self.state
            .projects
            .lock()
            .expect("lock")
            .insert(project_id.to_ascii_lowercase());
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
        self.state
            .versions
            .lock()
            .expect("lock")
            .insert((operation.to_string(), media), status);
    }

    /// Token requests served so far (successful or not).
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Tokens that are neither expired nor revoked.
    pub fn live_tokens(&self) -> usize {
        let now = self.state.clock.unix_millis();
        self.state
            .tokens
            .lock()
            .expect("lock")
            .values()
            .filter(|t| !t.revoked && t.expires_ms > now)
            .count()
    }

    /// Every token issued so far, for tests that replay one by hand.
    pub fn issued_token_values(&self) -> Vec<String> {
        self.state
            .tokens
            .lock()
            .expect("lock")
            .keys()
            .cloned()
            .collect()
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

// ------------------------------------------------------------------ routing

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    ClusterLog {
        group: String,
        host: String,
        log_name: String,
    },
    StreamAudit {
        group: String,
        tenant: String,
    },
    StreamOps {
        group: String,
        tenant: String,
    },
    Workspaces {
        group: String,
    },
    Workspace {
        group: String,
        tenant: String,
    },
    Processes {
        group: String,
    },
    ProjectEvents {
        group: String,
    },
    OrgEvents {
        org: String,
    },
    AccessHistory {
        group: String,
        cluster: String,
    },
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/api/atlas/v2/")?;
        let seg: Vec<String> = rest.split('/').map(percent_decode).collect();
        let s: Vec<&str> = seg.iter().map(String::as_str).collect();
        let g = |i: usize| seg[i].clone();
        Some(match s.as_slice() {
            ["groups", _, "clusters", _, "logs", file] => Route::ClusterLog {
                group: g(1),
                host: g(3),
                log_name: file.strip_suffix(".gz")?.to_string(),
            },
            ["groups", _, "streams"] => Route::Workspaces { group: g(1) },
            ["groups", _, "streams", t] => match t.rsplit_once(':') {
                Some((tenant, "downloadOperationalLogs")) => Route::StreamOps {
                    group: g(1),
                    tenant: tenant.to_string(),
                },
                _ => Route::Workspace {
                    group: g(1),
                    tenant: g(3),
                },
            },
            ["groups", _, "streams", _, "auditLogs"] => Route::StreamAudit {
                group: g(1),
                tenant: g(3),
            },
            ["groups", _, "processes"] => Route::Processes { group: g(1) },
            ["groups", _, "events"] => Route::ProjectEvents { group: g(1) },
            ["orgs", _, "events"] => Route::OrgEvents { org: g(1) },
            ["groups", _, "dbAccessHistory", "clusters", _] => Route::AccessHistory {
                group: g(1),
                cluster: g(4),
            },
            _ => return None,
        })
    }

    fn operation(&self) -> &'static str {
        match self {
            Route::ClusterLog { .. } => "download_cluster_log",
            Route::StreamAudit { .. } => "download_stream_audit_logs",
            Route::StreamOps { .. } => "download_stream_operational_logs",
            Route::Workspaces { .. } => "list_stream_workspaces",
            Route::Workspace { .. } => "get_stream_workspace",
            Route::Processes { .. } => "list_processes",
            Route::ProjectEvents { .. } => "list_project_events",
            Route::OrgEvents { .. } => "list_org_events",
            Route::AccessHistory { .. } => "get_db_access_history_cluster",
        }
    }

    fn is_download(&self) -> bool {
        matches!(
            self,
            Route::ClusterLog { .. } | Route::StreamAudit { .. } | Route::StreamOps { .. }
        )
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

type Query = Vec<(String, String)>;

fn query_of(req: &Request) -> Query {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn first<'a>(q: &'a Query, key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn all<'a>(q: &'a Query, key: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

async fn handle(State(st): State<Arc<Inner>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/api/oauth/token" || path == "/api/oauth/revoke" {
        if method != Method::POST {
            return api_error(405, "METHOD_NOT_ALLOWED", "use POST", None);
        }
        let headers = req.headers().clone();
        let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let operation = if path.ends_with("token") {
            "oauth_token"
        } else {
            "oauth_revoke"
        };
        let fault = st.faults.take(operation, false);
        Faults::delay(fault.as_ref()).await;
        if let Some(r) = injected_error(fault.as_ref(), operation) {
            return r;
        }
        return if operation == "oauth_token" {
            st.issue_token(&headers, &body)
        } else {
            st.revoke(&headers, &body)
        };
    }
    if !path.starts_with("/api/atlas/v2/") {
        return not_found(&path);
    }
    if let Err(denied) = st.authenticate(&req) {
        return *denied;
    }
    let Some(route) = Route::parse(&path).filter(|_| method == Method::GET) else {
        return not_found(&path);
    };
    let operation = route.operation();
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (media, notice) = match st.check_version(operation, accept) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let fault = st.faults.take(operation, route.is_download());
    Faults::delay(fault.as_ref()).await;
    if let Some(r) = injected_error(fault.as_ref(), operation) {
        return r;
    }
    if let Some((limit, per)) = &st.limit {
        if !limit.admit() {
            let secs = per.as_secs_f64().ceil().max(1.0) as u64;
            return api_error(
                429,
                "RATE_LIMITED",
                "You have exceeded the rate limit for this resource.",
                Some(secs),
            );
        }
    }
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let q = query_of(&req);
    let result = match &route {
        Route::ClusterLog {
            group,
            host: h,
            log_name,
        } => st.cluster_log(group, h, log_name, &q, fault.as_ref()).await,
        Route::StreamAudit { group, tenant } => {
            st.stream_log(Kind::StreamAudit, group, tenant, &q, fault.as_ref())
                .await
        }
        Route::StreamOps { group, tenant } => {
            st.stream_log(Kind::StreamOps, group, tenant, &q, fault.as_ref())
                .await
        }
        other => st
            .json_route(other, &q, &host, &path)
            .map(|v| json_response(&v, fault.as_ref())),
    };
    let mut response = match result {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let h = response.headers_mut();
    // Atlas labels answers with the versioned media type it served.
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Some((deprecation, sunset)) = notice {
        h.insert(
            "deprecation",
            HeaderValue::from_str(&deprecation).expect("http date"),
        );
        h.insert("sunset", HeaderValue::from_str(&sunset).expect("http date"));
    }
    response
}

type Reply = Result<Response, Box<Response>>;

/// The answer to an injected `Fault::Error`, if `fault` is one.
fn injected_error(fault: Option<&Fault>, operation: &str) -> Option<Response> {
    match fault {
        Some(Fault::Error {
            status,
            code,
            retry_after,
        }) => Some(api_error(
            *status,
            code,
            format!("injected fault for {operation}"),
            *retry_after,
        )),
        _ => None,
    }
}

/// Atlas's 404 for a path it does not serve.
fn not_found(path: &str) -> Response {
    api_error(
        404,
        "RESOURCE_NOT_FOUND",
        format!("Cannot find resource {path}"),
        None,
    )
}

fn api_error(
    status: u16,
    code: &str,
    detail: impl Into<String>,
    retry_after: Option<u64>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "detail": detail.into(),
        "error": status.as_u16(),
        "errorCode": code,
        "parameters": [],
        "reason": status.canonical_reason().unwrap_or("Error"),
    });
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert("x-error-code", v);
    }
    if let Some(s) = retry_after {
        h.insert(http::header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

fn bad_query(detail: impl Into<String>) -> Box<Response> {
    Box::new(api_error(400, "INVALID_QUERY_PARAMETER", detail, None))
}

fn json_response(v: &serde_json::Value, fault: Option<&Fault>) -> Response {
    let (body, len) = Faults::body(Bytes::from(v.to_string()), fault);
    let mut r = Response::new(body);
    if let Some(len) = len {
        r.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

fn http_date(d: DateTime<Utc>) -> String {
    d.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

// ------------------------------------------------------------- auth

impl Inner {
    fn challenge(&self, stale: bool) -> Response {
        let nonce = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>());
        let mut nonces = self.nonces.lock().expect("lock");
        let now = self.clock.unix_millis();
        if nonces.len() > 10_000 {
            let ttl = self.cfg.nonce_lifetime.as_millis() as i64;
            nonces.retain(|_, n| now - n.issued_ms < ttl);
        }
        nonces.insert(
            nonce.clone(),
            NonceInfo {
                issued_ms: now,
                seen: HashSet::new(),
            },
        );
        drop(nonces);
        let ch = Challenge {
            realm: REALM.into(),
            nonce,
            stale,
        };
        let mut r = api_error(
            401,
            "UNAUTHORIZED",
            "You are not authorized for this resource.",
            None,
        );
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&ch.header_value()).expect("ascii"),
        );
        r
    }

    fn authenticate(&self, req: &Request) -> Result<(), Box<Response>> {
        let Some(header) = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(Box::new(self.challenge(false)));
        };
        if let Some(token) = header.strip_prefix("Bearer ") {
            let now = self.clock.unix_millis();
            let tokens = self.tokens.lock().expect("lock");
            return match tokens.get(token.trim()) {
                Some(t) if !t.revoked && t.expires_ms > now => Ok(()),
                _ => Err(Box::new(self.challenge(false))),
            };
        }
        let Some(auth) = DigestCredentials::parse(header) else {
            return Err(Box::new(self.challenge(false)));
        };
        let password = self.keys.lock().expect("lock").get(&auth.username).cloned();
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        // Atlas offers only MD5; a client claiming another algorithm did
        // not answer this challenge, whatever its hash happens to be.
        let valid = auth.realm == REALM
            && auth
                .algorithm
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
            && auth.uri == target
            && password.is_some_and(|p| auth.verify(req.method().as_str(), &p));
        if !valid {
            return Err(Box::new(self.challenge(false)));
        }
        let now = self.clock.unix_millis();
        let ttl = self.cfg.nonce_lifetime.as_millis() as i64;
        let mut nonces = self.nonces.lock().expect("lock");
        let Some(n) = nonces.get_mut(&auth.nonce) else {
            drop(nonces);
            return Err(Box::new(self.challenge(false)));
        };
        if now - n.issued_ms >= ttl {
            nonces.remove(&auth.nonce);
            drop(nonces);
            // The digest was right; only the nonce is old.
            return Err(Box::new(self.challenge(true)));
        }
        // A nonce count seen before is a replay. Concurrent requests may
        // arrive out of order, so any unseen count is accepted.
        let nc = auth.nonce_count().unwrap_or(0);
        if nc == 0 || !n.seen.insert(nc) {
            drop(nonces);
            return Err(Box::new(self.challenge(false)));
        }
        Ok(())
    }

    fn basic_client(&self, headers: &HeaderMap) -> Option<String> {
        let h = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("Basic ")?.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (id, secret) = text.split_once(':')?;
        let known = self.accounts.lock().expect("lock").get(id).cloned()?;
        (known.len() == secret.len()
            && known
                .bytes()
                .zip(secret.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0)
            .then(|| id.to_string())
    }

    fn issue_token(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
        let Some(client_id) = self.basic_client(headers) else {
            return oauth_error(401, "invalid_client", "Invalid client credentials.");
        };
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        if !form
            .iter()
            .any(|(k, v)| k == "grant_type" && v == "client_credentials")
        {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported.",
            );
        }
        let now = self.clock.unix_millis();
        let mut tokens = self.tokens.lock().expect("lock");
        let live = tokens
            .values()
            .filter(|t| t.client_id == client_id && !t.revoked && t.expires_ms > now)
            .count();
        if live >= self.cfg.max_live_tokens {
            return oauth_error(
                403,
                "access_denied",
                &format!("The service account already has {live} active access tokens; revoke one or reuse it."),
            );
        }
        let token = format!("sbx.{}", hex::encode(rand::random::<[u8; 24]>()));
        let lifetime = self.cfg.token_lifetime;
        tokens.insert(
            token.clone(),
            TokenInfo {
                client_id,
                expires_ms: now + lifetime.as_millis() as i64,
                revoked: false,
            },
        );
        let body = serde_json::json!({"access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer"});
        let mut r = Response::new(Body::from(body.to_string()));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        r
    }

    fn revoke(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let Some(client_id) = self.basic_client(headers) else {
            return oauth_error(401, "invalid_client", "Invalid client credentials.");
        };
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let Some(token) = form
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.clone())
        else {
            return oauth_error(400, "invalid_request", "The token parameter is required.");
        };
        // RFC 7009: an unknown token is not an error.
        if let Some(t) = self.tokens.lock().expect("lock").get_mut(&token) {
            if t.client_id == client_id {
                t.revoked = true;
            }
        }
        Response::new(Body::empty())
    }

    // --------------------------------------------------------- versions

    /// The media type to answer with and, for deprecated versions, the
    /// `Deprecation` and `Sunset` values.
    #[allow(clippy::type_complexity)]
    fn check_version(
        &self,
        operation: &str,
        accept: &str,
    ) -> Result<(&'static str, Option<(String, String)>), Box<Response>> {
        let entry = versions::of(operation).expect("the spec lists every routed operation");
        let requested = accept
            .split(',')
            .map(|p| p.split(';').next().unwrap_or("").trim())
            .find(|p| p.starts_with("application/vnd.atlas."));
        let invalid = |what: String| {
            Box::new(api_error(
                406,
                "INVALID_VERSION_DATE",
                format!(
                    "{what}; this resource supports: {}",
                    entry
                        .listed
                        .iter()
                        .map(|(m, _)| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ))
        };
        let Some(requested) = requested else {
            return Err(invalid(format!(
                "The Accept header `{accept}` names no API version"
            )));
        };
        let Some(index) = entry.listed.iter().position(|(m, _)| m == requested) else {
            return Err(invalid(format!(
                "`{requested}` is not a valid version of this resource"
            )));
        };
        let (media, table_sunset) = &entry.listed[index];
        let media = media.as_str();
        let today = self.clock.now();
        let today: DateTime<Utc> = today.into();
        let overridden = self
            .versions
            .lock()
            .expect("lock")
            .get(&(operation.to_string(), media.to_string()))
            .copied();
        let sunset = match overridden {
            Some(VersionStatus::Unknown) => {
                return Err(invalid(format!(
                    "`{requested}` is not a valid version of this resource"
                )))
            }
            Some(VersionStatus::Gone) => return Err(gone(media)),
            Some(VersionStatus::Current) => None,
            Some(VersionStatus::Deprecated { sunset }) => Some(sunset),
            None => table_sunset
                .as_deref()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()),
        };
        let Some(sunset) = sunset else {
            return Ok((media, None));
        };
        if sunset <= today.date_naive() {
            return Err(gone(media));
        }
        // Deprecated since the next version appeared, or since today when
        // there is none (an override on the newest version).
        let mut dates: Vec<&str> = entry
            .listed
            .iter()
            .filter_map(|(m, _)| versions::date_of(m))
            .collect();
        dates.sort_unstable();
        let own = versions::date_of(media).unwrap_or("");
        let since = dates
            .iter()
            .find(|d| **d > own)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or(today.date_naive());
        let at_midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        Ok((
            media,
            Some((
                http_date(at_midnight(since)),
                http_date(at_midnight(sunset)),
            )),
        ))
    }

    // ------------------------------------------------------------ data

    fn known_project(&self, group: &str) -> Result<(), Box<Response>> {
        if group.len() != 24 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Box::new(api_error(
                400,
                "INVALID_GROUP_ID",
                format!("{group} is not a valid group id"),
                None,
            )));
        }
        if !self
            .projects
            .lock()
            .expect("lock")
            .contains(&group.to_ascii_lowercase())
        {
            return Err(Box::new(api_error(
                404,
                "GROUP_NOT_FOUND",
                format!("No group with ID {group} exists."),
                None,
            )));
        }
        Ok(())
    }

    /// `startDate`/`endDate` in seconds, with the operation's defaults.
    fn window_secs(&self, q: &Query, default_len: i64) -> Result<(i64, i64), Box<Response>> {
        let parse = |k: &str| -> Result<Option<i64>, Box<Response>> {
            match first(q, k) {
                None => Ok(None),
                Some(v) => {
                    let n: i64 = v.parse().map_err(|_| {
                        bad_query(format!("{k} must be an integer number of seconds"))
                    })?;
                    if !(1_199_145_600..100_000_000_000).contains(&n) {
                        return Err(bad_query(format!(
                            "{k}={n} is not a time in seconds since the epoch from 2008 on"
                        )));
                    }
                    Ok(Some(n))
                }
            }
        };
        let now = self.clock.unix_secs();
        let (start, end) = match (parse("startDate")?, parse("endDate")?) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, s + default_len),
            (None, Some(e)) => (e - default_len, e),
            (None, None) => (now - default_len, now),
        };
        if start >= end {
            return Err(bad_query("startDate must be before endDate"));
        }
        Ok((start, end))
    }

    async fn cluster_log(
        &self,
        group: &str,
        host: &str,
        log_name: &str,
        q: &Query,
        fault: Option<&Fault>,
    ) -> Reply {
        self.known_project(group)?;
        let log_name = LogName::parse(log_name).ok_or_else(|| {
            Box::new(api_error(
                400,
                "INVALID_ENUM_VALUE",
                format!("{log_name} is not a valid logName"),
                None,
            ))
        })?;
        if !DEMO_HOSTS.contains(&host) {
            return Err(Box::new(api_error(
                404,
                "HOST_NOT_FOUND",
                format!("No host with name {host} exists in group {group}."),
                None,
            )));
        }
        let (start, end) = self.window_secs(q, 86_400)?;
        let spec = LogSpec::host(
            self.clock.unix_secs(),
            self.cfg.lines_per_hour,
            group,
            host,
            log_name,
            (start, end),
        );
        let name = format!(
            "{host}_{}_{}_{log_name}.log.gz",
            file_time(start),
            file_time(end)
        );
        Ok(gzip_response(spec, &name, fault).await)
    }

    async fn stream_log(
        &self,
        kind: Kind,
        group: &str,
        tenant: &str,
        q: &Query,
        fault: Option<&Fault>,
    ) -> Reply {
        self.known_project(group)?;
        if tenant != DEMO_WORKSPACE && tenant != DEMO_WORKSPACE_2 {
            return Err(Box::new(api_error(
                404,
                "STREAM_TENANT_NOT_FOUND_FOR_NAME",
                format!("No stream processing workspace named {tenant} exists."),
                None,
            )));
        }
        let processor = first(q, "spName").filter(|p| !p.is_empty());
        if let Some(p) = processor {
            if !DEMO_PROCESSORS.contains(&p) {
                return Err(Box::new(api_error(
                    404,
                    "STREAM_PROCESSOR_NOT_FOUND",
                    format!("No stream processor named {p} exists."),
                    None,
                )));
            }
        }
        let (start, end) = self.window_secs(q, 30 * 86_400)?;
        let spec = LogSpec::stream(
            self.clock.unix_secs(),
            self.cfg.lines_per_hour,
            kind,
            group,
            tenant,
            processor,
            (start, end),
        );
        let what = if kind == Kind::StreamAudit {
            "auditLogs"
        } else {
            "operationalLogs"
        };
        let name = format!("{tenant}_{what}_{}_{}.gz", file_time(start), file_time(end));
        Ok(gzip_response(spec, &name, fault).await)
    }

    fn json_route(
        &self,
        route: &Route,
        q: &Query,
        host: &str,
        path: &str,
    ) -> Result<serde_json::Value, Box<Response>> {
        match route {
            Route::Workspaces { group } => {
                self.known_project(group)?;
                let all: Vec<_> = [DEMO_WORKSPACE, DEMO_WORKSPACE_2]
                    .iter()
                    .map(|w| workspace_json(group, w))
                    .collect();
                paged(all, q, host, path)
            }
            Route::Workspace { group, tenant } => {
                self.known_project(group)?;
                if tenant != DEMO_WORKSPACE && tenant != DEMO_WORKSPACE_2 {
                    return Err(Box::new(api_error(
                        404,
                        "STREAM_TENANT_NOT_FOUND_FOR_NAME",
                        format!("No stream processing workspace named {tenant} exists."),
                        None,
                    )));
                }
                Ok(workspace_json(group, tenant))
            }
            Route::Processes { group } => {
                self.known_project(group)?;
                let now = self.clock.unix_secs();
                let all: Vec<_> = DEMO_HOSTS
                    .iter()
                    .enumerate()
                    .map(|(i, h)| process_json(group, h, i, now))
                    .collect();
                paged(all, q, host, path)
            }
            Route::ProjectEvents { group } => {
                self.known_project(group)?;
                let events = (0..PROJECT_EVENTS)
                    .map(|i| event_json(Some(group), i))
                    .collect();
                paged(filter_events(events, q, true)?, q, host, path)
            }
            Route::OrgEvents { org } => {
                if org.len() != 24 || !org.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Box::new(api_error(
                        400,
                        "INVALID_ORG_ID",
                        format!("{org} is not a valid organization id"),
                        None,
                    )));
                }
                if !org.eq_ignore_ascii_case(DEMO_ORG_ID) {
                    return Err(Box::new(api_error(
                        404,
                        "ORG_NOT_FOUND",
                        format!("No organization with ID {org} exists."),
                        None,
                    )));
                }
                let events = (0..ORG_EVENTS).map(|i| event_json(None, i)).collect();
                paged(filter_events(events, q, false)?, q, host, path)
            }
            Route::AccessHistory { group, cluster } => {
                self.known_project(group)?;
                if cluster != DEMO_CLUSTER {
                    return Err(Box::new(api_error(
                        404,
                        "CLUSTER_NOT_FOUND",
                        format!("No cluster named {cluster} exists in group {group}."),
                        None,
                    )));
                }
                self.access_history(group, q)
            }
            _ => unreachable!("downloads are handled separately"),
        }
    }

    fn access_history(&self, group: &str, q: &Query) -> Result<serde_json::Value, Box<Response>> {
        let ms = |k: &str| -> Result<Option<i64>, Box<Response>> {
            match first(q, k) {
                None => Ok(None),
                Some(v) => {
                    let n: i64 = v.parse().map_err(|_| {
                        bad_query(format!("{k} must be an integer number of milliseconds"))
                    })?;
                    if n < 1_199_145_600_000 {
                        return Err(bad_query(format!(
                            "{k}={n} is not a time in milliseconds since the epoch from 2008 on"
                        )));
                    }
                    Ok(Some(n))
                }
            }
        };
        let now = self.clock.unix_millis();
        let (start, end) = match (ms("start")?, ms("end")?) {
            (Some(s), Some(e)) if s < e => (s, e),
            (Some(_), Some(_)) => return Err(bad_query("start must be before end")),
            (None, None) => (now - 86_400_000, now),
            _ => return Err(bad_query("start and end must be given together")),
        };
        let n_logs: usize = match first(q, "nLogs") {
            None => 20_000,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n <= 20_000 => n,
                _ => return Err(bad_query("nLogs must be between 0 and 20000")),
            },
        };
        let want_result = first(q, "authResult").map(|v| v == "true");
        let want_ip = first(q, "ipAddress");
        let end = end.min(now);
        let step = 97_000;
        let mut k = (end - 1).div_euclid(step);
        let mut out = Vec::new();
        // Newest first, as Atlas lists them.
        while out.len() < n_logs && k * step >= start && k * step >= DATA_EPOCH * 1000 {
            let entry = access_entry(group, k * step, k);
            let keep = want_result.is_none_or(|w| entry["authResult"] == w)
                && want_ip.is_none_or(|ip| entry["ipAddress"] == ip);
            if keep {
                out.push(entry);
            }
            k -= 1;
        }
        Ok(serde_json::json!({ "accessLogs": out }))
    }
}

fn gone(media: &str) -> Box<Response> {
    Box::new(api_error(
        410,
        "VERSION_GONE",
        format!("The API version {media} has been sunset and is no longer available."),
        None,
    ))
}

fn oauth_error(status: u16, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description});
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn file_time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H_%M_%SZ")
        .to_string()
}

fn paged(
    all: Vec<serde_json::Value>,
    q: &Query,
    host: &str,
    path: &str,
) -> Result<serde_json::Value, Box<Response>> {
    let page: usize = match first(q, "pageNum") {
        None => 1,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad_query("pageNum must be a positive integer"))?,
    };
    let per: usize = match first(q, "itemsPerPage") {
        None => 100,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| bad_query("itemsPerPage must be between 1 and 500"))?,
    };
    let include_count = first(q, "includeCount") != Some("false");
    let total = all.len();
    let results: Vec<_> = all.into_iter().skip((page - 1) * per).take(per).collect();
    let href = |n: usize| format!("http://{host}{path}?pageNum={n}&itemsPerPage={per}");
    let mut links = vec![serde_json::json!({"href": href(page), "rel": "self"})];
    if page > 1 {
        links.push(serde_json::json!({"href": href(page - 1), "rel": "previous"}));
    }
    if page * per < total {
        links.push(serde_json::json!({"href": href(page + 1), "rel": "next"}));
    }
    let mut body = serde_json::json!({"links": links, "results": results});
    if include_count {
        body["totalCount"] = total.into();
    }
    Ok(body)
}

fn filter_events(
    events: Vec<serde_json::Value>,
    q: &Query,
    project: bool,
) -> Result<Vec<serde_json::Value>, Box<Response>> {
    let types = all(q, "eventType");
    let excluded = all(q, "excludedEventType");
    if !project && (!excluded.is_empty() || first(q, "clusterNames").is_some()) {
        return Err(bad_query(
            "excludedEventType and clusterNames apply to project events only",
        ));
    }
    let clusters = all(q, "clusterNames");
    let date = |k: &str| -> Result<Option<DateTime<Utc>>, Box<Response>> {
        first(q, k)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| bad_query(format!("{k} must be an ISO 8601 date and time")))
            })
            .transpose()
    };
    let (min, max) = (date("minDate")?, date("maxDate")?);
    Ok(events
        .into_iter()
        .filter(|e| {
            let t = e["eventTypeName"].as_str().unwrap_or("");
            let created = e["created"]
                .as_str()
                .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                .map(|d| d.with_timezone(&Utc));
            (types.is_empty() || types.contains(&t))
                && !excluded.contains(&t)
                && (clusters.is_empty()
                    || e["clusterName"]
                        .as_str()
                        .is_some_and(|c| clusters.contains(&c)))
                && min.is_none_or(|m| created.is_some_and(|c| c >= m))
                && max.is_none_or(|m| created.is_some_and(|c| c < m))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let g = DEMO_PROJECT_ID;
        assert_eq!(
            Route::parse(&format!(
                "/api/atlas/v2/groups/{g}/clusters/h.example.net/logs/mongodb-audit-log.gz"
            )),
            Some(Route::ClusterLog {
                group: g.into(),
                host: "h.example.net".into(),
                log_name: "mongodb-audit-log".into()
            })
        );
        assert_eq!(
            Route::parse(&format!(
                "/api/atlas/v2/groups/{g}/streams/my%20ws:downloadOperationalLogs"
            )),
            Some(Route::StreamOps {
                group: g.into(),
                tenant: "my ws".into()
            })
        );
        assert_eq!(
            Route::parse(&format!("/api/atlas/v2/groups/{g}/streams/ws/auditLogs")),
            Some(Route::StreamAudit {
                group: g.into(),
                tenant: "ws".into()
            })
        );
        assert_eq!(
            Route::parse("/api/atlas/v2/groups/x/clusters/h/logs/mongodb"),
            None
        );
        assert_eq!(Route::parse("/api/atlas/v2/nope"), None);
        assert_eq!(percent_decode("a%2Fb%"), "a/b%");
    }
}
