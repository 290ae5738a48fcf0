//! `logexport c1 …`: system log exporters and events.

use crate::checkpoint::Resumable;
use crate::output::{file_target, Sink};
use crate::windows::parse_opt;
use crate::{Ctx, Failure};
use chrono::Utc;
use clap::Subcommand;
use futures::TryStreamExt;
use logexport::conductorone::{
    self, Datasource, ExportFormat, ExporterUpdate, NewExporter, RawEvent, SortDirection,
};
use serde_json::json;
use std::borrow::Cow;
use std::path::PathBuf;

/// Records committed per checkpoint write: one page's worth.
const COMMIT_EVERY: u64 = 100;

/// ConductorOne commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Manage system log exporters.
    Exporters {
        #[command(subcommand)]
        command: Exporters,
    },
    /// Stream system log events (OCSF JSON) as NDJSON.
    Events {
        /// Only the events of this exporter.
        #[arg(long)]
        exporter: Option<String>,
        /// Events at or after this time (RFC 3339, unix seconds, or relative like 24h).
        #[arg(long, visible_aliases = ["start", "from"])]
        since: Option<String>,
        /// Events before this time.
        #[arg(long, visible_aliases = ["end", "to"])]
        until: Option<String>,
        /// Resume file: append to --output and record the last stored event
        /// uid after each page; a rerun continues exactly after it.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
}

/// Exporter subcommands.
#[derive(Subcommand, Debug)]
pub enum Exporters {
    /// List every exporter as NDJSON (a table on a terminal).
    List(crate::listing::ListArgs),
    /// Show one exporter.
    Get {
        /// Exporter id.
        id: String,
    },
    /// Create an exporter that delivers to a datasource.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Datasource id to deliver to.
        #[arg(long)]
        datasource: String,
        /// Key prefix inside the datasource.
        #[arg(long)]
        prefix: Option<String>,
        /// File format.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Change an exporter; only the fields given are sent (as the update mask).
    Update {
        /// Exporter id.
        id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New datasource id.
        #[arg(long)]
        datasource: Option<String>,
        /// New key prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// New file format.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Delete an exporter.
    Delete {
        /// Exporter id.
        id: String,
    },
}

value_enum! {
    /// Exporter file formats, by their short names.
    pub enum Format => ExportFormat {
        /// OCSF JSON lines, zstd-compressed.
        Zstd => OcsfJsonZstd,
        /// OCSF JSON lines, gzip-compressed.
        Gzip => OcsfJsonGzip,
    }
}

/// Runs a C1 command.
pub async fn run(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    let built = crate::clients::c1(ctx.setup())?;
    ctx.note_credentials(built.source);
    let client = built.client;
    match command {
        Command::Exporters { command } => exporters(ctx, &client, command).await,
        Command::Events {
            exporter,
            since,
            until,
            checkpoint,
        } => {
            let now = Utc::now();
            let mut query = match &exporter {
                Some(id) => client.exporter_events(id.clone()),
                None => client.events(),
            };
            if let Some(t) = parse_opt(since.as_deref(), now)? {
                query = query.since(t);
            }
            if let Some(t) = parse_opt(until.as_deref(), now)? {
                query = query.until(t);
            }
            match checkpoint {
                None => {
                    let mut sink = Sink::open(ctx.global.output.as_deref()).await?;
                    // Each event is written as the server sent it: no value
                    // is built or serialised again.
                    let mut stream = query.stream_raw()?;
                    let mut n = 0u64;
                    while let Some(event) = stream.try_next().await? {
                        sink.line(event.as_str()).await?;
                        n += 1;
                    }
                    sink.finish().await?;
                    ctx.summary(
                        json!({"command": "c1 events", "records": n, "replaced": stream.replaced()}),
                    );
                    Ok(())
                }
                Some(checkpoint) => {
                    let output = file_target(ctx.global.output.as_deref()).ok_or_else(|| {
                        Failure::usage("--checkpoint needs --output FILE to append to")
                    })?;
                    let stream_name =
                        format!("c1 events {}", exporter.as_deref().unwrap_or("system-log"));
                    let mut resumable = Resumable::open(output, &checkpoint, &stream_name)?;
                    // Resuming by uid needs a stable, oldest-first order.
                    query = query.sort(SortDirection::Asc);
                    if let Some(uid) = resumable.state.position.clone() {
                        query = query.since_event_uid(uid);
                    }
                    let first = resumable.state.records;
                    let bar = ctx.progress.spinner("c1 events");
                    let mut stream = query.stream_raw()?;
                    let mut pending = 0u64;
                    // The last event stored: its uid is the resume point.
                    let mut last = None;
                    loop {
                        let event = match stream.try_next().await {
                            Ok(Some(event)) => event,
                            Ok(None) => break,
                            Err(e) => {
                                // Whole events already read are kept, so a
                                // rerun resumes after them rather than
                                // fetching them again.
                                resumable.commit(resume_after(last.take().as_ref())?)?;
                                return Err(e.into());
                            }
                        };
                        resumable.append(event.as_str())?;
                        last = Some(event);
                        pending += 1;
                        if pending == COMMIT_EVERY {
                            resumable.commit(resume_after(last.take().as_ref())?)?;
                            pending = 0;
                            bar.set_message(format!(
                                "c1 events: {} stored",
                                resumable.state.records
                            ));
                        }
                    }
                    resumable.commit(resume_after(last.as_ref())?)?;
                    bar.finish_and_clear();
                    ctx.summary(json!({
                        "command": "c1 events",
                        "records": resumable.state.records - first,
                        "total_records": resumable.state.records,
                        "last_event_uid": resumable.state.position,
                        "resume_from": resumable.state.position,
                        "output": output.display().to_string(),
                        "replaced": stream.replaced(),
                    }));
                    Ok(())
                }
            }
        }
    }
}

/// The resume point after the last event stored, if any was: its uid, read
/// once per commit rather than once per event.
pub fn resume_after(last: Option<&RawEvent>) -> Result<Option<String>, Failure> {
    last.map(|e| {
        e.uid()
            .map(Cow::into_owned)
            .ok_or_else(|| Failure::runtime("an event has no metadata.uid; cannot checkpoint"))
    })
    .transpose()
}

async fn exporters(
    ctx: &Ctx,
    client: &conductorone::Client,
    command: Exporters,
) -> Result<(), Failure> {
    // Only the listing takes --format; single exporters stay one JSON line.
    let list = match &command {
        Exporters::List(list) => list.clone(),
        _ => crate::listing::ListArgs {
            format: Some(crate::listing::ListFormat::Ndjson),
        },
    };
    let mut sink = crate::listing::Listing::open(ctx, &list).await?;
    let (action, n) = match command {
        Exporters::List(_) => ("list", sink.items(client.list_exporters().stream()?).await?),
        Exporters::Get { id } => {
            sink.item(&client.get_exporter(&id).await?).await?;
            ("get", 1)
        }
        Exporters::Create {
            name,
            datasource,
            prefix,
            format,
        } => {
            let mut ds = Datasource::new(datasource);
            if let Some(p) = prefix {
                ds = ds.with_prefix(p);
            }
            if let Some(f) = format {
                ds = ds.with_format(f.into());
            }
            let created = client
                .create_exporter(NewExporter::new(name).datasource(ds))
                .await?;
            sink.item(&created).await?;
            ("create", 1)
        }
        Exporters::Update {
            id,
            name,
            datasource,
            prefix,
            format,
        } => {
            let mut update = ExporterUpdate::new();
            if let Some(n) = name {
                update = update.display_name(n);
            }
            if let Some(d) = datasource {
                update = update.datasource_id(d);
            }
            if let Some(p) = prefix {
                update = update.prefix(p);
            }
            if let Some(f) = format {
                update = update.format(f.into());
            }
            if update.is_empty() {
                return Err(Failure::usage(
                    "nothing to update: give --name, --datasource, --prefix or --format",
                ));
            }
            sink.item(&client.update_exporter(&id, update).await?)
                .await?;
            ("update", 1)
        }
        Exporters::Delete { id } => {
            client.delete_exporter(&id).await?;
            sink.item(&json!({"deleted": id})).await?;
            ("delete", 1)
        }
    };
    sink.finish().await?;
    ctx.summary(json!({"command": format!("c1 exporters {action}"), "records": n}));
    Ok(())
}
