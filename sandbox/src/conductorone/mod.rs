//! An in-process ConductorOne emulator: token exchange, system log
//! exporters and OCSF events, on `127.0.0.1`.
//!
//! **Auth, as C1 does it.** `POST /auth/v1/token` verifies the client
//! assertion against the client's registered Ed25519 key: signature,
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

use crate::{Clock, Fault, Faults, RequestLog, Server};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The demo client id the sandbox registers.
pub const DEMO_CLIENT_ID: &str = "logexport-demo@sandbox.conductor.one/logexport";

/// The token endpoint path (for counting token requests in the log).
pub const TOKEN_PATH: &str = "/auth/v1/token";

/// The system log events path.
pub const EVENTS_PATH: &str = "/api/v1/systemlog/events";

/// The demo client's Ed25519 private key seed. Fixed, so a restarted
/// sandbox accepts the same credentials; it is worthless outside the sandbox.
pub fn demo_seed() -> [u8; 32] {
    Sha256::digest(b"logexport conductorone sandbox demo key").into()
}

/// The demo client's Ed25519 public key, as the sandbox registers it.
pub fn demo_public_key() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&demo_seed())
        .verifying_key()
        .to_bytes()
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const DAY_MS: i64 = 86_400_000;

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
        }
    }
}

impl ConductorOneSandboxBuilder {
    /// The port (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Shares a clock with the test.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

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
        clients.insert(
            DEMO_CLIENT_ID.to_string(),
            VerifyingKey::from_bytes(&demo_public_key()).expect("valid key"),
        );
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
        });
        if self.seed_exporter {
            shared.seed();
        }
        let app = axum::Router::new()
            .route(TOKEN_PATH, post(token))
            .route(
                "/api/v1/systemlog/exports",
                get(list_exporters).post(create_exporter),
            )
            .route(
                "/api/v1/systemlog/exports/{export_id}",
                get(get_exporter)
                    .post(update_exporter)
                    .delete(delete_exporter),
            )
            .route(
                "/api/v1/systemlog/exports/{export_id}/events",
                post(exporter_events),
            )
            .route("/api/v1/search/systemlog/exports", post(search_exporters))
            .route(EVENTS_PATH, post(system_log_events))
            .fallback(|| async {
                ApiError::new(StatusCode::NOT_FOUND, 5, "no such route").into_response()
            })
            .with_state(shared.clone());
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
        if let Ok(key) = VerifyingKey::from_bytes(&public_key) {
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

// ------------------------------------------------------------------ state

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking handler must not wedge every later request.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Shared {
    clock: Clock,
    faults: Faults,
    log: RequestLog,
    token_lifetime: Duration,
    waiting_period: Duration,
    clients: Mutex<HashMap<String, VerifyingKey>>,
    /// token → (client id, expiry in Unix ms).
    tokens: Mutex<HashMap<String, (String, i64)>>,
    /// nonce → assertion expiry (Unix s), for replay detection.
    nonces: Mutex<HashMap<String, i64>>,
    exporters: Mutex<Exporters>,
    events: Vec<Value>,
    /// (uid, time ms) per event, same order as `events`.
    index: Vec<(String, i64)>,
    event_base: DateTime<Utc>,
    request_ids: AtomicU64,
}

#[derive(Default)]
struct Exporters {
    records: Vec<Record>,
    created: u64,
}

#[derive(Default, Clone)]
struct Ds {
    id: String,
    prefix: String,
    format: String,
}

struct Record {
    id: String,
    display_name: String,
    datasource: Option<Ds>,
    state: Option<String>,
    watermark: String,
    created_ms: i64,
    updated_ms: i64,
    deleted_ms: Option<i64>,
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

const KNOWN_FORMATS: &[&str] = &[
    "EXPORT_FORMAT_UNSPECIFIED",
    "EXPORT_FORMAT_OCSF_JSON_ZSTD",
    "EXPORT_FORMAT_OCSF_JSON_GZIP",
];

impl Shared {
    fn seed(&self) {
        let created = self.event_base.timestamp_millis() - 3 * DAY_MS;
        let watermark = self
            .index
            .get(self.index.len() * 4 / 5)
            .map(|(uid, _)| uid.clone())
            .unwrap_or_default();
        let mut ex = lock(&self.exporters);
        let id = self.new_id(&mut ex, created);
        ex.records.push(Record {
            id,
            display_name: "Demo SIEM export".into(),
            datasource: Some(Ds {
                id: "ds-demo-s3".into(),
                prefix: "c1/systemlog/".into(),
                format: "EXPORT_FORMAT_OCSF_JSON_GZIP".into(),
            }),
            state: None,
            watermark,
            created_ms: created,
            updated_ms: created,
            deleted_ms: None,
        });
    }

    fn new_id(&self, ex: &mut Exporters, now_ms: i64) -> String {
        ex.created += 1;
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&ex.created.to_be_bytes());
        payload[8..].copy_from_slice(&Sha256::digest(ex.created.to_le_bytes())[..8]);
        ksuid(now_ms / 1000, &payload)
    }

    fn with_record(&self, id: &str, f: impl FnOnce(&mut Record)) -> bool {
        let mut ex = lock(&self.exporters);
        match ex.records.iter_mut().find(|r| r.id == id) {
            Some(r) => {
                f(r);
                true
            }
            None => false,
        }
    }

    fn render(&self, r: &Record) -> Value {
        let state = r.state.clone().unwrap_or_else(|| {
            let age = self.clock.unix_millis() - r.created_ms;
            if age < self.waiting_period.as_millis() as i64 {
                "EXPORT_STATE_WAITING".into()
            } else {
                "EXPORT_STATE_EXPORTING".into()
            }
        });
        let mut v = json!({
            "exportId": r.id,
            "displayName": r.display_name,
            "state": state,
            "watermarkEventId": r.watermark,
            "createdAt": rfc3339(r.created_ms),
            "updatedAt": rfc3339(r.updated_ms),
        });
        if let Some(d) = &r.datasource {
            v["datasource"] = json!({"datasourceId": d.id, "prefix": d.prefix, "format": d.format});
        }
        if let Some(ms) = r.deleted_ms {
            v["deletedAt"] = json!(rfc3339(ms));
        }
        v
    }

    fn issue(&self, client_id: &str) -> String {
        let token = format!("c1sbx_{}", B64.encode(rand::random::<[u8; 24]>()));
        let expires = self.clock.unix_millis() + self.token_lifetime.as_millis() as i64;
        lock(&self.tokens).insert(token.clone(), (client_id.to_string(), expires));
        token
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let unauth = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, 16, m);
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauth("missing bearer token"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| unauth("authorization is not a bearer token"))?;
        let tokens = lock(&self.tokens);
        let (_, expires) = tokens
            .get(token.trim())
            .ok_or_else(|| unauth("invalid access token"))?;
        if self.clock.unix_millis() >= *expires {
            return Err(unauth("access token expired"));
        }
        Ok(())
    }

    fn next_request_id(&self) -> String {
        format!(
            "sbx-{:06}",
            self.request_ids.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Runs one API operation: faults, auth, work, rendering.
    async fn serve(
        &self,
        op: &'static str,
        headers: &HeaderMap,
        work: impl FnOnce(&Shared) -> Result<Value, ApiError>,
    ) -> Response {
        let fault = self.faults.take(op, false);
        Faults::delay(fault.as_ref()).await;
        let after_work = matches!(&fault, Some(Fault::Error { status, .. }) if op == "create_exporter" && *status >= 500);
        if let (Some(f @ Fault::Error { .. }), false) = (&fault, after_work) {
            return self.fault_response(f);
        }
        if let Err(e) = self.authenticate(headers) {
            return self.error_response(e);
        }
        let result = work(self);
        if let (Some(f), true) = (&fault, after_work) {
            return self.fault_response(f);
        }
        match result {
            Ok(v) => self.json_response(&v, fault.as_ref()),
            Err(e) => self.error_response(e),
        }
    }

    fn json_response(&self, v: &Value, fault: Option<&Fault>) -> Response {
        let bytes = Bytes::from(serde_json::to_vec(v).expect("JSON serialises"));
        let (body, len) = Faults::body(bytes, fault);
        let mut r = Response::new(body);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("valid"),
        );
        if let Some(len) = len {
            r.headers_mut().insert(header::CONTENT_LENGTH, len.into());
        }
        r
    }

    fn error_response(&self, e: ApiError) -> Response {
        let mut r = e.into_response();
        if let Ok(v) = self.next_request_id().parse() {
            r.headers_mut().insert("x-request-id", v);
        }
        r
    }

    fn fault_response(&self, fault: &Fault) -> Response {
        let Fault::Error {
            status,
            code,
            retry_after,
        } = fault
        else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code_json = code
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(code.clone()));
        let body =
            json!({"code": code_json, "message": format!("injected fault: {code}"), "details": []});
        let mut r = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, (*secs).into());
        }
        if let Ok(v) = self.next_request_id().parse() {
            r.headers_mut().insert("x-request-id", v);
        }
        r
    }
}

/// A C1-style error: HTTP status plus `{code, message, details}` with a gRPC code.
struct ApiError {
    status: StatusCode,
    code: i64,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, 3, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 5, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"code": self.code, "message": self.message, "details": []})),
        )
            .into_response()
    }
}

// ------------------------------------------------------------------ token endpoint

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&B64.decode(part.trim_end_matches('=')).ok()?).ok()
}

impl Shared {
    fn verify_assertion(
        &self,
        form: &HashMap<String, String>,
        host: &str,
    ) -> Result<String, ApiError> {
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        if field("grant_type") != "client_credentials" {
            return Err(ApiError::invalid(
                "unsupported grant_type; expected client_credentials",
            ));
        }
        if field("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return Err(ApiError::invalid("unsupported client_assertion_type"));
        }
        let unauth = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, 16, m);
        let client_id = field("client_id");
        let key = *lock(&self.clients)
            .get(client_id)
            .ok_or_else(|| unauth("unknown client"))?;
        let parts: Vec<&str> = field("client_assertion").split('.').collect();
        let [h, c, s] = parts[..] else {
            return Err(unauth("client_assertion is not a compact JWS"));
        };
        let header: Value = decode_part(h).ok_or_else(|| unauth("malformed assertion header"))?;
        if header["alg"] != "EdDSA" {
            return Err(unauth("assertion alg must be EdDSA"));
        }
        let nonce = header["nonce"].as_str().unwrap_or_default();
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unauth("assertion header needs a 32-hex-character nonce"));
        }
        let sig: [u8; 64] = B64
            .decode(s.trim_end_matches('='))
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| unauth("malformed assertion signature"))?;
        key.verify_strict(format!("{h}.{c}").as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| unauth("assertion signature does not verify"))?;
        let claims: Value = decode_part(c).ok_or_else(|| unauth("malformed assertion claims"))?;
        if claims["iss"] != client_id || claims["sub"] != client_id {
            return Err(unauth("assertion iss and sub must be the client id"));
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => a == host,
            Value::Array(list) => list.iter().any(|a| a == host),
            _ => false,
        };
        if !aud_ok {
            return Err(unauth(&format!("assertion audience must be `{host}`")));
        }
        let now = self.clock.unix_secs();
        let (Some(exp), Some(nbf), Some(_iat)) = (
            claims["exp"].as_i64(),
            claims["nbf"].as_i64(),
            claims["iat"].as_i64(),
        ) else {
            return Err(unauth("assertion needs exp, nbf and iat"));
        };
        if exp <= now {
            return Err(unauth("assertion expired (check the clock)"));
        }
        if exp - now > 300 {
            return Err(unauth(
                "assertion expires more than 5 minutes ahead (check the clock)",
            ));
        }
        if nbf > now {
            return Err(unauth("assertion not yet valid (check the clock)"));
        }
        let mut nonces = lock(&self.nonces);
        nonces.retain(|_, e| *e > now);
        if nonces.insert(nonce.to_string(), exp).is_some() {
            return Err(unauth("assertion nonce was already used"));
        }
        Ok(client_id.to_string())
    }
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = s.faults.take("token", false);
    Faults::delay(fault.as_ref()).await;
    if let Some(f @ Fault::Error { .. }) = &fault {
        return s.fault_response(f);
    }
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => return s.error_response(ApiError::invalid("body is not form-encoded")),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    match s.verify_assertion(&form, host_without_port(host)) {
        Ok(client_id) => {
            let token = s.issue(&client_id);
            let v = json!({"access_token": token, "token_type": "Bearer", "expires_in": s.token_lifetime.as_secs()});
            s.json_response(&v, fault.as_ref())
        }
        Err(e) => s.error_response(e),
    }
}

// ------------------------------------------------------------------ exporters

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ApiError::invalid("request body is not a JSON object")),
    }
}

fn page_size(v: Option<&Value>) -> Result<usize, ApiError> {
    let n = match v {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        Some(Value::String(s)) => s.parse().unwrap_or(-1),
        _ => -1,
    };
    match n {
        0 => Ok(50),
        10..=100 => Ok(n as usize),
        _ => Err(ApiError::invalid("page_size must be between 10 and 100")),
    }
}

fn offset_token(offset: usize) -> String {
    B64.encode(format!("x:{offset}"))
}

fn parse_offset_token(t: Option<&str>) -> Result<usize, ApiError> {
    let Some(t) = t.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    B64.decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("x:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::invalid("invalid page_token"))
}

impl Shared {
    fn live<'a>(&self, ex: &'a mut Exporters, id: &str) -> Result<&'a mut Record, ApiError> {
        ex.records
            .iter_mut()
            .find(|r| r.id == id && r.deleted_ms.is_none())
            .ok_or_else(|| ApiError::not_found(format!("exporter {id} not found")))
    }

    fn page_of(&self, matches: Vec<&Record>, size: usize, offset: usize) -> Value {
        let items: Vec<Value> = matches
            .iter()
            .skip(offset)
            .take(size)
            .map(|r| self.render(r))
            .collect();
        // The offset comes from a client-supplied token: no overflow panics.
        let next = if offset.saturating_add(size) < matches.len() {
            offset_token(offset + size)
        } else {
            String::new()
        };
        json!({"list": items, "nextPageToken": next})
    }
}

fn parse_ds(v: &Value) -> Result<Ds, ApiError> {
    let id = v["datasourceId"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    if id.is_empty() {
        return Err(ApiError::invalid("datasource.datasourceId is required"));
    }
    let format = parse_format(&v["format"])?.unwrap_or_else(|| "EXPORT_FORMAT_UNSPECIFIED".into());
    Ok(Ds {
        id,
        prefix: v["prefix"].as_str().unwrap_or_default().to_string(),
        format,
    })
}

fn parse_format(v: &Value) -> Result<Option<String>, ApiError> {
    match v.as_str() {
        None => Ok(None),
        Some(f) if KNOWN_FORMATS.contains(&f) => Ok(Some(f.to_string())),
        Some(f) => Err(ApiError::invalid(format!(
            "unknown datasource.format `{f}`"
        ))),
    }
}

async fn list_exporters(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    s.serve("list_exporters", &headers, |s| {
        let q: HashMap<String, String> =
            serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
                .map_err(|_| ApiError::invalid("malformed query"))?;
        let size = page_size(q.get("page_size").map(|v| Value::from(v.as_str())).as_ref())?;
        let offset = parse_offset_token(q.get("page_token").map(String::as_str))?;
        let ex = lock(&s.exporters);
        let matches = ex
            .records
            .iter()
            .filter(|r| r.deleted_ms.is_none())
            .collect();
        Ok(s.page_of(matches, size, offset))
    })
    .await
}

async fn search_exporters(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.serve("search_exporters", &headers, |s| {
        let req = parse_json(&body)?;
        let size = page_size(req.get("pageSize"))?;
        let offset = parse_offset_token(req["pageToken"].as_str())?;
        let name = req["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let query = req["query"].as_str().unwrap_or_default().to_lowercase();
        let refs: Vec<&str> = req["refs"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["exportId"].as_str()).collect())
            .unwrap_or_default();
        let ex = lock(&s.exporters);
        let matches = ex
            .records
            .iter()
            .filter(|r| r.deleted_ms.is_none())
            .filter(|r| refs.is_empty() || refs.contains(&r.id.as_str()))
            .filter(|r| name.is_empty() || r.display_name.to_lowercase().contains(&name))
            .filter(|r| {
                query.is_empty()
                    || r.display_name.to_lowercase().contains(&query)
                    || r.id.to_lowercase().contains(&query)
                    || r.datasource
                        .as_ref()
                        .is_some_and(|d| d.id.to_lowercase().contains(&query))
            })
            .collect();
        Ok(s.page_of(matches, size, offset))
    })
    .await
}

async fn create_exporter(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.serve("create_exporter", &headers, |s| {
        let req = parse_json(&body)?;
        let name = req["displayName"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(ApiError::invalid("displayName is required"));
        }
        let datasource = match &req["datasource"] {
            Value::Null => None,
            v => Some(parse_ds(v)?),
        };
        let now = s.clock.unix_millis();
        let mut ex = lock(&s.exporters);
        let id = s.new_id(&mut ex, now);
        let record = Record {
            id,
            display_name: name,
            datasource,
            state: None,
            watermark: String::new(),
            created_ms: now,
            updated_ms: now,
            deleted_ms: None,
        };
        let v = s.render(&record);
        ex.records.push(record);
        Ok(json!({"exporter": v}))
    })
    .await
}

async fn get_exporter(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    s.serve("get_exporter", &headers, |s| {
        let mut ex = lock(&s.exporters);
        let r = s.live(&mut ex, &id)?;
        Ok(json!({"exporter": s.render(r)}))
    })
    .await
}

/// `updateMask` as a comma-separated string or a `{paths: [...]}` object.
fn mask_paths(v: &Value) -> Vec<String> {
    let raw: Vec<String> = match v {
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Object(o) => o
            .get("paths")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn apply_update(r: &mut Record, patch: &Value, mask: &[String]) -> Result<(), ApiError> {
    let paths: Vec<String> = if mask.is_empty() {
        ["displayName", "datasource"]
            .iter()
            .filter(|p| !patch[**p].is_null())
            .map(|p| p.to_string())
            .collect()
    } else {
        mask.to_vec()
    };
    let mut next_name = r.display_name.clone();
    let mut next_ds = r.datasource.clone();
    for path in &paths {
        match path.as_str() {
            "displayName" | "display_name" => {
                let n = patch["displayName"].as_str().unwrap_or_default().trim();
                if n.is_empty() {
                    return Err(ApiError::invalid("displayName must not be empty"));
                }
                next_name = n.to_string();
            }
            "datasource" => next_ds = Some(parse_ds(&patch["datasource"])?),
            "datasource.datasourceId" | "datasource.datasource_id" => {
                let id = patch["datasource"]["datasourceId"]
                    .as_str()
                    .unwrap_or_default()
                    .trim();
                if id.is_empty() {
                    return Err(ApiError::invalid(
                        "datasource.datasourceId must not be empty",
                    ));
                }
                next_ds.get_or_insert_with(Ds::default).id = id.to_string();
            }
            "datasource.prefix" => {
                next_ds.get_or_insert_with(Ds::default).prefix = patch["datasource"]["prefix"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            "datasource.format" => {
                let f = parse_format(&patch["datasource"]["format"])?
                    .unwrap_or_else(|| "EXPORT_FORMAT_UNSPECIFIED".into());
                next_ds.get_or_insert_with(Ds::default).format = f;
            }
            "exportId" | "state" | "watermarkEventId" | "createdAt" | "updatedAt" | "deletedAt" => {
                return Err(ApiError::invalid(format!("field `{path}` is read-only")));
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown field `{other}` in update mask"
                )))
            }
        }
    }
    if next_ds.as_ref().is_some_and(|d| d.id.is_empty()) {
        return Err(ApiError::invalid("datasource.datasourceId is required"));
    }
    r.display_name = next_name;
    r.datasource = next_ds;
    Ok(())
}

async fn update_exporter(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    s.serve("update_exporter", &headers, |s| {
        let req = parse_json(&body)?;
        let mask = mask_paths(&req["updateMask"]);
        let now = s.clock.unix_millis();
        let mut ex = lock(&s.exporters);
        let r = s.live(&mut ex, &id)?;
        apply_update(r, &req["exporter"], &mask)?;
        r.updated_ms = now;
        Ok(json!({"exporter": s.render(r)}))
    })
    .await
}

async fn delete_exporter(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    s.serve("delete_exporter", &headers, |s| {
        let now = s.clock.unix_millis();
        let mut ex = lock(&s.exporters);
        let r = s.live(&mut ex, &id)?;
        r.deleted_ms = Some(now);
        r.updated_ms = now;
        Ok(json!({}))
    })
    .await
}

// ------------------------------------------------------------------ events

fn event_token(last_uid: &str) -> String {
    B64.encode(format!("e:{last_uid}"))
}

fn parse_event_token(t: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(t) = t.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    B64.decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("e:").map(str::to_string))
        .map(Some)
        .ok_or_else(|| ApiError::invalid("invalid pageToken"))
}

fn parse_time(v: &Value, field: &str) -> Result<Option<i64>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| ApiError::invalid(format!("{field} is not an RFC 3339 timestamp"))),
        _ => Err(ApiError::invalid(format!(
            "{field} must be a timestamp string"
        ))),
    }
}

impl Shared {
    /// One page of events whose index entry passes `keep`, ascending or
    /// descending by uid, continuing after `after` (a page token's uid).
    fn event_page(
        &self,
        keep: impl Fn(&(String, i64)) -> bool,
        desc: bool,
        after: Option<&str>,
        size: usize,
    ) -> Value {
        let mut selected: Vec<usize> = (0..self.index.len())
            .filter(|i| keep(&self.index[*i]))
            .collect();
        if desc {
            selected.reverse();
        }
        let start = match after {
            None => 0,
            Some(last) => selected
                .iter()
                .position(|i| {
                    if desc {
                        self.index[*i].0.as_str() < last
                    } else {
                        self.index[*i].0.as_str() > last
                    }
                })
                .unwrap_or(selected.len()),
        };
        let page: Vec<usize> = selected[start..].iter().take(size).copied().collect();
        let more = start + page.len() < selected.len();
        let next = match page.last() {
            Some(i) if more => event_token(&self.index[*i].0),
            _ => String::new(),
        };
        let list: Vec<&Value> = page.iter().map(|i| &self.events[*i]).collect();
        json!({"list": list, "nextPageToken": next})
    }
}

async fn system_log_events(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.serve("list_system_log_events", &headers, |s| {
        let req = parse_json(&body)?;
        let size = page_size(req.get("pageSize"))?;
        let after = parse_event_token(req["pageToken"].as_str())?;
        let since = parse_time(&req["since"], "since")?;
        let until = parse_time(&req["until"], "until")?;
        if let (Some(a), Some(b)) = (since, until) {
            if a > b {
                return Err(ApiError::invalid("since is after until"));
            }
        }
        let since_uid = req["sinceEventUid"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let until_uid = req["untilEventUid"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let desc = match req["sortDirection"]
            .as_str()
            .unwrap_or("SORT_DIRECTION_UNSPECIFIED")
        {
            "SORT_DIRECTION_UNSPECIFIED" | "SORT_DIRECTION_ASC" => false,
            "SORT_DIRECTION_DESC" => true,
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown sortDirection `{other}`"
                )))
            }
        };
        let keep = |(uid, time): &(String, i64)| {
            since.is_none_or(|t| *time >= t)
                && until.is_none_or(|t| *time < t)
                && since_uid.as_ref().is_none_or(|u| uid > u)
                && until_uid.as_ref().is_none_or(|u| uid < u)
        };
        Ok(s.event_page(keep, desc, after.as_deref(), size))
    })
    .await
}

async fn exporter_events(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    s.serve("list_exporter_events", &headers, |s| {
        let req = parse_json(&body)?;
        let size = page_size(req.get("pageSize"))?;
        let after = parse_event_token(req["pageToken"].as_str())?;
        let watermark = {
            let mut ex = lock(&s.exporters);
            s.live(&mut ex, &id)?.watermark.clone()
        };
        Ok(s.event_page(|(uid, _)| *uid > watermark, false, after.as_deref(), size))
    })
    .await
}

// ------------------------------------------------------------------ demo data

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A KSUID-style id: 4 bytes of seconds since 2014-05-13 and 16 payload
/// bytes, as 27 base62 characters. The alphabet is in ASCII order, so string
/// order is time order.
fn ksuid(unix_secs: i64, payload: &[u8; 16]) -> String {
    let ts = (unix_secs - 1_400_000_000).clamp(0, u32::MAX as i64) as u32;
    let mut n = [0u8; 20];
    n[..4].copy_from_slice(&ts.to_be_bytes());
    n[4..].copy_from_slice(payload);
    let mut digits = [b'0'; 27];
    for slot in digits.iter_mut().rev() {
        let mut rem = 0u32;
        for byte in n.iter_mut() {
            let acc = (rem << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            rem = acc % 62;
        }
        *slot = BASE62[rem as usize];
    }
    String::from_utf8(digits.to_vec()).expect("ASCII")
}

const USERS: &[(&str, &str)] = &[
    ("Alice Nguyen", "alice.nguyen@example.com"),
    ("Bob Okafor", "bob.okafor@example.com"),
    ("Carmen Ruiz", "carmen.ruiz@example.com"),
    ("Dmitri Volkov", "dmitri.volkov@example.com"),
    ("Erin Walsh", "erin.walsh@example.com"),
];

/// (service, method, OCSF activity id)
const OPERATIONS: &[(&str, &str, i64)] = &[
    ("c1.api.app.v1.AppService", "Get", 2),
    ("c1.api.app.v1.AppService", "List", 2),
    ("c1.api.app.v1.AppService", "Update", 3),
    ("c1.api.app.v1.AppEntitlementsService", "List", 2),
    ("c1.api.user.v1.UserService", "Get", 2),
    ("c1.api.task.v1.TaskService", "CreateGrantTask", 1),
    ("c1.api.task.v1.TaskActionsService", "Approve", 99),
    ("c1.api.policy.v1.PolicyService", "Update", 3),
    ("c1.api.policy.v1.PolicyService", "Delete", 4),
    ("c1.api.iam.v1.PersonalClientService", "Create", 1),
    ("c1.api.systemlog.v1.ExportService", "Create", 1),
    ("c1.api.systemlog.v1.SystemLogService", "ListEvents", 2),
    ("c1.api.directory.v1.DirectoryService", "Delete", 4),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "cone/1.20.0",
    "terraform-provider-conductorone/1.5.0",
    "logexport/0.1.0",
];

fn activity_name(id: i64) -> &'static str {
    match id {
        1 => "Create",
        2 => "Read",
        3 => "Update",
        4 => "Delete",
        _ => "Other",
    }
}

/// The deterministic events a sandbox with this `base` and `count` serves:
/// OCSF 1.1 API Activity records spread over the 3 days before `base`,
/// oldest first (which is also `metadata.uid` order).
pub fn demo_events(base: DateTime<Utc>, count: usize) -> Vec<Value> {
    let span = 3 * DAY_MS;
    let start = base.timestamp_millis() - span;
    let slot = if count == 0 {
        span
    } else {
        (span / count as i64).max(1)
    };
    (0..count)
        .map(|i| {
            let h = Sha256::digest(format!("logexport-c1-event-{i}").as_bytes());
            let r = |k: usize| u64::from_be_bytes(h[k..k + 8].try_into().expect("8 bytes"));
            let time = start + i as i64 * slot + (r(0) % slot as u64) as i64;
            let mut payload = [0u8; 16];
            payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
            payload[8..].copy_from_slice(&h[8..16]);
            let uid = ksuid(time / 1000, &payload);
            let (name, email) = USERS[(r(8) % USERS.len() as u64) as usize];
            let user_uid = ksuid(1_600_000_000, &{
                let mut p = [0u8; 16];
                p[..email.len().min(16)].copy_from_slice(&email.as_bytes()[..email.len().min(16)]);
                p
            });
            let (service, method, activity) = OPERATIONS[(r(16) % OPERATIONS.len() as u64) as usize];
            let failed = h[24] % 10 == 0;
            let ip = if h[25] % 2 == 0 {
                format!("203.0.113.{}", 1 + h[26] % 254)
            } else {
                format!("198.51.100.{}", 1 + h[26] % 254)
            };
            let mut event = json!({
                "activity_id": activity,
                "activity_name": activity_name(activity),
                "category_uid": 6,
                "category_name": "Application Activity",
                "class_uid": 6003,
                "class_name": "API Activity",
                "type_uid": 600_300 + activity,
                "type_name": format!("API Activity: {}", activity_name(activity)),
                "time": time,
                "severity_id": if failed { 3 } else { 1 },
                "severity": if failed { "Medium" } else { "Informational" },
                "status_id": if failed { 2 } else { 1 },
                "status": if failed { "Failure" } else { "Success" },
                "message": format!("{email} called {service}/{method}"),
                "actor": {"user": {"uid": user_uid, "name": name, "email_addr": email, "type_id": 1, "type": "User"}},
                "api": {
                    "operation": format!("{service}/{method}"),
                    "service": {"name": service},
                    "request": {"uid": format!("req-{}", hex::encode(&h[16..24]))},
                },
                "src_endpoint": {"ip": ip},
                "http_request": {"user_agent": USER_AGENTS[(h[27] as usize) % USER_AGENTS.len()]},
                "metadata": {
                    "uid": uid,
                    "version": "1.1.0",
                    "product": {"name": "ConductorOne", "vendor_name": "ConductorOne"},
                    "logged_time": time + 250 + i64::from(h[28]),
                },
            });
            if failed {
                event["status_detail"] = json!("permission denied");
            }
            event
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksuids_sort_like_their_inputs() {
        let a = ksuid(1_700_000_000, &[0; 16]);
        let b = ksuid(
            1_700_000_000,
            &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let c = ksuid(1_700_000_001, &[0; 16]);
        assert_eq!(a.len(), 27);
        assert!(a < b && b < c);
        assert_eq!(ksuid(1_400_000_000, &[0; 16]), "0".repeat(27));
    }

    #[test]
    fn demo_events_are_deterministic_ordered_ocsf() {
        let base = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let a = demo_events(base, 400);
        assert_eq!(a, demo_events(base, 400));
        let uids: Vec<&str> = a
            .iter()
            .map(|e| e["metadata"]["uid"].as_str().unwrap())
            .collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "uids ascend");
        let times: Vec<i64> = a.iter().map(|e| e["time"].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            times[0] >= base.timestamp_millis() - 3 * DAY_MS
                && *times.last().unwrap() < base.timestamp_millis()
        );
        for e in &a {
            assert_eq!(
                (e["class_uid"].as_i64(), e["category_uid"].as_i64()),
                (Some(6003), Some(6))
            );
            let activity = e["activity_id"].as_i64().unwrap();
            assert_eq!(e["type_uid"].as_i64(), Some(600_300 + activity));
            assert!(
                e["actor"]["user"]["email_addr"].is_string() && e["api"]["operation"].is_string()
            );
        }
        let failures = a.iter().filter(|e| e["status_id"] == 2).count();
        assert!(failures > 10 && failures < 100, "{failures}");
    }

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(host_without_port("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(
            host_without_port("acme.conductor.one"),
            "acme.conductor.one"
        );
    }
}
