//! The staff inbox: inbound texts that are not (effective) keywords, from
//! known numbers (on the tenants' records) and unknown ones (the unmatched
//! inbox), each marked read and handled by staff. Replies taken as a
//! revocation in the tenant's own words are here too, flagged
//! (`revocation_phrase`), so a person checks them; a misread one is undone
//! with [`undo_opt_out`].

use super::process::{parse_tenant_ids, Effect};
use crate::records::{audit, exclusions};
use crate::base::db::{self, Db, Row, Value};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// A tenant a message was matched to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxTenant {
    /// AR id.
    pub tenant_id: String,
    /// Name (None if the tenant has since disappeared).
    pub name: Option<String>,
    pub property_id: Option<String>,
}

/// One inbox message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxMessage {
    /// Inbox id.
    pub id: i64,
    /// Provider message id.
    pub message_sid: String,
    /// Sender (E.164).
    pub from: String,
    /// Our number it was sent to.
    pub to: String,
    /// The text as sent.
    pub body: String,
    /// Attached media count.
    pub num_media: i64,
    /// `text`; `opt_in` for an opt-in word with nothing to lift; `opt_out`
    /// for a revocation in the tenant's own words.
    pub kind: String,
    /// The revocation phrase the reply was taken as (an opt-out of texting
    /// for this number), when it was one.
    pub revocation_phrase: Option<String>,
    /// When staff undid that opt-out as a misreading.
    pub undone_at: Option<String>,
    /// Who undid it.
    pub undone_by: Option<String>,
    /// When it arrived (RFC 3339 UTC).
    pub received_at: String,
    /// True when the number belonged to at least one tenant.
    pub matched: bool,
    /// The tenants that had the number when it arrived.
    pub tenants: Vec<InboxTenant>,
    /// When staff first read it.
    pub read_at: Option<String>,
    /// Who read it.
    pub read_by: Option<String>,
    /// When staff marked it handled.
    pub handled_at: Option<String>,
    /// Who handled it.
    pub handled_by: Option<String>,
}

/// Which messages to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxStatus {
    /// Not handled yet (default).
    #[default]
    Open,
    /// Only messages marked handled.
    Handled,
    /// Open and handled alike.
    All,
}

impl std::str::FromStr for InboxStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "open" => Ok(InboxStatus::Open),
            "handled" => Ok(InboxStatus::Handled),
            "all" => Ok(InboxStatus::All),
            other => Err(format!("status `{other}` is not one of open, handled, all")),
        }
    }
}

/// A list query.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// Open / handled / all.
    pub status: InboxStatus,
    /// Some(true): from known numbers only; Some(false): the unmatched inbox.
    pub matched: Option<bool>,
    /// Only messages matched to this tenant.
    pub tenant_id: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
    /// Only messages older than this one (its id): the `older` cursor of the
    /// page before, so a page deep in the list reads no more rows than the
    /// first.
    pub before: Option<i64>,
    /// Only messages matched to a tenant the caller may see.
    pub scope: crate::records::scope::Scope,
}

/// A page of the inbox with counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxPage {
    /// Newest first.
    pub messages: Vec<InboxMessage>,
    /// Messages matching the query.
    pub total: i64,
    /// Inbox messages nobody has read.
    pub unread: i64,
    /// Inbox messages not handled.
    pub open: i64,
    /// Cursor of the next (older) page, for `before`; None on the last page.
    pub older: Option<String>,
}

const COLUMNS: &str = "id, message_sid, from_address, to_address, body, num_media, kind, received_at, tenant_ids, \
                       read_at, read_by, handled_at, handled_by, revocation_phrase, undone_at, undone_by, effect";

fn from_row(r: Row<'_>, names: &HashMap<String, (String, String)>) -> Result<InboxMessage> {
    let ids = parse_tenant_ids(r.str("tenant_ids")?)?;
    let tenants = ids
        .into_iter()
        .map(|tenant_id| {
            let found = names.get(&tenant_id);
            InboxTenant {
                name: found.map(|(n, _)| n.clone()),
                property_id: found.map(|(_, p)| p.clone()),
                tenant_id,
            }
        })
        .collect::<Vec<_>>();
    Ok(InboxMessage {
        id: r.i64("id")?,
        message_sid: r.string("message_sid")?,
        from: r.string("from_address")?,
        to: r.string("to_address")?,
        body: r.string("body")?,
        num_media: r.i64("num_media")?,
        kind: r.string("kind")?,
        revocation_phrase: r.opt_string("revocation_phrase")?,
        undone_at: r.opt_string("undone_at")?,
        undone_by: r.opt_string("undone_by")?,
        received_at: r.string("received_at")?,
        matched: !tenants.is_empty(),
        tenants,
        read_at: r.opt_string("read_at")?,
        read_by: r.opt_string("read_by")?,
        handled_at: r.opt_string("handled_at")?,
        handled_by: r.opt_string("handled_by")?,
    })
}

/// Names and properties of the tenants these rows mention.
fn tenant_names(db: &dyn Db, rows: &db::Rows) -> Result<HashMap<String, (String, String)>> {
    let mut ids: Vec<String> = Vec::new();
    for r in rows.iter() {
        for id in parse_tenant_ids(r.str("tenant_ids")?)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut out = HashMap::new();
    for chunk in ids.chunks(db::MAX_PARAMS) {
        let params: Vec<Value> = chunk.iter().map(|i| i.as_str().into()).collect();
        let found = db.execute(
            &format!(
                "SELECT tenant_id, name, property_id FROM tenants WHERE tenant_id IN ({})",
                db::placeholders(chunk.len())
            ),
            &params,
        )?;
        for r in found.iter() {
            out.insert(r.string("tenant_id")?, (r.string("name")?, r.string("property_id")?));
        }
    }
    Ok(out)
}

fn count(db: &dyn Db, sql: &str, params: &[Value]) -> Result<i64> {
    Ok(db.execute(sql, params)?.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0))
}

/// A page of the inbox, newest first (by id, so messages received in the
/// same millisecond keep one order across pages).
pub fn list(db: &dyn Db, q: &InboxQuery) -> Result<InboxPage> {
    let mut filter = String::from("in_inbox = 1");
    let mut params: Vec<Value> = Vec::new();
    // The same status and matched filter over the counters (`inbox_counts`).
    let mut counted = String::from("true");
    match q.status {
        InboxStatus::Open => {
            filter.push_str(" AND handled_at IS NULL");
            counted.push_str(" AND handled = 0");
        }
        InboxStatus::Handled => {
            filter.push_str(" AND handled_at IS NOT NULL");
            counted.push_str(" AND handled = 1");
        }
        InboxStatus::All => {}
    }
    match q.matched {
        Some(true) => {
            filter.push_str(" AND tenant_ids <> '[]'");
            counted.push_str(" AND matched = 1");
        }
        Some(false) => {
            filter.push_str(" AND tenant_ids = '[]'");
            counted.push_str(" AND matched = 0");
        }
        None => {}
    }
    if let Some(t) = &q.tenant_id {
        filter.push_str(" AND EXISTS (SELECT 1 FROM json_each(inbound_messages.tenant_ids) j WHERE j.value = ?)");
        params.push(t.as_str().into());
    }
    let (in_scope, scope_params) = q.scope.and_tenant_in("j.value");
    if !in_scope.is_empty() {
        filter.push_str(&format!(" AND EXISTS (SELECT 1 FROM json_each(inbound_messages.tenant_ids) j WHERE true{in_scope})"));
        params.extend(scope_params);
    }
    let counters = db.execute(
        &format!(
            "SELECT coalesce(sum(CASE WHEN {counted} THEN n END), 0) AS total,
                    coalesce(sum(CASE WHEN unread = 1 THEN n END), 0) AS unread,
                    coalesce(sum(CASE WHEN handled = 0 THEN n END), 0) AS open
             FROM inbox_counts"
        ),
        &[],
    )?;
    let counter = |name: &str| -> Result<i64> { Ok(counters.first().map(|r| r.i64(name)).transpose()?.unwrap_or(0)) };
    // The counters know status and matched only; a tenant or a scope is
    // counted from the rows.
    let total = if q.tenant_id.is_none() && in_scope.is_empty() {
        counter("total")?
    } else {
        count(db, &format!("SELECT count(*) AS n FROM inbound_messages WHERE {filter}"), &params)?
    };
    let mut page_params = params;
    if let Some(before) = q.before {
        filter.push_str(" AND id < ?");
        page_params.push(before.into());
    }
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM inbound_messages WHERE {filter} ORDER BY id DESC {}",
            db::limit_clause(q.limit + 1, Some(q.offset))
        ),
        &page_params,
    )?;
    let more = rows.len() as i64 > q.limit;
    let names = tenant_names(db, &rows)?;
    let messages = rows.iter().take(q.limit as usize).map(|r| from_row(r, &names)).collect::<Result<Vec<_>>>()?;
    let older = if more { messages.last().map(|m| m.id.to_string()) } else { None };
    Ok(InboxPage { messages, total, unread: counter("unread")?, open: counter("open")?, older })
}

/// One inbox message; None if there is no such inbox message.
pub fn get(db: &dyn Db, id: i64) -> Result<Option<InboxMessage>> {
    let rows =
        db.execute(&format!("SELECT {COLUMNS} FROM inbound_messages WHERE id = ? AND in_inbox = 1"), &[id.into()])?;
    let names = tenant_names(db, &rows)?;
    rows.first().map(|r| from_row(r, &names)).transpose()
}

fn require(db: &dyn Db, id: i64) -> Result<InboxMessage> {
    get(db, id)?.ok_or_else(|| Error::NotFound(format!("inbox message {id} not found")))
}

/// Mark a message read (the first reader is kept). Audited when it changes.
pub fn mark_read(db: &dyn Db, id: i64, actor: &str, now: DateTime<Utc>) -> Result<InboxMessage> {
    db::transaction(db, |tx| {
        require(tx, id)?;
        let changed = tx.execute(
            "UPDATE inbound_messages SET read_at = ?, read_by = ? WHERE id = ? AND read_at IS NULL RETURNING id",
            &[time::timestamp(now).into(), actor.into(), id.into()],
        )?;
        if !changed.is_empty() {
            audit::record(tx, actor, "inbox.read", &format!("inbox:{id}"), &serde_json::json!({}), now)?;
        }
        require(tx, id)
    })
}

/// Mark a message handled (also read), or reopen it. Audited when it changes.
pub fn set_handled(db: &dyn Db, id: i64, handled: bool, actor: &str, now: DateTime<Utc>) -> Result<InboxMessage> {
    db::transaction(db, |tx| {
        require(tx, id)?;
        let at = time::timestamp(now);
        let changed = if handled {
            tx.execute(
                "UPDATE inbound_messages SET handled_at = ?, handled_by = ?,
                    read_at = coalesce(read_at, ?), read_by = coalesce(read_by, ?)
                 WHERE id = ? AND handled_at IS NULL RETURNING id",
                &[at.as_str().into(), actor.into(), at.as_str().into(), actor.into(), id.into()],
            )?
        } else {
            tx.execute(
                "UPDATE inbound_messages SET handled_at = NULL, handled_by = NULL WHERE id = ? AND handled_at IS NOT NULL RETURNING id",
                &[id.into()],
            )?
        };
        if !changed.is_empty() {
            audit::record(
                tx,
                actor,
                "inbox.handled",
                &format!("inbox:{id}"),
                &serde_json::json!({ "handled": handled }),
                now,
            )?;
        }
        require(tx, id)
    })
}

/// Undo an opt-out a reply was taken as in the tenant's own words, when a
/// person reading it finds it was not one ("stop" in another sense). Lifts
/// the number's by-customer exclusion that this very message set, records
/// who undid it and when, and audits it with the message. `Conflict` when
/// the message was a keyword (STOP is never second-guessed), was already
/// undone, did not itself set the opt-out, or a later message's opt-out is
/// the one in force. Runs its own transaction.
pub fn undo_opt_out(db: &dyn Db, id: i64, actor: &str, now: DateTime<Utc>) -> Result<InboxMessage> {
    db::transaction(db, |tx| {
        let rows = tx.execute(
            &format!("SELECT {COLUMNS} FROM inbound_messages WHERE id = ? AND in_inbox = 1"),
            &[id.into()],
        )?;
        let r = rows.first().ok_or_else(|| Error::NotFound(format!("inbox message {id} not found")))?;
        let Some(phrase) = r.opt_string("revocation_phrase")? else {
            return Err(Error::Conflict(format!("inbox message {id} was not taken as an opt-out; nothing to undo")));
        };
        if r.opt_str("undone_at")?.is_some() {
            return Err(Error::Conflict(format!("the opt-out of inbox message {id} was already undone")));
        }
        if Effect::parse(r.str("effect")?)? != Effect::OptedOut {
            return Err(Error::Conflict(format!(
                "inbox message {id} did not set the opt-out (the number was already opted out); nothing to undo"
            )));
        }
        let sid = r.string("message_sid")?;
        let from = r.string("from_address")?;
        let in_force = tx.execute(
            "SELECT source_ref FROM exclusions WHERE kind = 'number_by_customer' AND address = ?",
            &[from.as_str().into()],
        )?;
        match in_force.first().map(|x| x.opt_string("source_ref")).transpose()?.flatten() {
            Some(source) if source == sid => {}
            Some(_) => {
                return Err(Error::Conflict(format!(
                    "the opt-out in force on {from} came from a later message; undo it there or let the tenant reply START"
                )))
            }
            None => return Err(Error::Conflict(format!("{from} is not opted out any more; nothing to undo"))),
        }
        exclusions::clear_customer_opt_out_in_tx(tx, &from, now, Some(&sid))?;
        tx.execute(
            "UPDATE inbound_messages SET undone_at = ?, undone_by = ? WHERE id = ?",
            &[time::timestamp(now).into(), actor.into(), id.into()],
        )?;
        audit::record(
            tx,
            actor,
            "inbox.undo_opt_out",
            &format!("inbox:{id}"),
            &serde_json::json!({ "address": from, "message_sid": sid, "revocation_phrase": phrase }),
            now,
        )?;
        require(tx, id)
    })
}
