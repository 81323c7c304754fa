//! Notes on a tenant (bankruptcy reasons, compliance warnings, call notes).

use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// Row id, increasing with each note.
    pub id: i64,
    /// What the note is about (`bankruptcy`, `exclusion`, `call`, `general`...).
    pub kind: String,
    /// The note's text, shown to staff as is.
    pub body: String,
    /// Who wrote it.
    pub author: String,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// Add a note; returns its id. One statement.
pub fn add(db: &dyn Db, tenant_id: &str, kind: &str, body: &str, author: &str, now: DateTime<Utc>) -> Result<i64> {
    let rows = db.execute(
        "INSERT INTO notes (tenant_id, kind, body, author, at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        &[tenant_id.into(), kind.into(), body.into(), author.into(), time::timestamp(now).into()],
    )?;
    rows.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))
}

/// A tenant's notes, newest first.
pub fn list(db: &dyn Db, tenant_id: &str, limit: i64) -> Result<Vec<Note>> {
    let rows = db.execute(
        &format!(
            "SELECT id, kind, body, author, at FROM notes WHERE tenant_id = ? ORDER BY id DESC {}",
            db::limit_clause(limit, None)
        ),
        &[tenant_id.into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Note {
                id: r.i64("id")?,
                kind: r.string("kind")?,
                body: r.string("body")?,
                author: r.string("author")?,
                at: r.string("at")?,
            })
        })
        .collect()
}
