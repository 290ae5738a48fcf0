//! `pull --status`: each source's checkpoint, lag and last error, read
//! from the state directory without locking (checkpoints are replaced
//! whole).

use super::config::Config;
use super::state;
use crate::{Ctx, Failure};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Prints one line (one JSON object with `--json`) per source.
pub fn print(ctx: &Ctx, config: &Config) -> Result<(), Failure> {
    let now = Utc::now();
    for source in &config.sources {
        let st = state::read(&config.state_dir, &source.name)?;
        let st = st.as_ref();
        let position = st.and_then(|s| s.position.clone());
        // Windowed sources record the next window start: how far behind
        // now the stored data ends.
        // ConductorOne records the newest stored event's time instead.
        let behind = st
            .and_then(|s| s.newest)
            .or_else(|| position.as_deref().and_then(|p| p.parse::<i64>().ok()))
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map(|t| (now - t).num_seconds().max(0));
        let last_run = st
            .and_then(|s| s.last_run)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339());
        let line = json!({
            "source": source.name,
            "vendor": source.what.vendor(),
            "stream": source.what.stream(),
            "position": position,
            "lag_s": behind,
            "records": st.map_or(0, |s| s.records),
            "bytes": st.map_or(0, |s| s.bytes),
            "file": st.and_then(|s| s.file.as_ref()).map(|f| f.path.display().to_string()),
            "last_run": last_run,
            "last_error": st.and_then(|s| s.last_error.clone()),
            "failures": st.map_or(0, |s| s.failures),
        });
        if ctx.global.json {
            println!("{line}");
        } else {
            let text = match st {
                None => "never run".to_string(),
                Some(s) => format!(
                    "position={} lag={} records={} last_run={} {}",
                    s.position.as_deref().unwrap_or("-"),
                    behind.map_or("-".into(), |b| format!("{b}s")),
                    s.records,
                    last_run.as_deref().unwrap_or("-"),
                    s.last_error
                        .as_deref()
                        .map_or("ok".to_string(), |e| format!("last error: {e}")),
                ),
            };
            println!("{}: {text}", source.name);
        }
    }
    Ok(())
}
