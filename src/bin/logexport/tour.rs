//! `logexport tour`: every flow of the CLI against the in-process emulators,
//! so a new user sees real logs flow without an account.

use crate::sandbox::Sandboxes;
use crate::{atlas, c1, cls, Ctx, Failure, Global};
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
    /// Runs the command.
    run: for<'a> fn(&'a Ctx) -> StepFuture<'a>,
}

/// The tour, in order.
const STEPS: &[Step] = &[
    Step {
        file: "atlas-stream-audit.ndjson",
        what: "Atlas: stream processing audit log (Digest auth, gzip, decoded)",
        raw: false,
        run: atlas_stream_audit,
    },
    Step {
        file: "atlas-mongodb.log.gz",
        what: "Atlas: cluster host log, saved raw as served",
        raw: true,
        run: atlas_host_log_raw,
    },
    Step {
        file: "atlas-audit-windows.ndjson",
        what: "Atlas: host audit log in 1 h windows with a checkpoint",
        raw: false,
        run: atlas_audit_windows,
    },
    Step {
        file: "atlas-events.ndjson",
        what: "Atlas: project events, paged",
        raw: false,
        run: atlas_events,
    },
    Step {
        file: "cls-topics.ndjson",
        what: "Tencent CLS: topics (TC3-signed)",
        raw: false,
        run: cls_topics,
    },
    Step {
        file: "cls-export.ndjson",
        what: "Tencent CLS: export task created, polled, downloaded, decoded, deleted",
        raw: false,
        run: cls_export,
    },
    Step {
        file: "c1-exporter.ndjson",
        what: "ConductorOne: exporter created (Ed25519 JWT assertion → token)",
        raw: false,
        run: c1_exporter_create,
    },
    Step {
        file: "c1-exporters.ndjson",
        what: "ConductorOne: exporters listed",
        raw: false,
        run: c1_exporters_list,
    },
    Step {
        file: "c1-events.ndjson",
        what: "ConductorOne: system log events (OCSF) with a resumable checkpoint",
        raw: false,
        run: c1_events,
    },
    Step {
        file: "pull",
        what: "pull: one source per vendor at once, each with a locked checkpoint (see pull/)",
        raw: false,
        run: pull_all,
    },
];

/// Runs the tour into `dir`.
pub async fn run(ctx: &Ctx, dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let sandboxes = Sandboxes::start(0)
        .await
        .map_err(|e| Failure::runtime(format!("cannot start the sandbox: {e}")))?;
    let mut tour = Tour {
        dir: dir.to_path_buf(),
        global: ctx.global.clone(),
        sandboxes: Some(sandboxes),
        done: Vec::new(),
    };
    for step in STEPS {
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

fn atlas_stream_audit(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = atlas::Command::StreamAuditLogs {
        project: Some(atlas_sb::DEMO_PROJECT_ID.into()),
        workspace: atlas_sb::DEMO_WORKSPACE.into(),
        processor: None,
        window: window("6h", None),
    };
    Box::pin(atlas::run(ctx, cmd))
}

fn atlas_host_log_raw(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = atlas::Command::ClusterLogs {
        project: Some(atlas_sb::DEMO_PROJECT_ID.into()),
        host: atlas_sb::DEMO_HOST.into(),
        log_name: atlas::LogArg::Mongodb,
        window: window("2h", None),
    };
    Box::pin(atlas::run(ctx, cmd))
}

fn atlas_audit_windows(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = atlas::Command::ClusterLogs {
        project: Some(atlas_sb::DEMO_PROJECT_ID.into()),
        host: atlas_sb::DEMO_HOST.into(),
        log_name: atlas::LogArg::MongodbAuditLog,
        window: window("3h", Some(checkpoint_of(ctx))),
    };
    Box::pin(atlas::run(ctx, cmd))
}

fn atlas_events(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = atlas::Command::Events {
        project: Some(atlas_sb::DEMO_PROJECT_ID.into()),
        org: None,
        since: None,
        until: None,
        list: Default::default(),
    };
    Box::pin(atlas::run(ctx, cmd))
}

fn cls_topics(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = cls::Command::Topics {
        region: cls_sb::DEMO_REGION.into(),
        name: None,
        list: Default::default(),
    };
    Box::pin(cls::run(ctx, cmd))
}

fn cls_export(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = cls::Command::Export(cls::ExportArgs::demo(
        cls_sb::DEMO_REGION,
        cls_sb::DEMO_TOPIC_ID,
    ));
    Box::pin(cls::run(ctx, cmd))
}

fn c1_exporter_create(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = c1::Command::Exporters {
        command: c1::Exporters::Create {
            name: "tour exporter".into(),
            datasource: "ds-tour".into(),
            prefix: Some("logexport/".into()),
            format: Some(c1::Format::Gzip),
        },
    };
    Box::pin(c1::run(ctx, cmd))
}

fn c1_exporters_list(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = c1::Command::Exporters {
        command: c1::Exporters::List(Default::default()),
    };
    Box::pin(c1::run(ctx, cmd))
}

fn c1_events(ctx: &Ctx) -> StepFuture<'_> {
    let cmd = c1::Command::Events {
        exporter: None,
        since: None,
        until: None,
        checkpoint: Some(checkpoint_of(ctx)),
    };
    Box::pin(c1::run(ctx, cmd))
}

/// `pull --once --sandbox` with one source per vendor, all writing to
/// stdout-style wrapped records in the step's file.
fn pull_all(ctx: &Ctx) -> StepFuture<'_> {
    Box::pin(crate::pull::tour(ctx))
}

/// The step's checkpoint: its output with the extension `checkpoint`.
fn checkpoint_of(ctx: &Ctx) -> PathBuf {
    ctx.global
        .output
        .clone()
        .unwrap_or_default()
        .with_extension("checkpoint")
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

type StepFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Failure>> + 'a>>;

struct Tour {
    dir: PathBuf,
    global: Global,
    sandboxes: Option<Sandboxes>,
    done: Vec<(String, String, u64)>,
}

impl Tour {
    /// Runs one command with `--output <dir>/<file>` and records what it wrote.
    async fn step(&mut self, step: &Step) -> Result<(), Failure> {
        let Step {
            file,
            what,
            raw,
            run,
        } = *step;
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
        let result = run(&ctx).await;
        self.sandboxes = ctx.sandboxes;
        result.map_err(|e| Failure {
            message: format!("tour step `{what}` failed: {}", e.message),
            ..e
        })?;
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
