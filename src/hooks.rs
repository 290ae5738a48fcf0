//! What every vendor's progenitor hook shares: getting errors out.
//!
//! progenitor's `exec` hook can only return a `reqwest` result, yet a vendor
//! pipeline fails in ways of its own before or without an HTTP response: a
//! token exchange refused, credentials a signer rejects, a body cut short.
//! Such an [`Error`] leaves the hook inside a synthetic response
//! ([`carry`]), intact in the response's extensions rather than serialised,
//! so nothing (request id, retry-after, source) is lost on the way.
//! [`convert`] then turns whatever a generated call returned into an
//! [`Error`], taking carried errors back out and leaving only the reading of
//! a vendor's own error bodies to [`VendorErrors`]; [`VendorErrors::call`]
//! does both for a whole generated call.

use crate::{Error, ErrorKind, Vendor};
use http::HeaderMap;
use std::sync::{Arc, Mutex};

/// How one vendor reads its failures.
pub(crate) trait VendorErrors {
    /// Who the errors are attributed to.
    const VENDOR: Vendor;

    /// The error for a failed response, from its parts.
    fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Error;

    /// The error for a success status whose body did not match the success
    /// schema: often a vendor error envelope, otherwise a decode error.
    fn from_unparsed_success(body: &[u8], err: serde_json::Error) -> Error;

    /// Calls a generated operation (the future of its builder's `send()`)
    /// and returns its value, or its failure as [`Error`] read the
    /// vendor's way: the one way hand-written code calls into generated
    /// code.
    fn call<T>(
        sent: impl std::future::Future<Output = Sent<T>>,
    ) -> impl std::future::Future<Output = crate::Result<T>>
    where
        Self: Sized,
    {
        async {
            send::<Self, T>(sent)
                .await
                .map(progenitor_client::ResponseValue::into_inner)
        }
    }
}

/// What a generated operation's `send()` resolves to.
pub(crate) type Sent<T> = Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<()>>;

/// Our own error, riding in a response's extensions through the generated
/// code. `http::Extensions` needs `Clone`, hence the shared slot.
#[derive(Clone)]
struct Carried(Arc<Mutex<Option<Error>>>);

/// A response that carries `err` out of the hook. Its status is never a
/// success (the error's own status if it has one of 400 or more, else 599),
/// so generated code hands it back unparsed as `UnexpectedResponse`.
pub(crate) fn carry(err: Error) -> reqwest::Response {
    let status = err
        .status()
        .filter(|s| *s >= 400)
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .unwrap_or_else(|| http::StatusCode::from_u16(599).expect("valid status"));
    let mut response = http::Response::new(err.to_string());
    *response.status_mut() = status;
    response
        .extensions_mut()
        .insert(Carried(Arc::new(Mutex::new(Some(err)))));
    reqwest::Response::from(response)
}

/// The error a synthetic response carries, if it is one.
pub(crate) fn take_carried(response: &mut reqwest::Response) -> Option<Error> {
    let carried = response.extensions_mut().remove::<Carried>()?;
    let err = carried.0.lock().ok()?.take();
    err
}

/// The operation a response answered, recorded on its way out of the hook
/// so that the error read from it later can name it.
#[derive(Clone, Copy)]
struct Operation(&'static str);

/// What leaves a pipeline, ready to leave the hook: every error (a
/// transport failure too) becomes a carried [`Error`] that names `vendor`
/// and `operation`; every response remembers `operation`.
pub(crate) fn leave(
    result: reqwest::Result<reqwest::Response>,
    vendor: Vendor,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    depart(result, Some(vendor), operation)
}

/// The hook's own last step, after whatever the pipeline returned: like
/// [`leave`] without a vendor (the hook knows none; [`response_error`] adds
/// it). So a failure a pipeline returns before its core runs, carried bare,
/// still names its operation. Harmless after [`leave`]: an error keeps the
/// vendor and operation it has.
pub(crate) fn exit(
    result: reqwest::Result<reqwest::Response>,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    depart(result, None, operation)
}

fn depart(
    result: reqwest::Result<reqwest::Response>,
    vendor: Option<Vendor>,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    let attribute = |err: Error| {
        let err = match (err.vendor(), vendor) {
            (None, Some(v)) => err.with_vendor(v),
            _ => err,
        };
        err.with_operation(operation)
    };
    let mut response = match result {
        Ok(r) => r,
        Err(e) => return Ok(carry(attribute(Error::from(e)))),
    };
    if let Some(carried) = take_carried(&mut response) {
        return Ok(carry(attribute(carried)));
    }
    response.extensions_mut().insert(Operation(operation));
    Ok(response)
}

/// The error for a failed response: the carried one, or the vendor's
/// reading of a bounded prefix of the body.
pub(crate) async fn response_error<V: VendorErrors>(mut response: reqwest::Response) -> Error {
    if let Some(carried) = take_carried(&mut response) {
        // Carried out by the hook alone ([`exit`]), it names no vendor yet.
        return match carried.vendor() {
            Some(_) => carried,
            None => carried.with_vendor(V::VENDOR),
        };
    }
    let operation = response.extensions().get::<Operation>().copied();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = crate::http::body::read_error_body(response).await;
    let err = V::from_parts(status, &headers, &body);
    match operation {
        Some(Operation(op)) => err.with_operation(op),
        None => err,
    }
}

/// Like [`VendorErrors::call`], keeping the response head (a download needs its
/// headers).
pub(crate) async fn send<V: VendorErrors, T>(
    sent: impl std::future::Future<Output = Sent<T>>,
) -> crate::Result<progenitor_client::ResponseValue<T>> {
    match Box::pin(sent).await {
        Ok(value) => Ok(value),
        Err(e) => Err(convert::<V>(e).await),
    }
}

/// The one conversion from what a generated call returned to [`Error`].
pub(crate) async fn convert<V: VendorErrors>(err: progenitor_client::Error<()>) -> Error {
    use progenitor_client::Error as P;
    match err {
        P::InvalidRequest(msg) => Error::new(ErrorKind::InvalidInput, msg).with_vendor(V::VENDOR),
        P::CommunicationError(e) | P::InvalidUpgrade(e) | P::ResponseBodyError(e) => {
            Error::from(e).with_vendor(V::VENDOR)
        }
        P::ErrorResponse(rv) => V::from_parts(rv.status().as_u16(), rv.headers(), b""),
        P::InvalidResponsePayload(bytes, e) => V::from_unparsed_success(&bytes, e),
        P::UnexpectedResponse(response) => response_error::<V>(response).await,
        P::Custom(msg) => Error::new(ErrorKind::Api, msg).with_vendor(V::VENDOR),
    }
}

/// Declares a vendor's `generated` module (`generated.rs`, the include)
/// with the lints generated code cannot meet allowed.
macro_rules! generated_module {
    () => {
        #[allow(
            missing_docs,
            clippy::all,
            clippy::pedantic,
            rustdoc::all,
            unused,
            unreachable_pub,
            elided_lifetimes_in_paths,
            mismatched_lifetime_syntaxes
        )]
        pub mod generated;
    };
}
pub(crate) use generated_module;

/// The `exec` hook of a vendor's generated client: every request goes
/// through that vendor's `Pipeline` (in scope with `generated`).
macro_rules! exec_through_pipeline {
    () => {
        impl progenitor_client::ClientHooks<Pipeline> for generated::Client {
            async fn exec(
                &self,
                request: reqwest::Request,
                info: &progenitor_client::OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                let result = progenitor_client::ClientInfo::inner(self)
                    .execute(request, info.operation_id)
                    .await;
                // Every failure leaves naming its operation, whether or not
                // the pipeline remembered to say it.
                crate::hooks::exit(result, info.operation_id)
            }
        }
    };
}
pub(crate) use exec_through_pipeline;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Test;
    impl VendorErrors for Test {
        const VENDOR: Vendor = Vendor::Atlas;
        fn from_parts(status: u16, _: &HeaderMap, body: &[u8]) -> Error {
            Error::new(ErrorKind::Api, String::from_utf8_lossy(body)).with_status(status)
        }
        fn from_unparsed_success(_: &[u8], e: serde_json::Error) -> Error {
            Error::decode(e.to_string())
        }
    }

    #[tokio::test]
    async fn carried_errors_survive_the_generated_code_whole() {
        let original = Error::new(ErrorKind::Auth, "token exchange failed: nope")
            .with_status(401)
            .with_code("invalid_client")
            .with_request_id("req-9")
            .with_retry_after(Duration::from_secs(3))
            .with_retryable(false);
        let mut r = carry(original);
        assert_eq!(r.status(), 401);
        let back = take_carried(&mut r).unwrap();
        assert_eq!(back.message(), "token exchange failed: nope");
        assert_eq!(
            (
                back.code(),
                back.request_id(),
                back.retry_after(),
                back.is_retryable()
            ),
            (
                Some("invalid_client"),
                Some("req-9"),
                Some(Duration::from_secs(3)),
                false
            )
        );
        assert!(take_carried(&mut r).is_none(), "taken once");

        let original = Error::credentials("no key").with_vendor(Vendor::TencentCls);
        let r = carry(original);
        assert_eq!(r.status().as_u16(), 599, "never a success");
        let back = convert::<Test>(progenitor_client::Error::UnexpectedResponse(r)).await;
        assert_eq!(
            (back.kind(), back.message()),
            (ErrorKind::Credentials, "no key")
        );
        assert_eq!(
            back.vendor(),
            Some(Vendor::TencentCls),
            "the carried error, not the vendor's reading"
        );

        let e = Error::new(ErrorKind::Auth, "refused")
            .with_status(200)
            .with_code("c")
            .with_request_id("r");
        let back = response_error::<Test>(carry(e)).await;
        assert_eq!(
            (back.kind(), back.status(), back.code(), back.request_id()),
            (ErrorKind::Auth, Some(200), Some("c"), Some("r"))
        );
    }

    /// A transport failure leaving the hook is pinned end to end in
    /// `tests/hostile_transport.rs`.
    #[tokio::test]
    async fn real_responses_go_to_the_vendor_and_name_the_operation() {
        let r = http::Response::builder()
            .status(502)
            .body("bad gateway")
            .unwrap();
        let r = leave(Ok(r.into()), Vendor::Atlas, "get_process").unwrap();
        let e = convert::<Test>(progenitor_client::Error::UnexpectedResponse(r)).await;
        assert_eq!(
            (e.status(), e.message(), e.operation()),
            (Some(502), "bad gateway", Some("get_process"))
        );
    }

    #[tokio::test]
    async fn a_bare_error_leaving_the_hook_names_vendor_and_operation() {
        // As a pipeline returns a failure before its core runs.
        let bare = Error::credentials("the key cannot be signed with");
        let out = exit(Ok(carry(bare)), "list_things").unwrap();
        let err = response_error::<Test>(out).await;
        assert_eq!(err.vendor(), Some(Vendor::Atlas), "{err}");
        assert_eq!(err.operation(), Some("list_things"), "{err}");
        assert_eq!(err.kind(), ErrorKind::Credentials);

        // Twice through (`leave` in the core, then `exit` in the hook): the
        // first attribution stands.
        let tagged = Error::credentials("x")
            .with_vendor(Vendor::TencentCls)
            .with_operation("inner");
        let once = leave(Ok(carry(tagged)), Vendor::Atlas, "outer").unwrap();
        let twice = exit(Ok(once), "outer").unwrap();
        let err = response_error::<Test>(twice).await;
        assert_eq!(err.vendor(), Some(Vendor::TencentCls));
        assert_eq!(err.operation(), Some("inner"));

        // A plain response keeps the operation for the error read from it.
        let r = reqwest::Response::from(
            http::Response::builder()
                .status(500)
                .body("boom".to_string())
                .unwrap(),
        );
        let err = response_error::<Test>(exit(Ok(r), "get_thing").unwrap()).await;
        assert_eq!(err.operation(), Some("get_thing"), "{err}");
    }
}
