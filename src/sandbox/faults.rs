//! Fault injection shared by all emulators.
//!
//! Test code queues faults ("the next 2 calls to CreateExport answer
//! `RequestLimitExceeded`", "cut the next download after 1 KiB"); each
//! emulator asks [`Faults::take`] once per request and renders a queued
//! [`Fault::Error`] in its own vendor's error shape. Body faults are applied by
//! [`Faults::body`], so every emulator breaks downloads the same way.

use axum::body::Body;
use bytes::Bytes;
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
    /// Queues `fault` for the next `times` requests matching `target`.
    pub fn inject(&self, target: impl Into<FaultTarget>, fault: Fault, times: u32) {
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
    /// the content length to announce (`None`: let the server choose).
    pub fn body(data: Bytes, fault: Option<&Fault>) -> (Body, Option<u64>) {
        match fault {
            Some(Fault::Truncate { keep }) => {
                let cut = data.slice(..(*keep).min(data.len()));
                let len = cut.len() as u64;
                (Body::from(cut), Some(len))
            }
            Some(Fault::ResetAfter { after }) => {
                let head = data.slice(..(*after).min(data.len()));
                let full = data.len() as u64;
                let chunks = futures::stream::unfold(0u8, move |step| {
                    let head = head.clone();
                    async move {
                        match step {
                            0 => Some((Ok(head), 1)),
                            // Without the pause hyper drops the connection with
                            // the response head still buffered, and the client
                            // sees a failed request (which it may retry) rather
                            // than a body cut short.
                            1 => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                let reset = std::io::Error::new(
                                    std::io::ErrorKind::ConnectionReset,
                                    "injected reset",
                                );
                                Some((Err(reset), 2))
                            }
                            _ => None,
                        }
                    }
                });
                // Announcing the full length makes the cut visible to the
                // client as an incomplete body, as a real reset would be.
                (Body::from_stream(chunks), Some(full))
            }
            _ => {
                let len = data.len() as u64;
                (Body::from(data), Some(len))
            }
        }
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
    }
}
