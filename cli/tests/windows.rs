//! Windows with a checkpoint for every vendor: `cls export --checkpoint
//! --step` runs one export task per window, exactly once across kill -9s,
//! and `--lag` keeps windows open until the vendor has their logs.

mod support;

use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use logexport::sandbox::{Fault, FaultTarget};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{logexport, run_with_kills, text, tokio_rt, Lcg, SandboxEnv};

fn cls(sb: &TencentClsSandbox, args: &[&str]) -> Command {
    let mut c = logexport(&["-q", "--endpoint", &sb.endpoint()]);
    c.args(["cls", "export", "--region", cls_sb::DEMO_REGION])
        .args(["--topic", cls_sb::DEMO_TOPIC_ID, "--query", "*"])
        .args(args)
        .cls_env(sb);
    c
}

fn atlas(sb: &AtlasSandbox, args: &[&str]) -> Command {
    let mut c = logexport(&["-q"]);
    c.args([
        "atlas",
        "cluster-logs",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ])
    .args(["--host", atlas_sb::DEMO_HOST, "--log", "mongodb-audit-log"])
    .args(args)
    .atlas_env(sb);
    c
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The position a checkpoint file records, as unix seconds.
fn position(cp: &Path) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(cp).unwrap()).unwrap();
    v["position"].as_str().unwrap().parse().unwrap()
}

#[test]
fn cls_windows_survive_kill_9_exactly_once() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(
            TencentClsSandbox::builder()
                .lifecycle(Duration::from_millis(50), Duration::from_millis(50))
                .rate_limit(None)
                .start(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Six one-minute windows in a closed past range, oldest record first.
    let from = (chrono::Utc::now() - chrono::Duration::hours(3)).timestamp();
    let (from, to) = (from.to_string(), (from + 360).to_string());
    let range = ["--from", &from, "--to", &to, "--order", "asc"];
    let windowed = |out: &Path, cp: &Path| {
        let mut c = cls(&sb, &range);
        c.args(["-o", path(out), "--step", "1m", "--checkpoint", path(cp)]);
        c
    };

    let (clean, clean_cp) = (dir.path().join("clean.ndjson"), dir.path().join("clean.cp"));
    let out = windowed(&clean, &clean_cp).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sb.calls("CreateExport"), 6, "one task per window");
    assert_eq!(sb.calls("DeleteExport"), 6, "each task deleted once stored");
    let expected = std::fs::read(&clean).unwrap();
    // The same records as one export of the whole range.
    let whole = dir.path().join("whole.ndjson");
    let out = cls(&sb, &range)
        .args(["-o", path(&whole)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&expected), text(&std::fs::read(&whole).unwrap()));
    assert!(text(&expected).lines().count() >= 3_000);

    // Slow downloads so kills land mid-window too, not only while waiting.
    sb.faults().inject(
        FaultTarget::Download,
        Fault::Latency(Duration::from_millis(150)),
        10_000,
    );
    let mut rng = Lcg(0xc15);
    let mut kills = 0;
    for round in 0..2 {
        let created = sb.calls("CreateExport");
        let (out, cp) = (
            dir.path().join(format!("k{round}.ndjson")),
            dir.path().join(format!("k{round}.cp")),
        );
        let k = run_with_kills(&|| windowed(&out, &cp), &mut rng, 100, 1_500);
        assert_eq!(std::fs::read(&out).unwrap(), expected, "round {round}");
        // A task recorded before a kill is downloaded again, not recreated:
        // at most one extra task per kill (a kill right after CreateExport).
        let tasks = sb.calls("CreateExport") - created;
        assert!(
            tasks <= 6 + k as usize,
            "round {round}: {tasks} tasks, {k} kills"
        );
        kills += k;
    }
    assert!(kills >= 2, "the test must interrupt runs (killed {kills})");
    // A killed window's task is finished (and deleted) by the next run; only
    // a kill in the instant between CreateExport and recording the task, or
    // between storing a window and deleting its task, leaves one behind.
    let left = sb.export_ids().len();
    assert!(
        left * 4 <= kills as usize,
        "{left} tasks left behind by {kills} kills"
    );
    eprintln!(
        "cls windows: {kills} kill -9s across 2 rounds, outputs identical to an uninterrupted run, \
         {left} export tasks left behind"
    );
}

#[test]
fn lag_keeps_the_newest_window_open() {
    let rt = tokio_rt();
    let atlas_sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let cls_sb = rt
        .block_on(
            TencentClsSandbox::builder()
                .lifecycle(Duration::from_millis(10), Duration::from_millis(10))
                .start(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = || chrono::Utc::now().timestamp();
    let cases: [(&str, Option<&str>, i64); 4] = [
        ("atlas", None, 300),
        ("atlas", Some("30m"), 1800),
        ("cls", None, 300),
        ("cls", Some("10m"), 600),
    ];
    for (i, (vendor, lag, secs)) in cases.into_iter().enumerate() {
        let (out, cp) = (
            dir.path().join(format!("{i}.ndjson")),
            dir.path().join(format!("{i}.cp")),
        );
        let mut args = vec!["-o", path(&out), "--checkpoint", path(&cp), "--step", "10m"];
        if let Some(lag) = lag {
            args.extend(["--lag", lag]);
        }
        let mut cmd = match vendor {
            "atlas" => atlas(&atlas_sb, &["--start", "1h"]),
            _ => cls(&cls_sb, &["--from", "40m"]),
        };
        let before = now();
        let run = cmd.args(&args).output().unwrap();
        let after = now();
        assert!(
            run.status.success(),
            "{vendor} {lag:?}: {}",
            text(&run.stderr)
        );
        let closed = position(&cp);
        assert!(
            (before - secs..=after - secs).contains(&closed),
            "{vendor} --lag {lag:?}: windows closed up to {}s ago, not {secs}s",
            after - closed
        );
    }
    // Without a checkpoint there is no window to keep open.
    let out = atlas(&atlas_sb, &["--start", "1h", "--lag", "5m"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--lag"));
}

#[test]
fn a_cls_window_cut_by_count_is_not_stored() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(
            TencentClsSandbox::builder()
                .lifecycle(Duration::from_millis(10), Duration::from_millis(10))
                .start(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (out, cp) = (dir.path().join("o.ndjson"), dir.path().join("o.cp"));
    let from = (chrono::Utc::now() - chrono::Duration::hours(2)).timestamp();
    let (from, to) = (from.to_string(), (from + 120).to_string());
    let run = |count: &str| {
        cls(&sb, &["--from", &from, "--to", &to, "--step", "1m"])
            .args([
                "--count",
                count,
                "-o",
                path(&out),
                "--checkpoint",
                path(&cp),
            ])
            .output()
            .unwrap()
    };
    // 600 records a minute: 100 cuts the first window short.
    let cut = run("100");
    let stderr = text(&cut.stderr);
    assert_eq!(cut.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("use a smaller --step"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"");
    assert!(sb.export_ids().is_empty(), "the task is deleted");
    // The same checkpoint then runs the window afresh with a fitting count.
    let ok = run("1000");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(text(&std::fs::read(&out).unwrap()).lines().count(), 1200);
}
