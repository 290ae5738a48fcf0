//! The ConductorOne emulator's demo data: the demo client's key, and the
//! deterministic OCSF API Activity events the system log serves, with
//! KSUID-style ids whose string order is time order.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A day in milliseconds.
pub(super) const DAY_MS: i64 = 86_400_000;

/// The demo client's Ed25519 private key seed. Fixed, so a restarted
/// sandbox accepts the same credentials; it is worthless outside the sandbox.
pub fn demo_seed() -> [u8; 32] {
    Sha256::digest(b"logexport conductorone sandbox demo key").into()
}

/// The demo client's Ed25519 public key, as the sandbox registers it.
pub fn demo_public_key() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&demo_seed())
        .verifying_key()
        .to_bytes()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A KSUID-style id: 4 bytes of seconds since 2014-05-13 and 16 payload
/// bytes, as 27 base62 characters. The alphabet is in ASCII order, so string
/// order is time order.
pub(super) fn ksuid(unix_secs: i64, payload: &[u8; 16]) -> String {
    let ts = (unix_secs - 1_400_000_000).clamp(0, u32::MAX as i64) as u32;
    let mut n = [0u8; 20];
    n[..4].copy_from_slice(&ts.to_be_bytes());
    n[4..].copy_from_slice(payload);
    let mut digits = [b'0'; 27];
    for slot in digits.iter_mut().rev() {
        let mut rem = 0u32;
        for byte in n.iter_mut() {
            let acc = (rem << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            rem = acc % 62;
        }
        *slot = BASE62[rem as usize];
    }
    String::from_utf8(digits.to_vec()).expect("ASCII")
}

const USERS: &[(&str, &str)] = &[
    ("Alice Nguyen", "alice.nguyen@example.com"),
    ("Bob Okafor", "bob.okafor@example.com"),
    ("Carmen Ruiz", "carmen.ruiz@example.com"),
    ("Dmitri Volkov", "dmitri.volkov@example.com"),
    ("Erin Walsh", "erin.walsh@example.com"),
];

/// (service, method, OCSF activity id)
const OPERATIONS: &[(&str, &str, i64)] = &[
    ("c1.api.app.v1.AppService", "Get", 2),
    ("c1.api.app.v1.AppService", "List", 2),
    ("c1.api.app.v1.AppService", "Update", 3),
    ("c1.api.app.v1.AppEntitlementsService", "List", 2),
    ("c1.api.user.v1.UserService", "Get", 2),
    ("c1.api.task.v1.TaskService", "CreateGrantTask", 1),
    ("c1.api.task.v1.TaskActionsService", "Approve", 99),
    ("c1.api.policy.v1.PolicyService", "Update", 3),
    ("c1.api.policy.v1.PolicyService", "Delete", 4),
    ("c1.api.iam.v1.PersonalClientService", "Create", 1),
    ("c1.api.systemlog.v1.ExportService", "Create", 1),
    ("c1.api.systemlog.v1.SystemLogService", "ListEvents", 2),
    ("c1.api.directory.v1.DirectoryService", "Delete", 4),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "cone/1.20.0",
    "terraform-provider-conductorone/1.5.0",
    "logexport/0.1.0",
];

fn activity_name(id: i64) -> &'static str {
    match id {
        1 => "Create",
        2 => "Read",
        3 => "Update",
        4 => "Delete",
        _ => "Other",
    }
}

/// The deterministic events a sandbox with this `base` and `count` serves:
/// OCSF 1.1 API Activity records spread over the 3 days before `base`,
/// oldest first (which is also `metadata.uid` order).
pub fn demo_events(base: DateTime<Utc>, count: usize) -> Vec<Value> {
    let span = 3 * DAY_MS;
    let start = base.timestamp_millis() - span;
    let slot = if count == 0 {
        span
    } else {
        (span / count as i64).max(1)
    };
    (0..count)
        .map(|i| {
            let h = Sha256::digest(format!("logexport-c1-event-{i}").as_bytes());
            let r = |k: usize| u64::from_be_bytes(h[k..k + 8].try_into().expect("8 bytes"));
            let time = start + i as i64 * slot + (r(0) % slot as u64) as i64;
            let mut payload = [0u8; 16];
            payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
            payload[8..].copy_from_slice(&h[8..16]);
            let uid = ksuid(time / 1000, &payload);
            let (name, email) = USERS[(r(8) % USERS.len() as u64) as usize];
            let user_uid = ksuid(1_600_000_000, &{
                let mut p = [0u8; 16];
                p[..email.len().min(16)].copy_from_slice(&email.as_bytes()[..email.len().min(16)]);
                p
            });
            let (service, method, activity) = OPERATIONS[(r(16) % OPERATIONS.len() as u64) as usize];
            let failed = h[24] % 10 == 0;
            let ip = if h[25] % 2 == 0 {
                format!("203.0.113.{}", 1 + h[26] % 254)
            } else {
                format!("198.51.100.{}", 1 + h[26] % 254)
            };
            let mut event = json!({
                "activity_id": activity,
                "activity_name": activity_name(activity),
                "category_uid": 6,
                "category_name": "Application Activity",
                "class_uid": 6003,
                "class_name": "API Activity",
                "type_uid": 600_300 + activity,
                "type_name": format!("API Activity: {}", activity_name(activity)),
                "time": time,
                "severity_id": if failed { 3 } else { 1 },
                "severity": if failed { "Medium" } else { "Informational" },
                "status_id": if failed { 2 } else { 1 },
                "status": if failed { "Failure" } else { "Success" },
                "message": format!("{email} called {service}/{method}"),
                "actor": {"user": {"uid": user_uid, "name": name, "email_addr": email, "type_id": 1, "type": "User"}},
                "api": {
                    "operation": format!("{service}/{method}"),
                    "service": {"name": service},
                    "request": {"uid": format!("req-{}", hex::encode(&h[16..24]))},
                },
                "src_endpoint": {"ip": ip},
                "http_request": {"user_agent": USER_AGENTS[(h[27] as usize) % USER_AGENTS.len()]},
                "metadata": {
                    "uid": uid,
                    "version": "1.1.0",
                    "product": {"name": "ConductorOne", "vendor_name": "ConductorOne"},
                    "logged_time": time + 250 + i64::from(h[28]),
                },
            });
            if failed {
                event["status_detail"] = json!("permission denied");
            }
            event
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksuids_sort_like_their_inputs() {
        let a = ksuid(1_700_000_000, &[0; 16]);
        let b = ksuid(
            1_700_000_000,
            &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let c = ksuid(1_700_000_001, &[0; 16]);
        assert_eq!(a.len(), 27);
        assert!(a < b && b < c);
        assert_eq!(ksuid(1_400_000_000, &[0; 16]), "0".repeat(27));
    }

    #[test]
    fn demo_events_are_deterministic_ordered_ocsf() {
        let base = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let a = demo_events(base, 400);
        assert_eq!(a, demo_events(base, 400));
        let uids: Vec<&str> = a
            .iter()
            .map(|e| e["metadata"]["uid"].as_str().unwrap())
            .collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "uids ascend");
        let times: Vec<i64> = a.iter().map(|e| e["time"].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            times[0] >= base.timestamp_millis() - 3 * DAY_MS
                && *times.last().unwrap() < base.timestamp_millis()
        );
        for e in &a {
            assert_eq!(
                (e["class_uid"].as_i64(), e["category_uid"].as_i64()),
                (Some(6003), Some(6))
            );
            let activity = e["activity_id"].as_i64().unwrap();
            assert_eq!(e["type_uid"].as_i64(), Some(600_300 + activity));
            assert!(
                e["actor"]["user"]["email_addr"].is_string() && e["api"]["operation"].is_string()
            );
        }
        let failures = a.iter().filter(|e| e["status_id"] == 2).count();
        assert!(failures > 10 && failures < 100, "{failures}");
    }
}
