//! One cycle of one source: lock its checkpoint, undo whatever a crashed
//! cycle left uncommitted, then pull from where it stopped.
//!
//! Windowed sources (Atlas logs and events, CLS exports) walk `step`
//! windows from the checkpoint (or `start`) up to `lag` before now,
//! committing each whole window; ConductorOne events resume after the last
//! stored event uid, committing every page. A stop request (SIGTERM) is
//! honoured between windows or pages, after the commit.

use super::config::{Source, What};
use super::sink::{Clock, Out};
use super::state::Ledger;
use super::Client;
use crate::c1::resume_after;
use crate::checkpoint::PendingTask;
use crate::output::each_chunk;
use crate::time::parse_time;
use crate::windows::parse_opt;
use crate::Failure;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use logexport::atlas::{EventQuery, StreamLogOptions, TimeRange};
use logexport::conductorone::{RawEvent, SortDirection};
use logexport::download::{BoxReader, LineNormalizer};
use logexport::tencent_cls::{self, ExportOptions, ExportParams, Order};
use std::path::Path;
use tokio::sync::watch;

/// ConductorOne events committed per checkpoint write: one page's worth.
const COMMIT_EVERY: u64 = 100;

/// What one cycle did.
#[derive(Debug, Default)]
pub struct Cycle {
    /// Records stored.
    pub records: u64,
    /// Record bytes stored (before compression).
    pub bytes: u64,
    /// Windows stored (windowed sources).
    pub windows: u64,
    /// How far the stored data is behind now, when known.
    pub lag_secs: Option<i64>,
}

/// Everything a cycle needs besides the source.
pub struct Env<'a> {
    /// The state directory.
    pub state_dir: &'a Path,
    /// The shared client for the source's vendor and credentials.
    pub client: &'a Client,
    /// Set when the run should stop after the current window or page.
    pub stop: &'a watch::Receiver<bool>,
    /// The clock for file rotation.
    pub clock: Clock,
    /// The source's progress line.
    pub bar: &'a indicatif::ProgressBar,
}

/// Runs one cycle. On failure the checkpoint keeps everything committed
/// before it and the error; `cycle` counts what was stored either way.
pub async fn run(source: &Source, env: &Env<'_>, cycle: &mut Cycle) -> Result<(), Failure> {
    let stream = source.what.stream();
    let mut ledger = Ledger::open(env.state_dir, &source.name, &stream)?;
    let result = pull(source, env, &mut ledger, cycle).await;
    ledger.state.last_run = Some(Utc::now().timestamp());
    match &result {
        Ok(()) => {
            ledger.state.last_error = None;
            ledger.state.failures = 0;
        }
        Err(f) => {
            ledger.state.last_error = Some(f.message.clone());
            ledger.state.failures = ledger.state.failures.saturating_add(1);
        }
    }
    // The outcome is what matters; a checkpoint that cannot be written
    // now fails the next cycle loudly.
    if let Err(e) = ledger.save() {
        tracing::warn!(
            source = source.name,
            error = e.message,
            "cannot record the cycle"
        );
    }
    result
}

fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

async fn pull(
    source: &Source,
    env: &Env<'_>,
    ledger: &mut Ledger,
    cycle: &mut Cycle,
) -> Result<(), Failure> {
    let out = Out::open(&source.sink, &source.name, ledger, env.clock.clone())?;
    let mut batch = Batch {
        out,
        ledger,
        records: 0,
        bytes: 0,
    };
    let now = Utc::now();
    let start = parse_time(&source.start, now).map_err(Failure::usage)?;
    let until = parse_opt(source.end.as_deref(), now)?;
    if let (What::C1Events { exporter }, Client::C1(client)) = (&source.what, env.client) {
        let range = (start, until);
        return c1_events(client, exporter.as_deref(), range, env, &mut batch, cycle).await;
    }
    let end = until.map_or(now - source.lag, |u| u.min(now - source.lag));
    let mut cursor = match batch.ledger.state.position.as_deref() {
        Some(p) => p
            .parse()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| Failure::runtime(format!("checkpoint position `{p}` is not a time")))?,
        None => start,
    };
    loop {
        cycle.lag_secs = Some((now - cursor).num_seconds().max(0));
        if stopping(env.stop) {
            return Ok(());
        }
        let to = match &batch.ledger.state.pending {
            Some(task) => DateTime::from_timestamp(task.end, 0).unwrap_or(end),
            None if cursor < end => (cursor + source.step).min(end),
            None => return Ok(()),
        };
        env.bar
            .set_message(format!("{}: {} .. {}", source.name, cursor, to));
        let task = fetch_window(source, env.client, cursor, to, &mut batch).await?;
        batch.commit(Some(to.timestamp().to_string()), cycle)?;
        cycle.windows += 1;
        cursor = to;
        if let (Some(id), Client::Cls(client)) = (task, env.client) {
            if let Err(e) = client.delete_export(&id).await {
                tracing::warn!(export_id = id, error = %e, "could not delete the export task");
            }
        }
    }
}

/// The records appended since the last commit (a window's, or a page's),
/// on their way to the output.
struct Batch<'a> {
    out: Out,
    ledger: &'a mut Ledger,
    records: u64,
    bytes: u64,
}

impl Batch<'_> {
    fn append(&mut self, line: &[u8]) -> Result<(), Failure> {
        self.out.append(line, self.ledger)?;
        self.records += 1;
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    /// Makes the batch durable and counts it in the checkpoint and `cycle`;
    /// the next cycle resumes from `position`, when given.
    fn commit(&mut self, position: Option<String>, cycle: &mut Cycle) -> Result<(), Failure> {
        self.out.commit(self.ledger)?;
        let state = &mut self.ledger.state;
        if position.is_some() {
            state.position = position;
            state.pending = None;
        }
        state.records += self.records;
        state.bytes += self.bytes;
        self.ledger.save()?;
        cycle.records += self.records;
        cycle.bytes += self.bytes;
        (self.records, self.bytes) = (0, 0);
        Ok(())
    }
}

/// Fetches `[from, to)` into `window`. Returns the CLS task to delete
/// once the window is stored.
async fn fetch_window(
    source: &Source,
    client: &Client,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: &mut Batch<'_>,
) -> Result<Option<String>, Failure> {
    match (&source.what, client) {
        (
            What::AtlasStreamAudit {
                project,
                workspaces,
            },
            Client::Atlas(client, defaults),
        ) => {
            let project = defaults.project(project.clone(), NO_PROJECT)?;
            let discover = || Ok(client.stream_workspaces(&project)?.map_ok(|w| w.name));
            for workspace in named_or(workspaces, discover).await? {
                let opts = StreamLogOptions::default();
                let range = TimeRange::new(from, to);
                let dl = client
                    .download_stream_audit_logs(&project, &workspace, range, opts)
                    .await?;
                copy_text(dl.into_reader().await?, window).await?;
            }
            Ok(None)
        }
        (
            What::AtlasHostLogs {
                project,
                hosts,
                log,
            },
            Client::Atlas(client, defaults),
        ) => {
            let project = defaults.project(project.clone(), NO_PROJECT)?;
            let discover = || Ok(client.processes(&project)?.map_ok(|p| p.hostname));
            for host in named_or(hosts, discover).await? {
                let range = TimeRange::new(from, to);
                let dl = client
                    .download_cluster_log(&project, &host, *log, range)
                    .await?;
                copy_text(dl.into_reader().await?, window).await?;
            }
            Ok(None)
        }
        (What::AtlasEvents { project, org }, Client::Atlas(client, defaults)) => {
            let query = EventQuery::default().since(from).until(to);
            let events = match (project, org) {
                (_, Some(org)) => client.org_events(org, query)?,
                (project, None) => {
                    client.project_events(&defaults.project(project.clone(), NO_PROJECT)?, query)?
                }
            };
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.try_next().await? {
                window.append(&serde_json::to_vec(&event).expect("serialisable"))?;
            }
            Ok(None)
        }
        (What::ClsExport { topic, query, .. }, Client::Cls(client)) => {
            cls_window(client, topic, query, from, to, window)
                .await
                .map(Some)
        }
        _ => Err(Failure::runtime(format!(
            "source `{}`: its client is for another vendor",
            source.name
        ))),
    }
}

/// How to give a source a project, for the message when it has none.
pub const NO_PROJECT: &str = "no project: set `project` in the source, or";

/// The targets a source names, else those `discover` lists (each once:
/// a host runs several processes).
async fn named_or<S>(
    named: &Option<Vec<String>>,
    discover: impl FnOnce() -> logexport::Result<S>,
) -> Result<Vec<String>, Failure>
where
    S: futures::TryStream<Ok = String, Error = logexport::Error>,
{
    if let Some(names) = named {
        return Ok(names.clone());
    }
    let mut names: Vec<String> = discover()?.try_collect().await?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// Appends the records of a decoded download, one per line as the
/// library's text policy makes them, straight from the decoder's chunks
/// through one reused block: no `String` per line.
async fn copy_text(reader: BoxReader, window: &mut Batch<'_>) -> Result<(), Failure> {
    let mut lines = LineNormalizer::new();
    let mut block = Vec::new();
    fn append_block(block: &[u8], window: &mut Batch<'_>) -> Result<(), Failure> {
        // Each record in the block ends with `\n` (the normalizer drops
        // blank lines); `memchr` finds them a word at a time.
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', block) {
            window.append(&block[start..end])?;
            start = end + 1;
        }
        Ok(())
    }
    each_chunk(reader, |chunk| {
        block.clear();
        lines.push(chunk, &mut block)?;
        append_block(&block, window)
    })
    .await?;
    block.clear();
    lines.finish(&mut block);
    append_block(&block, window)
}

/// One CLS window: the task recorded by an interrupted cycle if it still
/// exists, else a new one, recorded before its records are fetched.
async fn cls_window(
    client: &tencent_cls::Client,
    topic: &str,
    query: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: &mut Batch<'_>,
) -> Result<String, Failure> {
    let recorded = window.ledger.state.pending.as_ref().map(|t| t.id.clone());
    let export_id = match recorded {
        Some(id) if crate::cls::still_there(client, topic, &id).await? => id,
        _ => {
            let mut params = ExportParams::new(topic, query, tencent_cls::TimeRange::new(from, to));
            params.order = Order::Asc;
            let id = client.create_export(&params).await?;
            window.ledger.state.pending = Some(PendingTask {
                id: id.clone(),
                end: to.timestamp(),
            });
            window.ledger.save()?;
            id
        }
    };
    let options = ExportOptions::default()
        .order(Order::Asc)
        .delete_after(false);
    // The NDJSON lines the export converter makes, as bytes: no value and
    // no `String` per record.
    let mut records = client
        .resume_export(topic, export_id.as_str(), options)
        .lines();
    while let Some(record) = records.try_next().await? {
        window.append(&record)?;
    }
    if window.records >= tencent_cls::MAX_EXPORT_COUNT {
        // The task stopped at its Count: storing the window would skip the
        // rest of it for good.
        return Err(Failure::usage(format!(
            "the window {from} .. {to} holds at least {} records, the most one export task returns; use a smaller `step`",
            tencent_cls::MAX_EXPORT_COUNT
        )));
    }
    Ok(export_id)
}

/// ConductorOne events, oldest first, after the last stored uid.
async fn c1_events(
    client: &logexport::conductorone::Client,
    exporter: Option<&str>,
    (start, until): (DateTime<Utc>, Option<DateTime<Utc>>),
    env: &Env<'_>,
    batch: &mut Batch<'_>,
    cycle: &mut Cycle,
) -> Result<(), Failure> {
    let mut query = match exporter {
        Some(id) => client.exporter_events(id),
        None => client.events(),
    }
    .sort(SortDirection::Asc);
    if let Some(until) = until {
        query = query.until(until);
    }
    query = match batch.ledger.state.position.clone() {
        Some(uid) => query.since_event_uid(uid),
        None => query.since(start),
    };
    let mut stream = query.stream_raw()?;
    // The last event stored: its uid is the resume point and its time (the
    // events come oldest first) the newest, both read at each commit.
    let mut last = None;
    let now = Utc::now().timestamp();
    cycle.lag_secs = batch.ledger.state.newest.map(|t| (now - t).max(0));
    let commit =
        |batch: &mut Batch<'_>, last: Option<RawEvent>, cycle: &mut Cycle| -> Result<(), Failure> {
            let uid = resume_after(last.as_ref())?;
            if let Some(t) = last.as_ref().and_then(RawEvent::time) {
                batch.ledger.state.newest = Some(t.timestamp());
            }
            batch.commit(uid, cycle)?;
            cycle.lag_secs = batch.ledger.state.newest.map(|t| (now - t).max(0));
            Ok(())
        };
    loop {
        let event = match stream.try_next().await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(e) => {
                // Whole events already read are kept.
                commit(batch, last.take(), cycle)?;
                return Err(e.into());
            }
        };
        batch.append(event.as_str().as_bytes())?;
        last = Some(event);
        if batch.records == COMMIT_EVERY {
            commit(batch, last.take(), cycle)?;
            env.bar.set_message(format!(
                "{}: {} stored",
                "c1 events", batch.ledger.state.records
            ));
            if stopping(env.stop) {
                return Ok(());
            }
        }
    }
    commit(batch, last, cycle)
}
