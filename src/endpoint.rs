//! Base URLs users may point a client at.
//!
//! Credentials and signed requests must not travel in clear text, so an
//! endpoint is HTTPS unless it is on loopback (the sandbox, a local proxy).

use crate::error::{Error, Result};
use std::fmt;
use std::net::IpAddr;

/// A validated base URL: `https://…`, or `http://` on a loopback host.
///
/// ```
/// use logexport::Endpoint;
///
/// assert!(Endpoint::parse("https://cloud.mongodb.com").is_ok());
/// assert!(Endpoint::parse("http://127.0.0.1:8080").is_ok());
/// assert!(Endpoint::parse("http://example.com").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: url::Url,
}

impl Endpoint {
    /// Parses and validates `s`. A trailing slash is dropped so that joined
    /// paths never contain `//`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason: String| Err(Error::invalid_input("endpoint", reason));
        let url = match url::Url::parse(s.trim_end_matches('/')) {
            Ok(url) => url,
            Err(e) => return bad(format!("not a URL ({e})")),
        };
        if url.host_str().is_none() {
            return bad("has no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad("must not embed credentials".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return bad("must not have a query or fragment".into());
        }
        match url.scheme() {
            "https" | "http" if is_https_or_loopback(&url) => Ok(Endpoint { url }),
            "http" => bad("plain http is only allowed for loopback hosts; use https".into()),
            other => bad(format!("unsupported scheme `{other}`")),
        }
    }

    /// The URL without a trailing slash, as progenitor's `baseurl` wants it.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The host name, without port.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// `host[:port]` as it belongs in a `Host` header.
    pub fn authority(&self) -> String {
        match self.url.port() {
            Some(p) => format!("{}:{p}", self.host()),
            None => self.host().to_string(),
        }
    }

    /// Whether the host is loopback (so plain http is permitted).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.host())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.as_str())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Endpoint::parse(s)
    }
}

/// `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` may carry credentials: HTTPS, or plain HTTP to a loopback
/// host.
pub(crate) fn is_https_or_loopback(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(is_loopback_host),
        _ => false,
    }
}

/// Rejects a download URL handed to us by a server unless it is HTTPS or
/// loopback, for the same reason as [`Endpoint::parse`].
#[cfg_attr(not(feature = "tencent-cls"), allow(dead_code))]
pub(crate) fn check_download_url(url: &str) -> Result<url::Url> {
    let parsed =
        url::Url::parse(url).map_err(|e| Error::decode(format!("bad download URL: {e}")))?;
    if !is_https_or_loopback(&parsed) {
        return Err(Error::decode("download URL is not HTTPS"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms() {
        for ok in [
            "http://localhost:1",
            "http://127.0.0.1",
            "http://127.8.9.1:80",
            "http://[::1]:9",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "ftp://x",
            "http://user:pw@127.0.0.1",
            "https://x?y=1",
            "nope",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trailing_slash_and_authority() {
        let e = Endpoint::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:8080");
        assert_eq!(e.authority(), "127.0.0.1:8080");
        assert_eq!(
            Endpoint::parse("https://a.example/").unwrap().authority(),
            "a.example"
        );
    }

    #[test]
    fn download_urls() {
        assert!(check_download_url("https://cos.example/x.tar.gz?sig=1").is_ok());
        assert!(check_download_url("http://127.0.0.1:3/x").is_ok());
        let err = check_download_url("http://cos.example/x?sig=secret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
