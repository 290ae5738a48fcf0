//! Tencent Cloud Log Service (CLS, API 2020-10-16): export tasks, topics
//! and search.
//!
//! The pieces:
//! - [`Client`] / [`ClientBuilder`]: one typed method per action
//!   (CreateExport, DescribeExports, DeleteExport, DescribeTopics,
//!   SearchLog), input checked before sending;
//! - [`Client::export_logs`]: the whole export workflow, from creating the
//!   task to a stream of records or a file (see [`export`]);
//! - [`sign`]: TC3-HMAC-SHA256 as pure functions;
//! - [`Credentials`], [`ProvideCredentials`], [`Region`]: who calls, where.
//!
//! Every request is sent the way Tencent expects it: `POST /` on
//! `cls.<region>.tencentcloudapi.com` with `X-TC-Action`, `X-TC-Version`,
//! `X-TC-Region`, `X-TC-Timestamp`, `X-TC-Token` for temporary credentials,
//! and a TC3 `Authorization`. Errors that Tencent returns inside an HTTP 200
//! envelope become typed [`crate::Error`]s with code and request id.
//! Throttling and transient failures are retried within the client's
//! [`RetryPolicy`](crate::RetryPolicy); CreateExport and DescribeExports are
//! paced to 20 requests per second per client; a clock that is off by more
//! than five minutes is corrected from the server's `Date` header.
//!
//! ```no_run
//! # async fn demo() -> logexport::Result<()> {
//! use logexport::tencent_cls::{Client, ExportOptions, SaveMode, TimeRange};
//! use std::time::Duration;
//!
//! let client = Client::from_env()?; // TENCENTCLOUD_SECRET_ID, _SECRET_KEY, _REGION
//! let summary = client
//!     .export_logs("topic-id", "*", TimeRange::last(Duration::from_secs(3600)), ExportOptions::default())
//!     .save("logs.ndjson", SaveMode::Decoded)
//!     .await?;
//! println!("{} records", summary.records.unwrap_or(0));
//! # Ok(()) }
//! ```

mod client;
mod credentials;
mod error;
pub mod export;
crate::hooks::generated_module!();
mod pipeline;
pub(crate) mod records;
pub mod search;
pub mod sign;
mod types;

pub use crate::download::{Progress, ProgressFn, SaveMode};
pub use client::{Client, ClientBuilder, DEFAULT_RATE_LIMIT};
pub use credentials::{
    Credentials, EnvironmentCredentials, ProvideCredentials, Region, ENV_REGION, ENV_SECRET_ID,
    ENV_SECRET_KEY, ENV_SESSION_TOKEN, ENV_SESSION_TOKEN_ALIASES,
};
pub use error::kind_for_code;
pub use export::{EventFn, ExportEvent, ExportLogs, ExportOptions, ExportSummary, Records};
#[doc(hidden)]
pub use pipeline::Pipeline;
pub use search::MAX_RESULTS_PER_CONTEXT;
pub use types::{
    Export, ExportPage, ExportParams, ExportStatus, Format, LogEntry, Order, SearchPage,
    SearchParams, SyntaxRule, TimeRange, Topic, TopicFilter, TopicPage, MAX_EXPORT_COUNT,
    MAX_PAGE_LIMIT, MAX_SEARCH_LIMIT,
};

/// The API version every request names in `X-TC-Version`.
pub const API_VERSION: &str = "2020-10-16";
