//! What each Atlas GET operation answers: log downloads of a window,
//! stream workspaces, processes, project and organization events (filtered
//! and paged the Atlas way), and database access history.

use super::body::gzip_response;
use super::data::{
    access_entry, event_json, process_json, workspace_json, Kind, LogSpec, DATA_EPOCH, ORG_EVENTS,
    PROJECT_EVENTS,
};
use super::error::{api_error, bad_query, Reply};
use super::routes::{all, first, Query, Route};
use super::state::{is_object_id, Inner};
use super::{
    LogName, DEMO_CLUSTER, DEMO_HOSTS, DEMO_ORG_ID, DEMO_PROCESSORS, DEMO_WORKSPACE,
    DEMO_WORKSPACE_2,
};
use crate::Fault;
use axum::response::Response;
use chrono::{DateTime, Utc};

impl Inner {
    /// `startDate`/`endDate` in seconds, with the operation's defaults.
    fn window_secs(&self, q: &Query, default_len: i64) -> Result<(i64, i64), Box<Response>> {
        let parse = |k: &str| epoch_param(q, k, Unit::Seconds);
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

    pub(super) async fn cluster_log(
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

    pub(super) async fn stream_log(
        &self,
        kind: Kind,
        group: &str,
        tenant: &str,
        q: &Query,
        fault: Option<&Fault>,
    ) -> Reply {
        self.known_project(group)?;
        known_workspace(tenant)?;
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

    pub(super) fn json_route(
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
                known_workspace(tenant)?;
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
                if !is_object_id(org) {
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
        let ms = |k: &str| epoch_param(q, k, Unit::Millis);
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

/// Every project has the two demo workspaces and no other.
fn known_workspace(tenant: &str) -> Result<(), Box<Response>> {
    if tenant == DEMO_WORKSPACE || tenant == DEMO_WORKSPACE_2 {
        return Ok(());
    }
    Err(Box::new(api_error(
        404,
        "STREAM_TENANT_NOT_FOUND_FOR_NAME",
        format!("No stream processing workspace named {tenant} exists."),
        None,
    )))
}

/// The unit of a time query parameter.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
}

/// Query parameter `key`, a time since the epoch in `unit`, from 2008 on
/// (Atlas refuses earlier ones, and seconds beyond year 5138, which are
/// milliseconds sent by mistake).
fn epoch_param(q: &Query, key: &str, unit: Unit) -> Result<Option<i64>, Box<Response>> {
    let (name, valid) = match unit {
        Unit::Seconds => ("seconds", 1_199_145_600..=99_999_999_999),
        Unit::Millis => ("milliseconds", 1_199_145_600_000..=i64::MAX),
    };
    let Some(v) = first(q, key) else {
        return Ok(None);
    };
    let n: i64 = v
        .parse()
        .map_err(|_| bad_query(format!("{key} must be an integer number of {name}")))?;
    if !valid.contains(&n) {
        return Err(bad_query(format!(
            "{key}={n} is not a time in {name} since the epoch from 2008 on"
        )));
    }
    Ok(Some(n))
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

    fn q(k: &str, v: &str) -> Query {
        vec![(k.to_string(), v.to_string())]
    }

    async fn detail(r: Box<Response>) -> String {
        let body = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn epoch_params_are_bounded_in_their_unit() {
        assert_eq!(epoch_param(&q("a", "1"), "b", Unit::Seconds).unwrap(), None);
        let s = epoch_param(&q("startDate", "1700000000"), "startDate", Unit::Seconds);
        assert_eq!(s.unwrap(), Some(1_700_000_000));
        // Milliseconds where seconds are expected are refused, and the
        // other way round.
        let e = epoch_param(&q("startDate", "1700000000000"), "startDate", Unit::Seconds);
        assert!(detail(e.unwrap_err())
            .await
            .contains("not a time in seconds"));
        let e = epoch_param(&q("start", "1700000000"), "start", Unit::Millis);
        assert!(detail(e.unwrap_err())
            .await
            .contains("not a time in milliseconds"));
        let e = epoch_param(&q("end", "soon"), "end", Unit::Millis);
        assert!(detail(e.unwrap_err())
            .await
            .contains("end must be an integer number of milliseconds"));
    }
}
