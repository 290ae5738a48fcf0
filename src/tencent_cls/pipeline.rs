//! The CLS side of the shared attempt loop ([`crate::http::attempt`]):
//! wire form, TC3 signing and the reading of Tencent's envelopes.
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

use super::credentials::{ProvideCredentials, Region};
use super::error::envelope_error_code;
use super::sign::{self, SignableRequest, SigningParams};
use super::{generated, API_VERSION};
use crate::hooks::carry;
use crate::http::attempt::{by_status, Answer, Core, Decision, Scheme};
use crate::http::redact::Redactor;
use crate::http::transport::Transport;
use crate::http::Guard;
use crate::retry::RetryPolicy;
use crate::{Error, ErrorKind, RateLimiter, Vendor};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
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
    /// The limiter of each rate-limited action.
    pub limiters: HashMap<&'static str, RateLimiter>,
    /// Deadlines, caps and the redactor.
    pub guard: Guard,
    pub sign_action: bool,
    pub language: Option<String>,
    /// Where requests go (a fake in unit tests).
    pub transport: Arc<dyn Transport>,
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
    scheme: Tc3,
    core: Core,
    region: Region,
    language: Option<String>,
    limiters: HashMap<&'static str, RateLimiter>,
}

/// TC3-HMAC-SHA256 signing, against the server's clock once learned.
struct Tc3 {
    credentials: Arc<dyn ProvideCredentials>,
    /// `Host` as sent, which is what gets signed.
    host: String,
    sign_action: bool,
    redactor: Redactor,
    /// Server time minus local time, in seconds.
    clock_offset: AtomicI64,
}

/// One call's signing state.
#[derive(Default)]
struct Call {
    /// The clock offset the last attempt signed with, so a SignatureExpire
    /// answer can tell whether a newer offset would help.
    signed_with: AtomicI64,
    /// Whether this call already adopted the server's clock once.
    resynced: AtomicBool,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("Pipeline")
            .field("credentials", &shared.scheme.credentials)
            .field("region", &shared.region)
            .field("host", &shared.scheme.host)
            .field("retry", shared.core.retry())
            .field("rate_limit", &shared.limiters)
            .field("clock_offset_secs", &self.clock_offset())
            .finish_non_exhaustive()
    }
}

/// What an answered request calls for, from its HTTP status and envelope
/// error code: [`Decision::Reauthenticate`] means adopt the server's clock
/// and resend at once. `resynced` is whether this call already adopted the
/// server's clock once.
pub(crate) fn decide(status: u16, code: Option<&str>, read_only: bool, resynced: bool) -> Decision {
    if status != 200 {
        // Throttled before being applied, or a gateway in between failed
        // (and the action may have run).
        return by_status(status, read_only);
    }
    match code {
        Some("AuthFailure.SignatureExpire") if !resynced => Decision::Reauthenticate,
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

impl Scheme for Tc3 {
    const VENDOR: Vendor = Vendor::TencentCls;
    type Call = Call;

    async fn authenticate(&self, request: &mut reqwest::Request, call: &Call) -> crate::Result<()> {
        let offset = self.clock_offset.load(Ordering::Relaxed);
        call.signed_with.store(offset, Ordering::Relaxed);
        let creds = self.credentials.provide_credentials().await?;
        creds.validate()?;
        // Whatever the server echoes back of them is redacted. Providers
        // may rotate credentials, so every attempt registers its own.
        self.redactor.add(creds.secret_key().expose());
        if let Some(token) = creds.session_token() {
            self.redactor.add(token.expose());
        }
        let action = request
            .headers()
            .get("x-tc-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let body = request.body().and_then(|b| b.as_bytes()).unwrap_or(b"{}");
        let headers = [("Content-Type", CONTENT_TYPE), ("X-TC-Action", action)];
        let signed: &[&str] = if self.sign_action {
            sign::DEFAULT_SIGNED_HEADERS
        } else {
            &["content-type", "host"]
        };
        let signable = SignableRequest {
            method: "POST",
            host: &self.host,
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
            timestamp: timestamp(offset),
            signed_headers: signed,
        };
        let signed = sign::sign(&signable, &params)?;
        for (name, value) in signed.headers {
            // The `String` becomes the value's buffer as it is, not a copy.
            let mut v = HeaderValue::try_from(value).map_err(|_| {
                Error::credentials(
                    "the credentials contain characters that cannot be sent in a header",
                )
            })?;
            if name != "X-TC-Timestamp" {
                v.set_sensitive(true);
            }
            request.headers_mut().insert(signed_header_name(name)?, v);
        }
        Ok(())
    }

    async fn classify(
        &self,
        answer: &mut Answer,
        read_only: bool,
        call: &Call,
    ) -> crate::Result<Decision> {
        let status = answer.status().as_u16();
        let code = if status == 200 {
            let body = answer.bytes().await?;
            let code = envelope_error_code(&body).map(|(c, _)| c);
            if code.is_some() {
                // An error envelope may echo a credential, like an error body.
                answer.set_body(self.redactor.redact_bytes(&body));
            }
            code
        } else {
            None
        };
        let resynced = call.resynced.load(Ordering::Relaxed);
        let decision = decide(status, code.as_deref(), read_only, resynced);
        if decision != Decision::Reauthenticate {
            return Ok(decision);
        }
        call.resynced.store(true, Ordering::Relaxed);
        let signed_with = call.signed_with.load(Ordering::Relaxed);
        Ok(if self.adopt_server_clock(answer.headers(), signed_with) {
            Decision::Reauthenticate
        } else {
            Decision::Done
        })
    }
}

const CONTENT_TYPE: &str = "application/json";

/// The wire name of a header the signer adds. The signer spells them the
/// canonical way (`X-TC-Timestamp`); parsing that would lowercase it into a
/// new buffer on every request, so the three it adds map to static names.
fn signed_header_name(name: &'static str) -> crate::Result<HeaderName> {
    Ok(match name {
        "Authorization" => http::header::AUTHORIZATION,
        "X-TC-Timestamp" => HeaderName::from_static("x-tc-timestamp"),
        "X-TC-Token" => HeaderName::from_static("x-tc-token"),
        // A name added to the signer later: parsed, never a panic.
        other => HeaderName::from_bytes(other.as_bytes()).map_err(|_| {
            Error::new(
                crate::ErrorKind::InvalidInput,
                format!("the signer produced an invalid header name `{other}`"),
            )
        })?,
    })
}

fn timestamp(offset: i64) -> i64 {
    chrono::Utc::now().timestamp().saturating_add(offset)
}

impl Tc3 {
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
        self.clock_offset.store(offset, Ordering::Relaxed);
        tracing::warn!(
            offset_secs = offset,
            "local clock differs from the server's; adjusting signatures"
        );
        offset != signed_with
    }
}

impl Pipeline {
    pub(crate) fn new(cfg: Config) -> Self {
        let scheme = Tc3 {
            credentials: cfg.credentials,
            host: cfg.host,
            sign_action: cfg.sign_action,
            redactor: cfg.guard.redactor.clone(),
            clock_offset: AtomicI64::new(0),
        };
        Pipeline {
            shared: Arc::new(Shared {
                scheme,
                core: Core::new(cfg.transport, cfg.guard, cfg.retry),
                region: cfg.region,
                language: cfg.language,
                limiters: cfg.limiters,
            }),
        }
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        self.shared.core.retry()
    }

    /// Seconds the server's clock is ahead of ours, as last learned.
    pub(crate) fn clock_offset(&self) -> i64 {
        self.shared.scheme.clock_offset.load(Ordering::Relaxed)
    }

    /// Runs one generated request to completion. Failures that have no
    /// response of their own come back as a synthetic response (see
    /// [`crate::hooks::carry`]); transport failures as the last
    /// `reqwest::Error`.
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        // Failures before the core runs leave carried; the hook names the
        // vendor and operation (`hooks::exit`).
        let early = |e| Ok(carry(e));
        let (action, url) = match wire_target(request.url()) {
            Ok(v) => v,
            Err(e) => return early(e),
        };
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(Bytes::copy_from_slice)
            .unwrap_or_else(|| Bytes::from_static(b"{}"));
        let wire = match self.wire_request(url, &action, body) {
            Ok(r) => r,
            Err(e) => return early(e),
        };
        let shared = &self.shared;
        let limiter = shared.limiters.get(action.as_str());
        let span = tracing::debug_span!("cls_request", action = %action, operation);
        shared
            .core
            .execute(
                &shared.scheme,
                wire,
                operation,
                is_read_only(&action),
                limiter,
            )
            .instrument(span)
            .await
    }

    /// The wire-form request, not yet signed (each attempt signs a copy).
    fn wire_request(
        &self,
        url: url::Url,
        action: &str,
        body: Bytes,
    ) -> crate::Result<reqwest::Request> {
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("`{v}` cannot be sent in a header"),
                )
                .with_vendor(Vendor::TencentCls)
            })
        };
        let mut req = reqwest::Request::new(http::Method::POST, url);
        let h = req.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        h.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-tc-action", header(action)?);
        h.insert("x-tc-version", HeaderValue::from_static(API_VERSION));
        h.insert("x-tc-region", header(self.shared.region.as_str())?);
        if let Some(lang) = &self.shared.language {
            h.insert("x-tc-language", header(lang)?);
        }
        *req.body_mut() = Some(body.into());
        Ok(req)
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

crate::hooks::exec_through_pipeline!();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_the_signer_adds_has_its_wire_name() {
        let params = SigningParams {
            secret_id: "AKIDEXAMPLE",
            secret_key: "key",
            token: Some("token"),
            service: sign::SERVICE,
            timestamp: 1_700_000_000,
            signed_headers: sign::DEFAULT_SIGNED_HEADERS,
        };
        let headers = [
            ("Content-Type", CONTENT_TYPE),
            ("X-TC-Action", "DescribeTopics"),
        ];
        let request = SignableRequest {
            method: "POST",
            host: "cls.example",
            path: "/",
            query: "",
            headers: &headers,
            body: b"{}",
        };
        let out = sign::sign(&request, &params).unwrap();
        assert_eq!(out.headers.len(), 3);
        for (name, _) in out.headers {
            let wire = signed_header_name(name).unwrap();
            assert_eq!(wire.as_str(), name.to_ascii_lowercase(), "{name}");
            assert_eq!(wire, HeaderName::from_bytes(name.as_bytes()).unwrap());
        }
        assert_eq!(
            signed_header_name("X-TC-Other").unwrap().as_str(),
            "x-tc-other"
        );
        let err = signed_header_name("bad name").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
    }

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

    #[test]
    fn a_resync_is_judged_against_the_offset_the_attempt_signed_with() {
        let tc3 = Tc3 {
            credentials: Arc::new(super::super::Credentials::new("AKIDx", "k")),
            host: "127.0.0.1:9".into(),
            sign_action: true,
            redactor: Redactor::default(),
            clock_offset: AtomicI64::new(0),
        };
        let offset = || tc3.clock_offset.load(Ordering::Relaxed);
        let at = chrono::Utc::now() + chrono::Duration::seconds(600);
        let mut server = http::HeaderMap::new();
        let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        server.insert(http::header::DATE, date.parse().unwrap());
        // First call to see the skew adopts the clock and resends.
        assert!(tc3.adopt_server_clock(&server, 0));
        assert!((offset() - 600).abs() <= 2, "{}", offset());
        // A concurrent call signed before that still resends, although the
        // stored offset is already right.
        assert!(tc3.adopt_server_clock(&server, 0));
        // No usable Date: nothing learned, no resend.
        assert!(!tc3.adopt_server_clock(&http::HeaderMap::new(), 0));
        assert!((offset() - 600).abs() <= 2);
    }

    #[test]
    fn envelope_codes_decide_retries() {
        use Decision::{Done, Reauthenticate as Resync, Retry};
        let (create, describe) = (false, true);
        for (status, code, read_only, resynced, decision) in [
            // Throttling means the request was not applied: retry even a create.
            (200, "RequestLimitExceeded", create, false, Retry),
            (
                200,
                "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
                create,
                false,
                Retry,
            ),
            // An internal error may have happened after the create was applied.
            (200, "InternalError", create, false, Done),
            (200, "InternalError", describe, false, Retry),
            // Clock skew: resync once, then give up.
            (200, "AuthFailure.SignatureExpire", create, false, Resync),
            (200, "AuthFailure.SignatureExpire", create, true, Done),
            (200, "AuthFailure.SignatureFailure", describe, false, Done),
            (200, "InvalidParameter", describe, false, Done),
            (200, "ResourceNotFound.TopicNotExist", describe, false, Done),
            (200, "", create, false, Done),
            (503, "", describe, false, Retry),
            (503, "", create, false, Done),
            (429, "", create, false, Retry),
        ] {
            let code = Some(code).filter(|c| !c.is_empty());
            assert_eq!(
                decide(status, code, read_only, resynced),
                decision,
                "{status} {code:?} read-only: {read_only}"
            );
        }
        assert!(!is_read_only("CreateExport") && is_read_only("DescribeExports"));
    }
}
