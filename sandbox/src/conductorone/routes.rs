//! The ConductorOne emulator's HTTP face: the axum routes, what each
//! request must carry (bearer token, JSON bodies, page sizes and tokens,
//! update masks, time windows) and how answers are shaped (pages with
//! `nextPageToken`, C1 errors with a request id, injected faults).

use super::error::ApiError;
use super::state::{apply_update, parse_ds, Record, Shared};
use super::{EVENTS_PATH, TOKEN_PATH};
use crate::{answer, lock, Fault, Faults};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use bytes::Bytes;
use chrono::DateTime;
use http::{header, HeaderMap};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The emulator's routes over `shared`.
pub(super) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
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
        .fallback(|| async { ApiError::not_found("no such route").into_response() })
        .with_state(shared)
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = s.faults.take("token", false);
    Faults::delay(fault.as_ref()).await;
    if let Some(f @ Fault::Error { .. }) = &fault {
        return s.error_response(ApiError::injected(f));
    }
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => return s.error_response(ApiError::invalid("body is not form-encoded")),
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return s.error_response(ApiError::invalid(
            "unsupported grant_type; expected client_credentials",
        ));
    }
    if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return s.error_response(ApiError::invalid("unsupported client_assertion_type"));
    }
    let audience = host_without_port(answer::host(&headers));
    match s.accept_assertion(field("client_id"), field("client_assertion"), audience) {
        Ok(client_id) => {
            let token = s.issue(&client_id);
            let v = json!({"access_token": token, "token_type": "Bearer", "expires_in": s.token_lifetime.as_secs()});
            answer::json(to_bytes(&v), fault.as_ref())
        }
        Err(e) => s.error_response(e),
    }
}

/// The audience C1 expects: the host the request reached, without a port.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("JSON values serialise"))
}

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

impl Shared {
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
            return self.error_response(ApiError::injected(f));
        }
        if let Err(e) = bearer(headers).and_then(|t| self.check_token(t)) {
            return self.error_response(e);
        }
        let result = work(self);
        if let (Some(f), true) = (&fault, after_work) {
            return self.error_response(ApiError::injected(f));
        }
        match result {
            Ok(v) => answer::json(to_bytes(&v), fault.as_ref()),
            Err(e) => self.error_response(e),
        }
    }

    /// An error answer with the request id C1 puts on every error.
    fn error_response(&self, e: ApiError) -> Response {
        let mut r = e.into_response();
        if let Ok(v) = self.next_request_id().parse() {
            r.headers_mut().insert("x-request-id", v);
        }
        r
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
        let size = size.min(self.max_page_size);
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
/// The access token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthenticated("authorization is not a bearer token"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
