//! Where each vendor's credentials come from: the environment first, else
//! the vendor CLI's own saved profile (`--profile`, else the tool's
//! selector variable, else `default`). Records the source, never a value,
//! for `-v` and the summary.

use crate::{Ctx, Failure};
use logexport::profile::{atlascli, cone, tccli, Source};

/// The process environment, as the profile resolvers take it.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Profile files are read with blocking I/O; this keeps it off the
/// runtime's worker threads without handing the whole resolver a `'static`
/// bound.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Notes the credentials' source for the summary and says it under `-v`.
fn record(ctx: &Ctx, source: &Source) {
    tracing::info!(credentials = %source, "credentials from {source}");
    ctx.set_credentials(source.clone());
}

/// Atlas: the `MONGODB_ATLAS_*` variables, else the atlas CLI profile.
pub fn atlas(ctx: &Ctx) -> Result<atlascli::Login, Failure> {
    let login = blocking(|| atlascli::resolve(env, ctx.global.profile.as_deref()))?;
    record(ctx, &login.credentials.source);
    Ok(login)
}

/// CLS: the `TENCENTCLOUD_*` variables, else the tccli profile.
pub fn cls(ctx: &Ctx) -> Result<tccli::Login, Failure> {
    let login = blocking(|| tccli::resolve(env, ctx.global.profile.as_deref()))?;
    record(ctx, &login.credentials.source);
    Ok(login)
}

/// ConductorOne: the `CONE_*`/`CONDUCTORONE_*` variables, else the cone
/// profile.
pub fn c1(ctx: &Ctx) -> Result<cone::Login, Failure> {
    let login = blocking(|| cone::resolve(env, ctx.global.profile.as_deref()))?;
    record(ctx, &login.credentials.source);
    Ok(login)
}
