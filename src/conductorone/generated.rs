//! The client generated from `specs/conductorone.yaml`. Its requests go
//! through the same authentication and retries as [`Client`](super::Client).

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    unused,
    unreachable_pub
)]
include!(concat!(env!("OUT_DIR"), "/conductorone.rs"));
