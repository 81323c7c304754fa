//! Contact controls and call result codes in SQLite.
//!
//! `contact_controls` keeps each control's scope and look-back settings in
//! columns (key, channel, state, country, enabled, period_days,
//! hold_for_days, apply_to_group) and all of it as its JSON [`ControlSpec`].
//! Migration 2 seeds the default rule packs as rows (`pack` names the pack);
//! staff edit or delete them like their own. Every change is audited.

use super::controls::{Control, ControlSpec};
use crate::records::audit;
use crate::base::db::{self, Db, Row};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A stored control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredControl {
    /// The control as staff write it.
    #[serde(flatten)]
    pub spec: ControlSpec,
    /// The default pack it came from (`us-reg-f`, `ontario`...), or None if staff made it.
    pub pack: Option<String>,
    /// The law the pack follows; None for staff-made controls and the
    /// house defaults.
    pub law: Option<&'static str>,
    /// Whether that law binds a landlord collecting its own rent (a
    /// first-party creditor); None when no law is named.
    pub binds_first_party_creditor: Option<bool>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// The fields of a [`StoredControl`] that are not part of its
/// [`ControlSpec`]: what GET answers can be PUT back with these ignored.
pub const READ_ONLY_FIELDS: &[&str] = &["pack", "law", "binds_first_party_creditor", "created_at", "updated_at"];

/// The law a shipped pack follows and whether it binds a first-party
/// creditor. Every pack ships enabled whichever the answer: the limits of
/// the collector laws are the operators' safe defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackLaw {
    /// The citation of the law.
    pub law: &'static str,
    /// True when a landlord collecting its own rent is bound by it.
    pub binds_first_party_creditor: bool,
}

/// The law of a pack by its `pack` name; None for `default` (house rules)
/// and unknown names.
pub fn pack_law(pack: &str) -> Option<PackLaw> {
    let (law, binds_first_party_creditor) = match pack {
        // Reg F implements the FDCPA, which covers third-party debt collectors.
        "us-reg-f" => ("Regulation F, 12 CFR part 1006 (FDCPA)", false),
        // 940 CMR 7.00 is written for creditors.
        "massachusetts" => ("Massachusetts 940 CMR 7.00 (Attorney General's debt collection regulations)", true),
        // RCW 19.16 licenses and binds collection agencies.
        "washington" => ("Washington RCW 19.16 (Collection Agency Act), RCW 19.16.250", false),
        // The CDSSA and its Reg. 74 bind collection agencies and collectors.
        "ontario" => ("Ontario Collection and Debt Settlement Services Act, R.R.O. 1990, Reg. 74", false),
        // binds those collecting debts on behalf of others.
        "quebec" => ("Quebec Act respecting the collection of certain debts, CQLR c. R-2.2", false),
        _ => return None,
    };
    Some(PackLaw { law, binds_first_party_creditor })
}

fn stored_from_row(r: Row<'_>) -> Result<StoredControl> {
    let spec: ControlSpec = serde_json::from_str(r.str("spec")?)
        .map_err(|e| Error::Corrupt(format!("contact control `{}`: {e}", r.str("key").unwrap_or("?"))))?;
    let pack = r.opt_string("pack")?;
    let law = pack.as_deref().and_then(pack_law);
    Ok(StoredControl {
        spec,
        pack,
        law: law.map(|l| l.law),
        binds_first_party_creditor: law.map(|l| l.binds_first_party_creditor),
        created_at: r.string("created_at")?,
        updated_at: r.string("updated_at")?,
    })
}

const COLUMNS: &str = "key, spec, pack, created_at, updated_at";

/// Every control, in key order.
pub fn list(db: &dyn Db) -> Result<Vec<StoredControl>> {
    let rows = db.execute(&format!("SELECT {COLUMNS} FROM contact_controls ORDER BY key"), &[])?;
    rows.iter().map(stored_from_row).collect()
}

/// One control by key.
pub fn get(db: &dyn Db, key: &str) -> Result<Option<StoredControl>> {
    let rows = db.execute(&format!("SELECT {COLUMNS} FROM contact_controls WHERE key = ?"), &[key.into()])?;
    rows.first().map(stored_from_row).transpose()
}

/// Every control, typed (tests, benchmarks).
pub fn all_rules(db: &dyn Db) -> Result<Vec<Control>> {
    list(db)?
        .into_iter()
        .map(|s| s.spec.to_control().map_err(|e| Error::Corrupt(format!("contact control `{}`: {e}", s.spec.key))))
        .collect()
}

/// Validate a spec and return it in normalised form (upper-case state and
/// country, trimmed description), so what is stored is what applies.
fn normalised(spec: &ControlSpec) -> Result<(ControlSpec, Control)> {
    let control = spec.to_control().map_err(Error::Invalid)?;
    let mut spec = spec.clone();
    spec.state = control.state.clone();
    spec.country = control.country.clone();
    spec.description = control.description.clone();
    Ok((spec, control))
}

fn spec_json(spec: &ControlSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| Error::Corrupt(e.to_string()))
}

/// Create a control; `Conflict` if the key is taken. Audited. Runs its own transaction.
pub fn create(db: &dyn Db, spec: &ControlSpec, actor: &str, now: DateTime<Utc>) -> Result<StoredControl> {
    let (spec, control) = normalised(spec)?;
    let json = spec_json(&spec)?;
    db::transaction(db, |tx| {
        if get(tx, &spec.key)?.is_some() {
            return Err(Error::Conflict(format!("a contact control with key `{}` exists; PUT it to change it", spec.key)));
        }
        let at = time::timestamp(now);
        tx.execute(
            "INSERT INTO contact_controls (key, channel, state, country, enabled, period_days, hold_for_days, apply_to_group, spec, pack, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            &[
                spec.key.as_str().into(),
                control.channel.as_str().into(),
                control.state.as_deref().into(),
                control.country.as_deref().into(),
                control.enabled.into(),
                control.limit.as_ref().map(|l| i64::from(l.period_days)).into(),
                control.hold_for_days.map(i64::from).into(),
                control.apply_to_group.into(),
                json.as_str().into(),
                at.as_str().into(),
                at.as_str().into(),
            ],
        )?;
        audit::record(tx, actor, "contact_control.create", &format!("contact_control:{}", spec.key), &serde_json::to_value(&spec).unwrap_or_default(), now)?;
        get(tx, &spec.key)?.ok_or_else(|| Error::Corrupt("control vanished".into()))
    })
}

/// Replace a control's settings (the key stays). `NotFound` if absent.
/// Audited with the old and new settings. Runs its own transaction.
pub fn replace(db: &dyn Db, key: &str, spec: &ControlSpec, actor: &str, now: DateTime<Utc>) -> Result<StoredControl> {
    if spec.key != key {
        return Err(Error::Invalid(format!("the body's key `{}` is not `{key}`; keys cannot be changed", spec.key)));
    }
    let (spec, control) = normalised(spec)?;
    let json = spec_json(&spec)?;
    db::transaction(db, |tx| {
        let old = get(tx, key)?.ok_or_else(|| Error::NotFound(format!("contact control `{key}` not found")))?;
        tx.execute(
            "UPDATE contact_controls SET channel = ?, state = ?, country = ?, enabled = ?, period_days = ?, hold_for_days = ?,
                    apply_to_group = ?, spec = ?, updated_at = ? WHERE key = ?",
            &[
                control.channel.as_str().into(),
                control.state.as_deref().into(),
                control.country.as_deref().into(),
                control.enabled.into(),
                control.limit.as_ref().map(|l| i64::from(l.period_days)).into(),
                control.hold_for_days.map(i64::from).into(),
                control.apply_to_group.into(),
                json.as_str().into(),
                time::timestamp(now).into(),
                key.into(),
            ],
        )?;
        audit::record(
            tx,
            actor,
            "contact_control.replace",
            &format!("contact_control:{key}"),
            &serde_json::json!({ "old": old.spec, "new": spec }),
            now,
        )?;
        get(tx, key)?.ok_or_else(|| Error::Corrupt("control vanished".into()))
    })
}

/// Delete a control. `NotFound` if absent. Audited. Runs its own transaction.
pub fn delete(db: &dyn Db, key: &str, actor: &str, now: DateTime<Utc>) -> Result<()> {
    db::transaction(db, |tx| {
        let old = get(tx, key)?.ok_or_else(|| Error::NotFound(format!("contact control `{key}` not found")))?;
        tx.execute("DELETE FROM contact_controls WHERE key = ?", &[key.into()])?;
        audit::record(tx, actor, "contact_control.delete", &format!("contact_control:{key}"), &serde_json::json!({ "old": old.spec }), now)?;
        Ok(())
    })
}

/// One call result code of the staff pick list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallResultCode {
    /// The number staff pick and the contact log stores.
    pub code: i64,
    /// What it means.
    pub label: String,
}

/// The call result codes, in code order.
pub fn call_result_codes(db: &dyn Db) -> Result<Vec<CallResultCode>> {
    let rows = db.execute("SELECT code, label FROM call_result_codes ORDER BY code", &[])?;
    rows.iter().map(|r| Ok(CallResultCode { code: r.i64("code")?, label: r.string("label")? })).collect()
}

/// Record the call result code of a logged phone contact (the call-results
/// workflow writes it; the frequency and hold-for rules read it).
pub fn set_call_result(db: &dyn Db, contact_id: i64, code: i64) -> Result<()> {
    let rows = db.execute(
        "UPDATE contact_log SET call_result = ? WHERE id = ? AND channel = 'phone' RETURNING id",
        &[code.into(), contact_id.into()],
    )?;
    if rows.is_empty() {
        return Err(Error::NotFound(format!("no phone contact with id {contact_id}")));
    }
    Ok(())
}
