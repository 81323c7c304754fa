//! Exclusions: five kinds, each independent of the others:
//!
//! - **bankruptcy** (tenant): no automatic contact on any channel; manual
//!   contact stays possible. Turning it on needs a reason, which becomes a
//!   note on the tenant.
//! - **disable_texting_auto_calls** (tenant): no texts at all (auto or
//!   manual) and no automatic calls; manual calls stay possible.
//! - **disable_auto_communications** (tenant): no automatic phone, text or
//!   email; manual stays possible.
//! - **number by customer** (one address, every tenant that has it): set
//!   only by the customer's STOP (or an email unsubscribe), lifted only by
//!   START. No texts at all to that number, no automatic calls; manual calls
//!   stay possible. Staff can see it but not edit it.
//! - **number by user** (one address of one tenant): staff-set, same effect
//!   on that number.
//!
//! Exclusion status: `none` when no phone number of the tenant is
//! excluded, `partial` when some but not all are, `full` when all are. Only
//! phone numbers count (the status is about numbers); email addresses carry
//! their own exclusions but do not change the status. A tenant without phone
//! numbers has status `none`.

use crate::records::audit;
use crate::base::db::{self, Db, Row};
use crate::base::error::{Error, Result};
use crate::records::notes;
use crate::records::tenants::{self, ContactPoint};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Actor recorded for exclusions set by the customer's own message.
pub const CUSTOMER_ACTOR: &str = "customer";

/// A tenant-wide exclusion flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantFlag {
    /// Bankruptcy: no automatic contact at all.
    Bankruptcy,
    /// No texts, no automatic calls.
    DisableTextingAutoCalls,
    /// No automatic communications.
    DisableAutoCommunications,
}

impl TenantFlag {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantFlag::Bankruptcy => "bankruptcy",
            TenantFlag::DisableTextingAutoCalls => "disable_texting_auto_calls",
            TenantFlag::DisableAutoCommunications => "disable_auto_communications",
        }
    }

    fn human(self) -> &'static str {
        match self {
            TenantFlag::Bankruptcy => "Bankruptcy exclusion",
            TenantFlag::DisableTextingAutoCalls => "Disable texting & auto calls",
            TenantFlag::DisableAutoCommunications => "Disable automatic communications",
        }
    }
}

const NUMBER_BY_USER: &str = "number_by_user";
const NUMBER_BY_CUSTOMER: &str = "number_by_customer";

/// The state of one exclusion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExclusionState {
    /// In force?
    pub on: bool,
    /// Why (required for bankruptcy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
    /// When it was set (RFC 3339 UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_at: Option<String>,
    /// The provider message id of the STOP that set it (by customer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_sid: Option<String>,
}

impl ExclusionState {
    fn from_row(r: Row<'_>) -> Result<Self> {
        Ok(ExclusionState {
            on: true,
            reason: r.opt_string("reason")?,
            set_by: r.opt_string("set_by")?,
            set_at: r.opt_string("set_at")?,
            message_sid: r.opt_string("source_ref")?,
        })
    }
}

/// A tenant's three flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantFlags {
    /// In bankruptcy: no automatic contact on any channel.
    pub bankruptcy: ExclusionState,
    /// Disable texting & auto calls.
    pub disable_texting_auto_calls: ExclusionState,
    /// Disable automatic communications.
    pub disable_auto_communications: ExclusionState,
}

impl TenantFlags {
    /// The state of one flag.
    pub fn get(&self, flag: TenantFlag) -> &ExclusionState {
        match flag {
            TenantFlag::Bankruptcy => &self.bankruptcy,
            TenantFlag::DisableTextingAutoCalls => &self.disable_texting_auto_calls,
            TenantFlag::DisableAutoCommunications => &self.disable_auto_communications,
        }
    }
}

/// The exclusions on one address of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AddressExclusions {
    /// Set by the customer's STOP; only START lifts it.
    pub by_customer: ExclusionState,
    /// Set by staff.
    pub by_user: ExclusionState,
}

impl AddressExclusions {
    /// Is the address excluded at all?
    pub fn excluded(&self) -> bool {
        self.by_customer.on || self.by_user.on
    }
}

/// Exclusion status of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionStatus {
    /// No phone number excluded.
    None,
    /// Some but not all phone numbers excluded.
    Partial,
    /// Every phone number excluded.
    Full,
}

/// Status from "is each phone number excluded?" (pure).
pub fn status_of(phone_excluded: impl IntoIterator<Item = bool>) -> ExclusionStatus {
    let (mut total, mut excluded) = (0usize, 0usize);
    for e in phone_excluded {
        total += 1;
        excluded += usize::from(e);
    }
    if excluded == 0 {
        ExclusionStatus::None
    } else if excluded == total {
        ExclusionStatus::Full
    } else {
        ExclusionStatus::Partial
    }
}

/// A tenant's flags.
fn tenant_flags(db: &dyn Db, tenant_id: &str) -> Result<TenantFlags> {
    let rows = db.execute(
        "SELECT kind, reason, set_by, set_at, source_ref FROM exclusions WHERE tenant_id = ? AND address IS NULL",
        &[tenant_id.into()],
    )?;
    let mut flags = TenantFlags::default();
    for r in rows.iter() {
        let state = ExclusionState::from_row(r)?;
        match r.str("kind")? {
            "bankruptcy" => flags.bankruptcy = state,
            "disable_texting_auto_calls" => flags.disable_texting_auto_calls = state,
            "disable_auto_communications" => flags.disable_auto_communications = state,
            other => return Err(Error::Corrupt(format!("tenant exclusion kind `{other}`"))),
        }
    }
    Ok(flags)
}

/// The exclusions on each of these addresses, as seen from one tenant
/// (its own by-user exclusions, and every by-customer exclusion).
pub fn address_exclusions(
    db: &dyn Db,
    tenant_id: &str,
    addresses: &[&str],
) -> Result<HashMap<String, AddressExclusions>> {
    let mut out: HashMap<String, AddressExclusions> =
        addresses.iter().map(|a| ((*a).to_owned(), AddressExclusions::default())).collect();
    if addresses.is_empty() {
        return Ok(out);
    }
    let mut params: Vec<db::Value> = addresses.iter().map(|a| (*a).into()).collect();
    params.push(tenant_id.into());
    let rows = db.execute(
        &format!(
            "SELECT kind, address, reason, set_by, set_at, source_ref FROM exclusions
             WHERE address IN ({}) AND (kind = 'number_by_customer' OR (kind = 'number_by_user' AND tenant_id = ?))",
            db::placeholders(addresses.len())
        ),
        &params,
    )?;
    for r in rows.iter() {
        let address = r.string("address")?;
        let state = ExclusionState::from_row(r)?;
        let entry = out.entry(address).or_default();
        match r.str("kind")? {
            NUMBER_BY_CUSTOMER => entry.by_customer = state,
            _ => entry.by_user = state,
        }
    }
    Ok(out)
}

/// The tenant's exclusion status (from its phone numbers).
pub fn status(db: &dyn Db, tenant_id: &str) -> Result<ExclusionStatus> {
    let points = tenants::contact_points(db, tenant_id)?;
    status_for_points(db, tenant_id, &points)
}

/// The exclusion status given the tenant's contact points.
fn status_for_points(db: &dyn Db, tenant_id: &str, points: &[ContactPoint]) -> Result<ExclusionStatus> {
    let phones: BTreeSet<&str> = points.iter().filter(|p| p.kind.is_phone()).map(|p| p.address.as_str()).collect();
    let phones: Vec<&str> = phones.into_iter().collect();
    let ex = address_exclusions(db, tenant_id, &phones)?;
    Ok(status_of(phones.iter().map(|a| ex.get(*a).is_some_and(AddressExclusions::excluded))))
}

/// One row of `exclusion_events`.
struct Event<'a> {
    kind: &'a str,
    tenant_id: Option<&'a str>,
    address: Option<&'a str>,
    on: bool,
    reason: Option<&'a str>,
    actor: &'a str,
    source_ref: Option<&'a str>,
}

fn event(db: &dyn Db, e: &Event<'_>, now: DateTime<Utc>) -> Result<()> {
    db.execute(
        "INSERT INTO exclusion_events (kind, tenant_id, address, is_on, reason, actor, source_ref, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            e.kind.into(),
            e.tenant_id.into(),
            e.address.into(),
            e.on.into(),
            e.reason.into(),
            e.actor.into(),
            e.source_ref.into(),
            time::timestamp(now).into(),
        ],
    )?;
    Ok(())
}

fn clean(reason: Option<&str>) -> Option<&str> {
    reason.map(str::trim).filter(|r| !r.is_empty())
}

/// Longest accepted reason.
pub const MAX_REASON_CHARS: usize = 2000;

fn check_reason(reason: Option<&str>) -> Result<()> {
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(Error::Invalid(format!("reason is longer than {MAX_REASON_CHARS} characters")));
    }
    Ok(())
}

/// Turn a tenant flag on or off; returns whether anything changed. Turning
/// bankruptcy on needs a reason, which is written as a note. Records an
/// exclusion event, a note for bankruptcy changes, and an audit row. Call
/// inside a transaction; the tenant must exist.
pub fn set_flag_in_tx(
    db: &dyn Db,
    tenant_id: &str,
    flag: TenantFlag,
    on: bool,
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let reason = clean(reason);
    check_reason(reason)?;
    if flag == TenantFlag::Bankruptcy && on && reason.is_none() {
        return Err(Error::Invalid("bankruptcy.reason is required when turning bankruptcy on".into()));
    }
    let current = tenant_flags(db, tenant_id)?.get(flag).clone();
    let changed = match (current.on, on) {
        (false, false) => false,
        (true, true) => {
            // Still on; a new reason is a change worth keeping.
            if reason.is_some() && reason != current.reason.as_deref() {
                db.execute(
                    "UPDATE exclusions SET reason = ?, set_by = ?, set_at = ? WHERE tenant_id = ? AND kind = ? AND address IS NULL",
                    &[reason.into(), actor.into(), time::timestamp(now).into(), tenant_id.into(), flag.as_str().into()],
                )?;
                true
            } else {
                false
            }
        }
        (false, true) => {
            db.execute(
                "INSERT INTO exclusions (kind, tenant_id, address, reason, set_by, set_at) VALUES (?, ?, NULL, ?, ?, ?)",
                &[flag.as_str().into(), tenant_id.into(), reason.into(), actor.into(), time::timestamp(now).into()],
            )?;
            true
        }
        (true, false) => {
            db.execute(
                "DELETE FROM exclusions WHERE tenant_id = ? AND kind = ? AND address IS NULL",
                &[tenant_id.into(), flag.as_str().into()],
            )?;
            true
        }
    };
    if !changed {
        return Ok(false);
    }
    event(
        db,
        &Event { kind: flag.as_str(), tenant_id: Some(tenant_id), address: None, on, reason, actor, source_ref: None },
        now,
    )?;
    if flag == TenantFlag::Bankruptcy {
        let body = match (on, reason) {
            (true, Some(r)) => format!("{} on: {r}", flag.human()),
            (true, None) => format!("{} on", flag.human()),
            (false, Some(r)) => format!("{} removed: {r}", flag.human()),
            (false, None) => format!("{} removed", flag.human()),
        };
        notes::add(db, tenant_id, "bankruptcy", &body, actor, now)?;
    }
    audit::record(
        db,
        actor,
        "exclusions.set",
        &audit::tenant_target(tenant_id),
        &serde_json::json!({ "exclusion": flag.as_str(), "on": on, "reason": reason }),
        now,
    )?;
    Ok(changed)
}

/// Staff's per-number exclusion on one of a tenant's addresses; returns
/// whether anything changed. Audited. Call inside a transaction; the caller
/// checks that the address belongs to the tenant.
pub fn set_user_exclusion_in_tx(
    db: &dyn Db,
    tenant_id: &str,
    address: &str,
    on: bool,
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let reason = clean(reason);
    check_reason(reason)?;
    let existing = db.execute(
        "SELECT reason FROM exclusions WHERE kind = 'number_by_user' AND tenant_id = ? AND address = ?",
        &[tenant_id.into(), address.into()],
    )?;
    let changed = match (existing.first(), on) {
        (None, false) => false,
        (Some(row), true) => {
            let current = row.opt_string("reason")?;
            if reason.is_some() && reason != current.as_deref() {
                db.execute(
                    "UPDATE exclusions SET reason = ?, set_by = ?, set_at = ? WHERE kind = 'number_by_user' AND tenant_id = ? AND address = ?",
                    &[reason.into(), actor.into(), time::timestamp(now).into(), tenant_id.into(), address.into()],
                )?;
                true
            } else {
                false
            }
        }
        (None, true) => {
            db.execute(
                "INSERT INTO exclusions (kind, tenant_id, address, reason, set_by, set_at) VALUES ('number_by_user', ?, ?, ?, ?, ?)",
                &[tenant_id.into(), address.into(), reason.into(), actor.into(), time::timestamp(now).into()],
            )?;
            true
        }
        (Some(_), false) => {
            db.execute(
                "DELETE FROM exclusions WHERE kind = 'number_by_user' AND tenant_id = ? AND address = ?",
                &[tenant_id.into(), address.into()],
            )?;
            true
        }
    };
    if changed {
        event(
            db,
            &Event { kind: NUMBER_BY_USER, tenant_id: Some(tenant_id), address: Some(address), on, reason, actor, source_ref: None },
            now,
        )?;
        audit::record(
            db,
            actor,
            "exclusions.number_by_user",
            &audit::tenant_target(tenant_id),
            &serde_json::json!({ "address": address, "on": on, "reason": reason }),
            now,
        )?;
    }
    Ok(changed)
}

fn check_address(address: &str) -> Result<()> {
    let ok = if address.contains('@') {
        crate::base::normalize::email(address).is_ok_and(|e| e == address)
    } else {
        address.len() >= 3 && address.starts_with('+') && address[1..].bytes().all(|b| b.is_ascii_digit())
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid("address must be an E.164 number or a lower-case email address".into()))
    }
}

/// Reason stored with an exclusion set by the customer's own STOP.
pub const CUSTOMER_STOP_REASON: &str = "customer asked to stop";

/// The customer's STOP (or email unsubscribe): exclude this address for every
/// tenant that has it. `address` is E.164 (or a lower-case email);
/// `message_sid` is the provider id of the message that asked. Returns false
/// if it was already excluded. Audited with actor `customer`. Runs its own
/// transaction.
pub fn set_customer_opt_out(db: &dyn Db, address: &str, at: DateTime<Utc>, message_sid: Option<&str>) -> Result<bool> {
    db::transaction(db, |tx| set_customer_opt_out_in_tx(tx, address, at, message_sid, CUSTOMER_STOP_REASON))
}

/// [`set_customer_opt_out`] inside the caller's transaction, with the reason
/// to store (the inbound webhook records a carrier-reported opt-out this way).
pub fn set_customer_opt_out_in_tx(
    tx: &dyn Db,
    address: &str,
    at: DateTime<Utc>,
    message_sid: Option<&str>,
    reason: &str,
) -> Result<bool> {
    check_address(address)?;
    // One statement: insert unless the number is already excluded (the
    // partial unique index on by-customer addresses decides).
    let inserted = tx.execute(
        "INSERT INTO exclusions (kind, tenant_id, address, reason, set_by, set_at, source_ref) VALUES ('number_by_customer', NULL, ?, ?, ?, ?, ?)
         ON CONFLICT (address) WHERE kind = 'number_by_customer' DO NOTHING RETURNING id",
        &[address.into(), reason.into(), CUSTOMER_ACTOR.into(), time::timestamp(at).into(), message_sid.into()],
    )?;
    if inserted.is_empty() {
        return Ok(false);
    }
    event(
        tx,
        &Event { kind: NUMBER_BY_CUSTOMER, tenant_id: None, address: Some(address), on: true, reason: Some(reason), actor: CUSTOMER_ACTOR, source_ref: message_sid },
        at,
    )?;
    audit::record(
        tx,
        CUSTOMER_ACTOR,
        "exclusions.number_by_customer",
        &format!("address:{address}"),
        &CustomerOptOutDetail { message_sid, on: true, reason: Some(reason) },
        at,
    )?;
    Ok(true)
}

/// The audit detail of a customer's own opt-out or opt-in: fields in name
/// order, the order the stored JSON has always had; an opt-in has no reason.
#[derive(Serialize)]
struct CustomerOptOutDetail<'a> {
    message_sid: Option<&'a str>,
    on: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The customer's START: lift their own exclusion of this address. Returns
/// false if there was none. Audited with actor `customer`. Runs its own
/// transaction.
pub fn clear_customer_opt_out(db: &dyn Db, address: &str, at: DateTime<Utc>, message_sid: Option<&str>) -> Result<bool> {
    db::transaction(db, |tx| clear_customer_opt_out_in_tx(tx, address, at, message_sid))
}

/// [`clear_customer_opt_out`] inside the caller's transaction.
pub fn clear_customer_opt_out_in_tx(tx: &dyn Db, address: &str, at: DateTime<Utc>, message_sid: Option<&str>) -> Result<bool> {
    check_address(address)?;
    let deleted = tx.execute(
        "DELETE FROM exclusions WHERE kind = 'number_by_customer' AND address = ? RETURNING id",
        &[address.into()],
    )?;
    if deleted.is_empty() {
        return Ok(false);
    }
    event(
        tx,
        &Event { kind: NUMBER_BY_CUSTOMER, tenant_id: None, address: Some(address), on: false, reason: None, actor: CUSTOMER_ACTOR, source_ref: message_sid },
        at,
    )?;
    audit::record(
        tx,
        CUSTOMER_ACTOR,
        "exclusions.number_by_customer",
        &format!("address:{address}"),
        &CustomerOptOutDetail { message_sid, on: false, reason: None },
        at,
    )?;
    Ok(true)
}

/// Is there a by-customer exclusion (STOP) on this address?
pub fn customer_opted_out(db: &dyn Db, address: &str) -> Result<bool> {
    let rows =
        db.execute("SELECT 1 AS x FROM exclusions WHERE kind = 'number_by_customer' AND address = ?", &[address.into()])?;
    Ok(!rows.is_empty())
}

/// Everything the compliance rules need about one tenant's exclusions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantExclusions {
    /// The three flags.
    pub flags: TenantFlags,
    /// Per-address exclusions for each of the tenant's addresses.
    pub addresses: HashMap<String, AddressExclusions>,
    /// none / partial / full.
    pub status: ExclusionStatus,
}

/// Load a tenant's flags, per-address exclusions and status.
pub fn for_tenant(db: &dyn Db, tenant_id: &str) -> Result<TenantExclusions> {
    let points = tenants::contact_points(db, tenant_id)?;
    let addrs: BTreeSet<&str> = points.iter().map(|p| p.address.as_str()).collect();
    let addrs: Vec<&str> = addrs.into_iter().collect();
    let addresses = address_exclusions(db, tenant_id, &addrs)?;
    let phones: BTreeSet<&str> = points.iter().filter(|p| p.kind.is_phone()).map(|p| p.address.as_str()).collect();
    let status = status_of(phones.iter().map(|a| addresses.get(*a).is_some_and(AddressExclusions::excluded)));
    Ok(TenantExclusions { flags: tenant_flags(db, tenant_id)?, addresses, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let cases: &[(&[bool], ExclusionStatus)] = &[
            (&[], ExclusionStatus::None),
            (&[false], ExclusionStatus::None),
            (&[false, false, false], ExclusionStatus::None),
            (&[true], ExclusionStatus::Full),
            (&[true, true], ExclusionStatus::Full),
            (&[true, false], ExclusionStatus::Partial),
            (&[false, false, true], ExclusionStatus::Partial),
        ];
        for (input, want) in cases {
            assert_eq!(status_of(input.iter().copied()), *want, "{input:?}");
        }
    }
}
