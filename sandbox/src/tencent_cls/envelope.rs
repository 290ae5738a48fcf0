//! Tencent Cloud API's answer shape: `{"Response": {…, "RequestId"}}`, with
//! an error as `Response.Error {Code, Message}` inside an HTTP 200, and a
//! uuid request id on every answer.

use crate::{answer, Fault};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// An error in Tencent's shape.
#[derive(Debug)]
pub(super) struct ApiError {
    code: String,
    message: String,
}

impl ApiError {
    pub(super) fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// A random version-4 uuid, as Tencent's request ids are.
pub(super) fn request_id() -> String {
    let mut b: [u8; 16] = crate::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The answer to an action: its outputs or its error in the envelope, with
/// `fault` (a reset, a truncation) applied to the body.
pub(super) fn respond(
    result: Result<Map<String, Value>, ApiError>,
    fault: Option<&Fault>,
) -> Response {
    let mut body = match result {
        Ok(outputs) => outputs,
        Err(e) => {
            let mut m = Map::new();
            m.insert(
                "Error".into(),
                json!({"Code": e.code, "Message": e.message}),
            );
            m
        }
    };
    body.insert("RequestId".into(), Value::String(request_id()));
    let bytes = Bytes::from(
        serde_json::to_vec(&json!({ "Response": body })).expect("JSON values serialise"),
    );
    answer::json(bytes, fault)
}
