//! The properties file: `property_id,name,time_zone,state,country` and an
//! optional `currency` (`USD` / `CAD`; empty or absent: CAD in Canada, else
//! USD). A property's time zone and country are the defaults of its tenants.

use super::batch::{opt_value, select_in, upsert_clause, write_many};
use super::framing::{Problems, Table};
use super::{ImportError, ImportReport, Rejection, ROWS_PER_TX};
use crate::base::db::{self, Db};
use crate::base::error::Error;
use crate::base::locale::{Currency, CurrencyError};
use crate::base::normalize;
use crate::base::time;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
struct PropertyFields {
    name: String,
    time_zone: String,
    state: Option<String>,
    country: Option<String>,
    currency: Currency,
}

/// Check every row, then create or update the good ones.
pub(super) fn import(db: &dyn Db, t: &Table, now: DateTime<Utc>, report: &mut ImportReport) -> Result<(), ImportError> {
    let mut rows: Vec<(u64, String, PropertyFields)> = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, rec) in &t.records {
        let mut p = Problems::default();
        let id = p.take(normalize::identifier(t.field(rec, "property_id"), "property_id"));
        let name = p.take(normalize::optional_text(t.field(rec, "name"), "name", 200)).and_then(|n| {
            if n.is_none() {
                p.0.push("name is required".into());
            }
            n
        });
        let tz = p.take(normalize::time_zone(t.field(rec, "time_zone")));
        let state = p.take(normalize::state(t.field(rec, "state")));
        let country = p.take(normalize::country(t.field(rec, "country")));
        let currency_raw = t.field(rec, "currency");
        let currency = if currency_raw.is_empty() {
            country.as_ref().map(|c| Currency::for_country(c.as_deref()))
        } else {
            p.take(currency_raw.parse::<Currency>().map_err(|e| e.to_string()))
        };
        match (id, name, tz, state, country, currency) {
            (Some(id), Some(name), Some(tz), Some(state), Some(country), Some(currency)) if p.0.is_empty() => {
                if let Some(first) = seen.get(&id) {
                    report.rejected.push(Rejection {
                        line: *line,
                        reason: format!("duplicate property_id `{id}` (first on line {first})"),
                    });
                    continue;
                }
                seen.insert(id.clone(), *line);
                rows.push((*line, id, PropertyFields { name, time_zone: tz.name().to_owned(), state, country, currency }));
            }
            _ => report.rejected.push(Rejection { line: *line, reason: p.reason() }),
        }
    }
    let stamp = time::timestamp(now);
    for chunk in rows.chunks(ROWS_PER_TX) {
        db::transaction(db, |tx| -> Result<(), ImportError> {
            let keys: Vec<&str> = chunk.iter().map(|(_, id, _)| id.as_str()).collect();
            let existing = select_in(
                tx,
                "SELECT property_id, name, time_zone, state, country, currency FROM properties WHERE property_id IN ",
                &keys,
            )?;
            let mut current: HashMap<String, PropertyFields> = HashMap::new();
            for r in existing.iter() {
                current.insert(
                    r.string("property_id")?,
                    PropertyFields {
                        name: r.string("name")?,
                        time_zone: r.string("time_zone")?,
                        state: r.opt_string("state")?,
                        country: r.opt_string("country")?,
                        currency: r.str("currency")?.parse().map_err(|e: CurrencyError| Error::Corrupt(e.to_string()))?,
                    },
                );
            }
            let mut writes = Vec::new();
            for (_, id, f) in chunk {
                if !report.tally(current.get(id), f) {
                    continue;
                }
                writes.push(vec![
                    id.into(),
                    (&f.name).into(),
                    (&f.time_zone).into(),
                    opt_value(&f.state),
                    opt_value(&f.country),
                    f.currency.code().into(),
                    (&stamp).into(),
                    (&stamp).into(),
                ]);
            }
            write_many(
                tx,
                "properties",
                &["property_id", "name", "time_zone", "state", "country", "currency", "created_at", "updated_at"],
                &upsert_clause(&["property_id"], &["name", "time_zone", "state", "country", "currency", "updated_at"]),
                writes,
            )?;
            Ok(())
        })?;
    }
    Ok(())
}
