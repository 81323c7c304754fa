//! The overdue scan: find the tenants a notice is due for, queue one outbox
//! row per tenant, billing cycle, due stage and channel, and record what
//! compliance says about each.
//!
//! Cost follows the overdue set: one statement reads the tenants who owe at
//! least the minimum with an oldest unpaid due date old enough for the first
//! stage from the partial, covering index `tenant_balances_overdue` (tenants
//! who owe nothing are not in it; status and time zones are copied into it,
//! so no tenant or property row is read). Paid-up tenants are never read.
//!
//! Active promises to pay are settled first ([`crate::notices::promises::evaluate`]):
//! a broken one lifts its pause.
//!
//! For each such tenant (active, not paused): the day count in the tenant's
//! local date, the due stage (the latest whose days have passed: catch-up
//! never sends the stale stages before it), and for each of its channels a
//! candidate due at the next moment the schedule's send window opens in the
//! facility's zone. Candidates are inserted with `ON CONFLICT DO NOTHING`
//! on the unique key, so only new ones come back; each new one is decided by
//! compliance at the time it would go out (allow → `queued`, defer →
//! `deferred` until then, block → `blocked` with the rules). A row left
//! undecided by an interrupted scan is decided by the next.

use crate::compliance::{CheckError, CheckRequest, ComplianceCheck, Verdict};
use crate::base::db::Db;
use crate::base::error::{Error, Result};
use crate::notices::outbox::{self, Candidate, DecisionUpdate, Inserted, OutboxState};
use crate::notices::schedule::{self, Schedule};
use crate::base::time;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::str::FromStr;

/// Who the scan's rows are created by.
const ACTOR: &str = "scan";
/// Most leftover pending rows decided per scan.
const PENDING_BATCH: i64 = 100_000;

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// The schedule is switched off: nothing was read.
    pub disabled: bool,
    /// Tenants read from the overdue set (owing at least the minimum, old enough).
    pub overdue_tenants: usize,
    /// Of those, with no stage due yet (e.g. a payment restarted the count).
    pub not_yet_due: usize,
    /// Notices due now (tenant × due stage × channel).
    pub due: usize,
    /// Of those, already in the outbox (queued, sent, blocked... earlier).
    pub already_queued: usize,
    /// New outbox rows.
    pub queued: usize,
    /// Decisions made (new rows and rows an interrupted scan left undecided).
    pub allowed: usize,
    /// Deferred by compliance (e.g. outside the contact window).
    pub deferred: usize,
    /// Blocked by compliance (consent, exclusions, STOP...).
    pub blocked: usize,
    /// Rows dropped because the tenant vanished.
    pub cancelled: usize,
    /// Tenants whose schedule window never opens (every day closed).
    pub window_never_opens: usize,
    /// Promises to pay found kept by this scan.
    pub promises_kept: usize,
    /// Promises to pay found broken by this scan (their pauses lifted).
    pub promises_broken: usize,
}

/// One tenant of the overdue set.
struct OverdueTenant {
    tenant_id: String,
    oldest: chrono::NaiveDate,
    last_payment: Option<chrono::NaiveDate>,
    zone: Tz,
    facility_zone: Tz,
}

/// The overdue-set query. ?1 minimum balance, ?2 latest oldest-unpaid due
/// date that can have a stage due, ?3 now (pauses). The first terms match
/// the partial index `tenant_balances_overdue`.
pub const OVERDUE_SQL: &str = "SELECT b.tenant_id, b.oldest_unpaid_due_date, b.last_payment_date, b.tenant_zone, b.property_zone
    FROM tenant_balances b
    WHERE b.balance_cents > 0 AND b.oldest_unpaid_due_date <= ?2 AND b.balance_cents >= ?1
      AND b.tenant_status = 'active'
      AND NOT EXISTS (SELECT 1 FROM notice_pauses np WHERE np.tenant_id = b.tenant_id AND np.paused_until > ?3)";

/// The parameters of [`OVERDUE_SQL`] for a scan at `now`.
pub fn overdue_params(schedule: &Schedule, now: DateTime<Utc>) -> Vec<crate::base::db::Value> {
    // The latest local date anywhere is at most a day ahead of UTC's.
    let latest_today = now.date_naive() + Duration::days(1);
    let cutoff = latest_today - Duration::days(schedule.first_days());
    vec![
        schedule.spec.min_balance_cents.into(),
        time::date_string(cutoff).into(),
        time::timestamp(now).into(),
    ]
}

fn zone(cache: &mut HashMap<String, Option<Tz>>, name: Option<&str>) -> Option<Tz> {
    let name = name?;
    if let Some(z) = cache.get(name) {
        return *z;
    }
    let z = Tz::from_str(name).ok();
    cache.insert(name.to_owned(), z);
    z
}

fn read_overdue(db: &dyn Db, schedule: &Schedule, now: DateTime<Utc>) -> Result<Vec<OverdueTenant>> {
    let rows = db.execute(OVERDUE_SQL, &overdue_params(schedule, now))?;
    let mut zones: HashMap<String, Option<Tz>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let property_zone = zone(&mut zones, r.opt_str("property_zone")?);
        let tenant_zone = zone(&mut zones, r.opt_str("tenant_zone")?).or(property_zone);
        // No valid zone: days are counted in UTC; compliance blocks the
        // contact itself (time.zone_unknown), so the row shows why.
        let zone = tenant_zone.unwrap_or(chrono_tz::UTC);
        out.push(OverdueTenant {
            tenant_id: r.string("tenant_id")?,
            oldest: time::parse_date(r.str("oldest_unpaid_due_date")?).map_err(Error::Corrupt)?,
            last_payment: r.opt_str("last_payment_date")?.map(time::parse_date).transpose().map_err(Error::Corrupt)?,
            zone,
            facility_zone: property_zone.unwrap_or(zone),
        });
    }
    Ok(out)
}

/// Run one scan at `now`, asking `checker` about every new notice.
pub fn run(db: &dyn Db, checker: &dyn ComplianceCheck, now: DateTime<Utc>) -> Result<ScanReport> {
    crate::schema::migrate(db, now)?;
    let schedule = schedule::load(db)?;
    let mut report = ScanReport::default();
    // Promises first: a broken one lifts its pause, so this scan already
    // queues the tenant's due stage (the schedule resumes).
    let promised = crate::notices::promises::evaluate(db, now)?;
    report.promises_kept = promised.kept;
    report.promises_broken = promised.broken;
    if !schedule.spec.enabled {
        report.disabled = true;
        return Ok(report);
    }
    let tenants = read_overdue(db, &schedule, now)?;
    report.overdue_tenants = tenants.len();
    let mut open_at: HashMap<Tz, Option<DateTime<Utc>>> = HashMap::new();
    let mut facility_of: HashMap<String, Tz> = HashMap::new();
    let mut candidates = Vec::new();
    for t in &tenants {
        let today = time::local_date(now, t.zone);
        let standing = schedule.standing(t.oldest, t.last_payment, today);
        let Some(stage) = schedule.due_stage(standing.days_past_due) else {
            report.not_yet_due += 1;
            continue;
        };
        let Some(not_before) = *open_at.entry(t.facility_zone).or_insert_with(|| schedule.next_send_time(now, t.facility_zone))
        else {
            report.window_never_opens += 1;
            continue;
        };
        for channel in &stage.channels {
            candidates.push(Candidate {
                tenant_id: t.tenant_id.clone(),
                channel: *channel,
                cycle: standing.cycle.clone(),
                stage: stage.stage,
                days_past_due: standing.days_past_due,
                not_before,
            });
        }
        facility_of.insert(t.tenant_id.clone(), t.facility_zone);
    }
    drop(tenants);
    report.due = candidates.len();
    let inserted = outbox::insert_candidates(db, &candidates, ACTOR, now)?;
    report.queued = inserted.len();
    report.already_queued = candidates.len() - inserted.len();
    drop(candidates);
    // New rows first, then any an earlier scan left undecided.
    let mut to_decide = inserted;
    let new_ids: std::collections::HashSet<i64> = to_decide.iter().map(|r| r.id).collect();
    to_decide.extend(outbox::pending(db, PENDING_BATCH)?.into_iter().filter(|r| !new_ids.contains(&r.id)));
    // Decisions are written in batches (one transaction each); a failure
    // keeps what was decided before it, the rest stay pending.
    for batch in to_decide.chunks(DECIDE_BATCH) {
        let mut decided: Vec<Decided> = Vec::with_capacity(batch.len());
        let mut failure = None;
        for row in batch {
            match decide(checker, &schedule, row, facility_of.get(&row.tenant_id).copied(), now, &mut report) {
                Ok(d) => decided.push(d),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let updates: Vec<(i64, DecisionUpdate<'_>)> = decided
            .iter()
            .map(|d| {
                (
                    d.id,
                    DecisionUpdate {
                        state: d.state,
                        state_reason: d.state_reason.as_deref(),
                        decision: d.decision,
                        reasons: d.reasons.as_ref(),
                        not_before: d.not_before,
                        address: d.address.as_deref(),
                    },
                )
            })
            .collect();
        outbox::decide_pending_many(db, &updates, now)?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(report)
}

/// Rows decided per write transaction.
const DECIDE_BATCH: usize = 500;

/// A decision waiting to be written.
struct Decided {
    id: i64,
    state: OutboxState,
    state_reason: Option<String>,
    decision: Option<Verdict>,
    reasons: Option<serde_json::Value>,
    not_before: DateTime<Utc>,
    address: Option<String>,
}

/// Ask compliance about one pending row.
fn decide(
    checker: &dyn ComplianceCheck,
    schedule: &Schedule,
    row: &Inserted,
    facility_zone: Option<Tz>,
    now: DateTime<Utc>,
    report: &mut ScanReport,
) -> Result<Decided> {
    let request = CheckRequest {
        tenant_id: row.tenant_id.clone(),
        channel: row.channel,
        address: None,
        // Decided for the moment it would go out.
        at: row.not_before.max(now),
        manual: false,
    };
    let decision = match checker.check(&request) {
        Ok(d) => d,
        Err(CheckError::UnknownTenant(m)) => {
            report.cancelled += 1;
            return Ok(Decided {
                id: row.id,
                state: OutboxState::Cancelled,
                state_reason: Some(m),
                decision: None,
                reasons: None,
                not_before: row.not_before,
                address: None,
            });
        }
        Err(CheckError::Invalid(m)) => {
            report.blocked += 1;
            return Ok(Decided {
                id: row.id,
                state: OutboxState::Blocked,
                reasons: Some(serde_json::json!([{ "rule": "request.invalid", "detail": m }])),
                state_reason: Some(m),
                decision: Some(Verdict::Block),
                not_before: row.not_before,
                address: None,
            });
        }
        // Without the facts nothing may be decided: the row stays pending
        // and the next scan asks again.
        Err(CheckError::Unavailable(m)) => return Err(Error::ComplianceUnavailable(m)),
    };
    let reasons = serde_json::to_value(&decision.reasons).unwrap_or_default();
    let summary = summarize(&decision.reasons);
    let (state, not_before, reason) = match decision.verdict {
        Verdict::Allow => {
            report.allowed += 1;
            (OutboxState::Queued, row.not_before, None)
        }
        Verdict::Defer => {
            report.deferred += 1;
            let until = decision.defer_until.unwrap_or(row.not_before).max(row.not_before);
            let at = facility_zone.and_then(|z| schedule.next_send_time(until, z)).unwrap_or(until);
            (OutboxState::Deferred, at, Some(summary))
        }
        Verdict::Block => {
            report.blocked += 1;
            (OutboxState::Blocked, row.not_before, Some(summary))
        }
    };
    Ok(Decided {
        id: row.id,
        state,
        state_reason: reason,
        decision: Some(decision.verdict),
        reasons: Some(reasons),
        not_before,
        address: decision.address,
    })
}

/// `rule: detail; rule: detail` for the row's state reason.
pub fn summarize(reasons: &[crate::compliance::Reason]) -> String {
    reasons.iter().map(|r| format!("{}: {}", r.rule, r.detail)).collect::<Vec<_>>().join("; ")
}
