//! Background checkpoints: connections commit to the WAL (which each
//! commit syncs) and never run SQLite's automatic checkpoint; a
//! blocking-pool task copies the WAL back each time it grew by
//! [`CHECKPOINT_PAGES`].
//!
//! Owns counting WAL growth and running checkpoints. Must not commit or
//! lend connections.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::pool::Database;
use crate::blocking;

/// WAL growth (pages) that starts a background checkpoint: a quarter of
/// SQLite's own automatic-checkpoint threshold (1,000). Each checkpoint
/// ends in an fsync of the database file, and the commits' fsyncs of the
/// WAL, which every writer waits for, share the disk with it; flushing
/// 1 MB at a time instead of 4 MB gave the STOP webhook a steadier p99
/// (BENCHMARKS.md, "Inbound webhook").
pub const CHECKPOINT_PAGES: i32 = 250;

/// WAL size (pages, 4 KiB each) past which a background checkpoint holds
/// the write gate so that the WAL can restart (bounds the file under
/// steady writes to about 32 MB).
pub(super) const RESTART_PAGES: i32 = 8000;

impl Database {
    /// Run a passive checkpoint (blocks: copies pages, two fsyncs).
    pub(super) fn checkpoint(&self) -> rusqlite::Result<()> {
        let mut slot = self.checkpointer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let conn = match slot.take() {
            Some(conn) => conn,
            None => self.open_raw()?,
        };
        // PASSIVE never waits for readers or writers.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        *slot = Some(conn);
        done
    }

    /// Start a passive checkpoint in the background once [`CHECKPOINT_PAGES`]
    /// pages were added to the WAL since the last one started (at most one at
    /// a time).
    ///
    /// Counted from the last checkpoint, not from the WAL's start: while
    /// writers keep committing during a background checkpoint, it never
    /// copies the frames appended meanwhile, so SQLite never restarts the WAL
    /// (it does when a write begins with every frame copied back). Judged by
    /// the WAL's size, every commit past the threshold started another
    /// checkpoint: one per few transactions, two fsyncs each.
    pub(super) fn after_commit(self: &Arc<Self>, wal_pages: i32) {
        if self.in_memory || wal_pages <= 0 {
            return;
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        let mut last = self.checkpointed_at.load(Ordering::Acquire);
        if wal_pages < last {
            // The WAL restarted: count from its start again.
            self.checkpointed_at.store(0, Ordering::Release);
            last = 0;
        }
        if wal_pages - last < CHECKPOINT_PAGES || self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.checkpointed_at.store(wal_pages, Ordering::Release);
        // A long WAL: this checkpoint takes a writer's turn, so that no write
        // of this process lands meanwhile, it copies every frame back and the
        // next write restarts the WAL from its start (unless a reader still
        // uses old frames). It mostly copies the tail the last checkpoint
        // left: a short pause for writers, once per RESTART_PAGES.
        let gated = wal_pages >= RESTART_PAGES;
        let db = self.clone();
        let spawned = tokio::runtime::Handle::try_current().map(|rt| {
            rt.spawn(async move {
                let turn = if gated { Some(db.write_gate.clone().lock_owned().await) } else { None };
                if turn.is_some() {
                    // The WAL can only restart with no write transaction open.
                    db.close_group();
                }
                let worker = db.clone();
                let done = match blocking::run(move || worker.checkpoint()).await {
                    Ok(done) => done.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                drop(turn);
                if let Err(e) = done {
                    tracing::debug!("background checkpoint of {}: {e}", db.path.display());
                }
                db.checkpointing.store(false, Ordering::Release);
            })
        });
        if spawned.is_err() {
            self.checkpointing.store(false, Ordering::Release);
        }
    }
}

thread_local! {
    /// WAL size reported by the last commit on this thread.
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// SQLite's WAL hook: runs on the committing thread after each commit.
pub(super) fn note_wal_pages(_wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

pub(super) fn take_wal_pages() -> i32 {
    WAL_PAGES.with(|p| p.replace(0))
}
