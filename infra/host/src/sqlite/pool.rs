//! The connection pool: each database's physical connections, lent to a
//! session per statement (or for its transaction) and taken back clean.
//!
//! Owns opening, setting up, lending, taking back and closing connections.
//! Must not decide who writes when ([`super::write_turn`]), group commits
//! ([`super::group_commit`]) or checkpoints ([`super::checkpoint`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::busy::wait_while_busy;
use super::checkpoint::note_wal_pages;
use super::counters::{install_counters, Counters};
use super::group_commit::{Group, GROUP_SAVEPOINT};
use super::{configure_library, SYNCHRONOUS};
use crate::blocking;

/// Idle connections kept per database (more are closed when returned).
pub(super) const POOL_MAX: usize = 64;

/// Prepared statements each connection keeps.
pub(super) const STATEMENT_CACHE: usize = 64;

/// One SQLite database.
pub struct Database {
    /// The file, or the shared-cache URI of an in-memory database.
    pub(super) path: PathBuf,
    /// `path` is a `file:` URI of an in-memory database.
    pub(super) in_memory: bool,
    /// Never lent: keeps an in-memory database alive, and a file's WAL in
    /// place (closing the last connection checkpoints and deletes it),
    /// while no guest holds a connection.
    pub(super) _keeper: Option<Mutex<rusqlite::Connection>>,
    /// Idle connections for statements outside write transactions, most recently used last.
    pub(super) readers: Mutex<Vec<Pooled>>,
    /// The idle writer connection (see the module docs).
    pub(super) writer: Mutex<Option<Pooled>>,
    /// FIFO turn for writers of this process.
    pub(super) write_gate: Arc<tokio::sync::Mutex<()>>,
    /// Sessions waiting for a turn.
    pub(super) gate_waiters: AtomicUsize,
    /// Instance (see [`super::wit::Instance`]) whose session holds the turn, 0 if none.
    pub(super) gate_holder: AtomicU64,
    /// A background checkpoint is running.
    pub(super) checkpointing: AtomicBool,
    /// The connection background checkpoints run on (kept: opening one parses the schema).
    pub(super) checkpointer: Mutex<Option<rusqlite::Connection>>,
    /// WAL size (pages) when the last background checkpoint started.
    pub(super) checkpointed_at: AtomicI32,
    /// Physical connections opened (see [`SqliteDatabases::connections_opened`]).
    pub(super) connections_opened: AtomicU64,
    /// The commit group open on the writer connection (see the module docs).
    pub(super) group: Mutex<Option<Group>>,
    /// Commits that wrote to the WAL (see [`SqliteDatabases::commits`]).
    pub(super) commits: AtomicU64,
    /// `(schema_version, groups allowed)` as last looked up (see
    /// [`Database::schema_allows_groups`]).
    pub(super) group_schema: Mutex<(i64, bool)>,
}

impl Database {
    pub(super) fn file(path: &Path) -> anyhow::Result<Self> {
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
    pub(super) fn memory(label: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uri = format!("file:spin-host-{}-{label}-{n}?mode=memory&cache=shared", std::process::id());
        let mut db = Database::new(PathBuf::from(uri), true);
        db._keeper = Some(Mutex::new(db.connect()?.conn));
        Ok(db)
    }

    pub(super) fn new(path: PathBuf, in_memory: bool) -> Self {
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

    pub(super) fn open_raw(&self) -> rusqlite::Result<rusqlite::Connection> {
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
    pub(super) fn connect(&self) -> rusqlite::Result<Pooled> {
        let conn = self.open_raw()?;
        conn.busy_handler(Some(wait_while_busy))?;
        // A commit the guest is told about survives power loss: with WAL,
        // FULL syncs the WAL at each commit (a commit group syncs once).
        conn.pragma_update(None, "synchronous", SYNCHRONOUS)?;
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
    pub(super) async fn take(self: &Arc<Self>, writer: bool) -> wasmtime::Result<rusqlite::Result<Lent>> {
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

    /// Take back a connection that is in autocommit mode and carries no
    /// guest state.
    pub(super) fn put_back(&self, lent: Lent) {
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
    pub(super) fn release(self: &Arc<Self>, lent: Lent, dirty: bool, member: bool) {
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
}

/// A physical connection owned by the pool.
pub(super) struct Pooled {
    pub(super) conn: rusqlite::Connection,
    /// What its `changes()` / `total_changes()` report (the current session's values).
    pub(super) counters: Arc<Counters>,
}

/// A pooled connection lent to a session.
pub(super) struct Lent {
    pub(super) pooled: Pooled,
    /// It is the database's writer connection.
    pub(super) writer: bool,
}

/// Close a connection off the async runtime when possible: closing can
/// roll back or checkpoint (file I/O).
pub(super) fn close(pooled: Pooled) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(move || drop(pooled))),
        Err(_) => drop(pooled),
    }
}
