//! SQLite capability (`fermyon:spin/sqlite@2.0.0`).
//!
//! Spin semantics: each `connection.open` gives the guest what behaves as a
//! new connection: no open transaction, the bundled SQLite's defaults
//! (foreign keys enforced), no temp objects, pragmas or counters left by
//! anyone else. `BEGIN` / `COMMIT` issued over separate `execute` calls stay
//! on one connection. SQL errors come back as `io(message)`, never as a trap.
//!
//! How the host keeps that cheap (a new SQLite connection costs ~0.2 ms:
//! file and WAL-index setup, then parsing the whole schema on first use; a
//! statement on a warm connection costs a few µs; a thread hand-off per
//! statement costs 15-60 µs):
//!
//! - **Physical connections are pooled per database and lent per
//!   statement.** A guest's connection is a session: outside a transaction
//!   each statement runs on whichever pooled connection is free, and the
//!   connection goes straight back. A session keeps one connection only
//!   while a transaction is open, or for good once it ran anything but plain
//!   DML, queries and transaction control (a `PRAGMA`, `ATTACH`,
//!   `CREATE TEMP ...`, any DDL): such a connection is closed, not reused,
//!   when the session ends, so that state never reaches another guest. An
//!   unfinished transaction is rolled back when the session ends. The
//!   per-connection counters a guest can read are the session's own:
//!   `last_insert_rowid()` is set on the lent connection before each
//!   statement, and `changes()` / `total_changes()` are overridden on host
//!   connections (SQLite lets a connection overload built-ins) to report
//!   the session's values ([`Counters`]).
//! - **Statements run inline** on the calling task with SQLite's busy
//!   timeout at zero, as the guest's own code runs: no thread hand-off. A
//!   statement that finds a lock held by another connection (`SQLITE_BUSY`:
//!   it has changed nothing) runs again on the blocking pool, trying every
//!   2 ms for up to 10 s ([`busy`]: another process that
//!   writes under load frees the lock only in short gaps, which SQLite's
//!   own back-off to 100 ms between tries mostly misses).
//! - **Writers of this process take turns on a FIFO gate** per database
//!   (waiting asynchronously, holding no thread and no connection):
//!   `BEGIN IMMEDIATE` / `BEGIN EXCLUSIVE`, and any statement that writes
//!   while its session holds no turn. The turn lasts until the session is
//!   back in autocommit mode, and then goes to the next writer at once
//!   (SQLite's own busy handler sleeps with back-off, leaving the lock idle
//!   while waiters sleep). A session that starts writing outside a
//!   transaction does so on the database's writer connection, whose page
//!   cache stays valid from one write transaction to the next (any other
//!   connection must re-read every page a write changed). SQLite's locking
//!   still guards everything else (other processes).
//! - **Write transactions queued behind each other commit together.**
//!   When a session commits a transaction started with `BEGIN IMMEDIATE` /
//!   `BEGIN EXCLUSIVE` on the writer connection while other writers wait
//!   for their turn, the host leaves the transaction open and passes the
//!   turn on; the next such transaction runs inside it as a savepoint, and
//!   so on ([`group_commit::MAX_GROUP`] at most). The group is committed once (by the
//!   last member when nobody else waits, by the next writer that is not a
//!   `BEGIN IMMEDIATE`, or by a task queued on the gate behind the waiters
//!   when the group started), and only then does each member's `COMMIT`
//!   return: as with a transaction of its own, a `COMMIT` that answers has
//!   committed, and one that fails has committed nothing. A member's
//!   `ROLLBACK`, or the guest going away, undoes only its own savepoint; a
//!   failed statement undoes only itself, as always; a `COMMIT` with
//!   unresolved deferred foreign keys fails and leaves its transaction open,
//!   as SQLite does. An error after which SQLite rolls back the whole
//!   transaction (a full disk, an I/O error, `INSERT OR ROLLBACK`) fails the
//!   `COMMIT` of every member waiting: they committed nothing and are told
//!   so, where each would have committed on its own. Groups are not formed
//!   while the schema itself can do that (a trigger's `RAISE(ROLLBACK)`, an
//!   `ON CONFLICT ROLLBACK` constraint).
//!   What is saved: the pages
//!   the members share (table and index leaves being appended to, interior
//!   pages) are written to the WAL once per group instead of once per
//!   transaction, and the WAL commit (its write lock, `wal-index` update and
//!   one `pwrite` per dirty page) happens once. A member that ran anything
//!   but plain DML ends the group at its own end (its connection is not
//!   reused, see above).
//! - **Every reported commit is durable.** Connections commit to the WAL
//!   with `synchronous=FULL` ([`SYNCHRONOUS`]): a commit writes its pages
//!   and `fsync`s the WAL before `COMMIT` answers, so a transaction the
//!   guest was told is committed survives the process being killed, an OS
//!   crash and a power loss (as with Spin, whose SQLite runs with SQLite's
//!   default, `FULL`). A commit group pays one `fsync` for all its members.
//! - **Checkpoints run in the background.** Instead of the committing
//!   request running SQLite's automatic checkpoint (two more fsyncs) while
//!   it holds the write lock, a blocking-pool task runs a passive
//!   checkpoint each time the WAL grew by [`checkpoint::CHECKPOINT_PAGES`]
//!   pages.
//!
//! Where each part lives: [`pool`] (connections), [`write_turn`] (the
//! gate), [`group_commit`], [`checkpoint`], [`counters`] (per-session
//! counters), [`busy`] (waiting for other processes), [`classify`] (what a
//! statement is), [`wit`] (the interface guests call, and sessions).
//!
//! This module owns the app's SQLite databases. It must not touch the app's
//! loading, the triggers or key-value: an instance reaches it only through
//! [`SqliteView`], which the app builds.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use spin_host_config::runtime_config::SqliteDatabaseConfig;

mod busy;
mod checkpoint;
mod classify;
mod counters;
mod group_commit;
mod pool;
mod wit;
mod write_turn;

pub(crate) use busy::wait_while_busy;
use pool::Database;
pub use wit::{add_to_linker, Instance, SqliteView};

/// Statement and savepoint journals (the original of each page a
/// statement or savepoint changes, kept so that it alone can be undone)
/// stay in memory up to this size before spilling to a temporary file.
/// SQLite's default, 64 KiB (16 pages), is less than one member of a commit
/// group touches, and a spilled journal stays a file for the rest of the
/// transaction: a `pwrite` per page changed, about a third of a STOP's
/// SQLite time. Invisible to guests (no pragma reports it).
pub const STATEMENT_JOURNAL_SPILL: i32 = 16 << 20;

/// `PRAGMA synchronous` on every connection the host opens (SQLite
/// databases and the key-value file): `FULL`, so that in WAL mode each
/// commit syncs the WAL before it is reported done.
pub const SYNCHRONOUS: &str = "FULL";

/// Apply the host's process-wide SQLite settings ([`STATEMENT_JOURNAL_SPILL`],
/// no memory statistics). Only effective before the first connection of the
/// process opens; called before every open, it runs once.
pub fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Memory statistics off: with them on, every allocation SQLite makes
        // takes one process-wide mutex to count it, shared by every runtime
        // thread and the checkpoints. Nothing reads them (`sqlite3_status`
        // is not reachable from guests).
        let settings = [
            (rusqlite::ffi::SQLITE_CONFIG_STMTJRNL_SPILL, STATEMENT_JOURNAL_SPILL),
            (rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0),
        ];
        for (option, value) in settings {
            // SAFETY: sqlite3_config with these options takes one int;
            // SQLite refuses it (SQLITE_MISUSE, nothing changed) once
            // initialized.
            let rc = unsafe { rusqlite::ffi::sqlite3_config(option, value) };
            if rc != rusqlite::ffi::SQLITE_OK {
                tracing::debug!("SQLite was initialized before its settings could be applied (code {rc})");
            }
        }
    });
}

/// The configured SQLite databases of the app, by label.
#[derive(Default)]
pub struct SqliteDatabases {
    /// Database for each configured label.
    databases: HashMap<String, Arc<Database>>,
}

impl SqliteDatabases {
    /// Prepare every configured database (files are created on first open).
    pub fn open(config: &BTreeMap<String, SqliteDatabaseConfig>) -> anyhow::Result<Self> {
        let mut databases = HashMap::new();
        for (label, cfg) in config {
            let db = match cfg {
                SqliteDatabaseConfig::Spin { path } => Database::file(path)?,
                SqliteDatabaseConfig::InMemory => Database::memory(label)?,
                SqliteDatabaseConfig::LibSql { .. } => anyhow::bail!(
                    "sqlite database {label:?}: type \"libsql\" is not supported by this host yet"
                ),
            };
            databases.insert(label.clone(), Arc::new(db));
        }
        Ok(SqliteDatabases { databases })
    }

    /// Whether `label` is configured.
    pub fn contains(&self, label: &str) -> bool {
        self.databases.contains_key(label)
    }

    /// Physical connections opened so far, over every database (each open
    /// parses the schema: a pool that works keeps this near the number of
    /// statements running at once, not the number of requests).
    pub fn connections_opened(&self) -> u64 {
        self.databases.values().map(|db| db.connections_opened.load(Ordering::Relaxed)).sum()
    }

    /// Commits written to a WAL so far, over every file database (a commit
    /// group counts once).
    pub fn commits(&self) -> u64 {
        self.databases.values().map(|db| db.commits.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_keeps_no_memory_statistics() {
        super::configure_library();
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000));").expect("statements");
        // SAFETY: a plain read of SQLite's status counter.
        let counted = unsafe { rusqlite::ffi::sqlite3_memory_used() };
        assert_eq!(counted, 0, "SQLite counted its allocations (and took its memory mutex for each)");
    }
}
