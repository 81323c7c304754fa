//! Per-session counters: `last_insert_rowid()`, `changes()` and
//! `total_changes()` report what a connection opened for the session alone
//! would, although the session runs on pooled connections.
//!
//! Owns the counter overrides installed on each connection. Must not touch
//! anything else of a connection.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::pool::Pooled;

/// Inputs of the `changes()` / `total_changes()` overrides of one physical
/// connection, set before each statement from the session running it.
#[derive(Default)]
pub(super) struct Counters {
    /// Subtracted from the connection's total to give the session's.
    total_offset: AtomicI64,
    /// The connection's total when the statement started.
    start_total: AtomicI64,
    /// The session's `changes()` when the statement started.
    carried_changes: AtomicI64,
}

/// A session's own counters: what a connection opened for it alone would report.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SessionCounters {
    last_insert_rowid: i64,
    changes: i64,
    total_changes: i64,
}

/// Replace `changes()` and `total_changes()` on `conn` by the session's
/// values (SQLite's own are per physical connection and cannot be reset).
pub(super) fn install_counters(conn: &rusqlite::Connection, counters: Arc<Counters>) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let total = counters.clone();
    conn.create_scalar_function("total_changes", 0, FunctionFlags::SQLITE_UTF8, move |ctx| {
        // SAFETY: only reads a counter of the connection running this statement.
        let conn = unsafe { ctx.get_connection()? };
        Ok(conn.total_changes() as i64 - total.total_offset.load(Ordering::Relaxed))
    })?;
    conn.create_scalar_function("changes", 0, FunctionFlags::SQLITE_UTF8, move |ctx| {
        // SAFETY: as above.
        let conn = unsafe { ctx.get_connection()? };
        // Until a statement completes inside this one (a trigger's), the
        // session's value.
        if conn.total_changes() as i64 == counters.start_total.load(Ordering::Relaxed) {
            Ok(counters.carried_changes.load(Ordering::Relaxed))
        } else {
            Ok(conn.changes() as i64)
        }
    })?;
    Ok(())
}

/// Make `pooled` report `session`'s counters during the next statement.
pub(super) fn counters_in(pooled: &Pooled, session: &SessionCounters) -> i64 {
    let total = pooled.conn.total_changes() as i64;
    pooled.counters.total_offset.store(total - session.total_changes, Ordering::Relaxed);
    pooled.counters.start_total.store(total, Ordering::Relaxed);
    pooled.counters.carried_changes.store(session.changes, Ordering::Relaxed);
    // SAFETY: the handle is this live connection's; the call only sets an integer.
    unsafe { rusqlite::ffi::sqlite3_set_last_insert_rowid(pooled.conn.handle(), session.last_insert_rowid) };
    total
}

/// Take the session's counters back after a statement that started at `start_total`.
pub(super) fn counters_out(pooled: &Pooled, session: &mut SessionCounters, start_total: i64, counted: bool) {
    session.total_changes += pooled.conn.total_changes() as i64 - start_total;
    session.last_insert_rowid = pooled.conn.last_insert_rowid();
    if counted {
        session.changes = pooled.conn.changes() as i64;
    }
}
