//! The transport hook every CLS request goes through: wire form → rate
//! limit → sign → send → classify → retry.
//!
//! The generated client posts each action to its own path
//! (`/CreateExport`), because OpenAPI cannot describe one path with many
//! operations. The hook puts the request back into Tencent's wire form
//! (`POST /` with `X-TC-Action`, `X-TC-Version`, `X-TC-Region`,
//! `X-TC-Timestamp`, `X-TC-Token`, and a TC3 `Authorization`), signing each
//! attempt afresh so retries carry a current timestamp.
//!
//! Tencent reports every failure with HTTP 200, so the hook reads the
//! envelope to decide: `RequestLimitExceeded*` is retried for every action
//! (the request was not applied), `InternalError*` and mid-flight network
//! failures only for read-only actions (a CreateExport that may have reached
//! the server is not repeated blindly), and `AuthFailure.SignatureExpire`
//! makes the client adopt the server's clock from its `Date` header and
//! resend once.
//!
//! Every answer is read through the client's [`Guard`] (no redirects,
//! capped bodies, echoed secrets redacted), each attempt within the call
//! deadline and the whole operation within its own.

use super::credentials::{ProvideCredentials, Region};
use super::error::envelope_error_code;
use super::sign::{self, SignableRequest, SigningParams};
use super::{generated, API_VERSION};
use crate::hooks::carry;
use crate::http::{deadline, Guard};
use crate::retry::{self, RetryPolicy, Verdict};
use crate::{Error, ErrorKind, RateLimiter, Vendor};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use progenitor_client::{ClientInfo, OperationInfo};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::Instrument;

/// The actions CLS limits to 20 requests/s, which the client paces itself.
pub(crate) const LIMITED_ACTIONS: &[&str] = &["CreateExport", "DescribeExports"];

/// Settings the builder hands to the pipeline.
pub(crate) struct Config {
    pub credentials: Arc<dyn ProvideCredentials>,
    pub region: Region,
    /// `Host` as sent, which is what gets signed.
    pub host: String,
    pub retry: RetryPolicy,
    pub rate_limit: Option<u32>,
    /// Deadlines, caps and the redactor.
    pub guard: Guard,
    pub sign_action: bool,
    pub language: Option<String>,
}

/// The state the generated client carries: credentials, retry policy, rate
/// limiters and the clock offset learned from the server. Built by
/// [`ClientBuilder`](super::ClientBuilder); public only because the
/// generated client names it. Clones share everything.
#[doc(hidden)]
#[derive(Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
}

struct Shared {
    cfg: Config,
    limiters: HashMap<&'static str, RateLimiter>,
    /// Server time minus local time, in seconds.
    clock_offset: AtomicI64,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cfg = &self.shared.cfg;
        f.debug_struct("Pipeline")
            .field("credentials", &cfg.credentials)
            .field("region", &cfg.region)
            .field("host", &cfg.host)
            .field("retry", &cfg.retry)
            .field("rate_limit", &cfg.rate_limit)
            .field("clock_offset_secs", &self.clock_offset())
            .finish_non_exhaustive()
    }
}

/// What an attempt produced.
enum Outcome {
    Response(reqwest::Response),
    Transport(reqwest::Error),
    Local(Error),
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Done,
    Retry,
    /// Adopt the server's clock and resend at once.
    Resync,
}

/// What an answered request calls for, from its HTTP status and envelope
/// error code. `resynced` is whether this call already adopted the server's
/// clock once.
pub(crate) fn decide(status: u16, code: Option<&str>, read_only: bool, resynced: bool) -> Decision {
    if status != 200 {
        return match status {
            // Throttled before being applied.
            429 => Decision::Retry,
            // A gateway in between failed; the action may have run.
            500 | 502 | 503 | 504 if read_only => Decision::Retry,
            _ => Decision::Done,
        };
    }
    match code {
        Some("AuthFailure.SignatureExpire") if !resynced => Decision::Resync,
        Some(c) if c.starts_with("RequestLimitExceeded") => Decision::Retry,
        Some(c) if c.starts_with("InternalError") && read_only => Decision::Retry,
        _ => Decision::Done,
    }
}

/// Actions that change nothing on the server, so repeating them is safe.
pub(crate) fn is_read_only(action: &str) -> bool {
    ["Describe", "Search", "Get", "List"]
        .iter()
        .any(|p| action.starts_with(p))
}

impl Pipeline {
    pub(crate) fn new(cfg: Config) -> Self {
        let limiters = match cfg.rate_limit {
            Some(n) => LIMITED_ACTIONS
                .iter()
                .map(|a| (*a, RateLimiter::new(n, Duration::from_secs(1))))
                .collect(),
            None => HashMap::new(),
        };
        Pipeline {
            shared: Arc::new(Shared {
                cfg,
                limiters,
                clock_offset: AtomicI64::new(0),
            }),
        }
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.shared.cfg.retry
    }

    /// Seconds the server's clock is ahead of ours, as last learned.
    pub(crate) fn clock_offset(&self) -> i64 {
        self.shared.clock_offset.load(Ordering::Relaxed)
    }

    fn timestamp(offset: i64) -> i64 {
        let local = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        local.saturating_add(offset)
    }

    /// Runs one generated request to completion. Failures that have no
    /// response of their own come back as a synthetic response (see
    /// [`crate::hooks::carry`]); transport failures as the last
    /// `reqwest::Error`.
    pub(crate) async fn execute(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let (action, url) = match wire_target(request.url()) {
            Ok(v) => v,
            Err(e) => return Ok(carry(e)),
        };
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(Bytes::copy_from_slice)
            .unwrap_or_else(|| Bytes::from_static(b"{}"));
        let span = tracing::debug_span!("cls_request", action = %action, operation);
        let limit = self.shared.cfg.guard.limits.operation_timeout;
        let run = self.run(http, action, url, body).instrument(span);
        let result = match deadline::operation(limit, run).await {
            Ok(r) => r,
            Err(e) => Ok(carry(e)),
        };
        crate::hooks::leave(result, Vendor::TencentCls, operation)
    }

    async fn run(
        &self,
        http: &reqwest::Client,
        action: String,
        url: url::Url,
        body: Bytes,
    ) -> reqwest::Result<reqwest::Response> {
        let read_only = is_read_only(&action);
        let resynced = AtomicBool::new(false);
        let outcome = retry::run(&self.shared.cfg.retry, &action, |attempt| {
            let (action, url, body, resynced) = (&action, &url, &body, &resynced);
            async move {
                loop {
                    let slot = match self.shared.limiters.get(action.as_str()) {
                        Some(limiter) => Some(limiter.acquire().await),
                        None => None,
                    };
                    // The offset this attempt signs with, so a SignatureExpire
                    // answer can tell whether a newer offset would help.
                    let offset = self.clock_offset();
                    let req = match self.build(http, url, action, body, offset).await {
                        Ok(r) => r,
                        Err(e) => return Verdict::Done(Outcome::Local(e)),
                    };
                    tracing::debug!(attempt, "sending");
                    let sent = send_buffered(http, &self.shared.cfg.guard, req).await;
                    drop(slot);
                    let (status, headers, bytes) = match sent {
                        Sent::Parts(status, headers, bytes) => (status, headers, bytes),
                        // A body cut short or a call past its deadline:
                        // repeated only for read-only actions.
                        Sent::Local(e) => {
                            return if read_only && e.is_retryable() {
                                Verdict::Retry {
                                    last: Outcome::Local(e),
                                    after: None,
                                }
                            } else {
                                Verdict::Done(Outcome::Local(e))
                            };
                        }
                        Sent::Transport(e) => {
                            // A CreateExport that may have reached the server
                            // is not sent again: only a refused connection is
                            // safe for it.
                            let again = retry::network_error_is_safe_to_retry(&e, read_only);
                            tracing::debug!(attempt, again, "transport failure");
                            return if again {
                                Verdict::Retry {
                                    last: Outcome::Transport(e),
                                    after: None,
                                }
                            } else {
                                Verdict::Done(Outcome::Transport(e))
                            };
                        }
                    };
                    let code = if status == 200 {
                        envelope_error_code(&bytes).map(|(c, _)| c)
                    } else {
                        None
                    };
                    let decision = decide(
                        status,
                        code.as_deref(),
                        read_only,
                        resynced.load(Ordering::Relaxed),
                    );
                    if decision == Decision::Resync {
                        resynced.store(true, Ordering::Relaxed);
                        if self.adopt_server_clock(&headers, offset) {
                            continue;
                        }
                    }
                    let response = rebuild(status, headers, bytes);
                    return match decision {
                        Decision::Retry => Verdict::Retry {
                            after: retry::retry_after_header(response.headers()),
                            last: Outcome::Response(response),
                        },
                        _ => Verdict::Done(Outcome::Response(response)),
                    };
                }
            }
        })
        .await;
        match outcome {
            Outcome::Response(r) => Ok(r),
            // A body cut short becomes a Network error in `From<reqwest::Error>`,
            // like every transport failure of every vendor.
            Outcome::Transport(e) => Err(e),
            Outcome::Local(e) => Ok(carry(e)),
        }
    }

    /// Learns the server's clock from its `Date` header. Returns whether the
    /// offset now differs from `signed_with`, the one the refused attempt
    /// used (so resending can help). Comparing with that rather than with
    /// the stored value matters when concurrent calls hit the skew at once:
    /// the first one to adopt the clock must not stop the others from
    /// resending.
    fn adopt_server_clock(&self, headers: &http::HeaderMap, signed_with: i64) -> bool {
        let Some(server) = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(chrono::DateTime::<chrono::Utc>::from)
        else {
            tracing::warn!("signature expired and the server sent no usable Date header");
            return false;
        };
        let local = chrono::Utc::now().timestamp();
        let offset = server.timestamp() - local;
        self.shared.clock_offset.store(offset, Ordering::Relaxed);
        tracing::warn!(
            offset_secs = offset,
            "local clock differs from the server's; adjusting signatures"
        );
        offset != signed_with
    }

    /// The wire-form request for one attempt, freshly signed.
    async fn build(
        &self,
        http: &reqwest::Client,
        url: &url::Url,
        action: &str,
        body: &Bytes,
        clock_offset: i64,
    ) -> crate::Result<reqwest::Request> {
        let cfg = &self.shared.cfg;
        let creds = cfg.credentials.provide_credentials().await?;
        creds.validate()?;
        // Whatever the server echoes back of them is redacted. Providers
        // may rotate credentials, so every attempt registers its own.
        cfg.guard.redactor.add(creds.secret_key().expose());
        if let Some(token) = creds.session_token() {
            cfg.guard.redactor.add(token.expose());
        }
        let timestamp = Self::timestamp(clock_offset);
        let content_type = "application/json";
        let headers = [("Content-Type", content_type), ("X-TC-Action", action)];
        let signed: &[&str] = if cfg.sign_action {
            sign::DEFAULT_SIGNED_HEADERS
        } else {
            &["content-type", "host"]
        };
        let signable = SignableRequest {
            method: "POST",
            host: &cfg.host,
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let params = SigningParams {
            secret_id: creds.secret_id(),
            secret_key: creds.secret_key().expose(),
            token: creds.session_token().map(|t| t.expose()),
            service: sign::SERVICE,
            timestamp,
            signed_headers: signed,
        };
        let signed = sign::sign(&signable, &params)?;

        let mut builder = http
            .post(url.clone())
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, "application/json")
            .header("X-TC-Action", action)
            .header("X-TC-Version", API_VERSION)
            .header("X-TC-Region", cfg.region.as_str())
            .body(body.clone());
        if let Some(lang) = &cfg.language {
            builder = builder.header("X-TC-Language", lang.as_str());
        }
        let mut req = builder
            .build()
            .map_err(|e| Error::from(e).with_vendor(Vendor::TencentCls))?;
        for (name, value) in signed.headers {
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                Error::credentials(
                    "the credentials contain characters that cannot be sent in a header",
                )
            })?;
            if name != "X-TC-Timestamp" {
                v.set_sensitive(true);
            }
            req.headers_mut()
                .insert(HeaderName::from_static(lower(name)), v);
        }
        Ok(req)
    }
}

fn lower(name: &'static str) -> &'static str {
    match name {
        "Authorization" => "authorization",
        "X-TC-Timestamp" => "x-tc-timestamp",
        "X-TC-Token" => "x-tc-token",
        _ => "x-unknown",
    }
}

/// The action named by the generated path (`…/CreateExport`) and the URL to
/// post it to (the same base with `/`).
fn wire_target(url: &url::Url) -> crate::Result<(String, url::Url)> {
    let path = url.path();
    let (stem, action) = path.rsplit_once('/').unwrap_or(("", path));
    if action.is_empty() || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("`{path}` does not name a CLS action"),
        )
        .with_vendor(Vendor::TencentCls));
    }
    let mut target = url.clone();
    target.set_path(&format!("{stem}/"));
    target.set_query(None);
    Ok((action.to_string(), target))
}

/// What sending one request produced.
enum Sent {
    /// Status, headers and the whole body.
    Parts(u16, http::HeaderMap, Bytes),
    /// The request could not be sent or the head not received.
    Transport(reqwest::Error),
    /// The guard refused the answer (redirect, size), the body broke off,
    /// or the call ran past its deadline.
    Local(Error),
}

/// Sends and reads the whole (small) body through the guard, within the
/// call deadline, so the envelope can be inspected and a body cut mid-way
/// counts as a failed attempt. An envelope reporting an error is redacted.
async fn send_buffered(http: &reqwest::Client, guard: &Guard, req: reqwest::Request) -> Sent {
    let asked = req.url().clone();
    let exchange = async {
        let response = match http.execute(req).await {
            Ok(r) => r,
            Err(e) => return Sent::Transport(e),
        };
        let response = match guard.json(&asked, response).await {
            Ok(r) => r,
            Err(e) => return Sent::Local(e),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Sent::Local(Error::from(e)),
        };
        let bytes = if status == 200 && envelope_error_code(&bytes).is_some() {
            guard.redactor.redact_bytes(&bytes)
        } else {
            bytes
        };
        Sent::Parts(status, headers, bytes)
    };
    match deadline::call(guard.limits.timeout, exchange).await {
        Ok(sent) => sent,
        Err(e) => Sent::Local(e),
    }
}

fn rebuild(status: u16, headers: http::HeaderMap, body: Bytes) -> reqwest::Response {
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = headers;
    // The body is no longer encoded as the headers describe.
    response
        .headers_mut()
        .remove(http::header::CONTENT_ENCODING);
    reqwest::Response::from(response)
}

impl progenitor_client::ClientHooks<Pipeline> for generated::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        self.inner()
            .execute(self.client(), request, info.operation_id)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_paths_become_post_root() {
        let (action, url) =
            wire_target(&"http://127.0.0.1:9/CreateExport".parse().unwrap()).unwrap();
        assert_eq!(
            (action.as_str(), url.as_str()),
            ("CreateExport", "http://127.0.0.1:9/")
        );
        let (action, url) =
            wire_target(&"https://proxy.example/cls/DescribeTopics".parse().unwrap()).unwrap();
        assert_eq!(
            (action.as_str(), url.as_str()),
            ("DescribeTopics", "https://proxy.example/cls/")
        );
        assert!(wire_target(&"http://127.0.0.1:9/".parse().unwrap()).is_err());
    }

    fn pipeline() -> Pipeline {
        Pipeline::new(Config {
            credentials: Arc::new(super::super::Credentials::new("AKIDx", "k")),
            region: Region::new("ap-guangzhou").unwrap(),
            host: "127.0.0.1:9".into(),
            retry: RetryPolicy::disabled(),
            rate_limit: None,
            guard: Guard::default(),
            sign_action: true,
            language: None,
        })
    }

    fn date_header(ahead_secs: i64) -> http::HeaderMap {
        let at = chrono::Utc::now() + chrono::Duration::seconds(ahead_secs);
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::DATE,
            at.format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string()
                .parse()
                .unwrap(),
        );
        h
    }

    #[test]
    fn a_resync_is_judged_against_the_offset_the_attempt_signed_with() {
        let p = pipeline();
        let server = date_header(600);
        // First call to see the skew adopts the clock and resends.
        assert!(p.adopt_server_clock(&server, 0));
        assert!((p.clock_offset() - 600).abs() <= 2, "{}", p.clock_offset());
        // A concurrent call signed before that still resends, although the
        // stored offset is already right.
        assert!(p.adopt_server_clock(&server, 0));
        // No usable Date: nothing learned, no resend.
        assert!(!p.adopt_server_clock(&http::HeaderMap::new(), 0));
        assert!((p.clock_offset() - 600).abs() <= 2);
    }

    #[test]
    fn envelope_codes_decide_retries() {
        let create = is_read_only("CreateExport");
        let describe = is_read_only("DescribeExports");
        // Throttling means the request was not applied: retry even a create.
        assert_eq!(
            decide(200, Some("RequestLimitExceeded"), create, false),
            Decision::Retry
        );
        assert_eq!(
            decide(
                200,
                Some("RequestLimitExceeded.GlobalRegionUinLimitExceeded"),
                create,
                false
            ),
            Decision::Retry
        );
        // An internal error may have happened after the create was applied.
        assert_eq!(
            decide(200, Some("InternalError"), create, false),
            Decision::Done
        );
        assert_eq!(
            decide(200, Some("InternalError"), describe, false),
            Decision::Retry
        );
        // Clock skew: resync once, then give up.
        assert_eq!(
            decide(200, Some("AuthFailure.SignatureExpire"), create, false),
            Decision::Resync
        );
        assert_eq!(
            decide(200, Some("AuthFailure.SignatureExpire"), create, true),
            Decision::Done
        );
        for final_code in [
            "AuthFailure.SignatureFailure",
            "InvalidParameter",
            "ResourceNotFound.TopicNotExist",
        ] {
            assert_eq!(
                decide(200, Some(final_code), describe, false),
                Decision::Done
            );
        }
        assert_eq!(decide(200, None, create, false), Decision::Done);
        assert_eq!(decide(503, None, describe, false), Decision::Retry);
        assert_eq!(decide(503, None, create, false), Decision::Done);
        assert_eq!(decide(429, None, create, false), Decision::Retry);
    }
}
