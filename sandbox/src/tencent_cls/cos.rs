//! The export file's download, as COS serves it: a link of the sandbox's
//! own, signed (HMAC with a per-sandbox secret) and expiring, answered with
//! the `.tar.gz` generated on the fly, or a COS-style XML error.

use super::archive::write_archive;
use super::envelope::request_id;
use super::state::SandboxState;
use super::tc3;
use crate::{answer, lock, Fault, Faults};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http::{HeaderValue, StatusCode};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;

impl SandboxState {
    /// The signature of a link to `id` that expires at `expires`.
    fn link_signature(&self, id: &str, expires: i64) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.link_secret).expect("any key length");
        mac.update(format!("{id}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A download link to export `id`, valid for the link lifetime.
    pub(super) fn cos_path(&self, host: &str, id: &str) -> String {
        let expires = self.clock.unix_secs() + self.link_ttl_secs;
        format!(
            "http://{host}/cos/{id}?sign={}&expires={expires}",
            self.link_signature(id, expires)
        )
    }
}
fn cos_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
        request_id()
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

/// `GET /cos/<export id>?sign=…&expires=…`: the export file, generated on
/// a blocking thread and streamed, for a link that is signed, unexpired and
/// names a completed export.
pub(super) async fn download(
    State(st): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(sig), Some(expires)) = (
        q.get("sign"),
        q.get("expires").and_then(|e| e.parse::<i64>().ok()),
    ) else {
        return cos_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied.");
    };
    if !tc3::constant_time_eq(sig.as_bytes(), st.link_signature(&id, expires).as_bytes()) {
        return cos_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The signature does not match.",
        );
    }
    if st.clock.unix_secs() > expires {
        return cos_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired.",
        );
    }
    let found = {
        let exports = lock(&st.exports);
        exports.iter().find(|e| e.id == id).and_then(|e| {
            let info = e.archive.get().copied()?;
            (e.status(st.clock.unix_millis(), &st) == "Completed").then(|| {
                (
                    e.spec.clone(),
                    e.format,
                    info,
                    (e.created_ms / 1000) as u32,
                    e.file_name(),
                )
            })
        })
    };
    let Some((spec, format, info, mtime, file_name)) = found else {
        return cos_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let fault = st.faults.take("Download", true);
    Faults::delay(fault.as_ref()).await;
    if let Some(Fault::Error { status, code, .. }) = &fault {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return cos_error(status, code, "injected fault");
    }

    let chunks = answer::blocking_body(move |out| write_archive(&spec, format, &id, mtime, out));
    let (body, len) = Faults::stream_body(chunks, fault.as_ref(), Some(info.file_size));
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        h.insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    answer::attachment(h, &file_name);
    r
}
