//! Recording a staff phone call and its result: the result code, notes and
//! an optional promise to pay land in the contact log (with `call_result`
//! set), the notes and the audit log, in one transaction, so the contact
//! controls count the call at once (attempts and right-party contacts as
//! the phone controls' code lists define them).
//!
//! A promise to pay taken on the call is recorded by
//! [`promises::record_in_tx`] (source `call`) in the same transaction: it
//! pauses the automatic notices until the promised date.
//!
//! Compliance decides the call as a manual phone contact at the time it is
//! recorded. A call the rules would block or defer is recorded only with an
//! explicit override reason, so every exception to the rules is on record:
//! the override, the rules it overrode and the reason go to the audit log
//! and a note.

use crate::records::audit;
use crate::base::channel::Channel;
use crate::compliance::controls::{self, Control};
use crate::compliance::load::typed_address;
use crate::compliance::{store, CheckError, CheckRequest, ComplianceCheck, Decision, Verdict};
use crate::records::contact_log::{self, Contact, Direction, NewContact};
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::records::notes;
use crate::notices::promises::{self, NewPromise, Promise, PromiseSource};
use crate::records::tenants;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Longest call note.
pub const MAX_NOTES_CHARS: usize = 4000;
/// Longest override reason.
pub const MAX_REASON_CHARS: usize = 500;

/// How the phone controls count a call result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// Counted toward the frequency limits (an attempt).
    pub attempt: bool,
    /// A right-party contact: starts the hold-for period.
    pub right_party_contact: bool,
}

/// Classify `code` with the controls that apply to a phone contact for a
/// tenant in `state` / `country` (the same resolution the rules use: a call
/// with no attempt list configured counts as an attempt).
pub fn classify(rules: &[Control], state: Option<&str>, country: &str, code: i64) -> Classification {
    let a = controls::applicable(rules, Channel::Phone, state, country);
    Classification {
        attempt: a.attempt_codes.as_ref().is_none_or(|codes| codes.binary_search(&code).is_ok()),
        right_party_contact: a.rpc_codes.binary_search(&code).is_ok(),
    }
}

/// A promise to pay made on the call.
#[derive(Debug, Clone, PartialEq)]
pub struct PromiseInput {
    /// Promised amount in cents (None: the balance).
    pub amount_cents: Option<i64>,
    /// Promised date (`YYYY-MM-DD`, the tenant's local date).
    pub date: chrono::NaiveDate,
}

/// A call to record.
#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    /// The tenant called.
    pub tenant_id: &'a str,
    /// Call result code, one of `GET /api/call-result-codes` (the
    /// `call_result_codes` table).
    pub result_code: i64,
    /// What was said.
    pub notes: Option<&'a str>,
    /// The number dialled (any spelling, or a contact point kind such as
    /// `home_phone`); None = the tenant's usual number.
    pub address: Option<&'a str>,
    /// Why a call the rules block or defer was made anyway.
    pub override_reason: Option<&'a str>,
    /// A promise to pay made on the call.
    pub promise: Option<PromiseInput>,
    /// Who made it (`staff`, `staff:alice`).
    pub actor: &'a str,
}

/// A recorded call.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedCall {
    /// The contact-log row (channel phone, direction outbound).
    pub contact: Contact,
    pub result_code: i64,
    /// Its label.
    pub result_label: String,
    /// How the controls count it.
    pub classification: Classification,
    /// The compliance decision at the time of the call
    /// (`{decision, reasons, ...}`).
    pub decision: serde_json::Value,
    /// Recorded against the rules, with a reason.
    pub overridden: bool,
    /// The override reason, when overridden.
    pub override_reason: Option<String>,
    /// The note written with the call, if any.
    pub note_id: Option<i64>,
    /// The promise recorded with the call, if any.
    pub promise: Option<Promise>,
}

/// Why a call was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The rules block or defer the call and no override reason was given.
    #[error("the contact rules do not allow this call now ({}); record it only with an override reason", summary(.0))]
    NotAllowed(Decision),
    /// No decision could be made.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// Bad input, unknown tenant, storage.
    #[error(transparent)]
    Domain(#[from] Error),
}

impl From<crate::base::db::DbError> for CallError {
    fn from(e: crate::base::db::DbError) -> Self {
        CallError::Domain(e.into())
    }
}

fn summary(d: &Decision) -> String {
    let rules: Vec<&str> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
    format!("{}: {}", d.verdict.as_str(), rules.join(", "))
}

fn clean<'a>(s: Option<&'a str>, what: &str, max: usize) -> Result<Option<&'a str>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(Error::Invalid(format!("{what} must be at most {max} characters"))),
        Some(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') => {
            Err(Error::Invalid(format!("{what} must not contain control characters")))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// The label of a call result code; `Invalid` when the code is not on the list.
pub fn result_label(db: &dyn Db, code: i64) -> Result<String> {
    let rows = db.execute("SELECT label FROM call_result_codes WHERE code = ?", &[code.into()])?;
    match rows.first() {
        Some(r) => Ok(r.string("label")?),
        None => Err(Error::Invalid(format!("call result code {code} is not on the list (GET /api/call-result-codes)"))),
    }
}

/// Record a call: decide it (manual phone contact, at `now`), refuse it when
/// the rules object and no override reason is given, then write the contact
/// log (with the result code), the note, the promise and the audit rows in
/// one transaction.
pub fn record(
    db: &dyn Db,
    checker: &dyn ComplianceCheck,
    call: &NewCall<'_>,
    now: DateTime<Utc>,
) -> Result<RecordedCall, CallError> {
    let notes_text = clean(call.notes, "notes", MAX_NOTES_CHARS)?;
    let reason = clean(call.override_reason, "override_reason", MAX_REASON_CHARS)?;
    let label = result_label(db, call.result_code)?;
    let tenant = tenants::require(db, call.tenant_id)?;
    let property = tenants::property(db, &tenant.property_id)?;
    let eff = tenants::effective(&tenant, property.as_ref());
    // A kind name (`home_phone`) picks that contact point; anything else is
    // a number for compliance to resolve (a number not on file is blocked).
    let address = match call.address.map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match a.parse::<tenants::ContactKind>() {
            Ok(kind) if kind.is_phone() => {
                let points = tenants::contact_points(db, &tenant.tenant_id)?;
                let p = points
                    .iter()
                    .find(|p| p.kind == kind)
                    .ok_or_else(|| Error::Invalid(format!("the tenant has no {}", kind.as_str())))?;
                Some(p.address.clone())
            }
            Ok(kind) => return Err(Error::Invalid(format!("{} is not a phone number", kind.as_str())).into()),
            Err(_) => typed_address(Channel::Phone, Some(a.to_owned()), &eff.country)?,
        },
    };
    let decision = checker.check(&CheckRequest {
        tenant_id: tenant.tenant_id.clone(),
        channel: Channel::Phone,
        address,
        at: now,
        manual: true,
    })?;
    let dialled = decision
        .address
        .clone()
        .ok_or_else(|| Error::Invalid("the tenant has no phone number on file; give the number called".into()))?;
    let overridden = decision.verdict != Verdict::Allow;
    if overridden && reason.is_none() {
        return Err(CallError::NotAllowed(decision));
    }
    let rules = store::all_rules(db)?;
    let classification = classify(&rules, eff.state.as_deref(), &eff.country, call.result_code);
    let decision_json = decision.to_json();
    let mut detail = serde_json::json!({
        "call_result": call.result_code,
        "call_result_label": label,
        "manual": true,
        "attempt": classification.attempt,
        "right_party_contact": classification.right_party_contact,
        "recorded_by": call.actor,
    });
    if let Some(r) = reason {
        detail["override"] = serde_json::json!({ "reason": r, "decision": decision_json });
    }
    let body = match notes_text {
        Some(n) => format!("Call: {label}. {n}"),
        None => format!("Call: {label}."),
    };
    let target = audit::tenant_target(&tenant.tenant_id);
    let (contact_id, note_id, promise) = db::transaction(db, |tx| -> Result<_> {
        let id = contact_log::record(
            tx,
            &NewContact {
                tenant_id: Some(&tenant.tenant_id),
                channel: Channel::Phone,
                direction: Direction::Outbound,
                address: &dialled,
                body: &body,
                status: "completed",
                at: now,
                provider_id: None,
                detail: Some(&detail),
            },
        )?;
        store::set_call_result(tx, id, call.result_code)?;
        let mut note_id = None;
        if let Some(n) = notes_text {
            note_id = Some(notes::add(tx, &tenant.tenant_id, "call", &format!("{label}: {n}"), call.actor, now)?);
        }
        if let Some(r) = reason {
            let rules: Vec<&str> = decision.reasons.iter().map(|x| x.rule.as_str()).collect();
            notes::add(
                tx,
                &tenant.tenant_id,
                "call_override",
                &format!("Call recorded against the contact rules ({}): {r}", rules.join(", ")),
                call.actor,
                now,
            )?;
            audit::record(
                tx,
                call.actor,
                "call.override",
                &target,
                &serde_json::json!({ "contact_id": id, "reason": r, "decision": decision_json }),
                now,
            )?;
        }
        // The promise pauses the automatic notices until the promised date
        // (promises::record_in_tx), in the same transaction as the call.
        let promise = match &call.promise {
            Some(p) => Some(promises::record_in_tx(
                tx,
                &NewPromise {
                    tenant_id: &tenant.tenant_id,
                    amount_cents: p.amount_cents,
                    date: p.date,
                    source: PromiseSource::Call,
                    actor: call.actor,
                    contact: Some((Channel::Phone, &dialled)),
                },
                now,
            )?),
            None => None,
        };
        audit::record(
            tx,
            call.actor,
            "call.record",
            &target,
            &serde_json::json!({
                "contact_id": id,
                "call_result": call.result_code,
                "attempt": classification.attempt,
                "right_party_contact": classification.right_party_contact,
                "overridden": overridden,
                "promise_id": promise.as_ref().map(|p| p.id),
            }),
            now,
        )?;
        Ok((id, note_id, promise))
    })?;
    let contact = contact_log::for_tenant(db, &tenant.tenant_id, Some(50))?
        .into_iter()
        .find(|c| c.id == contact_id)
        .ok_or_else(|| Error::Corrupt("the recorded call vanished".into()))?;
    Ok(RecordedCall {
        contact,
        result_code: call.result_code,
        result_label: label,
        classification,
        decision: decision_json,
        overridden,
        override_reason: reason.map(str::to_owned),
        note_id,
        promise,
    })
}
