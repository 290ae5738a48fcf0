//! The client generated from `specs/tencent-cls.yaml`. Its requests go
//! through the same signing and retry hook as the hand-written methods.

include!(concat!(env!("OUT_DIR"), "/tencent_cls.rs"));
