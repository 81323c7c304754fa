//! The ledger file: `tenant_id,date,due_date,kind,amount,reference`, one
//! entry per row keyed by tenant and reference. Amounts are positive; the
//! kind says whether the tenant owes or paid.

use super::batch::{select_in, upsert_clause, write_many, KEYS_PER_LOOKUP};
use super::framing::{Problems, Table};
use super::{ImportError, ImportReport, Rejection, ROWS_PER_TX};
use crate::base::db::{self, Db, Value};
use crate::base::error::Error;
use crate::base::money;
use crate::base::normalize;
use crate::base::time;
use crate::records::ledger::EntryKind;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
struct EntryFields {
    kind: EntryKind,
    date: NaiveDate,
    due_date: NaiveDate,
    amount_cents: i64,
}

struct LedgerRow {
    line: u64,
    tenant_id: String,
    reference: String,
    fields: EntryFields,
}

fn parse_ledger(t: &Table, line: u64, rec: &csv::StringRecord) -> Result<LedgerRow, String> {
    let mut p = Problems::default();
    let tenant_id = p.take(normalize::identifier(t.field(rec, "tenant_id"), "tenant_id"));
    let reference = p.take(normalize::identifier(t.field(rec, "reference"), "reference"));
    let kind = p.take(EntryKind::from_str(t.field(rec, "kind")));
    let date = p.take(time::parse_date(t.field(rec, "date")).map_err(|e| format!("date: {e}")));
    let due_raw = t.field(rec, "due_date");
    let due_date = if due_raw.is_empty() {
        match kind {
            Some(EntryKind::Charge) => {
                p.0.push("due_date is required for a charge".into());
                None
            }
            _ => date,
        }
    } else {
        p.take(time::parse_date(due_raw).map_err(|e| format!("due_date: {e}")))
    };
    let amount = p.take(money::parse_cents(t.field(rec, "amount")).map_err(|e| e.to_string())).and_then(|c| {
        if c <= 0 {
            p.0.push("amount must be greater than 0 (the kind says whether it is owed or paid)".into());
            None
        } else {
            Some(c)
        }
    });
    match (tenant_id, reference, kind, date, due_date, amount) {
        (Some(tenant_id), Some(reference), Some(kind), Some(date), Some(due_date), Some(amount_cents))
            if p.0.is_empty() =>
        {
            Ok(LedgerRow { line, tenant_id, reference, fields: EntryFields { kind, date, due_date, amount_cents } })
        }
        _ => Err(p.reason()),
    }
}

/// Check every row, then create or update the entries of known tenants.
pub(super) fn import(db: &dyn Db, t: &Table, now: DateTime<Utc>, report: &mut ImportReport) -> Result<(), ImportError> {
    let mut rows: Vec<LedgerRow> = Vec::with_capacity(t.records.len());
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for (line, rec) in &t.records {
        match parse_ledger(t, *line, rec) {
            Ok(row) => {
                let key = (row.tenant_id.clone(), row.reference.clone());
                if let Some(first) = seen.get(&key) {
                    report.rejected.push(Rejection {
                        line: *line,
                        reason: format!(
                            "duplicate reference `{}` for tenant `{}` (first on line {first})",
                            row.reference, row.tenant_id
                        ),
                    });
                    continue;
                }
                seen.insert(key, *line);
                rows.push(row);
            }
            Err(reason) => report.rejected.push(Rejection { line: *line, reason }),
        }
    }
    drop(seen);
    let stamp = time::timestamp(now);
    for chunk in rows.chunks(ROWS_PER_TX) {
        db::transaction(db, |tx| -> Result<(), ImportError> {
            let mut tenant_ids: Vec<&str> = chunk.iter().map(|r| r.tenant_id.as_str()).collect();
            tenant_ids.sort_unstable();
            tenant_ids.dedup();
            let known: HashSet<String> = select_in(tx, "SELECT tenant_id FROM tenants WHERE tenant_id IN ", &tenant_ids)?
                .iter()
                .map(|r| r.string("tenant_id"))
                .collect::<Result<_, _>>()?;
            // Existing entries for exactly these (tenant, reference) keys.
            let mut current: HashMap<(String, String), EntryFields> = HashMap::new();
            let keyed: Vec<&LedgerRow> = chunk.iter().filter(|r| known.contains(&r.tenant_id)).collect();
            for slice in keyed.chunks(KEYS_PER_LOOKUP) {
                let sql = format!(
                    "SELECT tenant_id, reference, kind, date, due_date, amount_cents FROM ledger_entries
                     WHERE (tenant_id, reference) IN (VALUES {})",
                    db::row_placeholders(slice.len(), 2)
                );
                let params: Vec<Value> =
                    slice.iter().flat_map(|r| [Value::from(&r.tenant_id), Value::from(&r.reference)]).collect();
                for r in tx.execute(&sql, &params)?.iter() {
                    current.insert(
                        (r.string("tenant_id")?, r.string("reference")?),
                        EntryFields {
                            kind: r.str("kind")?.parse().map_err(Error::Corrupt)?,
                            date: time::parse_date(r.str("date")?).map_err(Error::Corrupt)?,
                            due_date: time::parse_date(r.str("due_date")?).map_err(Error::Corrupt)?,
                            amount_cents: r.i64("amount_cents")?,
                        },
                    );
                }
            }
            let mut writes = Vec::new();
            for row in chunk {
                if !known.contains(&row.tenant_id) {
                    report.rejected.push(Rejection {
                        line: row.line,
                        reason: format!("unknown tenant_id `{}` (import tenants first)", row.tenant_id),
                    });
                    continue;
                }
                let f = &row.fields;
                if !report.tally(current.get(&(row.tenant_id.clone(), row.reference.clone())), f) {
                    continue;
                }
                writes.push(vec![
                    (&row.tenant_id).into(),
                    (&row.reference).into(),
                    f.kind.as_str().into(),
                    time::date_string(f.date).into(),
                    time::date_string(f.due_date).into(),
                    f.amount_cents.into(),
                    "import".into(),
                    (&stamp).into(),
                    (&stamp).into(),
                ]);
            }
            // An update keeps the entry's source (who first wrote it).
            write_many(
                tx,
                "ledger_entries",
                &["tenant_id", "reference", "kind", "date", "due_date", "amount_cents", "source", "created_at", "updated_at"],
                &upsert_clause(&["tenant_id", "reference"], &["kind", "date", "due_date", "amount_cents", "updated_at"]),
                writes,
            )?;
            Ok(())
        })?;
    }
    Ok(())
}
