//! The manual call list: overdue tenants due for a call by the
//! notice schedule, oldest debt first (days past due, then balance), each
//! with the compliance decision for a manual call right now: callable, or
//! the rules that object and when the tenant becomes callable.
//!
//! Who is on it: the tenants the overdue scan would consider (owing at
//! least the schedule's minimum, with a stage due in their local date),
//! with status `active` or `stop` (stop-file tenants cannot pay online, so a
//! call is how they pay). Tenants moved out are not called. A tenant whose
//! notices are paused by a promise to pay is listed as not callable until
//! the promised date (the promise is the reason).
//!
//! Cost: one statement reads the page of the overdue set (through the
//! balance summary's partial index), one the page's recent calls; then one
//! compliance decision per listed tenant, so a page is bounded by `limit`.

use crate::staff::calls;
use crate::base::channel::Channel;
use crate::compliance::{store, CheckError, CheckRequest, ComplianceCheck, Decision, Reason, Verdict};
use crate::base::db::{self, Db, Value};
use crate::base::error::{Error, Result};
use crate::notices::schedule;
use crate::base::time;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::str::FromStr;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct CallListQuery<'a> {
    /// Only this property's tenants.
    pub property_id: Option<&'a str>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
    /// Only tenants of properties the caller may see.
    pub scope: crate::records::scope::Scope,
}

/// One tenant on the call list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallListEntry {
    /// AR id.
    pub tenant_id: String,
    /// Full name, as the person calling asks for them.
    pub name: String,
    /// Unit label, when the property has units.
    pub unit: Option<String>,
    pub property_id: String,
    pub property_name: Option<String>,
    /// `active` or `stop`.
    pub status: String,
    /// Balance owed, cents.
    pub balance_cents: i64,
    /// Days past due as the schedule counts them (tenant's local date).
    pub days_past_due: i64,
    /// Due date of the oldest unpaid charge.
    pub oldest_unpaid_due_date: String,
    /// The notice stage due.
    pub stage: i64,
    /// The number a call would go to (E.164), when the tenant has one.
    pub phone: Option<String>,
    /// The tenant's local time zone.
    pub time_zone: Option<String>,
    /// True when the rules allow a manual call right now.
    pub callable: bool,
    /// `allow`, `block` or `defer` for a manual call now.
    pub decision: String,
    /// Why not (every rule that objects), or a promise pending.
    pub reasons: Vec<Reason>,
    /// When the tenant becomes callable (deferred, or promised), if known.
    pub callable_at: Option<String>,
    /// Near-limit warnings (this would be the last call a limit allows).
    pub warnings: Vec<Reason>,
    /// Calls counted as attempts in the last 7 days.
    pub attempts_7d: i64,
    /// The latest right-party contact in the last 30 days.
    pub last_rpc_at: Option<String>,
    /// The latest call of any result in the last 30 days.
    pub last_call_at: Option<String>,
    /// Notices paused until (a promise to pay), when paused.
    pub paused_until: Option<String>,
}

/// A page of the call list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallList {
    /// When the decisions were made.
    pub as_of: String,
    /// Tenants on the list (all pages).
    pub total: i64,
    /// Of this page, how many may be called now.
    pub callable: i64,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
    /// The page, oldest debt first.
    pub items: Vec<CallListEntry>,
}

/// The overdue set with the tenant and property columns the list shows.
/// ?1 minimum balance, ?2 latest oldest-unpaid due date with a stage due,
/// ?3 now, ?4 property filter (NULL = all), ?5 1 when the schedule restarts
/// the count after any payment; the page's LIMIT / OFFSET follow.
const LIST_SQL: &str = "SELECT b.tenant_id, b.balance_cents, b.oldest_unpaid_due_date, b.last_payment_date,
        b.tenant_zone, b.property_zone, b.tenant_status,
        t.name, t.unit, t.property_id, p.name AS property_name, np.paused_until, np.reason AS pause_reason,
        count(*) OVER () AS total
    FROM tenant_balances b
    JOIN tenants t ON t.tenant_id = b.tenant_id
    LEFT JOIN properties p ON p.property_id = t.property_id
    LEFT JOIN notice_pauses np ON np.tenant_id = b.tenant_id AND np.paused_until > ?3
    WHERE b.balance_cents > 0 AND b.oldest_unpaid_due_date <= ?2 AND b.balance_cents >= ?1
      AND b.tenant_status IN ('active', 'stop')
      AND (?4 IS NULL OR t.property_id = ?4)
    ORDER BY CASE WHEN ?5 = 1 AND b.last_payment_date >= b.oldest_unpaid_due_date
                  THEN b.last_payment_date ELSE b.oldest_unpaid_due_date END ASC,
             b.balance_cents DESC, b.tenant_id ASC";

/// One recent call: when, and its result code.
type PastCall = (DateTime<Utc>, Option<i64>);

fn zone(name: Option<&str>) -> Option<Tz> {
    name.and_then(|n| Tz::from_str(n).ok())
}

/// Build a page of the call list at `now`, asking `checker` about a manual
/// call to each listed tenant.
pub fn build(db: &dyn Db, checker: &dyn ComplianceCheck, q: &CallListQuery<'_>, now: DateTime<Utc>) -> Result<CallList> {
    let schedule = schedule::load(db)?;
    let latest_today = now.date_naive() + Duration::days(1);
    let cutoff = latest_today - Duration::days(schedule.first_days());
    let (in_scope, scope_params) = q.scope.and_property_in_numbered("t.property_id", 6);
    let sql = LIST_SQL.replacen("\n    ORDER BY", &format!("{in_scope}\n    ORDER BY"), 1);
    let mut params: Vec<crate::base::db::Value> = vec![
        schedule.spec.min_balance_cents.into(),
        time::date_string(cutoff).into(),
        time::timestamp(now).into(),
        q.property_id.into(),
        i64::from(schedule.spec.reset_after_any_payment).into(),
    ];
    params.extend(scope_params);
    let rows = db.execute(&format!("{sql}\n    {}", db::limit_clause(q.limit, Some(q.offset))), &params)?;
    let total = rows.first().map(|r| r.i64("total")).transpose()?.unwrap_or(0);

    // The page's calls of the last 30 days, in one read.
    let ids: Vec<String> = rows.iter().map(|r| r.string("tenant_id")).collect::<Result<_, _>>()?;
    let mut history: HashMap<String, Vec<PastCall>> = HashMap::new();
    if !ids.is_empty() {
        let mut params: Vec<Value> = ids.iter().map(Value::from).collect();
        params.push(time::timestamp(now - Duration::days(30)).into());
        let calls = db.execute(
            &format!(
                "SELECT tenant_id, at, call_result FROM contact_log
                 WHERE tenant_id IN ({}) AND channel = 'phone' AND direction = 'outbound' AND at >= ?
                   AND status NOT IN ('failed', 'canceled', 'cancelled', 'blocked', 'rejected', 'deferred', 'skipped')",
                db::placeholders(ids.len())
            ),
            &params,
        )?;
        for c in calls.iter() {
            let at = time::parse_timestamp(c.str("at")?).ok_or_else(|| Error::Corrupt("contact time".into()))?;
            history.entry(c.string("tenant_id")?).or_default().push((at, c.opt_i64("call_result")?));
        }
    }
    let rules = store::all_rules(db)?;
    let regions = tenant_regions(db, &ids)?;

    let mut items = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let tenant_id = r.string("tenant_id")?;
        let property_zone = zone(r.opt_str("property_zone")?);
        let tz = zone(r.opt_str("tenant_zone")?).or(property_zone);
        let oldest = time::parse_date(r.str("oldest_unpaid_due_date")?).map_err(Error::Corrupt)?;
        let last_payment = r.opt_str("last_payment_date")?.map(time::parse_date).transpose().map_err(Error::Corrupt)?;
        let today = time::local_date(now, tz.unwrap_or(chrono_tz::UTC));
        let standing = schedule.standing(oldest, last_payment, today);
        // A payment restarted the count: no stage due yet, not on the list.
        let Some(stage) = schedule.due_stage(standing.days_past_due) else { continue };
        let request = CheckRequest { tenant_id: tenant_id.clone(), channel: Channel::Phone, address: None, at: now, manual: true };
        let decision = match checker.check(&request) {
            Ok(d) => d,
            // Gone since the list was read.
            Err(CheckError::UnknownTenant(_)) => continue,
            // No decision for this tenant: not callable (fail closed), and
            // the rest of the list still shows.
            Err(e) => Decision {
                verdict: Verdict::Block,
                reasons: vec![Reason { rule: "compliance.unavailable".into(), detail: format!("no compliance decision could be made: {e}") }],
                defer_until: None,
                near_limit: false,
                warnings: Vec::new(),
                address: None,
            },
        };
        let mut reasons = decision.reasons.clone();
        let mut callable_at = decision.defer_until;
        let paused_until = r.opt_string("paused_until")?;
        if let Some(until) = paused_until.as_deref() {
            reasons.push(Reason {
                rule: "promise_to_pay".into(),
                detail: format!(
                    "a promise to pay is pending ({}); no collection call until {until}",
                    r.opt_str("pause_reason")?.unwrap_or("promise")
                ),
            });
            let until_t = time::parse_timestamp(until).ok_or_else(|| Error::Corrupt("pause time".into()))?;
            callable_at = match (decision.verdict, callable_at) {
                (Verdict::Block, _) => None,
                (_, Some(t)) => Some(t.max(until_t)),
                (_, None) => Some(until_t),
            };
        }
        let callable = decision.verdict == Verdict::Allow && paused_until.is_none();
        let (state, country) = regions.get(&tenant_id).cloned().unwrap_or((None, crate::base::normalize::DEFAULT_COUNTRY.into()));
        let mut attempts_7d = 0;
        let mut last_rpc: Option<DateTime<Utc>> = None;
        let mut last_call: Option<DateTime<Utc>> = None;
        for (at, code) in history.get(&tenant_id).into_iter().flatten() {
            let class = match code {
                Some(c) => calls::classify(&rules, state.as_deref(), &country, *c),
                None => calls::Classification { attempt: true, right_party_contact: false },
            };
            if class.attempt && *at >= now - Duration::days(7) {
                attempts_7d += 1;
            }
            if class.right_party_contact {
                last_rpc = last_rpc.max(Some(*at));
            }
            last_call = last_call.max(Some(*at));
        }
        items.push(CallListEntry {
            tenant_id,
            name: r.string("name")?,
            unit: r.opt_string("unit")?,
            property_id: r.string("property_id")?,
            property_name: r.opt_string("property_name")?,
            status: r.string("tenant_status")?,
            balance_cents: r.i64("balance_cents")?,
            days_past_due: standing.days_past_due,
            oldest_unpaid_due_date: time::date_string(oldest),
            stage: stage.stage,
            phone: decision.address.clone(),
            time_zone: tz.map(|z| z.name().to_owned()),
            callable,
            decision: if paused_until.is_some() && decision.verdict == Verdict::Allow {
                Verdict::Defer.as_str().to_owned()
            } else {
                decision.verdict.as_str().to_owned()
            },
            reasons,
            callable_at: if callable { None } else { callable_at.map(time::timestamp) },
            warnings: decision.warnings,
            attempts_7d,
            last_rpc_at: last_rpc.map(time::timestamp),
            last_call_at: last_call.map(time::timestamp),
            paused_until,
        });
    }
    // Exact local day counts can reorder neighbours the SQL sorted by date.
    items.sort_by(|a, b| {
        b.days_past_due.cmp(&a.days_past_due).then(b.balance_cents.cmp(&a.balance_cents)).then(a.tenant_id.cmp(&b.tenant_id))
    });
    Ok(CallList {
        as_of: time::timestamp(now),
        total,
        callable: items.iter().filter(|i| i.callable).count() as i64,
        limit: q.limit,
        offset: q.offset,
        items,
    })
}

/// Effective state and country of each tenant (own, else the property's).
fn tenant_regions(db: &dyn Db, ids: &[String]) -> Result<HashMap<String, (Option<String>, String)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let params: Vec<Value> = ids.iter().map(Value::from).collect();
    let rows = db.execute(
        &format!(
            "SELECT t.tenant_id, coalesce(t.state, p.state) AS state, coalesce(t.country, p.country) AS country
             FROM tenants t LEFT JOIN properties p ON p.property_id = t.property_id WHERE t.tenant_id IN ({})",
            db::placeholders(ids.len())
        ),
        &params,
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.string("tenant_id")?,
                (r.opt_string("state")?, r.opt_string("country")?.unwrap_or_else(|| crate::base::normalize::DEFAULT_COUNTRY.into())),
            ))
        })
        .collect()
}
