//! Tencent Cloud API credentials and where they come from.
//!
//! A [`Credentials`] value is a SecretId/SecretKey pair, plus a session
//! token for temporary (STS) credentials. The client asks a
//! [`ProvideCredentials`] for them before signing every attempt, so rotating
//! credentials (STS, a vault) plug in without rebuilding the client. Nothing
//! here ever prints a key or token: `Debug` redacts them, and the SecretId is
//! shown only by its first characters.

use crate::{Error, Result, SecretString};
use futures::future::BoxFuture;
use std::fmt;
use std::sync::Arc;

/// Environment variable holding the SecretId.
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// Environment variable holding the SecretKey.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
/// Environment variable holding the session token of temporary credentials.
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";
/// Other names for the session token, read in this order after
/// [`ENV_SESSION_TOKEN`]: `TENCENTCLOUD_TOKEN` (tccli and the official
/// SDKs) and `TENCENTCLOUD_SECURITY_TOKEN` (the Terraform provider).
pub const ENV_SESSION_TOKEN_ALIASES: [&str; 2] =
    ["TENCENTCLOUD_TOKEN", "TENCENTCLOUD_SECURITY_TOKEN"];
/// Environment variable holding the region, e.g. `ap-guangzhou`.
pub const ENV_REGION: &str = "TENCENTCLOUD_REGION";

/// A SecretId/SecretKey pair, optionally with a session token.
///
/// ```
/// use logexport::tencent_cls::Credentials;
///
/// let creds = Credentials::new("AKIDEXAMPLE", "my-secret-key").with_session_token("tok");
/// let shown = format!("{creds:?}");
/// assert!(!shown.contains("my-secret-key") && !shown.contains("tok\""));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    secret_id: String,
    secret_key: SecretString,
    session_token: Option<SecretString>,
}

impl Credentials {
    /// Long-term credentials.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<SecretString>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            session_token: None,
        }
    }

    /// Marks the credentials as temporary: the token is sent as `X-TC-Token`.
    pub fn with_session_token(mut self, token: impl Into<SecretString>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Reads [`ENV_SECRET_ID`], [`ENV_SECRET_KEY`] and, if set, the session
    /// token from [`ENV_SESSION_TOKEN`] or else one of
    /// [`ENV_SESSION_TOKEN_ALIASES`].
    pub fn from_env() -> Result<Self> {
        Credentials::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), with variables looked up by `get`
    /// (a config file, a test's map).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let non_empty = |name: &str| crate::env::var(&get, name);
        // Errors name the variable and the fault, never the value.
        let err = |msg: String| Error::credentials(msg).with_vendor(crate::Vendor::TencentCls);
        let header_safe = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        let id =
            non_empty(ENV_SECRET_ID).ok_or_else(|| err(format!("{ENV_SECRET_ID} is not set")))?;
        let key =
            non_empty(ENV_SECRET_KEY).ok_or_else(|| err(format!("{ENV_SECRET_KEY} is not set")))?;
        for (name, value) in [
            (ENV_SECRET_ID, Some(&id)),
            (ENV_SESSION_TOKEN, non_empty(ENV_SESSION_TOKEN).as_ref()),
        ] {
            if value.is_some_and(|v| !header_safe(v.trim())) {
                return Err(err(format!("{name} contains spaces or control characters")));
            }
        }
        let mut creds = Credentials::new(id.trim(), key.trim());
        let token = std::iter::once(ENV_SESSION_TOKEN)
            .chain(ENV_SESSION_TOKEN_ALIASES)
            .find_map(non_empty);
        if let Some(token) = token {
            creds = creds.with_session_token(token.trim());
        }
        creds
            .validate()
            .map_err(|e| e.with_vendor(crate::Vendor::TencentCls))?;
        Ok(creds)
    }

    /// The SecretId.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The SecretKey.
    pub fn secret_key(&self) -> &SecretString {
        &self.secret_key
    }

    /// The session token, for temporary credentials.
    pub fn session_token(&self) -> Option<&SecretString> {
        self.session_token.as_ref()
    }

    /// Checks the values can travel in HTTP headers. The error names the
    /// field, never the value.
    pub fn validate(&self) -> Result<()> {
        let header_safe = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !header_safe(&self.secret_id) {
            return Err(Error::credentials(
                "the SecretId is empty or contains spaces or control characters",
            ));
        }
        if self.secret_key.is_empty() {
            return Err(Error::credentials("the SecretKey is empty"));
        }
        if let Some(t) = &self.session_token {
            if !header_safe(t.expose()) {
                return Err(Error::credentials(
                    "the session token is empty or contains spaces or control characters",
                ));
            }
        }
        Ok(())
    }
}

/// The SecretId trimmed to a recognisable prefix, for logs and `Debug`.
pub(crate) fn redacted_id(id: &str) -> String {
    let prefix: String = id.chars().take(6).collect();
    format!("{prefix}***")
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &redacted_id(&self.secret_id))
            .field("secret_key", &self.secret_key)
            .field("session_token", &self.session_token)
            .finish()
    }
}

/// A source of credentials, asked before every signed attempt.
///
/// Implement it for rotating credentials; return cached values while they
/// are fresh, since it is called often.
///
/// ```
/// use futures::future::BoxFuture;
/// use logexport::tencent_cls::{Credentials, ProvideCredentials};
///
/// #[derive(Debug)]
/// struct Vault;
///
/// impl ProvideCredentials for Vault {
///     fn provide_credentials(&self) -> BoxFuture<'_, logexport::Result<Credentials>> {
///         Box::pin(async { Ok(Credentials::new("AKIDEXAMPLE", "from-the-vault")) })
///     }
/// }
/// ```
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// The credentials to sign the next attempt with.
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>>;
}

impl ProvideCredentials for Credentials {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        let creds = self.clone();
        Box::pin(async move { Ok(creds) })
    }
}

impl<T: ProvideCredentials + ?Sized> ProvideCredentials for Arc<T> {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        (**self).provide_credentials()
    }
}

/// Reads the `TENCENTCLOUD_*` variables on every call, so a process that
/// refreshes its environment (rare, but some runners do) picks up new values.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvironmentCredentials;

impl ProvideCredentials for EnvironmentCredentials {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(async { Credentials::from_env() })
    }
}

/// A region such as `ap-guangzhou` or `na-siliconvalley`, checked for shape
/// (lowercase words joined by `-`), so a typo fails before any request.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Region(String);

impl Region {
    /// Validates `name`.
    ///
    /// ```
    /// use logexport::tencent_cls::Region;
    ///
    /// assert!(Region::new("ap-guangzhou").is_ok());
    /// assert!(Region::new("ap-shanghai-fsi").is_ok());
    /// assert!(Region::new("Guangzhou").is_err());
    /// assert!(Region::new("ap guangzhou").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let parts: Vec<&str> = name.split('-').collect();
        let ok = name.len() <= 40
            && parts.len() >= 2
            && parts[0].len() >= 2
            && parts[0].bytes().all(|b| b.is_ascii_lowercase())
            && parts[1..].iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !ok {
            return Err(Error::invalid_input(
                "region",
                format!("`{name}` is not a Tencent Cloud region name such as `ap-guangzhou`"),
            ));
        }
        Ok(Region(name))
    }

    /// Reads [`ENV_REGION`].
    pub fn from_env() -> Result<Self> {
        match crate::env::var(&|k: &str| std::env::var(k).ok(), ENV_REGION) {
            Some(v) => Region::new(v),
            None => Err(Error::credentials(format!("{ENV_REGION} is not set"))),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The regional API endpoint, `https://cls.<region>.tencentcloudapi.com`.
    pub fn endpoint(&self) -> String {
        format!("https://cls.{}.tencentcloudapi.com", self.0)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.0)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Region {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Region::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_credentials_with_and_without_token() {
        let c = Credentials::from_vars(vars(&[(ENV_SECRET_ID, "AKID1"), (ENV_SECRET_KEY, "k1")]))
            .unwrap();
        assert_eq!((c.secret_id(), c.secret_key().expose()), ("AKID1", "k1"));
        assert!(c.session_token().is_none());
        let c = Credentials::from_vars(vars(&[
            (ENV_SECRET_ID, "AKID1"),
            (ENV_SECRET_KEY, "k1"),
            (ENV_SESSION_TOKEN, "t1"),
        ]))
        .unwrap();
        assert_eq!(c.session_token().map(SecretString::expose), Some("t1"));
    }

    #[test]
    fn session_token_aliases_in_order() {
        let base = [(ENV_SECRET_ID, "AKID1"), (ENV_SECRET_KEY, "k1")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let all: Vec<_> = base.iter().chain(extra).copied().collect();
            Credentials::from_vars(vars(&all)).unwrap()
        };
        let (tf, tccli) = ("TENCENTCLOUD_SECURITY_TOKEN", "TENCENTCLOUD_TOKEN");
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[(tccli, "tccli")], "tccli"),
            (&[(tf, "tf")], "tf"),
            (
                &[(tf, "tf"), (tccli, "tccli"), (ENV_SESSION_TOKEN, "ours")],
                "ours",
            ),
            (&[(tf, "tf"), (tccli, " ")], "tf"),
        ];
        for (extra, want) in cases {
            let token = with(extra).session_token().map(|t| t.expose().to_string());
            assert_eq!(token.as_deref(), Some(want), "{extra:?}");
        }
    }

    #[test]
    fn missing_env_names_the_variable_not_the_value() {
        let err = Credentials::from_vars(vars(&[(ENV_SECRET_KEY, "sekrit")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Credentials);
        assert!(err.to_string().contains(ENV_SECRET_ID));
        assert!(!err.to_string().contains("sekrit"));
        let err = Credentials::from_vars(vars(&[(ENV_SECRET_ID, "AKID"), (ENV_SECRET_KEY, " ")]))
            .unwrap_err();
        assert!(err.to_string().contains(ENV_SECRET_KEY));
    }

    #[test]
    fn env_values_are_trimmed_like_every_vendors() {
        // A value pasted from a file brings its newline; the crate's one
        // rule (`crate::env`) trims it rather than refusing the variable.
        let c = Credentials::from_vars(vars(&[
            (ENV_SECRET_ID, "AKID\n"),
            (ENV_SECRET_KEY, " sekrit "),
            (ENV_SESSION_TOKEN, "tok\r\n"),
        ]))
        .unwrap();
        assert_eq!(c.secret_id(), "AKID");
        assert_eq!(c.secret_key().expose(), "sekrit");
        assert_eq!(c.session_token().map(|t| t.expose()), Some("tok"));
    }

    #[test]
    fn header_unsafe_values_are_rejected() {
        assert!(Credentials::new("AK ID", "k").validate().is_err());
        assert!(Credentials::new("AKID", "").validate().is_err());
        assert!(Credentials::new("AKID", "k")
            .with_session_token("a\nb")
            .validate()
            .is_err());
        assert!(Credentials::new("AKID", "k")
            .with_session_token("tok")
            .validate()
            .is_ok());
    }

    #[test]
    fn debug_redacts_everything_secret() {
        let c = Credentials::new(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        )
        .with_session_token("session-token-value");
        let shown = format!("{c:?}");
        assert!(!shown.contains("Gu5t9x"), "{shown}");
        assert!(!shown.contains("session-token-value"), "{shown}");
        assert!(!shown.contains("EXAMPLE"), "{shown}");
        assert!(shown.contains("AKIDz8***"), "{shown}");
    }

    #[test]
    fn regions() {
        for ok in [
            "ap-guangzhou",
            "na-siliconvalley",
            "ap-shanghai-fsi",
            "eu-frankfurt",
            "ap-beijing-1",
        ] {
            assert!(Region::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ap",
            "ap-",
            "-ap",
            "AP-GUANGZHOU",
            "ap_guangzhou",
            "ap-guang zhou",
            "a-b",
            "ap-guangzhou/x",
        ] {
            assert!(Region::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Region::new("ap-guangzhou").unwrap().endpoint(),
            "https://cls.ap-guangzhou.tencentcloudapi.com"
        );
    }
}
