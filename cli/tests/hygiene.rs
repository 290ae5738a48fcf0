//! Output hygiene of the `logexport` binary: no colour codes when stderr is
//! not a terminal, only JSON lines on stderr under `--json` ending in one
//! summary object, credential errors that name the variable (never its
//! value) with kind `Credentials` and exit 2, and output paths: a trailing
//! slash makes a directory, every other path error names the path.

mod support;

use logexport::sandbox::atlas as atlas_sb;
use std::process::Output;
use support::{logexport, ndjson, text};

fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = logexport(args);
    cmd.env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

#[test]
fn no_colour_codes_when_stderr_is_not_a_terminal() {
    // -vv logs each request, so stderr has plenty of text to colour.
    let out = run(&[
        "--sandbox",
        "-vv",
        "atlas",
        "processes",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.lines().count() > 1, "expected log lines: {err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape on a non-terminal stderr: {err:?}"
    );
}

#[test]
fn json_runs_write_only_json_lines_and_end_with_one_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("events.ndjson");
    let out = run(&[
        "--sandbox",
        "--json",
        "-vv",
        "-o",
        out_file.to_str().unwrap(),
        "atlas",
        "events",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = ndjson(&out.stderr);
    assert!(lines.len() > 1, "the -vv log lines are JSON too");
    let summary = lines.last().unwrap();
    for key in ["records", "bytes", "windows", "resume_from", "duration_ms"] {
        assert!(summary.get(key).is_some(), "summary lacks {key}: {summary}");
    }
    assert!(summary["records"].as_u64().unwrap() > 0);
    assert!(summary["duration_ms"].is_u64());
    let summaries = lines
        .iter()
        .filter(|l| l.get("duration_ms").is_some())
        .count();
    assert_eq!(summaries, 1, "exactly one summary object");

    // A windowed download with a checkpoint reports windows and where to resume.
    let cp = dir.path().join("audit.cp");
    let audit = dir.path().join("audit.ndjson");
    let out = run(&[
        "--sandbox",
        "--json",
        "-q",
        "-o",
        audit.to_str().unwrap(),
        "atlas",
        "cluster-logs",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
        "--host",
        atlas_sb::DEMO_HOST,
        "--log",
        "mongodb-audit-log",
        "--start",
        "3h",
        "--checkpoint",
        cp.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = ndjson(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["windows"], 3, "{}", lines[0]);
    assert!(lines[0]["resume_from"].is_string(), "{}", lines[0]);

    // The tour, too, ends in one summary and prints nothing else.
    let out = logexport(&["--json", "tour", "--dir", "t"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = ndjson(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn json_errors_are_json_lines_with_the_library_fields() {
    // A usage error from the argument parser.
    let out = run(&["--json", "atlas", "events", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = ndjson(&out.stderr);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["error"]["kind"], "InvalidInput");
    assert!(lines[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--bogus"));

    // A vendor error carries vendor and operation.
    let out = run(&[
        "--sandbox",
        "--json",
        "c1",
        "exporters",
        "get",
        "does-not-exist",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines = ndjson(&out.stderr);
    let e = &lines.last().unwrap()["error"];
    assert_eq!(e["kind"], "NotFound");
    assert_eq!(e["vendor"], "ConductorOne");
    assert_eq!(e["status"], 404);
    assert!(
        e.get("operation").is_some() && e.get("request_id").is_some(),
        "{e}"
    );
}

#[test]
fn credential_errors_name_the_variable_not_the_value() {
    struct Case {
        args: &'static [&'static str],
        env: &'static [(&'static str, &'static str)],
        names: &'static str,
        secret: &'static str,
    }
    let cases = [
        Case {
            args: &["cls", "topics", "--region", "ap-guangzhou"],
            env: &[
                ("TENCENTCLOUD_SECRET_ID", "AKIDexampleexample"),
                ("TENCENTCLOUD_SECRET_KEY", "keykeykeykey"),
                ("TENCENTCLOUD_SESSION_TOKEN", "tok x-secretpart"),
            ],
            names: "TENCENTCLOUD_SESSION_TOKEN",
            secret: "x-secretpart",
        },
        Case {
            args: &["atlas", "events", "--project", atlas_sb::DEMO_PROJECT_ID],
            env: &[("MONGODB_ATLAS_PRIVATE_API_KEY", "private-secret-value")],
            names: "MONGODB_ATLAS_PUBLIC_API_KEY",
            secret: "private-secret-value",
        },
        Case {
            args: &["c1", "exporters", "list"],
            env: &[
                ("CONE_CLIENT_ID", "no-at-sign-secretish"),
                (
                    "CONE_CLIENT_SECRET",
                    "secret-token:conductorone.com:v1:AAAA",
                ),
            ],
            names: "CONE_CLIENT_ID",
            secret: "no-at-sign-secretish",
        },
        Case {
            args: &["c1", "exporters", "list"],
            env: &[("CONE_ACCESS_TOKEN", "tok with-space-secret")],
            names: "CONE_ACCESS_TOKEN",
            secret: "with-space-secret",
        },
    ];
    for case in cases {
        for json in [false, true] {
            let mut args = Vec::new();
            if json {
                args.push("--json");
            }
            args.extend(case.args.iter().copied());
            let out = run_env(&args, case.env);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(case.names), "{args:?}: {err}");
            assert!(
                !err.contains(case.secret),
                "{args:?} leaked the value: {err}"
            );
            assert!(
                !err.contains("no ") || !err.contains("credentials: set"),
                "generic message: {err}"
            );
            if json {
                let lines = ndjson(&out.stderr);
                let e = &lines[0]["error"];
                assert_eq!(e["kind"], "Credentials", "{e}");
                assert_eq!(e["exit_code"], 2);
            }
        }
    }
}

#[test]
fn a_trailing_slash_makes_a_directory_and_path_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("nested").join("logs");
    let target = format!("{}/", logs.display());
    let out = run(&[
        "--sandbox",
        "-q",
        "--raw",
        "-o",
        &target,
        "atlas",
        "cluster-logs",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
        "--host",
        atlas_sb::DEMO_HOST,
        "--log",
        "mongodb-audit-log",
        "--start",
        "6h",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 0);

    // A file in a directory that does not exist: exit 2 before any request,
    // and the message names the path.
    let missing = dir.path().join("absent").join("out.ndjson");
    let out = run(&[
        "--sandbox",
        "-o",
        missing.to_str().unwrap(),
        "atlas",
        "processes",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&dir.path().join("absent").display().to_string()),
        "{}",
        text(&out.stderr)
    );

    // A directory where a record file is due, and a file where a directory is.
    let out = run(&[
        "--sandbox",
        "-o",
        logs.to_str().unwrap(),
        "atlas",
        "processes",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&logs.display().to_string()));
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let under_file = format!("{}/", file.display());
    let out = run(&[
        "--sandbox",
        "-o",
        &under_file,
        "atlas",
        "processes",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&file.display().to_string()));
}
