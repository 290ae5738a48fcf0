//! The client generated from `specs/atlas.yaml`, for operations the layer
//! above does not wrap. Obtain one that shares a [`Client`](super::Client)'s auth and
//! retries with [`Client::generated`](super::Client::generated).

include!(concat!(env!("OUT_DIR"), "/atlas.rs"));
