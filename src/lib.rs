//! # logexport
//!
//! One crate for pulling audit and system logs out of three cloud control
//! planes, with the authentication each one needs done right and an embedded
//! emulator of each for offline tests:
//!
//! | module | service | auth |
//! | --- | --- | --- |
//! | `conductorone` | ConductorOne system log exporter | OAuth client credentials with an Ed25519 JWT assertion |
//! | `tencent_cls` | Tencent Cloud Log Service export tasks | TC3-HMAC-SHA256 request signing |
//! | `atlas` | MongoDB Atlas log downloads and events | HTTP Digest or service-account OAuth |
//!
//! Each vendor module wraps a client generated at build time from the
//! vendored OpenAPI description in `specs/` (see `cargo xtask specs`). The
//! generated code stays behind the hand-written layer, which adds what a spec
//! cannot say: signing, token exchange, versioned `Accept` headers, retries,
//! rate limits and streaming downloads. It remains reachable as
//! `<vendor>::generated` for operations the hand-written layer does not cover.
//!
//! Shared pieces: [`Error`] (one error type for every vendor),
//! [`RetryPolicy`], [`RateLimiter`], [`download`] (streaming decode and
//! atomic files), [`Endpoint`] (HTTPS except on loopback) and
//! [`SecretString`] (credentials that never print). With the `sandbox`
//! feature, `sandbox` holds the emulators; with `profiles`, `profile`
//! reads the logins tccli, the atlas CLI and cone have saved. Each vendor module exists only
//! with its feature (`conductorone`, `tencent-cls`, `atlas`), all on by default.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
mod builder;
pub mod download;
mod endpoint;
// Every reader of the environment: each vendor's `from_env` and the
// saved-login readers (which exist only with their vendor).
#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
mod env;
mod error;
#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
mod hooks;
pub(crate) mod http;
#[cfg(any(feature = "atlas", feature = "conductorone", feature = "tencent-cls"))]
mod pages;
mod random;
mod ratelimit;
pub mod retry;
mod secret;
mod time;
mod tls;
#[cfg(any(feature = "atlas", feature = "conductorone"))]
pub(crate) mod token;

#[cfg(feature = "atlas")]
pub mod atlas;
#[cfg(feature = "conductorone")]
pub mod conductorone;
#[cfg(feature = "profiles")]
pub mod profile;
#[cfg(feature = "sandbox")]
pub mod sandbox;
#[cfg(feature = "tencent-cls")]
pub mod tencent_cls;

pub use endpoint::{is_loopback_host, Endpoint};
pub use error::{Error, ErrorKind, Result, Vendor};
pub use http::Throughput;
pub use ratelimit::{RateLimiter, RatePermit};
pub use retry::RetryPolicy;
pub use secret::SecretString;
pub use time::TimeRange;

/// The `User-Agent` every client sends.
pub const USER_AGENT: &str = concat!("logexport/", env!("CARGO_PKG_VERSION"));

/// The README's examples, compiled (and the offline one run) as doctests.
#[cfg(all(
    doctest,
    feature = "sandbox",
    feature = "atlas",
    feature = "tencent-cls",
    feature = "conductorone"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
