//! Waiting for a lock another connection holds (another process on the same
//! file): statements run with SQLite's busy timeout at zero and, when busy,
//! run again on the blocking pool with [`wait_while_busy`].
//!
//! Owns the busy handler and the timeout. Must not touch the write gate.

use std::time::Duration;

/// How long a statement waits for a lock held by another connection (and
/// a writer for its turn on the gate) before failing with "database is locked".
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a statement waiting for a lock held by another connection
/// (another process on the same file) tries again: see [`wait_while_busy`].
pub(super) const BUSY_POLL: Duration = Duration::from_millis(2);

/// SQLite busy handler: try again every [`BUSY_POLL`] until [`BUSY_TIMEOUT`]
/// has passed since the wait began. SQLite's own (`busy_timeout`) backs off
/// to one try per 100 ms; another process writing the same file under load
/// frees its lock only in short gaps between its commits, and writers that
/// look that seldom waited for seconds (`inbound_stop_replicas` bench: the
/// slowest STOPs of two replicas took 0.4-1.7 s, 0.1-0.3 s with this). Shorter
/// polls hand the lock back and forth more often, and each hand-off costs
/// the other process a re-read of the pages that changed: 1 ms measured
/// 10-15% fewer STOPs/s than 2-5 ms; 10 ms and more let the tail grow again.
pub(crate) fn wait_while_busy(attempt: i32) -> bool {
    let waiting = busy_wait_goes_on(attempt, BUSY_TIMEOUT);
    if waiting {
        std::thread::sleep(BUSY_POLL);
    }
    waiting
}

/// Whether the wait whose `attempt`-th try just found the lock taken has
/// lasted less than `timeout`.
pub(super) fn busy_wait_goes_on(attempt: i32, timeout: Duration) -> bool {
    thread_local! {
        /// When the wait SQLite is asking about began (SQLite calls the
        /// handler on the thread running the statement, attempt 0 first).
        static WAIT_BEGAN: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }
    let now = std::time::Instant::now();
    let began = WAIT_BEGAN.with(|began| {
        if attempt == 0 || began.get().is_none() {
            began.set(Some(now));
        }
        began.get().unwrap_or(now)
    });
    now.duration_since(began) < timeout
}

/// The statement could not start because another connection holds a lock;
/// it changed nothing and can run again. (`SQLITE_BUSY_SNAPSHOT` is not
/// retried: waiting cannot help a transaction whose snapshot is stale.)
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::DatabaseBusy && f.extended_code != rusqlite::ffi::SQLITE_BUSY_SNAPSHOT)
}

#[cfg(test)]
mod tests {
    use super::busy_wait_goes_on;
    use std::time::Duration;
    #[test]
    fn a_busy_wait_gives_up_after_its_timeout_and_the_next_wait_starts_afresh() {
        let timeout = Duration::from_millis(200);
        assert!(busy_wait_goes_on(0, timeout));
        assert!(busy_wait_goes_on(1, timeout));
        std::thread::sleep(timeout + Duration::from_millis(10));
        assert!(!busy_wait_goes_on(2, timeout), "still waiting past the timeout");
        // SQLite counts each new wait from attempt 0.
        assert!(busy_wait_goes_on(0, timeout));
        assert!(busy_wait_goes_on(1, timeout));
    }
}
