//! The transport rules every vendor pipeline shares, written once.
//!
//! - [`redirect`]: API and token calls follow no redirect; a 3xx is an
//!   error naming the target origin. Download URLs get a client of their own
//!   that follows HTTPS redirects and carries no vendor credential.
//! - [`body`]: every body is read through one capped reader (success JSON,
//!   error bodies), and downloads through a minimum-throughput guard.
//! - [`deadline`]: a total deadline per JSON call and per operation
//!   (retries included).
//! - [`attempt`]: the attempt loop (rate limit, authenticate, send,
//!   classify, retry) every vendor runs, with its [`transport`] test seam.
//! - [`redact`]: vendor text is scrubbed of every credential the client
//!   holds before it reaches an error, a log line or the terminal.

// Each vendor uses a different part (only CLS downloads pre-signed URLs,
// only Atlas streams through the guard): with some vendor features off,
// parts are unused by design.
#![cfg_attr(
    not(all(feature = "atlas", feature = "conductorone", feature = "tencent-cls")),
    allow(dead_code)
)]

// The attempt loop bridges to the generated clients: no vendor, no loop.
#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
pub(crate) mod attempt;
pub(crate) mod body;
pub(crate) mod deadline;
// Its decoder check drives a vendor's error module (through `hooks`).
#[cfg(all(
    test,
    any(feature = "atlas", feature = "conductorone", feature = "tencent-cls")
))]
pub(crate) mod proptests;
pub(crate) mod redact;
pub(crate) mod redirect;
pub(crate) mod transport;

use std::time::Duration;

pub use body::Throughput;

/// The default total deadline of one JSON call (one attempt).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The bounds every client applies to its waits. Built from the
/// `timeout`, `operation_timeout` and `min_throughput` setters that every
/// vendor's builder has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Total deadline of one JSON call, body included.
    pub timeout: Duration,
    /// Deadline of one operation including all its retries and waits.
    pub operation_timeout: Option<Duration>,
    /// The slowest acceptable download.
    pub throughput: Throughput,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            operation_timeout: Some(deadline::DEFAULT_OPERATION_TIMEOUT),
            throughput: Throughput::default(),
        }
    }
}

/// What a client applies to every response: the redirect rule, the caps,
/// the throughput guard and the redaction of echoed secrets. One per
/// client, shared by its clones and its token source.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guard {
    pub limits: Limits,
    pub redactor: redact::Redactor,
}

impl Guard {
    pub(crate) fn new(limits: Limits) -> Self {
        Guard {
            limits,
            redactor: redact::Redactor::default(),
        }
    }

    /// A response held to the client's rules: refused if a redirect or
    /// from another origin than `asked`; an error body capped at
    /// [`body::MAX_ERROR_BODY`] and scrubbed of secrets; a success body read
    /// whole up to [`body::MAX_JSON_BODY`] if `whole`, else left streaming
    /// but held to the minimum throughput.
    pub(crate) async fn read(
        &self,
        asked: &url::Url,
        response: reqwest::Response,
        whole: bool,
    ) -> crate::Result<reqwest::Response> {
        redirect::refuse_redirect(asked, &response)?;
        let success = response.status().is_success();
        if success && !whole {
            return Ok(body::guard_response(response, self.limits.throughput));
        }
        let head = body::Head::of(&response);
        let body = if success {
            body::read_capped(response, body::MAX_JSON_BODY).await?
        } else {
            let raw = body::read_error_body(response).await;
            self.redactor.redact_bytes(&raw)
        };
        Ok(head.rebuild(body))
    }
}

/// Fetches pre-signed download URLs: its own client (HTTPS redirects
/// followed, no vendor header ever), the throughput guard on the body.
#[derive(Debug, Clone)]
pub(crate) struct Downloader {
    client: reqwest::Client,
    throughput: Throughput,
    timeout: Duration,
}

impl Downloader {
    pub(crate) fn new(limits: &Limits) -> crate::Result<Self> {
        Ok(Downloader {
            client: redirect::download_client()?,
            throughput: limits.throughput,
            timeout: limits.timeout,
        })
    }

    /// GETs `url` and returns the response head. Waiting for the head is
    /// bounded by the client's call timeout.
    pub(crate) async fn get(&self, url: url::Url) -> crate::Result<reqwest::Response> {
        let send = self.client.get(url).send();
        deadline::call(self.timeout, send)
            .await?
            .map_err(redirect::download_error)
    }

    /// The body of `response`, failing if it stalls below the minimum
    /// throughput, and saying how far it got if it breaks off.
    pub(crate) fn body(&self, response: reqwest::Response) -> crate::download::ByteStream {
        body::guard(body::response_stream(response), self.throughput)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use http::{header, HeaderMap, StatusCode};
    use std::sync::{Arc, Mutex};

    /// Serves `app` on loopback; returns its URL.
    async fn serve(app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    /// Answers everything with a 302 to `to`.
    fn found(to: String) -> axum::Router {
        axum::Router::new().fallback(move || {
            let to = to.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
        })
    }

    #[tokio::test]
    async fn downloads_follow_redirects_and_carry_nothing_but_the_url() {
        let seen = Arc::new(Mutex::new(Vec::<HeaderMap>::new()));
        let log = seen.clone();
        let file = serve(axum::Router::new().fallback(move |headers: HeaderMap| {
            log.lock().unwrap().push(headers);
            async { "hello" }
        }))
        .await;
        let cos = serve(found(format!("{file}/bucket/x.tar.gz?sign=abc"))).await;
        let d = Downloader::new(&Limits::default()).unwrap();
        let response = d
            .get(url::Url::parse(&format!("{cos}/cos/1?sign=s")).unwrap())
            .await
            .unwrap();
        let body: Vec<_> = d.body(response).try_collect().await.unwrap();
        assert_eq!(body.concat(), b"hello");
        let heads = seen.lock().unwrap().clone();
        assert_eq!(heads.len(), 1);
        for name in heads[0].keys().map(|k| k.as_str()) {
            let vendor = name.starts_with("x-tc-") || ["authorization", "cookie"].contains(&name);
            assert!(!vendor, "{:?}", heads[0]);
        }

        // Off HTTPS (and off loopback) no redirect is followed.
        let plain = serve(found("http://203.0.113.7/x?sign=SECRET".into())).await;
        let err = d
            .get(url::Url::parse(&format!("{plain}/cos/1")).unwrap())
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    /// Serves a 302 to itself, counting the requests.
    async fn loop_server() -> (String, Arc<Mutex<usize>>) {
        let count = Arc::new(Mutex::new(0usize));
        let seen = count.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let me = format!("{url}/again?sign=SECRET");
        let app = axum::Router::new().fallback(move || {
            *seen.lock().unwrap() += 1;
            let me = me.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, me)], "not the file") }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, count)
    }

    #[tokio::test]
    async fn a_redirect_loop_ends_in_a_typed_error_after_the_cap() {
        let (url, count) = loop_server().await;
        let d = Downloader::new(&Limits::default()).unwrap();
        let err = d
            .get(url::Url::parse(&format!("{url}/first")).unwrap())
            .await
            .unwrap_err();
        // The first request and MAX redirects, then no more.
        assert_eq!(*count.lock().unwrap(), redirect::MAX_DOWNLOAD_REDIRECTS + 1);
        assert_eq!(err.kind(), crate::ErrorKind::Api, "{err}");
        assert!(!err.is_retryable(), "{err}");
        let text = err.to_string();
        assert!(text.contains("too many redirects"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[tokio::test]
    async fn a_refused_redirect_is_a_typed_error_that_is_not_retried() {
        let plain = serve(found("http://203.0.113.7/x?sign=SECRET".into())).await;
        let d = Downloader::new(&Limits::default()).unwrap();
        let err = d
            .get(url::Url::parse(&format!("{plain}/cos/1")).unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Api, "{err}");
        assert!(!err.is_retryable(), "{err}");
        assert!(err.to_string().contains("non-HTTPS"), "{err}");
    }
}
