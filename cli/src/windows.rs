//! Consecutive time windows with a checkpoint: the one loop behind
//! `atlas … --checkpoint` and `cls export --checkpoint`.
//!
//! A run walks `[start, end)` in `--step` windows, appends each window's
//! records to the output and records the next window start in the
//! checkpoint ([`Resumable`]), so a rerun continues exactly there. A window
//! is closed only once it ends `--lag` before now: vendors make logs
//! searchable with a delay, and a window stored too early would miss its
//! late records for good.

use crate::checkpoint::{PendingTask, Resumable};
use crate::output::file_target;
use crate::{Ctx, Failure};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Parses a time flag that may be left out; a bad one is a usage error.
pub fn parse_opt(s: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Failure> {
    s.map(|s| crate::time::parse_time(s, now).map_err(Failure::usage))
        .transpose()
}

/// Parses a `--step` or `--lag` span; `0` is accepted where `zero_ok`.
pub fn parse_span(flag: &str, s: &str, zero_ok: bool) -> Result<Duration, Failure> {
    if zero_ok && s.trim().trim_end_matches(['s', 'm', 'h', 'd', 'w']) == "0" {
        return Ok(Duration::zero());
    }
    crate::time::parse_duration(s).map_err(|e| Failure::usage(format!("--{flag}: {e}")))
}

/// The `--lag` to use: the flag, or the vendor's default. The flag only
/// means something with `--checkpoint`, so it is refused without one.
pub fn lag(flag: Option<&str>, default: Duration, windowed: bool) -> Result<Duration, Failure> {
    match flag {
        Some(_) if !windowed => Err(Failure::usage(
            "--lag applies to windows closed in a checkpoint; add --checkpoint FILE",
        )),
        Some(s) => parse_span("lag", s, true),
        None => Ok(default),
    }
}

/// One window to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// A vendor task a previous run started for exactly this window.
    pub task: Option<String>,
}

/// The walk over windows, holding the checkpoint (and its lock).
pub struct Windows<'a> {
    ctx: &'a Ctx,
    command: String,
    output: PathBuf,
    resumable: Resumable,
    cursor: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
    first_records: u64,
    bar: indicatif::ProgressBar,
    /// Windows stored by this run.
    done: u64,
}

/// What [`Windows::open`] needs besides the context.
pub struct Plan<'p> {
    /// The command, for the summary.
    pub command: &'p str,
    /// The checkpoint's stream name: the command plus whatever else must
    /// match for a checkpoint to be resumed.
    pub stream: String,
    /// The checkpoint file.
    pub checkpoint: &'p Path,
    /// Where the first run starts.
    pub start: DateTime<Utc>,
    /// Where the windows stop, before the lag is applied.
    pub end: DateTime<Utc>,
    /// Window length.
    pub step: Duration,
    /// How long before `now` the last window must end.
    pub lag: Duration,
    /// The time the command started.
    pub now: DateTime<Utc>,
}

impl<'a> Windows<'a> {
    /// Checks the flags, locks and opens the checkpoint, and finds where to
    /// resume.
    pub fn open(ctx: &'a Ctx, plan: Plan<'_>) -> Result<Self, Failure> {
        if ctx.global.raw {
            return Err(Failure::usage(
                "--checkpoint writes decoded records; it cannot be combined with --raw",
            ));
        }
        let output = file_target(ctx.global.output.as_deref())
            .ok_or_else(|| Failure::usage("--checkpoint needs --output FILE to append to"))?;
        let resumable = Resumable::open(output, plan.checkpoint, &plan.stream)?;
        let cursor = match resumable.state.position.as_deref() {
            Some(p) => unix(p).ok_or_else(|| {
                Failure::runtime(format!("checkpoint position `{p}` is not a time"))
            })?,
            None => plan.start,
        };
        let end = plan.end.min(plan.now - plan.lag);
        let bar = ctx.progress.spinner(plan.command);
        Ok(Windows {
            ctx,
            first_records: resumable.state.records,
            command: plan.command.to_string(),
            output: output.to_path_buf(),
            resumable,
            cursor,
            end,
            step: plan.step,
            bar,
            done: 0,
        })
    }

    /// The next window, or `None` when every closed window is stored. A task
    /// recorded by an interrupted run comes back with the window it covers.
    pub fn next_window(&mut self) -> Option<TimeWindow> {
        let window = match &self.resumable.state.pending {
            Some(PendingTask { id, end }) => TimeWindow {
                from: self.cursor,
                to: DateTime::from_timestamp(*end, 0)?,
                task: Some(id.clone()),
            },
            None if self.cursor < self.end => TimeWindow {
                from: self.cursor,
                to: (self.cursor + self.step).min(self.end),
                task: None,
            },
            None => return None,
        };
        self.bar.set_message(format!(
            "{}: {} .. {}",
            self.command, window.from, window.to
        ));
        Some(window)
    }

    /// Records the task started for `window`, before fetching its records.
    pub fn set_task(&mut self, window: &mut TimeWindow, id: &str) -> Result<(), Failure> {
        self.resumable.set_pending(PendingTask {
            id: id.to_string(),
            end: window.to.timestamp(),
        })?;
        window.task = Some(id.to_string());
        Ok(())
    }

    /// Forgets the current window's task and the records appended for it,
    /// so a rerun starts the window afresh (with different flags).
    pub fn drop_task(&mut self) -> Result<(), Failure> {
        self.resumable.clear_pending()
    }

    /// Where the current window's records are appended.
    pub fn output(&mut self) -> &mut Resumable {
        &mut self.resumable
    }

    /// Stores the window's records and moves the checkpoint past it.
    pub fn commit(&mut self, window: TimeWindow) -> Result<(), Failure> {
        self.resumable
            .commit(Some(window.to.timestamp().to_string()))?;
        self.cursor = window.to;
        self.done += 1;
        Ok(())
    }

    /// Prints the run's summary; the lock is released here.
    pub fn finish(self) {
        self.bar.finish_and_clear();
        let state = &self.resumable.state;
        self.ctx.summary(json!({
            "command": self.command,
            "records": state.records - self.first_records,
            "total_records": state.records,
            "windows": self.done,
            "resume_from": self.cursor.to_rfc3339(),
            "output": self.output.display().to_string(),
        }));
    }
}

fn unix(s: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(s.parse().ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_needs_a_checkpoint_and_accepts_zero() {
        let five = Duration::minutes(5);
        assert_eq!(lag(None, five, false).unwrap(), five);
        assert_eq!(lag(Some("0"), five, true).unwrap(), Duration::zero());
        assert_eq!(lag(Some("0s"), five, true).unwrap(), Duration::zero());
        assert_eq!(lag(Some("90s"), five, true).unwrap(), Duration::seconds(90));
        assert_eq!(lag(Some("10m"), five, false).err().unwrap().code, 2);
        assert_eq!(lag(Some("soon"), five, true).err().unwrap().code, 2);
        assert_eq!(parse_span("step", "0", false).err().unwrap().code, 2);
    }
}
