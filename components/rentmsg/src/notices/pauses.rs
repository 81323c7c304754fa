//! Pauses of a tenant's automatic notices (`notice_pauses`, one row per
//! tenant): the overdue scan queues none while one lasts and the sender
//! cancels the waiting ones. Every write to the table is here.
//!
//! Two kinds, told apart by the `promise_id` column: a promise to pay
//! pauses notices until the end of its promised date, and staff can pause
//! a tenant by hand. A promise never shortens a longer staff pause, and a
//! broken promise lifts only its own pause.

use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};

/// Why notices are paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseKind {
    /// Staff paused the tenant by hand; replaces any earlier pause.
    Staff,
    /// A promise to pay (its id); replaces another promise's pause, but a
    /// staff pause only when it does not last longer.
    Promise(i64),
}

/// A pause to set.
#[derive(Debug, Clone)]
pub struct Pause<'a> {
    /// Whose notices.
    pub tenant_id: &'a str,
    /// Notices resume at this moment.
    pub until: DateTime<Utc>,
    /// Staff or promise.
    pub kind: PauseKind,
    /// Why, in words, as staff read it on the row.
    pub reason: &'a str,
    /// Who set it (`staff:alice`, `tenant`).
    pub actor: &'a str,
}

/// Set a pause inside the caller's transaction (see [`PauseKind`] for what
/// it replaces). Returns false when a longer staff pause was kept.
pub fn set_in_tx(tx: &dyn Db, p: &Pause<'_>, now: DateTime<Utc>) -> Result<bool> {
    let (promise_id, replaces_any) = match p.kind {
        PauseKind::Staff => (None, true),
        PauseKind::Promise(id) => (Some(id), false),
    };
    let rows = tx.execute(
        "INSERT INTO notice_pauses (tenant_id, paused_until, reason, promise_id, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id) DO UPDATE SET paused_until = excluded.paused_until, reason = excluded.reason,
             promise_id = excluded.promise_id, set_by = excluded.set_by, set_at = excluded.set_at
         WHERE ?7 OR notice_pauses.promise_id IS NOT NULL OR notice_pauses.paused_until <= excluded.paused_until
         RETURNING tenant_id",
        &[
            p.tenant_id.into(),
            time::timestamp(p.until).into(),
            p.reason.into(),
            promise_id.into(),
            p.actor.into(),
            time::timestamp(now).into(),
            replaces_any.into(),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// Lift the pause a promise set (not a later one of staff or of another
/// promise), inside the caller's transaction. Returns whether there was one.
pub fn lift_promise_in_tx(tx: &dyn Db, tenant_id: &str, promise_id: i64) -> Result<bool> {
    let rows = tx.execute(
        "DELETE FROM notice_pauses WHERE tenant_id = ? AND promise_id = ? RETURNING tenant_id",
        &[tenant_id.into(), promise_id.into()],
    )?;
    Ok(!rows.is_empty())
}

/// Staff pause a tenant's automatic notices until `until`, cancelling the
/// notices already waiting. One transaction; audited. Returns how many
/// notices were cancelled.
pub fn pause_tenant(db: &dyn Db, tenant_id: &str, until: DateTime<Utc>, reason: &str, actor: &str, now: DateTime<Utc>) -> Result<usize> {
    if reason.trim().is_empty() {
        return Err(Error::Invalid("a pause needs a reason".into()));
    }
    db::transaction(db, |tx| {
        crate::records::tenants::require(tx, tenant_id)?;
        set_in_tx(tx, &Pause { tenant_id, until, kind: PauseKind::Staff, reason, actor }, now)?;
        let n = crate::notices::outbox::cancel_queued_for_tenant(tx, tenant_id, &format!("notices paused until {}: {reason}", time::timestamp(until)), now)?;
        crate::records::audit::record(
            tx,
            actor,
            "notices.pause",
            &crate::records::audit::tenant_target(tenant_id),
            &serde_json::json!({ "until": time::timestamp(until), "reason": reason, "cancelled": n }),
            now,
        )?;
        Ok(n)
    })
}
