//! The audit log: who did what, when. Every write through the staff API
//! (and every exclusion change from any component) adds a row.

use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who (`staff`, `staff:alice`, `customer`, `system`).
    pub actor: String,
    /// What, as `area.verb` (`import.ledger`, `consent.set`, `exclusions.set`...).
    pub action: String,
    /// On what (`tenant:T1`, `address:+1555...`), if anything.
    pub target: Option<String>,
    /// Details as JSON.
    pub detail: serde_json::Value,
}

/// The audit target string for a tenant.
pub fn tenant_target(tenant_id: &str) -> String {
    format!("tenant:{tenant_id}")
}

/// Append an audit row. One statement: safe inside or outside a transaction.
pub fn record(
    db: &dyn Db,
    actor: &str,
    action: &str,
    target: &str,
    detail: &impl Serialize,
    now: DateTime<Utc>,
) -> Result<()> {
    let target = if target.is_empty() { None } else { Some(target) };
    let detail = serde_json::to_string(detail).map_err(|e| Error::Corrupt(format!("audit detail: {e}")))?;
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        &[time::timestamp(now).into(), actor.into(), action.into(), target.into(), detail.into()],
    )?;
    Ok(())
}

/// Newest-first audit rows (by id, so rows written in the same millisecond
/// keep one order across pages) about tenants of the scope's properties
/// (all rows for every property), optionally for one target, older than
/// the row `before` (the last id of the page before) when given.
pub fn list_in_scope(
    db: &dyn Db,
    target: Option<&str>,
    scope: &crate::records::scope::Scope,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let (in_scope, mut params) = scope.and_tenant_in("substr(target, 8)");
    let mut filter = if in_scope.is_empty() { String::from("true") } else { format!("target LIKE 'tenant:%'{in_scope}") };
    if let Some(t) = target {
        filter.push_str(" AND target = ?");
        params.push(t.into());
    }
    if let Some(id) = before {
        filter.push_str(" AND id < ?");
        params.push(id.into());
    }
    let limit = db::limit_clause(limit, None);
    let rows = db.execute(&format!("SELECT id, at, actor, action, target, detail FROM audit_log WHERE {filter} ORDER BY id DESC {limit}"), &params)?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(r: db::Row<'_>) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.i64("id")?,
        at: r.string("at")?,
        actor: r.string("actor")?,
        action: r.string("action")?,
        target: r.opt_string("target")?,
        detail: r.opt_str("detail")?.and_then(|d| serde_json::from_str(d).ok()).unwrap_or(serde_json::Value::Null),
    })
}

/// Newest-first audit rows, optionally for one target.
pub fn list(db: &dyn Db, target: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
    list_in_scope(db, target, &crate::records::scope::Scope::All, None, limit)
}
