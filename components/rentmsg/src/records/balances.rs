//! Each tenant's balance summary (`tenant_balances`), kept by triggers on
//! `ledger_entries` (migration 5) in the same statement as every ledger
//! write, so it always equals `ledger::summarize` of the ledger. The scan
//! reads the overdue set from it through a partial index.

use crate::base::db::{Db, Row};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::NaiveDate;

/// A tenant's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Whose balance this is.
    pub tenant_id: String,
    /// Charges minus payments and credits.
    pub balance_cents: i64,
    /// Due date of the oldest charge not fully covered.
    pub oldest_unpaid_due_date: Option<NaiveDate>,
    /// Posting date of the latest payment.
    pub last_payment_date: Option<NaiveDate>,
}

fn date(row: Row<'_>, column: &str) -> Result<Option<NaiveDate>> {
    row.opt_str(column)?.map(|s| time::parse_date(s).map_err(Error::Corrupt)).transpose()
}

/// A tenant's summary (None: no ledger entries).
pub fn get(db: &dyn Db, tenant_id: &str) -> Result<Option<Balance>> {
    let rows = db.execute(
        "SELECT tenant_id, balance_cents, oldest_unpaid_due_date, last_payment_date FROM tenant_balances WHERE tenant_id = ?",
        &[tenant_id.into()],
    )?;
    rows.first()
        .map(|r| {
            Ok(Balance {
                tenant_id: r.string("tenant_id")?,
                balance_cents: r.i64("balance_cents")?,
                oldest_unpaid_due_date: date(r, "oldest_unpaid_due_date")?,
                last_payment_date: date(r, "last_payment_date")?,
            })
        })
        .transpose()
}
