//! No credential crosses an origin.
//!
//! API calls and token exchanges carry credentials in headers (bearer
//! tokens, TC3 signatures, `X-TC-Token`, Digest answers) and bodies (the C1
//! client assertion); reqwest strips only `Authorization` when it follows a
//! redirect. So API clients follow none, and a 3xx is an error that names
//! the target origin (never its path or query, which can be pre-signed).
//! A user-supplied `reqwest::Client` may still follow redirects: the
//! pipelines therefore judge every response themselves, and refuse one that
//! was answered by another origin than the one asked.
//!
//! Download URLs (pre-signed, e.g. the CLS `CosPath`) may follow HTTPS
//! redirects, through a client of their own that sends no vendor header;
//! plain HTTP only from loopback to loopback ([`may_follow`]).

use crate::endpoint::is_loopback_host;
use crate::{Error, ErrorKind, Result};
use std::time::Duration;

/// The settings every API and token client starts from: the crate's user
/// agent, a 10 s connect timeout, and no redirects.
pub(crate) fn api_client_builder() -> reqwest::ClientBuilder {
    crate::tls::ensure_crypto_provider();
    reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        // Endpoint::parse already allows plain http only for loopback.
        .https_only(false)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
}

/// How many redirects one download follows; the next one is an error.
pub(crate) const MAX_DOWNLOAD_REDIRECTS: usize = 5;

/// Why a download redirect is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The target is neither HTTPS nor a loopback reached from loopback.
    Insecure,
    /// [`MAX_DOWNLOAD_REDIRECTS`] were followed already.
    TooMany,
}

impl Refusal {
    /// What the error says: no URL, which may be pre-signed.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Insecure => {
                "refused a download redirect to a non-HTTPS URL (plain HTTP is followed only from loopback to loopback)"
            }
            Refusal::TooMany => "refused a download redirect: too many redirects",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Refusal {}

/// Whether a download may follow a redirect to `target`, having requested
/// `previous` (the first URL and every hop since, as reqwest lists them).
///
/// HTTPS is always followed. Plain HTTP only to loopback, and only if every
/// URL before it was loopback too: a remote (even HTTPS) download host must
/// not be able to point the client at a service on the user's own machine
/// and have its answer saved as the download.
pub(crate) fn may_follow(target: &url::Url, previous: &[url::Url]) -> Result<(), Refusal> {
    // `previous` holds the first URL too: after it, `len() - 1` hops were
    // followed, and following `target` makes `len()`.
    if previous.len() > MAX_DOWNLOAD_REDIRECTS {
        return Err(Refusal::TooMany);
    }
    let loopback = |u: &url::Url| u.host_str().is_some_and(is_loopback_host);
    match target.scheme() {
        "https" => Ok(()),
        "http" if loopback(target) && previous.iter().all(loopback) => Ok(()),
        _ => Err(Refusal::Insecure),
    }
}

/// The client for pre-signed download URLs: the API client's settings
/// (no default headers, so nothing but the URL's own signature travels),
/// except that it follows up to [`MAX_DOWNLOAD_REDIRECTS`] redirects, as
/// [`may_follow`] allows.
pub(crate) fn download_client() -> Result<reqwest::Client> {
    api_client_builder()
        .redirect(reqwest::redirect::Policy::custom(
            |attempt| match may_follow(attempt.url(), attempt.previous()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            },
        ))
        .build()
        .map_err(|e| Error::from(e).with_operation("build_download_client"))
}

/// The error for a download whose redirect [`may_follow`] refused: typed,
/// not retryable (the same URL would be refused again), naming no URL.
pub(crate) fn download_error(e: reqwest::Error) -> Error {
    let refusal = crate::error::causes(&e).find_map(|c| c.downcast_ref::<Refusal>().copied());
    match refusal {
        Some(r) => Error::new(ErrorKind::Api, r.message()).with_retryable(false),
        None => Error::from(e),
    }
}

/// `scheme://host:port` of `url`: all an error may say about it.
pub(crate) fn origin(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Refuses a response that is a redirect, or that another origin than
/// `asked` answered (a user-supplied client that follows redirects).
/// The error names the target origin only, and is not retryable.
pub(crate) fn refuse_redirect(asked: &url::Url, response: &reqwest::Response) -> Result<()> {
    let status = response.status();
    if status.is_redirection() && status != http::StatusCode::NOT_MODIFIED {
        let target = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
            .map(|u| origin(&u))
            .unwrap_or_else(|| "an unnamed location".to_string());
        return Err(Error::new(
            ErrorKind::Api,
            format!(
                "refused to follow a redirect (HTTP {}) to {target}: API calls follow no redirect",
                status.as_u16()
            ),
        )
        .with_status(status.as_u16())
        .with_retryable(false));
    }
    // Responses built in-process (tests' fakes, rebuilt bodies) carry
    // reqwest's placeholder URL and no origin to compare.
    let placeholder = response.url().host_str() == Some("no.url.provided.local");
    if !placeholder && origin(response.url()) != origin(asked) {
        return Err(Error::new(
            ErrorKind::Api,
            format!(
                "the answer came from {} instead of {}: the HTTP client followed a redirect; configure it with `redirect::Policy::none()`",
                origin(response.url()),
                origin(asked)
            ),
        )
        .with_retryable(false));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, location: Option<&str>) -> reqwest::Response {
        let mut b = http::Response::builder().status(status);
        if let Some(l) = location {
            b = b.header("location", l);
        }
        let r = b.body(String::new()).unwrap();
        reqwest::Response::from(r)
    }

    #[test]
    fn redirects_name_the_origin_only() {
        let asked = url::Url::parse("https://api.example/").unwrap();
        let r = response(307, Some("https://evil.example:8443/x?sig=SECRET"));
        let err = refuse_redirect(&asked, &r).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("https://evil.example:8443"), "{text}");
        assert!(!text.contains("SECRET") && !text.contains("/x"), "{text}");
        assert!(!err.is_retryable());
        assert_eq!(err.status(), Some(307));
        assert!(refuse_redirect(&asked, &response(200, None)).is_ok());
        assert!(refuse_redirect(&asked, &response(304, None)).is_ok());
        let mut moved = http::Response::builder().status(200);
        {
            use reqwest::ResponseBuilderExt;
            moved = moved.url(url::Url::parse("https://elsewhere.example/x?q=1").unwrap());
        }
        let moved = reqwest::Response::from(moved.body(String::new()).unwrap());
        let err = refuse_redirect(&asked, &moved).unwrap_err().to_string();
        assert!(err.contains("https://elsewhere.example:443"), "{err}");
        assert!(!err.contains("q=1"), "{err}");
    }

    fn urls(list: &[&str]) -> Vec<url::Url> {
        list.iter().map(|u| url::Url::parse(u).unwrap()).collect()
    }

    #[test]
    fn download_redirects_leave_https_only_from_loopback_to_loopback() {
        let to = |u: &str| url::Url::parse(u).unwrap();
        // A remote HTTPS host may not send the client to a local service.
        let remote = urls(&["https://cos.example/x?sign=s"]);
        assert_eq!(
            may_follow(&to("http://127.0.0.1:8080/admin"), &remote),
            Err(Refusal::Insecure)
        );
        assert_eq!(
            may_follow(&to("http://localhost:8080/"), &remote),
            Err(Refusal::Insecure)
        );
        assert_eq!(
            may_follow(&to("http://[::1]:8080/"), &remote),
            Err(Refusal::Insecure)
        );
        // Nor after a hop through a remote host, even from loopback.
        let via_remote = urls(&["http://127.0.0.1:1/", "https://cos.example/"]);
        assert_eq!(
            may_follow(&to("http://127.0.0.1:2/"), &via_remote),
            Err(Refusal::Insecure)
        );
        // Loopback to loopback (tests, local emulators) is followed.
        let local = urls(&["http://127.0.0.1:1/a", "http://localhost:2/b"]);
        assert_eq!(may_follow(&to("http://127.0.0.1:3/c"), &local), Ok(()));
        // HTTPS is followed from anywhere.
        assert_eq!(may_follow(&to("https://other.example/f"), &remote), Ok(()));
        assert_eq!(may_follow(&to("https://other.example/f"), &local), Ok(()));
        // Plain HTTP elsewhere, and other schemes, never.
        assert_eq!(
            may_follow(&to("http://203.0.113.7/x"), &remote),
            Err(Refusal::Insecure)
        );
        assert_eq!(
            may_follow(&to("http://203.0.113.7/x"), &local),
            Err(Refusal::Insecure)
        );
        assert_eq!(
            may_follow(&to("file:///etc/passwd"), &local),
            Err(Refusal::Insecure)
        );
    }

    #[test]
    fn download_redirects_stop_after_the_cap() {
        let to = url::Url::parse("https://cos.example/next").unwrap();
        let hops = |n: usize| vec![to.clone(); n];
        // The first URL plus MAX - 1 hops: the MAX-th hop is followed.
        assert_eq!(may_follow(&to, &hops(MAX_DOWNLOAD_REDIRECTS)), Ok(()));
        assert_eq!(
            may_follow(&to, &hops(MAX_DOWNLOAD_REDIRECTS + 1)),
            Err(Refusal::TooMany)
        );
    }
}
