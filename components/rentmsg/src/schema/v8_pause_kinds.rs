//! Migration 8: a pause of notices says in a column whether a promise to pay
//! set it.
//!
//! - `notice_pauses.promise_id`: the promise whose pause this is, NULL for
//!   a pause staff set. Code used to tell the two apart by matching
//!   `reason LIKE 'promise #%'`; the reason text keeps that form for
//!   readers of the table, and existing promise pauses are filled in from it
//!   here, once.

use crate::schema::Migration;

/// Migration 8.
pub const MIGRATION: Migration = Migration {
    version: 8,
    name: "notice pause kinds",
    statements: &[
        "ALTER TABLE notice_pauses ADD COLUMN promise_id INTEGER REFERENCES promises(id)",
        // `promise #<id>: <text>`: the id runs from the 10th character to the colon.
        "UPDATE notice_pauses SET promise_id = CAST(substr(reason, 10, instr(reason, ':') - 10) AS INTEGER)
         WHERE reason LIKE 'promise #%:%'",
    ],
};
