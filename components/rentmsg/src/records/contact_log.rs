//! The contact log: every message and call, outbound and inbound, on the
//! tenant it concerns. Written by outbound-send, inbound-webhook and the
//! staff call results; read by the staff API (newest first) and by the
//! compliance rules (frequency limits).

use crate::base::channel::Channel;
use crate::base::db::{self, Db, Row};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Which way a contact went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From us to the tenant.
    Outbound,
    /// From the tenant to us.
    Inbound,
}

impl Direction {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "outbound" => Ok(Direction::Outbound),
            "inbound" => Ok(Direction::Inbound),
            other => Err(format!("direction `{other}` is not outbound or inbound")),
        }
    }
}

/// A contact to record.
#[derive(Debug, Clone)]
pub struct NewContact<'a> {
    /// The tenant, if known (inbound from an unknown number: None).
    pub tenant_id: Option<&'a str>,
    /// Text, email, phone or letter.
    pub channel: Channel,
    /// Outbound or inbound.
    pub direction: Direction,
    /// E.164 number, email address, or postal label for letters.
    pub address: &'a str,
    /// Message text, email subject + body, or call summary.
    pub body: &'a str,
    /// Provider or workflow status (`queued`, `sent`, `delivered`, `failed`,
    /// `received`, `completed`, call result code...).
    pub status: &'a str,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Provider message id (Twilio SID, Postmark MessageID), for status callbacks.
    pub provider_id: Option<&'a str>,
    /// Anything else (template, notice stage, call result code...).
    pub detail: Option<&'a serde_json::Value>,
}

/// A logged contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    /// Row id.
    pub id: i64,
    /// The tenant, if known.
    pub tenant_id: Option<String>,
    /// Text, email, phone or letter.
    pub channel: Channel,
    /// Outbound or inbound.
    pub direction: Direction,
    /// E.164 number, email address, or postal label for letters.
    pub address: String,
    /// Message text, email subject + body, or call summary.
    pub body: String,
    /// Provider or workflow status, as recorded.
    pub status: String,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Provider message id, which status callbacks refer to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Anything else recorded (template, notice stage, call result code...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// Record a contact; returns its id. One statement: safe inside or outside
/// a transaction.
pub fn record(db: &dyn Db, c: &NewContact<'_>) -> Result<i64> {
    if c.address.trim().is_empty() {
        return Err(Error::Invalid("contact address is empty".into()));
    }
    if c.status.trim().is_empty() {
        return Err(Error::Invalid("contact status is empty".into()));
    }
    let rows = db.execute(
        "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, provider_id, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        &[
            c.tenant_id.into(),
            c.channel.as_str().into(),
            c.direction.as_str().into(),
            c.address.into(),
            c.body.into(),
            c.status.into(),
            time::timestamp(c.at).into(),
            c.provider_id.into(),
            c.detail.map(|d| d.to_string()).into(),
        ],
    )?;
    rows.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))
}

fn contact_from_row(r: Row<'_>) -> Result<Contact> {
    Ok(Contact {
        id: r.i64("id")?,
        tenant_id: r.opt_string("tenant_id")?,
        channel: r.str("channel")?.parse().map_err(Error::Corrupt)?,
        direction: r.str("direction")?.parse().map_err(Error::Corrupt)?,
        address: r.string("address")?,
        body: r.string("body")?,
        status: r.string("status")?,
        at: r.string("at")?,
        provider_id: r.opt_string("provider_id")?,
        detail: r.opt_str("detail")?.and_then(|d| serde_json::from_str(d).ok()),
    })
}

/// A tenant's contacts, newest first (by time, then by id). `limit` None = all.
pub fn for_tenant(db: &dyn Db, tenant_id: &str, limit: Option<i64>) -> Result<Vec<Contact>> {
    let rows = db.execute(
        &format!(
            "SELECT id, tenant_id, channel, direction, address, body, status, at, provider_id, detail
             FROM contact_log WHERE tenant_id = ? ORDER BY at DESC, id DESC {}",
            db::limit_clause(limit.unwrap_or(-1), None)
        ),
        &[tenant_id.into()],
    )?;
    rows.iter().map(contact_from_row).collect()
}

/// These contact-log rows (any order).
pub fn by_ids(db: &dyn Db, ids: &[i64]) -> Result<Vec<Contact>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(db::MAX_PARAMS) {
        let params: Vec<db::Value> = chunk.iter().map(|i| db::Value::Integer(*i)).collect();
        let rows = db.execute(
            &format!(
                "SELECT id, tenant_id, channel, direction, address, body, status, at, provider_id, detail FROM contact_log WHERE id IN ({})",
                db::placeholders(chunk.len())
            ),
            &params,
        )?;
        for r in rows.iter() {
            out.push(contact_from_row(r)?);
        }
    }
    Ok(out)
}
