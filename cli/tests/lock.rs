//! One writer per checkpoint: while one run holds a checkpoint, a second
//! run with the same checkpoint exits 2 at once, naming the holder, and
//! leaves the first run's output intact.

mod support;

use logexport::sandbox::atlas::AtlasSandbox;
use logexport::sandbox::Fault;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{atlas_audit_windows, text, tokio_rt};

#[test]
fn two_runs_on_one_checkpoint_the_second_exits_2_at_once() {
    let rt = tokio_rt();
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let end = (now - chrono::Duration::hours(1)).timestamp().to_string();
    let start = (now - chrono::Duration::hours(13)).timestamp().to_string();

    let (clean, clean_cp) = (dir.path().join("clean.ndjson"), dir.path().join("clean.cp"));
    let status = atlas_audit_windows(&sb, &clean, &clean_cp, &start, &end)
        .status()
        .unwrap();
    assert!(status.success());
    let expected = std::fs::read(&clean).unwrap();
    assert!(!expected.is_empty());

    // Slow windows keep the first run busy for seconds.
    sb.faults().inject(
        "download_cluster_log",
        Fault::Latency(Duration::from_millis(600)),
        1_000,
    );
    let (out, cp) = (dir.path().join("out.ndjson"), dir.path().join("audit.cp"));
    let mut first = atlas_audit_windows(&sb, &out, &cp, &start, &end)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    let waited = Instant::now();
    // Mid-run: its first window is stored.
    while !cp.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no window stored"
        );
        assert!(first.try_wait().unwrap().is_none(), "first run ended early");
        std::thread::sleep(Duration::from_millis(10));
    }

    let began = Instant::now();
    let second = atlas_audit_windows(&sb, &out, &cp, &start, &end)
        .output()
        .unwrap();
    let took = began.elapsed();
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "checkpoint {} is in use (pid {pid})",
            cp.display()
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the second run must have met a running first one"
    );

    let status = first.wait().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    // Released with the first run: a rerun takes the lock and adds nothing.
    let again = atlas_audit_windows(&sb, &out, &cp, &start, &end)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    eprintln!(
        "checkpoint lock: second run exited {} after {} ms with \"{}\"; first run completed, \
         output identical to an uninterrupted run ({} bytes)",
        second.status.code().unwrap(),
        took.as_millis(),
        stderr.trim().trim_start_matches("error: "),
        expected.len()
    );
}
