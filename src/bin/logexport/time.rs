//! Parsing the times users type: RFC 3339, unix seconds, or "how long ago".

use chrono::{DateTime, Duration, Utc};

/// Parses `30m`, `24h`, `7d`, `90s`, `2w` (ago), `1700000000` (unix seconds),
/// `now`, or an RFC 3339 timestamp.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("`{s}` is out of range"));
    }
    if let Some(ago) = parse_relative(s.trim_end_matches(" ago")) {
        return Ok(now - ago);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("`{s}` is not RFC 3339, unix seconds, or a relative time like 30m, 24h, 7d")
        })
}

/// Parses a span such as `90s`, `30m`, `1h`, `7d`, `2w`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_relative(s.trim())
        .filter(|d| *d > Duration::zero())
        .ok_or_else(|| format!("`{s}` is not a positive duration such as 30m, 1h or 1d"))
}

fn parse_relative(s: &str) -> Option<Duration> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        's' => Some(Duration::seconds(n)),
        'm' => Some(Duration::minutes(n)),
        'h' => Some(Duration::hours(n)),
        'd' => Some(Duration::days(n)),
        'w' => Some(Duration::weeks(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("30m", now).unwrap(), now - Duration::minutes(30));
        assert_eq!(parse_time("7d ago", now).unwrap(), now - Duration::days(7));
        assert_eq!(
            parse_time("1700000000", now).unwrap().timestamp(),
            1_700_000_000
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
        assert_eq!(parse_duration("90s").unwrap(), Duration::seconds(90));
        assert!(parse_duration("0h").is_err());
    }
}
