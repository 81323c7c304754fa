//! `POST /webhooks/payments`: Stripe-style signed events.
//!
//! After the signature ([`super::signature`]), one transaction per event:
//! the event id goes into `payment_events` first (a retried or duplicated
//! event finds it and changes nothing). `checkout.session.completed` with
//! `payment_status = paid` and `checkout.session.async_payment_succeeded`
//! settle: the payment goes on the ledger once per checkout session
//! (reference `checkout:<session id>`, so both events, in any order, record
//! it once), the session is marked paid, the payment is logged on the
//! tenant's contact history, queued notices are cancelled when the balance
//! is settled, and the tenant's promise is checked. Other event types are
//! answered 200 and ignored (nothing stored).

use crate::base::channel::Channel;
use crate::records::contact_log::{self, Direction, NewContact};
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::records::ledger::{self, EntryKind, NewPayment};
use crate::base::time;
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

/// Who writes the ledger entries (`ledger_entries.source`) and audit rows.
const SOURCE: &str = "payments";

/// What an event did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `recorded`, `already_recorded`, `duplicate`, `ignored`, `not_paid`,
    /// `unknown_tenant`.
    pub effect: String,
    pub event_id: String,
    pub event_type: String,
    /// The tenant, when the event named a known one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The amount recorded, in cents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<i64>,
    /// Queued notices cancelled because the balance is settled.
    pub cancelled_notices: usize,
}

/// The event types that settle.
const SETTLING: [&str; 2] = ["checkout.session.completed", "checkout.session.async_payment_succeeded"];

/// Process one verified event body. `Err(Invalid)` for a body that is not
/// an event (the caller answers 400).
pub fn process(db: &dyn Db, body: &[u8], now: DateTime<Utc>) -> Result<Outcome> {
    let event: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::Invalid(format!("the body is not a JSON event: {e}")))?;
    let event_id = event["id"]
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| Error::Invalid("the event has no id".into()))?
        .to_owned();
    let event_type =
        event["type"].as_str().ok_or_else(|| Error::Invalid("the event has no type".into()))?.chars().take(100).collect::<String>();
    let mut out = Outcome {
        effect: "ignored".into(),
        event_id: event_id.clone(),
        event_type: event_type.clone(),
        tenant_id: None,
        amount_cents: None,
        cancelled_notices: 0,
    };
    if !SETTLING.contains(&event_type.as_str()) {
        return Ok(out);
    }
    let object = &event["data"]["object"];
    let session_id = object["id"].as_str().filter(|s| !s.is_empty() && s.len() <= 255).map(str::to_owned);
    let tenant = object["metadata"]["tenant_id"].as_str().or(object["client_reference_id"].as_str()).map(str::to_owned);
    let notice_id = object["metadata"]["notice_id"].as_str().and_then(|s| s.parse::<i64>().ok());
    let amount = object["amount_total"].as_i64();
    let paid = event_type == SETTLING[1] || object["payment_status"].as_str() == Some("paid");
    let created = event["created"].as_i64().and_then(|t| Utc.timestamp_opt(t, 0).single()).unwrap_or(now);
    let session_id = session_id.ok_or_else(|| Error::Invalid("the checkout session has no id".into()))?;
    db::transaction(db, |tx| {
        let rows = tx.execute(
            "INSERT INTO payment_events (event_id, event_type, tenant_id, session_id, amount_cents, effect, received_at)
             VALUES (?, ?, ?, ?, ?, 'processing', ?) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            &[
                event_id.as_str().into(),
                event_type.as_str().into(),
                tenant.as_deref().into(),
                session_id.as_str().into(),
                amount.into(),
                time::timestamp(now).into(),
            ],
        )?;
        if rows.is_empty() {
            out.effect = "duplicate".into();
            return Ok(());
        }
        out.effect = settle(tx, &mut out, tenant.as_deref(), &session_id, notice_id, amount, paid, created, now)?.into();
        tx.execute(
            "UPDATE payment_events SET effect = ?, tenant_id = ? WHERE event_id = ?",
            &[out.effect.as_str().into(), out.tenant_id.as_deref().into(), event_id.as_str().into()],
        )?;
        Ok::<(), Error>(())
    })?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn settle(
    tx: &dyn Db,
    out: &mut Outcome,
    tenant: Option<&str>,
    session_id: &str,
    notice_id: Option<i64>,
    amount: Option<i64>,
    paid: bool,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<&'static str> {
    if !paid {
        return Ok("not_paid");
    }
    // The session we created knows the tenant even if metadata was lost.
    let known = tx.execute("SELECT tenant_id, outbox_id FROM checkout_sessions WHERE session_id = ?", &[session_id.into()])?;
    let (tenant, notice_id) = match known.first() {
        Some(r) => (Some(r.string("tenant_id")?), Some(r.i64("outbox_id")?)),
        None => (tenant.map(str::to_owned), notice_id),
    };
    let Some(tenant) = tenant else { return Ok("unknown_tenant") };
    let Some(t) = crate::records::tenants::get(tx, &tenant)? else { return Ok("unknown_tenant") };
    out.tenant_id = Some(tenant.clone());
    let Some(amount) = amount.filter(|a| *a > 0) else {
        return Err(Error::Invalid("the checkout session has no positive amount_total".into()));
    };
    let zone = crate::notices::promises::tenant_zone(tx, &t)?;
    let reference = format!("checkout:{session_id}");
    let new = ledger::record_payment(
        tx,
        &NewPayment {
            tenant_id: &tenant,
            reference: &reference,
            kind: EntryKind::Payment,
            date: time::local_date(created, zone),
            amount_cents: amount,
            source: SOURCE,
        },
        now,
    )?;
    if !new {
        return Ok("already_recorded");
    }
    out.amount_cents = Some(amount);
    tx.execute(
        "UPDATE checkout_sessions SET status = 'paid', paid_at = ? WHERE session_id = ?",
        &[time::timestamp(now).into(), session_id.into()],
    )?;
    // Logged on the tenant: on the channel and address of the notice whose
    // link was used, when known.
    let notice = match notice_id {
        Some(id) => tx.execute("SELECT channel, address FROM outbox WHERE id = ? AND tenant_id = ?", &[id.into(), tenant.as_str().into()])?,
        None => crate::base::db::Rows::default(),
    };
    let (channel, address) = match notice.first() {
        Some(r) => (r.str("channel")?.parse::<Channel>().map_err(Error::Corrupt)?, r.opt_string("address")?),
        None => (Channel::Text, None),
    };
    let address = address.unwrap_or_else(|| "payment link".to_owned());
    let body = format!("Online payment of {} received", crate::base::money::format_money(amount));
    let detail = serde_json::json!({ "checkout_session": session_id, "notice_id": notice_id, "amount_cents": amount });
    contact_log::record(
        tx,
        &NewContact {
            tenant_id: Some(&tenant),
            channel,
            direction: Direction::Inbound,
            address: &address,
            body: &body,
            status: "payment",
            at: now,
            provider_id: None,
            detail: Some(&detail),
        },
    )?;
    let balance = crate::records::balances::get(tx, &tenant)?.map_or(0, |b| b.balance_cents);
    if balance <= 0 {
        out.cancelled_notices = crate::notices::outbox::cancel_queued_for_tenant(tx, &tenant, "balance settled by online payment", now)?;
    }
    crate::notices::promises::evaluate_in_tx(tx, Some(&tenant), now)?;
    crate::records::audit::record(
        tx,
        SOURCE,
        "payment.recorded",
        &crate::records::audit::tenant_target(&tenant),
        &serde_json::json!({ "checkout_session": session_id, "amount_cents": amount, "event_id": out.event_id,
                             "balance_cents": balance, "cancelled_notices": out.cancelled_notices }),
        now,
    )?;
    Ok("recorded")
}
