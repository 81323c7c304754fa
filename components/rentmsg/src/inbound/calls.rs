//! Calls the tenant places to staff. A call from the tenant that reaches
//! staff is a telephone conversation like one staff placed: under Reg F,
//! 12 CFR 1006.14(b)(2)(i)(B), no call for seven days after it (that day
//! is day 1). Staff record it with its result code; the contact log row
//! (channel phone, direction inbound, `call_result` set) is what the
//! hold-for rule reads, whichever way the call went. Inbound calls are not
//! attempts: the frequency limits count only calls placed to the tenant.

use crate::base::channel::Channel;
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::normalize;
use crate::compliance::controls;
use crate::compliance::load::point_rank;
use crate::compliance::store;
use crate::records::contact_log::{self, Contact, Direction, NewContact};
use crate::records::{audit, notes, tenants};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Longest note on an inbound call.
pub const MAX_NOTES_CHARS: usize = 4000;

/// An inbound call to record.
#[derive(Debug, Clone)]
pub struct NewInboundCall<'a> {
    /// The tenant who called.
    pub tenant_id: &'a str,
    /// Call result code (`call_result_codes`); a right-party contact code
    /// (4, 101 in the shipped packs) starts the hold.
    pub result_code: i64,
    /// What was said.
    pub notes: Option<&'a str>,
    /// The number the tenant called from (any spelling, or a contact point
    /// kind such as `home_phone`); None = the tenant's first phone on file.
    pub address: Option<&'a str>,
    /// Who recorded it (`staff`, `staff:alice`).
    pub actor: &'a str,
}

/// A recorded inbound call.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedInboundCall {
    /// The contact-log row (channel phone, direction inbound).
    pub contact: Contact,
    pub result_code: i64,
    /// Its label.
    pub result_label: String,
    /// True when the phone controls count the code as a right-party
    /// contact: the call starts the hold-for period.
    pub right_party_contact: bool,
    /// The note written with the call, if any.
    pub note_id: Option<i64>,
}

/// Record an inbound call: the contact log row with its result code, the
/// note and the audit entry, in one transaction. No compliance check: the
/// tenant called.
pub fn record(db: &dyn Db, call: &NewInboundCall<'_>, now: DateTime<Utc>) -> Result<RecordedInboundCall> {
    let notes_text = match call.notes.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > MAX_NOTES_CHARS => {
            return Err(Error::Invalid(format!("notes must be at most {MAX_NOTES_CHARS} characters")))
        }
        Some(n) if n.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
            return Err(Error::Invalid("notes must not contain control characters".into()))
        }
        other => other,
    };
    let label = db
        .execute("SELECT label FROM call_result_codes WHERE code = ?", &[call.result_code.into()])?
        .first()
        .map(|r| r.string("label"))
        .transpose()?
        .ok_or_else(|| Error::Invalid(format!("call result code {} is not on the list (GET /api/call-result-codes)", call.result_code)))?;
    let tenant = tenants::require(db, call.tenant_id)?;
    let property = tenants::property(db, &tenant.property_id)?;
    let eff = tenants::effective(&tenant, property.as_ref());
    let points = tenants::contact_points(db, &tenant.tenant_id)?;
    let from = match call.address.map(str::trim).filter(|a| !a.is_empty()) {
        None => points
            .iter()
            .filter(|p| p.kind.is_phone())
            .min_by_key(|p| point_rank(p.kind))
            .map(|p| p.address.clone())
            .ok_or_else(|| Error::Invalid("the tenant has no phone number on file; give the number they called from".into()))?,
        Some(a) => match a.parse::<tenants::ContactKind>() {
            Ok(kind) if kind.is_phone() => points
                .iter()
                .find(|p| p.kind == kind)
                .map(|p| p.address.clone())
                .ok_or_else(|| Error::Invalid(format!("the tenant has no {}", kind.as_str())))?,
            Ok(kind) => return Err(Error::Invalid(format!("{} is not a phone number", kind.as_str()))),
            Err(_) => normalize::phone_e164(a, &eff.country).map_err(Error::Invalid)?,
        },
    };
    let rules = store::all_rules(db)?;
    let applicable = controls::applicable(&rules, Channel::Phone, eff.state.as_deref(), &eff.country);
    let right_party_contact = applicable.rpc_codes.binary_search(&call.result_code).is_ok();
    let detail = serde_json::json!({
        "call_result": call.result_code,
        "call_result_label": label,
        "manual": true,
        "inbound_call": true,
        "right_party_contact": right_party_contact,
        "recorded_by": call.actor,
    });
    let body = match notes_text {
        Some(n) => format!("Inbound call: {label}. {n}"),
        None => format!("Inbound call: {label}."),
    };
    let (contact_id, note_id) = db::transaction(db, |tx| -> Result<_> {
        let id = contact_log::record(
            tx,
            &NewContact {
                tenant_id: Some(&tenant.tenant_id),
                channel: Channel::Phone,
                direction: Direction::Inbound,
                address: &from,
                body: &body,
                status: "completed",
                at: now,
                provider_id: None,
                detail: Some(&detail),
            },
        )?;
        store::set_call_result(tx, id, call.result_code)?;
        let note_id = match notes_text {
            Some(n) => Some(notes::add(tx, &tenant.tenant_id, "call", &format!("Inbound, {label}: {n}"), call.actor, now)?),
            None => None,
        };
        audit::record(
            tx,
            call.actor,
            "call.inbound",
            &audit::tenant_target(&tenant.tenant_id),
            &serde_json::json!({ "contact_id": id, "call_result": call.result_code, "right_party_contact": right_party_contact, "from": from }),
            now,
        )?;
        Ok((id, note_id))
    })?;
    let contact = contact_log::for_tenant(db, &tenant.tenant_id, Some(50))?
        .into_iter()
        .find(|c| c.id == contact_id)
        .ok_or_else(|| Error::Corrupt("the recorded inbound call vanished".into()))?;
    Ok(RecordedInboundCall { contact, result_code: call.result_code, result_label: label, right_party_contact, note_id })
}
