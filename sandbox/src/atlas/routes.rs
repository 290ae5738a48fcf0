//! The Atlas emulator's HTTP face: which path is which operation, the query
//! string, and the order in which a request is checked (OAuth endpoints,
//! authentication, route, version, faults, rate limit) before the operation
//! answers.

use super::data::Kind;
use super::error::{api_error, injected_error, not_found};
use super::state::Inner;
use crate::{answer, Faults};
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Method};
use std::sync::Arc;

/// The emulator's app: one fallback handler, since Atlas paths carry
/// colons and percent-escapes axum's router does not match.
pub(super) fn router(state: Arc<Inner>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// What an `/api/atlas/v2` path names.
pub(super) enum Route {
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
    /// The route of `path`, if Atlas serves it.
    pub(super) fn parse(path: &str) -> Option<Route> {
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

    /// The operation id, as the spec and fault injection name it.
    pub(super) fn operation(&self) -> &'static str {
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

    /// Whether the answer is a log file.
    pub(super) fn is_download(&self) -> bool {
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

/// A query string's pairs, in order, repeated keys kept.
pub(super) type Query = Vec<(String, String)>;

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

/// The first value of `key`.
pub(super) fn first<'a>(q: &'a Query, key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Every value of `key`.
pub(super) fn all<'a>(q: &'a Query, key: &str) -> Vec<&'a str> {
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
    let host = answer::host(req.headers()).to_string();
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
            .map(|v| answer::json(Bytes::from(v.to_string()), fault.as_ref())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::DEMO_PROJECT_ID;

    #[test]
    pub(super) fn routes() {
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
