//! The write turn: writers of this process take turns on a FIFO gate per
//! database, so that the SQLite write lock passes from one to the next at
//! once instead of after a busy handler's sleep.
//!
//! Owns waiting for a turn and holding it. Must not run statements or
//! commit (the session in [`super::wit`] decides when a turn ends).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::busy::BUSY_TIMEOUT;
use super::pool::Database;

impl Database {
    /// Wait (up to [`BUSY_TIMEOUT`]) for a turn on the write gate; None when
    /// it did not come (SQLite's own locking then decides).
    pub(super) async fn wait_for_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        /// Counts a waiter for as long as it waits, also when its request is dropped meanwhile.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.gate_waiters.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(&self.gate_waiters);
        let turn = tokio::time::timeout(BUSY_TIMEOUT, self.write_gate.clone().lock_owned()).await;
        drop(waiting);
        turn.ok()
    }
}

/// A turn on a database's write gate.
pub(super) struct WriteTurn {
    database: Arc<Database>,
    /// The holding instance's count of turns.
    held_by: Arc<AtomicUsize>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTurn {
    pub(super) fn new(
        database: Arc<Database>,
        store_id: u64,
        held_by: &Arc<AtomicUsize>,
        guard: tokio::sync::OwnedMutexGuard<()>,
    ) -> Self {
        database.gate_holder.store(store_id, Ordering::Release);
        held_by.fetch_add(1, Ordering::AcqRel);
        WriteTurn { database, held_by: held_by.clone(), _guard: guard }
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        // Cleared before `_guard` releases the gate.
        self.database.gate_holder.store(0, Ordering::Release);
        self.held_by.fetch_sub(1, Ordering::AcqRel);
    }
}
