//! Ledger entries and the balance / days-past-due math.
//!
//! Balance = charges − (payments + credits). Payments and credits are applied
//! to charges oldest first (FIFO by due date, then posting date, then
//! reference), whatever their own dates. Days past due = days from the due
//! date of the oldest charge not fully covered to "today" (0 if that charge
//! is not yet due, or nothing is open). "Today" is always passed in.

use crate::base::db::{Db, Row};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Kind of ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Money owed (rent, fees).
    Charge,
    /// Money received.
    Payment,
    /// Money forgiven / adjusted in the tenant's favour.
    Credit,
}

impl EntryKind {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::Payment => "payment",
            EntryKind::Credit => "credit",
        }
    }
}

impl FromStr for EntryKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "charge" => Ok(EntryKind::Charge),
            "payment" => Ok(EntryKind::Payment),
            "credit" => Ok(EntryKind::Credit),
            other => Err(format!("kind `{other}` is not one of charge, payment, credit")),
        }
    }
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Identifies the entry across re-imports (per tenant).
    pub reference: String,
    /// Charge, payment or credit.
    pub kind: EntryKind,
    /// Posting date.
    pub date: NaiveDate,
    /// Due date (charges); for payments and credits the posting date unless given.
    pub due_date: NaiveDate,
    /// Positive amount in cents; `kind` gives the direction.
    pub amount_cents: i64,
}

/// How much of one charge is still open after FIFO allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeStatus {
    /// The charge's reference.
    pub reference: String,
    /// Its due date.
    pub due_date: NaiveDate,
    /// Its amount.
    pub amount_cents: i64,
    /// Still unpaid.
    pub open_cents: i64,
}

/// Derived account position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Charges minus payments and credits (negative = credit balance).
    pub balance_cents: i64,
    /// Open amount of charges whose due date is before today.
    pub overdue_cents: i64,
    /// Days since the due date of the oldest open charge (0 when none is past due).
    pub days_past_due: i64,
    /// Due date of the oldest charge not fully covered.
    pub oldest_open_due_date: Option<NaiveDate>,
    /// Sum of charges.
    pub charges_cents: i64,
    /// Sum of payments and credits.
    pub paid_cents: i64,
    /// Per-charge allocation, oldest first.
    pub charges: Vec<ChargeStatus>,
}

/// Compute the summary of a tenant's entries as of `today` (pure).
pub fn summarize(entries: &[Entry], today: NaiveDate) -> Summary {
    let mut charges: Vec<&Entry> = entries.iter().filter(|e| e.kind == EntryKind::Charge).collect();
    charges.sort_by(|a, b| {
        (a.due_date, a.date, a.reference.as_str()).cmp(&(b.due_date, b.date, b.reference.as_str()))
    });
    let charges_cents: i64 = charges.iter().map(|e| e.amount_cents).sum();
    let paid_cents: i64 = entries
        .iter()
        .filter(|e| e.kind != EntryKind::Charge)
        .map(|e| e.amount_cents)
        .sum();
    let mut pool = paid_cents;
    let mut overdue_cents = 0;
    let mut oldest_open_due_date = None;
    let mut statuses = Vec::with_capacity(charges.len());
    for c in charges {
        let covered = pool.min(c.amount_cents).max(0);
        pool -= covered;
        let open = c.amount_cents - covered;
        if open > 0 {
            if oldest_open_due_date.is_none() {
                oldest_open_due_date = Some(c.due_date);
            }
            if c.due_date < today {
                overdue_cents += open;
            }
        }
        statuses.push(ChargeStatus {
            reference: c.reference.clone(),
            due_date: c.due_date,
            amount_cents: c.amount_cents,
            open_cents: open,
        });
    }
    let days_past_due = oldest_open_due_date.map_or(0, |d| (today - d).num_days().max(0));
    Summary {
        balance_cents: charges_cents - paid_cents,
        overdue_cents,
        days_past_due,
        oldest_open_due_date,
        charges_cents,
        paid_cents,
        charges: statuses,
    }
}

fn entry_from_row(row: Row<'_>) -> Result<Entry> {
    Ok(Entry {
        reference: row.string("reference")?,
        kind: row.str("kind")?.parse().map_err(Error::Corrupt)?,
        date: time::parse_date(row.str("date")?).map_err(Error::Corrupt)?,
        due_date: time::parse_date(row.str("due_date")?).map_err(Error::Corrupt)?,
        amount_cents: row.i64("amount_cents")?,
    })
}

/// A tenant's entries, oldest first.
pub fn entries(db: &dyn Db, tenant_id: &str) -> Result<Vec<Entry>> {
    let rows = db.execute(
        "SELECT reference, kind, date, due_date, amount_cents FROM ledger_entries WHERE tenant_id = ? ORDER BY date, id",
        &[tenant_id.into()],
    )?;
    rows.iter().map(entry_from_row).collect()
}

/// A tenant's summary as of `today` (the tenant's local date).
pub fn summary(db: &dyn Db, tenant_id: &str, today: NaiveDate) -> Result<Summary> {
    Ok(summarize(&entries(db, tenant_id)?, today))
}

/// A payment or credit recorded by a component (not an import).
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    /// Whose ledger.
    pub tenant_id: &'a str,
    /// Unique per tenant (e.g. the provider's payment id).
    pub reference: &'a str,
    /// Payment or credit.
    pub kind: EntryKind,
    /// Posting date.
    pub date: NaiveDate,
    /// Positive amount in cents.
    pub amount_cents: i64,
    /// Who recorded it (e.g. `payments`).
    pub source: &'a str,
}

/// Record a payment or credit that did not come from an import (e.g. the
/// payment provider's webhook). Idempotent by `(tenant_id, reference)`:
/// returns false when that reference is already on the ledger. One
/// statement, so safe inside or outside a transaction.
pub fn record_payment(db: &dyn Db, p: &NewPayment<'_>, now: DateTime<Utc>) -> Result<bool> {
    if p.kind == EntryKind::Charge {
        return Err(Error::Invalid("record_payment records payments and credits, not charges".into()));
    }
    if p.amount_cents <= 0 {
        return Err(Error::Invalid("amount must be greater than 0".into()));
    }
    let at = time::timestamp(now);
    let d = time::date_string(p.date);
    let rows = db.execute(
        "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, source, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, reference) DO NOTHING
         RETURNING id",
        &[
            p.tenant_id.into(),
            p.reference.into(),
            p.kind.as_str().into(),
            d.clone().into(),
            d.into(),
            p.amount_cents.into(),
            p.source.into(),
            at.clone().into(),
            at.into(),
        ],
    )?;
    Ok(!rows.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        time::parse_date(s).unwrap()
    }

    fn e(reference: &str, kind: EntryKind, date: &str, due: &str, cents: i64) -> Entry {
        Entry { reference: reference.into(), kind, date: d(date), due_date: d(due), amount_cents: cents }
    }

    use EntryKind::*;

    #[test]
    fn fifo_table() {
        struct Case {
            name: &'static str,
            entries: Vec<Entry>,
            today: &'static str,
            balance: i64,
            overdue: i64,
            days: i64,
            oldest: Option<&'static str>,
        }
        let cases = vec![
            Case { name: "empty ledger", entries: vec![], today: "2024-03-10", balance: 0, overdue: 0, days: 0, oldest: None },
            Case {
                name: "one unpaid charge past due",
                entries: vec![e("R1", Charge, "2024-03-01", "2024-03-01", 100_000)],
                today: "2024-03-10",
                balance: 100_000,
                overdue: 100_000,
                days: 9,
                oldest: Some("2024-03-01"),
            },
            Case {
                name: "due today is not yet past due",
                entries: vec![e("R1", Charge, "2024-03-01", "2024-03-10", 100_000)],
                today: "2024-03-10",
                balance: 100_000,
                overdue: 0,
                days: 0,
                oldest: Some("2024-03-10"),
            },
            Case {
                name: "future charge counts in balance, not in overdue",
                entries: vec![e("R1", Charge, "2024-03-01", "2024-04-01", 100_000)],
                today: "2024-03-10",
                balance: 100_000,
                overdue: 0,
                days: 0,
                oldest: Some("2024-04-01"),
            },
            Case {
                name: "partial payment covers oldest first",
                entries: vec![
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                    e("R3", Charge, "2024-03-01", "2024-03-01", 100_000),
                    e("P1", Payment, "2024-03-05", "2024-03-05", 150_000),
                ],
                today: "2024-03-10",
                balance: 50_000,
                overdue: 50_000,
                days: 9,
                oldest: Some("2024-03-01"),
            },
            Case {
                name: "payment smaller than oldest charge keeps oldest open",
                entries: vec![
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                    e("R3", Charge, "2024-03-01", "2024-03-01", 100_000),
                    e("P1", Payment, "2024-03-05", "2024-03-05", 40_000),
                ],
                today: "2024-03-10",
                balance: 160_000,
                overdue: 160_000,
                days: 38,
                oldest: Some("2024-02-01"),
            },
            Case {
                name: "entry order in the file does not matter",
                entries: vec![
                    e("P1", Payment, "2024-03-05", "2024-03-05", 40_000),
                    e("R3", Charge, "2024-03-01", "2024-03-01", 100_000),
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                ],
                today: "2024-03-10",
                balance: 160_000,
                overdue: 160_000,
                days: 38,
                oldest: Some("2024-02-01"),
            },
            Case {
                name: "credits count like payments",
                entries: vec![
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                    e("C1", Credit, "2024-02-10", "2024-02-10", 100_000),
                    e("R3", Charge, "2024-03-01", "2024-03-01", 5_000),
                ],
                today: "2024-03-10",
                balance: 5_000,
                overdue: 5_000,
                days: 9,
                oldest: Some("2024-03-01"),
            },
            Case {
                name: "exactly paid",
                entries: vec![
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                    e("P1", Payment, "2024-02-03", "2024-02-03", 100_000),
                ],
                today: "2024-03-10",
                balance: 0,
                overdue: 0,
                days: 0,
                oldest: None,
            },
            Case {
                name: "overpaid gives a credit balance",
                entries: vec![
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                    e("P1", Payment, "2024-02-03", "2024-02-03", 120_000),
                ],
                today: "2024-03-10",
                balance: -20_000,
                overdue: 0,
                days: 0,
                oldest: None,
            },
            Case {
                name: "prepayment covers a later charge",
                entries: vec![
                    e("P0", Payment, "2024-01-20", "2024-01-20", 100_000),
                    e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                    e("R3", Charge, "2024-03-01", "2024-03-01", 100_000),
                ],
                today: "2024-03-10",
                balance: 100_000,
                overdue: 100_000,
                days: 9,
                oldest: Some("2024-03-01"),
            },
            Case {
                name: "same due date: earlier posting first, then reference",
                entries: vec![
                    e("FEE", Charge, "2024-03-02", "2024-03-01", 5_000),
                    e("RENT", Charge, "2024-03-01", "2024-03-01", 100_000),
                    e("P1", Payment, "2024-03-03", "2024-03-03", 100_000),
                ],
                today: "2024-03-31",
                balance: 5_000,
                overdue: 5_000,
                days: 30,
                oldest: Some("2024-03-01"),
            },
            Case {
                name: "leap year day count",
                entries: vec![e("R1", Charge, "2024-02-01", "2024-02-01", 1)],
                today: "2024-03-01",
                balance: 1,
                overdue: 1,
                days: 29,
                oldest: Some("2024-02-01"),
            },
        ];
        for c in cases {
            let s = summarize(&c.entries, d(c.today));
            assert_eq!(s.balance_cents, c.balance, "{}: balance", c.name);
            assert_eq!(s.overdue_cents, c.overdue, "{}: overdue", c.name);
            assert_eq!(s.days_past_due, c.days, "{}: days", c.name);
            assert_eq!(s.oldest_open_due_date, c.oldest.map(d), "{}: oldest", c.name);
            let open: i64 = s.charges.iter().map(|c| c.open_cents).sum();
            assert_eq!(open, s.balance_cents.max(0), "{}: open charges add up", c.name);
        }
    }

    #[test]
    fn allocation_detail() {
        let s = summarize(
            &[
                e("R2", Charge, "2024-02-01", "2024-02-01", 100_000),
                e("R3", Charge, "2024-03-01", "2024-03-01", 100_000),
                e("P1", Payment, "2024-03-05", "2024-03-05", 150_000),
            ],
            d("2024-03-10"),
        );
        let open: Vec<(&str, i64)> = s.charges.iter().map(|c| (c.reference.as_str(), c.open_cents)).collect();
        assert_eq!(open, vec![("R2", 0), ("R3", 50_000)]);
    }
}
