//! Migration 9: staff accounts, so each person signs in as themselves.
//!
//! - `staff_users`: one row per person, with a role, an optional list of
//!   the properties they may see (`property_ids`, a JSON array; NULL means
//!   every property), a disabled flag, the SHA-256 of their API token and
//!   the Argon2id PHC string of their console password. Neither secret is
//!   ever stored in the clear.
//! - `staff_sessions`: console sign-ins, keyed by the SHA-256 of the
//!   session id the cookie carries, with an absolute expiry and the last
//!   time it was used (for the idle limit).

use crate::schema::Migration;

/// Migration 9.
pub const MIGRATION: Migration = Migration {
    version: 9,
    name: "staff accounts",
    statements: &[
        "CREATE TABLE staff_users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'collector', 'viewer')),
            property_ids TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            token_hash TEXT UNIQUE,
            password_hash TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "CREATE TABLE staff_sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES staff_users(id),
            expires_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        )",
        "CREATE INDEX staff_sessions_user ON staff_sessions (user_id)",
    ],
};
