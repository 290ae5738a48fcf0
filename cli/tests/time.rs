//! Time input never crashes the CLI. The parser itself (the binary's
//! `time.rs`, compiled in here) is run over arbitrary strings by proptest;
//! the inputs once seen to panic, and the 13-digit millisecond form, are run
//! through the built binary.

mod support;
#[path = "../src/time.rs"]
#[allow(dead_code)]
mod time;

use chrono::{DateTime, Utc};
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use proptest::prelude::*;
use std::process::Output;
use support::{logexport, ndjson, text, tokio_rt, SandboxEnv};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// Any string at all: a time or a message, never a panic.
    #[test]
    fn no_string_panics(s in "\\PC{0,40}") {
        let _ = time::parse_time(&s, now());
        let _ = time::parse_duration(&s);
    }

    /// Strings built from what times are made of, where overflows hide:
    /// long digit runs, units, signs, separators, ` ago`.
    #[test]
    fn no_time_like_string_panics(s in "[0-9]{1,25}([smhdwMy]|ms|us|ns)?( ?[0-9]{1,20}[smhdwMy])?( ago)?|[-+]?[0-9]{1,24}|[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})") {
        if let Ok(t) = time::parse_time(&s, now()) {
            prop_assert!(t.timestamp() >= 0, "{s} -> {t}");
            prop_assert!(t.timestamp() <= 253_402_300_799, "{s} -> {t}");
        }
        if let Ok(d) = time::parse_duration(&s) {
            prop_assert!(d > chrono::Duration::zero());
        }
    }

    /// Every unix time in range reads back exactly, as seconds or (13 digits)
    /// milliseconds.
    #[test]
    fn unix_times_round_trip(secs in 0i64..253_402_300_799, millis in 1_000_000_000_000i64..9_999_999_999_999) {
        prop_assert_eq!(time::parse_time(&secs.to_string(), now()).unwrap().timestamp(), secs);
        prop_assert_eq!(time::parse_time(&millis.to_string(), now()).unwrap().timestamp_millis(), millis);
    }
}

fn run(args: &[&str]) -> Output {
    logexport(args).output().unwrap()
}

#[test]
fn inputs_that_once_panicked_exit_2_with_a_message() {
    let p = logexport::sandbox::atlas::DEMO_PROJECT_ID;
    for (args, input) in [
        (
            vec!["atlas", "events", "--project", p, "--since"],
            "99999999999999w",
        ),
        (
            vec!["atlas", "events", "--project", p, "--since"],
            "100000000d",
        ),
        (vec!["c1", "events", "--since"], "100000000d"),
        (vec!["c1", "events", "--until"], "99999999999999999999"),
        (
            vec![
                "atlas",
                "cluster-logs",
                "--project",
                p,
                "--host",
                "h",
                "--log",
                "mongodb",
                "--start",
            ],
            "99999999999999w",
        ),
    ] {
        let mut all = vec!["--sandbox"];
        all.extend(args.iter().copied());
        all.push(input);
        let out = run(&all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains(input) && (err.contains("range") || err.contains("too long")),
            "{err}"
        );
    }
    // A --step that would overflow when added to a window start.
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("o.ndjson");
    let cp = dir.path().join("o.cp");
    let out = run(&[
        "--sandbox",
        "-o",
        out_file.to_str().unwrap(),
        "atlas",
        "cluster-logs",
        "--project",
        p,
        "--host",
        logexport::sandbox::atlas::DEMO_HOST,
        "--log",
        "mongodb",
        "--start",
        "2h",
        "--checkpoint",
        cp.to_str().unwrap(),
        "--step",
        "100000000d",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn compound_spans_are_accepted() {
    let out = run(&[
        "--sandbox",
        "-q",
        "atlas",
        "events",
        "--project",
        logexport::sandbox::atlas::DEMO_PROJECT_ID,
        "--since",
        "1d12h",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn thirteen_digits_are_unix_milliseconds_as_tccli_writes_them() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export.ndjson");
    let cls = |args: &[&str]| {
        logexport(&["-q", "--endpoint", &sb.endpoint()])
            .args(args)
            .cls_env(&sb)
            .env("TENCENTCLOUD_REGION", cls_sb::DEMO_REGION)
            .output()
            .unwrap()
    };
    let export = cls(&[
        "-o",
        out.to_str().unwrap(),
        "cls",
        "export",
        "--topic",
        cls_sb::DEMO_TOPIC_ID,
        "--query",
        "*",
        "--from",
        "1700000000000",
        "--to",
        "1700003600000",
        "--keep-task",
    ]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    // The task the service recorded carries the range in milliseconds.
    let listed = cls(&["cls", "exports", "--topic", cls_sb::DEMO_TOPIC_ID]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let tasks = ndjson(&listed.stdout);
    assert!(
        tasks
            .iter()
            .any(|t| t["From"] == 1_700_000_000_000u64 && t["To"] == 1_700_003_600_000u64),
        "{tasks:?}"
    );
}
