//! The emulator's own request vocabulary (export parameters, formats,
//! orders, credentials), so the sandbox needs none of the client's types.

/// The most records one export may hold, as CLS documents for `Count`.
pub const MAX_EXPORT_COUNT: u64 = 50_000_000;

/// The CLS API version the emulator answers (`X-TC-Version`).
pub const API_VERSION: &str = "2020-10-16";

/// An export file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

impl Format {
    /// The wire value (`json`, `csv`), also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

/// Record order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the service's default).
    #[default]
    Desc,
}

impl Order {
    /// The wire value (`asc`, `desc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// A time range in Unix milliseconds, start inclusive, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, inclusive (ms).
    pub from_ms: i64,
    /// End, exclusive (ms).
    pub to_ms: i64,
}

/// What a CreateExport asks for, as far as the exported records depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportParams {
    /// The log topic.
    pub topic_id: String,
    /// The search statement.
    pub query: String,
    /// The time range.
    pub range: TimeRange,
    /// The most records to export.
    pub count: u64,
    /// The file format.
    pub format: Format,
    /// The record order.
    pub order: Order,
}

/// One registered API key: SecretId, SecretKey and, for temporary
/// credentials, the session token that must accompany them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// The SecretId (public).
    pub secret_id: String,
    /// The SecretKey.
    pub secret_key: String,
    /// The `X-TC-Token` temporary credentials require.
    pub session_token: Option<String>,
}

impl Secret {
    /// Permanent credentials.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Secret {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            session_token: None,
        }
    }

    /// Temporary credentials: the same with a session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Whether `name` looks like a CLS region (`ap-guangzhou`, `na-ashburn`,
/// `ap-shanghai-fsi`): lowercase words joined by hyphens.
pub fn is_region(name: &str) -> bool {
    let mut parts = name.split('-');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    name.len() <= 40
        && first.len() >= 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !rest.is_empty()
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Appends `value` as one CSV field (RFC 4180): quoted, with inner quotes
/// doubled, when it holds a comma, quote or line break.
pub fn csv_field(value: &str, out: &mut String) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for c in value.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(value);
    }
}
