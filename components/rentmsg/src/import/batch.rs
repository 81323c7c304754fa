//! Batched reads and writes: an import touches thousands of rows, and each
//! statement crosses the wasm host boundary, so lookups and upserts go in
//! slices of many rows.

use crate::base::db::{self, Db, Rows, Value};

/// Keys per `IN (...)` lookup.
pub(super) const KEYS_PER_LOOKUP: usize = 400;

/// Run `sql_prefix` + `(?, ?, ...)` over `keys` in slices, concatenating
/// the rows.
pub(super) fn select_in(db: &dyn Db, sql_prefix: &str, keys: &[&str]) -> Result<Rows, db::DbError> {
    let mut all = Rows::default();
    for slice in keys.chunks(KEYS_PER_LOOKUP) {
        let sql = format!("{sql_prefix}({})", db::placeholders(slice.len()));
        let params: Vec<Value> = slice.iter().map(|k| (*k).into()).collect();
        let rows = db.execute(&sql, &params)?;
        if all.columns.is_empty() {
            all.columns = rows.columns;
        }
        all.rows.extend(rows.rows);
    }
    Ok(all)
}

/// `INSERT INTO table (cols) VALUES (...), (...) <on_conflict>` over `rows`
/// in slices that respect [`db::MAX_PARAMS`]: new and changed rows of a
/// batch are written with a few statements, not one per row (each statement
/// crosses the wasm host boundary).
pub(super) fn write_many(
    db: &dyn Db,
    table: &str,
    columns: &[&str],
    on_conflict: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), db::DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let per = (db::MAX_PARAMS / columns.len()).max(1);
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let slice: Vec<Vec<Value>> = iter.by_ref().take(per).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} {on_conflict}",
            columns.join(", "),
            db::row_placeholders(slice.len(), columns.len())
        );
        let params: Vec<Value> = slice.into_iter().flatten().collect();
        db.execute(&sql, &params)?;
    }
    Ok(())
}

/// `ON CONFLICT (key) DO UPDATE SET c = excluded.c, ...`: an upsert that
/// keeps `created_at` (and any column not named).
pub(super) fn upsert_clause(key: &[&str], update: &[&str]) -> String {
    let sets: Vec<String> = update.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!("ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), sets.join(", "))
}

/// Delete rows by a two-column key, in slices.
pub(super) fn delete_pairs(db: &dyn Db, table: &str, key: (&str, &str), pairs: Vec<(String, String)>) -> Result<(), db::DbError> {
    for slice in pairs.chunks(db::MAX_PARAMS / 2) {
        let sql = format!(
            "DELETE FROM {table} WHERE ({}, {}) IN (VALUES {})",
            key.0,
            key.1,
            db::row_placeholders(slice.len(), 2)
        );
        let params: Vec<Value> = slice.iter().flat_map(|(a, b)| [Value::from(a), Value::from(b)]).collect();
        db.execute(&sql, &params)?;
    }
    Ok(())
}

/// A nullable text column.
pub(super) fn opt_value(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::Null, Value::from)
}
