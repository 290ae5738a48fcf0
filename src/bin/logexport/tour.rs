//! `logexport tour`: every flow of the CLI against the in-process emulators,
//! so a new user sees real logs flow without an account.

use crate::sandbox::Sandboxes;
use crate::{atlas, c1, cls, Ctx, Failure, Global};
use logexport::sandbox::atlas as atlas_sb;
use logexport::sandbox::tencent_cls as cls_sb;
use std::path::{Path, PathBuf};

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
    let project = atlas_sb::DEMO_PROJECT_ID.to_string();

    tour.step(
        "atlas-stream-audit.ndjson",
        "Atlas: stream processing audit log (Digest auth, gzip, decoded)",
        false,
        |ctx| {
            let cmd = atlas::Command::StreamAuditLogs {
                project: Some(project.clone()),
                workspace: atlas_sb::DEMO_WORKSPACE.into(),
                processor: None,
                window: window("6h", None),
            };
            Box::pin(async move { atlas::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "atlas-mongodb.log.gz",
        "Atlas: cluster host log, saved raw as served",
        true,
        |ctx| {
            let cmd = atlas::Command::ClusterLogs {
                project: Some(project.clone()),
                host: atlas_sb::DEMO_HOST.into(),
                log_name: atlas::LogArg::Mongodb,
                window: window("2h", None),
            };
            Box::pin(async move { atlas::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "atlas-audit-windows.ndjson",
        "Atlas: host audit log in 1 h windows with a checkpoint",
        false,
        |ctx| {
            let cmd = atlas::Command::ClusterLogs {
                project: Some(project.clone()),
                host: atlas_sb::DEMO_HOST.into(),
                log_name: atlas::LogArg::MongodbAuditLog,
                window: window(
                    "3h",
                    Some(
                        ctx.global
                            .output
                            .clone()
                            .unwrap_or_default()
                            .with_extension("checkpoint"),
                    ),
                ),
            };
            Box::pin(async move { atlas::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "atlas-events.ndjson",
        "Atlas: project events, paged",
        false,
        |ctx| {
            let cmd = atlas::Command::Events {
                project: Some(project.clone()),
                org: None,
                since: None,
                until: None,
                list: Default::default(),
            };
            Box::pin(async move { atlas::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "cls-topics.ndjson",
        "Tencent CLS: topics (TC3-signed)",
        false,
        |ctx| {
            let cmd = cls::Command::Topics {
                region: cls_sb::DEMO_REGION.into(),
                name: None,
                list: Default::default(),
            };
            Box::pin(async move { cls::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "cls-export.ndjson",
        "Tencent CLS: export task created, polled, downloaded, decoded, deleted",
        false,
        |ctx| {
            let cmd = cls::Command::Export(cls::ExportArgs::demo(
                cls_sb::DEMO_REGION,
                cls_sb::DEMO_TOPIC_ID,
            ));
            Box::pin(async move { cls::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "c1-exporter.ndjson",
        "ConductorOne: exporter created (Ed25519 JWT assertion → token)",
        false,
        |ctx| {
            let cmd = c1::Command::Exporters {
                command: c1::Exporters::Create {
                    name: "tour exporter".into(),
                    datasource: "ds-tour".into(),
                    prefix: Some("logexport/".into()),
                    format: Some(c1::Format::Gzip),
                },
            };
            Box::pin(async move { c1::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "c1-exporters.ndjson",
        "ConductorOne: exporters listed",
        false,
        |ctx| {
            let cmd = c1::Command::Exporters {
                command: c1::Exporters::List(Default::default()),
            };
            Box::pin(async move { c1::run(ctx, cmd).await })
        },
    )
    .await?;
    tour.step(
        "c1-events.ndjson",
        "ConductorOne: system log events (OCSF) with a resumable checkpoint",
        false,
        |ctx| {
            let checkpoint = ctx
                .global
                .output
                .clone()
                .unwrap_or_default()
                .with_extension("checkpoint");
            let cmd = c1::Command::Events {
                exporter: None,
                since: None,
                until: None,
                checkpoint: Some(checkpoint),
            };
            Box::pin(async move { c1::run(ctx, cmd).await })
        },
    )
    .await?;

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
    async fn step<F>(&mut self, file: &str, what: &str, raw: bool, f: F) -> Result<(), Failure>
    where
        F: for<'a> FnOnce(&'a Ctx) -> StepFuture<'a>,
    {
        let path = self.dir.join(file);
        // A tour is a fresh run: old checkpoints would make steps resume.
        let _ = std::fs::remove_file(&path);
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
        let result = f(&ctx).await;
        self.sandboxes = ctx.sandboxes;
        result.map_err(|e| Failure {
            message: format!("tour step `{what}` failed: {}", e.message),
            ..e
        })?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        self.done.push((file.to_string(), what.to_string(), bytes));
        Ok(())
    }
}
