//! SIGINT and SIGTERM stop the `logexport` binary cleanly: exit 130 or 143,
//! no `.partial` temporary file left behind, and a checkpoint that a rerun
//! continues from exactly once. Each run is slowed by latency faults in a
//! loopback emulator, and signalled only once its temporary output file
//! exists (for C1, once records have reached it: mid-stream).

#![cfg(unix)]

mod support;

use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use logexport::sandbox::{Fault, FaultTarget};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{last_json, tokio_rt, SandboxEnv};

fn logexport(args: &[&str]) -> Command {
    piped(support::logexport(args))
}

/// Stdout discarded, stderr kept for [`signal_and_wait`].
fn piped(mut cmd: Command) -> Command {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn partials(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect()
}

/// Waits until `ready` holds for the directory, failing if the child exits
/// first or nothing happens within 30 s.
fn wait_for(child: &mut Child, dir: &Path, what: &str, ready: impl Fn(&Path) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(dir) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (e.g. "INT") and returns the exit code and stderr.
fn signal_and_wait(mut child: Child, signal: &str) -> (Option<i32>, String) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not stop within 20 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

fn assert_clean_exit(dir: &Path, out: &Path, code: Option<i32>, expected: i32, err: &str) {
    assert_eq!(code, Some(expected), "stderr: {err}");
    assert!(
        partials(dir).is_empty(),
        "temporary files left: {:?}",
        partials(dir)
    );
    assert!(!out.exists(), "a half-written {} appeared", out.display());
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn atlas_sigint_mid_run_removes_the_temp_file_and_exits_130() {
    let rt = tokio_rt();
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    sb.faults().inject(
        "list_project_events",
        Fault::Latency(Duration::from_secs(30)),
        100,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.ndjson");
    let mut child = logexport(&[
        "-q",
        "-o",
        out.to_str().unwrap(),
        "atlas",
        "events",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ])
    .atlas_env(&sb)
    .spawn()
    .unwrap();
    wait_for(&mut child, dir.path(), "the temporary file", |d| {
        !partials(d).is_empty()
    });
    let (code, err) = signal_and_wait(child, "INT");
    assert_clean_exit(dir.path(), &out, code, 130, &err);
    assert!(err.contains("SIGINT"), "{err}");
}

#[test]
fn cls_sigterm_mid_run_removes_the_temp_file_and_exits_143() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    sb.faults().inject(
        FaultTarget::Any,
        Fault::Latency(Duration::from_secs(30)),
        100,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("topics.ndjson");
    let mut child = logexport(&[
        "-q",
        "--json",
        "--endpoint",
        &sb.endpoint(),
        "-o",
        out.to_str().unwrap(),
        "cls",
        "topics",
        "--region",
        cls_sb::DEMO_REGION,
    ])
    .cls_env(&sb)
    .spawn()
    .unwrap();
    wait_for(&mut child, dir.path(), "the temporary file", |d| {
        !partials(d).is_empty()
    });
    let (code, err) = signal_and_wait(child, "TERM");
    assert_clean_exit(dir.path(), &out, code, 143, &err);
    // Under --json the interruption is reported as JSON too.
    let last = last_json(err.as_bytes());
    assert_eq!(last["error"]["exit_code"], 143, "{err}");
}

fn c1_cmd(sb: &ConductorOneSandbox, out: &Path, checkpoint: Option<&Path>) -> Command {
    piped(support::c1_events(sb, out, checkpoint))
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn c1_sigterm_mid_stream_removes_the_temp_file_and_exits_143() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(ConductorOneSandbox::builder().event_count(2_000).start())
        .unwrap();
    // Every page is slow, so the run is mid-stream for seconds.
    sb.faults().inject(
        "list_system_log_events",
        Fault::Latency(Duration::from_millis(400)),
        10_000,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.ndjson");
    let mut child = c1_cmd(&sb, &out, None).spawn().unwrap();
    // Records have reached the temporary file: the run is mid-stream.
    wait_for(
        &mut child,
        dir.path(),
        "records in the temporary file",
        |d| partials(d).iter().any(|p| file_len(p) > 0),
    );
    let (code, err) = signal_and_wait(child, "TERM");
    assert_clean_exit(dir.path(), &out, code, 143, &err);
}

#[test]
fn c1_sigint_with_a_checkpoint_resumes_exactly_once() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(ConductorOneSandbox::builder().event_count(2_000).start())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (clean, clean_cp) = (dir.path().join("clean.ndjson"), dir.path().join("clean.cp"));
    let status = c1_cmd(&sb, &clean, Some(&clean_cp)).status().unwrap();
    assert!(status.success());
    let expected = std::fs::read(&clean).unwrap();

    sb.faults().inject(
        "list_system_log_events",
        Fault::Latency(Duration::from_millis(300)),
        10_000,
    );
    let (out, cp) = (dir.path().join("out.ndjson"), dir.path().join("out.cp"));
    let mut child = c1_cmd(&sb, &out, Some(&cp)).spawn().unwrap();
    // A checkpoint is written after each page: wait for the first.
    wait_for(&mut child, dir.path(), "the first checkpoint", |_| {
        cp.exists()
    });
    let (code, err) = signal_and_wait(child, "INT");
    assert_eq!(code, Some(130), "{err}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cp).unwrap()).expect("checkpoint is whole JSON");
    let stored = state["records"].as_u64().unwrap();
    assert!(
        stored > 0 && stored < 2_000,
        "interrupted mid-stream ({stored} stored)"
    );
    // Only the output, the checkpoints (with the lock files that stay
    // beside them: removing a lock file races with its next taker) and the
    // clean run: no temporary files.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "clean.cp",
            "clean.cp.lock",
            "clean.ndjson",
            "out.cp",
            "out.cp.lock",
            "out.ndjson"
        ]
    );

    sb.faults().clear();
    let status = c1_cmd(&sb, &out, Some(&cp)).status().unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        expected,
        "the resumed output differs from an uninterrupted run"
    );
}

#[path = "../../tests/common/hostile.rs"]
#[allow(dead_code)]
mod hostile;

/// An Atlas host-log download whose body arrives a byte at a time (a valid
/// gzip stream, so nothing fails but the signal), signalled mid-body: in
/// the decoded and the raw save alike, the temporary file goes and the
/// exit code says which signal.
#[test]
fn atlas_signalled_mid_body_removes_the_temp_file() {
    let rt = tokio_rt();
    let server = rt.block_on(hostile::Hostile::start(|seen, _| {
        if seen.header("authorization").is_none() {
            return hostile::Reply::atlas_digest_challenge();
        }
        hostile::Reply::Drip {
            headers: vec![(
                "content-type".into(),
                "application/vnd.atlas.2023-02-01+gzip".into(),
            )],
            every: Duration::from_millis(5),
            total: 1_000_000,
        }
    }));
    for (raw, signal, code) in [(false, "INT", 130), (true, "TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(if raw { "host.gz" } else { "host.ndjson" });
        let (url, out_arg) = (server.url(), out.to_str().unwrap().to_string());
        let mut args = vec!["--endpoint", url.as_str(), "-q", "-o", out_arg.as_str()];
        if raw {
            args.push("--raw");
        }
        args.extend([
            "atlas",
            "cluster-logs",
            "--project",
            "64b7f3a2c1d0e9f8a7b6c5d4",
            "--host",
            "h0.example.net",
            "--log",
            "mongodb",
            "--start",
            "1h",
        ]);
        let mut child = logexport(&args)
            .env("MONGODB_ATLAS_PUBLIC_API_KEY", "signalpub")
            .env("MONGODB_ATLAS_PRIVATE_API_KEY", "signal-private-key-0123")
            .spawn()
            .unwrap();
        wait_for(&mut child, dir.path(), "the temporary file", |d| {
            !partials(d).is_empty()
        });
        // Well into the body: a few hundred bytes have been dripped.
        std::thread::sleep(Duration::from_millis(1500));
        let (got, err) = signal_and_wait(child, signal);
        assert_clean_exit(dir.path(), &out, got, code, &err);
    }
}
