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
//! redirects, through a client of their own that sends no vendor header.

use crate::endpoint::is_https_or_loopback;
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

/// The client for pre-signed download URLs: the API client's settings
/// (no default headers, so nothing but the URL's own signature travels),
/// except that it follows up to 5 redirects, only to HTTPS (or loopback).
pub(crate) fn download_client() -> Result<reqwest::Client> {
    api_client_builder()
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if !is_https_or_loopback(attempt.url()) {
                attempt.error("refusing a redirect to a non-HTTPS URL")
            } else if attempt.previous().len() >= 5 {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| Error::from(e).with_operation("build_download_client"))
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
}
