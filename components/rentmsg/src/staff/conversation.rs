//! A tenant's conversation: every text and email in and out, oldest to
//! newest, from the contact log, like a messaging app; messages staff
//! wrote that have not gone yet (queued, deferred or blocked in the outbox)
//! follow on the newest page. Keyset-paginated backwards: `before` is the
//! cursor of the oldest message shown (`<id>@<at>`), the answer's `older`
//! the cursor of the next older page (None at the start).

use crate::base::db::{self, Db, Value};
use crate::base::error::{Error, Result};
use crate::records::{contact_log, tenants};
use crate::notices::outbox::{self, OutboxRow};
use serde::Serialize;

/// Default and largest page.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page.
pub const MAX_LIMIT: i64 = 200;

/// One page of a conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub tenant_id: String,
    /// The tenant's IANA zone (times are shown in it).
    pub time_zone: String,
    /// Oldest to newest.
    pub messages: Vec<contact_log::Contact>,
    /// Cursor of the next older page, if there is one.
    pub older: Option<String>,
    /// Staff messages not sent yet (newest page only), oldest first.
    pub waiting: Vec<OutboxRow>,
}

/// Parse a cursor `<id>@<at>`.
pub fn parse_cursor(s: &str) -> Result<(i64, String)> {
    let (id, at) = s.split_once('@').ok_or_else(|| Error::Invalid("before must be a cursor from `older`".into()))?;
    let id = id.parse::<i64>().map_err(|_| Error::Invalid("before must be a cursor from `older`".into()))?;
    if crate::base::time::parse_timestamp(at).is_none() {
        return Err(Error::Invalid("before must be a cursor from `older`".into()));
    }
    Ok((id, at.to_owned()))
}

/// A page ending just before `before` (None: the newest).
pub fn page(db: &dyn Db, tenant_id: &str, before: Option<&(i64, String)>, limit: i64) -> Result<Conversation> {
    let tenant = tenants::require(db, tenant_id)?;
    let property = tenants::property(db, &tenant.property_id)?;
    let zone = tenants::effective(&tenant, property.as_ref()).time_zone;
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut params: Vec<Value> = vec![tenant_id.into()];
    let mut filter = String::new();
    if let Some((id, at)) = before {
        filter.push_str(" AND (at < ?2 OR (at = ?2 AND id < ?3))");
        params.push(at.as_str().into());
        params.push((*id).into());
    }
    let rows = db.execute(
        &format!(
            "SELECT id FROM contact_log WHERE tenant_id = ?1 AND channel IN ('text', 'email'){filter}
             ORDER BY at DESC, id DESC {}",
            db::limit_clause(limit + 1, None)
        ),
        &params,
    )?;
    let more = rows.len() as i64 > limit;
    let ids: Vec<i64> = rows.iter().take(limit as usize).map(|r| r.i64("id")).collect::<std::result::Result<_, _>>()?;
    let mut messages: Vec<contact_log::Contact> = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        // The page's rows through the log's own reader, newest first.
        let all = contact_log::by_ids(db, &ids)?;
        messages = all;
    }
    messages.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    let older = if more { messages.first().map(|m| format!("{}@{}", m.id, m.at)) } else { None };
    let waiting = if before.is_none() {
        let mut w: Vec<OutboxRow> = outbox::list(db, &outbox::ListFilter { tenant_id: Some(tenant_id), state: None, limit: 200, before: None, scope: Default::default() })?
            .into_iter()
            .filter(|r| r.kind == "supplemental" && matches!(r.state.as_str(), "pending" | "queued" | "deferred" | "blocked"))
            .collect();
        w.reverse();
        w
    } else {
        Vec::new()
    };
    Ok(Conversation { tenant_id: tenant.tenant_id, time_zone: zone.name().to_owned(), messages, older, waiting })
}
