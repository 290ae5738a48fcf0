//! The C1 client: construction, and the exporter operations.

use super::credentials::Credentials;
use super::credentials::{Exchange, StaticToken, REFRESH_MARGIN};
use super::error::C1Errors;
use super::events::EventQuery;
use super::generated;
use super::pipeline::Pipeline;
use super::types::{check_id, Exporter, ExporterUpdate, NewExporter, Page, PageCursor, PAGE_SIZES};
use crate::builder::{common_setters, Common};
use crate::hooks::VendorErrors as _;
use crate::http::attempt::Core;
use crate::http::transport::{Reqwest, Transport};
use crate::token::{TokenCache, TokenSource};
use crate::{Endpoint, Error, Result, RetryPolicy, SecretString, Vendor};
use futures::stream::BoxStream;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// The page size used for exporter listings unless one is set.
pub const DEFAULT_EXPORTER_PAGE_SIZE: u32 = 50;

/// A ConductorOne system log client. Cheap to clone; clones share the
/// connection pool and the access token.
///
/// ```no_run
/// # async fn demo() -> logexport::Result<()> {
/// use logexport::conductorone::{Client, Datasource, NewExporter};
///
/// let client = Client::from_env()?; // CONE_CLIENT_ID + CONE_CLIENT_SECRET
/// let exporter = client
///     .create_exporter(NewExporter::new("SIEM").datasource(Datasource::new("ds-1")))
///     .await?;
/// println!("{} is {}", exporter.export_id, exporter.state);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    api: generated::Client,
    endpoint: Endpoint,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

/// The exporter a response must hold.
fn exporter(e: Option<generated::types::C1ApiSystemlogV1Exporter>) -> Result<Exporter> {
    e.map(Exporter::from_gen)
        .ok_or_else(|| Error::decode("response has no exporter").with_vendor(Vendor::ConductorOne))
}

fn check_page_size(size: u32) -> Result<()> {
    let outside = || Error::invalid_input("page_size", format!("{size} is outside 10..=100"));
    PAGE_SIZES.contains(&size).then_some(()).ok_or_else(outside)
}

/// Follows `nextPageToken` from `fetch(None)` until a page has none.
fn paginate<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: Fn(Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>>> + Send + 'static,
{
    crate::pages::pages((None, PageCursor::default()), move |(token, mut seen)| {
        let page = fetch(token);
        async move {
            let page = page.await?;
            let next = seen.advance(page.items.len(), page.next_page_token.as_deref())?;
            Ok((page.items, next.map(|t| (Some(t), seen))))
        }
    })
}

impl Client {
    /// A builder: credentials, endpoint, HTTP client, retry policy.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from `CONE_CLIENT_ID` + `CONE_CLIENT_SECRET` (or
    /// `CONE_ACCESS_TOKEN`), and `CONE_ENDPOINT` if set.
    pub fn from_env() -> Result<Self> {
        Client::builder().from_env().build()
    }

    /// The API endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The generated client, for anything the hand-written layer does not
    /// cover. It shares this client's authentication and retries.
    pub fn generated(&self) -> &generated::Client {
        &self.inner.api
    }

    /// Lists exporters (deleted ones are not listed).
    pub fn list_exporters(&self) -> ListExporters {
        ListExporters {
            client: self.clone(),
            page_size: DEFAULT_EXPORTER_PAGE_SIZE,
        }
    }

    /// Searches exporters by name, free text or ids.
    pub fn search_exporters(&self) -> SearchExporters {
        SearchExporters {
            client: self.clone(),
            display_name: None,
            query: None,
            export_ids: Vec::new(),
            page_size: DEFAULT_EXPORTER_PAGE_SIZE,
        }
    }

    /// Fetches one exporter. A deleted exporter is [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    #[tracing::instrument(skip_all, fields(vendor = "conductorone", operation = "get_exporter"))]
    pub async fn get_exporter(&self, export_id: &str) -> Result<Exporter> {
        check_id("export_id", export_id)?;
        let r = C1Errors::call(self.generated().get_exporter().export_id(export_id).send()).await?;
        exporter(r.exporter)
    }

    /// Creates an exporter. Never re-sent after the server may have acted on
    /// it; on an ambiguous failure, list before trying again.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "conductorone", operation = "create_exporter")
    )]
    pub async fn create_exporter(&self, new: NewExporter) -> Result<Exporter> {
        let body = new.to_gen()?;
        let r = C1Errors::call(self.generated().create_exporter().body(body).send()).await?;
        exporter(r.exporter)
    }

    /// Changes the fields set in `update` (and only those: they form the
    /// update mask). Returns the exporter as it is now.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "conductorone", operation = "update_exporter")
    )]
    pub async fn update_exporter(
        &self,
        export_id: &str,
        update: ExporterUpdate,
    ) -> Result<Exporter> {
        check_id("export_id", export_id)?;
        let mut body = update.to_gen()?;
        // The path carries the id, but the gateway maps it onto
        // `exporter.exportId`; sending both keeps either reading right.
        if let Some(e) = body.exporter.as_mut() {
            e.export_id = Some(export_id.to_string());
        }
        let update = self.generated().update_exporter().export_id(export_id);
        let r = C1Errors::call(update.body(body).send()).await?;
        exporter(r.exporter)
    }

    /// Deletes an exporter (C1 keeps it, marked with `deletedAt`, but it is
    /// no longer listed or fetched).
    #[tracing::instrument(
        skip_all,
        fields(vendor = "conductorone", operation = "delete_exporter")
    )]
    pub async fn delete_exporter(&self, export_id: &str) -> Result<()> {
        check_id("export_id", export_id)?;
        let body =
            generated::types::C1ApiSystemlogV1ExportServiceDeleteRequestInput(Default::default());
        let delete = self.generated().delete_exporter().export_id(export_id);
        C1Errors::call(delete.body(body).send()).await.map(drop)
    }

    /// A query over the tenant's system log events.
    pub fn events(&self) -> EventQuery {
        EventQuery::new(self.inner.api.clone())
    }

    /// A query over the events of one exporter (those after its watermark).
    pub fn exporter_events(&self, export_id: impl Into<String>) -> EventQuery {
        self.events().exporter(export_id)
    }
}

/// The exporter listing of [`Client::list_exporters`].
#[derive(Debug, Clone)]
#[must_use = "a listing does nothing until `.stream()` or `.page()`"]
pub struct ListExporters {
    client: Client,
    page_size: u32,
}

impl ListExporters {
    /// Exporters per page, 10–100 (default 50).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// One page; `page_token` is `None` for the first.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "conductorone", operation = "list_exporters")
    )]
    pub async fn page(&self, page_token: Option<&str>) -> Result<Page<Exporter>> {
        check_page_size(self.page_size)?;
        let mut req = self
            .client
            .generated()
            .list_exporters()
            .page_size(self.page_size as i32);
        if let Some(t) = page_token {
            req = req.page_token(t);
        }
        let r = C1Errors::call(req.send()).await?;
        Ok(Page::of_exporters(r.list, r.next_page_token))
    }

    /// Every exporter, following page tokens.
    pub fn stream(self) -> Result<BoxStream<'static, Result<Exporter>>> {
        check_page_size(self.page_size)?;
        Ok(paginate(move |token| {
            let this = self.clone();
            async move { this.page(token.as_deref()).await }
        }))
    }
}

/// The exporter search of [`Client::search_exporters`].
#[derive(Debug, Clone)]
#[must_use = "a search does nothing until `.stream()` or `.page()`"]
pub struct SearchExporters {
    client: Client,
    display_name: Option<String>,
    query: Option<String>,
    export_ids: Vec<String>,
    page_size: u32,
}

impl SearchExporters {
    /// Case-insensitive match on the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Free-text query.
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// Restricts the search to these exporter ids.
    pub fn export_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.export_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Results per page, 10–100 (default 50).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    fn check(&self) -> Result<()> {
        check_page_size(self.page_size)?;
        for id in &self.export_ids {
            check_id("export_ids", id)?;
        }
        Ok(())
    }

    /// One page; `page_token` is `None` for the first.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "conductorone", operation = "search_exporters")
    )]
    pub async fn page(&self, page_token: Option<&str>) -> Result<Page<Exporter>> {
        self.check()?;
        let body = generated::types::C1ApiSystemlogV1ExportsSearchServiceSearchRequest {
            display_name: self.display_name.clone(),
            page_size: Some(self.page_size as i32),
            page_token: page_token.map(str::to_string),
            query: self.query.clone(),
            refs: (!self.export_ids.is_empty()).then(|| {
                self.export_ids
                    .iter()
                    .map(|id| generated::types::C1ApiSystemlogV1ExporterRef {
                        export_id: Some(id.clone()),
                    })
                    .collect()
            }),
        };
        let r =
            C1Errors::call(self.client.generated().search_exporters().body(body).send()).await?;
        Ok(Page::of_exporters(r.list, r.next_page_token))
    }

    /// Every match, following page tokens.
    pub fn stream(self) -> Result<BoxStream<'static, Result<Exporter>>> {
        self.check()?;
        Ok(paginate(move |token| {
            let this = self.clone();
            async move { this.page(token.as_deref()).await }
        }))
    }
}

/// Builds a [`Client`].
///
/// The API host comes from the client id (`name@<host>/<use>`) unless
/// [`endpoint`](ClientBuilder::endpoint) overrides it. With an override, the
/// assertion's `aud` is the override's host (without port): the audience is
/// whoever mints the token, which is the server we talk to.
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    common: Common,
    credentials: Option<Result<Credentials>>,
    env_endpoint: Option<String>,
}

impl ClientBuilder {
    common_setters!();

    /// Authenticates with a client id and secret (parsed in
    /// [`build`](ClientBuilder::build)).
    pub fn client_credentials(
        mut self,
        client_id: &str,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        self.credentials = Some(Credentials::client_credentials(
            client_id,
            &client_secret.into(),
        ));
        self
    }

    /// Authenticates with a bearer access token obtained elsewhere. Needs
    /// [`endpoint`](ClientBuilder::endpoint), and a 401 is final.
    pub fn access_token(mut self, token: impl Into<SecretString>) -> Self {
        self.credentials = Some(Credentials::access_token(token));
        self
    }

    /// Uses already-parsed credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(Ok(credentials));
        self
    }

    /// Reads credentials as [`Credentials::from_env`] does, and an endpoint
    /// as [`endpoint_from_lookup`](super::endpoint_from_lookup) does (an
    /// explicit [`endpoint`](ClientBuilder::endpoint) wins).
    pub fn from_env(mut self) -> Self {
        self.credentials = Some(Credentials::from_env());
        self.env_endpoint = super::endpoint_from_lookup(|n| std::env::var(n).ok());
        self
    }

    /// Validates everything and builds the client. No request is sent.
    pub fn build(self) -> Result<Client> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::credentials(
                "no credentials: use .client_credentials(..), .access_token(..) or .from_env()",
            )
            .with_vendor(Vendor::ConductorOne)
        })??;
        let common = self.common;
        let base = match (
            common.endpoint.clone().or(self.env_endpoint),
            credentials.host(),
        ) {
            (Some(e), _) => e,
            (None, Some(host)) => format!("https://{host}"),
            (None, None) => {
                return Err(Error::invalid_input(
                    "endpoint",
                    "is required with an access token (no API host can be derived from it)",
                ))
            }
        };
        let endpoint = Endpoint::parse(&base)?;
        let http = common
            .http_client()
            .map_err(|e| e.with_vendor(Vendor::ConductorOne))?;
        let guard = crate::http::Guard::new(common.limits);
        let transport: Arc<dyn Transport> = Arc::new(Reqwest(http.clone()));
        let source: Box<dyn TokenSource> = match credentials {
            Credentials::ClientCredentials { client_id, secret } => {
                let text = secret.to_secret_string();
                guard.redactor.add(text.expose());
                if let Some((_, key)) = text.expose().rsplit_once(':') {
                    guard.redactor.add(key);
                }
                let token_url = url::Url::parse(&format!("{}/auth/v1/token", endpoint.as_str()))
                    .map_err(|e| Error::invalid_input("endpoint", e))?;
                Box::new(Exchange {
                    core: Core::new(transport.clone(), guard.clone(), RetryPolicy::default()),
                    token_url,
                    audience: endpoint.host().to_string(),
                    client_id,
                    secret,
                })
            }
            Credentials::AccessToken(t) => {
                guard.redactor.add(t.expose());
                Box::new(StaticToken(t))
            }
        };
        let pipeline = Pipeline::new(
            TokenCache::new(source, REFRESH_MARGIN),
            common.retry.unwrap_or_default(),
            transport,
            guard,
        )
        .with_limiter(common.limiter);
        let api = generated::Client::new_with_client(endpoint.as_str(), http, pipeline);
        Ok(Client {
            inner: Arc::new(Inner { api, endpoint }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conductorone::ClientSecret;
    use crate::ErrorKind;
    use futures::StreamExt as _;

    /// A builder with client credentials for `acme.conductor.one`.
    fn acme() -> ClientBuilder {
        let secret = ClientSecret::from_seed([4; 32]).to_secret_string();
        Client::builder().client_credentials("a@acme.conductor.one/x", secret)
    }

    #[test]
    fn host_comes_from_the_id_unless_overridden() {
        let c = acme().build().unwrap();
        assert_eq!(c.endpoint().as_str(), "https://acme.conductor.one");
        let c = acme().endpoint("http://127.0.0.1:8080/").build().unwrap();
        assert_eq!(c.endpoint().as_str(), "http://127.0.0.1:8080");
    }

    #[test]
    fn clients_and_futures_are_send_and_sync() {
        fn check<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let c = acme().build().unwrap();
        check(&c);
        send(&c.get_exporter("x"));
        send(&c.create_exporter(NewExporter::new("n")));
        send(&c.update_exporter("x", ExporterUpdate::new()));
        send(&c.delete_exporter("x"));
        let list = c.list_exporters();
        send(&list.page(None));
        let search = c.search_exporters();
        send(&search.page(None));
        let events = c.events();
        send(&events.page(None));
        check(&events);
    }

    #[tokio::test]
    async fn listings_end_on_a_token_cycle() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = calls.clone();
        // A server that answers A → B → A → … forever.
        let listing = paginate(move |token: Option<String>| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let next = if token.as_deref() == Some("a") {
                    "b"
                } else {
                    "a"
                };
                Ok(Page {
                    items: vec![token.unwrap_or_default()],
                    next_page_token: Some(next.to_string()),
                })
            }
        });
        let out: Vec<Result<String>> = listing.collect().await;
        let items: Vec<&str> = out.iter().filter_map(|r| r.as_deref().ok()).collect();
        assert_eq!(items, ["", "a"]);
        assert_eq!(
            out.last().unwrap().as_ref().unwrap_err().kind(),
            ErrorKind::Decode
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn build_errors() {
        let e = Client::builder().build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credentials);
        let e = Client::builder().access_token("t").build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = acme().endpoint("http://example.com").build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let secret = ClientSecret::from_seed([4; 32]).to_secret_string();
        let e = Client::builder()
            .client_credentials("nope", secret)
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credentials);
    }
}
