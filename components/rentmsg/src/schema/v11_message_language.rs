//! Migration 11: the language a message was written in.
//!
//! - `outbox.language`: `en`, `es` or `fr` for a supplemental message
//!   (the language staff picked, else its template's, else the tenant's
//!   when it was queued): its opt-out line and amounts follow it at sending.
//!   NULL: the tenant's language at sending (notices, replies).

use crate::schema::Migration;

/// Migration 11.
pub const MIGRATION: Migration = Migration {
    version: 11,
    name: "message language",
    statements: &["ALTER TABLE outbox ADD COLUMN language TEXT CHECK (language IS NULL OR language IN ('en', 'es', 'fr'))"],
};
