//! ConductorOne's token sources: the client-credentials exchange (a signed
//! JWT assertion) and a user-supplied token. Caching, single-flight refresh
//! and replace-after-401 live in the shared [`crate::token`] cache.

use super::assertion::{build_assertion, new_nonce, Claims};
use super::credentials::{ClientId, ClientSecret};
use super::errors::{error_of_kind, kind_for_status};
use crate::token::{BoxFuture, Token, TokenSource};
use crate::{Error, Result, SecretString, Vendor};
use std::fmt;
use std::time::Duration;

/// How long before expiry a token is replaced (C1's Go SDK uses 10 s).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(10);

/// A user-supplied bearer token.
pub(crate) struct StaticToken(pub SecretString);

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(***)")
    }
}

impl TokenSource for StaticToken {
    fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
        let secret = self.0.clone();
        Box::pin(async move {
            Ok(Token {
                secret,
                lifetime: None,
            })
        })
    }
    fn can_refresh(&self) -> bool {
        false
    }
}

/// The client-credentials exchange at `<endpoint>/auth/v1/token`.
pub(crate) struct Exchange {
    pub http: reqwest::Client,
    pub token_url: url::Url,
    /// The `aud` claim: the host we talk to, without port.
    pub audience: String,
    pub client_id: ClientId,
    pub secret: ClientSecret,
    /// The client's redirect rule, caps, deadline and redaction.
    pub guard: crate::http::Guard,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("token_url", &self.token_url.as_str())
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .field("secret", &"***")
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// `expires_in` as a number or (int64 over JSON) a string.
fn parse_lifetime(v: Option<&serde_json::Value>) -> Option<Duration> {
    let secs = match v? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

impl Exchange {
    /// One token request, within the client's call deadline.
    async fn exchange(&self) -> Result<Token> {
        crate::http::deadline::call(self.guard.limits.timeout, self.exchange_once())
            .await
            .and_then(|r| r)
            .map_err(|e| {
                e.with_vendor(Vendor::ConductorOne)
                    .with_operation("token_exchange")
            })
    }

    async fn exchange_once(&self) -> Result<Token> {
        let claims = Claims::new(
            self.client_id.as_str(),
            &self.audience,
            std::time::SystemTime::now(),
        );
        let assertion = build_assertion(&claims, &self.secret, &new_nonce());
        // A server or proxy that echoes the form must not show it.
        self.guard.redactor.add(assertion.as_str());
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .header(http::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::from(e).with_vendor(Vendor::ConductorOne))?;
        // The assertion must not be re-POSTed anywhere else.
        crate::http::redirect::refuse_redirect(&self.token_url, &response)?;
        let status = response.status().as_u16();
        if status != 200 {
            let headers = response.headers().clone();
            let body = self.guard.error_body(response).await;
            // A 400 here means the server judged the assertion (OAuth's
            // `invalid_client`/`invalid_grant`): an authentication failure.
            let kind = if status == 400 {
                crate::ErrorKind::Auth
            } else {
                kind_for_status(status)
            };
            let err = error_of_kind(kind, status, &headers, &body, Some("token exchange failed"));
            return Err(err);
        }
        // A token response is a few hundred bytes.
        let body = crate::http::body::read_capped(response, 64 * 1024).await?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            Error::decode(format!(
                "token exchange: response is not a token response ({e})"
            ))
            .with_vendor(Vendor::ConductorOne)
        })?;
        let access_token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::decode("token exchange: response has no access_token")
                    .with_vendor(Vendor::ConductorOne)
            })?;
        if let Some(tt) = parsed.token_type.as_deref() {
            if !tt.is_empty() && !tt.eq_ignore_ascii_case("bearer") {
                return Err(Error::decode(format!(
                    "token exchange: unsupported token_type `{tt}`"
                ))
                .with_vendor(Vendor::ConductorOne));
            }
        }
        Ok(Token {
            secret: SecretString::new(access_token),
            // No expires_in: assume C1's usual hour and let a 401 correct us.
            lifetime: Some(
                parse_lifetime(parsed.expires_in.as_ref()).unwrap_or(Duration::from_secs(3600)),
            ),
        })
    }
}

impl TokenSource for Exchange {
    fn fetch(&self) -> BoxFuture<'_, Result<Token>> {
        Box::pin(self.exchange())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_leniently() {
        use serde_json::json;
        assert_eq!(
            parse_lifetime(Some(&json!(600))),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            parse_lifetime(Some(&json!("3600"))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_lifetime(Some(&json!(-1))), None);
        assert_eq!(parse_lifetime(None), None);
    }
}
