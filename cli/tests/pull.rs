//! `logexport pull` through the binary, against emulators hosted by the
//! test (so they outlive every run and can misbehave on purpose): several
//! sources at once with remapped credentials, exactly once across kill -9s
//! and reruns, one failing source among healthy ones, SIGTERM mid-cycle,
//! config errors with line numbers, `--check`, `--status`, `--source`.

mod support;

use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::prelude::*;
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use logexport::sandbox::{Fault, FaultTarget};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{last_json, logexport, ndjson, run_with_kills, text, tokio_rt, Lcg, SandboxEnv};

/// The three emulators.
struct Emulators {
    atlas: AtlasSandbox,
    cls: TencentClsSandbox,
    c1: ConductorOneSandbox,
    _rt: tokio::runtime::Runtime,
}

fn emulators() -> Emulators {
    let rt = tokio_rt();
    let atlas = rt.block_on(AtlasSandbox::start()).unwrap();
    let cls = rt
        .block_on(
            TencentClsSandbox::builder()
                .lifecycle(Duration::from_millis(30), Duration::from_millis(30))
                .rate_limit(None)
                .start(),
        )
        .unwrap();
    let c1 = rt
        .block_on(ConductorOneSandbox::builder().event_count(1_500).start())
        .unwrap();
    Emulators {
        atlas,
        cls,
        c1,
        _rt: rt,
    }
}

/// A closed past hour, in unix seconds.
fn hour() -> (i64, i64) {
    let from = (chrono::Utc::now() - chrono::Duration::hours(3)).timestamp() / 60 * 60;
    (from, from + 3_600)
}

/// A config whose state and output live under `prefix` (relative to the
/// config file). Credentials are read from test-specific variables
/// through each source's `env` table.
fn config(em: &Emulators, prefix: &str, (from, to): (i64, i64)) -> String {
    format!(
        r#"state_dir = "{prefix}/state"
concurrency = 3

[[source]]
name = "atlas-audit"
vendor = "atlas"
kind = "cluster-logs"
project = "{project}"
hosts = ["{host}"]
log = "mongodb-audit-log"
endpoint = "{atlas}"
env = {{ MONGODB_ATLAS_PUBLIC_API_KEY = "T_ATLAS_PUB", MONGODB_ATLAS_PRIVATE_API_KEY = "T_ATLAS_PRIV" }}
start = "{from}"
end = "{to}"
step = "10m"
lag = "0"
output = "{prefix}/out/{{source}}/part-{{seq}}.ndjson"
rotate_bytes = 60000

[[source]]
name = "cls-topic"
vendor = "cls"
region = "{region}"
topic = "{topic}"
endpoint = "{cls}"
env = {{ TENCENTCLOUD_SECRET_ID = "T_CLS_ID", TENCENTCLOUD_SECRET_KEY = "T_CLS_KEY" }}
start = "{from}"
end = "{to}"
step = "5m"
lag = "0"
output = "{prefix}/out/{{source}}/all.ndjson"

[[source]]
name = "c1-log"
vendor = "c1"
endpoint = "{c1}"
env = {{ CONE_CLIENT_ID = "T_C1_ID", CONE_CLIENT_SECRET = "T_C1_SECRET" }}
start = "5d"
output = "{prefix}/out/{{source}}/events.ndjson.gz"
gzip = true
"#,
        project = atlas_sb::DEMO_PROJECT_ID,
        host = atlas_sb::DEMO_HOST,
        atlas = em.atlas.endpoint(),
        region = cls_sb::DEMO_REGION,
        topic = cls_sb::DEMO_TOPIC_ID,
        cls = em.cls.endpoint(),
        c1 = em.c1.endpoint(),
    )
}

/// `logexport pull --config FILE ARGS` with the test's credential variables.
fn pull(em: &Emulators, config: &Path, args: &[&str]) -> Command {
    let mut c = logexport(&["pull", "--config", config.to_str().unwrap()]);
    c.args(args)
        .env("T_ATLAS_PUB", atlas_sb::DEMO_PUBLIC_KEY)
        .env("T_ATLAS_PRIV", atlas_sb::DEMO_PRIVATE_KEY)
        .env("T_CLS_ID", cls_sb::DEMO_SECRET_ID)
        .env("T_CLS_KEY", cls_sb::DEMO_SECRET_KEY)
        .env("T_C1_ID", em.c1.client_id())
        .env("T_C1_SECRET", em.c1.client_secret().expose());
    c
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("logexport.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The per-source JSON lines of a `--json` run.
fn cycle_lines(stderr: &[u8]) -> BTreeMap<String, serde_json::Value> {
    text(stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["command"] == "pull")
        .map(|v| (v["source"].as_str().unwrap().to_string(), v))
        .collect()
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The text of a gzip file (one or more members).
fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(bytes), &mut s).unwrap();
    s
}

/// The `part-N` files of a source, in order, concatenated.
fn parts(dir: &Path) -> String {
    let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .map(|p| {
            let n = p.file_stem().unwrap().to_str().unwrap()["part-".len()..]
                .parse()
                .unwrap();
            (n, p)
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|(_, p)| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn several_sources_at_once_then_a_rerun_stores_nothing_twice() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let range = hour();
    let cfg = write_config(dir.path(), &config(&em, "run", range));

    let out = pull(&em, &cfg, &["--once", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = cycle_lines(&out.stderr);
    assert_eq!(lines.len(), 3, "{}", text(&out.stderr));
    for (name, line) in &lines {
        assert_eq!(line["ok"], true, "{name}: {line}");
        assert!(line["records"].as_u64().unwrap() > 0, "{name}: {line}");
        assert!(line["last_error"].is_null(), "{line}");
    }
    assert_eq!(lines["atlas-audit"]["windows"], 6);
    assert_eq!(lines["cls-topic"]["windows"], 12);
    assert_eq!(
        em.cls.calls("CreateExport"),
        12,
        "one export task per window"
    );

    // The windows hold exactly what one download of the hour holds, split
    // into files of at most rotate_bytes.
    let whole = dir.path().join("whole.ndjson");
    let (from, to) = (range.0.to_string(), range.1.to_string());
    let single = logexport(&["-q", "-o", whole.to_str().unwrap(), "atlas", "cluster-logs"])
        .args([
            "--project",
            atlas_sb::DEMO_PROJECT_ID,
            "--host",
            atlas_sb::DEMO_HOST,
        ])
        .args([
            "--log",
            "mongodb-audit-log",
            "--since",
            &from,
            "--until",
            &to,
        ])
        .atlas_env(&em.atlas)
        .output()
        .unwrap();
    assert!(single.status.success(), "{}", text(&single.stderr));
    let atlas_dir = dir.path().join("run/out/atlas-audit");
    assert_eq!(parts(&atlas_dir), std::fs::read_to_string(&whole).unwrap());
    let files = tree(&atlas_dir);
    assert!(files.len() >= 3, "rotation by size: {} files", files.len());
    for (name, bytes) in &files {
        assert!(bytes.len() <= 60_000, "{name}: {} bytes", bytes.len());
    }
    let c1_text = gunzip(&tree(&dir.path().join("run/out/c1-log"))["events.ndjson.gz"]);
    assert_eq!(c1_text.lines().count(), 1_500);

    // A rerun finds every window and event stored.
    let before = tree(&dir.path().join("run/out"));
    let again = pull(&em, &cfg, &["--once", "--json"]).output().unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    for (name, line) in cycle_lines(&again.stderr) {
        assert_eq!(line["records"], 0, "{name}: {line}");
    }
    assert_eq!(tree(&dir.path().join("run/out")), before);

    // --status reads the checkpoints: lag is how far the data is behind now.
    let status = pull(&em, &cfg, &["--status", "--json"]).output().unwrap();
    assert!(status.status.success(), "{}", text(&status.stderr));
    let rows = ndjson(&status.stdout);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["source"], "atlas-audit");
    assert_eq!(rows[0]["records"], lines["atlas-audit"]["records"]);
    assert_eq!(rows[0]["position"], range.1.to_string());
    assert!(rows[0]["lag_s"].as_i64().unwrap() >= 2 * 3_600);
    assert_eq!(rows[2]["records"], 1_500);
    // C1 positions are uids: the lag comes from the newest event's time.
    assert!(rows[2]["lag_s"].as_i64().is_some(), "{}", rows[2]);
    assert!(
        lines["c1-log"]["lag_s"].as_i64().is_some(),
        "{}",
        lines["c1-log"]
    );
    assert!(rows.iter().all(|r| r["last_error"].is_null()));

    // --source runs only the named ones; an unknown name is a usage error.
    let only = pull(&em, &cfg, &["--once", "--json", "--source", "cls-topic"])
        .output()
        .unwrap();
    assert!(only.status.success());
    assert_eq!(
        cycle_lines(&only.stderr).keys().collect::<Vec<_>>(),
        ["cls-topic"]
    );
    let unknown = pull(&em, &cfg, &["--once", "--source", "nope"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no source named nope"));
}

#[test]
fn kill_9_at_random_points_over_several_cycles_stores_every_record_once() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    // Twenty minutes: two Atlas windows, four CLS windows, every C1 event.
    let from = hour().0;
    let range = (from, from + 1_200);
    let clean_cfg = write_config(dir.path(), &config(&em, "clean", range));
    let started = std::time::Instant::now();
    let out = pull(&em, &clean_cfg, &["--once", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Kill points spread over an uninterrupted run's duration (the killed
    // runs are slower still, with the latency below), so they land inside
    // runs however fast or loaded this machine is.
    let clean_ms = started.elapsed().as_millis() as u64;
    let expected = tree(&dir.path().join("clean/out"));

    // Slow downloads and pages so kills land mid-window and mid-page
    // (CLS exports are slow enough by themselves).
    em.atlas.faults().inject(
        FaultTarget::Download,
        Fault::Latency(Duration::from_millis(100)),
        100_000,
    );
    em.c1.faults().inject(
        "list_system_log_events",
        Fault::Latency(Duration::from_millis(40)),
        100_000,
    );
    let mut rng = Lcg(0x9011);
    let mut kills = 0;
    for round in 0.. {
        let kdir = tempfile::tempdir().unwrap();
        let killed_cfg = write_config(kdir.path(), &config(&em, "killed", range));
        let k = run_with_kills(
            &|| pull(&em, &killed_cfg, &["--once", "-q"]),
            &mut rng,
            100,
            clean_ms.clamp(400, 4_000),
        );
        same_files(&expected, &tree(&kdir.path().join("killed/out")), round, k);
        kills += k;
        if round >= 1 && kills >= 4 {
            break;
        }
        assert!(round < 8, "the test must interrupt runs (killed {kills})");
    }
    eprintln!("pull: {kills} kill -9s, every source's files identical to an uninterrupted run");
}

/// Asserts the files of a killed run equal those of the clean run.
fn same_files(
    expected: &BTreeMap<String, Vec<u8>>,
    got: &BTreeMap<String, Vec<u8>>,
    round: u32,
    kills: u32,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in expected {
        if name.ends_with(".gz") {
            // Member boundaries depend on where commits fell; the records must not.
            let same = gunzip(&got[name]) == gunzip(bytes);
            assert!(same, "round {round}: {name} differs after {kills} kills");
        } else {
            assert!(
                got[name] == *bytes,
                "round {round}: {name} differs after {kills} kills"
            );
        }
    }
}

#[test]
fn one_failing_source_does_not_stop_the_others_and_is_named() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&em, "run", hour()));
    em.atlas.faults().inject(
        FaultTarget::Any,
        Fault::error(403, "ORG_REQUIRES_ACCESS_LIST"),
        10_000,
    );
    let out = pull(&em, &cfg, &["--once", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = cycle_lines(&out.stderr);
    assert_eq!(lines["atlas-audit"]["ok"], false);
    assert!(!lines["atlas-audit"]["last_error"]
        .as_str()
        .unwrap()
        .is_empty());
    for name in ["cls-topic", "c1-log"] {
        assert_eq!(lines[name]["ok"], true, "{}", lines[name]);
        assert!(lines[name]["records"].as_u64().unwrap() > 0);
    }
    let last = last_json(&out.stderr);
    assert_eq!(
        last["error"]["message"],
        "1 of 3 sources failed: atlas-audit"
    );
    let status = pull(&em, &cfg, &["--status"]).output().unwrap();
    let shown = text(&status.stdout);
    assert!(
        shown.contains("atlas-audit: position=- ") && shown.contains("last error: "),
        "{shown}"
    );

    // Healthy again: the failed source catches up, the others add nothing.
    em.atlas.faults().clear();
    let again = pull(&em, &cfg, &["--once", "--json"]).output().unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    let lines = cycle_lines(&again.stderr);
    assert!(lines["atlas-audit"]["records"].as_u64().unwrap() > 0);
    assert_eq!(lines["cls-topic"]["records"], 0);
    assert_eq!(lines["c1-log"]["records"], 0);
}

#[test]
fn sigterm_mid_cycle_commits_the_current_window_and_exits_0() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let range = hour();
    let cfg = write_config(dir.path(), &config(&em, "run", range));
    // Each Atlas window takes over half a second; the cycle is long.
    em.atlas.faults().inject(
        FaultTarget::Download,
        Fault::Latency(Duration::from_millis(600)),
        10_000,
    );
    let mut child = pull(&em, &cfg, &["--follow", "--interval", "1h", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(code, Some(0), "{err}");
    // The checkpoint matches the file exactly: nothing half-stored.
    let cp: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("run/state/atlas-audit/checkpoint.json")).unwrap(),
    )
    .unwrap();
    let windows = cycle_lines(err.as_bytes())["atlas-audit"]["windows"]
        .as_u64()
        .unwrap();
    assert!(
        (1..6).contains(&windows),
        "stopped mid-cycle: {windows} windows\n{err}"
    );
    assert_eq!(cp["spill"], serde_json::json!([]));
    let file = PathBuf::from(cp["file"]["path"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        cp["file"]["len"].as_u64().unwrap()
    );
    // The next run finishes the hour: the same records as an uninterrupted run.
    em.atlas.faults().clear();
    let out = pull(&em, &cfg, &["--once", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let clean_cfg = write_config(dir.path(), &config(&em, "clean", range));
    let out = pull(
        &em,
        &clean_cfg,
        &["--once", "-q", "--source", "atlas-audit"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        parts(&dir.path().join("run/out/atlas-audit")),
        parts(&dir.path().join("clean/out/atlas-audit"))
    );
}

#[test]
fn config_errors_are_all_reported_with_line_numbers_before_any_request() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        r#"state_dir = "state"

[[source]]
name = "ok-name"
vendor = "c1"
output = "{source}.ndjson"
step = "fortnight"

[[source]]
name = "bad name"
vendor = "cls"
topic = "t"
output = "-"
gzip = true
"#,
    );
    let out = pull(&em, &cfg, &["--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let shown = cfg.display().to_string();
    for (line, what) in [
        (7, "`step`: `fortnight` is not a duration"),
        (10, "name `bad name` may hold only"),
        (14, "`gzip` applies to files, not stdout"),
    ] {
        assert!(
            err.contains(&format!("{shown}:{line}: ")) && err.contains(what),
            "{line} {what}:\n{err}"
        );
    }
    assert!(em.c1.requests().is_empty() && em.cls.calls("DescribeTopics") == 0);
}

#[test]
fn check_makes_one_call_per_source_and_names_each_failing_one() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&em, "run", hour()));
    let out = pull(&em, &cfg, &["--check"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !dir.path().join("run/out").exists(),
        "--check pulls nothing"
    );

    let out = pull(&em, &cfg, &["--check"])
        .env("T_CLS_KEY", "wrong-key")
        .env("T_C1_SECRET", "wrong-secret")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("2 source(s) failed the check"), "{err}");
    assert!(
        err.contains("source `cls-topic`") && err.contains("source `c1-log`"),
        "{err}"
    );
    assert!(err.contains("ok: source `atlas-audit`"), "{err}");
    assert!(
        !err.contains("wrong-key") && !err.contains("wrong-secret"),
        "{err}"
    );
}

#[test]
fn sources_sharing_credentials_share_one_client_and_atlas_targets_are_discovered() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = hour();
    let atlas = |name: &str, kind: &str, extra: &str| {
        format!(
            r#"
[[source]]
name = "{name}"
vendor = "atlas"
kind = "{kind}"
project = "{project}"
{extra}
endpoint = "{endpoint}"
env = {{ MONGODB_ATLAS_PUBLIC_API_KEY = "T_ATLAS_PUB", MONGODB_ATLAS_PRIVATE_API_KEY = "T_ATLAS_PRIV" }}
start = "{from}"
end = "{to}"
lag = "0"
output = "out/{{source}}.ndjson"
"#,
            project = atlas_sb::DEMO_PROJECT_ID,
            endpoint = em.atlas.endpoint(),
        )
    };
    let c1 = |name: &str| {
        format!(
            r#"
[[source]]
name = "{name}"
vendor = "c1"
endpoint = "{endpoint}"
env = {{ CONE_CLIENT_ID = "T_C1_ID", CONE_CLIENT_SECRET = "T_C1_SECRET" }}
start = "5d"
output = "out/{{source}}.ndjson"
"#,
            endpoint = em.c1.endpoint(),
        )
    };
    // One at a time, so a second token exchange could only come from a
    // second client.
    let text_cfg = format!(
        "state_dir = \"state\"\nconcurrency = 1\n{}{}{}{}",
        atlas("workspaces", "stream-audit-logs", ""),
        atlas("hosts", "cluster-logs", "log = \"mongodb\""),
        c1("c1-a"),
        c1("c1-b"),
    );
    let cfg = write_config(dir.path(), &text_cfg);
    let out = pull(&em, &cfg, &["--once", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = cycle_lines(&out.stderr);
    // No workspaces or hosts named: the project's are listed and pulled.
    assert!(
        lines["workspaces"]["records"].as_u64().unwrap() > 0,
        "{}",
        lines["workspaces"]
    );
    assert!(
        lines["hosts"]["records"].as_u64().unwrap() > 0,
        "{}",
        lines["hosts"]
    );
    assert_eq!(lines["c1-a"]["records"], 1_500);
    assert_eq!(lines["c1-b"]["records"], 1_500);
    assert_eq!(
        em.c1.requests().count_path("/auth/v1/token"),
        1,
        "both C1 sources use one client and its token"
    );
}

#[test]
fn stdout_wraps_each_record_with_its_source() {
    let em = emulators();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"state_dir = "state"
[[source]]
name = "tenant"
vendor = "c1"
endpoint = "{}"
env = {{ CONE_CLIENT_ID = "T_C1_ID", CONE_CLIENT_SECRET = "T_C1_SECRET" }}
start = "5d"
output = "-"
"#,
            em.c1.endpoint()
        ),
    );
    let out = pull(&em, &cfg, &["--once", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = ndjson(&out.stdout);
    assert_eq!(lines.len(), 1_500);
    for (line, event) in lines.iter().zip(em.c1.events()) {
        assert_eq!(line["source"], "tenant");
        assert_eq!(line["record"], *event);
    }
}
