//! Progress on stderr: a byte bar for downloads, a spinner for waiting.
//! Nothing is drawn when stderr is not a terminal or with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Progress reporting for one command.
#[derive(Clone)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Enabled only on a terminal and without `--quiet`.
    pub fn new(quiet: bool) -> Self {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A byte-count bar; `total` gives a percentage and ETA when known.
    pub fn bytes(&self, what: &str, total: Option<u64>) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        }
        .with_style(bytes_style(total.is_some()));
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_message(what.to_string());
        bar
    }

    /// A spinner with a changing message (e.g. export status).
    pub fn spinner(&self, what: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_draw_target(ProgressDrawTarget::stderr());
        spin(&bar);
        bar.set_message(what.to_string());
        bar
    }
}

/// Makes `bar` a spinner that shows its message and elapsed time.
pub fn spin(bar: &ProgressBar) {
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
}

/// The look of a byte counter: a bar with percentage and ETA when the total
/// is known, a spinner with the running count otherwise.
pub fn bytes_style(total_known: bool) -> ProgressStyle {
    if total_known {
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ")
    } else {
        ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
            .expect("valid template")
    }
}
