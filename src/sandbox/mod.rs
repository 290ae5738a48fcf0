//! The loopback emulators, from the `logexport-sandbox` crate, with the glue
//! that needs this library: client builders pointed at each emulator, the
//! demo credentials as this crate's types, and the `expected_*` helpers
//! taking this crate's parameter types.
//!
//! The emulators themselves share no code with the clients: they verify
//! TC3, Digest and JWT assertions with their own implementations, so a
//! mistake in a client's signing fails against them. The methods that
//! return client types are extension traits; bring them into scope with
//! `use logexport::sandbox::prelude::*;`.

pub use logexport_sandbox::{
    Clock, Fault, FaultTarget, Faults, LoggedRequest, RequestLog, Server, WindowLimit,
};

#[cfg(feature = "atlas")]
pub mod atlas;
#[cfg(feature = "conductorone")]
pub mod conductorone;
#[cfg(feature = "tencent-cls")]
pub mod tencent_cls;

/// The extension traits that give each emulator its client-typed methods.
pub mod prelude {
    #[cfg(feature = "atlas")]
    pub use super::atlas::AtlasSandboxExt;
    #[cfg(feature = "conductorone")]
    pub use super::conductorone::ConductorOneSandboxExt;
    #[cfg(feature = "tencent-cls")]
    pub use super::tencent_cls::TencentClsSandboxExt;
}
