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
//!   2 ms for up to 10 s ([`wait_while_busy`]: another process that
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
//!   so on ([`MAX_GROUP`] at most). The group is committed once (by the
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
//! - **Checkpoints run in the background.** Connections commit to the WAL
//!   with `synchronous=NORMAL` (a commit is a `write(2)` to the WAL, no
//!   fsync); instead of the committing request running SQLite's automatic
//!   checkpoint (two fsyncs) while it holds the write lock, a blocking-pool
//!   task runs a passive checkpoint each time the WAL grew by
//!   [`CHECKPOINT_PAGES`] pages. Durability is SQLite's for WAL +
//!   `synchronous=NORMAL`: a committed transaction survives the process
//!   crashing; a power loss or OS crash can lose the latest commits (those
//!   not yet checkpointed), never corrupt the database.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use spin_host_config::runtime_config::SqliteDatabaseConfig;
use wasmtime::component::Resource;

use crate::bindings::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::blocking;
use crate::grants::Isolation;
use crate::state::HostState;

/// How long a statement waits for a lock held by another connection (and
/// a writer for its turn on the gate) before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a statement waiting for a lock held by another connection
/// (another process on the same file) tries again: see [`wait_while_busy`].
const BUSY_POLL: Duration = Duration::from_millis(2);

/// Idle connections kept per database (more are closed when returned).
const POOL_MAX: usize = 64;

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

/// WAL growth (pages) that starts a background checkpoint: SQLite's own
/// automatic-checkpoint threshold.
pub const CHECKPOINT_PAGES: i32 = 1000;

/// Most transactions committed together (see the module docs): bounds how
/// long the first member's `COMMIT` waits for the others.
pub const MAX_GROUP: usize = 64;

/// The savepoint each member of a commit group runs in.
const GROUP_SAVEPOINT: &str = "\"spin-host group member\"";

/// WAL size (pages, 4 KiB each) past which a background checkpoint holds
/// the write gate so that the WAL can restart (bounds the file under
/// steady writes).
const RESTART_PAGES: i32 = 8 * CHECKPOINT_PAGES;

/// Statement and savepoint journals (the original of each page a
/// statement or savepoint changes, kept so that it alone can be undone)
/// stay in memory up to this size before spilling to a temporary file.
/// SQLite's default, 64 KiB (16 pages), is less than one member of a commit
/// group touches, and a spilled journal stays a file for the rest of the
/// transaction: a `pwrite` per page changed, about a third of a STOP's
/// SQLite time. Invisible to guests (no pragma reports it).
pub const STATEMENT_JOURNAL_SPILL: i32 = 16 << 20;

/// Apply the host's process-wide SQLite settings ([`STATEMENT_JOURNAL_SPILL`]).
/// Only effective before the first connection of the process opens; called
/// before every open, it runs once.
pub fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config with this option takes one int; SQLite
        // refuses it (SQLITE_MISUSE, nothing changed) once initialized.
        let rc = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_STMTJRNL_SPILL, STATEMENT_JOURNAL_SPILL) };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!("SQLite was initialized before its settings could be applied (code {rc})");
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

/// One SQLite database.
pub struct Database {
    /// The file, or the shared-cache URI of an in-memory database.
    path: PathBuf,
    /// `path` is a `file:` URI of an in-memory database.
    in_memory: bool,
    /// Never lent: keeps an in-memory database alive, and a file's WAL in
    /// place (closing the last connection checkpoints and deletes it),
    /// while no guest holds a connection.
    _keeper: Option<Mutex<rusqlite::Connection>>,
    /// Idle connections for statements outside write transactions, most recently used last.
    readers: Mutex<Vec<Pooled>>,
    /// The idle writer connection (see the module docs).
    writer: Mutex<Option<Pooled>>,
    /// FIFO turn for writers of this process.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// Sessions waiting for a turn.
    gate_waiters: AtomicUsize,
    /// Store (see [`HostState::store_id`]) whose session holds the turn, 0 if none.
    gate_holder: AtomicU64,
    /// A background checkpoint is running.
    checkpointing: AtomicBool,
    /// The connection background checkpoints run on (kept: opening one parses the schema).
    checkpointer: Mutex<Option<rusqlite::Connection>>,
    /// WAL size (pages) when the last background checkpoint started.
    checkpointed_at: AtomicI32,
    /// Physical connections opened (see [`SqliteDatabases::connections_opened`]).
    connections_opened: AtomicU64,
    /// The commit group open on the writer connection (see the module docs).
    group: Mutex<Option<Group>>,
    /// Commits that wrote to the WAL (see [`SqliteDatabases::commits`]).
    commits: AtomicU64,
    /// `(schema_version, groups allowed)` as last looked up (see
    /// [`Database::schema_allows_groups`]).
    group_schema: Mutex<(i64, bool)>,
}

/// Transactions that ended, kept open together on the writer connection
/// until one commit writes them all.
#[derive(Default)]
struct Group {
    /// Transactions in the group so far (ended or running).
    members: usize,
    /// Members waiting for the commit's outcome.
    waiting: Vec<tokio::sync::oneshot::Sender<Result<(), GroupFailure>>>,
}

/// Why a commit group committed nothing.
#[derive(Debug, Clone)]
struct GroupFailure {
    /// The database or disk is full.
    full: bool,
    /// SQLite's message.
    message: String,
}

impl GroupFailure {
    fn from_sqlite(e: &rusqlite::Error) -> Self {
        let full = matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull);
        GroupFailure { full, message: e.to_string() }
    }

    fn to_error(&self) -> Error {
        if self.full {
            Error::DatabaseFull
        } else {
            Error::Io(format!("commit failed, nothing was committed: {}", self.message))
        }
    }
}

impl Database {
    fn file(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut db = Database::new(path.to_path_buf(), false);
        // Open now so a bad path fails the app at load, not a request later.
        // WAL is a property of the file: set once, every connection (and
        // other processes) then read while one writes.
        let keeper = db.connect()?.conn;
        keeper.pragma_update(None, "journal_mode", "WAL")?;
        db._keeper = Some(Mutex::new(keeper));
        Ok(db)
    }

    /// An in-memory database shared by every connection of this process.
    fn memory(label: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uri = format!("file:spin-host-{}-{label}-{n}?mode=memory&cache=shared", std::process::id());
        let mut db = Database::new(PathBuf::from(uri), true);
        db._keeper = Some(Mutex::new(db.connect()?.conn));
        Ok(db)
    }

    fn new(path: PathBuf, in_memory: bool) -> Self {
        Database {
            path,
            in_memory,
            _keeper: None,
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            write_gate: Arc::default(),
            gate_waiters: AtomicUsize::new(0),
            gate_holder: AtomicU64::new(0),
            checkpointing: AtomicBool::new(false),
            checkpointer: Mutex::new(None),
            checkpointed_at: AtomicI32::new(0),
            connections_opened: AtomicU64::new(0),
            group: Mutex::new(None),
            commits: AtomicU64::new(0),
            group_schema: Mutex::new((-1, false)),
        }
    }

    fn open_raw(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        configure_library();
        self.connections_opened.fetch_add(1, Ordering::Relaxed);
        if self.in_memory {
            rusqlite::Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_URI,
            )
        } else {
            rusqlite::Connection::open(&self.path)
        }
    }

    /// A new connection, set up as every guest connection is (blocks: file I/O).
    fn connect(&self) -> rusqlite::Result<Pooled> {
        let conn = self.open_raw()?;
        conn.busy_handler(Some(wait_while_busy))?;
        // With WAL, NORMAL is crash-safe and spares an fsync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Replaces SQLite's automatic checkpoint (see the module docs).
        conn.wal_hook(Some(note_wal_pages));
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let counters = Arc::new(Counters::default());
        install_counters(&conn, counters.clone())?;
        // Statements run inline and must not sleep in SQLite's busy handler;
        // a busy statement runs again on the blocking pool with `wait_while_busy`.
        conn.busy_timeout(Duration::ZERO)?;
        Ok(Pooled { conn, counters })
    }

    /// An idle connection (the writer connection if `writer`), or a new one.
    async fn take(self: &Arc<Self>, writer: bool) -> wasmtime::Result<rusqlite::Result<Lent>> {
        let idle = if writer {
            self.writer.lock().ok().and_then(|mut w| w.take())
        } else {
            self.readers.lock().ok().and_then(|mut r| r.pop())
        };
        let pooled = match idle {
            Some(p) => p,
            None => {
                let db = self.clone();
                match blocking::run(move || db.connect()).await? {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                }
            }
        };
        Ok(Ok(Lent { pooled, writer }))
    }

    /// Wait (up to [`BUSY_TIMEOUT`]) for a turn on the write gate; None when
    /// it did not come (SQLite's own locking then decides).
    async fn wait_for_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
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

    /// Whether transactions may be grouped: not when the schema can roll a
    /// whole transaction back on its own (a trigger's `RAISE(ROLLBACK, ...)`,
    /// an `ON CONFLICT ROLLBACK` constraint), which would take the other
    /// members' work with it. Looked up again when the schema changes.
    fn schema_allows_groups(&self, conn: &rusqlite::Connection) -> bool {
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
    fn group_open(&self) -> bool {
        self.group.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Open a commit group whose first member is the transaction on the
    /// writer connection, and queue a task on the gate that commits it
    /// should no member or later writer do so first.
    /// False (no group) outside a runtime, where nothing could wait for one.
    fn start_group(self: &Arc<Self>) -> bool {
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
    fn join_waiting(&self) -> Option<tokio::sync::oneshot::Receiver<Result<(), GroupFailure>>> {
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
    fn count_member(&self) {
        if let Ok(mut guard) = self.group.lock() {
            if let Some(group) = guard.as_mut() {
                group.members += 1;
            }
        }
    }

    /// Commit the open group on `conn` (the writer connection, held by the
    /// caller with the write turn) and tell its waiting members. A failed
    /// commit rolls everything back: nobody's transaction stays half done.
    fn commit_group(self: &Arc<Self>, conn: &rusqlite::Connection) -> Result<(), GroupFailure> {
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
    fn abandon_group(&self, why: &str) {
        if let Some(group) = self.group.lock().ok().and_then(|mut g| g.take()) {
            let failure = GroupFailure { full: false, message: format!("the transaction was rolled back: {why}") };
            for member in group.waiting {
                let _ = member.send(Err(failure.clone()));
            }
        }
    }

    /// Commit the open group, if any, from the parked writer connection.
    /// Only with the write turn held.
    fn close_group(self: &Arc<Self>) {
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
    fn park_writer(&self, lent: Lent) {
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

    /// Take back a connection that is in autocommit mode and carries no
    /// guest state.
    fn put_back(&self, lent: Lent) {
        let pooled = if lent.writer {
            match self.writer.lock() {
                Ok(mut w) if w.is_none() => {
                    *w = Some(lent.pooled);
                    return;
                }
                _ => lent.pooled,
            }
        } else {
            lent.pooled
        };
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < POOL_MAX {
                readers.push(pooled);
                return;
            }
        }
        close(pooled);
    }

    /// Take back a session's connection: roll back what it left open (only
    /// its savepoint if it is a commit group `member`; the group goes on), and
    /// close it if it carries guest state (`dirty`).
    fn release(self: &Arc<Self>, lent: Lent, dirty: bool, member: bool) {
        if member {
            // Only this member's work is undone; the group goes on without it.
            let undone = lent
                .pooled
                .conn
                .execute_batch(&format!("ROLLBACK TO {GROUP_SAVEPOINT}; RELEASE {GROUP_SAVEPOINT}"))
                .is_ok();
            if undone && !lent.pooled.conn.is_autocommit() {
                if dirty {
                    let _ = self.commit_group(&lent.pooled.conn);
                    close(lent.pooled);
                } else {
                    self.park_writer(lent);
                }
                return;
            }
            self.abandon_group("a member could not be rolled back alone");
        }
        let mut keep = !dirty;
        if !lent.pooled.conn.is_autocommit() {
            // An unfinished transaction ends with the connection, as on Spin.
            keep &= lent.pooled.conn.execute_batch("ROLLBACK").is_ok() && lent.pooled.conn.is_autocommit();
        }
        if keep {
            self.put_back(lent);
        } else {
            close(lent.pooled);
        }
    }

    /// Run a passive checkpoint (blocks: copies pages, two fsyncs).
    fn checkpoint(&self) -> rusqlite::Result<()> {
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
    fn after_commit(self: &Arc<Self>, wal_pages: i32) {
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

/// A physical connection owned by the pool.
struct Pooled {
    conn: rusqlite::Connection,
    /// What its `changes()` / `total_changes()` report (the current session's values).
    counters: Arc<Counters>,
}

/// A pooled connection lent to a session.
struct Lent {
    pooled: Pooled,
    /// It is the database's writer connection.
    writer: bool,
}

/// Close a connection off the async runtime when possible: closing can
/// roll back or checkpoint (file I/O).
fn close(pooled: Pooled) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(move || drop(pooled))),
        Err(_) => drop(pooled),
    }
}

thread_local! {
    /// WAL size reported by the last commit on this thread.
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// SQLite's WAL hook: runs on the committing thread after each commit.
fn note_wal_pages(_wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

fn take_wal_pages() -> i32 {
    WAL_PAGES.with(|p| p.replace(0))
}

/// Inputs of the `changes()` / `total_changes()` overrides of one physical
/// connection, set before each statement from the session running it.
#[derive(Default)]
struct Counters {
    /// Subtracted from the connection's total to give the session's.
    total_offset: AtomicI64,
    /// The connection's total when the statement started.
    start_total: AtomicI64,
    /// The session's `changes()` when the statement started.
    carried_changes: AtomicI64,
}

/// A session's own counters: what a connection opened for it alone would report.
#[derive(Debug, Default, Clone, Copy)]
struct SessionCounters {
    last_insert_rowid: i64,
    changes: i64,
    total_changes: i64,
}

/// Replace `changes()` and `total_changes()` on `conn` by the session's
/// values (SQLite's own are per physical connection and cannot be reset).
fn install_counters(conn: &rusqlite::Connection, counters: Arc<Counters>) -> rusqlite::Result<()> {
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
fn counters_in(pooled: &Pooled, session: &SessionCounters) -> i64 {
    let total = pooled.conn.total_changes() as i64;
    pooled.counters.total_offset.store(total - session.total_changes, Ordering::Relaxed);
    pooled.counters.start_total.store(total, Ordering::Relaxed);
    pooled.counters.carried_changes.store(session.changes, Ordering::Relaxed);
    // SAFETY: the handle is this live connection's; the call only sets an integer.
    unsafe { rusqlite::ffi::sqlite3_set_last_insert_rowid(pooled.conn.handle(), session.last_insert_rowid) };
    total
}

/// Take the session's counters back after a statement that started at `start_total`.
fn counters_out(pooled: &Pooled, session: &mut SessionCounters, start_total: i64, counted: bool) {
    session.total_changes += pooled.conn.total_changes() as i64 - start_total;
    session.last_insert_rowid = pooled.conn.last_insert_rowid();
    if counted {
        session.changes = pooled.conn.changes() as i64;
    }
}

/// The guest's handle on an open connection: a session (see the module docs).
pub struct ConnectionHandle {
    /// Its database.
    database: Arc<Database>,
    /// The connection the session keeps (open transaction, or connection state).
    kept: Option<Lent>,
    /// The session ran a statement that may leave connection state behind.
    dirty: bool,
    /// `last_insert_rowid()`, `changes()`, `total_changes()` of the session.
    counters: SessionCounters,
    /// The session's turn on the database's write gate.
    write_turn: Option<WriteTurn>,
    /// The session's transaction is a savepoint inside the commit group
    /// open on the writer connection (see the module docs).
    member: bool,
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        // Roll back before handing the write turn to the next writer.
        if let Some(lent) = self.kept.take() {
            self.database.release(lent, self.dirty, self.member);
        }
        self.write_turn = None;
    }
}

/// Foreign key violations a `COMMIT` on `conn` would fail on (deferred
/// constraints not yet resolved).
fn unresolved_foreign_keys(conn: &rusqlite::Connection) -> bool {
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

fn no_rows() -> QueryResult {
    QueryResult { columns: Vec::new(), rows: Vec::new() }
}

/// A turn on a database's write gate.
struct WriteTurn {
    database: Arc<Database>,
    /// The holding store's count of turns (see [`HostState::write_turns`]).
    held_by: Arc<AtomicUsize>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTurn {
    fn new(database: Arc<Database>, store: &HostState, guard: tokio::sync::OwnedMutexGuard<()>) -> Self {
        database.gate_holder.store(store.store_id, Ordering::Release);
        store.write_turns.fetch_add(1, Ordering::AcqRel);
        WriteTurn { database, held_by: store.write_turns.clone(), _guard: guard }
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        // Cleared before `_guard` releases the gate.
        self.database.gate_holder.store(0, Ordering::Release);
        self.held_by.fetch_sub(1, Ordering::AcqRel);
    }
}

fn to_sql(value: Value) -> SqlValue {
    match value {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

fn from_sql(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match value {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn sql_error(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::DiskFull {
            return Error::DatabaseFull;
        }
    }
    Error::Io(e.to_string())
}

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
fn busy_wait_goes_on(attempt: i32, timeout: Duration) -> bool {
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
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::DatabaseBusy && f.extended_code != rusqlite::ffi::SQLITE_BUSY_SNAPSHOT)
}

/// A statement's outcome, and whether it ran far enough to count as a
/// completed INSERT / UPDATE / DELETE for `changes()`.
struct Ran {
    result: rusqlite::Result<QueryResult>,
    counted: bool,
}

/// Run one statement and collect its rows.
fn run(conn: &rusqlite::Connection, statement: &str, params: &[SqlValue], kind: Kind) -> Ran {
    let mut stmt = match conn.prepare_cached(statement) {
        Ok(stmt) => stmt,
        Err(e) => return Ran { result: Err(e), counted: false },
    };
    // SQLite sets `changes()` when an INSERT, UPDATE or DELETE ends, even failed.
    let counted = kind.dml && !stmt.readonly();
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
    let result = (|| {
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(from_sql(row.get_ref(i)?));
            }
            out.push(RowResult { values });
        }
        Ok(out)
    })();
    Ran { result: result.map(|rows| QueryResult { columns, rows }), counted }
}

/// What the host needs to know about a statement before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kind {
    /// `BEGIN IMMEDIATE` / `BEGIN EXCLUSIVE`: takes the write lock at once.
    begins_write: bool,
    /// Plain DML, a query or transaction control: leaves no connection
    /// state behind once the transaction ends. Anything else (`PRAGMA`,
    /// `ATTACH`, `CREATE TEMP ...`, other DDL, `EXPLAIN`, ...) may.
    clean: bool,
    /// Starts like an INSERT, UPDATE or DELETE (`WITH` may be one).
    dml: bool,
    /// Writes for certain: `BEGIN IMMEDIATE` / `EXCLUSIVE`, or starts with
    /// INSERT, UPDATE, DELETE or REPLACE (a `WITH` may only read).
    surely_writes: bool,
    /// Ends the transaction: `COMMIT` / `END`, or `ROLLBACK` (not `ROLLBACK TO`).
    end: Option<TxEnd>,
}

/// How a statement ends a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxEnd {
    Commit,
    Rollback,
}

/// Words of the statement, skipping whitespace and SQL comments.
fn words(sql: &str) -> impl Iterator<Item = &str> {
    let mut rest = sql;
    std::iter::from_fn(move || loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else if rest.is_empty() {
            return None;
        } else {
            // A word, or else one other character.
            let end = match rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                Some(0) => rest.chars().next().map_or(1, char::len_utf8),
                Some(end) => end,
                None => rest.len(),
            };
            let (word, after) = rest.split_at(end);
            rest = after;
            return Some(word);
        }
    })
}

fn classify(sql: &str) -> Kind {
    const CLEAN: [&str; 13] = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES", "BEGIN", "COMMIT", "END", "ROLLBACK",
        "SAVEPOINT", "RELEASE",
    ];
    const DML: [&str; 5] = ["INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"];
    let mut w = words(sql);
    let first = w.next().unwrap_or_default();
    let is = |list: &[&str]| list.iter().any(|c| first.eq_ignore_ascii_case(c));
    let second = w.next();
    let begins_write = first.eq_ignore_ascii_case("BEGIN")
        && second.is_some_and(|second| second.eq_ignore_ascii_case("IMMEDIATE") || second.eq_ignore_ascii_case("EXCLUSIVE"));
    let surely_writes = begins_write || is(&DML[..4]);
    // `COMMIT|END [TRANSACTION]` or `ROLLBACK [TRANSACTION]`, then only `;`s
    // (`ROLLBACK TO` a savepoint ends nothing).
    let end = if is(&["COMMIT", "END", "ROLLBACK"]) {
        let mut next = second;
        if next.is_some_and(|n| n.eq_ignore_ascii_case("TRANSACTION")) {
            next = w.next();
        }
        while next == Some(";") {
            next = w.next();
        }
        match next {
            Some(_) => None,
            None if first.eq_ignore_ascii_case("ROLLBACK") => Some(TxEnd::Rollback),
            None => Some(TxEnd::Commit),
        }
    } else {
        None
    };
    Kind { begins_write, clean: is(&CLEAN), dml: is(&DML), surely_writes, end }
}

impl HostState {
    /// End the session's transaction inside a commit group (see the module
    /// docs): a member's savepoint is released (`COMMIT`) or undone
    /// (`ROLLBACK`); then, while other writers wait, the turn passes on
    /// and a `COMMIT` answers once the group is committed; otherwise the
    /// group is committed now.
    async fn end_in_group(
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

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        let grants = self.grants();
        if grants.isolation == Isolation::Isolated {
            // Spin 3's deny-all adapter answers an isolated dependency so.
            return Ok(Err(Error::NoSuchDatabase));
        }
        if !grants.sqlite_databases.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(db) = self.app.sqlite.databases.get(&database).cloned() else {
            return Ok(Err(Error::NoSuchDatabase));
        };
        // The file was opened at load; connections are lent per statement.
        let handle = ConnectionHandle {
            database: db,
            kept: None,
            dirty: false,
            counters: SessionCounters::default(),
            write_turn: None,
            member: false,
        };
        Ok(Ok(self.table.push(handle)?))
    }

    async fn execute(
        &mut self,
        connection: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let store_id = self.store_id;
        let kind = classify(&statement);
        let handle = self.table.get_mut(&connection)?;
        let db = handle.database.clone();
        if let Some(end) = kind.end {
            if let Some(lent) = handle.kept.as_ref().filter(|l| l.writer && handle.write_turn.is_some()) {
                // A member's end, or a write transaction that others queue
                // behind: it ends inside a commit group.
                let grouped = handle.member
                    || (end == TxEnd::Commit
                        && !db.in_memory
                        && !handle.dirty
                        && !lent.pooled.conn.is_autocommit()
                        && db.gate_waiters.load(Ordering::Acquire) > 0
                        && !unresolved_foreign_keys(&lent.pooled.conn)
                        && db.schema_allows_groups(&lent.pooled.conn)
                        && !db.group_open()
                        && db.start_group());
                if grouped {
                    return self.end_in_group(&connection, end).await;
                }
            }
        }
        // A kept connection (transaction, connection state) or a free one.
        let kept = handle.kept.take();
        let from_pool = kept.is_none();
        // A statement that surely writes waits for its turn before it
        // borrows a connection: a session queued on the gate then holds
        // none (with hundreds of writers queued, each holding a pooled
        // connection, the pool ran dry and opened and closed connections,
        // each open parsing the whole schema: most of a STOP's CPU).
        let mut on_writer = false;
        if from_pool
            && kind.surely_writes
            && handle.write_turn.is_none()
            && db.gate_holder.load(Ordering::Acquire) != store_id
        {
            if let Some(guard) = db.wait_for_turn().await {
                let turn = WriteTurn::new(db.clone(), self, guard);
                self.table.get_mut(&connection)?.write_turn = Some(turn);
                // Outside a transaction: write on the writer connection.
                on_writer = kind.clean;
                if !(on_writer && kind.begins_write) {
                    // Only a `BEGIN IMMEDIATE` joins an open commit group.
                    db.close_group();
                }
            }
        }
        let mut lent = match kept {
            Some(lent) => lent,
            None => match db.take(on_writer).await? {
                Ok(lent) => lent,
                Err(e) => {
                    self.table.get_mut(&connection)?.write_turn = None;
                    return Ok(Err(sql_error(e)));
                }
            },
        };

        // A writer without a turn queues for one first, unless another
        // session of this same guest holds it (waiting would be waiting for
        // itself: SQLite's busy timeout decides, as without the gate).
        let handle = self.table.get_mut(&connection)?;
        if handle.write_turn.is_none() {
            let writes = kind.begins_write || lent.pooled.conn.prepare_cached(&statement).is_ok_and(|s| !s.readonly());
            if writes && db.gate_holder.load(Ordering::Acquire) != store_id {
                if let Some(guard) = db.wait_for_turn().await {
                    let turn = WriteTurn::new(db.clone(), self, guard);
                    self.table.get_mut(&connection)?.write_turn = Some(turn);
                    db.close_group();
                    if from_pool && kind.clean {
                        // Outside a transaction: write on the writer connection instead.
                        db.put_back(lent);
                        lent = match db.take(true).await? {
                            Ok(lent) => lent,
                            Err(e) => {
                                self.table.get_mut(&connection)?.write_turn = None;
                                return Ok(Err(sql_error(e)));
                            }
                        };
                    }
                }
            }
        }

        let handle = self.table.get_mut(&connection)?;
        if from_pool && lent.writer && kind.begins_write && db.group_open() {
            // The writer connection is inside the open commit group's
            // transaction: this transaction is a savepoint in it.
            if lent.pooled.conn.is_autocommit() {
                db.abandon_group("the writer connection left its transaction");
            } else {
                return Ok(match lent.pooled.conn.execute_batch(&format!("SAVEPOINT {GROUP_SAVEPOINT}")) {
                    Ok(()) => {
                        db.count_member();
                        handle.member = true;
                        handle.kept = Some(lent);
                        Ok(no_rows())
                    }
                    Err(e) => {
                        db.park_writer(lent);
                        handle.write_turn = None;
                        Err(sql_error(e))
                    }
                });
            }
        }
        handle.dirty |= !kind.clean;
        let params: Vec<SqlValue> = parameters.into_iter().map(to_sql).collect();
        let start_total = counters_in(&lent.pooled, &handle.counters);
        let ran = run(&lent.pooled.conn, &statement, &params, kind);
        let (lent, ran, wal_pages) = match &ran.result {
            Err(e) if is_busy(e) => {
                // Another connection (another process, or another session
                // of this guest) holds the lock: wait for it off the runtime.
                blocking::run(move || {
                    let ran = match lent.pooled.conn.busy_handler(Some(wait_while_busy)) {
                        Ok(()) => run(&lent.pooled.conn, &statement, &params, kind),
                        Err(e) => Ran { result: Err(e), counted: false },
                    };
                    let wal_pages = take_wal_pages();
                    let reset = lent.pooled.conn.busy_timeout(Duration::ZERO);
                    (reset.is_ok().then_some(lent), ran, wal_pages)
                })
                .await?
            }
            _ => (Some(lent), ran, take_wal_pages()),
        };

        let handle = self.table.get_mut(&connection)?;
        let Some(lent) = lent else {
            // The connection could not be reset: it is gone, and so is any transaction.
            handle.write_turn = None;
            return Ok(ran.result.map_err(sql_error));
        };
        counters_out(&lent.pooled, &mut handle.counters, start_total, ran.counted);
        let autocommit = lent.pooled.conn.is_autocommit();
        if handle.member && autocommit {
            // An error rolled back the whole group's transaction (SQLite does
            // on a full disk, an I/O error, `RAISE(ROLLBACK)`...).
            handle.member = false;
            let why = ran.result.as_ref().err().map_or_else(|| "unknown error".to_string(), ToString::to_string);
            db.abandon_group(&why);
        }
        if autocommit && !handle.dirty {
            db.put_back(lent);
        } else {
            handle.kept = Some(lent);
        }
        db.after_commit(wal_pages);
        // Back in autocommit mode (COMMIT, ROLLBACK, an autocommit write, a
        // failed BEGIN): the next writer's turn, now.
        if autocommit && handle.write_turn.take().is_some() && db.gate_waiters.load(Ordering::Acquire) > 0 {
            // The next writer was just woken on this thread: let it run
            // before the rest of this request.
            tokio::task::yield_now().await;
        }
        Ok(ran.result.map_err(sql_error))
    }

    async fn drop(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        // Returns or closes a kept connection (see `ConnectionHandle::drop`).
        drop(self.table.delete(connection)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{busy_wait_goes_on, classify, words, Kind, TxEnd};
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

    #[test]
    fn statements_are_classified() {
        let k = |begins_write, clean, dml, surely_writes| Kind { begins_write, clean, dml, surely_writes, end: None };
        let ends = |end| Kind { end: Some(end), ..k(false, true, false, false) };
        for (sql, kind) in [
            ("BEGIN IMMEDIATE", k(true, true, false, true)),
            ("begin immediate transaction", k(true, true, false, true)),
            ("  BEGIN\nEXCLUSIVE", k(true, true, false, true)),
            ("BEGIN EXCLUSIVE;", k(true, true, false, true)),
            ("/* tx */ BEGIN -- now\n IMMEDIATE", k(true, true, false, true)),
            ("BEGIN", k(false, true, false, false)),
            ("BEGIN DEFERRED", k(false, true, false, false)),
            ("COMMIT", ends(TxEnd::Commit)),
            ("commit transaction;", ends(TxEnd::Commit)),
            ("end transaction", ends(TxEnd::Commit)),
            ("END;;", ends(TxEnd::Commit)),
            ("ROLLBACK", ends(TxEnd::Rollback)),
            ("rollback transaction -- undo\n", ends(TxEnd::Rollback)),
            ("ROLLBACK TO sp", k(false, true, false, false)),
            ("ROLLBACK TRANSACTION TO SAVEPOINT sp", k(false, true, false, false)),
            ("COMMIT; SELECT 1", k(false, true, false, false)),
            ("SELECT 'BEGIN IMMEDIATE'", k(false, true, false, false)),
            ("with x AS (SELECT 1) SELECT * FROM x", k(false, true, true, false)),
            ("INSERT INTO t VALUES (1)", k(false, true, true, true)),
            ("REPLACE INTO t VALUES (1)", k(false, true, true, true)),
            ("update t SET a = 1", k(false, true, true, true)),
            ("DELETE FROM t", k(false, true, true, true)),
            ("PRAGMA foreign_keys = OFF", k(false, false, false, false)),
            ("pragma foreign_keys", k(false, false, false, false)),
            ("CREATE TEMP TABLE t (a)", k(false, false, false, false)),
            ("CREATE TABLE t (a)", k(false, false, false, false)),
            ("ATTACH 'x.db' AS x", k(false, false, false, false)),
            ("EXPLAIN SELECT 1", k(false, false, false, false)),
            ("-- only a comment", k(false, false, false, false)),
            ("", k(false, false, false, false)),
            ("(SELECT 1)", k(false, false, false, false)),
            ("é", k(false, false, false, false)),
        ] {
            assert_eq!(classify(sql), kind, "{sql:?}");
        }
    }

    #[test]
    fn words_skip_comments() {
        assert_eq!(words("/* a */ SELECT -- b\n x").collect::<Vec<_>>(), ["SELECT", "x"]);
        assert_eq!(words("/* unterminated").count(), 0);
    }
}
