//! The client generated from `specs/atlas.yaml`, for operations the layer
//! above does not wrap. Obtain one that shares a [`Client`](super::Client)'s auth and
//! retries with [`Client::generated`](super::Client::generated).

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    unused,
    unreachable_pub,
    elided_lifetimes_in_paths,
    mismatched_lifetime_syntaxes
)]
include!(concat!(env!("OUT_DIR"), "/atlas.rs"));
