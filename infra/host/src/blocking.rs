//! Run synchronous storage calls (rusqlite) off the async runtime's worker threads.

/// Run `f` on tokio's blocking pool and return its result.
pub async fn run<R, F>(f: F) -> wasmtime::Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| wasmtime::format_err!("storage task failed: {e}"))
}
