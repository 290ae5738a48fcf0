//! The ConductorOne emulator's in-memory model: registered clients and
//! their issued access tokens, the assertion nonces seen, the exporter
//! records (with soft delete, forced states and update masks) and the
//! fixed list of system log events.

use super::data::{ksuid, DAY_MS};
use super::error::ApiError;
use super::jwt;
use crate::{lock, Clock, Faults, RequestLog};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use jsonwebtoken::DecodingKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Everything one emulator holds, shared by its handlers.
pub(super) struct Shared {
    pub(super) clock: Clock,
    pub(super) faults: Faults,
    pub(super) log: RequestLog,
    pub(super) token_lifetime: Duration,
    pub(super) waiting_period: Duration,
    /// client id → its registered public key.
    pub(super) clients: Mutex<HashMap<String, DecodingKey>>,
    /// token → (client id, expiry in Unix ms).
    pub(super) tokens: Mutex<HashMap<String, (String, i64)>>,
    /// nonce → assertion expiry (Unix s), for replay detection.
    pub(super) nonces: Mutex<HashMap<String, i64>>,
    pub(super) exporters: Mutex<Exporters>,
    pub(super) events: Vec<Value>,
    /// (uid, time ms) per event, same order as `events`.
    pub(super) index: Vec<(String, i64)>,
    pub(super) event_base: DateTime<Utc>,
    pub(super) request_ids: AtomicU64,
    /// See [`super::ConductorOneSandboxBuilder::max_page_size`].
    pub(super) max_page_size: usize,
}

#[derive(Default)]
pub(super) struct Exporters {
    pub(super) records: Vec<Record>,
    pub(super) created: u64,
}

#[derive(Default, Clone)]
pub(super) struct Ds {
    pub(super) id: String,
    pub(super) prefix: String,
    pub(super) format: String,
}

pub(super) struct Record {
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) datasource: Option<Ds>,
    pub(super) state: Option<String>,
    pub(super) watermark: String,
    pub(super) created_ms: i64,
    pub(super) updated_ms: i64,
    pub(super) deleted_ms: Option<i64>,
}

pub(super) fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) const KNOWN_FORMATS: &[&str] = &[
    "EXPORT_FORMAT_UNSPECIFIED",
    "EXPORT_FORMAT_OCSF_JSON_ZSTD",
    "EXPORT_FORMAT_OCSF_JSON_GZIP",
];

impl Shared {
    pub(super) fn seed(&self) {
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

    pub(super) fn new_id(&self, ex: &mut Exporters, now_ms: i64) -> String {
        ex.created += 1;
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&ex.created.to_be_bytes());
        payload[8..].copy_from_slice(&Sha256::digest(ex.created.to_le_bytes())[..8]);
        ksuid(now_ms / 1000, &payload)
    }

    pub(super) fn with_record(&self, id: &str, f: impl FnOnce(&mut Record)) -> bool {
        let mut ex = lock(&self.exporters);
        match ex.records.iter_mut().find(|r| r.id == id) {
            Some(r) => {
                f(r);
                true
            }
            None => false,
        }
    }

    pub(super) fn render(&self, r: &Record) -> Value {
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

    pub(super) fn issue(&self, client_id: &str) -> String {
        let token = format!("c1sbx_{}", B64.encode(crate::random::<24>()));
        let expires = self.clock.unix_millis() + self.token_lifetime.as_millis() as i64;
        lock(&self.tokens).insert(token.clone(), (client_id.to_string(), expires));
        token
    }

    /// Whether `token` is an access token this sandbox issued and that has
    /// neither expired nor been revoked.
    pub(super) fn check_token(&self, token: &str) -> Result<(), ApiError> {
        let tokens = lock(&self.tokens);
        let (_, expires) = tokens
            .get(token)
            .ok_or_else(|| ApiError::unauthenticated("invalid access token"))?;
        if self.clock.unix_millis() >= *expires {
            return Err(ApiError::unauthenticated("access token expired"));
        }
        Ok(())
    }

    /// The token endpoint's check of a client assertion: a registered
    /// client, an assertion [`jwt::verify`] accepts, and a nonce not seen
    /// before (nonces are remembered until their assertion expires).
    /// Returns the client id.
    pub(super) fn accept_assertion(
        &self,
        client_id: &str,
        assertion: &str,
        audience: &str,
    ) -> Result<String, ApiError> {
        let key = lock(&self.clients)
            .get(client_id)
            .cloned()
            .ok_or_else(|| ApiError::unauthenticated("unknown client"))?;
        let now = self.clock.unix_secs();
        let accepted = jwt::verify(assertion, client_id, &key, audience, now)?;
        let mut nonces = lock(&self.nonces);
        nonces.retain(|_, e| *e > now);
        if nonces.insert(accepted.nonce, accepted.exp).is_some() {
            return Err(ApiError::unauthenticated(
                "assertion nonce was already used",
            ));
        }
        Ok(client_id.to_string())
    }

    pub(super) fn next_request_id(&self) -> String {
        format!(
            "sbx-{:06}",
            self.request_ids.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    pub(super) fn live<'a>(
        &self,
        ex: &'a mut Exporters,
        id: &str,
    ) -> Result<&'a mut Record, ApiError> {
        ex.records
            .iter_mut()
            .find(|r| r.id == id && r.deleted_ms.is_none())
            .ok_or_else(|| ApiError::not_found(format!("exporter {id} not found")))
    }
}

pub(super) fn parse_ds(v: &Value) -> Result<Ds, ApiError> {
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

pub(super) fn parse_format(v: &Value) -> Result<Option<String>, ApiError> {
    match v.as_str() {
        None => Ok(None),
        Some(f) if KNOWN_FORMATS.contains(&f) => Ok(Some(f.to_string())),
        Some(f) => Err(ApiError::invalid(format!(
            "unknown datasource.format `{f}`"
        ))),
    }
}

pub(super) fn apply_update(r: &mut Record, patch: &Value, mask: &[String]) -> Result<(), ApiError> {
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
