//! `logexport atlas …`: audit and host log downloads, events, processes.

use crate::output::{each_chunk, file_target, Sink};
use crate::windows::parse_opt;
use crate::windows::{self, Plan, Windows};
use crate::{Ctx, Failure};
use chrono::{Duration, Utc};
use clap::Subcommand;
use futures::TryStreamExt;
use logexport::atlas::{
    self, Download, EventQuery, LogName, SaveMode, StreamLogOptions, TimeRange,
};
use logexport::download::LineNormalizer;
use serde_json::json;
use std::path::PathBuf;

/// Atlas commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Download the audit log of a stream processing workspace.
    StreamAuditLogs {
        /// Project (group) id: 24 hex characters. Default: MONGODB_ATLAS_PROJECT_ID, else the profile's.
        #[arg(long)]
        project: Option<String>,
        /// Stream processing workspace (tenant) name.
        #[arg(long)]
        workspace: String,
        /// Only this stream processor's entries.
        #[arg(long)]
        processor: Option<String>,
        #[command(flatten)]
        window: Window,
    },
    /// Download a cluster host's log.
    ClusterLogs {
        /// Project (group) id: 24 hex characters. Default: MONGODB_ATLAS_PROJECT_ID, else the profile's.
        #[arg(long)]
        project: Option<String>,
        /// Host name of the cluster member.
        #[arg(long)]
        host: String,
        /// Which log (the file-style names, e.g. mongodb.gz, work too).
        #[arg(long = "log", value_enum)]
        log_name: LogArg,
        #[command(flatten)]
        window: Window,
    },
    /// List project or organization events as NDJSON.
    Events {
        /// Project (group) id. Default: MONGODB_ATLAS_PROJECT_ID, else the profile's.
        #[arg(long, conflicts_with = "org")]
        project: Option<String>,
        /// Organization id (when no project is given or set). Default:
        /// MONGODB_ATLAS_ORG_ID, else the profile's.
        #[arg(long)]
        org: Option<String>,
        /// Events at or after this time (RFC 3339, unix seconds, or relative like 24h).
        #[arg(long, visible_aliases = ["start", "from"])]
        since: Option<String>,
        /// Events before this time.
        #[arg(long, visible_aliases = ["end", "to"])]
        until: Option<String>,
        #[command(flatten)]
        list: crate::listing::ListArgs,
    },
    /// List the processes (hosts) of a project as NDJSON.
    Processes {
        /// Project (group) id. Default: MONGODB_ATLAS_PROJECT_ID, else the profile's.
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        list: crate::listing::ListArgs,
    },
}

value_enum! {
    /// `--log`: the API's names, and the downloaded files' names as aliases
    /// (`mongodb.gz`), so help and completions list them.
    pub enum LogArg => LogName {
        /// The mongod diagnostic log.
        #[value(alias = "mongodb.gz")]
        Mongodb => Mongodb,
        /// The mongos diagnostic log.
        #[value(alias = "mongos.gz")]
        Mongos => Mongos,
        /// The mongod audit log (database auditing must be on).
        #[value(alias = "mongodb-audit-log.gz")]
        MongodbAuditLog => MongodbAuditLog,
        /// The mongos audit log.
        #[value(alias = "mongos-audit-log.gz")]
        MongosAuditLog => MongosAuditLog,
    }
}

/// The time window of a download, and how to split it for checkpoints.
#[derive(clap::Args, Debug)]
pub struct Window {
    /// Start (RFC 3339, unix seconds, or relative like 24h). Default: the vendor's (24 h for host logs, 30 d for audit logs).
    #[arg(long = "since", visible_aliases = ["start", "from"], value_name = "TIME")]
    pub start: Option<String>,
    /// End. Default: now.
    #[arg(long = "until", visible_aliases = ["end", "to"], value_name = "TIME")]
    pub end: Option<String>,
    /// Resume file: download consecutive windows, appending to --output, and
    /// record progress so a rerun continues exactly where the last stopped.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Window length with --checkpoint (e.g. 1h).
    #[arg(long, default_value = "1h")]
    pub step: String,
    /// With --checkpoint: close a window only once it ended this long ago,
    /// so Atlas has written its logs (default 5m; 0 for none).
    #[arg(long)]
    pub lag: Option<String>,
}

/// How long after a window ends Atlas is trusted to have its logs: host
/// logs reach the download API in batches, minutes behind.
const DEFAULT_LAG: Duration = Duration::minutes(5);

/// Clients whose service-account token must be revoked when the process
/// ends. A static, not a guard in [`run`]: on Ctrl-C the command's future is
/// dropped mid-flight, and revoking needs an await that a `Drop` cannot do.
static TO_REVOKE: std::sync::Mutex<Vec<atlas::Client>> = std::sync::Mutex::new(Vec::new());

/// How long revocation may delay the exit: the job is done, and a token
/// left behind expires within the hour anyway.
const REVOKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Registers `client` for [`revoke_minted_tokens`] when it mints
/// service-account tokens.
pub fn revoke_at_exit(client: &atlas::Client) {
    if client.auth_scheme() == "service-account" {
        TO_REVOKE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(client.clone());
    }
}

/// Revokes the token of every Atlas client this run built, within a short
/// bound. Called by `main` after the command ends, however it ended
/// (success, error, or its future dropped on SIGINT/SIGTERM): Atlas allows
/// 100 live tokens per service account, so a job run every minute would
/// otherwise lock itself out within two hours.
pub async fn revoke_minted_tokens() {
    let clients = std::mem::take(&mut *TO_REVOKE.lock().unwrap_or_else(|e| e.into_inner()));
    for client in clients {
        match tokio::time::timeout(REVOKE_TIMEOUT, client.revoke_token()).await {
            Ok(Ok(revoked)) => tracing::debug!(revoked, "service-account token revoked"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not revoke the service-account token"),
            Err(_) => tracing::warn!(
                "revoking the service-account token took over {}s; it expires within the hour",
                REVOKE_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Runs an Atlas command.
pub async fn run(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    let (built, defaults) = crate::clients::atlas(ctx.setup())?;
    ctx.note_credentials(built.source);
    let client = built.client;
    let now = Utc::now();
    match command {
        Command::StreamAuditLogs {
            project,
            workspace,
            processor,
            window,
        } => {
            let project = defaults.project(project, GIVE_PROJECT)?;
            let opts = processor
                .map(|p| StreamLogOptions::default().processor(p))
                .unwrap_or_default();
            let (client, project, workspace) = (&client, &project, &workspace);
            let fetch = move |range: TimeRange| {
                client.download_stream_audit_logs(project, workspace, range, opts.clone())
            };
            let command = "atlas stream-audit-logs";
            window
                .download(ctx, command, Duration::days(30), fetch)
                .await
        }
        Command::ClusterLogs {
            project,
            host,
            log_name,
            window,
        } => {
            let project = defaults.project(project, GIVE_PROJECT)?;
            let log = LogName::from(log_name);
            let (client, project, host) = (&client, &project, &host);
            let fetch =
                move |range: TimeRange| client.download_cluster_log(project, host, log, range);
            let command = "atlas cluster-logs";
            window
                .download(ctx, command, Duration::hours(24), fetch)
                .await
        }
        Command::Events {
            project,
            org,
            since,
            until,
            list,
        } => {
            let mut query = EventQuery::default();
            if let Some(t) = parse_opt(since.as_deref(), now)? {
                query = query.since(t);
            }
            if let Some(t) = parse_opt(until.as_deref(), now)? {
                query = query.until(t);
            }
            // A flag beats a default; a project default beats an org one.
            let (project, org) = match (project, org) {
                (None, None) => (defaults.project.clone(), defaults.org.clone()),
                given => given,
            };
            let stream = match (&project, &org) {
                (Some(p), _) => client.project_events(p, query)?,
                (None, Some(o)) => client.org_events(o, query)?,
                (None, None) => {
                    return Err(Failure::usage(format!(
                        "give --project or --org, or set {} or {}",
                        atlas::ENV_PROJECT_ID,
                        atlas::ENV_ORG_ID
                    )))
                }
            };
            let n = crate::listing::write_stream(ctx, &list, stream).await?;
            ctx.summary(json!({"command": "atlas events", "records": n}));
            Ok(())
        }
        Command::Processes { project, list } => {
            let project = defaults.project(project, GIVE_PROJECT)?;
            let n = crate::listing::write_stream(ctx, &list, client.processes(&project)?).await?;
            ctx.summary(json!({"command": "atlas processes", "records": n}));
            Ok(())
        }
    }
}

/// How to give a project, for the message when none is given or set.
const GIVE_PROJECT: &str = "give --project, or set";

impl Window {
    /// One download, or consecutive windows with a checkpoint.
    async fn download<F, Fut>(
        self,
        ctx: &Ctx,
        command: &str,
        default_span: Duration,
        fetch: F,
    ) -> Result<(), Failure>
    where
        F: Fn(TimeRange) -> Fut,
        Fut: std::future::Future<Output = logexport::Result<Download>>,
    {
        let now = Utc::now();
        let end = parse_opt(self.end.as_deref(), now)?.unwrap_or(now);
        let start = parse_opt(self.start.as_deref(), now)?.unwrap_or(end - default_span);
        if start >= end {
            return Err(Failure::usage(format!(
                "--since ({start}) must be before --until ({end})"
            )));
        }

        let lag = windows::lag(self.lag.as_deref(), DEFAULT_LAG, self.checkpoint.is_some())?;
        if let Some(checkpoint) = &self.checkpoint {
            let mut windows = Windows::open(
                ctx,
                Plan {
                    command,
                    stream: command.to_string(),
                    checkpoint,
                    start,
                    end,
                    step: windows::parse_span("step", &self.step, false)?,
                    lag,
                    now,
                },
            )?;
            while let Some(w) = windows.next_window() {
                let dl = fetch(TimeRange::new(w.from, w.to)).await?;
                ctx.count_replacements(dl.replacements());
                let mut lines = LineNormalizer::new();
                let output = windows.output();
                each_chunk(dl.into_reader().await?, |chunk| {
                    output.append_text(chunk, &mut lines)
                })
                .await?;
                output.end_text(&mut lines)?;
                windows.commit(w)?;
            }
            windows.finish();
            return Ok(());
        }

        // The library already warns (once per version) about Deprecation and
        // Sunset headers; -v shows it.
        let dl = fetch(TimeRange::new(start, end)).await?;
        ctx.count_replacements(dl.replacements());
        let bar = ctx.progress.bytes(command, dl.meta().content_length);
        let counter = bar.clone();
        let dl = dl.on_progress(move |p| counter.set_position(p.bytes));
        let result = match (file_target(ctx.global.output.as_deref()), ctx.global.raw) {
            (Some(target), raw) => {
                let mode = if raw {
                    SaveMode::Raw
                } else {
                    SaveMode::Decoded
                };
                let saved = dl
                    .save(target, mode)
                    .await
                    .map_err(|e| crate::failure::at_path(e, target))?;
                json!({"command": command, "output": saved.path.display().to_string(), "bytes": saved.bytes, "windows": 1})
            }
            (None, true) => {
                let mut body = dl.into_raw_stream();
                let mut sink = Sink::open(None).await?;
                let mut bytes = 0u64;
                while let Some(chunk) = body.try_next().await? {
                    sink.bytes(&chunk).await?;
                    bytes += chunk.len() as u64;
                }
                sink.finish().await?;
                json!({"command": command, "bytes": bytes, "windows": 1})
            }
            (None, false) => {
                // Byte-level: the decoder's chunks go out with no `String` per line.
                let reader = dl.into_reader().await?;
                let mut sink = Sink::open(None).await?;
                let n = sink.copy_lines(reader).await?;
                sink.finish().await?;
                json!({"command": command, "records": n, "windows": 1})
            }
        };
        bar.finish_and_clear();
        ctx.summary(result);
        Ok(())
    }
}
