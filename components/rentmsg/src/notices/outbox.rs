//! The outbox: every notice and supplemental message, from queueing to the
//! provider's answer (`outbox`, migration 5).
//!
//! **Unique key.** A notice is one row per tenant, billing cycle, stage and
//! channel (`outbox_notice_key`); the scan inserts with `ON CONFLICT DO
//! NOTHING`, so a re-run or two overlapping runs queue nothing twice.
//!
//! **States.** `pending` (inserted, compliance not asked yet) → `queued`
//! (allowed) or `deferred` (not before `not_before`) or `blocked`; the
//! sender leases a due row, re-checks, and moves it to `sending` (intent
//! recorded) → `sent`, `failed`, back to `queued` (retry), or `unknown`.
//! `cancelled` when the balance is settled, the cycle changed, a later stage
//! superseded it, or staff paused the tenant.
//!
//! **Leases** live on the row (`lease_owner`, `leased_until`) and are taken
//! by one conditional `UPDATE ... WHERE id = (SELECT ... LIMIT 1) AND the
//! lease is free RETURNING ...`: SQLite runs it under its write lock, so two
//! senders never lease the same row, and the lease is in the same store and
//! transaction as the state it guards (a key-value CAS lease would sit in a
//! second store with no transaction spanning both). Every later update names
//! the owner (or the attempt number), so a sender whose lease expired
//! cannot overwrite the row's newer state.
//!
//! **At most once.** The sender commits `sending` (with the attempt number
//! and a contact-log row) *before* calling the provider. A row found in
//! `sending` after its lease expired may or may not have reached the
//! provider, so [`reconcile_stale`] marks it `unknown` and it is never sent
//! again automatically; staff see it. A provider answer arriving late still
//! records `sent` (matched by attempt).

use crate::base::channel::Channel;
use crate::base::db::{self, Db, Row, Value};
use crate::base::error::{Error, Result};
use crate::base::locale::{Language, LanguageError};
use crate::base::time;
use crate::compliance::Verdict;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where a row is in its life (see the module docs); stored as its
/// snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Inserted by the scan, compliance not asked yet.
    Pending,
    /// Allowed; the sender takes it once `not_before` has passed.
    Queued,
    /// Not before `not_before` (compliance or the send window said so).
    Deferred,
    /// Compliance refused it; final.
    Blocked,
    /// No longer wanted (settled, new cycle, later stage, paused); final.
    Cancelled,
    /// The send intent is committed and the provider is being called.
    Sending,
    /// The provider took it.
    Sent,
    /// The provider refused it for good, or it could not be rendered.
    Failed,
    /// The provider may or may not have it: never sent again automatically.
    Unknown,
}

impl OutboxState {
    /// Every state, in life order.
    pub const ALL: [OutboxState; 9] = [
        OutboxState::Pending,
        OutboxState::Queued,
        OutboxState::Deferred,
        OutboxState::Blocked,
        OutboxState::Cancelled,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Failed,
        OutboxState::Unknown,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Queued => "queued",
            OutboxState::Deferred => "deferred",
            OutboxState::Blocked => "blocked",
            OutboxState::Cancelled => "cancelled",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
            OutboxState::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for OutboxState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        OutboxState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| format!("unknown outbox state `{s}`"))
    }
}

/// Columns the API shows.
const COLUMNS: &str = "id, kind, tenant_id, channel, cycle, stage, days_past_due, address, state, state_reason, not_before,
    decision, reasons, decided_at, custom_subject, custom_body, subject, body, encoding, segments, attempts, intent_at,
    provider_id, provider_status, contact_log_id, sent_at, created_by, created_at, updated_at, language";

/// One outbox row as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// `notice` or `supplemental`.
    pub kind: String,
    pub tenant_id: String,
    /// `text` or `email`.
    pub channel: Channel,
    /// Billing cycle (notices).
    pub cycle: Option<String>,
    /// Stage (notices).
    pub stage: Option<i64>,
    /// Days past due when queued.
    pub days_past_due: Option<i64>,
    /// Where it goes (E.164 / email), when known.
    pub address: Option<String>,
    /// Where it is in its life.
    pub state: OutboxState,
    /// Why it is in that state.
    pub state_reason: Option<String>,
    /// Not sent before this time.
    pub not_before: String,
    /// The latest compliance verdict.
    pub decision: Option<String>,
    /// The rules behind it (`[{rule, detail}]`).
    pub reasons: serde_json::Value,
    /// When compliance last decided.
    pub decided_at: Option<String>,
    /// Staff-written subject (supplemental).
    pub custom_subject: Option<String>,
    /// Staff-written body template (supplemental).
    pub custom_body: Option<String>,
    /// The language it is written in (supplemental messages; its opt-out
    /// line and amounts follow it). None: the tenant's language at sending.
    pub language: Option<Language>,
    /// The subject as sent.
    pub subject: Option<String>,
    /// The body as sent.
    pub body: Option<String>,
    /// Texts: `gsm-7` or `ucs-2`.
    pub encoding: Option<String>,
    /// Texts: segments.
    pub segments: Option<i64>,
    /// Provider attempts so far.
    pub attempts: i64,
    /// When the latest send intent was recorded.
    pub intent_at: Option<String>,
    /// Provider message id.
    pub provider_id: Option<String>,
    /// Provider status at acceptance.
    pub provider_status: Option<String>,
    /// The contact-log row of the latest attempt.
    pub contact_log_id: Option<i64>,
    /// When the provider accepted it.
    pub sent_at: Option<String>,
    /// Who queued it (`scan`, `staff:...`).
    pub created_by: String,
    /// When queued.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

fn row_from(r: Row<'_>) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.i64("id")?,
        kind: r.string("kind")?,
        tenant_id: r.string("tenant_id")?,
        channel: r.str("channel")?.parse().map_err(Error::Corrupt)?,
        cycle: r.opt_string("cycle")?,
        stage: r.opt_i64("stage")?,
        days_past_due: r.opt_i64("days_past_due")?,
        address: r.opt_string("address")?,
        state: r.str("state")?.parse().map_err(Error::Corrupt)?,
        state_reason: r.opt_string("state_reason")?,
        not_before: r.string("not_before")?,
        decision: r.opt_string("decision")?,
        reasons: r.opt_str("reasons")?.and_then(|s| serde_json::from_str(s).ok()).unwrap_or(serde_json::json!([])),
        decided_at: r.opt_string("decided_at")?,
        custom_subject: r.opt_string("custom_subject")?,
        custom_body: r.opt_string("custom_body")?,
        language: language_from(r)?,
        subject: r.opt_string("subject")?,
        body: r.opt_string("body")?,
        encoding: r.opt_string("encoding")?,
        segments: r.opt_i64("segments")?,
        attempts: r.i64("attempts")?,
        intent_at: r.opt_string("intent_at")?,
        provider_id: r.opt_string("provider_id")?,
        provider_status: r.opt_string("provider_status")?,
        contact_log_id: r.opt_i64("contact_log_id")?,
        sent_at: r.opt_string("sent_at")?,
        created_by: r.string("created_by")?,
        created_at: r.string("created_at")?,
        updated_at: r.string("updated_at")?,
    })
}

fn language_from(r: Row<'_>) -> Result<Option<Language>> {
    r.opt_str("language")?.map(|l| l.parse().map_err(|e: LanguageError| Error::Corrupt(e.to_string()))).transpose()
}

/// One row.
pub fn get(db: &dyn Db, id: i64) -> Result<Option<OutboxRow>> {
    let rows = db.execute(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?"), &[id.into()])?;
    rows.first().map(row_from).transpose()
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    /// Only this tenant's.
    pub tenant_id: Option<&'a str>,
    /// Only rows in this state.
    pub state: Option<&'a str>,
    /// Most rows (newest first).
    pub limit: i64,
    /// Only rows older than this one (its id): the cursor of the page
    /// before, so a deep page reads no more rows than the first.
    pub before: Option<i64>,
    /// Only tenants of properties the caller may see.
    pub scope: crate::records::scope::Scope,
}

/// The states a row can be in.
pub const STATES: &[&str] = &{
    let mut names = [""; OutboxState::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = OutboxState::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Rows, newest first.
pub fn list(db: &dyn Db, f: &ListFilter<'_>) -> Result<Vec<OutboxRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM outbox WHERE true");
    let mut params: Vec<Value> = Vec::new();
    if let Some(t) = f.tenant_id {
        sql.push_str(" AND tenant_id = ?");
        params.push(t.into());
    }
    if let Some(s) = f.state {
        sql.push_str(" AND state = ?");
        params.push(s.into());
    }
    if let Some(before) = f.before {
        sql.push_str(" AND id < ?");
        params.push(before.into());
    }
    let (in_scope, scope_params) = f.scope.and_tenant_in("tenant_id");
    sql.push_str(&in_scope);
    params.extend(scope_params);
    sql.push_str(" ORDER BY id DESC ");
    sql.push_str(&db::limit_clause(f.limit, None));
    db.execute(&sql, &params)?.iter().map(row_from).collect()
}

/// Rows per state (states with none left out), in state order. Every
/// property's come from the counters the outbox's triggers keep
/// (`outbox_state_counts`); a narrower scope counts its tenants' rows.
pub fn counts(db: &dyn Db, scope: &crate::records::scope::Scope) -> Result<Vec<(String, i64)>> {
    let (in_scope, params) = scope.and_tenant_in("tenant_id");
    let rows = if in_scope.is_empty() {
        db.execute("SELECT state, n FROM outbox_state_counts WHERE n > 0 ORDER BY state", &[])?
    } else {
        db.execute(&format!("SELECT state, count(*) AS n FROM outbox WHERE true{in_scope} GROUP BY state ORDER BY state"), &params)?
    };
    rows.iter().map(|r| Ok((r.string("state")?, r.i64("n")?))).collect()
}

// ------------------------------------------------------------------ queueing

/// A notice the scan found due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub tenant_id: String,
    pub channel: Channel,
    /// Billing cycle.
    pub cycle: String,
    pub stage: i64,
    /// Days past due now.
    pub days_past_due: i64,
    /// The first moment the schedule's window allows it.
    pub not_before: DateTime<Utc>,
}

/// A row the scan just inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Row id.
    pub id: i64,
    pub tenant_id: String,
    pub channel: Channel,
    /// When it may go.
    pub not_before: DateTime<Utc>,
}

/// Insert candidates that are not in the outbox yet (`pending`), in
/// multi-row statements; returns only the rows this call inserted. Older
/// notices of the same tenant and channel still waiting are cancelled as
/// superseded (only the latest due stage goes out). One transaction per
/// slice.
pub fn insert_candidates(db: &dyn Db, candidates: &[Candidate], actor: &str, now: DateTime<Utc>) -> Result<Vec<Inserted>> {
    const COLS: usize = 10;
    let per = db::MAX_PARAMS / COLS;
    let stamp = time::timestamp(now);
    let mut out = Vec::new();
    // A few thousand rows per transaction (one commit), 90 per statement.
    for batch in candidates.chunks(per * 25) {
        let inserted = db::transaction(db, |tx| -> Result<Vec<Inserted>> {
            let mut new_rows = Vec::new();
            for slice in batch.chunks(per) {
                new_rows.extend(insert_slice(tx, slice, actor, &stamp)?);
            }
            Ok(new_rows)
        })?;
        out.extend(inserted);
    }
    Ok(out)
}

fn insert_slice(tx: &dyn Db, slice: &[Candidate], actor: &str, stamp: &str) -> Result<Vec<Inserted>> {
    const COLS: usize = 10;
    let mut params: Vec<Value> = Vec::with_capacity(slice.len() * COLS);
    for c in slice {
        params.extend([
            "notice".into(),
            c.tenant_id.as_str().into(),
            c.channel.as_str().into(),
            c.cycle.as_str().into(),
            c.stage.into(),
            c.days_past_due.into(),
            time::timestamp(c.not_before).into(),
            actor.into(),
            stamp.into(),
            stamp.into(),
        ]);
    }
    let rows = tx.execute(
        &format!(
            "INSERT INTO outbox (kind, tenant_id, channel, cycle, stage, days_past_due, not_before, created_by, created_at, updated_at, state)
             SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, column10, 'pending'
             FROM (VALUES {}) WHERE true
             ON CONFLICT (tenant_id, cycle, stage, channel) WHERE kind = 'notice' DO NOTHING
             RETURNING id, tenant_id, channel, not_before",
            db::row_placeholders(slice.len(), COLS)
        ),
        &params,
    )?;
    let mut new = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        new.push(Inserted {
            id: r.i64("id")?,
            tenant_id: r.string("tenant_id")?,
            channel: r.str("channel")?.parse().map_err(Error::Corrupt)?,
            not_before: time::parse_timestamp(r.str("not_before")?).ok_or_else(|| Error::Corrupt("outbox not_before".into()))?,
        });
    }
    if !new.is_empty() {
        // Only the new rows' tenants are looked at (outbox_tenant index).
        let ids: Vec<Value> = new.iter().map(|n| Value::Integer(n.id)).collect();
        let mut p = vec![Value::from(stamp)];
        p.extend(ids.iter().cloned());
        p.extend(ids);
        tx.execute(
            &format!(
                "UPDATE outbox SET state = 'cancelled', state_reason = 'superseded by a later stage',
                        lease_owner = NULL, leased_until = NULL, updated_at = ?
                 WHERE tenant_id IN (SELECT tenant_id FROM outbox WHERE id IN ({ids}))
                   AND kind = 'notice' AND state IN ('pending', 'queued', 'deferred')
                   AND EXISTS (SELECT 1 FROM outbox n WHERE n.id IN ({ids}) AND n.tenant_id = outbox.tenant_id
                               AND n.channel = outbox.channel AND n.id > outbox.id)",
                ids = db::placeholders(new.len())
            ),
            &p,
        )?;
    }
    Ok(new)
}

/// Rows still waiting for a compliance decision (a scan that stopped
/// between inserting and deciding leaves some): `(id, tenant, channel,
/// not_before)`.
pub fn pending(db: &dyn Db, limit: i64) -> Result<Vec<Inserted>> {
    let rows = db.execute(
        &format!(
            "SELECT id, tenant_id, channel, not_before FROM outbox WHERE state = 'pending' ORDER BY id {}",
            db::limit_clause(limit, None)
        ),
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Inserted {
                id: r.i64("id")?,
                tenant_id: r.string("tenant_id")?,
                channel: r.str("channel")?.parse().map_err(Error::Corrupt)?,
                not_before: time::parse_timestamp(r.str("not_before")?)
                    .ok_or_else(|| Error::Corrupt("outbox not_before".into()))?,
            })
        })
        .collect()
}

/// A compliance outcome to store on a row.
#[derive(Debug, Clone)]
pub struct DecisionUpdate<'a> {
    /// `queued`, `deferred`, `blocked` (or `cancelled`, `failed`).
    pub state: OutboxState,
    /// Why, in words.
    pub state_reason: Option<&'a str>,
    /// Compliance's verdict (None: compliance was not asked).
    pub decision: Option<Verdict>,
    /// The rules, JSON.
    pub reasons: Option<&'a serde_json::Value>,
    pub not_before: DateTime<Utc>,
    /// The address decided about.
    pub address: Option<&'a str>,
}

/// Store many decisions on pending rows in one transaction (multi-row
/// `UPDATE ... FROM (VALUES ...)`); rows that left `pending` are left alone.
pub fn decide_pending_many(db: &dyn Db, decisions: &[(i64, DecisionUpdate<'_>)], now: DateTime<Utc>) -> Result<()> {
    const COLS: usize = 7;
    if decisions.is_empty() {
        return Ok(());
    }
    let stamp = time::timestamp(now);
    db::transaction(db, |tx| -> Result<()> {
        for slice in decisions.chunks((db::MAX_PARAMS - 2) / COLS) {
            let mut params: Vec<Value> = vec![stamp.as_str().into(), stamp.as_str().into()];
            for (id, d) in slice {
                params.extend([
                    Value::Integer(*id),
                    d.state.as_str().into(),
                    d.state_reason.into(),
                    d.decision.map(Verdict::as_str).into(),
                    d.reasons.map(|r| r.to_string()).into(),
                    time::timestamp(d.not_before).into(),
                    d.address.into(),
                ]);
            }
            tx.execute(
                &format!(
                    "UPDATE outbox SET state = v.column2, state_reason = v.column3, decision = v.column4, reasons = v.column5,
                            decided_at = CASE WHEN v.column4 IS NULL THEN NULL ELSE ?1 END, not_before = v.column6,
                            address = coalesce(v.column7, outbox.address), updated_at = ?2
                     FROM (VALUES {}) AS v
                     WHERE outbox.id = v.column1 AND outbox.state = 'pending'",
                    (0..slice.len())
                        .map(|i| {
                            let b = 3 + i * COLS;
                            format!("(?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{})", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6)
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &params,
            )?;
        }
        Ok(())
    })
}

// ------------------------------------------------------------------ sending

/// A row the sender holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// Row id.
    pub id: i64,
    /// `notice` or `supplemental`.
    pub kind: String,
    pub tenant_id: String,
    pub channel: Channel,
    /// Billing cycle (notices).
    pub cycle: Option<String>,
    /// Stage (notices).
    pub stage: Option<i64>,
    /// Address decided at queueing.
    pub address: Option<String>,
    /// Link id, if one was made by an earlier attempt.
    pub link_id: Option<String>,
    /// Staff-written subject.
    pub custom_subject: Option<String>,
    /// Staff-written body.
    pub custom_body: Option<String>,
    /// The language it is written in (None: the tenant's).
    pub language: Option<Language>,
    /// Attempts so far.
    pub attempts: i64,
}

/// Lease the next due row (queued or deferred, `not_before` passed, lease
/// free) on one of `channels` until `until`. One statement: atomic.
pub fn lease_next(db: &dyn Db, owner: &str, until: DateTime<Utc>, channels: &[Channel], now: DateTime<Utc>) -> Result<Option<Leased>> {
    if channels.is_empty() {
        return Ok(None);
    }
    let stamp = time::timestamp(now);
    let mut params: Vec<Value> = vec![owner.into(), time::timestamp(until).into(), stamp.as_str().into(), stamp.as_str().into()];
    params.extend(channels.iter().map(|c| Value::from(c.as_str())));
    let rows = db.execute(
        &format!(
            "UPDATE outbox SET lease_owner = ?1, leased_until = ?2, updated_at = ?3
             WHERE id = (SELECT id FROM outbox
                         WHERE state IN ('queued', 'deferred') AND not_before <= ?4
                           AND (leased_until IS NULL OR leased_until <= ?4) AND channel IN ({})
                         ORDER BY not_before, id LIMIT 1)
               AND (leased_until IS NULL OR leased_until <= ?4)
             RETURNING id, kind, tenant_id, channel, cycle, stage, address, link_id, custom_subject, custom_body, language, attempts",
            (0..channels.len()).map(|i| format!("?{}", i + 5)).collect::<Vec<_>>().join(", ")
        ),
        &params,
    )?;
    rows.first().map(leased_from).transpose()
}

/// Lease one named row if it is due (queued or deferred, `not_before`
/// passed, lease free): a staff reply sent at once takes exactly its own
/// row, never someone else's notice. One statement: atomic.
pub fn lease_one(db: &dyn Db, id: i64, owner: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<Option<Leased>> {
    let stamp = time::timestamp(now);
    let rows = db.execute(
        "UPDATE outbox SET lease_owner = ?1, leased_until = ?2, updated_at = ?3
         WHERE id = ?4 AND state IN ('queued', 'deferred') AND not_before <= ?3
           AND (leased_until IS NULL OR leased_until <= ?3)
         RETURNING id, kind, tenant_id, channel, cycle, stage, address, link_id, custom_subject, custom_body, language, attempts",
        &[owner.into(), time::timestamp(until).into(), stamp.as_str().into(), id.into()],
    )?;
    rows.first().map(leased_from).transpose()
}

fn leased_from(r: Row<'_>) -> Result<Leased> {
    Ok(Leased {
        id: r.i64("id")?,
        kind: r.string("kind")?,
        tenant_id: r.string("tenant_id")?,
        channel: r.str("channel")?.parse().map_err(Error::Corrupt)?,
        cycle: r.opt_string("cycle")?,
        stage: r.opt_i64("stage")?,
        address: r.opt_string("address")?,
        link_id: r.opt_string("link_id")?,
        custom_subject: r.opt_string("custom_subject")?,
        custom_body: r.opt_string("custom_body")?,
        language: language_from(r)?,
        attempts: r.i64("attempts")?,
    })
}

/// Give a leased row back untouched (e.g. the pace budget ran out).
pub fn release(db: &dyn Db, id: i64, owner: &str, now: DateTime<Utc>) -> Result<bool> {
    let rows = db.execute(
        "UPDATE outbox SET lease_owner = NULL, leased_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ? AND state IN ('queued', 'deferred') RETURNING id",
        &[time::timestamp(now).into(), id.into(), owner.into()],
    )?;
    Ok(!rows.is_empty())
}

/// Settle a leased row without sending: `deferred` to a later time, or a
/// final `blocked` / `cancelled` / `failed`, with the decision if compliance
/// was asked. Only while this owner holds it.
pub fn settle_leased(db: &dyn Db, id: i64, owner: &str, d: &DecisionUpdate<'_>, now: DateTime<Utc>) -> Result<bool> {
    let stamp = time::timestamp(now);
    let rows = db.execute(
        "UPDATE outbox SET state = ?, state_reason = ?, decision = coalesce(?, decision), reasons = coalesce(?, reasons),
                decided_at = CASE WHEN ? IS NULL THEN decided_at ELSE ? END, not_before = ?,
                lease_owner = NULL, leased_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ? AND state IN ('queued', 'deferred') RETURNING id",
        &[
            d.state.as_str().into(),
            d.state_reason.into(),
            d.decision.map(Verdict::as_str).into(),
            d.reasons.map(|r| r.to_string()).into(),
            d.decision.map(Verdict::as_str).into(),
            stamp.as_str().into(),
            time::timestamp(d.not_before).into(),
            stamp.as_str().into(),
            id.into(),
            owner.into(),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// Rows found in `sending` whose lease expired: the provider may or may not
/// have the message, so they become `unknown` (never re-sent
/// automatically) and their contact-log rows say so. Returns their ids.
pub fn reconcile_stale(db: &dyn Db, now: DateTime<Utc>) -> Result<Vec<i64>> {
    let stamp = time::timestamp(now);
    db::transaction(db, |tx| {
        let rows = tx.execute(
            "UPDATE outbox SET state = 'unknown',
                    state_reason = 'the sender stopped after handing the message to the provider and before recording the answer; it may have been sent, so it is not sent again',
                    lease_owner = NULL, leased_until = NULL, updated_at = ?
             WHERE state = 'sending' AND leased_until <= ? RETURNING id, contact_log_id",
            &[stamp.as_str().into(), stamp.as_str().into()],
        )?;
        let mut ids = Vec::new();
        for r in rows.iter() {
            ids.push(r.i64("id")?);
            if let Some(log) = r.opt_i64("contact_log_id")? {
                tx.execute("UPDATE contact_log SET status = 'unknown' WHERE id = ? AND status = 'sending'", &[log.into()])?;
            }
        }
        Ok(ids)
    })
}

/// Cancel every notice of a tenant that has not gone to a provider yet
/// (pending, queued, deferred). For the payment flow (a promise to pay, a
/// payment recorded outside the ledger triggers) and staff. Returns how many.
pub fn cancel_queued_for_tenant(db: &dyn Db, tenant_id: &str, reason: &str, now: DateTime<Utc>) -> Result<usize> {
    let rows = db.execute(
        "UPDATE outbox SET state = 'cancelled', state_reason = ?, lease_owner = NULL, leased_until = NULL, updated_at = ?
         WHERE tenant_id = ? AND kind = 'notice' AND state IN ('pending', 'queued', 'deferred') RETURNING id",
        &[reason.into(), time::timestamp(now).into(), tenant_id.into()],
    )?;
    Ok(rows.len())
}

/// A staff-written one-off message to queue.
#[derive(Debug, Clone)]
pub struct Supplemental<'a> {
    pub tenant_id: &'a str,
    /// `text` or `email`.
    pub channel: Channel,
    /// Email subject template (emails only).
    pub subject: Option<&'a str>,
    /// Body template (same variables as notices; the opt-out line is
    /// appended when it does not print it).
    pub body: &'a str,
    /// The language it is written in: its opt-out line and amounts follow
    /// it (None: the tenant's at sending).
    pub language: Option<Language>,
    /// Who wrote it (`staff:alice`).
    pub actor: &'a str,
    /// What staff asked for (purpose, template, whether the language was
    /// picked): kept in the message's audit row beside the decision.
    pub asked: serde_json::Value,
}

/// Queue a supplemental message: checked like a template, then decided by
/// compliance as an automatic contact and sent by the same paced sender.
/// Returns the row.
pub fn queue_supplemental(
    db: &dyn Db,
    checker: &dyn crate::compliance::ComplianceCheck,
    msg: &Supplemental<'_>,
    now: DateTime<Utc>,
) -> Result<OutboxRow> {
    match (msg.channel, msg.subject) {
        (Channel::Email, None) => return Err(Error::Invalid("an email needs a subject".into())),
        (Channel::Text, Some(_)) => return Err(Error::Invalid("texts have no subject".into())),
        (Channel::Phone | Channel::Letter, _) => {
            return Err(Error::Invalid(format!("messages go by text or email, not {}", msg.channel.as_str())))
        }
        _ => {}
    }
    let sample = crate::notices::templates::RenderContext::sample_in(msg.channel, msg.language.unwrap_or_default(), Default::default());
    crate::notices::templates::render(msg.channel, msg.subject, msg.body, &sample)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    crate::records::tenants::require(db, msg.tenant_id)?;
    let request = crate::compliance::CheckRequest {
        tenant_id: msg.tenant_id.to_owned(),
        channel: msg.channel,
        address: None,
        at: now,
        manual: false,
    };
    let decision = checker.check(&request).map_err(|e| match e {
        crate::compliance::CheckError::UnknownTenant(m) => Error::NotFound(m),
        crate::compliance::CheckError::Invalid(m) => Error::Invalid(m),
        crate::compliance::CheckError::Unavailable(m) => Error::ComplianceUnavailable(m),
    })?;
    let (state, not_before) = match decision.verdict {
        Verdict::Allow => (OutboxState::Queued, now),
        Verdict::Defer => (OutboxState::Deferred, decision.defer_until.unwrap_or(now)),
        Verdict::Block => (OutboxState::Blocked, now),
    };
    let reasons = serde_json::to_value(&decision.reasons).unwrap_or_default();
    let stamp = time::timestamp(now);
    // The message and its audit row together: an error answered to staff
    // must mean nothing was queued, or their retry sends it twice.
    db::transaction(db, |tx| -> Result<OutboxRow> {
        let rows = tx.execute(
            "INSERT INTO outbox (kind, tenant_id, channel, address, state, not_before, decision, reasons, decided_at,
                                 custom_subject, custom_body, language, created_by, created_at, updated_at)
             VALUES ('supplemental', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                msg.tenant_id.into(),
                msg.channel.as_str().into(),
                decision.address.as_deref().into(),
                state.as_str().into(),
                time::timestamp(not_before).into(),
                decision.verdict.as_str().into(),
                reasons.to_string().into(),
                stamp.as_str().into(),
                msg.subject.into(),
                msg.body.into(),
                msg.language.map(Language::as_str).into(),
                msg.actor.into(),
                stamp.as_str().into(),
                stamp.as_str().into(),
            ],
        )?;
        let id = rows.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))?;
        let mut detail = serde_json::json!({ "outbox_id": id, "channel": msg.channel, "language": msg.language, "decision": decision.verdict.as_str(), "state": state.as_str() });
        if let (Some(d), Some(asked)) = (detail.as_object_mut(), msg.asked.as_object()) {
            d.extend(asked.clone());
        }
        crate::records::audit::record(tx, msg.actor, "message.supplemental", &crate::records::audit::tenant_target(msg.tenant_id), &detail, now)?;
        get(tx, id)?.ok_or_else(|| Error::Corrupt("outbox row vanished".into()))
    })
}
