//! `logexport pull`: scheduled, multi-source export for SIEM feeds.
//!
//! A TOML file lists sources (vendor, credentials, what to pull, where to
//! write). Each cycle pulls every source from its checkpoint, several at
//! once; `--once` runs one cycle (cron, systemd timers), `--follow` one
//! per interval until SIGTERM, which finishes the current window or page,
//! commits it and exits 0.

mod check;
pub mod config;
pub mod sink;
mod source;
mod state;
mod status;

use crate::clients::{AtlasDefaults, Credentials, Setup};
use crate::{Ctx, Failure};
use config::{Config, Source, What};
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget};
use logexport::{atlas, conductorone, tencent_cls};
use serde_json::json;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// `logexport pull` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The TOML file listing the sources (see `Feeding a SIEM` in the README).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// One cycle, then exit: 0 when every source succeeded, 1 when any failed (the default).
    #[arg(long, conflicts_with = "follow")]
    pub once: bool,
    /// A cycle every --interval (with jitter) until SIGTERM, which finishes
    /// the current window or page, commits it and exits 0. A failing source
    /// backs off without stopping the others.
    #[arg(long)]
    pub follow: bool,
    /// Time between cycles with --follow. Default: the config's `interval`, else 5m.
    #[arg(long, requires = "follow", value_name = "SPAN")]
    pub interval: Option<String>,
    /// Only these sources (repeat or list); instances sharding the sources
    /// each name their own, with their own state directory.
    #[arg(long = "source", value_name = "NAME", num_args = 1..)]
    pub sources: Vec<String>,
    /// Print each source's checkpoint, lag and last error; pull nothing.
    #[arg(long, conflicts_with_all = ["follow", "check", "once"])]
    pub status: bool,
    /// Check the config and the credentials (one cheap authenticated call
    /// per source); report every problem; pull nothing.
    #[arg(long, conflicts_with_all = ["follow", "once"])]
    pub check: bool,
}

/// A client, shared by the sources with the same vendor, credentials,
/// endpoint (and CLS region): one token cache, Digest nonce and rate limit.
#[derive(Clone)]
pub enum Client {
    /// Atlas, with the credentials' default project and org.
    Atlas(atlas::Client, AtlasDefaults),
    /// Tencent Cloud CLS.
    Cls(tencent_cls::Client),
    /// ConductorOne.
    C1(conductorone::Client),
}

/// What makes two sources share a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    vendor: &'static str,
    credentials: Credentials,
    endpoint: Option<String>,
    region: Option<String>,
}

/// Builds (or reuses) the client of every source; a source whose client
/// cannot be built fails alone.
fn clients(ctx: &Ctx, sources: &[Source]) -> Vec<Result<Client, Failure>> {
    let mut cache: HashMap<ClientKey, Client> = HashMap::new();
    sources
        .iter()
        .map(|s| {
            let region = match &s.what {
                What::ClsExport { region, .. } => region.clone(),
                _ => None,
            };
            let key = ClientKey {
                vendor: s.what.vendor(),
                credentials: s.credentials.clone(),
                endpoint: s.endpoint.clone(),
                region,
            };
            if let Some(client) = cache.get(&key) {
                return Ok(client.clone());
            }
            let setup = Setup {
                credentials: &s.credentials,
                endpoint: s.endpoint.as_deref(),
                sandboxes: ctx.sandboxes.as_ref(),
            };
            let client = match key.vendor {
                "atlas" => crate::clients::atlas(setup)
                    .map(|(built, defaults)| Client::Atlas(built.client, defaults)),
                "cls" => crate::clients::cls(setup, key.region.as_deref())
                    .map(|built| Client::Cls(built.client)),
                _ => crate::clients::c1(setup).map(|built| Client::C1(built.client)),
            }
            .map_err(|f| f.within(format_args!("source `{}`: ", s.name)))?;
            cache.insert(key, client.clone());
            Ok(client)
        })
        .collect()
}

/// Runs `pull`; `stop` turns true on the first SIGINT or SIGTERM.
pub async fn run(ctx: &Ctx, args: Args, stop: watch::Receiver<bool>) -> Result<(), Failure> {
    let mut config = config::load(&args.config)?;
    select(&mut config, &args.sources)?;
    if args.status {
        return status::print(ctx, &config);
    }
    if args.check {
        return check::run(ctx, &config).await;
    }
    let interval = match &args.interval {
        Some(s) => crate::windows::parse_span("interval", s, false)?
            .to_std()
            .map_err(|_| Failure::usage("--interval must be positive"))?,
        None => config.interval,
    };
    let clients = clients(ctx, &config.sources);
    let bars = Bars::new(ctx, &config.sources);
    let mut runner = Runner {
        ctx,
        config: &config,
        clients,
        bars,
        stop,
        clock: sink::system_clock(),
    };
    if !args.follow {
        let reports = runner.cycle(&all(&config)).await;
        for report in &reports {
            runner.report(report, None);
        }
        return verdict(&config, reports);
    }
    follow(&mut runner, interval).await
}

/// Keeps only the sources `--source` names; an unknown name is an error.
fn select(config: &mut Config, names: &[String]) -> Result<(), Failure> {
    if names.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !config.sources.iter().any(|s| &s.name == *n))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(Failure::usage(format!(
            "--source: no source named {} in the config",
            unknown.join(", ")
        )));
    }
    config.sources.retain(|s| names.contains(&s.name));
    Ok(())
}

fn all(config: &Config) -> Vec<usize> {
    (0..config.sources.len()).collect()
}

/// One bar per source on a terminal; hidden otherwise.
struct Bars(Vec<ProgressBar>);

impl Bars {
    fn new(ctx: &Ctx, sources: &[Source]) -> Bars {
        let shown = !ctx.global.quiet && !ctx.global.json && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Bars(
            sources
                .iter()
                .map(|s| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    if shown {
                        crate::progress::spin(&bar);
                    }
                    bar.set_message(s.name.clone());
                    bar
                })
                .collect(),
        )
    }
}

/// One source's cycle, as reported.
struct Report {
    index: usize,
    cycle: source::Cycle,
    error: Option<Failure>,
}

struct Runner<'a> {
    ctx: &'a Ctx,
    config: &'a Config,
    clients: Vec<Result<Client, Failure>>,
    bars: Bars,
    stop: watch::Receiver<bool>,
    clock: sink::Clock,
}

impl Runner<'_> {
    /// One cycle of the sources at `indices`, `concurrency` at a time.
    async fn cycle(&mut self, indices: &[usize]) -> Vec<Report> {
        let this = &*self;
        let reports: Vec<Report> = futures::stream::iter(indices.iter().copied())
            .map(|index| async move {
                let source = &this.config.sources[index];
                let mut cycle = source::Cycle::default();
                let result = match &this.clients[index] {
                    Err(f) => Err(Failure {
                        code: f.code,
                        message: f.message.clone(),
                        // The same kind and message each cycle.
                        error: f
                            .error
                            .as_ref()
                            .map(|e| logexport::Error::new(e.kind(), e.message().to_string())),
                    }),
                    Ok(client) => {
                        let env = source::Env {
                            state_dir: &this.config.state_dir,
                            client,
                            stop: &this.stop,
                            clock: this.clock.clone(),
                            bar: &this.bars.0[index],
                        };
                        source::run(source, &env, &mut cycle)
                            .await
                            .map_err(|f| f.within(format_args!("source `{}`: ", source.name)))
                    }
                };
                this.bars.0[index]
                    .set_message(format!("{}: {} records", source.name, cycle.records));
                Report {
                    index,
                    cycle,
                    error: result.err(),
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        reports
    }

    /// Prints one line per source for this cycle.
    fn report(&self, report: &Report, next_run: Option<chrono::DateTime<chrono::Utc>>) {
        let source = &self.config.sources[report.index];
        let c = &report.cycle;
        let line = json!({
            "command": "pull",
            "source": source.name,
            "vendor": source.what.vendor(),
            "ok": report.error.is_none(),
            "records": c.records,
            "bytes": c.bytes,
            "windows": c.windows,
            "lag_s": c.lag_secs,
            "last_error": report.error.as_ref().map(|f| f.message.clone()),
            "next_run": next_run.map(|t| t.to_rfc3339()),
            "output": sink::describe(&source.sink, &source.name),
        });
        if self.ctx.global.json {
            eprintln!("{line}");
        } else if !self.ctx.global.quiet || report.error.is_some() {
            let status = match &report.error {
                None => "ok".to_string(),
                Some(f) => format!("FAILED: {}", f.message),
            };
            let lag = c.lag_secs.map_or(String::new(), |s| format!(" lag={s}s"));
            self.bars.0[report.index].suspend(|| {
                eprintln!(
                    "pull {}: records={} bytes={} windows={}{lag} {status}",
                    source.name, c.records, c.bytes, c.windows
                )
            });
        }
    }
}

/// `--once`'s exit: 0 when every source succeeded, else 1 naming each
/// failed source.
fn verdict(config: &Config, reports: Vec<Report>) -> Result<(), Failure> {
    let total = reports.len();
    let mut failed: Vec<Report> = reports.into_iter().filter(|r| r.error.is_some()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort_by_key(|r| r.index);
    let names: Vec<&str> = failed
        .iter()
        .map(|r| config.sources[r.index].name.as_str())
        .collect();
    let message = format!(
        "{} of {total} sources failed: {}",
        failed.len(),
        names.join(", ")
    );
    let first = failed.swap_remove(0).error.expect("failed");
    Err(Failure {
        code: 1,
        message,
        error: first.error,
    })
}

/// When a source that failed `failures` times in a row runs again:
/// doubling from the interval, at most an hour (or the interval if longer).
fn backoff(interval: Duration, failures: u32) -> Duration {
    let cap = interval.max(Duration::from_secs(3_600));
    interval.saturating_mul(1u32 << failures.min(16)).min(cap)
}

/// Up to a tenth of `interval`, so many instances started together do not
/// hit the vendor in step.
fn jitter(interval: Duration) -> Duration {
    let tenth = interval.as_millis() as u64 / 10;
    if tenth == 0 {
        return Duration::ZERO;
    }
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    Duration::from_millis(u64::from_le_bytes(bytes) % tenth)
}

/// `--follow`: every source on its own schedule until the stop request.
async fn follow(runner: &mut Runner<'_>, interval: Duration) -> Result<(), Failure> {
    let n = runner.config.sources.len();
    let mut due = vec![tokio::time::Instant::now(); n];
    let mut failures = vec![0u32; n];
    let mut stop = runner.stop.clone();
    loop {
        let now = tokio::time::Instant::now();
        let ready: Vec<usize> = (0..n).filter(|i| due[*i] <= now).collect();
        for report in runner.cycle(&ready).await {
            let i = report.index;
            let wait = if report.error.is_some() {
                failures[i] += 1;
                backoff(interval, failures[i])
            } else {
                failures[i] = 0;
                interval + jitter(interval)
            };
            due[i] = tokio::time::Instant::now() + wait;
            let next = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            runner.report(&report, Some(next));
        }
        if *stop.borrow() {
            return Ok(());
        }
        let next = due.iter().min().copied().unwrap_or(now);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// The tour's `pull` step: one source per vendor against the sandbox,
/// written under the step's output directory.
pub async fn tour(ctx: &Ctx) -> Result<(), Failure> {
    use logexport::sandbox::{atlas as atlas_sb, tencent_cls as cls_sb};
    let dir = ctx
        .global
        .output
        .clone()
        .ok_or_else(|| Failure::runtime("the tour names a directory"))?;
    let text = format!(
        r#"state_dir = "state"

[[source]]
name = "atlas-stream-audit"
vendor = "atlas"
kind = "stream-audit-logs"
project = "{project}"
workspaces = ["{workspace}"]
start = "3h"
output = "{{source}}/{{date}}/{{hour}}.ndjson"

[[source]]
name = "cls-topic"
vendor = "cls"
region = "{region}"
topic = "{topic}"
start = "3h"
output = "{{source}}/{{date}}/{{hour}}.ndjson"

[[source]]
name = "c1-system-log"
vendor = "c1"
start = "3h"
output = "{{source}}/{{date}}/{{hour}}.ndjson.gz"
gzip = true
"#,
        project = atlas_sb::DEMO_PROJECT_ID,
        workspace = atlas_sb::DEMO_WORKSPACE,
        region = cls_sb::DEMO_REGION,
        topic = cls_sb::DEMO_TOPIC_ID,
    );
    std::fs::create_dir_all(&dir).map_err(|e| Failure::path(&dir, "cannot create", e))?;
    let path = dir.join("logexport.toml");
    std::fs::write(&path, text).map_err(|e| Failure::path(&path, "cannot write", e))?;
    let (_tx, stop) = watch::channel(false);
    let args = Args {
        config: path,
        once: true,
        follow: false,
        interval: None,
        sources: Vec::new(),
        status: false,
        check: false,
    };
    run(ctx, args, stop).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let m = Duration::from_secs(60);
        let got: Vec<u64> = (1..=8).map(|f| backoff(m, f).as_secs()).collect();
        assert_eq!(got, [120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        let day = Duration::from_secs(86_400);
        assert_eq!(backoff(day, 3), day, "never shorter than the interval");
        let j = jitter(Duration::from_secs(100));
        assert!(j < Duration::from_secs(10));
    }
}
