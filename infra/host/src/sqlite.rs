//! SQLite capability (`fermyon:spin/sqlite@2.0.0`).
//!
//! Each `connection.open` hands the guest a new SQLite connection, as Spin
//! does, so `BEGIN` / `COMMIT` issued over separate `execute` calls stay on
//! one connection and no connection state (pragmas, temp tables) leaks from
//! one guest to the next. Connections start as Spin's do (the bundled
//! SQLite's defaults: foreign keys enforced). SQL errors come back as
//! `io(message)`, never as a trap.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use spin_host_config::runtime_config::SqliteDatabaseConfig;
use wasmtime::component::Resource;

use crate::bindings::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::blocking;
use crate::grants::Isolation;
use crate::state::HostState;

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

/// One SQLite database.
pub struct Database {
    /// The file, or the shared-cache URI of an in-memory database.
    path: PathBuf,
    /// `path` is a `file:` URI of an in-memory database.
    in_memory: bool,
    /// Keeps an in-memory database alive while no guest holds a connection.
    _keeper: Option<Mutex<rusqlite::Connection>>,
}

impl Database {
    fn file(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database { path: path.to_path_buf(), in_memory: false, _keeper: None };
        // Open once now so a bad path fails the app at load, not a request
        // later. WAL is a property of the file: set once, every connection
        // (and other processes) then read while one writes.
        let conn = db.connect()?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Ok(db)
    }

    /// An in-memory database shared by every connection of this process.
    fn memory(label: &str) -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let uri = format!("file:spin-host-{}-{label}-{n}?mode=memory&cache=shared", std::process::id());
        let mut db = Database { path: PathBuf::from(uri), in_memory: true, _keeper: None };
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
        // Concurrent requests each hold a connection: wait for a writer
        // rather than fail with SQLITE_BUSY.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // With WAL, NORMAL is crash-safe and spares an fsync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }
}

/// The guest's handle on an open connection (closed, rolling back any open
/// transaction, when dropped).
pub struct ConnectionHandle {
    /// The connection, shared with the blocking task running a statement.
    conn: Arc<Mutex<rusqlite::Connection>>,
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
        let conn = match blocking::run(move || db.connect()).await? {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(sql_error(e))),
        };
        Ok(Ok(self.table.push(ConnectionHandle { conn: Arc::new(Mutex::new(conn)) })?))
    }

    async fn execute(
        &mut self,
        connection: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let conn = self.table.get(&connection)?.conn.clone();
        blocking::run(move || {
            let conn = conn.lock().map_err(|_| Error::InvalidConnection)?;
            execute(&conn, &statement, parameters)
        })
        .await
    }

    async fn drop(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        let handle = self.table.delete(connection)?;
        // Closing may roll back a transaction: do it off the executor.
        blocking::run(move || drop(handle)).await?;
        Ok(())
    }
}
