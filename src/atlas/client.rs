//! The Atlas client: construction, log downloads, and paged listings.

use super::credentials::{self, Credentials, DigestState, ServiceAccount};
use super::download::Download;
use super::error::AtlasErrors;
use super::generated::{self, types as gen};
use super::pipeline::{Auth, Pipeline};
use super::types::{
    AccessHistoryQuery, AccessLogEntry, Event, EventQuery, LogName, Process, StreamLogOptions,
    StreamWorkspace, TimeRange,
};
use super::validate;
use crate::builder::{common_setters, Common};
use crate::hooks::VendorErrors as _;
use crate::http::attempt::Core;
use crate::http::transport::{Reqwest, Transport};
use crate::{Endpoint, Error, ErrorKind, Result, Vendor};
use futures::stream::BoxStream;

use progenitor_client::ClientInfo;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The public Atlas endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://cloud.mongodb.com";

/// A MongoDB Atlas Administration API client for log downloads and events.
///
/// Cheap to clone; clones share the HTTP connection pool, the cached Digest
/// nonce or OAuth token, and the rate limiter.
///
/// ```no_run
/// # async fn demo() -> logexport::Result<()> {
/// use logexport::atlas::{Client, LogName, TimeRange};
/// use futures::TryStreamExt;
///
/// let client = Client::from_env()?;
/// let download = client
///     .download_cluster_log(
///         "5f2a0c3e9d1b4a6c8e7f0a1b",
///         "cluster0-shard-00-00.ab1cd.mongodb.net",
///         LogName::Mongodb,
///         TimeRange::last(std::time::Duration::from_secs(3600)),
///     )
///     .await?;
/// let mut lines = download.lines();
/// while let Some(line) = lines.try_next().await? {
///     println!("{line}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    generated: generated::Client,
    endpoint: Endpoint,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("pipeline", self.pipeline())
            .finish()
    }
}

/// Builds a [`Client`].
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    common: Common,
    credentials: Option<Credentials>,
    versions: Vec<(String, String)>,
    token_refresh_margin: Option<Duration>,
    transport: Option<Arc<dyn Transport>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.common.endpoint)
            .field("credentials", &self.credentials)
            .field("retry", &self.common.retry)
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    common_setters!();

    /// The credentials to use.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// HTTP Digest with a programmatic API key.
    pub fn api_key(
        self,
        public_key: impl Into<String>,
        private_key: impl Into<crate::SecretString>,
    ) -> Self {
        self.credentials(Credentials::api_key(public_key, private_key))
    }

    /// OAuth client credentials with a service account.
    pub fn service_account(
        self,
        client_id: impl Into<String>,
        client_secret: impl Into<crate::SecretString>,
    ) -> Self {
        self.credentials(Credentials::service_account(client_id, client_secret))
    }

    /// Sends another resource version for `operation` (an operation id such
    /// as `download_cluster_log`); `version` is a date (`2023-01-01`) or a
    /// full media type. [`build`](Self::build) rejects versions the spec
    /// does not list.
    pub fn version(mut self, operation: &str, version: &str) -> Self {
        self.versions
            .push((operation.to_string(), version.to_string()));
        self
    }

    /// How long before expiry a service-account token is replaced
    /// (default 60 s).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = Some(margin);
        self
    }

    #[cfg(test)]
    pub(crate) fn transport(mut self, t: Arc<dyn Transport>) -> Self {
        self.transport = Some(t);
        self
    }

    /// Validates the configuration and builds the client. Nothing is sent.
    pub fn build(self) -> Result<Client> {
        let common = self.common;
        let endpoint = Endpoint::parse(common.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT))?;
        let credentials = self.credentials.ok_or_else(|| {
            credentials::cred_err("no Atlas credentials configured; use `api_key`, `service_account` or `Client::from_env`")
        })?;
        credentials.check()?;
        let http = common.http_client().map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("cannot build the HTTP client: {}", e.message()),
            )
        })?;
        let guard = crate::http::Guard::new(common.limits);
        let raw = self
            .transport
            .unwrap_or_else(|| Arc::new(Reqwest(http.clone())));
        let retry = common.retry.unwrap_or_default();
        // Token requests are held to the same core rules as the API's.
        let token_core = Core::new(raw.clone(), guard.clone(), retry.clone());
        let auth = match credentials {
            Credentials::ApiKey {
                public_key,
                private_key,
            } => {
                guard.redactor.add(private_key.expose());
                Auth::Digest {
                    user: public_key,
                    password: private_key,
                    state: DigestState::default(),
                }
            }
            Credentials::ServiceAccount {
                client_id,
                client_secret,
            } => {
                guard.redactor.add(client_secret.expose());
                // What the Basic header encodes.
                guard
                    .redactor
                    .add(&format!("{client_id}:{}", client_secret.expose()));
                Auth::Bearer(credentials::service_account_tokens(
                    ServiceAccount::new(&endpoint, client_id, client_secret, token_core)?,
                    self.token_refresh_margin.unwrap_or(Duration::from_secs(60)),
                ))
            }
        };
        let mut pipeline = Pipeline::new(raw, auth, retry, common.limiter).with_guard(guard);
        for (op, v) in &self.versions {
            pipeline = pipeline.with_pins(pipeline.pins().with(op, v)?);
        }
        Ok(Client::assemble(endpoint, http, pipeline))
    }
}

/// The two stream processing log downloads, which take the same
/// parameters and differ only in the generated operation they call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamLog {
    Audit,
    Operational,
}

impl StreamLog {
    /// The operation id (errors, version pins, the Accept table).
    fn operation(self) -> &'static str {
        match self {
            StreamLog::Audit => "download_stream_audit_logs",
            StreamLog::Operational => "download_stream_operational_logs",
        }
    }

    /// The prefix of the file name the download is saved under when the
    /// server names none.
    fn prefix(self) -> &'static str {
        match self {
            StreamLog::Audit => "auditLogs",
            StreamLog::Operational => "operationalLogs",
        }
    }
}

/// Sends a generated listing request `b` and reads the page it returns.
macro_rules! read_page {
    ($operation:expr, $b:expr) => {{
        let v = AtlasErrors::call($b.send()).await?;
        let rels = v.links.into_iter().map(|l| l.rel);
        Page::read($operation, v.results, v.total_count, rels)
    }};
}

/// A listing of a project, 100 a page, by the generated operation
/// `$operation` with further builder calls `$extra`.
macro_rules! project_listing {
    ($client:expr, $project:expr, $operation:ident $(. $extra:ident($arg:expr))*) => {{
        let group = validate::object_id("groupId", $project)?;
        let client = $client.clone();
        Ok(paged(stringify!($operation), 100, move |page| {
            let (client, group) = (client.clone(), group.clone());
            async move {
                let b = client
                    .generated()
                    .$operation()
                    .group_id(group.as_str())
                    .page_num(u64::from(page))
                    .items_per_page(100u64)
                    $(.$extra($arg))*;
                read_page!(stringify!($operation), b)
            }
        }))
    }};
}

/// `b`, a generated event listing builder, for page `page` with `filter`
/// applied; `ty` is its event type.
macro_rules! with_filter {
    ($b:expr, $filter:expr, $page:expr, $ty:path) => {{
        let filter = $filter;
        let mut b = $b
            .page_num(u64::from($page))
            .items_per_page(u64::from(filter.per_page))
            .include_count(true);
        if !filter.types.is_empty() {
            b = b.event_type(filter.types.into_iter().map($ty).collect::<Vec<_>>());
        }
        if let Some(t) = filter.min_date {
            b = b.min_date(t);
        }
        if let Some(t) = filter.max_date {
            b = b.max_date(t);
        }
        if filter.include_raw {
            b = b.include_raw(true);
        }
        b
    }};
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: credentials as
    /// [`Credentials::from_env`] reads them, and the endpoint from
    /// `MONGODB_ATLAS_BASE_URL` or `MONGODB_ATLAS_OPS_MANAGER_URL` if set.
    pub fn from_env() -> Result<Client> {
        let mut b = Client::builder().credentials(Credentials::from_env()?);
        if let Some(url) = credentials::EnvSettings::from_env().base_url {
            b = b.endpoint(&url);
        }
        b.build()
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// `"digest"` or `"service-account"`.
    pub fn auth_scheme(&self) -> &'static str {
        self.pipeline().scheme()
    }

    /// The generated client, for operations this layer does not wrap. It
    /// shares this client's authentication, retries and versions.
    pub fn generated(&self) -> &generated::Client {
        &self.inner.generated
    }

    /// A client sending to `endpoint` over `http`, through `pipeline`.
    fn assemble(endpoint: Endpoint, http: reqwest::Client, pipeline: Pipeline) -> Client {
        let generated = generated::Client::new_with_client(endpoint.as_str(), http, pipeline);
        let inner = Arc::new(Inner {
            generated,
            endpoint,
        });
        Client { inner }
    }

    fn pipeline(&self) -> &Pipeline {
        self.inner.generated.inner()
    }

    /// The `Accept` media type sent for `operation`.
    pub fn media_type(&self, operation: &str) -> Option<&'static str> {
        self.pipeline().pins().accept(operation)
    }

    /// A client that sends `version` for `operation` and shares everything
    /// else (auth state, connections) with this one. A version the spec
    /// does not list for the operation is `InvalidInput`.
    pub fn with_version(&self, operation: &str, version: &str) -> Result<Client> {
        let pins = self.pipeline().pins().with(operation, version)?;
        let pipeline = self.pipeline().with_pins(pins);
        let (endpoint, http) = (&self.inner.endpoint, self.inner.generated.client());
        Ok(Client::assemble(endpoint.clone(), http.clone(), pipeline))
    }

    /// Revokes the cached service-account token (`POST /api/oauth/revoke`).
    ///
    /// Atlas lets a service account hold at most 100 live tokens, each
    /// living an hour, and refuses new ones with 403 past that. A client
    /// fetches one token and shares it with its clones, but a program that
    /// builds a client per job (a cron job, parallel workers) mints one per
    /// job: revoke it when the job ends, or see
    /// [`with_scoped_token`](Self::with_scoped_token).
    ///
    /// Returns whether there was a token to revoke; the next call through
    /// this client (or a clone) fetches a new one. No request waits on a
    /// token while the revocation is in flight. With API-key credentials
    /// there is nothing to revoke and this returns `Ok(false)` at once.
    ///
    /// ```no_run
    /// # async fn demo() -> logexport::Result<()> {
    /// let client = logexport::atlas::Client::from_env()?;
    /// let processes = client.processes("5f2a0c3e9d1b4a6c8e7f0a1b")?;
    /// # drop(processes);
    /// // ... use the client ...
    /// client.revoke_token().await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(skip_all, fields(vendor = "atlas", operation = "revoke_token"))]
    pub async fn revoke_token(&self) -> Result<bool> {
        match self.pipeline().tokens() {
            Some(t) => credentials::revoke(t).await,
            None => Ok(false),
        }
    }

    /// Runs `work` with this client, then revokes the service-account token
    /// it used, whether `work` succeeded or not: the token lives exactly as
    /// long as the block of work.
    ///
    /// `work`'s error wins over a failed revocation (which is logged); after
    /// successful work, a failed revocation is the error, since the token
    /// then still counts against the account's cap of 100. Clones share the
    /// token, so a clone used concurrently elsewhere fetches a new one on
    /// its next call. If the returned future is dropped before it finishes
    /// (a timeout, Ctrl-C), nothing is revoked: call
    /// [`revoke_token`](Self::revoke_token) on your way out instead.
    ///
    /// ```no_run
    /// # async fn demo() -> logexport::Result<()> {
    /// use futures::TryStreamExt;
    ///
    /// let client = logexport::atlas::Client::from_env()?;
    /// let count = client
    ///     .with_scoped_token(|c| async move {
    ///         let all: Vec<_> = c.processes("5f2a0c3e9d1b4a6c8e7f0a1b")?.try_collect().await?;
    ///         Ok(all.len())
    ///     })
    ///     .await?;
    /// println!("{count} processes; no token left live");
    /// # Ok(()) }
    /// ```
    pub async fn with_scoped_token<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let result = work(self.clone()).await;
        let revoked = self.revoke_token().await;
        match (result, revoked) {
            (Ok(value), Ok(_)) => Ok(value),
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(e),
            (Err(e), Err(revoke)) => {
                tracing::warn!(error = %revoke, "could not revoke the service-account token");
                Err(e)
            }
        }
    }

    /// Downloads the audit logs of a stream processing workspace for a
    /// window (sent as Unix seconds).
    #[tracing::instrument(
        skip_all,
        fields(vendor = "atlas", operation = "download_stream_audit_logs")
    )]
    pub async fn download_stream_audit_logs(
        &self,
        project: &str,
        workspace: &str,
        range: TimeRange,
        options: StreamLogOptions,
    ) -> Result<Download> {
        self.stream_logs(StreamLog::Audit, project, workspace, range, options)
            .await
    }

    /// Downloads the operational logs of a stream processing workspace.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "atlas", operation = "download_stream_operational_logs")
    )]
    pub async fn download_stream_operational_logs(
        &self,
        project: &str,
        workspace: &str,
        range: TimeRange,
        options: StreamLogOptions,
    ) -> Result<Download> {
        self.stream_logs(StreamLog::Operational, project, workspace, range, options)
            .await
    }

    async fn stream_logs(
        &self,
        log: StreamLog,
        project: &str,
        workspace: &str,
        range: TimeRange,
        options: StreamLogOptions,
    ) -> Result<Download> {
        let group = validate::object_id("groupId", project)?;
        let workspace = validate::plain_name("tenantName", workspace)?;
        if let Some(p) = &options.processor {
            validate::plain_name("spName", p)?;
        }
        let (start, end) = validate::window_secs(&range)?;
        let media_type = self.media_type(log.operation()).unwrap_or_default();
        // The two operations take the same parameters.
        macro_rules! send {
            ($builder:expr) => {{
                let mut b = $builder
                    .group_id(group.as_str())
                    .tenant_name(workspace)
                    .start_date(start)
                    .end_date(end);
                if let Some(p) = &options.processor {
                    b = b.sp_name(p.as_str());
                }
                crate::hooks::send::<AtlasErrors, _>(b.send()).await
            }};
        }
        let g = self.generated();
        let sent = match log {
            StreamLog::Audit => send!(g.download_stream_audit_logs()),
            StreamLog::Operational => send!(g.download_stream_operational_logs()),
        };
        let rv = sent?;
        let fallback = format!("{}_{}_{start}_{end}.gz", log.prefix(), sanitize(workspace));
        Ok(Download::from_response(
            rv,
            log.operation(),
            media_type,
            fallback,
        ))
    }

    /// Downloads a log of one cluster host for a window (sent as Unix
    /// seconds). `host` is a host name as [`processes`](Self::processes)
    /// lists it.
    #[tracing::instrument(skip_all, fields(vendor = "atlas", operation = "download_cluster_log"))]
    pub async fn download_cluster_log(
        &self,
        project: &str,
        host: &str,
        log_name: LogName,
        range: TimeRange,
    ) -> Result<Download> {
        let group = validate::object_id("groupId", project)?;
        let host = validate::host_name(host)?;
        let (start, end) = validate::window_secs(&range)?;
        let operation = "download_cluster_log";
        let media_type = self.media_type(operation).unwrap_or_default();
        let sent = self
            .generated()
            .download_cluster_log()
            .group_id(group.as_str())
            .host_name(host)
            .log_name(log_name.as_str())
            .start_date(start)
            .end_date(end)
            .send();
        let sent = crate::hooks::send::<AtlasErrors, _>(sent).await;
        let rv = sent?;
        let fallback = format!(
            "{}_{}_{start}_{end}.log.gz",
            sanitize(host),
            log_name.as_str()
        );
        Ok(Download::from_response(rv, operation, media_type, fallback))
    }

    /// The events of a project, newest first, fetched page by page as the
    /// stream is polled. Bad input is reported here, before any request.
    pub fn project_events(
        &self,
        project: &str,
        query: EventQuery,
    ) -> Result<BoxStream<'static, Result<Event>>> {
        let group = validate::object_id("groupId", project)?;
        let filter = EventFilter::new(&query)?;
        let excluded = query
            .excluded_event_types
            .iter()
            .map(|t| validate::event_type(t).map(|t| gen::EventTypeForNdsGroup(t.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let clusters = query
            .cluster_names
            .iter()
            .map(|c| {
                gen::ListProjectEventsClusterNamesItem::try_from(validate::cluster_name(c)?)
                    .map_err(|e| Error::invalid_input("clusterNames", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let client = self.clone();
        Ok(paged("list_project_events", filter.per_page, move |page| {
            let (client, group, filter) = (client.clone(), group.clone(), filter.clone());
            let (excluded, clusters) = (excluded.clone(), clusters.clone());
            async move {
                let mut b = client
                    .generated()
                    .list_project_events()
                    .group_id(group.as_str());
                b = with_filter!(b, filter, page, gen::EventTypeForNdsGroup);
                if !excluded.is_empty() {
                    b = b.excluded_event_type(excluded);
                }
                if !clusters.is_empty() {
                    b = b.cluster_names(clusters);
                }
                read_page!("list_project_events", b)
            }
        }))
    }

    /// The events of an organization, newest first, page by page.
    pub fn org_events(
        &self,
        org: &str,
        query: EventQuery,
    ) -> Result<BoxStream<'static, Result<Event>>> {
        let org = validate::object_id("orgId", org)?;
        if !query.excluded_event_types.is_empty() || !query.cluster_names.is_empty() {
            return Err(Error::invalid_input(
                "query",
                "excluded event types and cluster names apply to project events only",
            ));
        }
        let filter = EventFilter::new(&query)?;
        let client = self.clone();
        Ok(paged("list_org_events", filter.per_page, move |page| {
            let (client, org, filter) = (client.clone(), org.clone(), filter.clone());
            async move {
                let b = client.generated().list_org_events().org_id(org.as_str());
                read_page!(
                    "list_org_events",
                    with_filter!(b, filter, page, gen::EventTypeForOrg)
                )
            }
        }))
    }

    /// The MongoDB processes (hosts) of a project, page by page.
    pub fn processes(&self, project: &str) -> Result<BoxStream<'static, Result<Process>>> {
        project_listing!(self, project, list_processes.include_count(true))
    }

    /// The stream processing workspaces of a project, page by page. (The
    /// operation takes no `includeCount`: a `next` link or a full page says
    /// whether there is more.)
    pub fn stream_workspaces(
        &self,
        project: &str,
    ) -> Result<BoxStream<'static, Result<StreamWorkspace>>> {
        project_listing!(self, project, list_stream_workspaces)
    }

    /// One stream processing workspace.
    #[tracing::instrument(skip_all, fields(vendor = "atlas", operation = "get_stream_workspace"))]
    pub async fn stream_workspace(&self, project: &str, name: &str) -> Result<StreamWorkspace> {
        let group = validate::object_id("groupId", project)?;
        let name = validate::plain_name("tenantName", name)?;
        let sent = self
            .generated()
            .get_stream_workspace()
            .group_id(group.as_str())
            .tenant_name(name)
            .send();
        from_object(
            "get_stream_workspace",
            AtlasErrors::call(sent).await?.into(),
        )
    }

    /// The database access (authentication) history of a cluster. The window
    /// travels in milliseconds; at most 20000 entries.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "atlas", operation = "get_db_access_history_cluster")
    )]
    pub async fn db_access_history(
        &self,
        project: &str,
        cluster: &str,
        query: AccessHistoryQuery,
    ) -> Result<Vec<AccessLogEntry>> {
        let group = validate::object_id("groupId", project)?;
        let cluster = validate::cluster_name(cluster)?;
        let mut b = self
            .generated()
            .get_db_access_history_cluster()
            .group_id(group.as_str())
            .cluster_name(cluster);
        if let Some(range) = &query.range {
            let (start, end) = validate::window_millis(range)?;
            b = b.start(start).end(end);
        }
        if let Some(n) = query.n_logs {
            b = b.n_logs(validate::n_logs(n)? as i32);
        }
        if let Some(ok) = query.auth_result {
            b = b.auth_result(ok);
        }
        if let Some(ip) = &query.ip_address {
            b = b.ip_address(ip_param(validate::ip_address(ip)?));
        }
        AtlasErrors::call(b.send())
            .await?
            .access_logs
            .into_iter()
            .map(|entry| from_object("get_db_access_history_cluster", entry.into()))
            .collect()
    }
}

/// A free-form JSON object of a generated response as one of the hand
/// types, which keep the fields they do not name.
fn from_object<T: DeserializeOwned>(
    operation: &'static str,
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<T> {
    serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| {
        Error::decode(format!(
            "{operation}: the response is not the expected JSON: {e}"
        ))
        .with_vendor(Vendor::Atlas)
        .with_operation(operation)
    })
}

/// The checked filters both event listings share.
#[derive(Clone)]
struct EventFilter {
    types: Vec<String>,
    min_date: Option<chrono::DateTime<chrono::Utc>>,
    max_date: Option<chrono::DateTime<chrono::Utc>>,
    include_raw: bool,
    per_page: u32,
}

impl EventFilter {
    fn new(query: &EventQuery) -> Result<Self> {
        let types = query
            .event_types
            .iter()
            .map(|t| validate::event_type(t).map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        if let (Some(a), Some(b)) = (query.min_date, query.max_date) {
            if a >= b {
                return Err(Error::invalid_input("minDate", "must be before maxDate"));
            }
        }
        // Millisecond precision, as the API documents its dates.
        let millis = |t: chrono::DateTime<chrono::Utc>| chrono::SubsecRound::trunc_subsecs(t, 3);
        Ok(EventFilter {
            types,
            min_date: query.min_date.map(millis),
            max_date: query.max_date.map(millis),
            include_raw: query.include_raw,
            per_page: validate::items_per_page(query.items_per_page)?,
        })
    }
}

/// An IP address as the spec's pattern wants it: IPv6 written out in full.
fn ip_param(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
        _ => ip.to_string(),
    }
}

/// One page of a listing, read from whichever generated page type it came
/// in.
struct Page<T> {
    results: Vec<T>,
    total_count: Option<u64>,
    /// Whether the page links to a next one; `None` without any links.
    next_link: Option<bool>,
}

impl<T: DeserializeOwned> Page<T> {
    fn read<R: Into<serde_json::Map<String, serde_json::Value>>>(
        operation: &'static str,
        results: Vec<R>,
        total_count: Option<i32>,
        rels: impl Iterator<Item = Option<String>>,
    ) -> Result<Self> {
        let mut next_link = None;
        for rel in rels {
            *next_link.get_or_insert(false) |= rel.as_deref() == Some("next");
        }
        Ok(Page {
            results: results
                .into_iter()
                .map(|r| from_object(operation, r.into()))
                .collect::<Result<_>>()?,
            total_count: total_count.and_then(|n| u64::try_from(n).ok()),
            next_link,
        })
    }
}

/// Pages through a listing from page 1: `fetch(n)` gets page `n`.
/// `includeCount=true` makes `totalCount` exact, so it decides; a `next`
/// link alone could keep a confused server's listing going forever. Without
/// either, only a full page suggests there is more.
fn paged<T, F, Fut>(
    operation: &'static str,
    per_page: u32,
    fetch: F,
) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: Fn(u32) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Page<T>>> + Send + 'static,
{
    let span = tracing::info_span!("atlas_pages", vendor = "atlas", operation);
    crate::pages::pages((1u32, 0u64), move |(page, seen)| {
        let next_page = fetch(page).instrument(span.clone());
        async move {
            let next_page = next_page.await?;
            let n = next_page.results.len() as u64;
            let seen = seen + n;
            let more = n > 0
                && match (next_page.total_count, next_page.next_link) {
                    (Some(total), _) => seen < total,
                    (None, Some(next)) => next,
                    (None, None) => n == u64::from(per_page),
                };
            Ok((next_page.results, more.then_some((page + 1, seen))))
        }
    })
}

/// Makes a request parameter safe as part of a file name.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::transport::tests::FakeTransport;
    use futures::TryStreamExt as _;

    fn client(fake: &FakeTransport) -> Client {
        Client::builder()
            .endpoint("http://127.0.0.1:9")
            .api_key("pub", "priv")
            .transport(Arc::new(fake.clone()))
            .retry_policy(crate::RetryPolicy::disabled())
            .build()
            .unwrap()
    }

    /// A server answering page `pageNum` with `body(pageNum)`.
    fn pages(body: impl Fn(usize) -> serde_json::Value + Send + Sync + 'static) -> FakeTransport {
        FakeTransport::new(move |_, req| {
            let page = req.url().query_pairs().find(|(k, _)| k == "pageNum");
            let page = page.map(|(_, v)| v.parse().unwrap()).unwrap();
            (200, vec![], body(page).to_string())
        })
    }

    /// Every event of a project (or organization) listing, 2 a page.
    async fn events(fake: &FakeTransport, org: bool) -> Vec<Event> {
        let c = client(fake);
        let id = "5f2a0c3e9d1b4a6c8e7f0a1b";
        let query = EventQuery::default().items_per_page(2);
        let listing = if org {
            c.org_events(id, query)
        } else {
            c.project_events(id, query)
        };
        listing.unwrap().try_collect().await.unwrap()
    }

    #[tokio::test]
    async fn pages_follow_next_links_and_total_count() {
        // 5 events, 2 per page; the next link is omitted on purpose so the
        // total count has to end the listing.
        let fake = pages(|page| {
            let results: Vec<_> = (0..5u32)
                .skip((page - 1) * 2)
                .take(2)
                .map(|i| serde_json::json!({"id": i.to_string(), "eventTypeName": "X"}))
                .collect();
            serde_json::json!({"results": results, "totalCount": 5})
        });
        let ids: Vec<String> = events(&fake, false)
            .await
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4"]);
        assert_eq!(fake.calls(), 3);
    }

    #[tokio::test]
    async fn total_count_ends_a_listing_whose_next_link_never_stops() {
        // Every page repeats the same items and always links to a next page.
        let fake = pages(|_| {
            serde_json::json!({
                "results": [{"id": "a", "hostname": "h1"}, {"id": "b", "hostname": "h2"}],
                "totalCount": 5,
                "links": [{"rel": "next", "href": "http://127.0.0.1:9/next"}],
            })
        });
        assert_eq!((events(&fake, false).await.len(), fake.calls()), (6, 3));

        // Without a count, links decide: a full page without a `next` link
        // is the last one.
        let fake = pages(|_| {
            serde_json::json!({
                "results": [{"id": "a"}, {"id": "b"}],
                "links": [{"rel": "self", "href": "http://127.0.0.1:9/self"}],
            })
        });
        assert_eq!((events(&fake, true).await.len(), fake.calls()), (2, 1));
    }

    #[test]
    fn build_rejects_bad_configuration() {
        let e = Client::builder().build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credentials);
        let with_key = || Client::builder().api_key("pub", "priv");
        for bad in [
            with_key().endpoint("http://example.com"),
            with_key().version("download_cluster_log", "1999-01-01"),
        ] {
            assert_eq!(bad.build().unwrap_err().kind(), ErrorKind::InvalidInput);
        }
        let c = with_key()
            .version("download_cluster_log", "2023-01-01")
            .build()
            .unwrap();
        assert_eq!(
            c.media_type("download_cluster_log"),
            Some("application/vnd.atlas.2023-01-01+gzip")
        );
    }

    #[test]
    fn clients_and_futures_are_send() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let c = Client::builder().api_key("pub", "priv").build().unwrap();
        send_sync(&c);
        let range = TimeRange::from_unix_secs(1_700_000_000, 1_700_003_600).unwrap();
        send(&c.download_cluster_log("x", "h", LogName::Mongodb, range));
        send(&c.download_stream_audit_logs("x", "w", range, StreamLogOptions::default()));
        send(&c.db_access_history("x", "c", AccessHistoryQuery::default()));
        send(&c.stream_workspace("x", "w"));
        send(&c.revoke_token());
    }

    #[test]
    fn file_name_parts_are_sanitised() {
        assert_eq!(sanitize("a/b c"), "a_b_c");
    }

    #[test]
    fn ipv6_addresses_are_written_out_for_the_spec_pattern() {
        assert_eq!(ip_param("::1"), "0:0:0:0:0:0:0:1");
        assert_eq!(ip_param("2001:DB8::8"), "2001:db8:0:0:0:0:0:8");
        assert_eq!(ip_param("10.0.0.1"), "10.0.0.1");
    }
}
