//! The CLS client: configuration, and one typed method per action.
//!
//! Every method checks its input before sending, calls the generated client
//! (whose transport hook signs, paces and retries, see [`super::pipeline`]),
//! and unwraps Tencent's `{"Response": …}` envelope into a typed result or a
//! typed [`Error`].

use super::credentials::{Credentials, EnvironmentCredentials, ProvideCredentials, Region};
use super::error::{check, ClsErrors};
use super::generated::{self, types as gen};
use super::pipeline::{Config, Pipeline, LIMITED_ACTIONS};
use super::types::{
    check_export_id, check_topic_id, check_within, Export, ExportPage, ExportParams, LogEntry,
    SearchPage, SearchParams, Topic, TopicFilter, TopicPage, MAX_PAGE_LIMIT,
};
use crate::builder::{common_setters, Common};
use crate::hooks::VendorErrors as _;
use crate::{Endpoint, Error, ErrorKind, RateLimiter, Result, RetryPolicy, Vendor};
use futures::stream::{BoxStream, TryStreamExt};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The default limit on CreateExport and DescribeExports, per client, in
/// requests per second (the service's own limit).
pub const DEFAULT_RATE_LIMIT: u32 = 20;

/// Configures a [`Client`].
///
/// ```no_run
/// # async fn demo() -> logexport::Result<()> {
/// use logexport::tencent_cls::{Client, Credentials};
///
/// let client = Client::builder()
///     .credentials(Credentials::new("AKID…", "…"))
///     .region("ap-guangzhou")
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
#[derive(Debug, Default)]
pub struct ClientBuilder {
    common: Common,
    credentials: Option<Arc<dyn ProvideCredentials>>,
    region: Option<String>,
    /// Set by `no_rate_limit`: no pacing unless a limiter is set after it.
    unpaced: bool,
    /// Set by `sign_action_header(false)` (signing it is the default).
    action_unsigned: bool,
    language: Option<String>,
}

impl ClientBuilder {
    // `endpoint`: a proxy must forward to `/` unchanged, since the signature
    // covers the `Host` sent and the path `/`. `rate_limit`: paces
    // CreateExport and DescribeExports (the rate-limited actions); without
    // one each gets [`DEFAULT_RATE_LIMIT`] per second of its own.
    common_setters!();

    /// Fixed credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(Arc::new(credentials));
        self
    }

    /// A credentials source asked before every attempt (rotation, STS).
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(Arc::new(provider));
        self
    }

    /// The region, e.g. `ap-guangzhou`. Chooses the endpoint
    /// `cls.<region>.tencentcloudapi.com` unless [`endpoint`](Self::endpoint)
    /// overrides it, and is sent as `X-TC-Region` either way.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Turns client-side pacing off (the service still throttles).
    pub fn no_rate_limit(mut self) -> Self {
        self.common.limiter = None;
        self.unpaced = true;
        self
    }

    /// Whether to sign `x-tc-action` besides `content-type` and `host`
    /// (default `true`, as Tencent's current documentation does).
    pub fn sign_action_header(mut self, sign: bool) -> Self {
        self.action_unsigned = !sign;
        self
    }

    /// Sends `X-TC-Language` (`zh-CN` or `en-US`, the values CLS accepts)
    /// for localised messages; another value fails [`build`](Self::build).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Builds the client. Fails on a malformed or missing region, missing
    /// credentials or an endpoint that is neither HTTPS nor loopback.
    pub fn build(self) -> Result<Client> {
        // `X-TC-Language`'s values, per Tencent's common request parameters.
        const LANGUAGES: [&str; 2] = ["zh-CN", "en-US"];
        let region = match self.region {
            Some(r) => Region::new(r.trim())?,
            None => {
                return Err(Error::invalid_input(
                    "region",
                    format!(
                        "is required (e.g. ap-guangzhou; {} in the environment)",
                        super::credentials::ENV_REGION
                    ),
                ))
            }
        };
        if let Some(lang) = self.language.as_deref() {
            if !LANGUAGES.contains(&lang) {
                return Err(Error::invalid_input(
                    "language",
                    format!("`{lang}` is not one of {}", LANGUAGES.join(", ")),
                ));
            }
        }
        let credentials = self.credentials.ok_or_else(|| {
            Error::credentials("no Tencent Cloud credentials configured (TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY)")
        })?;
        let common = self.common;
        let endpoint = Endpoint::parse(common.endpoint.as_deref().unwrap_or(&region.endpoint()))?;
        let http = common
            .http_client()
            .map_err(|e| e.with_vendor(Vendor::TencentCls))?;
        // A caller's limiter paces every rate-limited action; without one,
        // each gets its own, as CLS counts them.
        let limiters = LIMITED_ACTIONS
            .iter()
            .filter(|_| common.limiter.is_some() || !self.unpaced)
            .map(|a| {
                let own = || RateLimiter::new(DEFAULT_RATE_LIMIT, Duration::from_secs(1));
                (*a, common.limiter.clone().unwrap_or_else(own))
            })
            .collect();
        let pipeline = Pipeline::new(Config {
            credentials,
            region: region.clone(),
            host: endpoint.authority(),
            retry: common.retry.unwrap_or_default(),
            limiters,
            guard: crate::http::Guard::new(common.limits),
            sign_action: !self.action_unsigned,
            language: self.language,
            transport: Arc::new(crate::http::transport::Reqwest(http.clone())),
        });
        let api = generated::Client::new_with_client(endpoint.as_str(), http, pipeline);
        let download = crate::http::Downloader::new(&common.limits)
            .map_err(|e| e.with_vendor(Vendor::TencentCls))?;
        Ok(Client {
            inner: Arc::new(Inner {
                api,
                download,
                endpoint,
                region,
            }),
        })
    }
}

/// A Tencent Cloud CLS client. Cheap to clone; clones share credentials,
/// rate limits and the learned clock offset.
///
/// ```no_run
/// # async fn demo() -> logexport::Result<()> {
/// use logexport::tencent_cls::{Client, TopicFilter};
/// use futures::TryStreamExt;
///
/// let client = Client::from_env()?;
/// let topics: Vec<_> = client.list_topics(TopicFilter::default())?.try_collect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    api: generated::Client,
    /// Export files: no credentials, HTTPS redirects, throughput guard.
    download: crate::http::Downloader,
    endpoint: Endpoint,
    region: Region,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("pipeline", self.inner.api.inner())
            .finish()
    }
}

use progenitor_client::ClientInfo as _;

/// Sends a generated request builder and unwraps Tencent's envelope: its
/// `Response`, or the error it reports inside an HTTP 200.
macro_rules! call {
    ($request:expr) => {{
        let r = ClsErrors::call($request.send()).await?.response;
        check(r.error.as_ref(), r.request_id.as_deref())?;
        r
    }};
}

impl Client {
    /// A builder with defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Credentials and region from the `TENCENTCLOUD_*` environment
    /// variables. The credentials are re-read before each request, so a
    /// refreshed environment is picked up.
    pub fn from_env() -> Result<Client> {
        // Fail now, not on the first call, when nothing is set.
        Credentials::from_env()?;
        Client::builder()
            .credentials_provider(EnvironmentCredentials)
            .region(Region::from_env()?.as_str())
            .build()
    }

    /// The generated client, for actions this layer does not wrap. It goes
    /// through the same signing and retry hook.
    pub fn generated(&self) -> &generated::Client {
        &self.inner.api
    }

    /// The base URL requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The region sent with every request.
    pub fn region(&self) -> &Region {
        &self.inner.region
    }

    /// How many seconds the server's clock is ahead of the local one, as
    /// learned from an `AuthFailure.SignatureExpire` answer (0 until then).
    pub fn clock_offset_secs(&self) -> i64 {
        self.inner.api.inner().clock_offset()
    }

    /// What fetches export files (pre-signed `CosPath` URLs).
    pub(crate) fn downloader(&self) -> &crate::http::Downloader {
        &self.inner.download
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        self.inner.api.inner().retry_policy()
    }

    /// Starts an export task (CreateExport); returns its id. `SyntaxRule` is
    /// always sent.
    #[tracing::instrument(skip_all, fields(vendor = "tencent-cls", operation = "CreateExport"))]
    pub async fn create_export(&self, params: &ExportParams) -> Result<String> {
        params.validate()?;
        let r = call!(self.inner.api.create_export().body(params.to_request()));
        r.export_id.filter(|id| !id.is_empty()).ok_or_else(|| {
            let e = Error::decode("CreateExport succeeded but returned no ExportId")
                .with_vendor(Vendor::TencentCls);
            r.request_id.into_iter().fold(e, Error::with_request_id)
        })
    }

    /// One page of a topic's export tasks (DescribeExports), newest first.
    /// `limit` is 1 ..= 100.
    pub async fn describe_exports(
        &self,
        topic_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<ExportPage> {
        Ok(self.export_page(topic_id, offset, limit).await?.0)
    }

    /// A DescribeExports page and how many entries the service sent: the
    /// next offset counts those, not the entries kept, or an entry without
    /// an `ExportId` would shift (or end) the paging.
    #[tracing::instrument(
        skip_all,
        fields(vendor = "tencent-cls", operation = "DescribeExports")
    )]
    async fn export_page(
        &self,
        topic_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(ExportPage, u64)> {
        check_topic_id(topic_id)?;
        let (offset, limit) = paging(offset, limit)?;
        let body = gen::DescribeExportsRequest {
            limit,
            offset,
            topic_id: topic_id.to_string(),
        };
        let r = call!(self.inner.api.describe_exports().body(body));
        let sent = r.exports.len() as u64;
        let page = ExportPage {
            exports: r.exports.into_iter().filter_map(Export::from_gen).collect(),
            total_count: r.total_count.unwrap_or_default().max(0) as u64,
            request_id: r.request_id.unwrap_or_default(),
        };
        Ok((page, sent))
    }

    /// Every export task of a topic, newest first, paging as needed. A bad
    /// topic id is reported here, before any request.
    pub fn list_exports(
        &self,
        topic_id: impl Into<String>,
    ) -> Result<BoxStream<'static, Result<Export>>> {
        let topic_id = topic_id.into();
        check_topic_id(&topic_id)?;
        let client = self.clone();
        Ok(offset_paged(move |offset| {
            let (client, topic_id) = (client.clone(), topic_id.clone());
            async move {
                let (page, sent) = client
                    .export_page(&topic_id, offset, MAX_PAGE_LIMIT)
                    .await?;
                Ok((page.exports, sent, page.total_count))
            }
        }))
    }

    /// One export task by id. DescribeExports cannot filter by id, so this
    /// pages until it finds it; `ErrorKind::NotFound` if it does not exist.
    #[tracing::instrument(skip_all, fields(vendor = "tencent-cls", operation = "FindExport"))]
    pub async fn find_export(&self, topic_id: &str, export_id: &str) -> Result<Export> {
        check_export_id(export_id)?;
        let mut all = self.list_exports(topic_id)?;
        while let Some(export) = all.try_next().await? {
            if export.export_id == export_id {
                return Ok(export);
            }
        }
        Err(Error::new(
            ErrorKind::NotFound,
            format!("export {export_id} is not among the topic's exports"),
        )
        .with_vendor(Vendor::TencentCls)
        .with_code("ResourceNotFound.ExportNotExist"))
    }

    /// Deletes an export task (DeleteExport).
    #[tracing::instrument(skip_all, fields(vendor = "tencent-cls", operation = "DeleteExport"))]
    pub async fn delete_export(&self, export_id: &str) -> Result<()> {
        check_export_id(export_id)?;
        let body = gen::DeleteExportRequest {
            export_id: export_id.to_string(),
        };
        call!(self.inner.api.delete_export().body(body));
        Ok(())
    }

    /// One page of topics (DescribeTopics). `limit` is 1 ..= 100.
    pub async fn describe_topics(
        &self,
        filter: &TopicFilter,
        offset: u64,
        limit: u32,
    ) -> Result<TopicPage> {
        Ok(self.topic_page(filter, offset, limit).await?.0)
    }

    /// A DescribeTopics page and how many entries the service sent (see
    /// [`export_page`](Self::export_page)).
    #[tracing::instrument(skip_all, fields(vendor = "tencent-cls", operation = "DescribeTopics"))]
    async fn topic_page(
        &self,
        filter: &TopicFilter,
        offset: u64,
        limit: u32,
    ) -> Result<(TopicPage, u64)> {
        let (offset, limit) = paging(offset, limit)?;
        let body = gen::DescribeTopicsRequest {
            biz_type: None,
            filters: filter.to_filters(),
            limit,
            offset,
            precise_search: filter.precise.then_some(1),
        };
        let r = call!(self.inner.api.describe_topics().body(body));
        let sent = r.topics.len() as u64;
        let page = TopicPage {
            topics: r.topics.into_iter().filter_map(Topic::from_gen).collect(),
            total_count: r.total_count.unwrap_or_default().max(0) as u64,
            request_id: r.request_id.unwrap_or_default(),
        };
        Ok((page, sent))
    }

    /// Every topic matching `filter`, paging as needed.
    pub fn list_topics(&self, filter: TopicFilter) -> Result<BoxStream<'static, Result<Topic>>> {
        let client = self.clone();
        Ok(offset_paged(move |offset| {
            let (client, filter) = (client.clone(), filter.clone());
            async move {
                let (page, sent) = client.topic_page(&filter, offset, MAX_PAGE_LIMIT).await?;
                Ok((page.topics, sent, page.total_count))
            }
        }))
    }

    /// One page of search results (SearchLog).
    #[tracing::instrument(skip_all, fields(vendor = "tencent-cls", operation = "SearchLog"))]
    pub async fn search_log(&self, params: &SearchParams) -> Result<SearchPage> {
        params.validate()?;
        let r = call!(self.inner.api.search_log().body(params.to_request()));
        Ok(SearchPage {
            results: r
                .results
                .unwrap_or_default()
                .into_iter()
                .map(LogEntry::from_gen)
                .collect(),
            context: r.context.filter(|c| !c.is_empty()),
            list_over: r.list_over.unwrap_or(true),
            request_id: r.request_id.unwrap_or_default(),
        })
    }

    /// Every search result, exactly once, following `Context` until the
    /// range is exhausted.
    ///
    /// One `Context` chain of SearchLog yields at most
    /// [`MAX_RESULTS_PER_CONTEXT`](super::MAX_RESULTS_PER_CONTEXT) logs and
    /// expires after an hour; this listing continues past both by starting a
    /// new chain at the last timestamp it returned (see [`super::search`]).
    /// More logs in one millisecond than a chain can hold is an error, never
    /// a silent gap. Bad parameters are reported here, before any request.
    pub fn search_logs(
        &self,
        params: SearchParams,
    ) -> Result<BoxStream<'static, Result<LogEntry>>> {
        params.validate()?;
        let client = self.clone();
        let cursor = super::search::Cursor::new(params);
        Ok(crate::pages::pages(cursor, move |mut cursor| {
            let client = client.clone();
            async move {
                loop {
                    let Some(params) = cursor.request() else {
                        return Ok((Vec::new(), None));
                    };
                    match client.search_log(params).await {
                        Ok(page) => return Ok((cursor.accept(page)?, Some(cursor))),
                        Err(e) => cursor.recover(e)?,
                    }
                }
            }
        }))
    }
}

/// A listing paged by offset: `fetch(offset)` gives a page's items, how
/// many entries the service sent (some may not parse) and the total; the
/// listing ends when the total is reached or a page is empty.
fn offset_paged<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, u64, u64)>> + Send + 'static,
{
    crate::pages::pages(0u64, move |offset| {
        let page = fetch(offset);
        async move {
            let (items, sent, total) = page.await?;
            let next = offset + sent;
            Ok((items, (sent > 0 && next < total).then_some(next)))
        }
    })
}

/// The `Offset` and `Limit` of a DescribeExports or DescribeTopics request,
/// checked.
fn paging(offset: u64, limit: u32) -> Result<(Option<i64>, Option<i64>)> {
    check_within("limit", limit, MAX_PAGE_LIMIT)?;
    let offset =
        i64::try_from(offset).map_err(|_| Error::invalid_input("offset", "is too large"))?;
    Ok((Some(offset), Some(i64::from(limit))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_requires_region_and_credentials() {
        let with_key = || Client::builder().credentials(Credentials::new("AKID", "k"));
        for (builder, kind) in [
            (with_key(), ErrorKind::InvalidInput),
            (with_key().region("Guangzhou!"), ErrorKind::InvalidInput),
            (
                with_key().region("ap-guangzhou").language("en-US\n"),
                ErrorKind::InvalidInput,
            ),
            (
                with_key().region("ap-guangzhou").language("fr-FR"),
                ErrorKind::InvalidInput,
            ),
            (
                Client::builder().region("ap-guangzhou"),
                ErrorKind::Credentials,
            ),
            (
                with_key()
                    .region("ap-guangzhou")
                    .endpoint("http://cls.example.com"),
                ErrorKind::InvalidInput,
            ),
        ] {
            assert_eq!(builder.build().unwrap_err().kind(), kind);
        }
        assert!(with_key()
            .region("ap-guangzhou")
            .language("zh-CN")
            .build()
            .is_ok());
    }

    #[test]
    fn default_endpoint_follows_region_and_debug_hides_keys() {
        let c = Client::builder()
            .credentials(
                Credentials::new("AKIDEXAMPLE123", "key-that-must-not-show")
                    .with_session_token("tok-hidden"),
            )
            .region("ap-singapore")
            .build()
            .unwrap();
        assert_eq!(
            c.endpoint().as_str(),
            "https://cls.ap-singapore.tencentcloudapi.com"
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("key-that-must-not-show") && !shown.contains("tok-hidden"),
            "{shown}"
        );
    }
}
