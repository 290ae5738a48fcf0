//! The README's CLI examples work as written. Every line of every ```sh
//! block in README.md that runs `logexport` is run against the built binary
//! with `--sandbox`, in a fresh directory, after these substitutions (the
//! README shows real-looking ids; the emulators only know their demo ones):
//!
//! | README                                    | run as                          |
//! | ----------------------------------------- | ------------------------------- |
//! | `logexport ARGS`                          | `<binary> --sandbox ARGS`       |
//! | project `5f0c8e1a2b3c4d5e6f708192`, `--project ...` | the Atlas demo project |
//! | host `cluster0-shard-00-00.abcde.mongodb.net`, `--host ...` | the Atlas demo host |
//! | workspace `prod-streams`                  | the Atlas demo workspace        |
//! | topic `5c1d7b0e-...`                      | the CLS demo topic              |
//! | `cls export ... --from 24h`               | `--from 10m` (see `substitute`) |
//!
//! `export VAR=VALUE` lines set the environment of the commands after them,
//! as in a shell (their `...` secrets are ignored: `--sandbox` presets the
//! credentials; `TENCENTCLOUD_REGION` is used as written).
//! `cargo ...` lines are skipped: they build or test this binary.
//! `logexport sandbox`, `logexport tour` and lines that already say
//! `--sandbox` run as they are; the
//! first serves until signalled, so it is stopped with SIGTERM once it has
//! printed its description (exit 143). Lines are joined at a trailing `\`
//! and comments are dropped; a line still holding `...` after substitution
//! fails the test, so a new placeholder needs a mapping here.

#![cfg(unix)]

mod support;

use logexport::sandbox::atlas as atlas_sb;
use logexport::sandbox::tencent_cls as cls_sb;
use std::io::BufRead;
use std::process::{Command, Stdio};
use support::BIN;

/// A `logexport` command line of the README and the variables exported
/// before it.
#[derive(Debug)]
struct Example {
    command: String,
    env: Vec<(String, String)>,
}

/// The `logexport` command lines of the README's ```sh blocks.
fn readme_commands() -> Vec<Example> {
    let mut env: Vec<(String, String)> = Vec::new();
    let readme = include_str!("../../README.md");
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = trimmed == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        // Drop comments, but not a `#` inside quotes (none in our examples
        // is quoted; kept simple on purpose and checked below).
        let code = match trimmed.find(" #").or(trimmed.starts_with('#').then_some(0)) {
            Some(i) => trimmed[..i].trim_end(),
            None => trimmed,
        };
        match code.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head.trim_end());
                pending.push(' ');
            }
            None => {
                pending.push_str(code);
                let full = std::mem::take(&mut pending).trim().to_string();
                if let Some(vars) = full.strip_prefix("export ") {
                    for pair in vars.split_whitespace() {
                        let (k, v) = pair.split_once('=').expect("export VAR=VALUE");
                        env.push((k.to_string(), v.to_string()));
                    }
                } else if full.starts_with("logexport ") || full == "logexport" {
                    commands.push(Example {
                        command: full,
                        env: env.clone(),
                    });
                }
            }
        }
    }
    commands
}

fn substitute(command: &str) -> String {
    let tail = command.strip_prefix("logexport").unwrap();
    let args = tail
        .replace(
            "--project ...",
            &format!("--project {}", atlas_sb::DEMO_PROJECT_ID),
        )
        .replace("--host ...", &format!("--host {}", atlas_sb::DEMO_HOST))
        .replace("5f0c8e1a2b3c4d5e6f708192", atlas_sb::DEMO_PROJECT_ID)
        .replace(
            "cluster0-shard-00-00.abcde.mongodb.net",
            atlas_sb::DEMO_HOST,
        )
        .replace("prod-streams", atlas_sb::DEMO_WORKSPACE)
        .replace("5c1d7b0e-...", cls_sb::DEMO_TOPIC_ID);
    // The demo topic holds ten records a second: a day is 864,000 records,
    // minutes in a debug build, so the CLS example asks for ten minutes.
    let args = if args.contains(" cls export ") {
        args.replace("--from 24h", "--from 10m")
    } else {
        args
    };
    assert!(
        !args.contains("..."),
        "README line `{command}` has a placeholder this test does not map"
    );
    let first = args.split_whitespace().next().unwrap_or("");
    let sandbox = if matches!(first, "sandbox" | "tour") || args.contains("--sandbox") {
        ""
    } else {
        " --sandbox"
    };
    format!("'{BIN}'{sandbox}{args}")
}

fn shell(line: &str, dir: &std::path::Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .current_dir(dir)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn every_cli_example_in_the_readme_runs_against_the_sandbox() {
    let commands = readme_commands();
    assert!(
        commands.len() >= 10,
        "the README's examples were not found: {commands:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    for Example { command, env } in &commands {
        let line = substitute(command);
        if command.split_whitespace().nth(1) == Some("sandbox") {
            let mut child = shell(&format!("exec {line}"), dir.path(), env)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut doc = String::new();
            let described = loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap() == 0 {
                    break None;
                }
                doc.push_str(&l);
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&doc) {
                    break Some(v);
                }
            };
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            let status = child.wait().unwrap();
            let described = described.unwrap_or_else(|| panic!("`{command}` printed no JSON"));
            assert!(described["atlas"]["endpoint"].is_string(), "{described}");
            assert_eq!(status.code(), Some(143), "`{command}`");
            continue;
        }
        let out = shell(&line, dir.path(), env).output().unwrap();
        assert!(
            out.status.success(),
            "README example `{command}` failed (ran `{line}`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The outputs the examples name are there.
    for f in [
        "audit.ndjson",
        "errors.ndjson",
        "events.ndjson",
        "events.checkpoint",
        "audit.checkpoint",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .expect("`-o ./logs/` made a directory")
        .collect();
    assert_eq!(logs.len(), 1, "one log file inside ./logs/: {logs:?}");
    assert!(dir.path().join("logexport-tour").is_dir());
}
