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
//! The `total` over the whole portfolio adds up the overdue tenants per
//! debt date (`overdue_counts`, kept by triggers) instead of counting them;
//! a property's or a scope's total counts that property's overdue tenants.

use crate::staff::calls;
use crate::base::channel::Channel;
use crate::compliance::{store, CheckError, CheckRequest, ComplianceCheck, Decision, Reason, Verdict};
use crate::base::db::{self, Db, Value};
use crate::base::error::{Error, Result};
use crate::notices::{promises, schedule};
use crate::base::time;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::str::FromStr;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Most compliance decisions one request makes. The `callable` filter
/// keeps reading until its page is full; on a long list where few are
/// callable it stops here and says so ([`CallList::stopped_at_bound`]).
pub const MAX_DECISIONS: i64 = 1000;
/// Rows read at a time when a filter leaves rows out.
const BATCH: i64 = 100;

/// A position in the list's order (oldest debt first, then balance, then
/// tenant id): the page after a cursor starts just past that tenant.
/// Written `<debt date>.<balance cents>.<tenant id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The date the days past due count from.
    pub debt_date: String,
    pub balance_cents: i64,
    pub tenant_id: String,
}

impl Cursor {
    /// Read a cursor a page gave as `next`.
    pub fn parse(s: &str) -> Result<Cursor> {
        let bad = || Error::Invalid("after must be a cursor from a call-list page's `next`".into());
        let mut parts = s.splitn(3, '.');
        let (Some(date), Some(balance), Some(tenant)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        time::parse_date(date).map_err(|_| bad())?;
        let balance_cents = balance.parse::<i64>().map_err(|_| bad())?;
        if tenant.is_empty() {
            return Err(bad());
        }
        Ok(Cursor { debt_date: date.to_owned(), balance_cents, tenant_id: tenant.to_owned() })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.debt_date, self.balance_cents, self.tenant_id)
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct CallListQuery<'a> {
    /// Only this property's tenants.
    pub property_id: Option<&'a str>,
    /// Only tenants with this notice stage due.
    pub stage: Option<i64>,
    /// Only tenants callable now.
    pub callable: bool,
    /// Page size.
    pub limit: i64,
    /// Tenants to skip (of the list before the `callable` filter; with
    /// `after`, past the cursor).
    pub offset: i64,
    /// Start just past this position.
    pub after: Option<Cursor>,
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
    /// The tenant's promise to pay that falls due today (their local date).
    pub promise_due_today: Option<promises::DueToday>,
}

/// A page of the call list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallList {
    /// When the decisions were made.
    pub as_of: String,
    /// Tenants on the list (all pages) with the property and stage filters;
    /// the `callable` filter is not counted here, since it takes a
    /// compliance decision per tenant.
    pub total: i64,
    /// Of this page, how many may be called now.
    pub callable: i64,
    /// Page size.
    pub limit: i64,
    /// Tenants skipped.
    pub offset: i64,
    /// The page, oldest debt first.
    pub items: Vec<CallListEntry>,
    /// Cursor of the page after this one (`after=`); None at the end.
    pub next: Option<String>,
    /// True when the `callable` filter made [`MAX_DECISIONS`] decisions
    /// without filling the page: more callable tenants may follow `next`.
    pub stopped_at_bound: bool,
}

/// The date the days past due count from: the oldest unpaid due date, or
/// the latest payment when the schedule restarts the count after one (?5).
const DEBT_DATE: &str = "(CASE WHEN ?5 = 1 AND b.last_payment_date >= b.oldest_unpaid_due_date
                  THEN b.last_payment_date ELSE b.oldest_unpaid_due_date END)";

/// The overdue set in list order, from the balance summary alone (its
/// overdue index holds every column read here): ?1 minimum balance, ?2 latest
/// oldest-unpaid due date with a stage due, ?4 property filter (NULL =
/// all), ?5 1 when the schedule restarts the count after any payment, ?6 /
/// ?7 the debt dates wanted (after ?6 if set, up to ?7), ?8-?10 the cursor
/// (NULL = from the start); scope from ?11. PAGE is the page's LIMIT;
/// IN_ORDER names the index that gives the order, when one does.
const CANDIDATES_SQL: &str = "SELECT b.tenant_id, b.balance_cents, b.oldest_unpaid_due_date, b.last_payment_date,
        b.tenant_zone, b.property_zone, b.tenant_status, DEBT AS debt_date
    FROM tenant_balances b IN_ORDER
    WHERE WANTED
    ORDER BY DEBT ASC, -b.balance_cents ASC, b.tenant_id ASC PAGE";

/// A page of [`CANDIDATES_SQL`] with the tenant and property columns the
/// list shows; ?3 is now. Joined after the page is cut, so a page reads
/// its own tenants, not every overdue one.
const LIST_SQL: &str = "SELECT b.tenant_id, b.balance_cents, b.oldest_unpaid_due_date, b.last_payment_date,
        b.tenant_zone, b.property_zone, b.tenant_status, b.debt_date,
        t.name, t.unit, t.property_id, p.name AS property_name, np.paused_until, np.reason AS pause_reason
    FROM (CANDIDATES) b
    JOIN tenants t ON t.tenant_id = b.tenant_id
    LEFT JOIN properties p ON p.property_id = t.property_id
    LEFT JOIN notice_pauses np ON np.tenant_id = b.tenant_id AND np.paused_until > ?3
    ORDER BY b.debt_date ASC, b.balance_cents DESC, b.tenant_id ASC";

/// Who the list's statements consider (the [`CANDIDATES_SQL`] parameters).
const WANTED: &str = "b.balance_cents > 0 AND b.oldest_unpaid_due_date <= ?2 AND b.balance_cents >= ?1
      AND b.tenant_status IN ('active', 'stop')
      AND (?4 IS NULL OR b.tenant_id IN (SELECT pt.tenant_id FROM tenants pt WHERE pt.property_id = ?4))
      AND DEBT > coalesce(?6, '') AND DEBT <= ?7
      AND (?8 IS NULL OR (DEBT, -b.balance_cents, b.tenant_id) > (?8, -?9, ?10))";

/// The count of [`WANTED`] for the whole portfolio when the debt date is
/// the oldest unpaid due date: the overdue tenants per debt date and status
/// (`overdue_counts`, kept by triggers) in the dates wanted, less those
/// owing under the minimum, found by seeking the overdue index at each of
/// those dates (a subquery per date: as a join, the planner scanned the
/// dates' whole range of the index instead). Its cost follows the number
/// of debt dates and of tenants owing under the minimum, not the overdue set.
/// Parameters as WANTED's ?1, ?2, ?6 and ?7: the minimum balance, the
/// latest debt date with a stage due, the debt dates wanted (after ?3 if
/// set, up to ?4).
const SURE_FROM_COUNTS: &str = "SELECT coalesce(sum(c.n - (
        SELECT count(*) FROM tenant_balances b INDEXED BY tenant_balances_overdue
        WHERE b.oldest_unpaid_due_date = c.debt_date AND b.balance_cents > 0 AND b.balance_cents < ?1
          AND b.tenant_status = c.tenant_status)), 0) AS n
    FROM overdue_counts c
    WHERE c.tenant_status IN ('active', 'stop') AND c.debt_date <= ?2 AND c.debt_date > coalesce(?3, '') AND c.debt_date <= ?4";

/// One recent call: when, and its result code.
type PastCall = (DateTime<Utc>, Option<i64>);

fn zone(name: Option<&str>) -> Option<Tz> {
    name.and_then(|n| Tz::from_str(n).ok())
}

/// The statements' shared parts for one request.
struct Reader<'q> {
    schedule: schedule::Schedule,
    q: &'q CallListQuery<'q>,
    now: DateTime<Utc>,
    /// Days past due the stage filter wants: `lo..hi` (hi None: no end).
    days: (i64, Option<i64>),
    scope: (String, Vec<Value>),
}

impl Reader<'_> {
    /// `select` with the wanted tenants (and, in LIST_SQL, the page cut
    /// at `page`, a LIMIT clause or nothing) filled in.
    fn sql(&self, select: &str, page: &str) -> String {
        let wanted = format!("{WANTED}{}", self.scope.0);
        // Without the restart the debt date is the column itself, and the
        // list's order is an index's (`tenant_balances_call_order`): a page
        // reads its own rows instead of sorting the whole overdue set.
        let (debt, in_order) = if self.schedule.spec.reset_after_any_payment {
            (DEBT_DATE, "")
        } else {
            ("b.oldest_unpaid_due_date", "INDEXED BY tenant_balances_call_order")
        };
        select
            .replace("CANDIDATES", CANDIDATES_SQL)
            .replace("IN_ORDER", in_order)
            .replace("PAGE", page)
            .replace("WANTED", &wanted)
            .replace("DEBT", debt)
    }

    /// Parameters for debt dates after `after` (exclusive) up to `upto`.
    fn params(&self, after: Option<NaiveDate>, upto: NaiveDate, cursor: Option<&Cursor>) -> Vec<Value> {
        let mut p: Vec<Value> = vec![
            self.schedule.spec.min_balance_cents.into(),
            time::date_string(self.latest()).into(),
            time::timestamp(self.now).into(),
            self.q.property_id.into(),
            i64::from(self.schedule.spec.reset_after_any_payment).into(),
            after.map(time::date_string).into(),
            time::date_string(upto).into(),
            cursor.map(|c| c.debt_date.as_str()).into(),
            cursor.map(|c| c.balance_cents).into(),
            cursor.map(|c| c.tenant_id.as_str()).into(),
        ];
        p.extend(self.scope.1.iter().cloned());
        p
    }

    /// The latest oldest-unpaid due date with a stage due in some zone.
    fn latest(&self) -> NaiveDate {
        self.now.date_naive() + Duration::days(1) - Duration::days(self.schedule.first_days())
    }

    /// Debt dates some tenant could have the wanted days past due with:
    /// every zone's date is within a day of the UTC date.
    fn possible(&self) -> (Option<NaiveDate>, NaiveDate) {
        let utc = self.now.date_naive();
        (self.days.1.map(|hi| utc - Duration::days(1) - Duration::days(hi)), utc + Duration::days(1) - Duration::days(self.days.0))
    }

    /// Debt dates every tenant has the wanted days past due with, whatever its zone.
    fn certain(&self) -> (Option<NaiveDate>, NaiveDate) {
        let utc = self.now.date_naive();
        (self.days.1.map(|hi| utc + Duration::days(1) - Duration::days(hi)), utc - Duration::days(1) - Duration::days(self.days.0))
    }

    /// The tenant's standing and stage due when it is on the wanted list.
    fn on_list(&self, r: &db::Row<'_>) -> Result<Option<(schedule::Standing, i64, Option<Tz>)>> {
        let tz = zone(r.opt_str("tenant_zone")?).or(zone(r.opt_str("property_zone")?));
        let oldest = time::parse_date(r.str("oldest_unpaid_due_date")?).map_err(Error::Corrupt)?;
        let last_payment = r.opt_str("last_payment_date")?.map(time::parse_date).transpose().map_err(Error::Corrupt)?;
        let today = time::local_date(self.now, tz.unwrap_or(chrono_tz::UTC));
        let standing = self.schedule.standing(oldest, last_payment, today);
        // A payment restarted the count: no stage due yet, not on the list.
        let Some(stage) = self.schedule.due_stage(standing.days_past_due) else { return Ok(None) };
        if self.q.stage.is_some_and(|s| s != stage.stage) {
            return Ok(None);
        }
        let stage = stage.stage;
        Ok(Some((standing, stage, tz)))
    }

    /// Does the count cover every tenant, by oldest unpaid due date? Then
    /// the per-date counts answer it ([`SURE_FROM_COUNTS`]); a property or
    /// a scope is counted over its own tenants.
    fn whole_portfolio(&self) -> bool {
        !self.schedule.spec.reset_after_any_payment && self.q.property_id.is_none() && self.scope.0.is_empty()
    }

    /// Tenants on the wanted list: those whose debt date puts them on it in
    /// any zone, counted by the database, and those near the edges, whose
    /// zone decides, counted one by one.
    fn total(&self, db: &dyn Db) -> Result<i64> {
        let (after, upto) = self.certain();
        let (p_after, p_upto) = self.possible();
        let (sure, bands) = if after.is_some_and(|a| a >= upto) {
            // A stage a day or two long: no date is certain.
            (0, vec![(p_after, p_upto)])
        } else {
            let sure = if self.whole_portfolio() {
                let params: [Value; 4] = [
                    self.schedule.spec.min_balance_cents.into(),
                    time::date_string(self.latest()).into(),
                    after.map(time::date_string).into(),
                    time::date_string(upto).into(),
                ];
                db.execute(SURE_FROM_COUNTS, &params)?
            } else {
                db.execute(&self.sql("SELECT count(*) AS n FROM tenant_balances b WHERE WANTED", ""), &self.params(after, upto, None))?
            };
            let sure = sure.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
            let mut bands = vec![(Some(upto), p_upto)];
            if let Some(a) = after {
                bands.push((p_after, a));
            }
            (sure, bands)
        };
        let mut edges = 0;
        for (a, u) in bands {
            let rows = db.execute(&self.sql(LIST_SQL, ""), &self.params(a, u, None))?;
            for r in rows.iter() {
                edges += i64::from(self.on_list(&r)?.is_some());
            }
        }
        Ok(sure + edges)
    }
}

/// Build a page of the call list at `now`, asking `checker` about a manual
/// call to each listed tenant.
pub fn build(db: &dyn Db, checker: &dyn ComplianceCheck, q: &CallListQuery<'_>, now: DateTime<Utc>) -> Result<CallList> {
    let schedule = schedule::load(db)?;
    let days = match q.stage {
        None => (schedule.first_days(), None),
        Some(n) => {
            let i = schedule.spec.stages.iter().position(|s| s.stage == n).ok_or_else(|| {
                let known: Vec<String> = schedule.spec.stages.iter().map(|s| s.stage.to_string()).collect();
                Error::Invalid(format!("stage {n} is not a stage of the notice schedule ({})", known.join(", ")))
            })?;
            (schedule.spec.stages[i].days_past_due, schedule.spec.stages.get(i + 1).map(|s| s.days_past_due))
        }
    };
    // The scope as the tenants of its properties, so the page is cut
    // before any join.
    let (in_scope, scope_params) = q.scope.and_property_in_numbered("st.property_id", 11);
    let scope = if in_scope.is_empty() {
        (in_scope, scope_params)
    } else {
        (format!(" AND b.tenant_id IN (SELECT st.tenant_id FROM tenants st WHERE true{in_scope})"), scope_params)
    };
    let reader = Reader { schedule, q, now, days, scope };
    let total = reader.total(db)?;
    let rules = store::all_rules(db)?;
    let (after, upto) = reader.possible();

    let mut items: Vec<CallListEntry> = Vec::new();
    let mut cursor = q.after.clone();
    let mut offset = q.offset;
    let mut decisions = 0;
    let mut next = None;
    let mut stopped_at_bound = false;
    let mut first = true;
    'pages: loop {
        // One row past the page: whether another follows decides `next`.
        let want = (q.limit - items.len() as i64).max(0) + 1;
        let batch = if q.callable || q.stage.is_some() || !first { want.max(BATCH) } else { want };
        first = false;
        let sql = reader.sql(LIST_SQL, &db::limit_clause(batch, Some(offset)));
        let rows = db.execute(&sql, &reader.params(after, upto, cursor.as_ref()))?;
        offset = 0;
        let listed: Vec<Option<(schedule::Standing, i64, Option<Tz>)>> = rows.iter().map(|r| reader.on_list(&r)).collect::<Result<_>>()?;
        let ids: Vec<String> =
            rows.iter().zip(&listed).filter(|(_, l)| l.is_some()).map(|(r, _)| r.string("tenant_id")).collect::<Result<_, _>>()?;
        let history = recent_calls(db, &ids, now)?;
        let regions = tenant_regions(db, &ids)?;
        let due = due_promises(db, &ids, now)?;
        for (r, on) in rows.iter().zip(listed) {
            let here = Cursor { debt_date: r.string("debt_date")?, balance_cents: r.i64("balance_cents")?, tenant_id: r.string("tenant_id")? };
            let Some((standing, stage, tz)) = on else {
                cursor = Some(here);
                continue;
            };
            if items.len() as i64 == q.limit || decisions == MAX_DECISIONS {
                // Another tenant follows what this page looked at.
                stopped_at_bound = (items.len() as i64) < q.limit;
                next = cursor.as_ref().map(Cursor::to_string);
                break 'pages;
            }
            decisions += 1;
            let entry = entry(checker, &r, &here, standing, stage, tz, &rules, &history, &regions, &due, now)?;
            cursor = Some(here);
            if let Some(e) = entry.filter(|e| e.callable || !q.callable) {
                items.push(e);
            }
        }
        if (rows.len() as i64) < batch {
            break;
        }
    }
    Ok(CallList {
        as_of: time::timestamp(now),
        total,
        callable: items.iter().filter(|i| i.callable).count() as i64,
        limit: q.limit,
        offset: q.offset,
        items,
        next,
        stopped_at_bound,
    })
}

/// The tenants' phone calls of the last 30 days, in one read.
fn recent_calls(db: &dyn Db, ids: &[String], now: DateTime<Utc>) -> Result<HashMap<String, Vec<PastCall>>> {
    let mut history: HashMap<String, Vec<PastCall>> = HashMap::new();
    if ids.is_empty() {
        return Ok(history);
    }
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
    Ok(history)
}

/// The tenants' promises due today, by tenant.
fn due_promises(db: &dyn Db, ids: &[String], now: DateTime<Utc>) -> Result<HashMap<String, promises::DueToday>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let filter = format!(" AND x.tenant_id IN ({})", db::placeholders(ids.len()));
    Ok(promises::due_today(db, now, &filter, ids.iter().map(Value::from).collect())?.into_iter().map(|d| (d.tenant_id.clone(), d)).collect())
}

/// One listed tenant with the decision for a manual call now; None when
/// the tenant is gone since the list was read.
#[allow(clippy::too_many_arguments)]
fn entry(
    checker: &dyn ComplianceCheck,
    r: &db::Row<'_>,
    at: &Cursor,
    standing: schedule::Standing,
    stage: i64,
    tz: Option<Tz>,
    rules: &[crate::compliance::controls::Control],
    history: &HashMap<String, Vec<PastCall>>,
    regions: &HashMap<String, (Option<String>, String)>,
    due: &HashMap<String, promises::DueToday>,
    now: DateTime<Utc>,
) -> Result<Option<CallListEntry>> {
    let tenant_id = at.tenant_id.clone();
    let request = CheckRequest { tenant_id: tenant_id.clone(), channel: Channel::Phone, address: None, at: now, manual: true };
    let decision = match checker.check(&request) {
        Ok(d) => d,
        // Gone since the list was read.
        Err(CheckError::UnknownTenant(_)) => return Ok(None),
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
            Some(c) => calls::classify(rules, state.as_deref(), &country, *c),
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
    let oldest = r.string("oldest_unpaid_due_date")?;
    Ok(Some(CallListEntry {
        promise_due_today: due.get(&tenant_id).cloned(),
        tenant_id,
        name: r.string("name")?,
        unit: r.opt_string("unit")?,
        property_id: r.string("property_id")?,
        property_name: r.opt_string("property_name")?,
        status: r.string("tenant_status")?,
        balance_cents: r.i64("balance_cents")?,
        days_past_due: standing.days_past_due,
        oldest_unpaid_due_date: oldest,
        stage,
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
    }))
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
