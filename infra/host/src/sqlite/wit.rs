//! The guest-facing side: `fermyon:spin/sqlite@2.0.0` on a
//! [`SqliteView`] of one instance. A guest's connection is a session
//! ([`ConnectionHandle`]) that borrows pooled connections, takes write
//! turns and joins commit groups as the module docs describe.
//!
//! Owns grants checks, sessions and running statements. Must not reach the
//! app's per-instance state other than through [`SqliteView`].

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use wasmtime::component::{HasData, Resource, ResourceTable};

use self::sqlite::{Error, QueryResult, RowResult, Value};
use super::busy::{is_busy, wait_while_busy};
use super::checkpoint::take_wal_pages;
use super::classify::{classify, Kind, TxEnd};
use super::counters::{counters_in, counters_out, SessionCounters};
use super::group_commit::{unresolved_foreign_keys, GROUP_SAVEPOINT};
use super::pool::{Database, Lent};
use super::write_turn::WriteTurn;
use super::SqliteDatabases;
use crate::blocking;

wasmtime::component::bindgen!({
    path: "wit",
    world: "local:host/sqlite-imports",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/sqlite.connection": ConnectionHandle,
    },
});

pub use fermyon::spin::sqlite;

/// Source of [`Instance::store_id`].
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// SQLite state of one instance (a request or cron tick).
pub struct Instance {
    /// Distinguishes this instance from every other of the process (never 0).
    store_id: u64,
    /// Write turns this instance's sessions hold (each blocks every other
    /// writer of its database until it ends).
    write_turns: Arc<AtomicUsize>,
}

impl Default for Instance {
    fn default() -> Self {
        Instance { store_id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed), write_turns: Arc::default() }
    }
}

impl Instance {
    /// Whether a session of this instance holds a write turn now.
    pub fn holds_write_turn(&self) -> bool {
        self.write_turns.load(Ordering::Acquire) > 0
    }
}

/// What the SQLite interface sees of an instance while the guest calls it.
pub struct SqliteView<'a> {
    /// The instance's resources (sessions live here).
    pub table: &'a mut ResourceTable,
    /// The app's databases.
    pub databases: &'a SqliteDatabases,
    /// Labels the code running now may open; `None` for a dependency that
    /// does not inherit its importer's configuration (Spin 3's deny-all adapter).
    pub granted: Option<&'a BTreeSet<String>>,
    /// The instance's SQLite state.
    pub instance: &'a Instance,
}

/// Marks [`SqliteView`] as the data the bindings are added with.
pub struct Sqlite;

impl HasData for Sqlite {
    type Data<'a> = SqliteView<'a>;
}

/// Add `fermyon:spin/sqlite` to `linker`, seen through `view`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> SqliteView<'_>,
) -> wasmtime::Result<()> {
    SqliteImports::add_to_linker::<T, Sqlite>(linker, view)
}

/// The guest's handle on an open connection: a session (see the module docs).
pub struct ConnectionHandle {
    /// Its database.
    pub(super) database: Arc<Database>,
    /// The connection the session keeps (open transaction, or connection state).
    pub(super) kept: Option<Lent>,
    /// The session ran a statement that may leave connection state behind.
    pub(super) dirty: bool,
    /// `last_insert_rowid()`, `changes()`, `total_changes()` of the session.
    pub(super) counters: SessionCounters,
    /// The session's turn on the database's write gate.
    pub(super) write_turn: Option<WriteTurn>,
    /// The session's transaction is a savepoint inside the commit group
    /// open on the writer connection (see the module docs).
    pub(super) member: bool,
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

pub(super) fn no_rows() -> QueryResult {
    QueryResult { columns: Vec::new(), rows: Vec::new() }
}

pub(super) fn to_sql(value: Value) -> SqlValue {
    match value {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

pub(super) fn from_sql(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match value {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

pub(super) fn sql_error(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::DiskFull {
            return Error::DatabaseFull;
        }
    }
    Error::Io(e.to_string())
}

/// A statement's outcome, and whether it ran far enough to count as a
/// completed INSERT / UPDATE / DELETE for `changes()`.
pub(super) struct Ran {
    pub(super) result: rusqlite::Result<QueryResult>,
    pub(super) counted: bool,
}

/// Run one statement and collect its rows.
pub(super) fn run(conn: &rusqlite::Connection, statement: &str, params: &[SqlValue], kind: Kind) -> Ran {
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

impl sqlite::HostConnection for SqliteView<'_> {
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        let Some(granted) = self.granted else {
            // Spin 3's deny-all adapter answers an isolated dependency so.
            return Ok(Err(Error::NoSuchDatabase));
        };
        if !granted.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(db) = self.databases.databases.get(&database).cloned() else {
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
        let store_id = self.instance.store_id;
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
                let turn = WriteTurn::new(db.clone(), store_id, &self.instance.write_turns, guard);
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
                    let turn = WriteTurn::new(db.clone(), store_id, &self.instance.write_turns, guard);
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

impl sqlite::Host for SqliteView<'_> {}
