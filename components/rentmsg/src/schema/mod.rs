//! The SQLite schema as numbered migrations.
//!
//! Every component calls [`migrate`] before touching the database; the first
//! one applies what is missing. Each migration runs inside `BEGIN IMMEDIATE`
//! after re-checking that its version is still absent, so two components
//! starting at once apply it exactly once.
//!
//! Rules: never edit a migration once it has shipped; add a new one with the
//! next version. Each entry of `statements` is one SQL statement (Spin runs
//! one statement per call).
//!
//! Conventions: timestamps are RFC 3339 UTC text with milliseconds (see
//! [`crate::base::time::timestamp`]), dates are `YYYY-MM-DD` text, money is integer
//! cents, booleans are 0/1 integers.
//!
//! One file per migration, named after its version. Migrations are SQL
//! only: this module imports nothing of the crate but [`crate::base`].

pub mod v1_records;
pub mod v2_compliance;
pub mod v4_inbound;
pub mod v5_notices;
pub mod v6_payments;
pub mod v7_compliance_law;
pub mod v8_pause_kinds;
pub mod v9_staff_accounts;
pub mod v10_languages;
pub mod v11_message_language;
pub mod v12_listing_counts;
pub mod v13_report_days;
pub mod v14_call_list_order;
pub mod v15_overdue_counts;

use crate::base::db::{self, Db, DbError};
use chrono::{DateTime, Utc};

/// One schema change.
#[derive(Debug)]
pub struct Migration {
    /// Strictly increasing version number.
    pub version: i64,
    /// Short description, stored with the version.
    pub name: &'static str,
    /// The statements, each run with one `execute`.
    pub statements: &'static [&'static str],
}

/// All migrations, in order.
pub const MIGRATIONS: &[Migration] = &[
    v1_records::MIGRATION,
    v2_compliance::MIGRATION,
    v4_inbound::MIGRATION,
    v5_notices::MIGRATION,
    v6_payments::MIGRATION,
    v7_compliance_law::MIGRATION,
    v8_pause_kinds::MIGRATION,
    v9_staff_accounts::MIGRATION,
    v10_languages::MIGRATION,
    v11_message_language::MIGRATION,
    v12_listing_counts::MIGRATION,
    v13_report_days::MIGRATION,
    v14_call_list_order::MIGRATION,
    v15_overdue_counts::MIGRATION,
];

/// Is every migration of `list` recorded? Counts as well as the newest
/// version, because parallel branches append versions out of order: a
/// database migrated by a branch that had only 1 and 3 must still get 2
/// after a merge.
fn is_current(db: &dyn Db, list: &[Migration]) -> Result<bool, DbError> {
    let latest = list.last().map_or(0, |m| m.version);
    let rows = db.execute(
        "SELECT count(*) AS n, coalesce(max(version), 0) AS v FROM schema_migrations WHERE version <= ?",
        &[latest.into()],
    )?;
    match rows.first() {
        Some(row) => Ok(row.i64("n")? == list.len() as i64 && row.i64("v")? == latest),
        None => Ok(false),
    }
}

/// Apply every missing migration. Cheap when the schema is current (one
/// statement). Safe to call from several connections at once. Returns the
/// versions this call applied.
pub fn migrate(db: &dyn Db, now: DateTime<Utc>) -> Result<Vec<i64>, DbError> {
    migrate_list(db, MIGRATIONS, now)
}

fn migrate_list(db: &dyn Db, list: &[Migration], now: DateTime<Utc>) -> Result<Vec<i64>, DbError> {
    let mut applied = Vec::new();
    // Fast path, one statement per request: every known migration recorded.
    // (Fails when the table does not exist yet: then take the slow path.)
    if is_current(db, list).unwrap_or(false) {
        return Ok(applied);
    }
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        &[],
    )?;
    for m in list {
        // Re-checked inside the write lock: another connection may have
        // applied it since the check above.
        let did = db::transaction(db, |tx| -> Result<bool, DbError> {
            let present = tx.execute("SELECT 1 AS x FROM schema_migrations WHERE version = ?", &[m.version.into()])?;
            if !present.is_empty() {
                return Ok(false);
            }
            for stmt in m.statements {
                tx.execute(stmt, &[])?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                &[m.version.into(), m.name.into(), crate::base::time::timestamp(now).into()],
            )?;
            Ok(true)
        })?;
        if did {
            applied.push(m.version);
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::db::NativeDb;

    /// Every version in the list (numbers need not be contiguous: parallel
    /// work is assigned its own numbers).
    fn all_versions() -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    #[test]
    fn versions_increase() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migration {} out of order", m.version);
            last = m.version;
            for s in m.statements {
                assert!(!s.trim_end().ends_with(';'), "one statement per entry: {s}");
            }
        }
    }

    #[test]
    fn migrate_twice_is_a_no_op() {
        let db = NativeDb::open_in_memory().unwrap();
        let now = Utc::now();
        assert_eq!(migrate(&db, now).unwrap(), all_versions());
        assert_eq!(migrate(&db, now).unwrap(), Vec::<i64>::new());
        let rows = db.execute("SELECT count(*) AS n FROM schema_migrations", &[]).unwrap();
        assert_eq!(rows.first().unwrap().i64("n").unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_version_missing_below_the_newest_is_still_applied() {
        let db = NativeDb::open_in_memory().unwrap();
        let now = Utc::now();
        migrate(&db, now).unwrap();
        // A database made by a branch that lacked the first migration: its
        // row and its tables are absent, later ones are there.
        let first = &MIGRATIONS[0];
        db.execute("DELETE FROM schema_migrations WHERE version = ?", &[first.version.into()]).unwrap();
        db.execute("PRAGMA foreign_keys = OFF", &[]).unwrap();
        for stmt in first.statements {
            if let Some(rest) = stmt.strip_prefix("CREATE TABLE ") {
                let name = rest.split_whitespace().next().unwrap();
                db.execute(&format!("DROP TABLE {name}"), &[]).unwrap();
            }
        }
        assert_eq!(migrate(&db, now).unwrap(), vec![first.version]);
        assert_eq!(migrate(&db, now).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn migrate_concurrently_from_two_connections() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db.sqlite");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let path = path.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        let db = NativeDb::open(&path).unwrap();
                        barrier.wait();
                        migrate(&db, Utc::now()).unwrap()
                    })
                })
                .collect();
            let results: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let mut all: Vec<i64> = results.concat();
            all.sort();
            assert_eq!(all, all_versions(), "each migration applied exactly once: {results:?}");
            let db = NativeDb::open(&path).unwrap();
            let rows = db.execute("SELECT count(*) AS n FROM schema_migrations", &[]).unwrap();
            assert_eq!(rows.first().unwrap().i64("n").unwrap(), MIGRATIONS.len() as i64);
        }
    }

    const T1: Migration = Migration { version: 1, name: "one", statements: &["CREATE TABLE one (x INTEGER)"] };
    const T2: Migration = Migration { version: 2, name: "two", statements: &["CREATE TABLE two (x INTEGER)"] };
    const T3: Migration = Migration { version: 3, name: "three", statements: &["CREATE TABLE three (x INTEGER)"] };

    #[test]
    fn a_version_merged_in_below_the_newest_is_still_applied() {
        let db = NativeDb::open_in_memory().unwrap();
        let now = Utc::now();
        // A branch that had versions 1 and 3 ran first...
        assert_eq!(migrate_list(&db, &[T1, T3], now).unwrap(), vec![1, 3]);
        // ...then the merged code also knows 2.
        assert_eq!(migrate_list(&db, &[T1, T2, T3], now).unwrap(), vec![2]);
        assert_eq!(migrate_list(&db, &[T1, T2, T3], now).unwrap(), Vec::<i64>::new());
        db.execute("SELECT x FROM two", &[]).unwrap();
    }

    #[test]
    fn older_code_on_a_newer_database_changes_nothing() {
        let db = NativeDb::open_in_memory().unwrap();
        let now = Utc::now();
        assert_eq!(migrate_list(&db, &[T1, T2, T3], now).unwrap(), vec![1, 2, 3]);
        assert_eq!(migrate_list(&db, &[T1, T2], now).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn a_failing_migration_leaves_no_trace() {
        const BAD: Migration =
            Migration { version: 2, name: "bad", statements: &["CREATE TABLE half (x INTEGER)", "NOT SQL"] };
        let db = NativeDb::open_in_memory().unwrap();
        assert!(migrate_list(&db, &[T1, BAD], Utc::now()).is_err());
        assert!(db.execute("SELECT x FROM half", &[]).is_err(), "the first statement was rolled back");
        let rows = db.execute("SELECT count(*) AS n FROM schema_migrations", &[]).unwrap();
        assert_eq!(rows.first().unwrap().i64("n").unwrap(), 1);
    }
}
