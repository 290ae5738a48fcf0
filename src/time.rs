//! The one time window every vendor takes: [`TimeRange`], two instants that
//! each vendor converts to its units (seconds, milliseconds, RFC 3339) and
//! checks against its own limits when a call uses it.

use crate::{Error, Result};
use chrono::{DateTime, Utc};

/// A half-open time window `[start, end)`.
///
/// Construction never fails; the window is checked when a call uses it
/// (start before end, and each vendor's own limits), so a bad one is
/// reported as `InvalidInput` before any request.
///
/// ```
/// use logexport::TimeRange;
/// let range = TimeRange::from_millis(1_700_000_000_000, 1_700_000_060_000);
/// assert_eq!(range.start.timestamp(), 1_700_000_000);
/// assert_eq!(range.end_ms(), 1_700_000_060_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeRange {
    /// The window `[start, end)`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        TimeRange { start, end }
    }

    /// The window that ends now and lasts `duration`.
    ///
    /// A duration reaching back past the representable range starts at the
    /// earliest representable time, which the call using the window then
    /// rejects as `InvalidInput` (rather than this constructor panicking or
    /// quietly shortening the window).
    pub fn last(duration: std::time::Duration) -> Self {
        let end = Utc::now();
        let start = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| end.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        TimeRange { start, end }
    }

    /// A window from Unix seconds.
    pub fn from_unix_secs(start: i64, end: i64) -> Result<Self> {
        let t = |v: i64, f: &str| {
            DateTime::from_timestamp(v, 0).ok_or_else(|| {
                Error::invalid_input(f, format!("{v} is not a representable Unix time"))
            })
        };
        Ok(TimeRange {
            start: t(start, "start")?,
            end: t(end, "end")?,
        })
    }

    /// A window from Unix milliseconds (as Tencent CLS and tccli write
    /// them). A value beyond the representable range is held at its edge,
    /// which the call using the window then rejects.
    pub fn from_millis(start_ms: i64, end_ms: i64) -> Self {
        TimeRange {
            start: instant_ms(start_ms),
            end: instant_ms(end_ms),
        }
    }

    /// The start in Unix milliseconds.
    pub fn start_ms(&self) -> i64 {
        self.start.timestamp_millis()
    }

    /// The end in Unix milliseconds.
    pub fn end_ms(&self) -> i64 {
        self.end.timestamp_millis()
    }
}

/// The instant `ms` milliseconds after the epoch, held at the representable
/// edge.
pub(crate) fn instant_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}
