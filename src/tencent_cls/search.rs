//! Every result of a SearchLog query, past the service's paging limits.
//!
//! SearchLog pages with a `Context` cursor, but one cursor chain yields at
//! most [`MAX_RESULTS_PER_CONTEXT`] raw logs and expires after an hour. Past
//! either, a naive listing ends early and nobody notices. The cursor keeps the
//! edge of what it has returned (the newest timestamp in the query's order
//! and the ids of the logs at it). When a chain ends at the cap, or its
//! context expires, it starts a fresh chain at that edge, with the time
//! range narrowed, and skips what it already returned. Results arrive sorted
//! by time, which is what makes the edge exact; a service that breaks the
//! order, or more logs in one millisecond than a chain can hold, is a typed
//! error rather than a silent gap.
//!
//! The cursor is pure: it decides the next request and filters each page,
//! and [`Client::search_logs`](super::Client::search_logs) does the I/O.

use super::types::{LogEntry, Order, SearchPage, SearchParams};
use crate::{Error, ErrorKind, Result, Vendor};
use std::collections::HashSet;

/// The most raw logs one SearchLog `Context` chain returns. Past it the
/// service reports the list as over, although the range holds more.
pub const MAX_RESULTS_PER_CONTEXT: u64 = 10_000;

/// The code SearchLog answers with once a context has expired.
pub(crate) const INVALID_CONTEXT: &str = "FailedOperation.InvalidContext";

/// What identifies one log among those sharing a millisecond: its package
/// and index in the package, or, if the service omits them, its content.
#[derive(Clone, PartialEq, Eq, Hash)]
enum LogId {
    Package(String, String),
    Content(String),
}

impl LogId {
    fn of(entry: &LogEntry) -> Self {
        match (&entry.pkg_id, &entry.pkg_log_id) {
            (Some(p), Some(i)) => LogId::Package(p.clone(), i.clone()),
            _ => LogId::Content(entry.fields.to_string()),
        }
    }
}

/// The newest timestamp returned so far, in the query's order, and every
/// log returned at it.
#[derive(Clone)]
struct Edge {
    time_ms: i64,
    ids: HashSet<LogId>,
}

/// The state of one `search_logs` listing.
pub(crate) struct Cursor {
    params: SearchParams,
    /// Logs the current chain has yielded, skipped ones included: what the
    /// service counts against its cap.
    in_chain: u64,
    /// Logs the current chain has returned to the caller.
    new_in_chain: u64,
    edge: Option<Edge>,
    /// The edge a restarted chain starts from; logs before it are repeats.
    skip: Option<Edge>,
    in_order: bool,
    done: bool,
}

impl Cursor {
    pub(crate) fn new(params: SearchParams) -> Self {
        Cursor {
            params,
            in_chain: 0,
            new_in_chain: 0,
            edge: None,
            skip: None,
            in_order: true,
            done: false,
        }
    }

    /// The next request to send, or `None` once every result was returned.
    pub(crate) fn request(&self) -> Option<&SearchParams> {
        (!self.done).then_some(&self.params)
    }

    /// Takes a page answering [`request`](Self::request) and returns the logs
    /// in it not yet returned.
    pub(crate) fn accept(&mut self, page: SearchPage) -> Result<Vec<LogEntry>> {
        let yielded = page.results.len() as u64;
        self.in_chain += yielded;
        let mut fresh = Vec::with_capacity(page.results.len());
        for entry in page.results {
            if self
                .skip
                .as_ref()
                .is_some_and(|s| self.is_repeat(s, &entry))
            {
                continue;
            }
            self.advance_edge(&entry);
            fresh.push(entry);
        }
        self.new_in_chain += fresh.len() as u64;
        match page.context {
            Some(ctx) if !page.list_over && yielded > 0 => {
                // The same context again would fetch the same page forever.
                if self.params.context.as_deref() == Some(ctx.as_str()) {
                    return Err(vendor_error(
                        ErrorKind::Decode,
                        "SearchLog returned the context it was given; the listing does not advance",
                    ));
                }
                self.params.context = Some(ctx);
            }
            _ if self.in_chain >= MAX_RESULTS_PER_CONTEXT => self.restart("reached its cap")?,
            _ => self.done = true,
        }
        Ok(fresh)
    }

    /// Handles an error from the request: an expired context restarts the
    /// chain at the edge; anything else is the caller's error.
    pub(crate) fn recover(&mut self, err: Error) -> Result<()> {
        let expired = err.code() == Some(INVALID_CONTEXT) && self.params.context.is_some();
        if !expired || self.edge.is_none() {
            return Err(err);
        }
        self.restart("expired").map_err(|_| err)
    }

    /// Starts a new chain where the returned logs end.
    fn restart(&mut self, why: &str) -> Result<()> {
        let Some(edge) = self.edge.clone() else {
            return Err(vendor_error(
                ErrorKind::Api,
                format!("a SearchLog context {why} before returning any log"),
            ));
        };
        if self.skip.is_some() && self.new_in_chain == 0 {
            return Err(vendor_error(
                ErrorKind::Api,
                format!(
                    "more than {MAX_RESULTS_PER_CONTEXT} logs share the timestamp {} ms: SearchLog \
                     cannot list them all; narrow the query",
                    edge.time_ms
                ),
            ));
        }
        if !self.in_order {
            return Err(vendor_error(
                ErrorKind::Decode,
                format!(
                    "a SearchLog context {why}, and the service returned logs out of time order, \
                     so the rest cannot be fetched exactly once"
                ),
            ));
        }
        tracing::debug!(
            edge_ms = edge.time_ms,
            returned = self.new_in_chain,
            "SearchLog context {why}; continuing from the last timestamp"
        );
        match self.params.order {
            Order::Asc => self.params.range.start = crate::time::instant_ms(edge.time_ms),
            // The range's end is exclusive.
            Order::Desc => {
                self.params.range.end = crate::time::instant_ms(edge.time_ms.saturating_add(1))
            }
        }
        self.params.context = None;
        self.in_chain = 0;
        self.new_in_chain = 0;
        self.skip = Some(edge);
        Ok(())
    }

    fn is_repeat(&self, skip: &Edge, entry: &LogEntry) -> bool {
        after(self.params.order, skip.time_ms, entry.time_ms)
            || (entry.time_ms == skip.time_ms && skip.ids.contains(&LogId::of(entry)))
    }

    fn advance_edge(&mut self, entry: &LogEntry) {
        let Some(edge) = self.edge.as_mut() else {
            self.edge = Some(Edge {
                time_ms: entry.time_ms,
                ids: HashSet::from([LogId::of(entry)]),
            });
            return;
        };
        let newer = after(self.params.order, entry.time_ms, edge.time_ms);
        if entry.time_ms == edge.time_ms {
            edge.ids.insert(LogId::of(entry));
        } else if newer {
            edge.time_ms = entry.time_ms;
            edge.ids.clear();
            edge.ids.insert(LogId::of(entry));
        } else {
            self.in_order = false;
        }
    }
}

/// Whether time `a` comes after `b` in `order`.
fn after(order: Order, a: i64, b: i64) -> bool {
    match order {
        Order::Asc => a > b,
        Order::Desc => a < b,
    }
}

fn vendor_error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
        .with_vendor(Vendor::TencentCls)
        .with_operation("SearchLog")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tencent_cls::TimeRange;

    fn entry(time_ms: i64, n: u32) -> LogEntry {
        let mut e = LogEntry::new(time_ms, serde_json::json!({ "n": n }));
        e.pkg_id = Some(format!("{time_ms:X}"));
        e.pkg_log_id = Some(n.to_string());
        e
    }

    fn page(results: Vec<LogEntry>, context: Option<&str>, list_over: bool) -> SearchPage {
        SearchPage {
            results,
            context: context.map(str::to_string),
            list_over,
            request_id: "r".into(),
        }
    }

    fn params(order: Order) -> SearchParams {
        let mut p = SearchParams::new("t", "*", TimeRange::from_millis(0, 1_000_000));
        p.order = order;
        p
    }

    /// A chain of `per_page`-sized pages over `logs`, capped like the service.
    fn serve(logs: &[LogEntry], params: &SearchParams, per_page: usize) -> SearchPage {
        let matching: Vec<&LogEntry> = logs
            .iter()
            .filter(|e| (params.range.start_ms()..params.range.end_ms()).contains(&e.time_ms))
            .collect();
        let mut ordered = matching;
        ordered.sort_by_key(|e| e.time_ms);
        if params.order == Order::Desc {
            ordered.reverse();
        }
        let start: usize = params.context.as_deref().map_or(0, |c| c.parse().unwrap());
        let cap = MAX_RESULTS_PER_CONTEXT as usize;
        let end = (start + per_page).min(ordered.len()).min(cap);
        let results = ordered[start..end].iter().map(|e| (*e).clone()).collect();
        let over = end >= ordered.len() || end >= cap;
        page(results, Some(&end.to_string()), over)
    }

    fn drain(logs: &[LogEntry], order: Order, per_page: usize) -> Result<Vec<LogEntry>> {
        let mut cursor = Cursor::new(params(order));
        let mut out = Vec::new();
        let mut requests = 0;
        while let Some(p) = cursor.request() {
            requests += 1;
            assert!(requests < 1_000, "the cursor must end");
            let page = serve(logs, p, per_page);
            out.extend(cursor.accept(page)?);
        }
        Ok(out)
    }

    /// 25,000 logs, several per millisecond at the places where chains end.
    fn many() -> Vec<LogEntry> {
        (0..25_000u32).map(|n| entry(i64::from(n / 3), n)).collect()
    }

    #[test]
    fn every_result_exactly_once_past_the_cap_in_both_orders() {
        let logs = many();
        for order in [Order::Asc, Order::Desc] {
            for per_page in [1000, 999, 7_001] {
                let got = drain(&logs, order, per_page).unwrap();
                // Within a millisecond the service's order is its own.
                let mut got_ids: Vec<u32> = got
                    .iter()
                    .map(|e| e.fields["n"].as_u64().unwrap() as u32)
                    .collect();
                got_ids.sort_unstable();
                let want: Vec<u32> = (0..25_000).collect();
                assert_eq!(got_ids, want, "{order:?} {per_page}: no repeats, no gaps");
            }
        }
    }

    #[test]
    fn exactly_the_cap_costs_one_more_request_and_no_repeats() {
        let logs: Vec<LogEntry> = (0..MAX_RESULTS_PER_CONTEXT as u32)
            .map(|n| entry(i64::from(n), n))
            .collect();
        let got = drain(&logs, Order::Asc, 1000).unwrap();
        assert_eq!(got.len(), logs.len());
    }

    #[test]
    fn a_millisecond_holding_more_than_a_chain_is_an_error_not_a_loop() {
        let logs: Vec<LogEntry> = (0..MAX_RESULTS_PER_CONTEXT as u32 + 5)
            .map(|n| entry(42, n))
            .collect();
        let err = drain(&logs, Order::Asc, 1000).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Api);
        assert!(err.to_string().contains("share the timestamp 42"), "{err}");
    }

    #[test]
    fn an_expired_context_continues_from_the_edge() {
        let logs: Vec<LogEntry> = (0..30u32).map(|n| entry(i64::from(n / 2), n)).collect();
        let mut cursor = Cursor::new(params(Order::Asc));
        let mut out = Vec::new();
        let first = serve(&logs, cursor.request().unwrap(), 9);
        out.extend(cursor.accept(first).unwrap());
        let expired = Error::new(ErrorKind::Api, "expired")
            .with_code(INVALID_CONTEXT)
            .with_vendor(Vendor::TencentCls);
        cursor.recover(expired).unwrap();
        let p = cursor.request().unwrap();
        assert_eq!((p.context.as_deref(), p.range.start_ms()), (None, 4));
        while let Some(p) = cursor.request() {
            let page = serve(&logs, p, 9);
            out.extend(cursor.accept(page).unwrap());
        }
        let ids: Vec<u64> = out
            .iter()
            .map(|e| e.fields["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, (0..30).collect::<Vec<u64>>());

        // Any other error is the caller's.
        let mut cursor = Cursor::new(params(Order::Asc));
        let other = Error::new(ErrorKind::Network, "reset");
        assert_eq!(
            cursor.recover(other).unwrap_err().kind(),
            ErrorKind::Network
        );
    }

    #[test]
    fn out_of_order_results_fail_only_when_a_restart_needs_the_order() {
        let mut cursor = Cursor::new(params(Order::Asc));
        let small = page(vec![entry(5, 0), entry(3, 1)], None, true);
        assert_eq!(cursor.accept(small).unwrap().len(), 2);
        assert!(cursor.request().is_none());

        let mut cursor = Cursor::new(params(Order::Asc));
        let mut results: Vec<LogEntry> = (0..MAX_RESULTS_PER_CONTEXT as u32)
            .map(|n| entry(i64::from(n), n))
            .collect();
        results.swap(0, 1);
        let err = cursor.accept(page(results, None, true)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    }

    #[test]
    fn a_repeated_context_is_an_error() {
        let mut cursor = Cursor::new(params(Order::Asc));
        cursor
            .accept(page(vec![entry(1, 0)], Some("c1"), false))
            .unwrap();
        let err = cursor
            .accept(page(vec![entry(2, 1)], Some("c1"), false))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
    }
}
