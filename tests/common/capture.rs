//! Captures every tracing span and event field of the test process as text,
//! so tests can prove secrets never reach logs.
//!
//! The capture is the process-wide (global) subscriber, installed once.
//! A thread-local `set_default` would race with tests running in parallel
//! on other threads: tracing caches per-callsite interest globally, and a
//! callsite first hit where no subscriber is set can stay switched off.
//! A global subscriber sees every thread, so the capture is complete, and
//! the secrecy assertions cover every test in the binary.

use std::sync::{Arc, Mutex, OnceLock};

/// A handle to the process-wide capture.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<String>>);

impl Capture {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// Installs the capture as the global subscriber on first use.
pub fn global() -> Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            tracing::subscriber::set_global_default(capture.clone())
                .expect("no other global subscriber in integration tests");
            capture
        })
        .clone()
}

struct FieldText(Arc<Mutex<String>>);

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let line = format!(" {}={value:?}", field.name());
        self.0.lock().unwrap().push_str(&line);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let line = format!("\nspan {}:", span.metadata().name());
        self.0.lock().unwrap().push_str(&line);
        span.record(&mut FieldText(self.0.clone()));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut FieldText(self.0.clone()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let line = format!("\n{}:", event.metadata().target());
        self.0.lock().unwrap().push_str(&line);
        event.record(&mut FieldText(self.0.clone()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
