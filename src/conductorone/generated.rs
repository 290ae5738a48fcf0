//! The client generated from `specs/conductorone.yaml`. Its requests go
//! through the same authentication and retries as [`Client`](super::Client).

include!(concat!(env!("OUT_DIR"), "/conductorone.rs"));
