//! Fault injection shared by all emulators.
//!
//! Test code queues faults ("the next 2 calls to CreateExport answer
//! `RequestLimitExceeded`", "cut the next download after 1 KiB"); each
//! emulator asks [`Faults::take`] once per request and renders a queued
//! [`Fault::Error`] in its own vendor's error shape. Body faults are applied by
//! [`Faults::body`], so every emulator breaks downloads the same way.

use axum::body::Body;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and vendor error code, in the vendor's
    /// error shape (Tencent: HTTP 200 with `Response.Error`).
    Error {
        /// HTTP status (ignored by Tencent, which always answers 200).
        status: u16,
        /// The vendor error code, e.g. `RequestLimitExceeded`.
        code: String,
        /// A `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Send `after` bytes of the body, then reset the connection.
    ResetAfter {
        /// Bytes delivered before the reset.
        after: usize,
    },
    /// Send only the first `keep` bytes, with a matching `Content-Length`,
    /// as if that were the whole body (e.g. a truncated gzip).
    Truncate {
        /// Bytes kept.
        keep: usize,
    },
    /// Wait before answering.
    Latency(Duration),
}

impl Fault {
    /// Shorthand for [`Fault::Error`] without `Retry-After`.
    pub fn error(status: u16, code: impl Into<String>) -> Self {
        Fault::Error {
            status,
            code: code.into(),
            retry_after: None,
        }
    }
}

/// Which requests a queued fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// Any request.
    Any,
    /// Requests for this operation (Tencent action, Atlas/C1 operation name
    /// as the emulator documents it).
    Operation(String),
    /// File downloads only.
    Download,
}

impl From<&str> for FaultTarget {
    fn from(op: &str) -> Self {
        FaultTarget::Operation(op.to_string())
    }
}

#[derive(Debug)]
struct Rule {
    target: FaultTarget,
    fault: Fault,
    remaining: u32,
}

/// The queue of faults an emulator will inject. Clones share the queue.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Rule>>>);

impl Faults {
    /// Queues `fault` for the next `times` requests matching `target`
    /// (`times == 0` queues nothing).
    pub fn inject(&self, target: impl Into<FaultTarget>, fault: Fault, times: u32) {
        if times == 0 {
            return;
        }
        self.0.lock().expect("faults lock").push(Rule {
            target: target.into(),
            fault,
            remaining: times,
        });
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.0.lock().expect("faults lock").clear();
    }

    /// Takes the first queued fault that applies to this request, if any.
    pub fn take(&self, operation: &str, is_download: bool) -> Option<Fault> {
        let mut rules = self.0.lock().expect("faults lock");
        let idx = rules.iter().position(|r| match &r.target {
            FaultTarget::Any => true,
            FaultTarget::Operation(op) => op == operation,
            FaultTarget::Download => is_download,
        })?;
        let fault = rules[idx].fault.clone();
        rules[idx].remaining -= 1;
        if rules[idx].remaining == 0 {
            rules.remove(idx);
        }
        Some(fault)
    }

    /// A response body for `data` with `fault` applied. Returns the body and
    /// the `Content-Length` to announce.
    pub fn body(data: Bytes, fault: Option<&Fault>) -> (Body, Option<u64>) {
        let len = data.len() as u64;
        Faults::stream_body(
            futures::stream::once(async move { Ok(data) }),
            fault,
            Some(len),
        )
    }

    /// [`Faults::body`] for a body produced as a stream of `full` bytes
    /// (`None`: unknown), so large downloads can be broken without holding
    /// them in memory. `Truncate` ends the stream early; `ResetAfter` ends it
    /// with an error after the bytes before it have left.
    pub fn stream_body<S>(
        chunks: S,
        fault: Option<&Fault>,
        full: Option<u64>,
    ) -> (Body, Option<u64>)
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let (limit, reset, len) = match fault {
            Some(Fault::Truncate { keep }) => {
                let keep = *keep as u64;
                (Some(keep), false, full.map(|f| f.min(keep)))
            }
            // Announcing the full length makes the cut visible to the client
            // as an incomplete body, as a real reset would be.
            Some(Fault::ResetAfter { after }) => (Some(*after as u64), true, full),
            _ => (None, false, full),
        };
        let Some(limit) = limit else {
            return (Body::from_stream(chunks), len);
        };
        let state = (Box::pin(chunks), 0u64, false);
        let cut = futures::stream::unfold(state, move |(mut chunks, mut sent, ended)| async move {
            if ended {
                return None;
            }
            if sent >= limit {
                if !reset {
                    return None;
                }
                // Without the pause hyper drops the connection with the
                // response head still buffered, and the client sees a failed
                // request (which it may retry) rather than a body cut short.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let reset =
                    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset");
                return Some((Err(reset), (chunks, sent, true)));
            }
            match chunks.next().await {
                Some(Ok(mut c)) => {
                    let room = limit - sent;
                    if c.len() as u64 > room {
                        c = c.slice(..room as usize);
                    }
                    sent += c.len() as u64;
                    Some((Ok(c), (chunks, sent, false)))
                }
                other => other.map(|item| (item, (chunks, sent, true))),
            }
        });
        (Body::from_stream(cut), len)
    }

    /// Sleeps if `fault` is a latency fault.
    pub async fn delay(fault: Option<&Fault>) {
        if let Some(Fault::Latency(d)) = fault {
            tokio::time::sleep(*d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_and_by_target() {
        let f = Faults::default();
        f.inject("CreateExport", Fault::error(200, "RequestLimitExceeded"), 2);
        f.inject(FaultTarget::Download, Fault::Truncate { keep: 10 }, 1);
        assert_eq!(f.take("DescribeExports", false), None);
        assert_eq!(f.take("x", true), Some(Fault::Truncate { keep: 10 }));
        assert!(f.take("CreateExport", false).is_some());
        assert!(f.take("CreateExport", false).is_some());
        assert_eq!(f.take("CreateExport", false), None);
        f.inject(FaultTarget::Any, Fault::Latency(Duration::ZERO), 0);
        assert_eq!(f.take("anything", false), None);
    }
}
