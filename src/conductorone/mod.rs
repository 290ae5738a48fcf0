//! ConductorOne (C1) system log: exporters and OCSF events.
//!
//! [`Client`] wraps the client generated from `specs/conductorone.yaml` and
//! adds what the spec cannot say:
//! - **Auth.** Client credentials (`name@<tenant>.conductor.one/<use>` and an
//!   Ed25519 `secret-token:conductorone.com:v1:…` key) are exchanged at
//!   `/auth/v1/token` for a bearer token by a signed JWT assertion
//!   ([`assertion`]). The token is cached, shared by clones, refreshed 10 s
//!   before expiry by a single caller, and replaced once on a 401. A plain
//!   access token works too.
//! - **Retries.** 429 and 5xx with `Retry-After`; a create is never re-sent
//!   once the server may have applied it.
//! - **Types.** [`Exporter`], open enums ([`ExportState`], [`ExportFormat`])
//!   that keep unknown values, and [`ExporterUpdate`], which builds the
//!   update mask from the fields you set.
//! - **Events** as a [`futures::Stream`] of OCSF JSON objects
//!   ([`EventStream`]), prefetching one page ahead, resumable from an event uid;
//!   or as the JSON text the server sent ([`RawEvent`], from
//!   [`EventQuery::stream_raw`]), for storing and forwarding without parsing.
//!
//! ```no_run
//! # async fn demo() -> logexport::Result<()> {
//! use futures::TryStreamExt as _;
//! use logexport::conductorone::{event_uid, Client};
//!
//! let client = Client::builder()
//!     .client_credentials("robot@acme.conductor.one/logexport", std::env::var("CONE_CLIENT_SECRET").unwrap())
//!     .build()?;
//! let mut events = client.events().since(chrono::Utc::now() - chrono::Duration::hours(1)).stream()?;
//! while let Some(event) = events.try_next().await? {
//!     println!("{}", event_uid(&event).unwrap_or_default());
//! }
//! # Ok(()) }
//! ```

pub mod assertion;
mod client;
pub(crate) mod credentials;
mod error;
mod events;
mod raw;
crate::hooks::generated_module!();
mod pipeline;
mod types;

pub use crate::TimeRange;
pub use client::{
    Client, ClientBuilder, ListExporters, SearchExporters, DEFAULT_EXPORTER_PAGE_SIZE,
};
pub use credentials::{
    endpoint_from_lookup, ClientId, ClientSecret, Credentials, ENV_ACCESS_TOKEN,
    ENV_ACCESS_TOKEN_NAMES, ENV_CLIENT_ID, ENV_CLIENT_ID_NAMES, ENV_CLIENT_SECRET,
    ENV_CLIENT_SECRET_NAMES, ENV_ENDPOINT, ENV_ENDPOINT_NAMES, SECRET_PREFIX,
};
pub use events::{event_time, event_uid, EventQuery, EventStream, DEFAULT_PAGE_SIZE};
#[doc(hidden)]
pub use pipeline::Pipeline;
pub use raw::{RawEvent, RawEventPage};
pub use types::{
    Datasource, ExportFormat, ExportState, Exporter, ExporterUpdate, NewExporter, Page,
    SortDirection, PAGE_SIZES,
};
