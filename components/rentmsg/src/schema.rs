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
//! [`crate::time::timestamp`]), dates are `YYYY-MM-DD` text, money is integer
//! cents, booleans are 0/1 integers.

use crate::db::{self, Db, DbError};
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
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "tenants, ledger, consent, exclusions, notes, contact log, audit log",
    statements: &[
        // Properties as imported from the AR system.
        "CREATE TABLE properties (
            property_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            time_zone TEXT NOT NULL,
            state TEXT,
            country TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        // Tenants. time_zone NULL = use the property's. country NULL = use
        // the property's (then US).
        "CREATE TABLE tenants (
            tenant_id TEXT PRIMARY KEY,
            property_id TEXT NOT NULL REFERENCES properties(property_id),
            name TEXT NOT NULL,
            unit TEXT,
            state TEXT,
            country TEXT,
            time_zone TEXT,
            group_id TEXT,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stop', 'moved_out')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "CREATE INDEX tenants_property ON tenants(property_id)",
        "CREATE INDEX tenants_group ON tenants(group_id) WHERE group_id IS NOT NULL",
        // One row per tenant and kind; address is E.164 for phones, lower-case
        // for emails. Consent and exclusions refer to the address, so a
        // changed number starts with none.
        "CREATE TABLE contact_points (
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            kind TEXT NOT NULL CHECK (kind IN ('mobile_phone', 'home_phone', 'work_phone', 'email', 'work_email')),
            channel TEXT NOT NULL CHECK (channel IN ('phone', 'email')),
            address TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (tenant_id, kind)
        )",
        "CREATE INDEX contact_points_address ON contact_points(address)",
        // Ledger: charges, payments and credits. amount_cents > 0; kind gives
        // the direction. (tenant_id, reference) identifies an entry across
        // re-imports; source says who wrote it (import, payments, ...).
        "CREATE TABLE ledger_entries (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            reference TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('charge', 'payment', 'credit')),
            date TEXT NOT NULL,
            due_date TEXT NOT NULL,
            amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
            source TEXT NOT NULL DEFAULT 'import',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (tenant_id, reference)
        )",
        // Every consent change ever made; the current state is derived.
        // channel NULL = all channels; address NULL = all addresses.
        "CREATE TABLE consent_events (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            channel TEXT CHECK (channel IS NULL OR channel IN ('text', 'email', 'phone', 'letter')),
            address TEXT,
            status TEXT NOT NULL CHECK (status IN ('opted_in', 'opted_out')),
            evidence TEXT,
            actor TEXT NOT NULL,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        )",
        "CREATE INDEX consent_events_tenant ON consent_events(tenant_id, id)",
        // Exclusions in force (a cleared one is deleted; history is in
        // exclusion_events). Three shapes:
        //  - tenant flags: tenant_id set, address NULL, kind bankruptcy /
        //    disable_texting_auto_calls / disable_auto_communications;
        //  - by user: tenant_id and address set, kind number_by_user;
        //  - by customer (STOP): address set, tenant_id NULL (the number is
        //    excluded for every tenant that has it), kind number_by_customer.
        "CREATE TABLE exclusions (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('bankruptcy', 'disable_texting_auto_calls', 'disable_auto_communications', 'number_by_user', 'number_by_customer')),
            tenant_id TEXT REFERENCES tenants(tenant_id),
            address TEXT,
            reason TEXT,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            source_ref TEXT,
            CHECK ((kind = 'number_by_customer') = (tenant_id IS NULL)),
            CHECK ((kind IN ('number_by_user', 'number_by_customer')) = (address IS NOT NULL))
        )",
        "CREATE UNIQUE INDEX exclusions_tenant_flag ON exclusions(tenant_id, kind) WHERE address IS NULL",
        "CREATE UNIQUE INDEX exclusions_by_user ON exclusions(tenant_id, address) WHERE kind = 'number_by_user'",
        "CREATE UNIQUE INDEX exclusions_by_customer ON exclusions(address) WHERE kind = 'number_by_customer'",
        "CREATE INDEX exclusions_address ON exclusions(address) WHERE address IS NOT NULL",
        // Every exclusion set / cleared.
        "CREATE TABLE exclusion_events (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            tenant_id TEXT,
            address TEXT,
            is_on INTEGER NOT NULL CHECK (is_on IN (0, 1)),
            reason TEXT,
            actor TEXT NOT NULL,
            source_ref TEXT,
            at TEXT NOT NULL
        )",
        "CREATE INDEX exclusion_events_tenant ON exclusion_events(tenant_id, id)",
        "CREATE INDEX exclusion_events_address ON exclusion_events(address, id)",
        // Notes on a tenant (bankruptcy reasons, compliance warnings, call notes).
        "CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            author TEXT NOT NULL,
            at TEXT NOT NULL
        )",
        "CREATE INDEX notes_tenant ON notes(tenant_id, id)",
        // Every contact, outbound and inbound. tenant_id NULL = inbound from
        // an unknown address.
        "CREATE TABLE contact_log (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('text', 'email', 'phone', 'letter')),
            direction TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
            address TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            at TEXT NOT NULL,
            provider_id TEXT,
            detail TEXT
        )",
        "CREATE INDEX contact_log_tenant ON contact_log(tenant_id, at, id)",
        "CREATE INDEX contact_log_provider ON contact_log(provider_id) WHERE provider_id IS NOT NULL",
        "CREATE INDEX contact_log_address ON contact_log(address, at)",
        // Who did what, when. detail is JSON.
        "CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT
        )",
        "CREATE INDEX audit_log_target ON audit_log(target, id)",
        "CREATE INDEX audit_log_at ON audit_log(at)",
    ],
},
crate::compliance::migration::MIGRATION,
Migration {
    version: 4,
    name: "inbound SMS: keyword lists, inbound messages and staff inbox, status callbacks, number states",
    statements: &[
        // Reply keywords (whole message, normalised: upper case, single
        // spaces, no surrounding punctuation). Data, editable through the
        // staff API; seeded with the carrier / CTIA defaults, which include
        // the per-se revocation words of 47 CFR 64.1200(a)(10).
        "CREATE TABLE sms_keywords (
            keyword TEXT PRIMARY KEY,
            action TEXT NOT NULL CHECK (action IN ('opt_out', 'opt_in', 'help')),
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "INSERT INTO sms_keywords (keyword, action, updated_by, updated_at)
         SELECT column1, column2, 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (VALUES
            ('STOP', 'opt_out'), ('STOPALL', 'opt_out'), ('UNSUBSCRIBE', 'opt_out'), ('CANCEL', 'opt_out'),
            ('END', 'opt_out'), ('QUIT', 'opt_out'), ('REVOKE', 'opt_out'), ('OPTOUT', 'opt_out'),
            ('OPT OUT', 'opt_out'),
            ('START', 'opt_in'), ('YES', 'opt_in'), ('UNSTOP', 'opt_in'),
            ('HELP', 'help'), ('INFO', 'help'))",
        // Every inbound message, once per provider MessageSid (retries and
        // duplicates find their row and change nothing). kind: what the
        // message was taken as; effect: what it did. tenant_ids: JSON array
        // of the tenants that had the sending number when it arrived (empty:
        // unknown number, the unmatched inbox). Free text (in_inbox = 1) is
        // the staff inbox, marked read / handled by staff.
        "CREATE TABLE inbound_messages (
            id INTEGER PRIMARY KEY,
            message_sid TEXT NOT NULL UNIQUE,
            from_address TEXT NOT NULL,
            to_address TEXT NOT NULL,
            body TEXT NOT NULL,
            num_media INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL CHECK (kind IN ('opt_out', 'opt_in', 'help', 'text')),
            keyword TEXT,
            provider_opt_out_type TEXT,
            effect TEXT NOT NULL,
            tenant_ids TEXT NOT NULL,
            reply TEXT,
            received_at TEXT NOT NULL,
            in_inbox INTEGER NOT NULL CHECK (in_inbox IN (0, 1)),
            read_at TEXT,
            read_by TEXT,
            handled_at TEXT,
            handled_by TEXT
        )",
        "CREATE INDEX inbound_messages_inbox ON inbound_messages(handled_at, id) WHERE in_inbox = 1",
        // Delivery status callbacks, once per (MessageSid, status, error
        // code): a retried callback finds its row and changes nothing.
        // error_code is '' when the provider sent none.
        "CREATE TABLE sms_status_events (
            id INTEGER PRIMARY KEY,
            message_sid TEXT NOT NULL,
            status TEXT NOT NULL,
            error_code TEXT NOT NULL,
            to_address TEXT,
            applied INTEGER NOT NULL CHECK (applied IN (0, 1)),
            effect TEXT,
            received_at TEXT NOT NULL,
            UNIQUE (message_sid, status, error_code)
        )",
        // Numbers the carrier reported unusable for texting (invalid,
        // unknown, landline, unreachable). No texts go to them; a later
        // delivered status for the number lifts the state.
        "CREATE TABLE sms_number_states (
            address TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('invalid')),
            error_code TEXT NOT NULL,
            message_sid TEXT,
            set_at TEXT NOT NULL
        )",
        // Per-property contact named in HELP replies (default: the texting number).
        "CREATE TABLE property_sms_help (
            property_id TEXT PRIMARY KEY REFERENCES properties(property_id),
            contact TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
    ],
},
crate::notice_migration::MIGRATION];

/// The newest schema version this code knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

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
                &[m.version.into(), m.name.into(), crate::time::timestamp(now).into()],
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
    use crate::db::NativeDb;

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
