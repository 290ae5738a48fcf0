//! `logexport cls …`: Tencent Cloud CLS export tasks and topics.

use crate::failure::at_path;
use crate::output::{file_target, Sink};
use crate::time::parse_time;
use crate::windows::parse_opt;
use crate::windows::{self, Plan, TimeWindow, Windows};
use crate::{Ctx, Failure};
use chrono::{Duration, Utc};
use clap::{Args, Subcommand};
use futures::TryStreamExt;
use logexport::tencent_cls::{
    self, ExportEvent, ExportOptions, ExportParams, Format, Order, SaveMode, SyntaxRule, TimeRange,
    TopicFilter,
};
use logexport::ErrorKind;
use serde_json::json;
use std::path::PathBuf;

/// CLS commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export logs: create a task, wait for it, download and decode it, delete it.
    Export(ExportArgs),
    /// List the export tasks of a topic as NDJSON.
    Exports {
        #[command(flatten)]
        region: RegionArg,
        /// Topic id.
        #[arg(long)]
        topic: String,
        #[command(flatten)]
        list: crate::listing::ListArgs,
    },
    /// Delete an export task.
    DeleteExport {
        #[command(flatten)]
        region: RegionArg,
        /// Export task id.
        #[arg(long)]
        export_id: String,
    },
    /// List log topics as NDJSON.
    Topics {
        #[command(flatten)]
        region: RegionArg,
        /// Only topics whose name contains this.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        list: crate::listing::ListArgs,
    },
}

/// The region flag, shared by every CLS command.
#[derive(Args, Debug, Clone)]
pub struct RegionArg {
    /// Region, e.g. ap-guangzhou. Default: the tccli profile's.
    #[arg(long = "region", env = "TENCENTCLOUD_REGION")]
    pub region: Option<String>,
}

impl From<&str> for RegionArg {
    fn from(region: &str) -> Self {
        RegionArg {
            region: Some(region.to_string()),
        }
    }
}

/// `cls export` arguments.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    region: RegionArg,
    /// Topic id.
    #[arg(long)]
    topic: String,
    /// Search statement (`*` for everything).
    #[arg(long)]
    query: String,
    /// Start (RFC 3339, unix seconds, or relative like 24h).
    #[arg(long = "since", visible_aliases = ["start", "from"], value_name = "TIME")]
    from: String,
    /// End. Default: now.
    #[arg(long = "until", visible_aliases = ["end", "to"], value_name = "TIME")]
    to: Option<String>,
    /// Most records to export (per window with --checkpoint, where a full
    /// window is an error rather than a silent cut).
    #[arg(long)]
    count: Option<u64>,
    /// Record order.
    #[arg(long, value_enum, default_value_t = OrderArg::Desc)]
    order: OrderArg,
    /// File format the service writes.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    format: FormatArg,
    /// Query language.
    #[arg(long, value_enum, default_value_t = SyntaxArg::Lucene)]
    syntax: SyntaxArg,
    /// Keep the export task afterwards (it is deleted by default).
    #[arg(long)]
    keep_task: bool,
    /// Resume file: export consecutive windows (one task each), appending
    /// to --output, and record progress so a rerun continues exactly where
    /// the last stopped.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Window length with --checkpoint (e.g. 1h).
    #[arg(long, default_value = "1h")]
    step: String,
    /// With --checkpoint: close a window only once it ended this long ago,
    /// so CLS has indexed its logs (default 5m; 0 for none).
    #[arg(long)]
    lag: Option<String>,
}

/// How long after a window ends CLS is trusted to have indexed it. CLS
/// publishes no bound; collectors batch and retry for minutes.
const DEFAULT_LAG: Duration = Duration::minutes(5);

impl ExportArgs {
    /// The export the tour runs: the last hour of a demo topic, as JSON.
    pub fn demo(region: &str, topic: &str) -> Self {
        ExportArgs {
            region: region.into(),
            topic: topic.to_string(),
            query: "*".into(),
            from: "1h".into(),
            to: None,
            count: Some(5_000),
            order: OrderArg::Asc,
            format: FormatArg::Json,
            syntax: SyntaxArg::Lucene,
            keep_task: false,
            checkpoint: None,
            step: "1h".into(),
            lag: None,
        }
    }
}

value_enum! {
    /// Record order.
    pub enum OrderArg => Order {
        /// Oldest first.
        Asc => Asc,
        /// Newest first.
        Desc => Desc,
    }
}

value_enum! {
    /// Export file format.
    pub enum FormatArg => Format {
        /// JSON lines.
        Json => Json,
        /// CSV.
        Csv => Csv,
    }
}

value_enum! {
    /// Query language.
    pub enum SyntaxArg => SyntaxRule {
        /// Lucene.
        Lucene => Lucene,
        /// CLS Query Language.
        Cql => Cql,
    }
}

/// Runs a CLS command.
pub async fn run(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    match command {
        Command::Export(args) => export(ctx, args).await,
        Command::Exports {
            region,
            topic,
            list,
        } => {
            let exports = client(ctx, &region)?.list_exports(topic)?;
            let n = crate::listing::write_stream(ctx, &list, exports).await?;
            ctx.summary(json!({"command": "cls exports", "records": n}));
            Ok(())
        }
        Command::DeleteExport { region, export_id } => {
            let client = client(ctx, &region)?;
            client.delete_export(&export_id).await?;
            ctx.summary(json!({"command": "cls delete-export", "deleted": export_id}));
            Ok(())
        }
        Command::Topics { region, name, list } => {
            let filter = TopicFilter {
                name,
                ..TopicFilter::default()
            };
            let topics = client(ctx, &region)?.list_topics(filter)?;
            let n = crate::listing::write_stream(ctx, &list, topics).await?;
            ctx.summary(json!({"command": "cls topics", "records": n}));
            Ok(())
        }
    }
}

async fn export(ctx: &Ctx, args: ExportArgs) -> Result<(), Failure> {
    let client = client(ctx, &args.region)?;
    let now = Utc::now();
    let from = parse_time(&args.from, now).map_err(Failure::usage)?;
    let to = parse_opt(args.to.as_deref(), now)?.unwrap_or(now);
    let lag = windows::lag(args.lag.as_deref(), DEFAULT_LAG, args.checkpoint.is_some())?;
    if let Some(checkpoint) = &args.checkpoint {
        if from >= to {
            return Err(Failure::usage(format!(
                "--since ({from}) must be before --until ({to})"
            )));
        }
        let plan = Plan {
            command: "cls export",
            stream: format!("cls export {} {}", args.topic, args.query),
            checkpoint,
            start: from,
            end: to,
            step: windows::parse_span("step", &args.step, false)?,
            lag,
            now,
        };
        return export_windows(ctx, &client, &args, plan).await;
    }
    let mut options = base_options(&args).delete_after(!args.keep_task);
    let bar = ctx.progress.spinner("cls export: creating");
    let shown = bar.clone();
    options = options.on_event(move |event| match event {
        ExportEvent::Created { export_id } => {
            shown.set_message(format!("cls export {export_id}: created"))
        }
        ExportEvent::Status { export_id, status } => {
            shown.set_message(format!("cls export {export_id}: {status}"))
        }
        ExportEvent::DownloadStarted {
            total_bytes,
            attempt,
            ..
        } => {
            shown.set_style(crate::progress::bytes_style(total_bytes.is_some()));
            if let Some(total) = total_bytes {
                shown.set_length(*total);
            }
            shown.reset();
            shown.set_message(if *attempt > 1 {
                "cls export: downloading again"
            } else {
                "cls export: downloading"
            });
        }
        ExportEvent::Downloaded { bytes, .. } => shown.set_position(*bytes),
        ExportEvent::DownloadRetry { attempt, reason } => shown.set_message(format!(
            "cls export: attempt {attempt} failed ({reason}); retrying"
        )),
        _ => {}
    });
    let job = client.export_logs(args.topic, args.query, TimeRange::new(from, to), options);
    let summary = match (file_target(ctx.global.output.as_deref()), ctx.global.raw) {
        (Some(path), raw) => {
            let mode = if raw {
                SaveMode::Raw
            } else {
                SaveMode::Decoded
            };
            let s = job.save(path, mode).await.map_err(|e| at_path(e, path))?;
            let mut summary = json!({"command": "cls export", "export_id": s.export_id, "output": s.path.display().to_string(),
                   "bytes": s.bytes, "deleted": s.deleted, "attempts": s.attempts, "windows": 1});
            if !raw {
                // A raw save decodes nothing: no records to count.
                summary["records"] = s.records.into();
                summary["replaced"] = s.replaced.into();
            }
            summary
        }
        (None, true) => {
            return Err(Failure::usage(
                "--raw writes the .tar.gz as served; give --output FILE",
            ))
        }
        (None, false) => {
            let mut sink = Sink::open(None).await?;
            // The same bytes `-o FILE` writes, passed on as they come.
            let mut records = job.lines();
            ctx.count_replacements(records.replacements());
            let mut n = 0u64;
            while let Some(record) = records.try_next().await? {
                sink.record(&record).await?;
                n += 1;
            }
            sink.finish().await?;
            json!({"command": "cls export", "records": n, "windows": 1})
        }
    };
    bar.finish_and_clear();
    ctx.summary(summary);
    Ok(())
}

/// The task options the flags ask for, without progress or deletion.
fn base_options(args: &ExportArgs) -> ExportOptions {
    let options = ExportOptions::default()
        .order(args.order.into())
        .format(args.format.into())
        .syntax_rule(args.syntax.into());
    match args.count {
        Some(count) => options.count(count),
        None => options,
    }
}

/// `cls export --checkpoint`: one export task per window. The task id is
/// recorded before its records are fetched, so a run killed mid-window
/// downloads the same task again instead of creating another.
async fn export_windows(
    ctx: &Ctx,
    client: &tencent_cls::Client,
    args: &ExportArgs,
    plan: Plan<'_>,
) -> Result<(), Failure> {
    let mut windows = Windows::open(ctx, plan)?;
    // Deleted only once the window is stored: a crash before that must
    // still find the task.
    let options = base_options(args).delete_after(false);
    while let Some(mut window) = windows.next_window() {
        let export_id = match window.task.clone() {
            Some(id) if still_there(client, &args.topic, &id).await? => id,
            _ => {
                let id = client.create_export(&params(args, &window)).await?;
                windows.set_task(&mut window, &id)?;
                id
            }
        };
        let mut records = client
            .resume_export(args.topic.as_str(), export_id.as_str(), options.clone())
            .lines();
        ctx.count_replacements(records.replacements());
        let mut n = 0u64;
        while let Some(record) = records.try_next().await? {
            windows.output().append(&record)?;
            n += 1;
        }
        let cap = args.count.unwrap_or(tencent_cls::MAX_EXPORT_COUNT);
        if n >= cap {
            // The task stopped at its Count: storing the window would skip
            // the rest of it for good.
            windows.drop_task()?;
            if !args.keep_task {
                let _ = client.delete_export(&export_id).await;
            }
            return Err(Failure::usage(format!(
                "the window {} .. {} holds at least {cap} records, the most one export task \
                 returns (--count); it was not stored: use a smaller --step",
                window.from.to_rfc3339(),
                window.to.to_rfc3339()
            )));
        }
        windows.commit(window)?;
        if !args.keep_task {
            if let Err(e) = client.delete_export(&export_id).await {
                tracing::warn!(export_id, error = %e, "could not delete the export task");
            }
        }
    }
    windows.finish();
    Ok(())
}

/// Whether a task recorded by an earlier run still exists (tasks expire
/// after 3 days, and anyone may delete one).
pub async fn still_there(
    client: &tencent_cls::Client,
    topic: &str,
    export_id: &str,
) -> Result<bool, Failure> {
    match client.find_export(topic, export_id).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            tracing::info!(
                export_id,
                "the recorded export task is gone; creating another"
            );
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

fn params(args: &ExportArgs, window: &TimeWindow) -> ExportParams {
    let mut params = ExportParams::new(
        args.topic.as_str(),
        args.query.as_str(),
        TimeRange::new(window.from, window.to),
    );
    params.count = args.count.unwrap_or(params.count);
    params.format = args.format.into();
    params.order = args.order.into();
    params.syntax_rule = args.syntax.into();
    params
}

fn client(ctx: &Ctx, region: &RegionArg) -> Result<tencent_cls::Client, Failure> {
    let built = crate::clients::cls(ctx.setup(), region.region.as_deref())?;
    ctx.note_credentials(built.source);
    Ok(built.client)
}
