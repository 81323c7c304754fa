//! Group commit: write transactions queued behind each other commit
//! together, each a savepoint inside one transaction on the writer
//! connection, and each member's `COMMIT` answers once the group committed.
//!
//! Owns forming, joining, committing and abandoning a group. Must not lend
//! connections (that is [`super::pool`]) or take turns ([`super::write_turn`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use wasmtime::component::Resource;

use super::checkpoint::take_wal_pages;
use super::classify::TxEnd;
use super::pool::{close, Database, Lent};
use super::wit::{no_rows, sql_error, ConnectionHandle, SqliteView};
use super::wit::sqlite::{Error, QueryResult};

/// Most transactions committed together (see the module docs): bounds how
/// long the first member's `COMMIT` waits for the others.
pub const MAX_GROUP: usize = 64;

/// The savepoint each member of a commit group runs in.
pub(super) const GROUP_SAVEPOINT: &str = "\"spin-host group member\"";

/// Transactions that ended, kept open together on the writer connection
/// until one commit writes them all.
#[derive(Default)]
pub(super) struct Group {
    /// Transactions in the group so far (ended or running).
    members: usize,
    /// Members waiting for the commit's outcome.
    waiting: Vec<tokio::sync::oneshot::Sender<Result<(), GroupFailure>>>,
}

/// Why a commit group committed nothing.
#[derive(Debug, Clone)]
pub(super) struct GroupFailure {
    /// The database or disk is full.
    full: bool,
    /// SQLite's message.
    message: String,
}

impl GroupFailure {
    pub(super) fn from_sqlite(e: &rusqlite::Error) -> Self {
        let full = matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull);
        GroupFailure { full, message: e.to_string() }
    }

    pub(super) fn to_error(&self) -> Error {
        if self.full {
            Error::DatabaseFull
        } else {
            Error::Io(format!("commit failed, nothing was committed: {}", self.message))
        }
    }
}

impl Database {
    /// Whether transactions may be grouped: not when the schema can roll a
    /// whole transaction back on its own (a trigger's `RAISE(ROLLBACK, ...)`,
    /// an `ON CONFLICT ROLLBACK` constraint), which would take the other
    /// members' work with it. Looked up again when the schema changes.
    pub(super) fn schema_allows_groups(&self, conn: &rusqlite::Connection) -> bool {
        let version = conn
            .prepare_cached("PRAGMA schema_version")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)));
        let Ok(version) = version else {
            return false;
        };
        let Ok(mut known) = self.group_schema.lock() else {
            return false;
        };
        if known.0 != version {
            let rolls_back = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE sql LIKE '%ROLLBACK%')",
                [],
                |row| row.get::<_, bool>(0),
            );
            *known = (version, rolls_back == Ok(false));
        }
        known.1
    }

    /// Whether a commit group is open on the writer connection.
    pub(super) fn group_open(&self) -> bool {
        self.group.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Open a commit group whose first member is the transaction on the
    /// writer connection, and queue a task on the gate that commits it
    /// should no member or later writer do so first.
    /// False (no group) outside a runtime, where nothing could wait for one.
    pub(super) fn start_group(self: &Arc<Self>) -> bool {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let Ok(mut group) = self.group.lock() else {
            return false;
        };
        *group = Some(Group { members: 1, waiting: Vec::new() });
        let db = self.clone();
        drop(rt.spawn(async move {
            let _turn = db.write_gate.clone().lock_owned().await;
            db.close_group();
        }));
        true
    }

    /// Let a member that ended its transaction wait for the open group's
    /// commit: the receiver gets the outcome. None if the group is full (or
    /// gone): the member then commits it.
    pub(super) fn join_waiting(&self) -> Option<tokio::sync::oneshot::Receiver<Result<(), GroupFailure>>> {
        let mut guard = self.group.lock().ok()?;
        let group = guard.as_mut()?;
        if group.members >= MAX_GROUP {
            return None;
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        group.waiting.push(sender);
        Some(receiver)
    }

    /// Count a transaction that began inside the open group (the first one
    /// is counted by [`Database::start_group`]).
    pub(super) fn count_member(&self) {
        if let Ok(mut guard) = self.group.lock() {
            if let Some(group) = guard.as_mut() {
                group.members += 1;
            }
        }
    }

    /// Commit the open group on `conn` (the writer connection, held by the
    /// caller with the write turn) and tell its waiting members. A failed
    /// commit rolls everything back: nobody's transaction stays half done.
    pub(super) fn commit_group(self: &Arc<Self>, conn: &rusqlite::Connection) -> Result<(), GroupFailure> {
        let group = self.group.lock().ok().and_then(|mut g| g.take()).unwrap_or_default();
        let outcome = if conn.is_autocommit() {
            Err(GroupFailure { full: false, message: "the transaction was rolled back".into() })
        } else {
            match conn.execute_batch("COMMIT") {
                Ok(()) => Ok(()),
                Err(e) => {
                    if !conn.is_autocommit() {
                        let _ = conn.execute_batch("ROLLBACK");
                    }
                    Err(GroupFailure::from_sqlite(&e))
                }
            }
        };
        self.after_commit(take_wal_pages());
        for member in group.waiting {
            let _ = member.send(outcome.clone());
        }
        outcome
    }

    /// The writer connection's transaction is gone (an error rolled it
    /// back): tell the waiting members that nothing of theirs was committed.
    pub(super) fn abandon_group(&self, why: &str) {
        if let Some(group) = self.group.lock().ok().and_then(|mut g| g.take()) {
            let failure = GroupFailure { full: false, message: format!("the transaction was rolled back: {why}") };
            for member in group.waiting {
                let _ = member.send(Err(failure.clone()));
            }
        }
    }

    /// Commit the open group, if any, from the parked writer connection.
    /// Only with the write turn held.
    pub(super) fn close_group(self: &Arc<Self>) {
        if !self.group_open() {
            return;
        }
        let parked = self.writer.lock().ok().and_then(|mut w| w.take());
        match parked {
            Some(pooled) => {
                let _ = self.commit_group(&pooled.conn);
                self.put_back(Lent { pooled, writer: true });
            }
            // Cannot happen (the group lives on the parked writer); never leave members waiting.
            None => self.abandon_group("the writer connection was lost"),
        }
    }

    /// Leave the writer connection, inside the open group's transaction, for
    /// the next holder of the write turn.
    pub(super) fn park_writer(&self, lent: Lent) {
        match self.writer.lock() {
            Ok(mut slot) if slot.is_none() => *slot = Some(lent.pooled),
            _ => {
                // Cannot happen (the turn holder took it from the slot): end the group.
                self.abandon_group("the writer connection was lost");
                let _ = lent.pooled.conn.execute_batch("ROLLBACK");
                close(lent.pooled);
            }
        }
    }
}

/// Foreign key violations a `COMMIT` on `conn` would fail on (deferred
/// constraints not yet resolved).
pub(super) fn unresolved_foreign_keys(conn: &rusqlite::Connection) -> bool {
    let (mut current, mut highest) = (0, 0);
    // SAFETY: a status read on this live connection's handle, into two integers.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_DEFERRED_FKS,
            &mut current,
            &mut highest,
            0,
        )
    };
    rc != rusqlite::ffi::SQLITE_OK || current != 0
}

impl SqliteView<'_> {
    /// End the session's transaction inside a commit group (see the module
    /// docs): a member's savepoint is released (`COMMIT`) or undone
    /// (`ROLLBACK`); then, while other writers wait, the turn passes on
    /// and a `COMMIT` answers once the group is committed; otherwise the
    /// group is committed now.
    pub(super) async fn end_in_group(
        &mut self,
        connection: &Resource<ConnectionHandle>,
        end: TxEnd,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let handle = self.table.get_mut(connection)?;
        let db = handle.database.clone();
        let Some(lent) = handle.kept.take() else {
            return Ok(Err(Error::Io("cannot end a transaction: none is active".into())));
        };
        if handle.member {
            let conn = &lent.pooled.conn;
            let done = match end {
                TxEnd::Commit if unresolved_foreign_keys(conn) => {
                    // As SQLite: the COMMIT fails and the transaction stays open.
                    handle.kept = Some(lent);
                    return Ok(Err(Error::Io("FOREIGN KEY constraint failed".into())));
                }
                TxEnd::Commit => conn.execute_batch(&format!("RELEASE {GROUP_SAVEPOINT}")),
                TxEnd::Rollback => {
                    conn.execute_batch(&format!("ROLLBACK TO {GROUP_SAVEPOINT}; RELEASE {GROUP_SAVEPOINT}"))
                }
            };
            if let Err(e) = done {
                handle.kept = Some(lent);
                return Ok(Err(sql_error(e)));
            }
            handle.member = false;
        }
        if !handle.dirty && db.gate_waiters.load(Ordering::Acquire) > 0 {
            let receiver = match end {
                TxEnd::Commit => db.join_waiting(),
                TxEnd::Rollback => None,
            };
            if end == TxEnd::Rollback || receiver.is_some() {
                db.park_writer(lent);
                handle.write_turn = None;
                let Some(receiver) = receiver else {
                    return Ok(Ok(no_rows()));
                };
                return Ok(match receiver.await {
                    Ok(Ok(())) => Ok(no_rows()),
                    Ok(Err(failure)) => Err(failure.to_error()),
                    Err(_) => Err(Error::Io("the database closed before the commit finished".into())),
                });
            }
        }
        // Last (or the group is full, or this session's connection carries
        // state of its own): commit the group now.
        let outcome = db.commit_group(&lent.pooled.conn);
        let handle = self.table.get_mut(connection)?;
        if handle.dirty {
            handle.kept = Some(lent);
        } else if lent.pooled.conn.is_autocommit() {
            db.put_back(lent);
        } else {
            close(lent.pooled);
        }
        if handle.write_turn.take().is_some() && db.gate_waiters.load(Ordering::Acquire) > 0 {
            tokio::task::yield_now().await;
        }
        Ok(match end {
            TxEnd::Commit => outcome.map(|()| no_rows()).map_err(|failure| failure.to_error()),
            TxEnd::Rollback => Ok(no_rows()),
        })
    }
}
