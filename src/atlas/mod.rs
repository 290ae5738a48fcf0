//! MongoDB Atlas: cluster host logs, stream processing logs, events and
//! database access history.
//!
//! What this layer adds to the generated client:
//!
//! * **Versioned `Accept`.** Every request names the exact resource version
//!   the spec lists for its operation ([`versions`]); pin another one with
//!   [`ClientBuilder::version`] or [`Client::with_version`]. Unknown versions
//!   are refused locally; 406/410 answers become [`ErrorKind::Version`];
//!   `Deprecation`/`Sunset` headers are logged and shown in
//!   [`DownloadMeta`].
//! * **Both auth schemes.** API keys with HTTP Digest (nonce reused with an
//!   increasing count, so a steady stream of calls does not pay two round
//!   trips each) and service accounts with OAuth client credentials (one
//!   cached token per client, refreshed before expiry, fetched once however
//!   many calls wait for it). See [`Credentials`].
//! * **Retries** of 429 and 503 honouring `Retry-After`, and nothing else
//!   in 4xx.
//! * **Streaming downloads** ([`Download`]) in bounded memory, and
//!   **pagination** of events, processes and workspaces as `Stream`s.
//!
//! [`ErrorKind::Version`]: crate::ErrorKind::Version
//!
//! ```no_run
//! # async fn demo() -> logexport::Result<()> {
//! use logexport::atlas::{Client, EventQuery};
//! use futures::TryStreamExt;
//!
//! let client = Client::builder()
//!     .service_account("mdb_sa_id_…", "mdb_sa_sk_…")
//!     .build()?;
//! let mut events = client.project_events("5f2a0c3e9d1b4a6c8e7f0a1b", EventQuery::default())?;
//! while let Some(event) = events.try_next().await? {
//!     println!("{} {}", event.event_type_name, event.id);
//! }
//! # Ok(()) }
//! ```

mod client;
// Crate-visible for `profile::atlascli`, which builds its errors alike.
pub(crate) mod credentials;
pub mod digest;
mod download;
mod error;
crate::hooks::generated_module!();
mod pipeline;
mod types;
mod validate;
mod version;

pub use crate::download::{Progress, ProgressFn, SaveMode};
pub use client::{Client, ClientBuilder, DEFAULT_ENDPOINT};
pub use credentials::{
    Credentials, EnvSettings, ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_OPS_MANAGER_URL,
    ENV_ORG_ID, ENV_PRIVATE_KEY, ENV_PROJECT_ID, ENV_PUBLIC_KEY,
};
pub use download::{Download, DownloadMeta, Saved};
#[doc(hidden)]
pub use pipeline::Pipeline;
pub use types::{
    AccessHistoryQuery, AccessLogEntry, Event, EventQuery, LogName, Process, StreamLogOptions,
    StreamWorkspace, TimeRange,
};
pub use version::{operations, versions, ApiVersion};
