//! CSV imports of properties, tenants and ledger entries, one file per
//! kind (`properties`, `tenants`, `ledger`) over the shared CSV
//! framing (`framing`) and batched writes (`batch`).
//!
//! - The body must be UTF-8 (a leading BOM is ignored) with a header row.
//!   Header names are matched case-insensitively after trimming; every
//!   column of [`ImportKind::required_columns`] must be present (the
//!   tenants' trailing `status` and `language` columns and the properties'
//!   trailing `currency` are optional); extra columns are
//!   ignored; a column named twice is an error.
//! - Each data row is checked on its own. A bad row is rejected with its
//!   physical line number (header = line 1; blank lines and every line of a
//!   quoted field spanning lines count; LF, CRLF and CR line ends alike) and
//!   every reason found, and changes nothing. Good rows land. Rows whose
//!   fields are all empty are skipped silently.
//! - A key seen twice in one file (property_id, tenant_id, or tenant_id +
//!   reference) is rejected on its second line, so a re-import of the same
//!   file is always "all unchanged".
//! - Rows are written in transactions of [`ROWS_PER_TX`] rows with
//!   multi-row upserts (new and changed rows alike), so 50,000 rows take a
//!   few hundred statements.

mod batch;
mod framing;
mod ledger;
mod properties;
mod tenants;

use crate::base::db;
use crate::base::error::Error;
use crate::records::audit;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::str::FromStr;

/// Rows per write transaction: large enough that a big file takes few
/// commits, small enough that other writers are not held up for long.
pub const ROWS_PER_TX: usize = 2000;

/// Which CSV file an import reads; each kind has its own columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// `property_id,name,time_zone,state,country[,currency]`
    Properties,
    /// `tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id[,status[,language]]`
    Tenants,
    /// `tenant_id,date,due_date,kind,amount,reference`
    Ledger,
}

impl ImportKind {
    /// Name used in routes and audit rows.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Properties => "properties",
            ImportKind::Tenants => "tenants",
            ImportKind::Ledger => "ledger",
        }
    }

    /// Columns the header must name.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Properties => &["property_id", "name", "time_zone", "state", "country"],
            ImportKind::Tenants => &[
                "tenant_id",
                "property_id",
                "name",
                "unit",
                "mobile_phone",
                "home_phone",
                "work_phone",
                "email",
                "work_email",
                "state",
                "country",
                "time_zone",
                "group_id",
            ],
            ImportKind::Ledger => &["tenant_id", "date", "due_date", "kind", "amount", "reference"],
        }
    }

    /// Columns the header may name.
    pub fn optional_columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Properties => &["currency"],
            ImportKind::Tenants => &["status", "language"],
            ImportKind::Ledger => &[],
        }
    }
}

impl FromStr for ImportKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "properties" => Ok(ImportKind::Properties),
            "tenants" => Ok(ImportKind::Tenants),
            "ledger" => Ok(ImportKind::Ledger),
            other => Err(format!("unknown import `{other}`")),
        }
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Physical line in the file (header = 1).
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// What an import did, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Rows that created a record.
    pub created: u64,
    /// Rows that changed an existing record.
    pub updated: u64,
    /// Rows identical to what was stored.
    pub unchanged: u64,
    /// Rows that changed nothing because they are wrong, in line order.
    pub rejected: Vec<Rejection>,
}

impl ImportReport {
    /// Count a row against what is stored for its key; true when the row
    /// must be written (new or changed), false when it is identical.
    pub fn tally<T: PartialEq>(&mut self, stored: Option<&T>, row: &T) -> bool {
        match stored {
            None => self.created += 1,
            Some(old) if old == row => {
                self.unchanged += 1;
                return false;
            }
            Some(_) => self.updated += 1,
        }
        true
    }
}

/// Why a whole file was refused (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not UTF-8.
    #[error("the body is not valid UTF-8 (first bad byte at offset {offset}, line {line}); save the CSV as UTF-8")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
        /// Its line.
        line: u64,
    },
    /// No header row.
    #[error("the CSV is empty: a header row is required")]
    Empty,
    /// The header row is wrong.
    #[error("{0}")]
    Header(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<db::DbError> for ImportError {
    fn from(e: db::DbError) -> Self {
        ImportError::Store(Error::Db(e))
    }
}

/// Import one CSV file. Whole-file problems (encoding, header) return an
/// error and write nothing; row problems land in the report. Audited as
/// `import.<kind>` by `actor`.
pub fn import(
    db: &dyn db::Db,
    kind: ImportKind,
    body: &[u8],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let table = framing::read_table(kind, body, &mut report)?;
    match kind {
        ImportKind::Properties => properties::import(db, &table, now, &mut report)?,
        ImportKind::Tenants => tenants::import(db, &table, now, &mut report)?,
        ImportKind::Ledger => ledger::import(db, &table, now, &mut report)?,
    }
    report.rejected.sort_by_key(|r| r.line);
    audit::record(
        db,
        actor,
        &format!("import.{}", kind.as_str()),
        "",
        &serde_json::json!({
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected.len(),
        }),
        now,
    )?;
    Ok(report)
}
