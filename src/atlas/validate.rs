//! Input checks made before anything is sent.
//!
//! Atlas would reject most of these too, but only after a round trip, and
//! some mistakes it would not reject at all: a window in milliseconds where
//! seconds are expected just asks for logs from the year 50000.

use crate::TimeRange;
use crate::{Error, Result, Vendor};
use chrono::{DateTime, Utc};

/// The earliest time Atlas accepts in any window (2008-01-01T00:00:00Z, the
/// spec's `minimum`).
pub(crate) const EARLIEST_SECS: i64 = 1_199_145_600;
/// The largest `itemsPerPage`.
pub(crate) const MAX_ITEMS_PER_PAGE: u32 = 500;
/// The largest `nLogs` of the access history.
pub(crate) const MAX_N_LOGS: u32 = 20_000;

fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    Error::invalid_input(field, reason).with_vendor(Vendor::Atlas)
}

/// A project (`groupId`) or organization (`orgId`) id: 24 hex digits,
/// returned lowercased as the spec's pattern wants.
pub(crate) fn object_id(field: &str, v: &str) -> Result<String> {
    let v = v.trim();
    if v.len() != 24 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(field, format!("`{v}` is not a 24-hex-digit id")));
    }
    Ok(v.to_ascii_lowercase())
}

/// A host name or address as `processes` lists them.
pub(crate) fn host_name(v: &str) -> Result<&str> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        && !v.starts_with(['.', '-']);
    if !ok {
        return Err(invalid("hostName", format!("`{v}` is not a host name")));
    }
    Ok(v)
}

/// A cluster name: `^[a-zA-Z0-9][a-zA-Z0-9-]*$`, at most 64 characters.
pub(crate) fn cluster_name(v: &str) -> Result<&str> {
    let ok = v.len() <= 64
        && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(invalid(
            "clusterName",
            format!("`{v}` is not a cluster name"),
        ));
    }
    Ok(v)
}

/// A stream workspace or processor name: non-empty, no path separators.
pub(crate) fn plain_name<'a>(field: &str, v: &'a str) -> Result<&'a str> {
    let ok = !v.trim().is_empty()
        && v.len() <= 256
        && !v.contains(['/', '\\', '?', '#'])
        && !v.chars().any(char::is_control);
    if !ok {
        return Err(invalid(field, format!("`{v}` is not a valid name")));
    }
    Ok(v)
}

/// Checks a window and returns it in Unix seconds (log downloads).
pub(crate) fn window_secs(range: &TimeRange) -> Result<(i64, i64)> {
    check_window(range, Utc::now())?;
    Ok((range.start.timestamp(), range.end.timestamp()))
}

/// Checks a window and returns it in Unix milliseconds (access history).
pub(crate) fn window_millis(range: &TimeRange) -> Result<(i64, i64)> {
    check_window(range, Utc::now())?;
    Ok((range.start.timestamp_millis(), range.end.timestamp_millis()))
}

fn check_window(range: &TimeRange, now: DateTime<Utc>) -> Result<()> {
    if range.start >= range.end {
        return Err(invalid(
            "range",
            format!("start ({}) must be before end ({})", range.start, range.end),
        ));
    }
    if range.start.timestamp() < EARLIEST_SECS {
        return Err(invalid(
            "range",
            format!(
                "start ({}) is before 2008-01-01, the earliest time Atlas accepts",
                range.start
            ),
        ));
    }
    // Beyond this the caller almost certainly passed milliseconds as seconds.
    if range.end > now + chrono::Duration::days(1) {
        return Err(invalid(
            "range",
            format!("end ({}) is in the future; were the times given in milliseconds instead of seconds?", range.end),
        ));
    }
    Ok(())
}

pub(crate) fn items_per_page(n: Option<u32>) -> Result<u32> {
    let n = n.unwrap_or(100);
    if n == 0 || n > MAX_ITEMS_PER_PAGE {
        return Err(invalid(
            "itemsPerPage",
            format!("{n} is not between 1 and {MAX_ITEMS_PER_PAGE}"),
        ));
    }
    Ok(n)
}

pub(crate) fn n_logs(n: u32) -> Result<u32> {
    if n > MAX_N_LOGS {
        return Err(invalid("nLogs", format!("{n} is more than {MAX_N_LOGS}")));
    }
    Ok(n)
}

/// An event type name: upper-case letters, digits and underscores.
pub(crate) fn event_type(v: &str) -> Result<&str> {
    let ok = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(invalid(
            "eventType",
            format!("`{v}` is not an event type name"),
        ));
    }
    Ok(v)
}

/// An IPv4 or IPv6 address.
pub(crate) fn ip_address(v: &str) -> Result<&str> {
    v.parse::<std::net::IpAddr>()
        .map(|_| v)
        .map_err(|_| invalid("ipAddress", format!("`{v}` is not an IP address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn ids() {
        assert_eq!(
            object_id("groupId", "5F2A0C3E9D1B4A6C8E7F0A1B").unwrap(),
            "5f2a0c3e9d1b4a6c8e7f0a1b"
        );
        for bad in [
            "",
            "5f2a0c3e9d1b4a6c8e7f0a1",
            "5f2a0c3e9d1b4a6c8e7f0a1bz",
            "zz2a0c3e9d1b4a6c8e7f0a1b",
            "../../../../../../etc/pw",
        ] {
            assert!(object_id("groupId", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(host_name("cluster0-shard-00-00.ab1cd.mongodb.net").is_ok());
        assert!(host_name("10.0.0.1").is_ok());
        assert!(host_name("a/b").is_err());
        assert!(host_name("").is_err());
        assert!(cluster_name("Cluster0").is_ok());
        assert!(cluster_name("-x").is_err());
        assert!(plain_name("tenantName", "my workspace").is_ok());
        assert!(plain_name("tenantName", "a/../b").is_err());
        assert!(event_type("JOINED_GROUP").is_ok());
        assert!(event_type("joined").is_err());
        assert!(ip_address("::1").is_ok() && ip_address("1.2.3").is_err());
    }

    #[test]
    fn windows() {
        let now = t(1_800_000_000);
        assert!(check_window(&TimeRange::new(t(1_700_000_000), t(1_700_003_600)), now).is_ok());
        assert!(
            check_window(&TimeRange::new(t(1_700_003_600), t(1_700_000_000)), now).is_err(),
            "reversed"
        );
        assert!(
            check_window(&TimeRange::new(t(1_700_000_000), t(1_700_000_000)), now).is_err(),
            "empty"
        );
        assert!(
            check_window(&TimeRange::new(t(1_000_000_000), t(1_700_000_000)), now).is_err(),
            "before 2008"
        );
        let millis = TimeRange::from_unix_secs(1_700_000_000_000, 1_700_000_360_000).unwrap();
        let e = check_window(&millis, now).unwrap_err();
        assert!(e.to_string().contains("milliseconds"), "{e}");
    }

    #[test]
    fn limits() {
        assert_eq!(items_per_page(None).unwrap(), 100);
        assert!(items_per_page(Some(500)).is_ok());
        assert!(items_per_page(Some(501)).is_err());
        assert!(items_per_page(Some(0)).is_err());
        assert!(n_logs(20_000).is_ok() && n_logs(20_001).is_err());
    }
}
