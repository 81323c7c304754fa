//! SQLite capability (`fermyon:spin/sqlite@2.0.0`).
//!
//! Each `connection.open` hands the guest its own SQLite connection (taken
//! from a small pool), so `BEGIN` / `COMMIT` issued over separate `execute`
//! calls stay on one connection, as on Spin. SQL errors come back as
//! `io(message)`, never as a trap.
//!
//! Write transactions (`BEGIN IMMEDIATE` / `BEGIN EXCLUSIVE`) of this
//! process queue for their turn on an async FIFO gate per database before
//! asking SQLite for the write lock. SQLite's own busy handler waits by
//! sleeping with growing back-off (up to 100 ms a try), so under many
//! concurrent writers the lock sat idle while waiters slept: throughput
//! collapsed and tail latency grew to seconds. The gate hands the turn over
//! the moment a transaction ends. SQLite's locking still guards everything
//! else (other processes such as `spin-host cron`, autocommit writes).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use spin_host_config::runtime_config::SqliteDatabaseConfig;
use wasmtime::component::Resource;

use crate::bindings::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::blocking;
use crate::state::HostState;

/// Idle connections kept per database.
const POOL_SIZE: usize = 16;

/// Longest wait for the write gate; after it the transaction asks SQLite
/// directly (whose busy timeout then decides), so a guest holding two write
/// transactions at once gets SQLite's busy error, not a hang.
const GATE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

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
}

/// One SQLite database and its idle connections.
pub struct Database {
    /// The file, or the shared-cache URI of an in-memory database.
    path: PathBuf,
    /// `path` is a `file:` URI of an in-memory database.
    in_memory: bool,
    /// Keeps an in-memory database alive while no guest holds a connection.
    _keeper: Option<Mutex<rusqlite::Connection>>,
    /// Connections not held by any guest.
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// FIFO turn for write transactions of this process.
    write_gate: Arc<tokio::sync::Mutex<()>>,
}

impl Database {
    fn file(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database {
            path: path.to_path_buf(),
            in_memory: false,
            _keeper: None,
            idle: Mutex::new(Vec::new()),
            write_gate: Arc::default(),
        };
        // Open once now so a bad path fails the app at load, not a request later.
        let conn = db.connect()?;
        db.release(conn);
        Ok(db)
    }

    /// An in-memory database shared by every connection of this process.
    fn memory(label: &str) -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let uri = format!("file:spin-host-{}-{label}-{n}?mode=memory&cache=shared", std::process::id());
        let mut db = Database {
            path: PathBuf::from(uri),
            in_memory: true,
            _keeper: None,
            idle: Mutex::new(Vec::new()),
            write_gate: Arc::default(),
        };
        db._keeper = Some(Mutex::new(db.connect()?));
        Ok(db)
    }

    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = if self.in_memory {
            rusqlite::Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_URI,
            )?
        } else {
            rusqlite::Connection::open(&self.path)?
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        if !self.in_memory {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    fn acquire(&self) -> rusqlite::Result<rusqlite::Connection> {
        if let Ok(mut idle) = self.idle.lock() {
            if let Some(conn) = idle.pop() {
                return Ok(conn);
            }
        }
        self.connect()
    }

    fn release(&self, conn: rusqlite::Connection) {
        // A guest that left a transaction open must not leak it to the next one.
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
        }
    }
}

/// The guest's handle on an open connection.
pub struct ConnectionHandle {
    /// The database it belongs to (the connection returns there on drop).
    database: Arc<Database>,
    /// The connection; `None` only while it is being returned.
    conn: Arc<Mutex<Option<rusqlite::Connection>>>,
    /// This connection's turn on the write gate, held from `BEGIN IMMEDIATE`
    /// until the connection is back in autocommit mode (dropped after the
    /// connection is returned and any open transaction rolled back).
    write_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.conn.lock() {
            if let Some(conn) = slot.take() {
                self.database.release(conn);
            }
        }
    }
}

fn to_sql(value: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Integer(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
        Value::Null => V::Null,
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

/// Run one statement and collect its rows.
pub fn execute(conn: &rusqlite::Connection, statement: &str, parameters: Vec<Value>) -> Result<QueryResult, Error> {
    let mut stmt = conn.prepare_cached(statement).map_err(sql_error)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
    let params: Vec<rusqlite::types::Value> = parameters.into_iter().map(to_sql).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(from_sql(row.get_ref(i).map_err(sql_error)?));
        }
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

/// `BEGIN IMMEDIATE` / `BEGIN EXCLUSIVE` (any case, optional `TRANSACTION`):
/// a statement that takes the write lock at once.
fn begins_write_transaction(statement: &str) -> bool {
    let mut words = statement.split_whitespace();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case("BEGIN"))
        && words.next().map(|w| w.trim_end_matches(';')).is_some_and(|w| w.eq_ignore_ascii_case("IMMEDIATE") || w.eq_ignore_ascii_case("EXCLUSIVE"))
}

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        if !self.grants().sqlite_databases.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(db) = self.app.sqlite.databases.get(&database).cloned() else {
            return Ok(Err(Error::NoSuchDatabase));
        };
        let pool = db.clone();
        let conn = match blocking::run(move || pool.acquire()).await? {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(sql_error(e))),
        };
        let handle = ConnectionHandle { database: db, conn: Arc::new(Mutex::new(Some(conn))), write_turn: None };
        Ok(Ok(self.table.push(handle)?))
    }

    async fn execute(
        &mut self,
        connection: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        if begins_write_transaction(&statement) && self.table.get(&connection)?.write_turn.is_none() {
            let gate = self.table.get(&connection)?.database.write_gate.clone();
            if let Ok(turn) = tokio::time::timeout(GATE_WAIT, gate.lock_owned()).await {
                self.table.get_mut(&connection)?.write_turn = Some(turn);
            }
        }
        let conn = self.table.get(&connection)?.conn.clone();
        let (result, autocommit) = blocking::run(move || {
            let slot = conn.lock().map_err(|_| Error::InvalidConnection)?;
            let conn = slot.as_ref().ok_or(Error::InvalidConnection)?;
            Ok::<_, Error>((execute(conn, &statement, parameters), conn.is_autocommit()))
        })
        .await?
        .map_or_else(|e| (Err(e), true), |(r, a)| (r, a));
        // COMMIT, ROLLBACK or a failed BEGIN: the next writer's turn.
        if autocommit {
            self.table.get_mut(&connection)?.write_turn = None;
        }
        Ok(result)
    }

    async fn drop(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        let handle = self.table.delete(connection)?;
        // Returning the connection may roll back a transaction: do it off the executor.
        blocking::run(move || drop(handle)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::begins_write_transaction;

    #[test]
    fn write_transactions_are_recognised() {
        for s in ["BEGIN IMMEDIATE", "begin immediate transaction", "  BEGIN\nEXCLUSIVE", "BEGIN EXCLUSIVE;"] {
            assert!(begins_write_transaction(s), "{s:?}");
        }
        for s in ["BEGIN", "BEGIN DEFERRED", "COMMIT", "SELECT 'BEGIN IMMEDIATE'", "INSERT INTO t VALUES (1)", ""] {
            assert!(!begins_write_transaction(s), "{s:?}");
        }
    }
}
