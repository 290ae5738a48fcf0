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

pub mod tc3;
mod types;

pub use types::{
    is_region, ExportParams, Format, Order, Secret, TimeRange, API_VERSION, MAX_EXPORT_COUNT,
};

use crate::{Clock, Fault, Faults, RequestLog, Server, WindowLimit};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use types::csv_field;

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

/// Actions the emulator knows.
const ACTIONS: &[&str] = &[
    "CreateExport",
    "DescribeExports",
    "DeleteExport",
    "DescribeTopics",
    "SearchLog",
];

/// Actions limited to 20 requests per second.
const LIMITED: &[&str] = &["CreateExport", "DescribeExports"];

/// Tar entries are cut at about this size, as large exports are split into
/// several files; it also bounds the memory one download uses.
const PART_BYTES: usize = 4 * 1024 * 1024;

/// Download bodies travel in chunks of about this size.
const CHUNK_BYTES: usize = 64 * 1024;

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
    /// The port on 127.0.0.1 (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Shares a clock with the test (also reachable as [`TencentClsSandbox::clock`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

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
            link_secret: rand::random(),
        });
        let clock = state.clock.clone();
        let app = axum::Router::new()
            .route("/", axum::routing::post(api))
            .route("/cos/{id}", axum::routing::get(download))
            .with_state(state.clone())
            .layer(axum::middleware::map_response(
                move |mut response: Response| {
                    let clock = clock.clone();
                    async move {
                        if let Ok(v) = HeaderValue::from_str(&http_date(&clock)) {
                            response.headers_mut().insert(axum::http::header::DATE, v);
                        }
                        response
                    }
                },
            ));
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
        self.state.credentials.lock().expect("lock").insert(
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
        self.state
            .calls
            .lock()
            .expect("lock")
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests the rate limit refused with `RequestLimitExceeded`.
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::Relaxed)
    }

    /// The ids of every export task, oldest first.
    pub fn export_ids(&self) -> Vec<String> {
        self.state
            .exports
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.id.clone())
            .collect()
    }

    /// Makes an export task `Failed`. Returns whether it exists.
    pub fn fail_export(&self, export_id: &str) -> bool {
        let mut exports = self.state.exports.lock().expect("lock");
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

struct Registered {
    key: String,
    token: Option<String>,
}

struct SandboxState {
    clock: Clock,
    faults: Faults,
    log: RequestLog,
    queuing_ms: i64,
    processing_ms: i64,
    retention_ms: i64,
    link_ttl_secs: i64,
    max_skew_secs: i64,
    credentials: Mutex<HashMap<String, Registered>>,
    exports: Mutex<Vec<ExportTask>>,
    limits: HashMap<&'static str, WindowLimit>,
    throttled: AtomicU64,
    calls: Mutex<HashMap<String, usize>>,
    link_secret: [u8; 32],
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// One export task.
struct ExportTask {
    id: String,
    spec: LogSpec,
    format: Format,
    syntax_rule: u64,
    derived_fields: Vec<String>,
    created_ms: i64,
    failed: bool,
    /// Set by the background job that sizes the archive.
    archive: Arc<OnceLock<ArchiveInfo>>,
}

#[derive(Debug, Clone, Copy)]
struct ArchiveInfo {
    file_size: u64,
}

impl ExportTask {
    fn status(&self, now_ms: i64, st: &SandboxState) -> &'static str {
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

    fn file_name(&self) -> String {
        format!("{}.tar.gz", self.id)
    }
}

// ---------------------------------------------------------------- envelope

/// An error in Tencent's shape.
struct ApiError {
    code: String,
    message: String,
}

impl ApiError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

fn request_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn envelope(result: Result<Map<String, Value>, ApiError>) -> Bytes {
    let mut body = match result {
        Ok(outputs) => outputs,
        Err(e) => {
            let mut m = Map::new();
            m.insert(
                "Error".into(),
                json!({"Code": e.code, "Message": e.message}),
            );
            m
        }
    };
    body.insert("RequestId".into(), Value::String(request_id()));
    Bytes::from(serde_json::to_vec(&json!({ "Response": body })).expect("JSON values serialise"))
}

fn json_response(body: Bytes, fault: Option<&Fault>) -> Response {
    let (body, len) = Faults::body(body, fault);
    let mut r = Response::new(body);
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(len) = len {
        r.headers_mut()
            .insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

fn http_date(clock: &Clock) -> String {
    let now: chrono::DateTime<chrono::Utc> = clock.now().into();
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

// ---------------------------------------------------------------- API

async fn api(
    State(st): State<Arc<SandboxState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let action = header("x-tc-action").unwrap_or_default().to_string();
    *st.calls
        .lock()
        .expect("lock")
        .entry(action.clone())
        .or_default() += 1;

    let checked = check_common(&st, &headers, uri.query().unwrap_or(""), &body, &action);
    if let Err(e) = checked {
        return json_response(envelope(Err(e)), None);
    }
    let fault = st.faults.take(&action, false);
    Faults::delay(fault.as_ref()).await;
    if let Some(Fault::Error { code, .. }) = &fault {
        return json_response(envelope(Err(ApiError::new(code, "injected fault"))), None);
    }
    if let Some(limit) = st.limits.get(action.as_str()) {
        if !limit.admit() {
            st.throttled.fetch_add(1, Ordering::Relaxed);
            return json_response(
                envelope(Err(ApiError::new(
                    "RequestLimitExceeded",
                    format!("The number of requests for {action} exceeds the frequency limit."),
                ))),
                None,
            );
        }
    }
    let params = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return json_response(
                envelope(Err(ApiError::new(
                    "InvalidParameter",
                    "The request body is not a JSON object.",
                ))),
                fault.as_ref(),
            )
        }
    };
    let host = header("host").unwrap_or("127.0.0.1").to_string();
    let result = match action.as_str() {
        "CreateExport" => create_export(&st, &params),
        "DescribeExports" => describe_exports(&st, &params, &host),
        "DeleteExport" => delete_export(&st, &params),
        "DescribeTopics" => describe_topics(&params),
        "SearchLog" => search_log(&params, st.clock.unix_secs().max(0) as u64),
        _ => unreachable!("check_common admits known actions only"),
    };
    json_response(envelope(result), fault.as_ref())
}

/// Common parameters and authentication, in the order Tencent checks them.
fn check_common(
    st: &SandboxState,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
    action: &str,
) -> Result<(), ApiError> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    if action.is_empty() {
        return Err(ApiError::new(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Action`.",
        ));
    }
    match header("x-tc-version") {
        None => {
            return Err(ApiError::new(
                "MissingParameter",
                "The request is missing a required parameter `X-TC-Version`.",
            ))
        }
        Some(API_VERSION) => {}
        Some(v) => {
            return Err(ApiError::new(
                "NoSuchVersion",
                format!("The API version `{v}` does not exist."),
            ))
        }
    }
    if !ACTIONS.contains(&action) {
        return Err(ApiError::new(
            "InvalidAction",
            format!("The requested action `{action}` does not exist."),
        ));
    }
    match header("x-tc-region") {
        None => {
            return Err(ApiError::new(
                "MissingParameter",
                "The request is missing a required parameter `X-TC-Region`.",
            ))
        }
        Some(r) if !is_region(r) => {
            return Err(ApiError::new(
                "UnsupportedRegion",
                format!("The region `{r}` is not supported."),
            ))
        }
        Some(_) => {}
    }
    let Some(authorization) = header("authorization") else {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The Authorization header is missing.",
        ));
    };
    let Some(auth) = tc3::Authorization::parse(authorization) else {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The Authorization header is malformed.",
        ));
    };
    let Some(ts) = header("x-tc-timestamp") else {
        return Err(ApiError::new(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Timestamp`.",
        ));
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return Err(ApiError::new(
            "InvalidParameterValue",
            "`X-TC-Timestamp` is not a Unix timestamp.",
        ));
    };
    if (st.clock.unix_secs() - ts).abs() > st.max_skew_secs {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time are more than 300 seconds apart.",
        ));
    }
    let (key, token) = {
        let creds = st.credentials.lock().expect("lock");
        let Some(r) = creds.get(&auth.secret_id) else {
            return Err(ApiError::new(
                "AuthFailure.SecretIdNotFound",
                "The SecretId is not found.",
            ));
        };
        (r.key.clone(), r.token.clone())
    };
    let expected_date = tc3::utc_date(ts).unwrap_or_default();
    if auth.service != tc3::SERVICE || auth.date != expected_date {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The credential scope does not match the service or the timestamp's date.",
        ));
    }
    let received = tc3::Received {
        method: "POST",
        query,
        headers,
        body,
    };
    let good = tc3::verify(&received, &auth, &key, ts).is_ok();
    if !good {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    if token.as_deref() != header("x-tc-token") {
        return Err(ApiError::new(
            "AuthFailure.TokenFailure",
            "The session token is missing, invalid or expired.",
        ));
    }
    Ok(())
}

fn get_str(p: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::new(
            "InvalidParameter",
            format!("`{key}` must be a string."),
        )),
    }
}

fn get_int(p: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            ApiError::new("InvalidParameter", format!("`{key}` must be an integer."))
        }),
    }
}

fn required<T>(v: Option<T>, key: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| {
        ApiError::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{key}`."),
        )
    })
}

fn topic(id: &str) -> Option<&'static DemoTopic> {
    DEMO_TOPICS.iter().find(|t| t.id == id)
}

fn paging(
    p: &Map<String, Value>,
    default_limit: i64,
    max: i64,
) -> Result<(usize, usize), ApiError> {
    let offset = get_int(p, "Offset")?.unwrap_or(0);
    let limit = get_int(p, "Limit")?.unwrap_or(default_limit);
    if offset < 0 {
        return Err(ApiError::new(
            "InvalidParameter",
            "`Offset` must not be negative.",
        ));
    }
    if !(1..=max).contains(&limit) {
        return Err(ApiError::new(
            "InvalidParameter",
            format!("`Limit` must be between 1 and {max}."),
        ));
    }
    Ok((offset as usize, limit as usize))
}

fn create_export(
    st: &SandboxState,
    p: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let topic_id = required(get_str(p, "TopicId")?, "TopicId")?;
    let query = required(get_str(p, "Query")?, "Query")?;
    let count = required(get_int(p, "Count")?, "Count")?;
    let from = required(get_int(p, "From")?, "From")?;
    let to = required(get_int(p, "To")?, "To")?;
    if topic(&topic_id).is_none() {
        return Err(ApiError::new(
            "ResourceNotFound.TopicNotExist",
            format!("The topic `{topic_id}` does not exist."),
        ));
    }
    if !(1..=MAX_EXPORT_COUNT as i64).contains(&count) {
        return Err(ApiError::new(
            "InvalidParameter",
            "`Count` must be between 1 and 50000000.",
        ));
    }
    if from < 0 || from >= to {
        return Err(ApiError::new(
            "InvalidParameter",
            "`From` must be earlier than `To`.",
        ));
    }
    let format = match get_str(p, "Format")?.as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(f) => {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("`Format` `{f}` is not json or csv."),
            ))
        }
    };
    let order = match get_str(p, "Order")?.as_deref() {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(o) => {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("`Order` `{o}` is not asc or desc."),
            ))
        }
    };
    let syntax_rule = get_int(p, "SyntaxRule")?.unwrap_or(0);
    if !(0..=1).contains(&syntax_rule) {
        return Err(ApiError::new(
            "InvalidParameter",
            "`SyntaxRule` must be 0 or 1.",
        ));
    }
    let derived_fields = match p.get("DerivedFields") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let spec = LogSpec {
        topic_id,
        query,
        from_ms: from,
        to_ms: to,
        count: count as u64,
        order,
    };
    let id = format!("export-{}", request_id());
    let created_ms = st.clock.unix_millis();
    let archive = Arc::new(OnceLock::new());
    // Sizing the archive means generating and compressing it once, which
    // is what a real export spends its Processing time on.
    {
        let (spec, archive, id) = (spec.clone(), archive.clone(), id.clone());
        let mtime = (created_ms / 1000) as u32;
        tokio::task::spawn_blocking(move || {
            let mut counter = CountingWriter(0);
            if write_archive(&spec, format, &id, mtime, &mut counter).is_ok() {
                let _ = archive.set(ArchiveInfo {
                    file_size: counter.0,
                });
            }
        });
    }
    st.exports.lock().expect("lock").push(ExportTask {
        id: id.clone(),
        spec,
        format,
        syntax_rule: syntax_rule as u64,
        derived_fields,
        created_ms,
        failed: false,
        archive,
    });
    let mut out = Map::new();
    out.insert("ExportId".into(), Value::String(id));
    Ok(out)
}

fn describe_exports(
    st: &SandboxState,
    p: &Map<String, Value>,
    host: &str,
) -> Result<Map<String, Value>, ApiError> {
    let topic_id = required(get_str(p, "TopicId")?, "TopicId")?;
    if topic(&topic_id).is_none() {
        return Err(ApiError::new(
            "ResourceNotFound.TopicNotExist",
            format!("The topic `{topic_id}` does not exist."),
        ));
    }
    let (offset, limit) = paging(p, 20, 100)?;
    let now_ms = st.clock.unix_millis();
    let exports = st.exports.lock().expect("lock");
    let mine: Vec<&ExportTask> = exports
        .iter()
        .rev()
        .filter(|e| e.spec.topic_id == topic_id)
        .collect();
    let page: Vec<Value> = mine
        .iter()
        .skip(offset)
        .take(limit)
        .map(|e| {
            let status = e.status(now_ms, st);
            let completed = status == "Completed";
            let cos_path = if completed {
                st.cos_path(host, &e.id)
            } else {
                String::new()
            };
            let file_size = if completed {
                e.archive.get().map_or(0, |a| a.file_size)
            } else {
                0
            };
            json!({
                "TopicId": e.spec.topic_id,
                "ExportId": e.id,
                "Query": e.spec.query,
                "FileName": e.file_name(),
                "FileSize": file_size,
                "Order": e.spec.order.as_str(),
                "Format": e.format.as_str(),
                "Count": e.spec.count,
                "Status": status,
                "From": e.spec.from_ms,
                "To": e.spec.to_ms,
                "CosPath": cos_path,
                "CreateTime": china_time(e.created_ms),
                "SyntaxRule": e.syntax_rule,
                "DerivedFields": e.derived_fields,
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Exports".into(), Value::Array(page));
    out.insert("TotalCount".into(), json!(mine.len()));
    Ok(out)
}

fn delete_export(
    st: &SandboxState,
    p: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let id = required(get_str(p, "ExportId")?, "ExportId")?;
    let mut exports = st.exports.lock().expect("lock");
    let Some(pos) = exports.iter().position(|e| e.id == id) else {
        return Err(ApiError::new(
            "ResourceNotFound.ExportNotExist",
            format!("The export `{id}` does not exist."),
        ));
    };
    exports.remove(pos);
    Ok(Map::new())
}

fn describe_topics(p: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let (offset, limit) = paging(p, 20, 100)?;
    let precise = get_int(p, "PreciseSearch")?.unwrap_or(0) == 1;
    let mut topics: Vec<&DemoTopic> = DEMO_TOPICS.iter().collect();
    if let Some(filters) = p.get("Filters").and_then(Value::as_array) {
        for f in filters {
            let key = f.get("Key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = f
                .get("Values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let keep = |t: &&DemoTopic| match key {
                "topicName" if precise => values.contains(&t.name),
                "topicName" => values.iter().any(|v| t.name.contains(v)),
                "topicId" => values.contains(&t.id),
                "logsetId" => values.contains(&t.logset_id),
                _ => true,
            };
            if ![
                "topicName",
                "topicId",
                "logsetId",
                "logsetName",
                "tag:",
                "storageType",
            ]
            .iter()
            .any(|k| key.starts_with(k))
            {
                return Err(ApiError::new(
                    "InvalidFilter",
                    format!("The filter key `{key}` is not supported."),
                ));
            }
            topics.retain(keep);
        }
    }
    let total = topics.len();
    let page: Vec<Value> = topics
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|t| {
            json!({
                "LogsetId": t.logset_id,
                "TopicId": t.id,
                "TopicName": t.name,
                "PartitionCount": 1,
                "Index": true,
                "CreateTime": t.created,
                "Status": true,
                "Tags": [],
                "AutoSplit": true,
                "MaxSplitPartitions": 50,
                "StorageType": "hot",
                "Period": 30,
                "BizType": 0,
                "Describes": t.describes,
                "HotPeriod": 0,
                "IsWebTracking": false,
                "Extends": {"AnonymousAccess": null},
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Topics".into(), Value::Array(page));
    out.insert("TotalCount".into(), json!(total));
    Ok(out)
}

/// How many raw logs one `Context` chain of SearchLog yields at most; past
/// it the service reports the list as over although it is not, which is
/// what a client must detect and work around.
pub const SEARCH_CONTEXT_CAP: u64 = 10_000;

/// How long a SearchLog `Context` stays valid.
pub const SEARCH_CONTEXT_TTL_SECS: u64 = 3600;

fn search_log(p: &Map<String, Value>, now_secs: u64) -> Result<Map<String, Value>, ApiError> {
    let from = required(get_int(p, "From")?, "From")?;
    let to = required(get_int(p, "To")?, "To")?;
    let topic_id = required(get_str(p, "TopicId")?, "TopicId")?;
    let Some(t) = topic(&topic_id) else {
        return Err(ApiError::new(
            "ResourceNotFound.TopicNotExist",
            format!("The topic `{topic_id}` does not exist."),
        ));
    };
    let query = get_str(p, "QueryString")?
        .or(get_str(p, "Query")?)
        .unwrap_or_else(|| "*".into());
    let limit = get_int(p, "Limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            "InvalidParameter",
            "`Limit` must be between 1 and 1000.",
        ));
    }
    if from < 0 || from >= to {
        return Err(ApiError::new(
            "InvalidParameter",
            "`From` must be earlier than `To`.",
        ));
    }
    let order = match get_str(p, "Sort")?.as_deref() {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(s) => {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("`Sort` `{s}` is not asc or desc."),
            ))
        }
    };
    let spec = LogSpec {
        topic_id: topic_id.clone(),
        query,
        from_ms: from,
        to_ms: to,
        count: u64::MAX,
        order,
    };
    let fingerprint = &tc3::sha256_hex(
        format!(
            "{}|{}|{}|{}|{:?}",
            spec.topic_id, spec.query, from, to, order
        )
        .as_bytes(),
    )[..16];
    let (start, issued) = match get_str(p, "Context")?.filter(|c| !c.is_empty()) {
        None => (0, now_secs),
        Some(ctx) => decode_context(&ctx, fingerprint)
            .filter(|(_, issued)| now_secs.saturating_sub(*issued) <= SEARCH_CONTEXT_TTL_SECS)
            .ok_or_else(|| {
                ApiError::new(
                    "FailedOperation.InvalidContext",
                    "The search context is invalid or expired.",
                )
            })?,
    };
    let n = spec.len();
    // The cap is silent on purpose: the chain just ends, as if the range
    // held no more logs.
    let end = start
        .saturating_add(limit as u64)
        .min(n)
        .min(SEARCH_CONTEXT_CAP);
    let shape = spec.shape();
    let results: Vec<Value> = (start..end)
        .map(|i| {
            let r = spec.record_with(i, &shape);
            let field = |k: &str| r.get(k).unwrap_or_default().to_string();
            json!({
                "Time": r.timestamp_ms,
                "TopicId": topic_id,
                "TopicName": t.name,
                "Source": field("__SOURCE__"),
                "FileName": field("__FILENAME__"),
                "HostName": field("__HOSTNAME__"),
                "PkgId": format!("{:016X}", r.timestamp_ms),
                "PkgLogId": "0",
                "HighLights": [],
                "LogJson": String::from_utf8(r.json_line()).unwrap_or_default(),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "Context".into(),
        Value::String(encode_context(end, issued, fingerprint)),
    );
    out.insert(
        "ListOver".into(),
        Value::Bool(end >= n || end >= SEARCH_CONTEXT_CAP),
    );
    out.insert("Analysis".into(), Value::Bool(false));
    out.insert("ColNames".into(), json!([]));
    out.insert("Results".into(), Value::Array(results));
    Ok(out)
}

/// A context names where the chain stands and when it began; a chain keeps
/// the time of its first page, so it expires as a whole.
fn encode_context(position: u64, issued_secs: u64, fingerprint: &str) -> String {
    hex::encode(format!("{position}:{issued_secs}:{fingerprint}"))
}

fn decode_context(ctx: &str, fingerprint: &str) -> Option<(u64, u64)> {
    let text = String::from_utf8(hex::decode(ctx).ok()?).ok()?;
    let mut parts = text.splitn(3, ':');
    let pos = parts.next()?.parse().ok()?;
    let issued = parts.next()?.parse().ok()?;
    (parts.next()? == fingerprint).then_some((pos, issued))
}

fn china_time(ms: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

// ---------------------------------------------------------------- downloads

impl SandboxState {
    fn link_signature(&self, id: &str, expires: i64) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.link_secret).expect("any key length");
        mac.update(format!("{id}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn cos_path(&self, host: &str, id: &str) -> String {
        let expires = self.clock.unix_secs() + self.link_ttl_secs;
        format!(
            "http://{host}/cos/{id}?sign={}&expires={expires}",
            self.link_signature(id, expires)
        )
    }
}

fn cos_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
        request_id()
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

async fn download(
    State(st): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(sig), Some(expires)) = (
        q.get("sign"),
        q.get("expires").and_then(|e| e.parse::<i64>().ok()),
    ) else {
        return cos_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied.");
    };
    if !tc3::constant_time_eq(sig.as_bytes(), st.link_signature(&id, expires).as_bytes()) {
        return cos_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The signature does not match.",
        );
    }
    if st.clock.unix_secs() > expires {
        return cos_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired.",
        );
    }
    let found = {
        let exports = st.exports.lock().expect("lock");
        exports.iter().find(|e| e.id == id).and_then(|e| {
            let info = e.archive.get().copied()?;
            (e.status(st.clock.unix_millis(), &st) == "Completed").then(|| {
                (
                    e.spec.clone(),
                    e.format,
                    info,
                    (e.created_ms / 1000) as u32,
                    e.file_name(),
                )
            })
        })
    };
    let Some((spec, format, info, mtime, file_name)) = found else {
        return cos_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let fault = st.faults.take("Download", true);
    Faults::delay(fault.as_ref()).await;
    if let Some(Fault::Error { status, code, .. }) = &fault {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return cos_error(status, code, "injected fault");
    }

    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        if write_archive(&spec, format, &id, mtime, &mut out).is_ok() {
            let _ = out.send();
        }
    });
    let chunks =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let (body, len) = Faults::stream_body(chunks, fault.as_ref(), Some(info.file_size));
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        h.insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    r
}

struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        // Fails when the client went away: stop generating.
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct CountingWriter(u64);

impl Write for CountingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0 += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the export file: a gzip of a tar (written by the `tar` crate)
/// holding the records in parts of about [`PART_BYTES`], each CSV part with
/// its own header row. Only one part is ever held in memory. Deterministic
/// for a given input.
fn write_archive<W: Write>(
    spec: &LogSpec,
    format: Format,
    id: &str,
    mtime: u32,
    out: W,
) -> io::Result<()> {
    let gz = flate2::GzBuilder::new()
        .mtime(mtime)
        .write(out, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let ext = format.as_str();
    let shape = spec.shape();
    let header_row = (format == Format::Csv).then(|| shape.csv_header());
    let mut part: Vec<u8> = Vec::with_capacity(PART_BYTES + 4096);
    let mut part_records = 0u64;
    let mut part_no = 0u32;
    let start_part = |part: &mut Vec<u8>| {
        part.clear();
        if let Some(h) = &header_row {
            part.extend_from_slice(h);
        }
    };
    start_part(&mut part);
    let flush = |part: &[u8],
                 part_no: &mut u32,
                 tar: &mut tar::Builder<flate2::write::GzEncoder<W>>|
     -> io::Result<()> {
        let name = format!("{id}_{:03}.{ext}", *part_no);
        *part_no += 1;
        let mut header = tar::Header::new_ustar();
        header.set_size(part.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::from(mtime));
        tar.append_data(&mut header, name, part)
    };
    let n = spec.len();
    let mut line = Vec::with_capacity(512);
    for i in 0..n {
        line.clear();
        let record = spec.record_with(i, &shape);
        match format {
            Format::Json => record.write_json_line(&mut line),
            Format::Csv => record.write_csv_line(&shape, &mut line),
        }
        if part_records > 0 && part.len() + line.len() > PART_BYTES {
            flush(&part, &mut part_no, &mut tar)?;
            start_part(&mut part);
            part_records = 0;
        }
        part.extend_from_slice(&line);
        part_records += 1;
    }
    if part_records > 0 || part_no == 0 {
        flush(&part, &mut part_no, &mut tar)?;
    }
    // The two end-of-archive blocks, then the gzip trailer.
    tar.into_inner()?.finish()?;
    Ok(())
}

// ---------------------------------------------------------------- data

struct DemoTopic {
    id: &'static str,
    name: &'static str,
    logset_id: &'static str,
    created: &'static str,
    describes: &'static str,
}

const DEMO_TOPICS: &[DemoTopic] = &[
    DemoTopic {
        id: DEMO_TOPIC_ID,
        name: "app-access-logs",
        logset_id: DEMO_LOGSET_ID,
        created: "2024-03-01 10:00:00",
        describes: "HTTP access logs of the demo services",
    },
    DemoTopic {
        id: DEMO_AUDIT_TOPIC_ID,
        name: "audit-events",
        logset_id: DEMO_LOGSET_ID,
        created: "2024-03-02 11:30:00",
        describes: "Control-plane audit events",
    },
];

/// What determines the logs of one export or search.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogSpec {
    topic_id: String,
    query: String,
    from_ms: i64,
    to_ms: i64,
    count: u64,
    order: Order,
}

/// The columns of one spec: fixed ones, then keys the query adds.
struct Shape {
    seed: u64,
    overrides: Vec<(String, String)>,
    extra_keys: Vec<String>,
}

const BASE_KEYS: &[&str] = &[
    "__SOURCE__",
    "__FILENAME__",
    "__HOSTNAME__",
    "level",
    "service",
    "method",
    "path",
    "status",
    "latency_ms",
    "user_agent",
    "__CONTENT__",
];

impl Shape {
    fn csv_header(&self) -> Vec<u8> {
        let mut s = String::from("__TIMESTAMP__");
        for k in BASE_KEYS
            .iter()
            .copied()
            .chain(self.extra_keys.iter().map(String::as_str))
        {
            s.push(',');
            csv_field(k, &mut s);
        }
        s.push('\n');
        s.into_bytes()
    }
}

/// One generated log.
struct Record {
    timestamp_ms: i64,
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn write_json_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"__TIMESTAMP__\":");
        out.extend_from_slice(self.timestamp_ms.to_string().as_bytes());
        for (k, v) in &self.fields {
            out.push(b',');
            serde_json::to_writer(&mut *out, k).expect("writing to a Vec");
            out.push(b':');
            serde_json::to_writer(&mut *out, v).expect("writing to a Vec");
        }
        out.extend_from_slice(b"}\n");
    }

    fn json_line(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_json_line(&mut v);
        v.pop();
        v
    }

    fn write_csv_line(&self, shape: &Shape, out: &mut Vec<u8>) {
        let mut s = self.timestamp_ms.to_string();
        for k in BASE_KEYS
            .iter()
            .copied()
            .chain(shape.extra_keys.iter().map(String::as_str))
        {
            s.push(',');
            csv_field(self.get(k).unwrap_or_default(), &mut s);
        }
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
    }

    fn to_value(&self, format: Format) -> Value {
        let mut m = Map::new();
        let ts = match format {
            Format::Json => json!(self.timestamp_ms),
            Format::Csv => Value::String(self.timestamp_ms.to_string()),
        };
        m.insert("__TIMESTAMP__".into(), ts);
        for (k, v) in &self.fields {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        Value::Object(m)
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn topic_seed(topic_id: &str) -> u64 {
    let d = Sha256::digest(topic_id.as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// `key:value` terms of a simple Lucene query; generated logs carry them so
/// that they match the query.
fn query_terms(query: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // Whatever follows `|` is CQL analysis, not a filter.
    let filter = query.split('|').next().unwrap_or_default();
    for term in filter.split_whitespace() {
        let Some((k, v)) = term.split_once(':') else {
            continue;
        };
        let v = v.trim_matches('"');
        let key_ok = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !key_ok || v.is_empty() || v.contains('*') || k == "__TIMESTAMP__" {
            continue;
        }
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        }
    }
    out
}

impl LogSpec {
    fn from_params(p: &ExportParams) -> Self {
        LogSpec {
            topic_id: p.topic_id.clone(),
            query: p.query.clone(),
            from_ms: p.range.from_ms,
            to_ms: p.range.to_ms,
            count: p.count,
            order: p.order,
        }
    }

    fn shape(&self) -> Shape {
        let overrides = query_terms(&self.query);
        let extra_keys = overrides
            .iter()
            .filter(|(k, _)| !BASE_KEYS.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        Shape {
            seed: topic_seed(&self.topic_id),
            overrides,
            extra_keys,
        }
    }

    /// Time of log number `k` of the topic: one per interval, jittered.
    fn time_of(seed: u64, k: u64) -> i64 {
        let jitter = (splitmix(seed ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03))
            % LOG_INTERVAL_MS as u64) as i64;
        // Saturating: a client may ask for a range ending near `i64::MAX`,
        // and the emulator must answer it rather than panic.
        (k as i64)
            .saturating_mul(LOG_INTERVAL_MS)
            .saturating_add(jitter)
    }

    /// The topic's logs in `[from, to)` are numbers `start..end`.
    fn bounds(&self) -> (u64, u64) {
        if self.from_ms >= self.to_ms || self.to_ms <= 0 {
            return (0, 0);
        }
        let seed = topic_seed(&self.topic_id);
        let from = self.from_ms.max(0);
        let k0 = (from / LOG_INTERVAL_MS) as u64;
        let start = k0 + u64::from(Self::time_of(seed, k0) < from);
        let k1 = (self.to_ms / LOG_INTERVAL_MS) as u64;
        let end = k1 + u64::from(Self::time_of(seed, k1) < self.to_ms);
        (start, end.max(start))
    }

    fn len(&self) -> u64 {
        let (s, e) = self.bounds();
        (e - s).min(self.count)
    }

    fn record_with(&self, i: u64, shape: &Shape) -> Record {
        let (s, e) = self.bounds();
        let k = match self.order {
            Order::Asc => s + i,
            Order::Desc => e - 1 - i,
        };
        generate(shape, k)
    }
}

fn generate(shape: &Shape, k: u64) -> Record {
    const SERVICES: &[&str] = &["api-gateway", "orders", "payments", "auth", "search"];
    const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "GET"];
    const STATUSES: &[u16] = &[
        200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 400, 403, 404, 404, 500, 503,
    ];
    const AGENTS: &[&str] = &[
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "logexport-sandbox/1.0 (\"demo\", offline)",
        "Go-http-client/2.0",
    ];
    let r = splitmix(shape.seed ^ k);
    let r2 = splitmix(r);
    let svc = SERVICES[(r % SERVICES.len() as u64) as usize];
    let method = METHODS[((r >> 8) % METHODS.len() as u64) as usize];
    let status = STATUSES[((r >> 16) % STATUSES.len() as u64) as usize];
    let id = (r2 >> 20) % 100_000;
    let path = match (r >> 24) % 5 {
        0 => format!("/api/v1/orders/{id}"),
        1 => format!("/api/v1/users/{id}"),
        2 => format!("/api/v1/search?q=item{id}&page={}", id % 7),
        3 => "/healthz".to_string(),
        _ => format!("/api/v1/payments/{id}"),
    };
    let latency = (r2 % 1000) * ((r2 >> 10) % 3 + 1);
    let level = level_for(status);
    let mut fields: Vec<(String, String)> = vec![
        (
            "__SOURCE__".into(),
            format!("10.0.{}.{}", (r >> 32) % 8, (r >> 40) % 250 + 2),
        ),
        ("__FILENAME__".into(), format!("/var/log/{svc}/access.log")),
        ("__HOSTNAME__".into(), format!("{svc}-{}", (r >> 48) % 6)),
        ("level".into(), level.into()),
        ("service".into(), svc.into()),
        ("method".into(), method.into()),
        ("path".into(), path.clone()),
        ("status".into(), status.to_string()),
        ("latency_ms".into(), latency.to_string()),
        (
            "user_agent".into(),
            AGENTS[((r2 >> 40) % AGENTS.len() as u64) as usize].into(),
        ),
        ("__CONTENT__".into(), String::new()),
    ];
    for (key, value) in &shape.overrides {
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => fields.push((key.clone(), value.clone())),
        }
    }
    // A status the query imposed still implies its level, unless the query
    // imposed a level too.
    if !shape.overrides.iter().any(|(k, _)| k == "level") {
        let status: u16 = fields[7].1.parse().unwrap_or(status);
        fields[3].1 = level_for(status).into();
    }
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content = format!(
        "{} {} {} {}ms level={}",
        get("method"),
        get("path"),
        get("status"),
        get("latency_ms"),
        get("level")
    );
    if let Some(slot) = fields.iter_mut().find(|(k, _)| k == "__CONTENT__") {
        if slot.1.is_empty() {
            slot.1 = content;
        }
    }
    Record {
        timestamp_ms: LogSpec::time_of(shape.seed, k),
        fields,
    }
}

fn level_for(status: u16) -> &'static str {
    match status {
        500.. => "ERROR",
        400.. => "WARN",
        _ => "INFO",
    }
}

/// The records an export with these parameters contains, in order, as the
/// client yields them (JSON: `__TIMESTAMP__` a number, other values
/// strings; CSV: every value a string). Lazy, so a large export can be
/// compared record by record.
pub fn expected_records(params: &ExportParams) -> impl Iterator<Item = Value> + Send + 'static {
    let spec = LogSpec::from_params(params);
    let shape = spec.shape();
    let format = params.format;
    (0..spec.len()).map(move |i| spec.record_with(i, &shape).to_value(format))
}

/// Record number `index` (0-based) of an export with these parameters, or
/// `None` past its end.
pub fn expected_record(params: &ExportParams, index: u64) -> Option<Value> {
    let spec = LogSpec::from_params(params);
    (index < spec.len()).then(|| {
        spec.record_with(index, &spec.shape())
            .to_value(params.format)
    })
}

/// How many records an export with these parameters contains: at most
/// `count`, and one per [`LOG_INTERVAL_MS`] of the range.
pub fn expected_count(params: &ExportParams) -> u64 {
    LogSpec::from_params(params).len()
}

/// The logs SearchLog returns for this topic, query and range, in `order`,
/// as the `LogJson` objects it carries.
pub fn expected_search(
    topic_id: &str,
    query: &str,
    range: TimeRange,
    order: Order,
) -> impl Iterator<Item = Value> {
    let spec = LogSpec {
        topic_id: topic_id.to_string(),
        query: query.to_string(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        count: u64::MAX,
        order,
    };
    let shape = spec.shape();
    (0..spec.len()).map(move |i| spec.record_with(i, &shape).to_value(Format::Json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(from: i64, to: i64, count: u64, order: Order) -> LogSpec {
        LogSpec {
            topic_id: DEMO_TOPIC_ID.into(),
            query: "*".into(),
            from_ms: from,
            to_ms: to,
            count,
            order,
        }
    }

    #[test]
    fn logs_fall_inside_the_range_in_order() {
        for (from, to) in [
            (1_000_000, 1_010_000),
            (1_000_050, 1_000_150),
            (5, 7),
            (0, 1_000),
        ] {
            let s = spec(from, to, u64::MAX, Order::Asc);
            let shape = s.shape();
            let times: Vec<i64> = (0..s.len())
                .map(|i| s.record_with(i, &shape).timestamp_ms)
                .collect();
            assert!(
                times.iter().all(|t| (from..to).contains(t)),
                "{from}..{to}: {times:?}"
            );
            assert!(times.windows(2).all(|w| w[0] < w[1]));
            // Every log of the topic in the range is there: one per interval.
            let all: Vec<i64> = (0..(to / LOG_INTERVAL_MS + 2) as u64)
                .map(|k| LogSpec::time_of(shape.seed, k))
                .filter(|t| (from..to).contains(t))
                .collect();
            assert_eq!(times, all);
        }
    }

    #[test]
    fn desc_is_asc_reversed_and_count_truncates() {
        let asc = spec(1_000_000, 1_020_000, u64::MAX, Order::Asc);
        let desc = spec(1_000_000, 1_020_000, u64::MAX, Order::Desc);
        let (sa, sd) = (asc.shape(), desc.shape());
        let a: Vec<i64> = (0..asc.len())
            .map(|i| asc.record_with(i, &sa).timestamp_ms)
            .collect();
        let mut d: Vec<i64> = (0..desc.len())
            .map(|i| desc.record_with(i, &sd).timestamp_ms)
            .collect();
        d.reverse();
        assert_eq!(a, d);
        assert_eq!(spec(1_000_000, 1_020_000, 7, Order::Desc).len(), 7);
    }

    #[test]
    fn query_terms_are_carried_by_the_logs() {
        let mut s = spec(0, 10_000, 50, Order::Asc);
        s.query = "status:500 AND region:\"ap-guangzhou\" | select count(*)".into();
        let shape = s.shape();
        assert_eq!(shape.extra_keys, ["region"]);
        for i in 0..s.len() {
            let r = s.record_with(i, &shape);
            assert_eq!(r.get("status"), Some("500"));
            assert_eq!(
                r.get("level"),
                Some("ERROR"),
                "the level follows the status"
            );
            assert_eq!(r.get("region"), Some("ap-guangzhou"));
        }
    }

    #[test]
    fn archive_is_deterministic_and_decodes() {
        let s = spec(0, 200_000, 1_500, Order::Desc);
        let mut a = Vec::new();
        write_archive(&s, Format::Csv, "export-x", 1_700_000_000, &mut a).unwrap();
        let mut counter = CountingWriter(0);
        write_archive(&s, Format::Csv, "export-x", 1_700_000_000, &mut counter).unwrap();
        assert_eq!(a.len() as u64, counter.0);
        assert_eq!(&a[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn search_context_round_trips() {
        let ctx = encode_context(42, 7, "abc");
        assert_eq!(decode_context(&ctx, "abc"), Some((42, 7)));
        assert_eq!(decode_context(&ctx, "abd"), None);
        assert_eq!(decode_context("zz", "abc"), None);
    }
}
