//! Database access: one small trait over Spin's SQLite model.
//!
//! Spin's `sqlite` interface runs one statement per call with positional `?`
//! parameters and returns rows with column names and typed values. [`Db`] is
//! exactly that, so the same library code runs inside a component
//! ([`SpinDb`], feature `spin`) and natively over rusqlite ([`NativeDb`],
//! feature `native`) for tests and benchmarks.
//!
//! Transactions are plain `BEGIN IMMEDIATE` / `COMMIT` / `ROLLBACK`
//! statements on the same connection; see [`transaction`].

use std::fmt;

/// A SQLite value, as Spin's `sqlite` interface types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float (never used for money).
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Integer(i64::from(b))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => v.into(),
            None => Value::Null,
        }
    }
}

/// The result of one statement: column names and rows of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names, in result order.
    pub columns: Vec<String>,
    /// Each row's values, in column order.
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the statement returned no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Iterate rows with access by column name.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |values| Row { columns: &self.columns, values })
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

/// One row of a [`Rows`] result, read by column name.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Column names of the result.
    columns: &'a [String],
    /// This row's values.
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The raw value of a column.
    pub fn value(&self, column: &str) -> Result<&'a Value, DbError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Column(column.to_owned()))
    }

    /// A non-null integer column.
    pub fn i64(&self, column: &str) -> Result<i64, DbError> {
        match self.value(column)? {
            Value::Integer(i) => Ok(*i),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    /// A nullable integer column.
    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, DbError> {
        match self.value(column)? {
            Value::Integer(i) => Ok(Some(*i)),
            Value::Null => Ok(None),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    /// A non-null text column.
    pub fn str(&self, column: &str) -> Result<&'a str, DbError> {
        match self.value(column)? {
            Value::Text(s) => Ok(s.as_str()),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    /// A nullable text column.
    pub fn opt_str(&self, column: &str) -> Result<Option<&'a str>, DbError> {
        match self.value(column)? {
            Value::Text(s) => Ok(Some(s.as_str())),
            Value::Null => Ok(None),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    /// A non-null text column, owned.
    pub fn string(&self, column: &str) -> Result<String, DbError> {
        self.str(column).map(str::to_owned)
    }

    /// A nullable text column, owned.
    pub fn opt_string(&self, column: &str) -> Result<Option<String>, DbError> {
        self.opt_str(column).map(|o| o.map(str::to_owned))
    }
}

/// Why a statement failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DbError {
    /// Another connection holds the write lock and did not release it in time.
    #[error("database is busy: {0}")]
    Busy(String),
    /// A UNIQUE, CHECK, NOT NULL or FOREIGN KEY constraint failed.
    #[error("constraint failed: {0}")]
    Constraint(String),
    /// The database cannot be opened or used (not granted, not configured, full).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other SQL or I/O error.
    #[error("sql error: {0}")]
    Sql(String),
    /// A result column is missing or has an unexpected type.
    #[error("column `{0}` is missing or has an unexpected type")]
    Column(String),
}

impl DbError {
    /// Classify an error message from a backend that only gives text
    /// (Spin's `io(string)`).
    pub fn from_message(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        let lower = msg.to_ascii_lowercase();
        if lower.contains("database is locked") || lower.contains("busy") {
            DbError::Busy(msg)
        } else if lower.contains("constraint") {
            DbError::Constraint(msg)
        } else {
            DbError::Sql(msg)
        }
    }
}

/// One connection to a SQLite database with Spin's execution model: one
/// statement per call, positional `?` parameters.
pub trait Db {
    /// Run one SQL statement and return its rows (empty for statements that
    /// return none).
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;
}

impl<T: Db + ?Sized> Db for &T {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        (**self).execute(sql, params)
    }
}

/// Start a write transaction (`BEGIN IMMEDIATE`). Waiting for another
/// connection's write lock is the connection's job, not this loop's: the
/// Spin host waits up to 10 s on each statement, and `NativeDb` sets the
/// same busy timeout. `Busy` here means that wait ran out.
fn begin_immediate(db: &dyn Db) -> Result<(), DbError> {
    db.execute("BEGIN IMMEDIATE", &[]).map(|_| ())
}

/// Run `f` inside `BEGIN IMMEDIATE` … `COMMIT`; roll back if it fails.
///
/// Transactions do not nest: functions documented as "runs its own
/// transaction" must not be called from inside `f`; use their `_in_tx`
/// variants there.
pub fn transaction<T, E>(db: &dyn Db, f: impl FnOnce(&dyn Db) -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    begin_immediate(db)?;
    match f(db) {
        Ok(value) => match db.execute("COMMIT", &[]) {
            Ok(_) => Ok(value),
            Err(e) => {
                let _ = db.execute("ROLLBACK", &[]);
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = db.execute("ROLLBACK", &[]);
            Err(e)
        }
    }
}

/// `?, ?, ?` with `n` placeholders.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// `(?, ?), (?, ?)` : `rows` groups of `cols` placeholders, for multi-row INSERTs.
pub fn row_placeholders(rows: usize, cols: usize) -> String {
    let one = format!("({})", placeholders(cols));
    let mut s = String::with_capacity(rows * (one.len() + 2));
    for i in 0..rows {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&one);
    }
    s
}

/// `LIMIT n` (and ` OFFSET m` when `offset` is given), written into the
/// statement rather than bound: SQLite (3.50) re-prepares a statement whose
/// LIMIT or OFFSET is a parameter each time that parameter is bound, as
/// its plan depends on the value, which costs a parse and a plan on every
/// run (6 µs for a one-table query, more for a join). A negative limit
/// means no limit. Integers only, so nothing can be injected.
pub fn limit_clause(limit: i64, offset: Option<i64>) -> String {
    match offset {
        Some(offset) => format!("LIMIT {limit} OFFSET {offset}"),
        None => format!("LIMIT {limit}"),
    }
}

/// Most parameters one statement binds. SQLite's compile-time limit was 999
/// before 3.32 and may still be on some hosted backends, so stay below it.
pub const MAX_PARAMS: usize = 900;

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(_) => f.write_str("<text>"),
            Value::Blob(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

#[cfg(feature = "native")]
pub use native::NativeDb;

#[cfg(feature = "native")]
mod native {
    use super::{Db, DbError, Rows, Value};
    use rusqlite::types::{ToSqlOutput, ValueRef};
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// [`Db`] over a rusqlite connection: tests, benchmarks and native tools.
    pub struct NativeDb {
        /// The connection; one per handle, like the Spin host keeps.
        conn: rusqlite::Connection,
        /// Times SQLite prepared a cached statement again before running it.
        reprepares: AtomicU64,
    }

    impl NativeDb {
        /// Open (or create) a database file. Waits up to 10 s for locks held
        /// by other connections. Foreign keys are enforced, as in the local host.
        pub fn open(path: impl AsRef<Path>) -> Result<Self, DbError> {
            let conn = rusqlite::Connection::open(path).map_err(map_err)?;
            Self::with_connection(conn)
        }

        /// A private in-memory database.
        pub fn open_in_memory() -> Result<Self, DbError> {
            let conn = rusqlite::Connection::open_in_memory().map_err(map_err)?;
            Self::with_connection(conn)
        }

        fn with_connection(conn: rusqlite::Connection) -> Result<Self, DbError> {
            conn.busy_timeout(Duration::from_secs(10)).map_err(map_err)?;
            // As the local host opens its connections, so native tests catch
            // writes that would break a reference there.
            conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
            conn.set_prepared_statement_cache_capacity(128);
            Ok(NativeDb { conn, reprepares: AtomicU64::new(0) })
        }

        /// How many times a statement was prepared again before it ran
        /// (a bound LIMIT, a schema change): each costs a parse and a plan,
        /// on the local host and on Spin's alike.
        pub fn reprepares(&self) -> u64 {
            self.reprepares.load(Ordering::Relaxed)
        }

        /// The underlying connection (benchmark baselines, diagnostics).
        pub fn connection(&self) -> &rusqlite::Connection {
            &self.conn
        }
    }

    impl rusqlite::ToSql for Value {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(match self {
                Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
                Value::Integer(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
                Value::Real(r) => ToSqlOutput::Borrowed(ValueRef::Real(*r)),
                Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
                Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            })
        }
    }

    fn map_err(e: rusqlite::Error) -> DbError {
        use rusqlite::ErrorCode;
        match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::Busy(e.to_string()),
                ErrorCode::ConstraintViolation => DbError::Constraint(e.to_string()),
                ErrorCode::CannotOpen | ErrorCode::DiskFull | ErrorCode::PermissionDenied => {
                    DbError::Unavailable(e.to_string())
                }
                _ => DbError::Sql(e.to_string()),
            },
            _ => DbError::Sql(e.to_string()),
        }
    }

    impl Db for NativeDb {
        fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
            let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
            let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
            let n = columns.len();
            let mut out = Vec::new();
            let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(map_err)?;
            while let Some(row) = rows.next().map_err(map_err)? {
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    let v = match row.get_ref(i).map_err(map_err)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(i) => Value::Integer(i),
                        ValueRef::Real(r) => Value::Real(r),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    };
                    values.push(v);
                }
                out.push(values);
            }
            drop(rows);
            let again = stmt.reset_status(rusqlite::StatementStatus::RePrepare);
            self.reprepares.fetch_add(u64::try_from(again).unwrap_or(0), Ordering::Relaxed);
            Ok(Rows { columns, rows: out })
        }
    }
}

#[cfg(feature = "spin")]
pub use spin::SpinDb;

#[cfg(feature = "spin")]
mod spin {
    use super::{Db, DbError, Rows, Value};
    use spin_sdk::sqlite;

    /// [`Db`] over Spin's `sqlite` interface (inside a component).
    pub struct SpinDb {
        /// The open connection handle.
        conn: sqlite::Connection,
    }

    impl SpinDb {
        /// Open the database with this label (must be listed in the
        /// component's `sqlite_databases`).
        pub fn open(label: &str) -> Result<Self, DbError> {
            let conn = sqlite::Connection::open(label).map_err(map_err)?;
            Ok(SpinDb { conn })
        }

        /// Open the `default` database.
        pub fn open_default() -> Result<Self, DbError> {
            Self::open("default")
        }
    }

    fn map_err(e: sqlite::Error) -> DbError {
        match e {
            sqlite::Error::NoSuchDatabase => DbError::Unavailable("no such database".into()),
            sqlite::Error::AccessDenied => DbError::Unavailable("access denied".into()),
            sqlite::Error::InvalidConnection => DbError::Unavailable("invalid connection".into()),
            sqlite::Error::DatabaseFull => DbError::Unavailable("database full".into()),
            sqlite::Error::Io(msg) => DbError::from_message(msg),
        }
    }

    fn to_spin(v: &Value) -> sqlite::Value {
        match v {
            Value::Null => sqlite::Value::Null,
            Value::Integer(i) => sqlite::Value::Integer(*i),
            Value::Real(r) => sqlite::Value::Real(*r),
            Value::Text(s) => sqlite::Value::Text(s.clone()),
            Value::Blob(b) => sqlite::Value::Blob(b.clone()),
        }
    }

    fn from_spin(v: sqlite::Value) -> Value {
        match v {
            sqlite::Value::Null => Value::Null,
            sqlite::Value::Integer(i) => Value::Integer(i),
            sqlite::Value::Real(r) => Value::Real(r),
            sqlite::Value::Text(s) => Value::Text(s),
            sqlite::Value::Blob(b) => Value::Blob(b),
        }
    }

    impl Db for SpinDb {
        fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
            let params: Vec<sqlite::Value> = params.iter().map(to_spin).collect();
            let result = self.conn.execute(sql, &params).map_err(map_err)?;
            Ok(Rows {
                columns: result.columns,
                rows: result
                    .rows
                    .into_iter()
                    .map(|r| r.values.into_iter().map(from_spin).collect())
                    .collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_clauses_are_integers_written_in() {
        assert_eq!(limit_clause(20, None), "LIMIT 20");
        assert_eq!(limit_clause(-1, None), "LIMIT -1");
        assert_eq!(limit_clause(50, Some(100)), "LIMIT 50 OFFSET 100");
    }

    #[test]
    fn placeholder_strings() {
        assert_eq!(placeholders(0), "");
        assert_eq!(placeholders(3), "?, ?, ?");
        assert_eq!(row_placeholders(2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn classify_text_errors() {
        assert!(matches!(DbError::from_message("database is locked"), DbError::Busy(_)));
        assert!(matches!(
            DbError::from_message("UNIQUE constraint failed: t.x"),
            DbError::Constraint(_)
        ));
        assert!(matches!(DbError::from_message("no such table: x"), DbError::Sql(_)));
    }

    #[test]
    fn native_round_trip_and_one_statement_per_call() {
        let db = NativeDb::open_in_memory().unwrap();
        db.execute("CREATE TABLE t (a INTEGER, b TEXT, c REAL, d BLOB)", &[]).unwrap();
        db.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            &[Value::Integer(7), "x".into(), Value::Real(1.5), Value::Blob(vec![1, 2])],
        )
        .unwrap();
        db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", &[Value::Null, Value::Null, Value::Null, Value::Null])
            .unwrap();
        let rows = db.execute("SELECT a, b, c, d FROM t ORDER BY a IS NULL", &[]).unwrap();
        assert_eq!(rows.columns, vec!["a", "b", "c", "d"]);
        let first = rows.first().unwrap();
        assert_eq!(first.i64("a").unwrap(), 7);
        assert_eq!(first.str("b").unwrap(), "x");
        assert_eq!(first.value("c").unwrap(), &Value::Real(1.5));
        assert_eq!(first.value("d").unwrap(), &Value::Blob(vec![1, 2]));
        let second = rows.iter().nth(1).unwrap();
        assert_eq!(second.opt_i64("a").unwrap(), None);
        assert_eq!(second.opt_str("b").unwrap(), None);
        assert!(second.i64("a").is_err());
        assert!(matches!(second.i64("nope"), Err(DbError::Column(_))));
        // Spin runs one statement per execute; so does NativeDb.
        assert!(db.execute("SELECT 1; SELECT 2", &[]).is_err());
    }

    #[test]
    fn transaction_commits_and_rolls_back() {
        let db = NativeDb::open_in_memory().unwrap();
        db.execute("CREATE TABLE t (a INTEGER UNIQUE)", &[]).unwrap();
        transaction(&db, |tx| tx.execute("INSERT INTO t VALUES (1)", &[]).map(|_| ())).unwrap();
        let r: Result<(), DbError> = transaction(&db, |tx| {
            tx.execute("INSERT INTO t VALUES (2)", &[])?;
            tx.execute("INSERT INTO t VALUES (1)", &[])?;
            Ok(())
        });
        assert!(matches!(r, Err(DbError::Constraint(_))));
        let rows = db.execute("SELECT count(*) AS n FROM t", &[]).unwrap();
        assert_eq!(rows.first().unwrap().i64("n").unwrap(), 1);
    }

    /// The connection's busy timeout, not a retry loop, makes the second
    /// writer wait for the first one's commit.
    #[test]
    fn two_connections_contending_for_the_write_lock_both_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        NativeDb::open(&path).unwrap().execute("CREATE TABLE t (a INTEGER)", &[]).unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let writers: Vec<_> = (0..2i64)
            .map(|i| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let db = NativeDb::open(&path).unwrap();
                    barrier.wait();
                    transaction(&db, |tx| {
                        tx.execute("INSERT INTO t VALUES (?)", &[i.into()])?;
                        // Hold the lock long enough for the other writer to hit it.
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        Ok::<_, DbError>(())
                    })
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        let rows = NativeDb::open(&path).unwrap().execute("SELECT count(*) AS n FROM t", &[]).unwrap();
        assert_eq!(rows.first().unwrap().i64("n").unwrap(), 2);
    }
}
