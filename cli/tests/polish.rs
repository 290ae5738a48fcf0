//! CLI polish: shell completions and the man page, `--log` as a value enum
//! (file-style names too), one set of time-flag names with the old ones as
//! aliases, and each vendor's `--help` listing every variable and profile
//! file it reads.

mod support;

use logexport::profile::{cone, tccli};
use logexport::sandbox::atlas as atlas_sb;
use logexport::{atlas, conductorone, tencent_cls};
use support::{logexport, ndjson, text};

fn stdout_of(args: &[&str]) -> String {
    let out = logexport(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn completions_for_every_shell_know_the_commands_and_values() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        for word in ["logexport", "cluster-logs", "profile", "since"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
        // The shells whose scripts complete values list `--log`'s.
        if matches!(shell, "bash" | "zsh" | "fish") {
            assert!(
                script.contains("mongodb-audit-log"),
                "{shell} lacks --log values"
            );
        }
    }
    // The bash script is valid bash.
    let script = stdout_of(&["completions", "bash"]);
    if let Ok(out) = std::process::Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
    {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let bad = logexport(&["completions", "cmd.exe"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_page_is_roff_for_the_whole_cli() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH logexport"),
        "{page}"
    );
    assert!(page.contains(".TH logexport"), "{page}");
    for word in ["atlas", "cls", "c1", "completions", "\\-\\-profile"] {
        assert!(page.contains(word), "man page lacks {word}");
    }
}

#[test]
fn log_is_a_value_enum_with_file_style_names() {
    let help = stdout_of(&["atlas", "cluster-logs", "--help"]);
    for name in atlas::LogName::ALL {
        assert!(help.contains(name.as_str()), "{help}");
    }
    let run = |log: &str| {
        logexport(&[
            "--sandbox",
            "-q",
            "atlas",
            "cluster-logs",
            "--project",
            atlas_sb::DEMO_PROJECT_ID,
            "--host",
            atlas_sb::DEMO_HOST,
            "--log",
            log,
            "--since",
            "2h",
        ])
        .output()
        .unwrap()
    };
    for log in ["mongodb", "mongodb.gz", "mongos-audit-log.gz"] {
        let out = run(log);
        assert!(out.status.success(), "{log}: {}", text(&out.stderr));
    }
    let out = run("mongodb.log");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("mongodb-audit-log"),
        "{}",
        text(&out.stderr)
    );
}

/// A reversed window is refused the same way under every spelling, which
/// shows each spelling lands in the same field.
#[test]
fn time_flags_share_names_and_keep_aliases() {
    for (since, until) in [
        ("--since", "--until"),
        ("--start", "--end"),
        ("--from", "--to"),
    ] {
        let atlas = logexport(&[
            "--sandbox",
            "atlas",
            "cluster-logs",
            "--project",
            atlas_sb::DEMO_PROJECT_ID,
            "--host",
            atlas_sb::DEMO_HOST,
            "--log",
            "mongodb",
            since,
            "1h",
            until,
            "2h",
        ])
        .output()
        .unwrap();
        assert_eq!(
            atlas.status.code(),
            Some(2),
            "{since}: {}",
            text(&atlas.stderr)
        );
        assert!(
            text(&atlas.stderr).contains("--since"),
            "{}",
            text(&atlas.stderr)
        );
        let cls = logexport(&[
            "--sandbox",
            "cls",
            "export",
            "--region",
            "ap-guangzhou",
            "--topic",
            "t",
            "--query",
            "*",
            since,
            "1h",
            until,
            "2h",
        ])
        .output()
        .unwrap();
        assert_eq!(cls.status.code(), Some(2), "{since}: {}", text(&cls.stderr));
        assert!(
            text(&cls.stderr).contains("must be before"),
            "{}",
            text(&cls.stderr)
        );
        // Events: a window in the future holds nothing, under every name.
        for vendor in [
            &["c1", "events"][..],
            &["atlas", "events", "--project", atlas_sb::DEMO_PROJECT_ID],
        ] {
            let mut args = vec!["--sandbox", "-q"];
            args.extend_from_slice(vendor);
            let all = stdout_of(&args);
            assert!(all.lines().count() > 0, "{vendor:?}");
            args.extend([since, "2099-01-01T00:00:00Z"]);
            assert_eq!(stdout_of(&args), "", "{vendor:?} {since}");
            args.truncate(args.len() - 2);
            args.extend([until, "2000-01-01T00:00:00Z"]);
            assert_eq!(stdout_of(&args), "", "{vendor:?} {until}");
        }
    }
}

#[test]
fn vendor_help_lists_every_variable_and_profile_file() {
    let atlas_help = stdout_of(&["atlas", "--help"]);
    for v in [
        atlas::ENV_CLIENT_ID,
        atlas::ENV_CLIENT_SECRET,
        atlas::ENV_PUBLIC_KEY,
        atlas::ENV_PRIVATE_KEY,
        atlas::ENV_BASE_URL,
        atlas::ENV_OPS_MANAGER_URL,
        atlas::ENV_PROJECT_ID,
        atlas::ENV_ORG_ID,
        "atlascli",
        "config.toml",
    ] {
        assert!(atlas_help.contains(v), "atlas --help lacks {v}");
    }
    let cls_help = stdout_of(&["cls", "--help"]);
    let mut cls_vars = vec![
        tencent_cls::ENV_SECRET_ID,
        tencent_cls::ENV_SECRET_KEY,
        tencent_cls::ENV_SESSION_TOKEN,
        tencent_cls::ENV_REGION,
        tccli::ENV_PROFILE,
        "~/.tccli",
    ];
    cls_vars.extend(tencent_cls::ENV_SESSION_TOKEN_ALIASES);
    for v in cls_vars {
        assert!(cls_help.contains(v), "cls --help lacks {v}");
    }
    let c1_help = stdout_of(&["c1", "--help"]);
    let mut c1_vars = vec![
        cone::ENV_PROFILE,
        cone::ENV_CONFIG_PATH,
        ".conductorone/config.yaml",
    ];
    c1_vars.extend(conductorone::ENV_CLIENT_ID_NAMES);
    c1_vars.extend(conductorone::ENV_CLIENT_SECRET_NAMES);
    c1_vars.extend(conductorone::ENV_ACCESS_TOKEN_NAMES);
    c1_vars.extend(conductorone::ENV_ENDPOINT_NAMES);
    for v in c1_vars {
        assert!(c1_help.contains(v), "c1 --help lacks {v}");
    }
}

/// Listings: NDJSON when piped (the default here), one JSON array, or a
/// table with a header row, all holding the same records.
#[test]
fn listing_formats_hold_the_same_records() {
    let listings: [&[&str]; 3] = [
        &["c1", "exporters", "list"],
        &["cls", "topics", "--region", "ap-guangzhou"],
        &["atlas", "processes", "--project", atlas_sb::DEMO_PROJECT_ID],
    ];
    for listing in listings {
        let with = |format: Option<&str>| {
            let mut args = vec!["--sandbox", "-q"];
            args.extend_from_slice(listing);
            if let Some(f) = format {
                args.extend(["--format", f]);
            }
            stdout_of(&args)
        };
        let records = ndjson(with(None).as_bytes());
        assert!(!records.is_empty(), "{listing:?}");
        // Records are compared by their first field (an id): live fields
        // such as Atlas's lastPing change between runs.
        let first_key = records[0]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let ids = |rs: &[serde_json::Value]| -> Vec<serde_json::Value> {
            rs.iter().map(|r| r[&first_key].clone()).collect()
        };
        let again = ndjson(with(Some("ndjson")).as_bytes());
        assert_eq!(ids(&again), ids(&records));
        let array: Vec<serde_json::Value> = serde_json::from_str(&with(Some("json"))).unwrap();
        assert_eq!(ids(&array), ids(&records), "{listing:?}");
        let table = with(Some("table"));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), records.len() + 1, "{table}");
        assert!(lines[0].starts_with(first_key.as_str()), "{table}");
    }
}
