//! The tenants file: `tenant_id,property_id,name,unit,mobile_phone,
//! home_phone,work_phone,email,work_email,state,country,time_zone,group_id`
//! and an optional `status`, then an optional `language` (`en`, `es`, `fr`
//! or a BCP 47 tag of one of them; empty = the property's language; a file
//! without the column leaves each tenant's language as it is). Each
//! tenant's contact points are replaced by the file's: a column left empty
//! removes that contact point.

use super::batch::{delete_pairs, opt_value, select_in, upsert_clause, write_many};
use super::framing::{Problems, Table};
use super::{ImportError, ImportReport, Rejection, ROWS_PER_TX};
use crate::base::db::{self, Db, Value};
use crate::base::error::Error;
use crate::base::locale::Language;
use crate::base::normalize;
use crate::base::time;
use crate::records::tenants::{ContactKind, TenantStatus};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq)]
struct TenantFields {
    property_id: String,
    name: String,
    unit: Option<String>,
    state: Option<String>,
    country: Option<String>,
    time_zone: Option<String>,
    group_id: Option<String>,
    status: TenantStatus,
    language: Option<Language>,
}

struct TenantRow {
    line: u64,
    /// The file has a `language` column (else the stored one stays).
    language_given: bool,
    tenant_id: String,
    fields: TenantFields,
    /// Raw phone columns, normalised once the property's country is known.
    phones: Vec<(ContactKind, String)>,
    /// Normalised emails.
    emails: Vec<(ContactKind, String)>,
}

fn parse_tenant(t: &Table, line: u64, rec: &csv::StringRecord) -> Result<TenantRow, String> {
    let mut p = Problems::default();
    let tenant_id = p.take(normalize::identifier(t.field(rec, "tenant_id"), "tenant_id"));
    let property_id = p.take(normalize::identifier(t.field(rec, "property_id"), "property_id"));
    let name = p.take(normalize::optional_text(t.field(rec, "name"), "name", 200));
    if matches!(name, Some(None)) {
        p.0.push("name is required".into());
    }
    let unit = p.take(normalize::optional_text(t.field(rec, "unit"), "unit", 64));
    let state = p.take(normalize::state(t.field(rec, "state")));
    let country = p.take(normalize::country(t.field(rec, "country")));
    let tz_raw = t.field(rec, "time_zone");
    let time_zone = if tz_raw.is_empty() {
        Some(None)
    } else {
        p.take(normalize::time_zone(tz_raw)).map(|tz| Some(tz.name().to_owned()))
    };
    let group_id = p.take(normalize::optional_text(t.field(rec, "group_id"), "group_id", 128));
    let status_raw = t.field(rec, "status");
    let status = if status_raw.is_empty() { Some(TenantStatus::Active) } else { p.take(status_raw.parse()) };
    let language_raw = t.field(rec, "language");
    let language = if language_raw.is_empty() {
        Some(None)
    } else {
        p.take(Language::parse_tag(language_raw).map(Some).map_err(|e| e.to_string()))
    };
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    for kind in ContactKind::ALL {
        let raw = t.field(rec, kind.as_str());
        if raw.is_empty() {
            continue;
        }
        if kind.is_phone() {
            phones.push((kind, raw.to_owned()));
        } else if let Some(e) = p.take(normalize::email(raw).map_err(|e| format!("{}: {e}", kind.as_str()))) {
            emails.push((kind, e));
        }
    }
    match (tenant_id, property_id, name, unit, state, country, time_zone, group_id, status, language) {
        (
            Some(tenant_id),
            Some(property_id),
            Some(Some(name)),
            Some(unit),
            Some(state),
            Some(country),
            Some(time_zone),
            Some(group_id),
            Some(status),
            Some(language),
        ) if p.0.is_empty() => Ok(TenantRow {
            line,
            language_given: t.has("language"),
            tenant_id,
            fields: TenantFields { property_id, name, unit, state, country, time_zone, group_id, status, language },
            phones,
            emails,
        }),
        _ => Err(p.reason()),
    }
}

/// Check every row, then create or update the good ones with their
/// contact points: parse, find each property's country, normalise the
/// phone numbers with it, and write in transactions of [`ROWS_PER_TX`].
pub(super) fn import(db: &dyn Db, t: &Table, now: DateTime<Utc>, report: &mut ImportReport) -> Result<(), ImportError> {
    let rows = parse_rows(t, report);
    if rows.is_empty() {
        return Ok(());
    }
    let countries = property_countries(db, &rows)?;
    let ready = with_contact_points(rows, &countries, report);
    let stamp = time::timestamp(now);
    for chunk in ready.chunks(ROWS_PER_TX) {
        db::transaction(db, |tx| write_chunk(tx, chunk, &stamp, report))?;
    }
    Ok(())
}

/// Every readable row, the second of two with the same tenant_id rejected.
fn parse_rows(t: &Table, report: &mut ImportReport) -> Vec<TenantRow> {
    let mut rows: Vec<TenantRow> = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, rec) in &t.records {
        match parse_tenant(t, *line, rec) {
            Ok(row) => {
                if let Some(first) = seen.get(&row.tenant_id) {
                    report.rejected.push(Rejection {
                        line: *line,
                        reason: format!("duplicate tenant_id `{}` (first on line {first})", row.tenant_id),
                    });
                    continue;
                }
                seen.insert(row.tenant_id.clone(), *line);
                rows.push(row);
            }
            Err(reason) => report.rejected.push(Rejection { line: *line, reason }),
        }
    }
    rows
}

/// The stored country of every property the rows name (None: the property
/// has no country), for phone numbers written without a country prefix.
/// A property missing from the map does not exist.
fn property_countries(db: &dyn Db, rows: &[TenantRow]) -> Result<HashMap<String, Option<String>>, ImportError> {
    let mut property_ids: Vec<&str> = rows.iter().map(|r| r.fields.property_id.as_str()).collect();
    property_ids.sort_unstable();
    property_ids.dedup();
    let props = select_in(db, "SELECT property_id, country FROM properties WHERE property_id IN ", &property_ids)?;
    let mut countries = HashMap::new();
    for r in props.iter() {
        countries.insert(r.string("property_id")?, r.opt_string("country")?);
    }
    Ok(countries)
}

/// A row ready to write: its contact points normalised.
type ReadyRow = (TenantRow, BTreeMap<ContactKind, String>);

/// Rows whose property exists and whose phone numbers normalise (in the
/// tenant's country, else the property's, else the default), with their
/// contact points; the others are rejected.
fn with_contact_points(
    rows: Vec<TenantRow>,
    countries: &HashMap<String, Option<String>>,
    report: &mut ImportReport,
) -> Vec<ReadyRow> {
    let mut ready = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(prop_country) = countries.get(&row.fields.property_id) else {
            report.rejected.push(Rejection {
                line: row.line,
                reason: format!("unknown property_id `{}` (import properties first)", row.fields.property_id),
            });
            continue;
        };
        let country = row
            .fields
            .country
            .clone()
            .or_else(|| prop_country.clone())
            .unwrap_or_else(|| normalize::DEFAULT_COUNTRY.to_owned());
        let mut p = Problems::default();
        let mut points: BTreeMap<ContactKind, String> = BTreeMap::new();
        for (kind, raw) in &row.phones {
            if let Some(e164) = p.take(normalize::phone_e164(raw, &country).map_err(|e| format!("{}: {e}", kind.as_str()))) {
                points.insert(*kind, e164);
            }
        }
        if !p.0.is_empty() {
            report.rejected.push(Rejection { line: row.line, reason: p.reason() });
            continue;
        }
        for (kind, email) in &row.emails {
            points.insert(*kind, email.clone());
        }
        ready.push((row, points));
    }
    ready
}

/// What is stored for the tenants of one chunk: their fields and contact
/// points by tenant id.
struct Stored {
    tenants: HashMap<String, TenantFields>,
    points: HashMap<String, BTreeMap<ContactKind, String>>,
}

fn stored(tx: &dyn Db, keys: &[&str]) -> Result<Stored, ImportError> {
    let existing = select_in(
        tx,
        "SELECT tenant_id, property_id, name, unit, state, country, time_zone, group_id, status, language FROM tenants WHERE tenant_id IN ",
        keys,
    )?;
    let mut tenants: HashMap<String, TenantFields> = HashMap::new();
    for r in existing.iter() {
        tenants.insert(
            r.string("tenant_id")?,
            TenantFields {
                property_id: r.string("property_id")?,
                name: r.string("name")?,
                unit: r.opt_string("unit")?,
                state: r.opt_string("state")?,
                country: r.opt_string("country")?,
                time_zone: r.opt_string("time_zone")?,
                group_id: r.opt_string("group_id")?,
                status: r.str("status")?.parse().map_err(Error::Corrupt)?,
                language: r
                    .opt_str("language")?
                    .map(|l| Language::parse_tag(l).map_err(|e| Error::Corrupt(e.to_string())))
                    .transpose()?,
            },
        );
    }
    let existing_points = select_in(tx, "SELECT tenant_id, kind, address FROM contact_points WHERE tenant_id IN ", keys)?;
    let mut points: HashMap<String, BTreeMap<ContactKind, String>> = HashMap::new();
    for r in existing_points.iter() {
        let kind: ContactKind = r.str("kind")?.parse().map_err(Error::Corrupt)?;
        points.entry(r.string("tenant_id")?).or_default().insert(kind, r.string("address")?);
    }
    Ok(Stored { tenants, points })
}

/// The statements one chunk needs: tenant upserts, contact point upserts
/// and contact point deletions.
#[derive(Default)]
struct Changes {
    tenants: Vec<Vec<Value>>,
    points: Vec<Vec<Value>>,
    point_deletes: Vec<(String, String)>,
}

/// Compare each row with what is stored, count it (created, updated,
/// unchanged) and collect the writes it needs.
fn changes(chunk: &[ReadyRow], stored: &Stored, stamp: &str, report: &mut ImportReport) -> Changes {
    let mut out = Changes::default();
    let empty = BTreeMap::new();
    for (row, points) in chunk {
        let mut f = row.fields.clone();
        let id = &row.tenant_id;
        if !row.language_given {
            f.language = stored.tenants.get(id).and_then(|old| old.language);
        }
        let f = &f;
        let old_points = match stored.tenants.get(id) {
            None => {
                report.created += 1;
                &empty
            }
            Some(old) => {
                let old_points = stored.points.get(id).unwrap_or(&empty);
                if old == f && old_points == points {
                    report.unchanged += 1;
                    continue;
                }
                report.updated += 1;
                old_points
            }
        };
        // A changed contact point also marks the tenant updated.
        out.tenants.push(vec![
            id.into(),
            (&f.property_id).into(),
            (&f.name).into(),
            opt_value(&f.unit),
            opt_value(&f.state),
            opt_value(&f.country),
            opt_value(&f.time_zone),
            opt_value(&f.group_id),
            f.status.as_str().into(),
            f.language.map(Language::as_str).into(),
            stamp.into(),
            stamp.into(),
        ]);
        for kind in ContactKind::ALL {
            match (old_points.get(&kind), points.get(&kind)) {
                (None, None) => {}
                (Some(a), Some(b)) if a == b => {}
                (_, Some(b)) => out.points.push(vec![
                    id.into(),
                    kind.as_str().into(),
                    kind.address_kind().as_str().into(),
                    b.into(),
                    stamp.into(),
                    stamp.into(),
                ]),
                (Some(_), None) => out.point_deletes.push((id.clone(), kind.as_str().to_owned())),
            }
        }
    }
    out
}

/// One transaction's work: read what is stored, then write what changed.
fn write_chunk(tx: &dyn Db, chunk: &[ReadyRow], stamp: &str, report: &mut ImportReport) -> Result<(), ImportError> {
    let keys: Vec<&str> = chunk.iter().map(|(r, _)| r.tenant_id.as_str()).collect();
    let stored = stored(tx, &keys)?;
    let changes = changes(chunk, &stored, stamp, report);
    // Tenants first: contact points refer to them.
    write_many(
        tx,
        "tenants",
        &["tenant_id", "property_id", "name", "unit", "state", "country", "time_zone", "group_id", "status", "language", "created_at", "updated_at"],
        &upsert_clause(
            &["tenant_id"],
            &["property_id", "name", "unit", "state", "country", "time_zone", "group_id", "status", "language", "updated_at"],
        ),
        changes.tenants,
    )?;
    delete_pairs(tx, "contact_points", ("tenant_id", "kind"), changes.point_deletes)?;
    write_many(
        tx,
        "contact_points",
        &["tenant_id", "kind", "channel", "address", "created_at", "updated_at"],
        &upsert_clause(&["tenant_id", "kind"], &["channel", "address", "updated_at"]),
        changes.points,
    )?;
    Ok(())
}
