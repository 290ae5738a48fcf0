//! Blocking file work from async code: profile files, checkpoints, pull's
//! output files and their fsyncs.

/// Runs `f`, which blocks (file I/O, fsync), in place of an async worker
/// thread (`block_in_place`), so the runtime's other tasks move on; without
/// a multi-thread runtime (unit tests, before the runtime starts) it just
/// runs. Unlike `spawn_blocking`, `f` may borrow.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
