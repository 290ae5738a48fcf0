//! The export workflow: create a task, wait for it, download and decode it.
//!
//! [`Client::export_logs`] returns an [`ExportLogs`] that does the whole job
//! when it is consumed in one of these ways:
//! - [`ExportLogs::records`]: a `Stream` of parsed records (JSON lines as
//!   they are; CSV rows as objects keyed by the header);
//! - [`ExportLogs::lines`]: a `Stream` of each record's NDJSON line, as
//!   bytes, for writers that pass records on without parsing them;
//! - [`ExportLogs::into_reader`]: one NDJSON byte stream to read, the
//!   bytes `save` in [`SaveMode::Decoded`] writes;
//! - [`ExportLogs::save`] in [`SaveMode::Raw`]: the file exactly as served (`.tar.gz`),
//!   written atomically after its gzip stream is verified;
//! - [`ExportLogs::save`] in [`SaveMode::Decoded`]: the decoded records as NDJSON,
//!   atomically.
//!
//! The steps: CreateExport (with `SyntaxRule` always sent), then
//! DescribeExports with backoff until the task is `Completed` (`Failed` and
//! `Expired` become [`ErrorKind::ExportFailed`]), then for each download
//! attempt a fresh DescribeExports for a current `CosPath`, and a streaming
//! GET through the shared gzip/tar sniffing decoder. A download that fails
//! part-way is started again from the beginning with a fresh URL, a bounded
//! number of times; files never appear half-written, and a record stream
//! skips the records it already yielded. Memory stays bounded whatever the
//! file size. Progress (status changes, bytes) is reported to an optional
//! callback.
//!
//! The file must be what it claims: a `.tar.gz`. A message content type
//! (HTML, JSON, XML, text), a body that is not gzip, a bad CRC or missing
//! gzip trailer, a bad tar header checksum, or binary data (NUL bytes) in
//! the records fails with [`ErrorKind::Decode`] and is not downloaded again,
//! since it would fail the same way; only a body that ends too early is.
//! Invalid UTF-8 in records becomes U+FFFD under the crate's
//! [text policy](crate::download), counted in
//! [`ExportSummary::replaced`] / [`Records::replacements`]: once, as one
//! clean pass over the file counts them, however many attempts it took.

use super::client::Client;
use super::records::NdjsonConverter;
use super::types::{
    check_export_id, check_topic_id, Export, ExportParams, ExportStatus, Format, Order, SyntaxRule,
    TimeRange,
};
use crate::download::{
    self, AtomicFile, BoxReader, ByteStream, DecodeOptions, Progress, Replacements, SaveMode,
};
use crate::{Error, ErrorKind, Result, Vendor};
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// An export event callback. Called from the task driving the export; keep
/// it quick. (Download progress alone, in the type every download uses:
/// [`ExportLogs::on_progress`].)
pub type EventFn = Arc<dyn Fn(&ExportEvent) + Send + Sync>;

/// Something that happened during an export, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportEvent {
    /// The task was created (or, when resuming, found).
    Created {
        /// Its id.
        export_id: String,
    },
    /// The task's status changed (reported once per distinct status).
    Status {
        /// The task.
        export_id: String,
        /// Its new status.
        status: ExportStatus,
    },
    /// A download attempt started.
    DownloadStarted {
        /// The task.
        export_id: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// The file name the service gave.
        file_name: Option<String>,
        /// The file size, when known.
        total_bytes: Option<u64>,
    },
    /// More of the file arrived.
    Downloaded {
        /// Bytes received so far in this attempt.
        bytes: u64,
        /// The file size, when known.
        total_bytes: Option<u64>,
    },
    /// A download attempt failed and will be repeated from the start.
    DownloadRetry {
        /// The attempt that failed.
        attempt: u32,
        /// Why (no secrets: URLs are never included).
        reason: String,
    },
    /// All output was produced.
    Finished {
        /// Bytes written (the file, or the NDJSON), or received for a stream.
        bytes: u64,
        /// Records produced, when decoded.
        records: Option<u64>,
    },
    /// The task was deleted afterwards.
    Deleted {
        /// The task.
        export_id: String,
    },
}

/// How to run an export: CreateExport parameters and workflow knobs.
///
/// ```
/// use logexport::tencent_cls::{ExportOptions, Format, Order};
/// use std::time::Duration;
///
/// let options = ExportOptions::default()
///     .format(Format::Csv)
///     .order(Order::Asc)
///     .count(100_000)
///     .poll_interval(Duration::from_millis(500), Duration::from_secs(10))
///     .delete_after(true)
///     .on_event(|event| eprintln!("{event:?}"));
/// ```
#[derive(Debug, Clone)]
pub struct ExportOptions {
    count: u64,
    format: Format,
    order: Order,
    syntax_rule: SyntaxRule,
    derived_fields: Vec<String>,
    poll_initial: Duration,
    poll_max: Duration,
    wait_timeout: Duration,
    download_attempts: u32,
    delete_after: bool,
    progress: Events,
}

/// The event callback, which `Debug` shows only by whether it is set.
#[derive(Clone, Default)]
struct Events(Option<EventFn>);

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.is_some())
    }
}

impl Default for ExportOptions {
    /// As many records as allowed, JSON, newest first, Lucene syntax; poll
    /// from 500 ms backing off to 10 s for at most 2 hours; 3 download
    /// attempts; keep the task afterwards.
    fn default() -> Self {
        ExportOptions {
            count: super::types::MAX_EXPORT_COUNT,
            format: Format::Json,
            order: Order::Desc,
            syntax_rule: SyntaxRule::Lucene,
            derived_fields: Vec::new(),
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(2 * 3600),
            download_attempts: 3,
            delete_after: false,
            progress: Events::default(),
        }
    }
}

/// Setters that store their argument as it is.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $field:ident;)+) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$field = value;
            self
        }
    )+};
}

impl ExportOptions {
    setters! {
        /// The most records to export (1 ..= 50,000,000; checked when run).
        count: u64 => count;
        /// The file format.
        format: Format => format;
        /// The record order.
        order: Order => order;
        /// The query language.
        syntax_rule: SyntaxRule => syntax_rule;
        /// Derived fields to include.
        derived_fields: Vec<String> => derived_fields;
        /// How long to wait for the task to complete before giving up (the task
        /// itself keeps running and can be resumed by id).
        timeout: Duration => wait_timeout;
        /// Delete the task once its output is complete.
        delete_after: bool => delete_after;
    }

    /// The first wait between status polls, doubling up to `max` (at least
    /// 10 ms, so a zero cannot turn polling into a busy loop).
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> Self {
        let initial = initial.max(MIN_POLL_INTERVAL);
        self.poll_initial = initial;
        self.poll_max = max.max(initial);
        self
    }

    /// How many times to try the download (at least 1).
    pub fn download_attempts(mut self, attempts: u32) -> Self {
        self.download_attempts = attempts.max(1);
        self
    }

    /// Reports every [`ExportEvent`] (status changes, downloads, retries)
    /// to `f`.
    pub fn on_event(mut self, f: impl Fn(&ExportEvent) + Send + Sync + 'static) -> Self {
        self.progress = Events(Some(Arc::new(f)));
        self
    }
}

/// What an export produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportSummary {
    /// The task.
    pub export_id: String,
    /// Where the output was written.
    pub path: PathBuf,
    /// Bytes written to `path`.
    pub bytes: u64,
    /// Records written (NDJSON only).
    pub records: Option<u64>,
    /// The file name the service gave.
    pub file_name: Option<String>,
    /// Download attempts made (1 if nothing failed).
    pub attempts: u32,
    /// Whether the task was deleted afterwards.
    pub deleted: bool,
    /// Invalid UTF-8 sequences replaced with U+FFFD in the records (decoded
    /// output only; see the [text policy](crate::download)).
    pub replaced: u64,
}

impl Client {
    /// Exports the logs of `topic_id` matching `query` in `range`: see the
    /// [module documentation](self). Nothing is sent until the returned
    /// value is consumed.
    ///
    /// ```no_run
    /// # async fn demo(client: logexport::tencent_cls::Client) -> logexport::Result<()> {
    /// use futures::TryStreamExt;
    /// use logexport::tencent_cls::{ExportOptions, TimeRange};
    /// use std::time::Duration;
    ///
    /// let range = TimeRange::last(Duration::from_secs(3600));
    /// let mut records = client
    ///     .export_logs("topic-id", "status:500", range, ExportOptions::default())
    ///     .records();
    /// while let Some(record) = records.try_next().await? {
    ///     println!("{record}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn export_logs(
        &self,
        topic_id: impl Into<String>,
        query: impl Into<String>,
        range: TimeRange,
        options: ExportOptions,
    ) -> ExportLogs {
        let params = ExportParams {
            topic_id: topic_id.into(),
            query: query.into(),
            range,
            count: options.count,
            format: options.format,
            order: options.order,
            syntax_rule: options.syntax_rule,
            derived_fields: options.derived_fields.clone(),
        };
        ExportLogs::new(self.flow(params, options, None))
    }

    /// Like [`export_logs`](Self::export_logs) for a task that already
    /// exists (created earlier, or by someone else): waits for it and
    /// downloads it. The file format is taken from the task.
    pub fn resume_export(
        &self,
        topic_id: impl Into<String>,
        export_id: impl Into<String>,
        options: ExportOptions,
    ) -> ExportLogs {
        ExportLogs::new(self.existing(topic_id, export_id.into(), options))
    }

    /// Polls DescribeExports until the task is `Completed`, with the
    /// options' backoff and timeout. `Failed` or `Expired` is an
    /// [`ErrorKind::ExportFailed`] error.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "tencent-cls", operation = "wait_for_export")
    )]
    pub async fn wait_for_export(
        &self,
        topic_id: &str,
        export_id: &str,
        options: &ExportOptions,
    ) -> Result<Export> {
        let flow = self.existing(topic_id, export_id.to_string(), options.clone());
        flow.wait(export_id).await
    }

    fn flow(&self, params: ExportParams, options: ExportOptions, existing: Option<String>) -> Flow {
        Flow {
            client: self.clone(),
            params,
            options,
            existing,
        }
    }

    /// The flow of a task that exists: of the parameters, only its topic is
    /// used.
    fn existing(
        &self,
        topic_id: impl Into<String>,
        export_id: String,
        options: ExportOptions,
    ) -> Flow {
        let params = ExportParams::new(topic_id, "*", TimeRange::from_millis(0, 1));
        self.flow(params, options, Some(export_id))
    }
}

/// An export ready to run; choose the output to start it.
#[must_use = "an export does nothing until consumed with records(), lines(), into_reader() or save()"]
#[derive(Debug, Clone)]
pub struct ExportLogs {
    flow: Arc<Flow>,
}

#[derive(Debug, Clone)]
struct Flow {
    client: Client,
    params: ExportParams,
    options: ExportOptions,
    existing: Option<String>,
}

impl ExportLogs {
    fn new(flow: Flow) -> Self {
        ExportLogs {
            flow: Arc::new(flow),
        }
    }

    /// Calls `progress` after every chunk of the download with the bytes
    /// of this attempt received so far and the file size when known, as
    /// every download's `on_progress` does.
    pub fn on_progress(self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        let mut flow = Flow::clone(&self.flow);
        let events = flow.options.progress.0.take();
        flow.options.progress.0 = Some(Arc::new(move |event: &ExportEvent| {
            if let ExportEvent::Downloaded { bytes, total_bytes } = event {
                let (bytes, total) = (*bytes, *total_bytes);
                progress(Progress { bytes, total });
            }
            if let Some(f) = &events {
                f(event);
            }
        }));
        ExportLogs::new(flow)
    }

    /// Runs the export into `path`: in [`SaveMode::Raw`] the file exactly
    /// as served (`.tar.gz`; a directory gets the service's file name), its
    /// gzip stream verified before the file appears; in
    /// [`SaveMode::Decoded`] the records as NDJSON (a directory gets
    /// `<export id>.ndjson`). Atomic: on failure nothing is left behind.
    #[tracing::instrument(skip_all, fields(vendor = "tencent-cls", operation = "export_logs"))]
    pub async fn save(self, path: impl AsRef<Path>, mode: SaveMode) -> Result<ExportSummary> {
        let (flow, path) = (&*self.flow, path.as_ref());
        let export_id = &flow.prepare().await?;
        let attempt = |attempt| async move {
            // A count of this attempt's own: a retry decodes the file again
            // from the start, and what it replaces must not be added to
            // what a failed attempt already counted.
            let replacements = Replacements::new();
            let (body, export) = flow.open_download(export_id, attempt).await?;
            let (dest, bytes, records) = match mode {
                SaveMode::Raw => {
                    let fallback = format!("{export_id}.tar.gz");
                    let name = safe_file_name(export.file_name.as_deref(), &fallback);
                    let dest = download::resolve_output(path, &name);
                    let bytes = download::write_raw(&dest, body, true).await?;
                    (dest, bytes, None)
                }
                SaveMode::Decoded => {
                    let dest = download::resolve_output(path, &format!("{export_id}.ndjson"));
                    let mut reader = flow.decode_records(body, &export, &replacements).await?;
                    let mut out = AtomicFile::create(&dest).await?;
                    // Each record is one line: JSON has no raw newline inside a value.
                    let mut records = 0u64;
                    out.copy_from(&mut reader, |chunk| {
                        records += memchr::memchr_iter(b'\n', chunk).count() as u64;
                    })
                    .await?;
                    (dest, out.commit().await?, Some(records))
                }
            };
            Ok((dest, bytes, records, export.file_name, replacements.get()))
        };
        let ((path, bytes, records, file_name, replaced), attempts) =
            flow.with_attempts(attempt).await?;
        Ok(ExportSummary {
            export_id: export_id.clone(),
            path,
            bytes,
            records,
            file_name,
            attempts,
            deleted: flow.finish(export_id, bytes, records).await,
            replaced,
        })
    }

    /// The records, parsed, as a stream. Errors end the stream.
    pub fn records(self) -> Records {
        self.stream(values)
    }

    /// The records as [`save`](Self::save) writes them in [`SaveMode::Decoded`]: each item
    /// is one record's JSON text, without the newline (JSON lines exactly
    /// as exported; CSV rows as objects in header order). For writers that
    /// pass records on: nothing is parsed or allocated per record. Errors
    /// end the stream.
    pub fn lines(self) -> Records<Bytes> {
        self.stream(lines)
    }

    /// The records as one NDJSON byte stream to read, exactly what
    /// [`save`](Self::save) writes in [`SaveMode::Decoded`]. The export runs
    /// as the reader is read; its errors (the task, the download, a
    /// corrupt archive) arrive as read errors wrapping the [`Error`].
    pub fn into_reader(self) -> BoxReader {
        let newline = Bytes::from_static(b"\n");
        let chunks = self
            .lines()
            .map(move |line| {
                let pair = match line {
                    Ok(line) => [Some(Ok(line)), Some(Ok(newline.clone()))],
                    Err(e) => [Some(Err(std::io::Error::other(e))), None],
                };
                futures::stream::iter(pair.into_iter().flatten())
            })
            .flatten();
        Box::pin(tokio_util::io::StreamReader::new(chunks))
    }

    fn stream<T: Send + 'static>(
        self,
        read: fn(BoxReader) -> BoxStream<'static, Result<T>>,
    ) -> Records<T> {
        let replacements = Replacements::new();
        let state = RecordsState {
            export_id: None,
            run: Run {
                replacements: replacements.clone(),
                counted: Replacements::new(),
                flow: self.flow,
                lines: None,
                read,
                yielded: 0,
                seen: 0,
                attempt: 0,
                received: Arc::new(AtomicU64::new(0)),
            },
        };
        // An error ends the stream.
        let inner = futures::stream::try_unfold(state, |mut st| async move {
            Ok(st.next().await?.map(|v| (v, st)))
        });
        Records {
            replacements,
            inner: inner.boxed(),
            span: tracing::info_span!(
                "export_logs",
                vendor = "tencent-cls",
                operation = "export_logs"
            ),
        }
    }
}

/// The shortest wait between status polls.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The records of the converter's NDJSON, one line each (without the
/// newline).
fn lines(reader: BoxReader) -> BoxStream<'static, Result<Bytes>> {
    let codec = tokio_util::codec::AnyDelimiterCodec::new_with_max_length(
        b"\n".to_vec(),
        Vec::new(),
        usize::MAX,
    );
    tokio_util::codec::FramedRead::new(reader, codec)
        .map(|line| match line {
            Ok(line) => Ok(line),
            Err(tokio_util::codec::AnyDelimiterCodecError::Io(e)) => Err(Error::from(e)),
            Err(e) => Err(Error::decode(e.to_string())),
        })
        .boxed()
}

/// The records of the converter's NDJSON, one value per line.
fn values(reader: BoxReader) -> BoxStream<'static, Result<Value>> {
    lines(reader)
        .map(|line| {
            serde_json::from_slice(&line?)
                .map_err(|e| Error::decode(format!("an exported record is not JSON: {e}")))
        })
        .boxed()
}

impl Flow {
    fn emit(&self, event: ExportEvent) {
        if let Some(f) = &self.options.progress.0 {
            f(&event);
        }
    }

    /// Creates the task (or takes the existing one) and waits for it.
    async fn prepare(&self) -> Result<String> {
        let export_id = match &self.existing {
            Some(id) => {
                check_export_id(id)?;
                check_topic_id(&self.params.topic_id)?;
                id.clone()
            }
            None => self.client.create_export(&self.params).await?,
        };
        tracing::info!(export_id = %export_id, "export task created");
        self.emit(ExportEvent::Created {
            export_id: export_id.clone(),
        });
        self.wait(&export_id).await?;
        Ok(export_id)
    }

    async fn wait(&self, export_id: &str) -> Result<Export> {
        let now = tokio::time::Instant::now();
        // `Duration::MAX` means "no limit", not a panic on overflow.
        let deadline = now
            .checked_add(self.options.wait_timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        let mut interval = self.options.poll_initial;
        let mut last: Option<ExportStatus> = None;
        loop {
            let export = self
                .client
                .find_export(&self.params.topic_id, export_id)
                .await?;
            if last.as_ref() != Some(&export.status) {
                tracing::info!(export_id, status = %export.status, "export status");
                self.emit(ExportEvent::Status {
                    export_id: export_id.to_string(),
                    status: export.status.clone(),
                });
                last = Some(export.status.clone());
            }
            match export.status {
                ExportStatus::Completed => return Ok(export),
                ExportStatus::Failed | ExportStatus::Expired => return Err(ended(&export)),
                _ => {}
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(export_failed(format!(
                    "export {export_id} did not complete within {:?} (last status {}); it keeps running and can be resumed",
                    self.options.wait_timeout, export.status
                ))
                .with_retryable(true));
            }
            // The last wait is cut short so the final poll lands on the
            // deadline rather than giving up an interval early.
            tokio::time::sleep(interval.min(remaining)).await;
            interval = interval.saturating_mul(2).min(self.options.poll_max);
        }
    }

    /// Decodes a download and converts its records to NDJSON, both on the
    /// decoding thread.
    async fn decode_records(
        &self,
        body: ByteStream,
        export: &Export,
        replacements: &Replacements,
    ) -> Result<BoxReader> {
        let format = export.file_format().unwrap_or(self.params.format);
        let converter = NdjsonConverter::new(format, replacements.clone());
        let (reader, layout) =
            download::decode_transformed(body, gzip_only(), replacements, Box::new(converter))
                .await?;
        tracing::debug!(gzip = layout.gzip, tar = layout.tar, "export file layout");
        Ok(reader)
    }

    /// Describes the task again (the download URL lasts an hour, so take a
    /// fresh one for every attempt) and opens the download.
    async fn open_download(&self, export_id: &str, attempt: u32) -> Result<(ByteStream, Export)> {
        let export = self
            .client
            .find_export(&self.params.topic_id, export_id)
            .await?;
        match export.status {
            ExportStatus::Completed => {}
            ExportStatus::Failed | ExportStatus::Expired => return Err(ended(&export)),
            _ => {
                return Err(export_failed(format!(
                    "export {export_id} is {} again; it cannot be downloaded now",
                    export.status
                )))
            }
        }
        let url = export.download_url().ok_or_else(|| {
            Error::decode(format!(
                "export {export_id} is Completed but has no CosPath"
            ))
        })?;
        let url = crate::endpoint::check_download_url(url)
            .map_err(|e| e.with_vendor(Vendor::TencentCls))?;
        let response = self
            .client
            .downloader()
            .get(url)
            .await
            .map_err(|e| e.with_vendor(Vendor::TencentCls))?;
        let status = response.status().as_u16();
        if status != 200 {
            let message = format!("the export file download answered HTTP {status}");
            let mut err = super::error::status_error(status, message);
            if let Some(after) = crate::retry::retry_after_header(response.headers()) {
                err = err.with_retry_after(after);
            }
            return Err(err);
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        download::check_file_content_type(content_type.as_deref()).map_err(tag)?;
        let total = response.content_length().or(export.file_size);
        self.emit(ExportEvent::DownloadStarted {
            export_id: export_id.to_string(),
            attempt,
            file_name: export.file_name.clone(),
            total_bytes: total,
        });
        let body = self.client.downloader().body(response);
        let body = match self.options.progress.0.clone() {
            Some(progress) => {
                let mut received = 0u64;
                download::observe(body, move |n| {
                    received += n;
                    progress(&ExportEvent::Downloaded {
                        bytes: received,
                        total_bytes: total,
                    });
                })
            }
            None => body,
        };
        Ok((body, export))
    }

    /// Runs `attempt` (given its number, from 1) until it succeeds, or
    /// fails in a way a fresh download cannot cure, or the attempts run out.
    /// Returns its result and the attempts made.
    async fn with_attempts<T, F, Fut>(&self, mut attempt: F) -> Result<(T, u32)>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut n = 0;
        loop {
            n += 1;
            match attempt(n).await {
                Ok(done) => return Ok((done, n)),
                Err(e) => self.after_failed_attempt(e, n).await?,
            }
        }
    }

    /// Decides whether a failed download attempt is repeated: returns after
    /// the backoff if so, or the error if not.
    async fn after_failed_attempt(&self, err: Error, attempt: u32) -> Result<()> {
        let err = tag(err);
        if attempt >= self.options.download_attempts || !worth_retrying(&err) {
            return Err(err);
        }
        tracing::warn!(attempt, error = %err, "export download failed; starting again");
        self.emit(ExportEvent::DownloadRetry {
            attempt,
            reason: err.to_string(),
        });
        let wait = self.client.retry_policy().delay(attempt, err.retry_after());
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Reports completion and deletes the task if asked. A failed deletion
    /// does not undo a complete export: it is logged and reported as
    /// `deleted: false`.
    async fn finish(&self, export_id: &str, bytes: u64, records: Option<u64>) -> bool {
        self.emit(ExportEvent::Finished { bytes, records });
        if !self.options.delete_after {
            return false;
        }
        match self.client.delete_export(export_id).await {
            Ok(()) => {
                self.emit(ExportEvent::Deleted {
                    export_id: export_id.to_string(),
                });
                true
            }
            Err(e) => {
                tracing::warn!(export_id, error = %e, "could not delete the export task");
                false
            }
        }
    }
}

/// Failures a fresh download can cure: the connection, a body cut short,
/// an expired link, throttling. A wrong content type, a corrupt archive or
/// undecodable data would fail the same way again.
fn worth_retrying(err: &Error) -> bool {
    match err.kind() {
        ErrorKind::Network | ErrorKind::RateLimited => true,
        ErrorKind::Decode => err.is_retryable(),
        ErrorKind::Auth => err.status() == Some(403),
        ErrorKind::Api => err.is_retryable(),
        _ => false,
    }
}

/// The export file is gzip (a `.tar.gz`); anything else is a page or a message.
fn gzip_only() -> DecodeOptions {
    DecodeOptions::default().require_gzip(true)
}

/// Attributes a download failure to this vendor and step.
fn tag(err: Error) -> Error {
    err.with_vendor(Vendor::TencentCls)
        .with_operation("download_export")
}

fn ended(export: &Export) -> Error {
    export_failed(format!(
        "export {} ended {}",
        export.export_id, export.status
    ))
    .with_code(export.status.as_str())
}

fn export_failed(message: String) -> Error {
    Error::new(ErrorKind::ExportFailed, message).with_vendor(Vendor::TencentCls)
}

/// A plain file name from what the service suggests: no directories, no
/// leading dots.
fn safe_file_name(suggested: Option<&str>, fallback: &str) -> String {
    suggested
        .and_then(crate::download::sanitize_file_name)
        .unwrap_or_else(|| fallback.to_string())
}

/// The records of an export, as a `Stream` of JSON values
/// ([`ExportLogs::records`]) or of each record's NDJSON line
/// ([`ExportLogs::lines`]).
pub struct Records<T = Value> {
    replacements: Replacements,
    inner: BoxStream<'static, Result<T>>,
    span: tracing::Span,
}

impl<T> fmt::Debug for Records<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Records")
    }
}

impl<T> Records<T> {
    /// A handle on the count of invalid UTF-8 sequences replaced with
    /// U+FFFD in the records so far (see the [text policy](crate::download)).
    /// A download started again after a failure re-reads the file without
    /// counting its replacements a second time.
    pub fn replacements(&self) -> Replacements {
        self.replacements.clone()
    }
}

impl<T> Stream for Records<T> {
    type Item = Result<T>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.inner.as_mut().poll_next(cx)
    }
}

/// A record stream's progress through the export.
struct RecordsState<T> {
    /// The task, once created (or found) and complete.
    export_id: Option<String>,
    run: Run<T>,
}

impl<T: Send + 'static> RecordsState<T> {
    async fn next(&mut self) -> Result<Option<T>> {
        let export_id = match &self.export_id {
            Some(id) => id,
            None => self.export_id.insert(self.run.flow.prepare().await?),
        };
        self.run.next(export_id).await
    }
}

/// The downloads of a record stream: the current attempt and what was
/// handed out before it.
struct Run<T> {
    flow: Arc<Flow>,
    /// The count the consumer sees ([`Records::replacements`]).
    replacements: Replacements,
    /// The count of the current attempt, which decodes from the start.
    counted: Replacements,
    lines: Option<BoxStream<'static, Result<T>>>,
    /// Reads the records of a converted download.
    read: fn(BoxReader) -> BoxStream<'static, Result<T>>,
    /// Records handed out so far, across attempts.
    yielded: u64,
    /// Records parsed in the current attempt (the first `yielded` are skipped).
    seen: u64,
    attempt: u32,
    received: Arc<AtomicU64>,
}

impl<T: Send + 'static> Run<T> {
    async fn next(&mut self, export_id: &str) -> Result<Option<T>> {
        loop {
            let Some(lines) = self.lines.as_mut() else {
                self.attempt += 1;
                match self.open(export_id).await {
                    Ok(lines) => {
                        self.lines = Some(lines);
                        self.seen = 0;
                    }
                    Err(e) => self.flow.after_failed_attempt(e, self.attempt).await?,
                }
                continue;
            };
            let next = lines.next().await;
            self.publish_replacements();
            match next {
                Some(Ok(record)) => {
                    self.seen += 1;
                    // After a restart, the file is the same: skip what
                    // the consumer already has.
                    if self.seen <= self.yielded {
                        continue;
                    }
                    self.yielded += 1;
                    return Ok(Some(record));
                }
                Some(Err(e)) => {
                    self.lines = None;
                    self.flow.after_failed_attempt(e, self.attempt).await?;
                }
                None => {
                    self.lines = None;
                    let bytes = self.received.load(Ordering::Relaxed);
                    self.flow.finish(export_id, bytes, Some(self.yielded)).await;
                    return Ok(None);
                }
            }
        }
    }

    /// Brings the consumer's count up to the current attempt's. Every
    /// attempt reads the same file from its start, so the attempt that got
    /// furthest has counted every replacement so far, and the others a
    /// prefix of them: the larger count is the true one, and a restart
    /// re-reading records already handed out adds nothing until it passes
    /// the point where the failed attempt stopped. Only this task writes
    /// the consumer's count, so comparing and adding cannot race.
    fn publish_replacements(&self) {
        let (counted, shown) = (self.counted.get(), self.replacements.get());
        if counted > shown {
            self.replacements.add(counted - shown);
        }
    }

    async fn open(&mut self, export_id: &str) -> Result<BoxStream<'static, Result<T>>> {
        let (body, export) = self.flow.open_download(export_id, self.attempt).await?;
        let received = self.received.clone();
        received.store(0, Ordering::Relaxed);
        let body = download::observe(body, move |n| {
            received.fetch_add(n, Ordering::Relaxed);
        });
        self.counted = Replacements::new();
        let reader = self
            .flow
            .decode_records(body, &export, &self.counted)
            .await?;
        Ok((self.read)(reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_curable_download_failures_are_retried() {
        assert!(worth_retrying(&Error::new(ErrorKind::Network, "reset")));
        assert!(worth_retrying(
            &Error::decode("truncated gzip").with_retryable(true)
        ));
        assert!(!worth_retrying(&Error::decode("bad CRC")));
        assert!(worth_retrying(
            &Error::new(ErrorKind::Auth, "expired link").with_status(403)
        ));
        assert!(!worth_retrying(
            &Error::new(ErrorKind::Auth, "bad signature").with_status(200)
        ));
        assert!(!worth_retrying(&Error::new(
            ErrorKind::ExportFailed,
            "failed"
        )));
        assert!(!worth_retrying(&Error::new(ErrorKind::Io, "disk full")));
        assert!(!worth_retrying(
            &Error::new(ErrorKind::NotFound, "gone").with_status(404)
        ));
    }

    #[test]
    fn server_file_names_are_reduced_to_a_name() {
        assert_eq!(safe_file_name(Some("../../etc/passwd"), "x"), "passwd");
        assert_eq!(safe_file_name(Some(".hidden.tar.gz"), "x"), "hidden.tar.gz");
        assert_eq!(
            safe_file_name(Some(".."), "fallback.tar.gz"),
            "fallback.tar.gz"
        );
        assert_eq!(safe_file_name(None, "fallback.tar.gz"), "fallback.tar.gz");
    }
}
