//! Parsing the times users type: RFC 3339, unix seconds or milliseconds, or
//! "how long ago". Every input either parses to a time between 1970 and 9999
//! or yields a message saying why not; nothing here can panic or overflow.

use chrono::{DateTime, Duration, Utc};

/// The longest span accepted, for a relative time or a `--step`: a century
/// ago is already before any log, and the cap keeps every later addition of
/// a span to a time far from chrono's limits.
const MAX_SPAN_DAYS: i64 = 36_525;

/// The digits of a unix time in milliseconds, as tccli and the CLS console
/// write `From`/`To`: 13 digits cover 2001-09-09 to 2286-11-20.
const MILLIS_DIGITS: usize = 13;

/// Parses `now`, an RFC 3339 timestamp, unix seconds (`1700000000`), unix
/// milliseconds (13 digits, `1700000000000`), or a span ago: `30m`, `24h`,
/// `7d`, `2w`, compound `1h30m` or `1d 12h`, optionally followed by ` ago`.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(
            "the time is empty; give RFC 3339, unix seconds or milliseconds, or a span like 24h"
                .into(),
        );
    }
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let time = if s.bytes().all(|b| b.is_ascii_digit()) {
        from_unix(s)?
    } else if let Some(span) = relative(s) {
        let ago = span?;
        now.checked_sub_signed(ago)
            .ok_or_else(|| format!("`{s}` ago is out of range"))?
    } else {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                format!(
                    "`{}` is not RFC 3339 (2026-11-24T12:00:00Z), unix seconds or milliseconds, \
                     or a span ago like 30m, 24h, 7d, 1h30m",
                    shown(s)
                )
            })?
    };
    in_range(time, s)
}

/// Parses a positive span such as `90s`, `30m`, `1h`, `7d`, `2w` or `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let span = humantime::parse_duration(s)
        .map_err(|_| format!("`{}` is not a span such as 30m, 1h, 1d or 1h30m", shown(s)))?;
    let span = bounded(span, s)?;
    if span <= Duration::zero() {
        return Err(format!("`{s}` must be longer than zero"));
    }
    Ok(span)
}

/// Digits only: unix milliseconds if there are 13 of them, seconds otherwise.
fn from_unix(s: &str) -> Result<DateTime<Utc>, String> {
    let out_of_range = || {
        format!(
            "`{}` is out of range as unix {} (give seconds, or milliseconds as 13 digits)",
            shown(s),
            if s.len() == MILLIS_DIGITS {
                "milliseconds"
            } else {
                "seconds"
            }
        )
    };
    let n: i64 = s.parse().map_err(|_| out_of_range())?;
    let time = if s.len() == MILLIS_DIGITS {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    };
    time.filter(|t| within_bounds(*t)).ok_or_else(out_of_range)
}

/// `Some` when `s` reads as a span (with or without ` ago`), holding the span
/// or why it is unusable; `None` when it is no span at all.
fn relative(s: &str) -> Option<Result<Duration, String>> {
    let body = s
        .strip_suffix("ago")
        .map(str::trim_end)
        .filter(|b| !b.is_empty())
        .unwrap_or(s);
    // A span starts with a digit; RFC 3339 does too, but never parses as one.
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    match humantime::parse_duration(body) {
        Ok(span) => Some(bounded(span, s)),
        Err(humantime::DurationError::NumberOverflow) => {
            Some(Err(format!("`{}` is too long a span", shown(s))))
        }
        Err(_) => None,
    }
}

/// A std span as chrono's, capped at [`MAX_SPAN_DAYS`].
fn bounded(span: std::time::Duration, s: &str) -> Result<Duration, String> {
    Duration::from_std(span)
        .ok()
        .filter(|d| *d <= Duration::days(MAX_SPAN_DAYS))
        .ok_or_else(|| {
            format!(
                "`{}` is too long a span (at most {MAX_SPAN_DAYS} days)",
                shown(s)
            )
        })
}

fn within_bounds(t: DateTime<Utc>) -> bool {
    // RFC 3339's four-digit years, from the unix epoch on: no log is older.
    t.timestamp() >= 0 && t.timestamp() <= 253_402_300_799
}

fn in_range(t: DateTime<Utc>, s: &str) -> Result<DateTime<Utc>, String> {
    if within_bounds(t) {
        Ok(t)
    } else {
        Err(format!(
            "`{}` is out of range: times must lie between 1970-01-01 and 9999-12-31",
            shown(s)
        ))
    }
}

/// The input as quoted back in a message: cut short, so a pasted blob does
/// not flood the terminal.
fn shown(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn forms() {
        let now = now();
        assert_eq!(parse_time("30m", now).unwrap(), now - Duration::minutes(30));
        assert_eq!(parse_time("7d ago", now).unwrap(), now - Duration::days(7));
        assert_eq!(
            parse_time("1h30m", now).unwrap(),
            now - Duration::minutes(90)
        );
        assert_eq!(
            parse_time("1d 12h ago", now).unwrap(),
            now - Duration::hours(36)
        );
        assert_eq!(
            parse_time("1700000000", now).unwrap().timestamp(),
            1_700_000_000
        );
        assert_eq!(
            parse_time("1700000000123", now).unwrap().timestamp_millis(),
            1_700_000_000_123
        );
        assert_eq!(
            parse_time("2026-11-01T00:00:00+01:00", now)
                .unwrap()
                .to_rfc3339(),
            "2026-10-31T23:00:00+00:00"
        );
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("-5m", now).is_err());
        assert!(parse_time("", now).is_err());
        assert_eq!(parse_duration("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert!(parse_duration("0h").is_err());
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let now = now();
        for s in [
            "99999999999999w",
            "100000000d",
            "36526d",
            "99999999999999999999999",
            "99999999999999",
            "253402300800",
        ] {
            let e = parse_time(s, now).unwrap_err();
            assert!(e.contains("range") || e.contains("too long"), "{s}: {e}");
        }
        assert!(parse_duration("100000000d").is_err());
        assert!(parse_duration("99999999999999w").is_err());
    }
}
