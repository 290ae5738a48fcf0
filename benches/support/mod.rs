//! What the bench targets share: timing, and peak memory measured in a
//! child process so one case's peak is not hidden by another's.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The environment variable that makes a bench binary run one case and
/// report its peak RSS instead of running the whole suite.
pub const CASE_VAR: &str = "LOGEXPORT_BENCH_CASE";

/// The best wall time of `rounds` runs of `f`, and its last result.
pub fn best_of<T, F: FnMut() -> T>(rounds: usize, mut f: F) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        out = Some(f());
        best = best.min(t.elapsed());
    }
    (best, out.expect("at least one round"))
}

/// Peak resident set size of this process so far, in MiB (`VmHWM`), or
/// `None` where `/proc` is missing.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// A memory figure of `/proc/self/status`, in MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// Starts the peak RSS count afresh (Linux: `5` to `/proc/self/clear_refs`),
/// so setting up a case's input does not count as the case's peak, and
/// prints the RSS at that point (memory the allocator kept from the setup
/// still counts in the peak; this says how much that is).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    if let Some(rss) = status_mib("VmRSS:") {
        println!("start-rss-mib {rss:.1}");
    }
}

/// The case this process was started to measure, if it is such a child.
pub fn child_case() -> Option<String> {
    std::env::var(CASE_VAR).ok()
}

/// Ends a child run: prints its peak RSS for the parent to read.
pub fn report_child_peak() {
    match peak_rss_mib() {
        Some(mib) => println!("peak-rss-mib {mib:.1}"),
        None => println!("peak-rss-mib none"),
    }
}

/// Runs this bench binary again with only `case` selected and returns the
/// child's peak RSS and its RSS when the case started, in MiB; `None`
/// (after saying why) where it cannot be measured.
pub fn peak_rss_of(case: &str) -> Option<(f64, f64)> {
    if peak_rss_mib().is_none() {
        println!("  (peak RSS of {case}: skipped, /proc/self/status is missing)");
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env(CASE_VAR, case)
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let peak = text
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-mib "))
        .and_then(|v| v.trim().parse().ok());
    let start = text
        .lines()
        .find_map(|l| l.strip_prefix("start-rss-mib "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    if !out.status.success() || peak.is_none() {
        println!("  (peak RSS of {case}: the child run failed: {text})");
    }
    peak.map(|p| (p, start))
}

/// Throughput of `bytes` in `t`, in MiB/s.
pub fn mib_per_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / 1048576.0 / t.as_secs_f64()
}
