//! CSV imports of properties, tenants and ledger entries (columns fixed by
//! CONTRACT.md).
//!
//! - The body must be UTF-8 (a leading BOM is ignored) with a header row.
//!   Header names are matched case-insensitively after trimming; every
//!   contract column must be present (the tenants' trailing `status` column
//!   is optional); extra columns are ignored; a column named twice is an error.
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

use crate::records::audit;
use crate::base::db::{self, Db, Rows, Value};
use crate::base::error::Error;
use crate::records::ledger::EntryKind;
use crate::base::money;
use crate::base::normalize;
use crate::records::tenants::{ContactKind, TenantStatus};
use crate::base::time;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

/// Rows per write transaction.
pub const ROWS_PER_TX: usize = 2000;

/// Keys per `IN (...)` lookup.
const KEYS_PER_LOOKUP: usize = 400;

/// Which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// `property_id,name,time_zone,state,country`
    Properties,
    /// `tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id[,status]`
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
            ImportKind::Tenants => &["status"],
            _ => &[],
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

/// A parsed file: column positions and data records with their lines.
struct Table {
    /// Column name → index in each record.
    columns: HashMap<String, usize>,
    /// Number of header fields.
    width: usize,
    /// (line, record) for each non-blank data row.
    records: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    fn field<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.columns.get(column).and_then(|&i| record.get(i)).unwrap_or("").trim()
    }
}

fn read_table(kind: ImportKind, body: &[u8], report: &mut ImportReport) -> Result<Table, ImportError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let offset = e.valid_up_to();
        let line = 1 + body[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        ImportError::NotUtf8 { offset, line }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| ImportError::Header(format!("the header row cannot be read: {e}")))?.clone();
    let mut columns = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if columns.insert(name.clone(), i).is_some()
            && (kind.required_columns().contains(&name.as_str()) || kind.optional_columns().contains(&name.as_str()))
        {
            return Err(ImportError::Header(format!("column `{name}` appears twice in the header")));
        }
    }
    let missing: Vec<&str> =
        kind.required_columns().iter().copied().filter(|c| !columns.contains_key(*c)).collect();
    if !missing.is_empty() {
        return Err(ImportError::Header(format!(
            "the header is missing column(s) {}; a {} file needs: {}",
            missing.join(", "),
            kind.as_str(),
            kind.required_columns().join(",")
        )));
    }
    let width = headers.len();
    let mut records = Vec::new();
    let mut lines = LineCounter::new(text.as_bytes());
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                if let Some(reason) = width_problem(kind, &columns, width, &record) {
                    report.rejected.push(Rejection { line, reason });
                    continue;
                }
                records.push((line, record));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                report.rejected.push(Rejection { line, reason: format!("unreadable CSV row: {e}") });
            }
        }
    }
    Ok(Table { columns, width, records })
}

/// Why a record's field count does not fit the header, if it does not.
///
/// A row may stop early when the columns it leaves out are optional or not
/// read (the tenants file's trailing `status` then defaults to `active`),
/// and may end with empty fields past the header (a stray trailing comma);
/// anything else means the fields would land in the wrong columns.
fn width_problem(kind: ImportKind, columns: &HashMap<String, usize>, width: usize, record: &csv::StringRecord) -> Option<String> {
    let len = record.len();
    if len < width {
        let mut missing: Vec<&str> =
            kind.required_columns().iter().copied().filter(|c| columns.get(*c).is_some_and(|&i| i >= len)).collect();
        if missing.is_empty() {
            return None;
        }
        missing.sort_by_key(|c| columns.get(*c).copied().unwrap_or(usize::MAX));
        return Some(format!("row has {len} fields but the header has {width}: no {}", missing.join(", ")));
    }
    if record.iter().skip(width).any(|f| !f.trim().is_empty()) {
        return Some(format!("row has {len} fields but the header has {width}: the extra fields are not empty"));
    }
    None
}

/// Physical line numbers of records from their byte offsets.
///
/// The csv crate's own line count skips blank lines and miscounts CRLF files
/// (as Windows AR exports are), so the line is counted here: a record's
/// offset is where the reader resumed after the previous record, so line
/// breaks there (blank lines, the `\n` of a CRLF) are skipped to reach its
/// first byte; `\n`, `\r\n` and a lone `\r` each end one line. Offsets
/// only grow, so each byte is looked at once.
struct LineCounter<'t> {
    /// The whole body.
    text: &'t [u8],
    /// Bytes before this offset are counted.
    pos: usize,
    /// The line `pos` is on (1-based).
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t [u8]) -> Self {
        LineCounter { text, pos: 0, line: 1 }
    }

    /// The line of the first byte at or after `offset` that is not a line break.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        while self.pos < start {
            match self.text[self.pos] {
                b'\n' => self.line += 1,
                b'\r' if self.text.get(self.pos + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.line
    }
}

/// Collects every problem of one row.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn take<T>(&mut self, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    fn reason(&self) -> String {
        self.0.join("; ")
    }
}

/// Import one CSV file. Whole-file problems (encoding, header) return an
/// error and write nothing; row problems land in the report. Audited as
/// `import.<kind>` by `actor`.
pub fn import(
    db: &dyn Db,
    kind: ImportKind,
    body: &[u8],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let table = read_table(kind, body, &mut report)?;
    debug_assert!(table.width > 0);
    match kind {
        ImportKind::Properties => import_properties(db, &table, now, &mut report)?,
        ImportKind::Tenants => import_tenants(db, &table, now, &mut report)?,
        ImportKind::Ledger => import_ledger(db, &table, now, &mut report)?,
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

/// Run `sql_prefix` + `(?, ?, ...)` + `sql_suffix` over `keys` in slices,
/// concatenating the rows. `extra` parameters are appended to each slice.
fn select_in(db: &dyn Db, sql_prefix: &str, sql_suffix: &str, keys: &[&str]) -> Result<Rows, db::DbError> {
    let mut all = Rows::default();
    for slice in keys.chunks(KEYS_PER_LOOKUP) {
        let sql = format!("{sql_prefix}({}){sql_suffix}", db::placeholders(slice.len()));
        let params: Vec<Value> = slice.iter().map(|k| (*k).into()).collect();
        let rows = db.execute(&sql, &params)?;
        if all.columns.is_empty() {
            all.columns = rows.columns;
        }
        all.rows.extend(rows.rows);
    }
    Ok(all)
}

/// `INSERT INTO table (cols) VALUES (...), (...) <on_conflict>` over `rows`
/// in slices that respect [`db::MAX_PARAMS`]: new and changed rows of a
/// batch are written with a few statements, not one per row (each statement
/// crosses the wasm host boundary).
fn write_many(
    db: &dyn Db,
    table: &str,
    columns: &[&str],
    on_conflict: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), db::DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let per = (db::MAX_PARAMS / columns.len()).max(1);
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let slice: Vec<Vec<Value>> = iter.by_ref().take(per).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} {on_conflict}",
            columns.join(", "),
            db::row_placeholders(slice.len(), columns.len())
        );
        let params: Vec<Value> = slice.into_iter().flatten().collect();
        db.execute(&sql, &params)?;
    }
    Ok(())
}

/// `ON CONFLICT (key) DO UPDATE SET c = excluded.c, ...`: an upsert that
/// keeps `created_at` (and any column not named).
fn upsert_clause(key: &[&str], update: &[&str]) -> String {
    let sets: Vec<String> = update.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!("ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), sets.join(", "))
}

/// Delete rows by a two-column key, in slices.
fn delete_pairs(db: &dyn Db, table: &str, key: (&str, &str), pairs: Vec<(String, String)>) -> Result<(), db::DbError> {
    for slice in pairs.chunks(db::MAX_PARAMS / 2) {
        let sql = format!(
            "DELETE FROM {table} WHERE ({}, {}) IN (VALUES {})",
            key.0,
            key.1,
            db::row_placeholders(slice.len(), 2)
        );
        let params: Vec<Value> = slice.iter().flat_map(|(a, b)| [Value::from(a), Value::from(b)]).collect();
        db.execute(&sql, &params)?;
    }
    Ok(())
}

fn opt_value(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::Null, Value::from)
}

// ---------------------------------------------------------------- properties

#[derive(Debug, Clone, PartialEq)]
struct PropertyFields {
    name: String,
    time_zone: String,
    state: Option<String>,
    country: Option<String>,
}

fn import_properties(db: &dyn Db, t: &Table, now: DateTime<Utc>, report: &mut ImportReport) -> Result<(), ImportError> {
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
        match (id, name, tz, state, country) {
            (Some(id), Some(name), Some(tz), Some(state), Some(country)) if p.0.is_empty() => {
                if let Some(first) = seen.get(&id) {
                    report.rejected.push(Rejection {
                        line: *line,
                        reason: format!("duplicate property_id `{id}` (first on line {first})"),
                    });
                    continue;
                }
                seen.insert(id.clone(), *line);
                rows.push((*line, id, PropertyFields { name, time_zone: tz.name().to_owned(), state, country }));
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
                "SELECT property_id, name, time_zone, state, country FROM properties WHERE property_id IN ",
                "",
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
                    },
                );
            }
            let mut writes = Vec::new();
            for (_, id, f) in chunk {
                match current.get(id) {
                    None => report.created += 1,
                    Some(old) if old == f => {
                        report.unchanged += 1;
                        continue;
                    }
                    Some(_) => report.updated += 1,
                }
                writes.push(vec![
                    id.into(),
                    (&f.name).into(),
                    (&f.time_zone).into(),
                    opt_value(&f.state),
                    opt_value(&f.country),
                    (&stamp).into(),
                    (&stamp).into(),
                ]);
            }
            write_many(
                tx,
                "properties",
                &["property_id", "name", "time_zone", "state", "country", "created_at", "updated_at"],
                &upsert_clause(&["property_id"], &["name", "time_zone", "state", "country", "updated_at"]),
                writes,
            )?;
            Ok(())
        })?;
    }
    Ok(())
}

// ------------------------------------------------------------------- tenants

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
}

struct TenantRow {
    line: u64,
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
    match (tenant_id, property_id, name, unit, state, country, time_zone, group_id, status) {
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
        ) if p.0.is_empty() => Ok(TenantRow {
            line,
            tenant_id,
            fields: TenantFields { property_id, name, unit, state, country, time_zone, group_id, status },
            phones,
            emails,
        }),
        _ => Err(p.reason()),
    }
}

fn import_tenants(db: &dyn Db, t: &Table, now: DateTime<Utc>, report: &mut ImportReport) -> Result<(), ImportError> {
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
    if rows.is_empty() {
        return Ok(());
    }
    // Property countries, for phone numbers written without a country prefix.
    let mut property_ids: Vec<&str> = rows.iter().map(|r| r.fields.property_id.as_str()).collect();
    property_ids.sort_unstable();
    property_ids.dedup();
    let props = select_in(db, "SELECT property_id, country FROM properties WHERE property_id IN ", "", &property_ids)?;
    let mut property_country: HashMap<String, Option<String>> = HashMap::new();
    for r in props.iter() {
        property_country.insert(r.string("property_id")?, r.opt_string("country")?);
    }
    // Second pass: property must exist; phones normalise.
    let mut ready: Vec<(TenantRow, BTreeMap<ContactKind, String>)> = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(prop_country) = property_country.get(&row.fields.property_id) else {
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
    let stamp = time::timestamp(now);
    for chunk in ready.chunks(ROWS_PER_TX) {
        db::transaction(db, |tx| -> Result<(), ImportError> {
            let keys: Vec<&str> = chunk.iter().map(|(r, _)| r.tenant_id.as_str()).collect();
            let existing = select_in(
                tx,
                "SELECT tenant_id, property_id, name, unit, state, country, time_zone, group_id, status FROM tenants WHERE tenant_id IN ",
                "",
                &keys,
            )?;
            let mut current: HashMap<String, TenantFields> = HashMap::new();
            for r in existing.iter() {
                current.insert(
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
                    },
                );
            }
            let existing_points =
                select_in(tx, "SELECT tenant_id, kind, address FROM contact_points WHERE tenant_id IN ", "", &keys)?;
            let mut current_points: HashMap<String, BTreeMap<ContactKind, String>> = HashMap::new();
            for r in existing_points.iter() {
                let kind: ContactKind = r.str("kind")?.parse().map_err(Error::Corrupt)?;
                current_points.entry(r.string("tenant_id")?).or_default().insert(kind, r.string("address")?);
            }
            let mut tenant_writes = Vec::new();
            let mut point_writes = Vec::new();
            let mut point_deletes = Vec::new();
            let empty = BTreeMap::new();
            for (row, points) in chunk {
                let f = &row.fields;
                let id = &row.tenant_id;
                let old_points = match current.get(id) {
                    None => {
                        report.created += 1;
                        &empty
                    }
                    Some(old) => {
                        let old_points = current_points.get(id).unwrap_or(&empty);
                        if old == f && old_points == points {
                            report.unchanged += 1;
                            continue;
                        }
                        report.updated += 1;
                        old_points
                    }
                };
                // A changed contact point also marks the tenant updated.
                tenant_writes.push(vec![
                    id.into(),
                    (&f.property_id).into(),
                    (&f.name).into(),
                    opt_value(&f.unit),
                    opt_value(&f.state),
                    opt_value(&f.country),
                    opt_value(&f.time_zone),
                    opt_value(&f.group_id),
                    f.status.as_str().into(),
                    (&stamp).into(),
                    (&stamp).into(),
                ]);
                for kind in ContactKind::ALL {
                    match (old_points.get(&kind), points.get(&kind)) {
                        (None, None) => {}
                        (Some(a), Some(b)) if a == b => {}
                        (_, Some(b)) => point_writes.push(vec![
                            id.into(),
                            kind.as_str().into(),
                            kind.address_kind().as_str().into(),
                            b.into(),
                            (&stamp).into(),
                            (&stamp).into(),
                        ]),
                        (Some(_), None) => point_deletes.push((id.clone(), kind.as_str().to_owned())),
                    }
                }
            }
            // Tenants first: contact points refer to them.
            write_many(
                tx,
                "tenants",
                &[
                    "tenant_id",
                    "property_id",
                    "name",
                    "unit",
                    "state",
                    "country",
                    "time_zone",
                    "group_id",
                    "status",
                    "created_at",
                    "updated_at",
                ],
                &upsert_clause(
                    &["tenant_id"],
                    &["property_id", "name", "unit", "state", "country", "time_zone", "group_id", "status", "updated_at"],
                ),
                tenant_writes,
            )?;
            delete_pairs(tx, "contact_points", ("tenant_id", "kind"), point_deletes)?;
            write_many(
                tx,
                "contact_points",
                &["tenant_id", "kind", "channel", "address", "created_at", "updated_at"],
                &upsert_clause(&["tenant_id", "kind"], &["channel", "address", "updated_at"]),
                point_writes,
            )?;
            Ok(())
        })?;
    }
    Ok(())
}

// -------------------------------------------------------------------- ledger

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

fn import_ledger(db: &dyn Db, t: &Table, now: DateTime<Utc>, report: &mut ImportReport) -> Result<(), ImportError> {
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
            let known: HashSet<String> = select_in(tx, "SELECT tenant_id FROM tenants WHERE tenant_id IN ", "", &tenant_ids)?
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
                match current.get(&(row.tenant_id.clone(), row.reference.clone())) {
                    None => report.created += 1,
                    Some(old) if old == f => {
                        report.unchanged += 1;
                        continue;
                    }
                    Some(_) => report.updated += 1,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of the data records the reader reports, for each body.
    #[test]
    fn line_numbers_are_physical_lines() {
        let cases: &[(&str, &[u64])] = &[
            ("h\na\nb\n", &[2, 3]),
            ("h\na\n\nb\n", &[2, 4]),
            ("h\na\n\n\n\nb", &[2, 6]),
            ("h\r\na\r\n\r\nb\r\n", &[2, 4]),
            ("h\ra\r\rb", &[2, 4]),
            ("h\n\"a\nx\"\nb\n", &[2, 4]),
            ("h\r\n\"a\r\nx\r\ny\"\r\n\r\nb", &[2, 6]),
            ("\n\nh\na\n", &[4]),
        ];
        for (text, want) in cases {
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
            let mut lines = LineCounter::new(text.as_bytes());
            let got: Vec<u64> = reader
                .records()
                .map(|r| lines.line_at(r.unwrap().position().unwrap().byte()))
                .collect();
            assert_eq!(&got, want, "{text:?}");
        }
    }
}
