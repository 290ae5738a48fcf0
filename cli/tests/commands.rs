//! Integration tests of the `logexport` binary: every command against the
//! in-process sandbox, exit codes, credential messages, NDJSON validity,
//! atomic output under injected failures, and the kill -9 resume property.

mod support;

use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::{Fault, FaultTarget};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use support::{
    atlas_audit_windows, c1_events, last_json, logexport, ndjson, run_with_kills, text, tokio_rt,
    Lcg, SandboxEnv,
};

fn run(args: &[&str]) -> Output {
    logexport(args).output().expect("the binary runs")
}

fn ok(args: &[&str]) -> Vec<serde_json::Value> {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        text(&out.stderr)
    );
    ndjson(&out.stdout)
}

#[test]
fn atlas_commands_against_the_sandbox() {
    let p = atlas_sb::DEMO_PROJECT_ID;
    let audit = ok(&[
        "--sandbox",
        "-q",
        "atlas",
        "stream-audit-logs",
        "--project",
        p,
        "--workspace",
        atlas_sb::DEMO_WORKSPACE,
        "--start",
        "2h",
    ]);
    assert!(!audit.is_empty());
    assert!(audit
        .iter()
        .all(|l| l.get("atype").is_some() && l.get("ts").is_some()));
    let host = ok(&[
        "--sandbox",
        "-q",
        "atlas",
        "cluster-logs",
        "--project",
        p,
        "--host",
        atlas_sb::DEMO_HOST,
        "--log",
        "mongodb",
        "--start",
        "1h",
    ]);
    assert!(!host.is_empty() && host.iter().all(|l| l.get("msg").is_some()));
    let events = ok(&["--sandbox", "-q", "atlas", "events", "--project", p]);
    assert!(!events.is_empty());
    let org = ok(&[
        "--sandbox",
        "-q",
        "atlas",
        "events",
        "--org",
        atlas_sb::DEMO_ORG_ID,
    ]);
    assert!(!org.is_empty());
    let procs = ok(&["--sandbox", "-q", "atlas", "processes", "--project", p]);
    assert!(!procs.is_empty());
}

#[test]
fn atlas_raw_download_is_the_gzip_as_served() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("host.log.gz");
    let o = out.to_str().unwrap();
    let r = run(&[
        "--sandbox",
        "--raw",
        "-o",
        o,
        "--json",
        "atlas",
        "cluster-logs",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
        "--host",
        atlas_sb::DEMO_HOST,
        "--log",
        "mongodb",
        "--start",
        "1h",
    ]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    let summary = last_json(&r.stderr);
    assert_eq!(summary["bytes"].as_u64(), Some(bytes.len() as u64));
}

#[test]
fn cls_commands_against_the_sandbox() {
    use logexport::sandbox::tencent_cls::{DEMO_REGION, DEMO_TOPIC_ID};
    let topics = ok(&["--sandbox", "-q", "cls", "topics", "--region", DEMO_REGION]);
    assert!(topics.iter().any(|t| t["TopicId"] == DEMO_TOPIC_ID));
    let records = ok(&[
        "--sandbox",
        "-q",
        "cls",
        "export",
        "--region",
        DEMO_REGION,
        "--topic",
        DEMO_TOPIC_ID,
        "--query",
        "*",
        "--from",
        "10m",
        "--count",
        "300",
        "--order",
        "asc",
    ]);
    assert_eq!(records.len(), 300);
    let ts: Vec<i64> = records
        .iter()
        .map(|r| r["__TIMESTAMP__"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "asc order");
    let csv = ok(&[
        "--sandbox",
        "-q",
        "cls",
        "export",
        "--region",
        DEMO_REGION,
        "--topic",
        DEMO_TOPIC_ID,
        "--query",
        "*",
        "--from",
        "10m",
        "--count",
        "50",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.len(), 50);
    // Each invocation has its own in-process sandbox, so list and delete act
    // on an empty one: they must still succeed and print valid output.
    assert!(ok(&[
        "--sandbox",
        "-q",
        "cls",
        "exports",
        "--region",
        DEMO_REGION,
        "--topic",
        DEMO_TOPIC_ID
    ])
    .is_empty());
    let missing = run(&[
        "--sandbox",
        "-q",
        "cls",
        "delete-export",
        "--region",
        DEMO_REGION,
        "--export-id",
        "nope",
    ]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("ResourceNotFound"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn c1_commands_against_the_sandbox() {
    let listed = ok(&["--sandbox", "-q", "c1", "exporters", "list"]);
    assert_eq!(listed.len(), 1, "the sandbox starts with one demo exporter");
    let id = listed[0]["exportId"].as_str().unwrap().to_string();
    let got = ok(&["--sandbox", "-q", "c1", "exporters", "get", &id]);
    assert_eq!(got[0]["exportId"], id.as_str());
    let created = ok(&[
        "--sandbox",
        "-q",
        "c1",
        "exporters",
        "create",
        "--name",
        "n",
        "--datasource",
        "ds-1",
        "--format",
        "zstd",
    ]);
    assert_eq!(created[0]["displayName"], "n");
    let updated = ok(&[
        "--sandbox",
        "-q",
        "c1",
        "exporters",
        "update",
        &id,
        "--name",
        "renamed",
    ]);
    assert_eq!(updated[0]["displayName"], "renamed");
    let deleted = ok(&["--sandbox", "-q", "c1", "exporters", "delete", &id]);
    assert_eq!(deleted[0]["deleted"], id.as_str());
    let events = ok(&["--sandbox", "-q", "c1", "events"]);
    assert_eq!(events.len(), 300);
    assert!(events.iter().all(|e| e["class_uid"] == 6003));
    let exporter_events = ok(&["--sandbox", "-q", "c1", "events", "--exporter", &id]);
    assert!(exporter_events.len() < events.len());
}

#[test]
fn tour_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = logexport(&["tour", "--dir", "t"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in [
        "atlas-stream-audit.ndjson",
        "atlas-mongodb.log.gz",
        "atlas-audit-windows.ndjson",
        "atlas-events.ndjson",
        "cls-topics.ndjson",
        "cls-export.ndjson",
        "c1-exporter.ndjson",
        "c1-exporters.ndjson",
        "c1-events.ndjson",
    ] {
        let p = dir.path().join("t").join(f);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!bytes.is_empty(), "{f} is empty");
        if f.ends_with(".ndjson") {
            assert!(!ndjson(&bytes).is_empty());
        }
    }
}

#[test]
fn sandbox_command_prints_endpoints_and_serves() {
    let mut child = logexport(&["sandbox"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The description is one pretty-printed JSON document; read until it parses.
    let mut doc = String::new();
    let mut reader = std::io::BufReader::new(stdout);
    let value = loop {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0,
            "sandbox exited early"
        );
        doc.push_str(&line);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&doc) {
            break v;
        }
    };
    let env = |vendor: &str, var: &str| value[vendor]["env"][var].as_str().unwrap().to_string();
    // Point a second process at the running emulator through the printed
    // environment, as a user would.
    let out = logexport(&[
        "-q",
        "atlas",
        "events",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ])
    .env(
        "MONGODB_ATLAS_BASE_URL",
        env("atlas", "MONGODB_ATLAS_BASE_URL"),
    )
    .env(
        "MONGODB_ATLAS_PUBLIC_API_KEY",
        env("atlas", "MONGODB_ATLAS_PUBLIC_API_KEY"),
    )
    .env(
        "MONGODB_ATLAS_PRIVATE_API_KEY",
        env("atlas", "MONGODB_ATLAS_PRIVATE_API_KEY"),
    )
    .output()
    .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!ndjson(&out.stdout).is_empty());
}

#[test]
fn missing_credentials_name_the_variables_and_exit_2() {
    for (args, vars) in [
        (
            vec!["atlas", "events", "--project", atlas_sb::DEMO_PROJECT_ID],
            "MONGODB_ATLAS_PUBLIC_API_KEY",
        ),
        (
            vec!["cls", "topics", "--region", "ap-guangzhou"],
            "TENCENTCLOUD_SECRET_ID",
        ),
        (vec!["c1", "exporters", "list"], "CONE_CLIENT_ID"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(vars), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn usage_errors_exit_2_and_vendor_errors_exit_1() {
    // Unknown flag (clap) and a bad value caught before any request.
    assert_eq!(run(&["atlas", "events", "--bogus"]).status.code(), Some(2));
    let bad = run(&[
        "--sandbox",
        "atlas",
        "cluster-logs",
        "--project",
        "not-hex",
        "--host",
        "h",
        "--log",
        "mongodb",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let reversed = run(&[
        "--sandbox",
        "atlas",
        "cluster-logs",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
        "--host",
        "h",
        "--log",
        "mongodb",
        "--start",
        "1h",
        "--end",
        "2h",
    ]);
    assert_eq!(reversed.status.code(), Some(2));
    assert_eq!(
        run(&[
            "--endpoint",
            "http://example.com",
            "c1",
            "exporters",
            "list"
        ])
        .status
        .code(),
        Some(2)
    );
    // A vendor error: an exporter that does not exist. --json gives a
    // machine-readable error with the vendor's status.
    let missing = run(&[
        "--sandbox",
        "--json",
        "c1",
        "exporters",
        "get",
        "does-not-exist",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    let err = last_json(&missing.stderr);
    assert_eq!(err["error"]["status"], 404);
    assert_eq!(err["error"]["kind"], "NotFound");
}

#[test]
fn a_truncated_download_leaves_no_output_file() {
    let rt = tokio_rt();
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for raw in [false, true] {
        sb.faults()
            .inject(FaultTarget::Download, Fault::Truncate { keep: 300 }, 1);
        let out = dir
            .path()
            .join(if raw { "raw.gz" } else { "decoded.ndjson" });
        let mut args = vec!["-q", "-o", out.to_str().unwrap()];
        if raw {
            args.push("--raw");
        }
        args.extend([
            "atlas",
            "cluster-logs",
            "--project",
            atlas_sb::DEMO_PROJECT_ID,
            "--host",
            atlas_sb::DEMO_HOST,
            "--log",
            "mongodb",
            "--start",
            "3h",
        ]);
        let r = logexport(&args).atlas_env(&sb).output().unwrap();
        assert_eq!(r.status.code(), Some(1), "raw={raw}: {}", text(&r.stderr));
        assert!(!out.exists(), "raw={raw}: a partial file was left");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary files either"
    );
}

#[test]
fn c1_events_survive_kill_9_exactly_once() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(ConductorOneSandbox::builder().event_count(2_000).start())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (clean, clean_cp) = (dir.path().join("clean.ndjson"), dir.path().join("clean.cp"));
    let status = c1_events(&sb, &clean, Some(&clean_cp)).status().unwrap();
    assert!(status.success());
    let expected = std::fs::read(&clean).unwrap();
    assert_eq!(ndjson(&expected).len(), 2_000);

    // Slow pages down so kills land mid-stream, then kill repeatedly.
    sb.faults().inject(
        "list_system_log_events",
        Fault::Latency(Duration::from_millis(25)),
        10_000,
    );
    let mut rng = Lcg(0x5eed);
    let mut total_kills = 0;
    for round in 0..3 {
        let (out, cp) = (
            dir.path().join(format!("killed-{round}.ndjson")),
            dir.path().join(format!("killed-{round}.cp")),
        );
        total_kills += run_with_kills(&|| c1_events(&sb, &out, Some(&cp)), &mut rng, 40, 700);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            expected,
            "round {round}: output differs from the uninterrupted run"
        );
    }
    assert!(
        total_kills >= 3,
        "the test must actually interrupt runs (killed {total_kills})"
    );
    eprintln!("c1 events: {total_kills} kill -9s across 3 rounds, outputs identical");
}

/// A C1 server that starts failing mid-stream: the run exits 1, the events
/// read before the failure are stored and counted by the checkpoint, and a
/// rerun once the server recovers completes the output exactly once.
#[test]
fn c1_events_failing_mid_stream_keep_what_was_read_and_resume_exactly_once() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(
            // Pages of 30: the failure lands between two checkpoint commits
            // (one per 100 events).
            ConductorOneSandbox::builder()
                .event_count(1_000)
                .max_page_size(30)
                .start(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (clean, clean_cp) = (dir.path().join("clean.ndjson"), dir.path().join("clean.cp"));
    assert!(c1_events(&sb, &clean, Some(&clean_cp))
        .status()
        .unwrap()
        .success());
    let expected = std::fs::read(&clean).unwrap();

    // Four pages (120 events) pass, then every page request fails
    // (retries included).
    sb.faults()
        .inject("list_system_log_events", Fault::Latency(Duration::ZERO), 4);
    sb.faults().inject(
        "list_system_log_events",
        Fault::error(500, "internal"),
        10_000,
    );
    let (out, cp) = (dir.path().join("out.ndjson"), dir.path().join("out.cp"));
    let failed = c1_events(&sb, &out, Some(&cp)).output().unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    let kept = std::fs::read(&out).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    let lines = ndjson(&kept).len() as u64;
    // A commit comes every 100 events; the last 20 were stored by the
    // commit on the way out.
    assert_eq!(lines, 120, "every event read before the failure is kept");
    assert_eq!(state["records"].as_u64(), Some(lines));
    assert!(
        expected.starts_with(&kept),
        "the kept events are the first ones"
    );

    sb.faults().clear();
    assert!(c1_events(&sb, &out, Some(&cp)).status().unwrap().success());
    assert_eq!(std::fs::read(&out).unwrap(), expected);
}

#[test]
fn atlas_windows_survive_kill_9_exactly_once() {
    let rt = tokio_rt();
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A fixed, closed range so every run asks for the same windows.
    let end = (chrono::Utc::now() - chrono::Duration::hours(1))
        .timestamp()
        .to_string();
    let start = (chrono::Utc::now() - chrono::Duration::hours(25))
        .timestamp()
        .to_string();
    let cmd = |out: &Path, cp: &Path| atlas_audit_windows(&sb, out, cp, &start, &end);
    let (clean, clean_cp) = (dir.path().join("clean.ndjson"), dir.path().join("clean.cp"));
    assert!(cmd(&clean, &clean_cp).status().unwrap().success());
    let expected = std::fs::read(&clean).unwrap();
    assert!(ndjson(&expected).len() > 1_000);

    sb.faults().inject(
        "download_cluster_log",
        Fault::Latency(Duration::from_millis(30)),
        10_000,
    );
    let mut rng = Lcg(0xa71a5);
    let mut kills = 0;
    for round in 0..2 {
        let (out, cp) = (
            dir.path().join(format!("k{round}.ndjson")),
            dir.path().join(format!("k{round}.cp")),
        );
        kills += run_with_kills(&|| cmd(&out, &cp), &mut rng, 40, 700);
        assert_eq!(std::fs::read(&out).unwrap(), expected, "round {round}");
    }
    assert!(kills >= 2, "killed {kills}");
}
