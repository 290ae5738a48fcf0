//! The CLS emulator's HTTP face: `POST /` with the action in
//! `X-TC-Action`, the common parameters and the TC3 signature checked in
//! the order Tencent checks them, then faults, the rate limit and the
//! action; and `GET /cos/<id>` for export files. Every answer carries a
//! `Date` on the sandbox clock.

use super::actions::{create_export, delete_export, describe_exports, describe_topics};
use super::cos::download;
use super::envelope::{respond, ApiError};
use super::search::search_log;
use super::state::SandboxState;
use super::tc3;
use super::types::{is_region, API_VERSION};
use crate::{answer, lock, Fault, Faults};
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Actions the emulator knows.
const ACTIONS: &[&str] = &[
    "CreateExport",
    "DescribeExports",
    "DeleteExport",
    "DescribeTopics",
    "SearchLog",
];

/// The emulator's routes over `state`.
pub(super) fn router(state: Arc<SandboxState>) -> axum::Router {
    let clock = state.clock.clone();
    axum::Router::new()
        .route("/", axum::routing::post(api))
        .route("/cos/{id}", axum::routing::get(download))
        .with_state(state)
        .layer(axum::middleware::map_response(
            move |mut response: Response| {
                let clock = clock.clone();
                async move {
                    let now = answer::http_date(clock.now().into());
                    if let Ok(v) = HeaderValue::from_str(&now) {
                        response.headers_mut().insert(http::header::DATE, v);
                    }
                    response
                }
            },
        ))
}

async fn api(
    State(st): State<Arc<SandboxState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let action = header("x-tc-action").unwrap_or_default().to_string();
    *lock(&st.calls).entry(action.clone()).or_default() += 1;

    let checked = check_common(&st, &headers, uri.query().unwrap_or(""), &body, &action);
    if let Err(e) = checked {
        return respond(Err(e), None);
    }
    let fault = st.faults.take(&action, false);
    Faults::delay(fault.as_ref()).await;
    if let Some(Fault::Error { code, .. }) = &fault {
        return respond(Err(ApiError::new(code, "injected fault")), None);
    }
    if let Some(limit) = st.limits.get(action.as_str()) {
        if !limit.admit() {
            st.throttled.fetch_add(1, Ordering::Relaxed);
            return respond(
                Err(ApiError::new(
                    "RequestLimitExceeded",
                    format!("The number of requests for {action} exceeds the frequency limit."),
                )),
                None,
            );
        }
    }
    let params = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return respond(
                Err(ApiError::new(
                    "InvalidParameter",
                    "The request body is not a JSON object.",
                )),
                fault.as_ref(),
            )
        }
    };
    let host = answer::host(&headers).to_string();
    let result = match action.as_str() {
        "CreateExport" => create_export(&st, &params),
        "DescribeExports" => describe_exports(&st, &params, &host),
        "DeleteExport" => delete_export(&st, &params),
        "DescribeTopics" => describe_topics(&params),
        "SearchLog" => search_log(&params, st.clock.unix_secs().max(0) as u64),
        _ => unreachable!("check_common admits known actions only"),
    };
    respond(result, fault.as_ref())
}

/// Common parameters and authentication, in the order Tencent checks them.
fn check_common(
    st: &SandboxState,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
    action: &str,
) -> Result<(), ApiError> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    if action.is_empty() {
        return Err(ApiError::new(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Action`.",
        ));
    }
    match header("x-tc-version") {
        None => {
            return Err(ApiError::new(
                "MissingParameter",
                "The request is missing a required parameter `X-TC-Version`.",
            ))
        }
        Some(API_VERSION) => {}
        Some(v) => {
            return Err(ApiError::new(
                "NoSuchVersion",
                format!("The API version `{v}` does not exist."),
            ))
        }
    }
    if !ACTIONS.contains(&action) {
        return Err(ApiError::new(
            "InvalidAction",
            format!("The requested action `{action}` does not exist."),
        ));
    }
    match header("x-tc-region") {
        None => {
            return Err(ApiError::new(
                "MissingParameter",
                "The request is missing a required parameter `X-TC-Region`.",
            ))
        }
        Some(r) if !is_region(r) => {
            return Err(ApiError::new(
                "UnsupportedRegion",
                format!("The region `{r}` is not supported."),
            ))
        }
        Some(_) => {}
    }
    let Some(authorization) = header("authorization") else {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The Authorization header is missing.",
        ));
    };
    let Some(auth) = tc3::Authorization::parse(authorization) else {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The Authorization header is malformed.",
        ));
    };
    let Some(ts) = header("x-tc-timestamp") else {
        return Err(ApiError::new(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Timestamp`.",
        ));
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return Err(ApiError::new(
            "InvalidParameterValue",
            "`X-TC-Timestamp` is not a Unix timestamp.",
        ));
    };
    if (st.clock.unix_secs() - ts).abs() > st.max_skew_secs {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time are more than 300 seconds apart.",
        ));
    }
    let (key, token) = {
        let creds = lock(&st.credentials);
        let Some(r) = creds.get(&auth.secret_id) else {
            return Err(ApiError::new(
                "AuthFailure.SecretIdNotFound",
                "The SecretId is not found.",
            ));
        };
        (r.key.clone(), r.token.clone())
    };
    let expected_date = tc3::utc_date(ts).unwrap_or_default();
    if auth.service != tc3::SERVICE || auth.date != expected_date {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The credential scope does not match the service or the timestamp's date.",
        ));
    }
    let received = tc3::Received {
        method: "POST",
        query,
        headers,
        body,
    };
    let good = tc3::verify(&received, &auth, &key, ts).is_ok();
    if !good {
        return Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    if token.as_deref() != header("x-tc-token") {
        return Err(ApiError::new(
            "AuthFailure.TokenFailure",
            "The session token is missing, invalid or expired.",
        ));
    }
    Ok(())
}
