//! The Tencent CLS emulator ([`logexport_sandbox::tencent_cls`]) and the
//! client glue.

pub use logexport_sandbox::tencent_cls::{
    tc3, TencentClsSandbox, TencentClsSandboxBuilder, DEMO_AUDIT_TOPIC_ID, DEMO_LOGSET_ID,
    DEMO_REGION, DEMO_SECRET_ID, DEMO_SECRET_KEY, DEMO_SESSION_TOKEN, DEMO_TEMP_SECRET_ID,
    DEMO_TEMP_SECRET_KEY, DEMO_TOPIC_ID, LOG_INTERVAL_MS, SEARCH_CONTEXT_CAP,
    SEARCH_CONTEXT_TTL_SECS,
};

use crate::tencent_cls::{
    Client, ClientBuilder, Credentials, ExportParams, Format, Order, Region, TimeRange,
};
use logexport_sandbox::tencent_cls as sb;
use serde_json::Value;

impl From<&Credentials> for sb::Secret {
    fn from(c: &Credentials) -> Self {
        sb::Secret {
            secret_id: c.secret_id().to_string(),
            secret_key: c.secret_key().expose().to_string(),
            session_token: c.session_token().map(|t| t.expose().to_string()),
        }
    }
}

impl From<Credentials> for sb::Secret {
    fn from(c: Credentials) -> Self {
        sb::Secret::from(&c)
    }
}

fn order(o: Order) -> sb::Order {
    match o {
        Order::Asc => sb::Order::Asc,
        Order::Desc => sb::Order::Desc,
    }
}

fn range(r: TimeRange) -> sb::TimeRange {
    sb::TimeRange {
        from_ms: r.start_ms(),
        to_ms: r.end_ms(),
    }
}

fn params(p: &ExportParams) -> sb::ExportParams {
    sb::ExportParams {
        topic_id: p.topic_id.clone(),
        query: p.query.clone(),
        range: range(p.range),
        count: p.count,
        format: match p.format {
            Format::Json => sb::Format::Json,
            Format::Csv => sb::Format::Csv,
        },
        order: order(p.order),
    }
}

/// The demo account.
pub fn demo_credentials() -> Credentials {
    Credentials::new(DEMO_SECRET_ID, DEMO_SECRET_KEY)
}

/// The demo temporary credentials.
pub fn demo_temporary_credentials() -> Credentials {
    Credentials::new(DEMO_TEMP_SECRET_ID, DEMO_TEMP_SECRET_KEY)
        .with_session_token(DEMO_SESSION_TOKEN)
}

/// The records an export with these parameters contains, in order, as the
/// client yields them (JSON: `__TIMESTAMP__` a number, other values
/// strings; CSV: every value a string). Lazy, so a large export can be
/// compared record by record.
pub fn expected_records(params: &ExportParams) -> impl Iterator<Item = Value> + Send + 'static {
    sb::expected_records(&self::params(params))
}

/// Record number `index` (0-based) of an export with these parameters, or
/// `None` past its end.
pub fn expected_record(params: &ExportParams, index: u64) -> Option<Value> {
    sb::expected_record(&self::params(params), index)
}

/// How many records an export with these parameters contains: at most
/// `count`, and one per [`LOG_INTERVAL_MS`] of the range.
pub fn expected_count(params: &ExportParams) -> u64 {
    sb::expected_count(&self::params(params))
}

/// The logs SearchLog returns for this topic, query and range, in `order`,
/// as the `LogJson` objects it carries.
pub fn expected_search(
    topic_id: &str,
    query: &str,
    range: TimeRange,
    order: Order,
) -> impl Iterator<Item = Value> {
    sb::expected_search(topic_id, query, self::range(range), self::order(order))
}

/// The client-typed methods of [`TencentClsSandbox`].
pub trait TencentClsSandboxExt {
    /// The region the demo client uses.
    fn region(&self) -> Region;
    /// The demo account's credentials.
    fn credentials(&self) -> Credentials;
    /// Demo temporary credentials (SecretId, key and session token).
    fn temporary_credentials(&self) -> Credentials;
    /// A client builder pointed at this sandbox with the demo credentials
    /// and region.
    fn client_builder(&self) -> ClientBuilder;
}

impl TencentClsSandboxExt for TencentClsSandbox {
    fn region(&self) -> Region {
        Region::new(DEMO_REGION).expect("the demo region is valid")
    }

    fn credentials(&self) -> Credentials {
        demo_credentials()
    }

    fn temporary_credentials(&self) -> Credentials {
        demo_temporary_credentials()
    }

    fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .endpoint(self.endpoint())
            .credentials(self.credentials())
            .region(DEMO_REGION)
    }
}
