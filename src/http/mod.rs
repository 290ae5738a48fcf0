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

pub(crate) mod attempt;
pub(crate) mod body;
pub(crate) mod deadline;
#[cfg(test)]
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
            .map_err(crate::Error::from)
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-request-per-connection server answering `reply`; returns its
    /// URL and the heads of the requests it saw.
    async fn serve(
        reply: impl Fn() -> String + Send + Sync + 'static,
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).to_lowercase());
                let _ = s.write_all(reply().as_bytes()).await;
                let _ = s.shutdown().await;
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn downloads_follow_redirects_and_carry_nothing_but_the_url() {
        let (file, file_seen) = serve(|| {
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello".into()
        })
        .await;
        let target = format!("{file}/bucket/x.tar.gz?sign=abc");
        let (cos, _) = serve(move || {
            format!("HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        })
        .await;
        let d = Downloader::new(&Limits::default()).unwrap();
        let response = d
            .get(url::Url::parse(&format!("{cos}/cos/1?sign=s")).unwrap())
            .await
            .unwrap();
        let body: Vec<_> = d.body(response).try_collect().await.unwrap();
        assert_eq!(body.concat(), b"hello");
        let heads = file_seen.lock().unwrap().clone();
        assert_eq!(heads.len(), 1);
        for vendor_header in ["authorization", "x-tc-", "cookie"] {
            assert!(!heads[0].contains(vendor_header), "{}", heads[0]);
        }

        // Off HTTPS (and off loopback) no redirect is followed.
        let (plain, _) = serve(|| {
            "HTTP/1.1 302 Found\r\nlocation: http://203.0.113.7/x?sign=SECRET\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
        })
        .await;
        let err = d
            .get(url::Url::parse(&format!("{plain}/cos/1")).unwrap())
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}
