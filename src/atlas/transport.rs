//! The Atlas transport: the shared seam ([`crate::http::transport`]) held
//! to the client's guard, for API and token requests alike.

use crate::hooks::carry;
use crate::http::{deadline, Guard};
use futures::future::BoxFuture;
use std::sync::Arc;

pub(crate) use crate::http::transport::{Reqwest, Transport};

/// Any transport, held to the client's [`Guard`]: the redirect rule, the
/// call deadline (sending to the last byte of a JSON answer), the body caps,
/// the throughput guard on downloads and the redaction of error bodies.
/// Token requests go through it too. A failure of the guard's own leaves as
/// a carried error (see [`crate::hooks::carry`]).
#[derive(Debug)]
pub(crate) struct Guarded {
    pub(crate) inner: Arc<dyn Transport>,
    pub(crate) guard: Guard,
}

impl Transport for Guarded {
    fn send(
        &self,
        request: reqwest::Request,
    ) -> BoxFuture<'static, reqwest::Result<reqwest::Response>> {
        let (inner, guard) = (self.inner.clone(), self.guard.clone());
        Box::pin(async move {
            let asked = request.url().clone();
            // JSON answers (API pages, tokens) are read whole within the
            // call deadline; log downloads stream under the throughput guard.
            let json = request
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|a| a.ends_with("json"));
            let limit = guard.limits.timeout;
            let until = tokio::time::Instant::now() + limit;
            let response = match tokio::time::timeout_at(until, inner.send(request)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(carry(deadline::call_timed_out(limit))),
            };
            let read = async {
                if json {
                    guard.json(&asked, response).await
                } else {
                    guard.stream(&asked, response).await
                }
            };
            match tokio::time::timeout_at(until, read).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Ok(carry(e)),
                Err(_) => Ok(carry(deadline::call_timed_out(limit))),
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use crate::http::transport::tests::FakeTransport;
}
