//! The start page's figures: what a collector's day holds, each with the
//! rows behind it (the first [`ITEMS`]) and, where the API has one, the
//! listing route that shows them all.
//!
//! "Today" is a calendar day in one zone: the `zone` the caller names
//! (IANA), else the first property's (by id), else UTC. Broken promises
//! count from the start of yesterday in that zone. Things that need a
//! person are not tied to a day: rows left `unknown` (a crash between the
//! provider call and its answer), numbers the carrier reported unusable,
//! and sends the provider refused in the last 7 days.

use crate::base::db::{Db, Value};
use crate::base::error::{Error, Result};
use crate::base::time;
use crate::compliance::ComplianceCheck;
use crate::notices::promises;
use crate::records::scope::Scope;
use crate::staff::call_list::{self, CallListQuery};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::str::FromStr;

/// Rows returned behind each figure.
pub const ITEMS: i64 = 50;
/// Callable tenants counted at most; past it (or past the call list's
/// decision bound) the figure says "at least".
pub const CALL_LIST_ROWS: i64 = 500;

/// One row behind a figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Item {
    /// The tenant, when the row has one.
    pub tenant_id: Option<String>,
    /// What to show.
    pub label: String,
    /// When (RFC 3339 UTC), if it has a moment.
    pub at: Option<String>,
    /// The tenant's zone, for showing `at`.
    pub time_zone: Option<String>,
}

/// One figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figure {
    /// Stable key (`callable_now`, `replies_waiting`...).
    pub key: &'static str,
    /// Words for it.
    pub label: &'static str,
    /// How many.
    pub count: i64,
    /// True when `count` is a lower bound: counting stopped at a bound and
    /// more may follow.
    pub at_least: bool,
    /// The first rows behind it.
    pub items: Vec<Item>,
    /// The API listing that shows them all, when there is one.
    pub list: Option<String>,
}

/// The start page.
#[derive(Debug, Clone, Serialize)]
pub struct Today {
    /// The zone "today" is in.
    pub zone: String,
    /// The local date.
    pub date: String,
    /// Its start and end (UTC).
    pub from: String,
    /// End (exclusive).
    pub to: String,
    /// When the figures were read.
    pub as_of: String,
    /// The figures, in page order.
    pub figures: Vec<Figure>,
}

/// The zone to use: `asked`, else the first property's, else UTC.
pub fn zone(db: &dyn Db, asked: Option<&str>) -> Result<Tz> {
    if let Some(z) = asked.filter(|z| !z.is_empty()) {
        return Tz::from_str(z).map_err(|_| Error::Invalid(format!("zone `{z}` is not an IANA time zone")));
    }
    let rows = db.execute("SELECT time_zone FROM properties ORDER BY property_id LIMIT 1", &[])?;
    Ok(rows.first().map(|r| r.opt_string("time_zone")).transpose()?.flatten().and_then(|z| Tz::from_str(&z).ok()).unwrap_or(chrono_tz::UTC))
}

fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    time::from_local(midnight, tz).earliest().unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// Count and the first rows of a query returning tenant_id, label, at, zone.
fn figure(db: &dyn Db, key: &'static str, label: &'static str, sql: &str, params: &[Value], list: Option<String>) -> Result<Figure> {
    let count = db.execute(&format!("SELECT count(*) AS n FROM ({sql})"), params)?.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    let rows = db.execute(&format!("{sql} LIMIT {ITEMS}"), params)?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(Item {
                tenant_id: r.opt_string("tenant_id")?,
                label: r.opt_string("label")?.unwrap_or_default(),
                at: r.opt_string("at")?,
                time_zone: r.opt_string("zone")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Figure { key, label, count, at_least: false, items, list })
}

/// The tenant's zone and name columns for `alias.tenant_id`.
const TENANT_COLS: &str = "(SELECT coalesce(t.time_zone, p.time_zone) FROM tenants t LEFT JOIN properties p ON p.property_id = t.property_id WHERE t.tenant_id = x.tenant_id) AS zone";

/// Every figure at `now`, in `tz`, within `scope`.
pub fn build(db: &dyn Db, checker: &dyn ComplianceCheck, scope: &Scope, tz: Tz, now: DateTime<Utc>) -> Result<Today> {
    let date = time::local_date(now, tz);
    let from = start_of(date, tz);
    let to = start_of(date + Duration::days(1), tz);
    let yesterday = start_of(date - Duration::days(1), tz);
    let (f, t, y) = (time::timestamp(from), time::timestamp(to), time::timestamp(yesterday));
    let (in_scope, scope_params) = scope.and_tenant_in("x.tenant_id");
    let with = |mut p: Vec<Value>| {
        p.extend(scope_params.iter().cloned());
        p
    };
    let mut figures = Vec::new();

    let query = CallListQuery { callable: true, limit: CALL_LIST_ROWS, scope: scope.clone(), ..Default::default() };
    let list = call_list::build(db, checker, &query, now)?;
    figures.push(Figure {
        key: "callable_now",
        label: "Tenants callable now",
        count: list.items.len() as i64,
        // A next page means callable tenants may be past what was counted.
        at_least: list.next.is_some(),
        items: list
            .items
            .iter()
            .take(ITEMS as usize)
            .map(|i| Item { tenant_id: Some(i.tenant_id.clone()), label: i.name.clone(), at: None, time_zone: i.time_zone.clone() })
            .collect(),
        list: Some("/api/call-list?callable=true".into()),
    });

    let (inbox_scope, inbox_params) = scope.and_tenant_in("j.value");
    let inbox_filter = if inbox_scope.is_empty() { String::new() } else { format!(" AND EXISTS (SELECT 1 FROM json_each(x.tenant_ids) j WHERE true{inbox_scope})") };
    figures.push(figure(
        db,
        "replies_waiting",
        "Replies waiting",
        &format!(
            "SELECT (SELECT value FROM json_each(x.tenant_ids) LIMIT 1) AS tenant_id, x.body AS label, x.received_at AS at,
                    (SELECT coalesce(t.time_zone, p.time_zone) FROM tenants t LEFT JOIN properties p ON p.property_id = t.property_id
                     WHERE t.tenant_id = (SELECT value FROM json_each(x.tenant_ids) LIMIT 1)) AS zone
             FROM inbound_messages x WHERE x.in_inbox = 1 AND x.handled_at IS NULL{inbox_filter} ORDER BY x.id"
        ),
        &inbox_params,
        Some("/api/inbox?status=open".into()),
    )?);
    let due = promises::due_today(db, now, &in_scope, scope_params.clone())?;
    figures.push(Figure {
        key: "promises_due_today",
        label: "Promises due today",
        count: due.len() as i64,
        at_least: false,
        items: due
            .into_iter()
            .take(ITEMS as usize)
            .map(|d| Item { tenant_id: Some(d.tenant_id), label: d.promised_date, at: Some(d.due_at), time_zone: Some(d.time_zone) })
            .collect(),
        list: None,
    });
    figures.push(figure(
        db,
        "promises_broken",
        "Promises broken since yesterday",
        &format!("SELECT x.tenant_id, x.promised_date AS label, x.resolved_at AS at, {TENANT_COLS} FROM promises x WHERE x.status = 'broken' AND x.resolved_at >= ?{in_scope} ORDER BY x.id"),
        &with(vec![y.as_str().into()]),
        None,
    )?);
    let sent_today = format!("x.state = 'sent' AND x.sent_at >= ? AND x.sent_at < ?{in_scope}");
    figures.push(figure(
        db,
        "sent_today",
        "Messages sent today",
        &format!("SELECT x.tenant_id, x.kind || ' ' || x.channel AS label, x.sent_at AS at, {TENANT_COLS} FROM outbox x WHERE {sent_today} ORDER BY x.id"),
        &with(vec![f.as_str().into(), t.as_str().into()]),
        Some("/api/outbox?state=sent".into()),
    )?);
    figures.push(figure(
        db,
        "delivered_today",
        "Delivered today",
        &format!(
            "SELECT x.tenant_id, x.kind || ' ' || x.channel AS label, x.sent_at AS at, {TENANT_COLS} FROM outbox x
             JOIN contact_log c ON c.id = x.contact_log_id WHERE {sent_today} AND c.status = 'delivered' ORDER BY x.id"
        ),
        &with(vec![f.as_str().into(), t.as_str().into()]),
        None,
    )?);
    figures.push(figure(
        db,
        "failed_today",
        "Failed today",
        &format!("SELECT x.tenant_id, coalesce(x.state_reason, 'failed') AS label, x.updated_at AS at, {TENANT_COLS} FROM outbox x WHERE x.state = 'failed' AND x.updated_at >= ? AND x.updated_at < ?{in_scope} ORDER BY x.id"),
        &with(vec![f.as_str().into(), t.as_str().into()]),
        Some("/api/outbox?state=failed".into()),
    )?);
    // A STOP is per number; the tenants who have that number are shown.
    figures.push(figure(
        db,
        "opt_outs_today",
        "Opt-outs today",
        &format!(
            "SELECT x.tenant_id, coalesce(e.reason, 'opted out') AS label, e.set_at AS at, {TENANT_COLS}
             FROM exclusions e JOIN contact_points x ON x.address = e.address
             WHERE e.kind = 'number_by_customer' AND e.set_at >= ? AND e.set_at < ?{in_scope} ORDER BY e.id"
        ),
        &with(vec![f.as_str().into(), t.as_str().into()]),
        None,
    )?);
    figures.push(figure(
        db,
        "unknown",
        "Messages that may or may not have gone (need a person)",
        &format!("SELECT x.tenant_id, coalesce(x.state_reason, 'unknown') AS label, x.updated_at AS at, {TENANT_COLS} FROM outbox x WHERE x.state = 'unknown'{in_scope} ORDER BY x.id"),
        &with(vec![]),
        Some("/api/outbox?state=unknown".into()),
    )?);
    figures.push(figure(
        db,
        "unusable_numbers",
        "Numbers the carrier reported unusable",
        &format!(
            "SELECT x.tenant_id, 'error ' || s.error_code AS label, s.set_at AS at, {TENANT_COLS}
             FROM sms_number_states s JOIN contact_points x ON x.address = s.address WHERE s.state = 'invalid'{in_scope} ORDER BY s.set_at"
        ),
        &with(vec![]),
        None,
    )?);
    figures.push(figure(
        db,
        "provider_refused",
        "Sends the provider refused (7 days)",
        &format!("SELECT x.tenant_id, x.state_reason AS label, x.updated_at AS at, {TENANT_COLS} FROM outbox x WHERE x.state = 'failed' AND x.state_reason LIKE 'the provider refused%' AND x.updated_at >= ?{in_scope} ORDER BY x.id"),
        &with(vec![time::timestamp(now - Duration::days(7)).into()]),
        Some("/api/outbox?state=failed".into()),
    )?);
    Ok(Today { zone: tz.name().to_owned(), date: time::date_string(date), from: f, to: t, as_of: time::timestamp(now), figures })
}
