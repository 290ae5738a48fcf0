//! `logexport tour`: every flow of the CLI against the in-process emulators,
//! so a new user sees real logs flow without an account.

use crate::sandbox::Sandboxes;
use crate::{atlas, c1, cls, Command, Ctx, Failure, Global};
use logexport::sandbox::atlas as atlas_sb;
use logexport::sandbox::tencent_cls as cls_sb;
use std::path::{Path, PathBuf};

/// One step of the tour: a command run with `--output <dir>/<file>`.
struct Step {
    /// The file it writes, inside the tour's directory.
    file: &'static str,
    /// What it shows, for the listing.
    what: &'static str,
    /// Whether it writes the vendor's bytes as served (`--raw`).
    raw: bool,
    /// The command; `None` is the `pull` step, which writes its own config.
    command: Option<Command>,
}

/// The tour, in order; checkpoints sit beside their step's file in `dir`.
fn steps(dir: &Path) -> Vec<Step> {
    let checkpoint = |file: &str| Some(dir.join(file).with_extension("checkpoint"));
    let project = || Some(atlas_sb::DEMO_PROJECT_ID.to_string());
    let step = |file, what, command| Step {
        file,
        what,
        raw: false,
        command,
    };
    let atlas = |command| Some(Command::Atlas { command });
    let c1 = |command| Some(Command::C1 { command });
    vec![
        step(
            "atlas-stream-audit.ndjson",
            "Atlas: stream processing audit log (Digest auth, gzip, decoded)",
            atlas(atlas::Command::StreamAuditLogs {
                project: project(),
                workspace: atlas_sb::DEMO_WORKSPACE.into(),
                processor: None,
                window: window("6h", None),
            }),
        ),
        Step {
            raw: true,
            ..step(
                "atlas-mongodb.log.gz",
                "Atlas: cluster host log, saved raw as served",
                atlas(atlas::Command::ClusterLogs {
                    project: project(),
                    host: atlas_sb::DEMO_HOST.into(),
                    log_name: atlas::LogArg::Mongodb,
                    window: window("2h", None),
                }),
            )
        },
        step(
            "atlas-audit-windows.ndjson",
            "Atlas: host audit log in 1 h windows with a checkpoint",
            atlas(atlas::Command::ClusterLogs {
                project: project(),
                host: atlas_sb::DEMO_HOST.into(),
                log_name: atlas::LogArg::MongodbAuditLog,
                window: window("3h", checkpoint("atlas-audit-windows.ndjson")),
            }),
        ),
        step(
            "atlas-events.ndjson",
            "Atlas: project events, paged",
            atlas(atlas::Command::Events {
                project: project(),
                org: None,
                since: None,
                until: None,
                list: Default::default(),
            }),
        ),
        step(
            "cls-topics.ndjson",
            "Tencent CLS: topics (TC3-signed)",
            Some(Command::Cls {
                command: cls::Command::Topics {
                    region: cls_sb::DEMO_REGION.into(),
                    name: None,
                    list: Default::default(),
                },
            }),
        ),
        step(
            "cls-export.ndjson",
            "Tencent CLS: export task created, polled, downloaded, decoded, deleted",
            Some(Command::Cls {
                command: cls::Command::Export(cls::ExportArgs::demo(
                    cls_sb::DEMO_REGION,
                    cls_sb::DEMO_TOPIC_ID,
                )),
            }),
        ),
        step(
            "c1-exporter.ndjson",
            "ConductorOne: exporter created (Ed25519 JWT assertion → token)",
            c1(c1::Command::Exporters {
                command: c1::Exporters::Create {
                    name: "tour exporter".into(),
                    datasource: "ds-tour".into(),
                    prefix: Some("logexport/".into()),
                    format: Some(c1::Format::Gzip),
                },
            }),
        ),
        step(
            "c1-exporters.ndjson",
            "ConductorOne: exporters listed",
            c1(c1::Command::Exporters {
                command: c1::Exporters::List(Default::default()),
            }),
        ),
        step(
            "c1-events.ndjson",
            "ConductorOne: system log events (OCSF) with a resumable checkpoint",
            c1(c1::Command::Events {
                exporter: None,
                since: None,
                until: None,
                checkpoint: checkpoint("c1-events.ndjson"),
            }),
        ),
        step(
            "pull",
            "pull: one source per vendor at once, each with a locked checkpoint (see pull/)",
            None,
        ),
    ]
}

/// Runs the tour into `dir`.
pub async fn run(ctx: &Ctx, dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let sandboxes = Sandboxes::start(0).await?;
    let mut tour = Tour {
        dir: dir.to_path_buf(),
        global: ctx.global.clone(),
        sandboxes: Some(sandboxes),
        done: Vec::new(),
    };
    for step in steps(dir) {
        tour.step(step).await?;
    }

    if ctx.global.json {
        let files: Vec<_> = tour
            .done
            .iter()
            .map(|(file, _, bytes)| serde_json::json!({"file": file, "bytes": bytes}))
            .collect();
        let bytes: u64 = tour.done.iter().map(|(_, _, b)| b).sum();
        ctx.summary(serde_json::json!({
            "command": "tour",
            "dir": dir.display().to_string(),
            "bytes": bytes,
            "files": files,
        }));
    } else if !ctx.global.quiet {
        eprintln!("\nThe tour wrote into {}:", dir.display());
        for (file, what, bytes) in &tour.done {
            eprintln!("  {file:<28} {bytes:>9} bytes  {what}");
        }
        eprintln!("\nNext: `logexport --sandbox <vendor> --help`, or `logexport sandbox` to point your own code at the emulators.");
    }
    Ok(())
}

fn window(span: &str, checkpoint: Option<PathBuf>) -> atlas::Window {
    atlas::Window {
        start: Some(span.into()),
        end: None,
        checkpoint,
        step: "1h".into(),
        lag: None,
    }
}

struct Tour {
    dir: PathBuf,
    global: Global,
    sandboxes: Option<Sandboxes>,
    done: Vec<(String, String, u64)>,
}

impl Tour {
    /// Runs one command with `--output <dir>/<file>` and records what it wrote.
    async fn step(&mut self, step: Step) -> Result<(), Failure> {
        let Step {
            file,
            what,
            raw,
            command,
        } = step;
        let path = self.dir.join(file);
        // A tour is a fresh run: old checkpoints would make steps resume.
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::remove_file(path.with_extension("checkpoint"));
        if !self.global.quiet && !self.global.json {
            eprintln!("→ {what}");
        }
        let mut global = self.global.clone();
        global.output = Some(path.clone());
        // Steps report nothing themselves: the tour prints one account at
        // the end (one summary object under --json).
        global.quiet = true;
        global.json = false;
        global.raw = raw;
        let ctx = Ctx::new(global, self.sandboxes.take());
        let result = match command {
            // Boxed: `dispatch` runs the tour itself.
            Some(command) => Box::pin(crate::dispatch(&ctx, command)).await,
            None => crate::pull::tour(&ctx).await,
        };
        self.sandboxes = ctx.sandboxes;
        result.map_err(|e| e.within(format_args!("tour step `{what}` failed: ")))?;
        let bytes = size(&path);
        self.done.push((file.to_string(), what.to_string(), bytes));
        Ok(())
    }
}

/// Bytes in `path`: a file's length, or every file under a directory.
fn size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
