//! Answering a tenant's text from the console in one step: the reply is a
//! person's text, so compliance decides it as a manual contact *before*
//! anything is written (a refusal names its rules and writes nothing); an
//! allowed reply is queued in the outbox (kind `supplemental`, the same
//! purpose list and no-links rule as other staff messages), audited and its
//! inbox message marked handled in one transaction, and then sent at once
//! through [`ReplySender`]: the send pass's own step for that one row
//! (intent, call, outcome; a slot of the shared per-minute budget). When the
//! minute's budget is spent the row stays queued and the answer says when
//! the next pass takes it; that pass re-checks it as an automatic message,
//! the stricter reading.

use crate::base::channel::Channel;
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use crate::compliance::{CheckError, CheckRequest, ComplianceCheck, Decision, Verdict};
use crate::inbound::inbox;
use crate::notices::outbox::{self, OutboxRow, OutboxState};
use crate::notices::{supplemental, templates};
use crate::records::{audit, tenants};
use crate::sending::send::{SendReport, StopReason};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

/// Longest reply (ten SMS segments of GSM-7).
pub const MAX_REPLY_CHARS: usize = 1530;

/// Runs the send step for one outbox row now.
pub trait ReplySender {
    /// Send row `id` within the shared budget; `Err` says why it could not
    /// be tried (the row stays queued for the next pass).
    fn send_now(&self, db: &dyn Db, id: i64) -> std::result::Result<SendReport, String>;
}

/// No provider at hand (native tools): the next send pass takes the row.
pub struct NextPass;

impl ReplySender for NextPass {
    fn send_now(&self, _db: &dyn Db, _id: i64) -> std::result::Result<SendReport, String> {
        Err("this server does not send at once; the next send pass sends it".into())
    }
}

/// What staff wrote.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    /// The tenant answered.
    pub tenant_id: &'a str,
    /// The text.
    pub body: &'a str,
    /// One of [`supplemental::PURPOSES`].
    pub purpose: &'a str,
    /// The inbox message answered (marked handled), if any.
    pub inbox_id: Option<i64>,
    /// Who answers.
    pub actor: &'a str,
}

/// What became of a reply.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyOutcome {
    /// Compliance's verdict (`allow`, `block`, `defer`).
    pub decision: String,
    /// Every rule that applied.
    pub reasons: Vec<crate::compliance::Reason>,
    /// Deferred: when it would be allowed.
    pub defer_until: Option<String>,
    /// Written only when allowed.
    pub outbox: Option<OutboxRow>,
    /// `sent`, `queued`, `failed`, `unknown`, `blocked`, `deferred` (the row's state after the attempt).
    pub delivery: Option<String>,
    /// Queued for later: when the next pass takes it.
    pub will_go_at: Option<String>,
    /// Why it was not sent at once, when it was not.
    pub note: Option<String>,
}

fn refused(decision: &Decision) -> ReplyOutcome {
    ReplyOutcome {
        decision: decision.verdict.as_str().to_owned(),
        reasons: decision.reasons.clone(),
        defer_until: decision.defer_until.map(time::timestamp),
        outbox: None,
        delivery: None,
        will_go_at: None,
        note: None,
    }
}

fn validate(db: &dyn Db, r: &Reply<'_>) -> Result<Option<String>> {
    if !supplemental::PURPOSES.contains(&r.purpose) {
        return Err(Error::Invalid(format!("purpose must be one of {}", supplemental::PURPOSES.join(", "))));
    }
    let body = r.body.trim();
    if body.is_empty() {
        return Err(Error::Invalid("write a reply".into()));
    }
    if body.chars().count() > MAX_REPLY_CHARS {
        return Err(Error::Invalid(format!("a reply is at most {MAX_REPLY_CHARS} characters")));
    }
    if supplemental::has_link(body) {
        return Err(Error::Invalid("a reply may not contain web links; use {{ payment_link }} for the tenant's payment page".into()));
    }
    templates::render(Channel::Text, None, body, &templates::RenderContext::sample(Channel::Text)).map_err(|e| Error::Invalid(e.to_string()))?;
    tenants::require(db, r.tenant_id)?;
    // The number that wrote in is the one answered.
    match r.inbox_id {
        None => Ok(None),
        Some(id) => {
            let m = inbox::get(db, id)?.ok_or_else(|| Error::NotFound(format!("inbox message {id} not found")))?;
            if !m.tenants.iter().any(|t| t.tenant_id == r.tenant_id) {
                return Err(Error::Invalid(format!("inbox message {id} is not from tenant `{}`", r.tenant_id)));
            }
            Ok(Some(m.from))
        }
    }
}

/// Decide, queue (with its audit row and the inbox message handled, in one
/// transaction) and send a reply. A refusal is an `Ok` with no outbox row.
pub fn answer(db: &dyn Db, checker: &dyn ComplianceCheck, sender: &dyn ReplySender, r: &Reply<'_>, now: DateTime<Utc>) -> Result<ReplyOutcome> {
    let address = validate(db, r)?;
    let request = CheckRequest { tenant_id: r.tenant_id.to_owned(), channel: Channel::Text, address, at: now, manual: true };
    let decision = checker.check(&request).map_err(|e| match e {
        CheckError::UnknownTenant(m) => Error::NotFound(m),
        CheckError::Invalid(m) => Error::Invalid(m),
        CheckError::Unavailable(m) => Error::ComplianceUnavailable(m),
    })?;
    if decision.verdict != Verdict::Allow {
        return Ok(refused(&decision));
    }
    let Some(to) = decision.address.clone() else {
        return Err(Error::Invalid(format!("tenant `{}` has no number to text", r.tenant_id)));
    };
    let reasons = serde_json::to_value(&decision.reasons).unwrap_or_default();
    let stamp = time::timestamp(now);
    let body = r.body.trim();
    let id = db::transaction(db, |tx| -> Result<i64> {
        let rows = tx.execute(
            "INSERT INTO outbox (kind, tenant_id, channel, address, state, not_before, decision, reasons, decided_at,
                                 custom_body, created_by, created_at, updated_at)
             VALUES ('supplemental', ?1, 'text', ?2, 'queued', ?3, 'allow', ?4, ?3, ?5, ?6, ?3, ?3) RETURNING id",
            &[r.tenant_id.into(), to.as_str().into(), stamp.as_str().into(), reasons.to_string().into(), body.into(), r.actor.into()],
        )?;
        let id = rows.first().map(|x| x.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))?;
        audit::record(
            tx,
            r.actor,
            "message.reply",
            &audit::tenant_target(r.tenant_id),
            &serde_json::json!({ "outbox_id": id, "purpose": r.purpose, "inbox_id": r.inbox_id, "decision": "allow" }),
            now,
        )?;
        if let Some(inbox_id) = r.inbox_id {
            let changed = tx.execute(
                "UPDATE inbound_messages SET handled_at = ?1, handled_by = ?2, read_at = coalesce(read_at, ?1), read_by = coalesce(read_by, ?2)
                 WHERE id = ?3 AND in_inbox = 1 AND handled_at IS NULL RETURNING id",
                &[stamp.as_str().into(), r.actor.into(), inbox_id.into()],
            )?;
            if !changed.is_empty() {
                audit::record(tx, r.actor, "inbox.handled", &format!("inbox:{inbox_id}"), &serde_json::json!({ "handled": true, "reply_outbox_id": id }), now)?;
            }
        }
        Ok(id)
    })?;
    let mut out = refused(&decision);
    match sender.send_now(db, id) {
        Ok(report) => {
            let next_minute = Utc.timestamp_opt((now.timestamp().div_euclid(60) + 1) * 60, 0).single().unwrap_or(now);
            match report.stopped {
                StopReason::Budget => {
                    out.will_go_at = Some(time::timestamp(next_minute));
                    out.note = Some("this minute's send budget is spent; the next send pass sends it".into());
                }
                StopReason::Deadline => {
                    out.will_go_at = Some(time::timestamp(next_minute));
                    out.note = Some("no send slot was free in the next few seconds; the next send pass sends it".into());
                }
                StopReason::Idle => {}
            }
            if let Some(c) = report.channels_unavailable.first() {
                out.note = Some(format!("not sent at once: {c}; the next send pass sends it once the provider is configured"));
            }
        }
        Err(m) => {
            out.will_go_at = Some(time::timestamp(now + Duration::minutes(1)));
            out.note = Some(format!("not sent at once: {m}"));
        }
    }
    let row = outbox::get(db, id)?.ok_or_else(|| Error::Corrupt("outbox row vanished".into()))?;
    if row.state == OutboxState::Sent {
        out.will_go_at = None;
    }
    out.delivery = Some(row.state.as_str().to_owned());
    out.outbox = Some(row);
    Ok(out)
}
