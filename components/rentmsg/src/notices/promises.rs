//! Promises to pay: made by the tenant on the payment page (source `link`)
//! or taken by staff on a call (source `call`).
//!
//! A promise names a date (today up to the `promise_horizon_days` setting
//! ahead, in the tenant's zone) and optionally an amount (none = the whole
//! balance at the time). Recording one, in one transaction:
//! - the promise row (an earlier active promise becomes `replaced`);
//! - a pause of automatic notices until the end of the promised date in
//!   the tenant's zone (`notice_pauses`, the hook the overdue scan and the
//!   sender read), cancelling the notices already waiting;
//! - a contact-log entry and an audit row.
//!
//! [`evaluate`] (run by every overdue scan before it reads the overdue set,
//! and by the payment webhook for its tenant) settles active promises:
//! **kept** once payments and credits since the promise cover the promised
//! amount (or the balance is settled); **broken** when the promised date
//! has ended without that, which lifts the pause so the schedule resumes
//! with the next scan. A kept promise keeps its pause until the promised
//! date ends.

use crate::base::channel::Channel;
use crate::records::contact_log::{self, Direction, NewContact};
use crate::base::db::{self, Db, Row};
use crate::base::error::{Error, Result};
use crate::records::tenants::{self, TenantStatus};
use crate::base::time;
use crate::base::locale::Language;
use crate::notices::pauses::{self, Pause, PauseKind};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Where a promise was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseSource {
    /// The tenant, on the payment page.
    Link,
    /// Staff, on a phone call with the tenant.
    Call,
}

impl PromiseSource {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PromiseSource::Link => "link",
            PromiseSource::Call => "call",
        }
    }
}

impl std::str::FromStr for PromiseSource {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "link" => Ok(PromiseSource::Link),
            "call" => Ok(PromiseSource::Call),
            other => Err(format!("promise source `{other}` is not link or call")),
        }
    }
}

/// A promise's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseStatus {
    /// Waiting for the promised date; notices are paused.
    Active,
    /// Payments since the promise covered it.
    Kept,
    /// The promised date ended without the payment; notices resumed.
    Broken,
    /// A later promise took its place while it was active.
    Replaced,
}

impl PromiseStatus {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PromiseStatus::Active => "active",
            PromiseStatus::Kept => "kept",
            PromiseStatus::Broken => "broken",
            PromiseStatus::Replaced => "replaced",
        }
    }
}

impl std::str::FromStr for PromiseStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "active" => Ok(PromiseStatus::Active),
            "kept" => Ok(PromiseStatus::Kept),
            "broken" => Ok(PromiseStatus::Broken),
            "replaced" => Ok(PromiseStatus::Replaced),
            other => Err(format!("promise status `{other}` is not known")),
        }
    }
}

/// A stored promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promise {
    /// Row id.
    pub id: i64,
    pub tenant_id: String,
    /// Promised amount in cents (None: the whole balance when promised).
    pub amount_cents: Option<i64>,
    /// The promised date (`YYYY-MM-DD`, the tenant's local date).
    pub promised_date: String,
    /// End of the promised date in the tenant's zone (RFC 3339 UTC): the
    /// pause lasts until then, and an unmet promise is broken after it.
    pub due_at: String,
    /// The balance when the promise was made.
    pub balance_cents: i64,
    /// What has to be paid since the promise for it to be kept.
    pub required_cents: i64,
    /// Payments and credits since the promise (as of reading).
    pub paid_since_cents: i64,
    /// Active, kept, broken or replaced.
    pub status: PromiseStatus,
    /// Link or call.
    pub source: PromiseSource,
    /// Who recorded it (`tenant` for the payment page, `staff:alice`...).
    pub created_by: String,
    /// When it was made (RFC 3339 UTC).
    pub created_at: String,
    /// When it became kept, broken or replaced.
    pub resolved_at: Option<String>,
}

/// A promise to record, with the contact that carried it.
#[derive(Debug, Clone)]
pub struct NewPromise<'a> {
    pub tenant_id: &'a str,
    /// Amount in cents (None: the whole balance).
    pub amount_cents: Option<i64>,
    /// The promised date (the tenant's local date).
    pub date: NaiveDate,
    /// Link or call.
    pub source: PromiseSource,
    /// Who records it.
    pub actor: &'a str,
    /// Channel and address for the contact-log entry (None: text for a
    /// link, phone for a call, at the tenant's first number on file).
    pub contact: Option<(Channel, &'a str)>,
}

/// The horizon in days (setting `promise_horizon_days`).
fn horizon_days(db: &dyn Db) -> Result<i64> {
    Ok(crate::records::settings::get(db)?.promise_horizon_days)
}

/// A tenant's time zone (own, else the property's, else UTC).
pub fn tenant_zone(db: &dyn Db, tenant: &tenants::Tenant) -> Result<Tz> {
    let property = tenants::property(db, &tenant.property_id)?;
    Ok(tenants::effective(tenant, property.as_ref()).time_zone)
}

/// The first moment after `date` in `zone`, in UTC (the end of that day).
pub fn end_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let next = date + Duration::days(1);
    let midnight = next.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A DST gap at midnight: the first valid moment after it.
    let mut t = midnight;
    for _ in 0..4 {
        if let Some(instant) = time::from_local(t, zone).earliest() {
            return instant;
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&midnight)
}

/// Dates a promise may name today, in the tenant's zone: `(first, last)`.
pub fn allowed_dates(db: &dyn Db, zone: Tz, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate)> {
    let today = time::local_date(now, zone);
    Ok((today, today + Duration::days(horizon_days(db)?)))
}

/// Record a promise (see the module docs). `actor` is who records it
/// (`tenant` for the payment page, `staff:alice` for a call). Runs its own
/// transaction; returns the new promise.
///
/// Fails with `Invalid` for a date outside today .. today + horizon (the
/// tenant's zone) or an amount not in 1 cent .. the balance, `Conflict`
/// when nothing is owed or when a tenant on stop status promises through
/// the link, `NotFound` for an unknown tenant.
pub fn record(
    db: &dyn Db,
    tenant_id: &str,
    amount_cents: Option<i64>,
    date: NaiveDate,
    source: PromiseSource,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Promise> {
    record_new(db, &NewPromise { tenant_id, amount_cents, date, source, actor, contact: None }, now)
}

/// Why a promise made on the payment page is refused, for the tenant's
/// own words ([`refusal_text`]); the staff API keeps the English errors of
/// [`record_in_tx`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The account is on stop status.
    Stop,
    /// The date is before the first allowed one (written out).
    TooEarly(String),
    /// The date is after the last allowed one (written out).
    TooLate(String),
    /// Nothing is owed.
    Settled,
    /// Zero or less.
    NotPositive,
    /// More than the balance (formatted).
    OverBalance(String),
    /// Anything else (the page changed under the form).
    Other,
}

/// What the tenant reads when a promise is refused, in `lang`.
pub fn refusal_text(lang: Language, r: &Refusal) -> String {
    match (lang, r) {
        (Language::En, Refusal::Stop) => "This account does not take promises online. Please call the office.".into(),
        (Language::Es, Refusal::Stop) => "Esta cuenta no acepta promesas en línea. Llame a la oficina.".into(),
        (Language::Fr, Refusal::Stop) => "Ce compte n'accepte pas les promesses en ligne. Veuillez appeler le bureau.".into(),
        (Language::En, Refusal::TooEarly(d)) => format!("The promised date must be today ({d}) or later."),
        (Language::Es, Refusal::TooEarly(d)) => format!("La fecha prometida debe ser hoy ({d}) o posterior."),
        (Language::Fr, Refusal::TooEarly(d)) => format!("La date promise doit être aujourd'hui ({d}) ou plus tard."),
        (Language::En, Refusal::TooLate(d)) => format!("The promised date must be no later than {d}."),
        (Language::Es, Refusal::TooLate(d)) => format!("La fecha prometida no puede ser posterior al {d}."),
        (Language::Fr, Refusal::TooLate(d)) => format!("La date promise doit être au plus tard le {d}."),
        (Language::En, Refusal::Settled) => "The balance is settled: there is nothing to promise.".into(),
        (Language::Es, Refusal::Settled) => "El saldo está al día: no hay nada que prometer.".into(),
        (Language::Fr, Refusal::Settled) => "Le solde est réglé : il n'y a rien à promettre.".into(),
        (Language::En, Refusal::NotPositive) => "The promised amount must be more than 0.".into(),
        (Language::Es, Refusal::NotPositive) => "El monto prometido debe ser mayor que 0.".into(),
        (Language::Fr, Refusal::NotPositive) => "Le montant promis doit être supérieur à 0.".into(),
        (Language::En, Refusal::OverBalance(b)) => format!("The promised amount must not be more than the balance ({b})."),
        (Language::Es, Refusal::OverBalance(b)) => format!("El monto prometido no puede superar el saldo ({b})."),
        (Language::Fr, Refusal::OverBalance(b)) => format!("Le montant promis ne peut pas dépasser le solde ({b})."),
        (Language::En, Refusal::Other) => "The promise could not be recorded. Please reload the page and try again.".into(),
        (Language::Es, Refusal::Other) => "No se pudo registrar la promesa. Vuelva a cargar la página e inténtelo de nuevo.".into(),
        (Language::Fr, Refusal::Other) => "La promesse n'a pas pu être enregistrée. Veuillez recharger la page et réessayer.".into(),
    }
}

/// [`record`] with the contact that carried the promise.
pub fn record_new(db: &dyn Db, p: &NewPromise<'_>, now: DateTime<Utc>) -> Result<Promise> {
    if p.actor.trim().is_empty() {
        return Err(Error::Invalid("a promise needs the actor recording it".into()));
    }
    db::transaction(db, |tx| record_in_tx(tx, p, now))
}

/// [`record_new`] inside the caller's transaction (a promise taken on a
/// recorded call lands with the call or not at all).
pub fn record_in_tx(tx: &dyn Db, p: &NewPromise<'_>, now: DateTime<Utc>) -> Result<Promise> {
    let tenant = tenants::require(tx, p.tenant_id)?;
    if p.source == PromiseSource::Link && tenant.status == TenantStatus::Stop {
        return Err(Error::Conflict("this account does not take promises online; please call the office".into()));
    }
    let zone = tenant_zone(tx, &tenant)?;
    let (first, last) = allowed_dates(tx, zone, now)?;
    if p.date < first {
        return Err(Error::Invalid(format!("the promised date must be today ({first}) or later")));
    }
    if p.date > last {
        return Err(Error::Invalid(format!("the promised date must be no later than {last}")));
    }
    let rows = tx.execute(
        "SELECT balance_cents, paid_cents FROM tenant_balances WHERE tenant_id = ?",
        &[p.tenant_id.into()],
    )?;
    let (balance, paid) = match rows.first() {
        Some(r) => (r.i64("balance_cents")?, r.i64("paid_cents")?),
        None => (0, 0),
    };
    if balance <= 0 {
        return Err(Error::Conflict("the balance is settled: there is nothing to promise".into()));
    }
    if let Some(a) = p.amount_cents {
        if a <= 0 {
            return Err(Error::Invalid("the promised amount must be more than 0".into()));
        }
        if a > balance {
            return Err(Error::Invalid(format!(
                "the promised amount must not be more than the balance ({})",
                crate::base::money::format_money(balance)
            )));
        }
    }
    let stamp = time::timestamp(now);
    tx.execute(
        "UPDATE promises SET status = 'replaced', resolved_at = ? WHERE tenant_id = ? AND status = 'active'",
        &[stamp.as_str().into(), p.tenant_id.into()],
    )?;
    let due_at = end_of_day(p.date, zone);
    let date = time::date_string(p.date);
    let rows = tx.execute(
        "INSERT INTO promises (tenant_id, amount_cents, promised_date, due_at, balance_cents, paid_base_cents, status, source, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?) RETURNING id",
        &[
            p.tenant_id.into(),
            p.amount_cents.into(),
            date.as_str().into(),
            time::timestamp(due_at).into(),
            balance.into(),
            paid.into(),
            p.source.as_str().into(),
            p.actor.into(),
            stamp.as_str().into(),
        ],
    )?;
    let id = rows.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))?;
    let amount_text = match p.amount_cents {
        Some(a) => crate::base::money::format_money(a),
        None => format!("the balance of {}", crate::base::money::format_money(balance)),
    };
    let body = format!("Promise to pay {amount_text} by {date}");
    // The pause the scan and the sender read; a longer staff pause is kept.
    let reason = format!("promise #{id}: {body}");
    pauses::set_in_tx(tx, &Pause { tenant_id: p.tenant_id, until: due_at, kind: PauseKind::Promise(id), reason: &reason, actor: p.actor }, now)?;
    let cancelled = crate::notices::outbox::cancel_queued_for_tenant(tx, p.tenant_id, &format!("promise to pay by {date}"), now)?;
    let fallback;
    let (channel, address) = match p.contact {
        Some((c, a)) if !a.trim().is_empty() => (c, a),
        _ => {
            let points = tenants::contact_points(tx, p.tenant_id)?;
            let phone = points.iter().find(|c| c.kind.is_phone()).map(|c| c.address.clone());
            fallback = phone.unwrap_or_else(|| "unknown".to_owned());
            let channel = match p.source {
                PromiseSource::Link => Channel::Text,
                PromiseSource::Call => Channel::Phone,
            };
            (channel, fallback.as_str())
        }
    };
    let detail = serde_json::json!({ "promise_id": id, "source": p.source.as_str(), "promised_date": date, "amount_cents": p.amount_cents });
    contact_log::record(
        tx,
        &NewContact {
            tenant_id: Some(p.tenant_id),
            channel,
            direction: Direction::Inbound,
            address,
            body: &body,
            status: "promise",
            at: now,
            provider_id: None,
            detail: Some(&detail),
        },
    )?;
    crate::records::audit::record(
        tx,
        p.actor,
        "promise.record",
        &crate::records::audit::tenant_target(p.tenant_id),
        &serde_json::json!({ "promise_id": id, "source": p.source.as_str(), "promised_date": date,
                             "amount_cents": p.amount_cents, "cancelled_notices": cancelled }),
        now,
    )?;
    get_in(tx, id)?.ok_or_else(|| Error::Corrupt("promise vanished".into()))
}

const SELECT: &str = "SELECT p.id, p.tenant_id, p.amount_cents, p.promised_date, p.due_at, p.balance_cents, p.paid_base_cents,
        p.status, p.source, p.created_by, p.created_at, p.resolved_at, coalesce(b.paid_cents, 0) AS paid_now
    FROM promises p LEFT JOIN tenant_balances b ON b.tenant_id = p.tenant_id";

fn from_row(r: Row<'_>) -> Result<Promise> {
    let amount = r.opt_i64("amount_cents")?;
    let balance = r.i64("balance_cents")?;
    Ok(Promise {
        id: r.i64("id")?,
        tenant_id: r.string("tenant_id")?,
        amount_cents: amount,
        promised_date: r.string("promised_date")?,
        due_at: r.string("due_at")?,
        balance_cents: balance,
        required_cents: amount.unwrap_or(balance),
        paid_since_cents: (r.i64("paid_now")? - r.i64("paid_base_cents")?).max(0),
        status: r.str("status")?.parse().map_err(Error::Corrupt)?,
        source: r.str("source")?.parse().map_err(Error::Corrupt)?,
        created_by: r.string("created_by")?,
        created_at: r.string("created_at")?,
        resolved_at: r.opt_string("resolved_at")?,
    })
}

fn get_in(db: &dyn Db, id: i64) -> Result<Option<Promise>> {
    let rows = db.execute(&format!("{SELECT} WHERE p.id = ?"), &[id.into()])?;
    rows.first().map(from_row).transpose()
}

/// One promise by id.
pub fn get(db: &dyn Db, id: i64) -> Result<Option<Promise>> {
    get_in(db, id)
}

/// A tenant's promises, newest first.
pub fn list(db: &dyn Db, tenant_id: &str) -> Result<Vec<Promise>> {
    let rows = db.execute(&format!("{SELECT} WHERE p.tenant_id = ? ORDER BY p.id DESC"), &[tenant_id.into()])?;
    rows.iter().map(from_row).collect()
}

/// A tenant's active promise, if any.
pub fn active(db: &dyn Db, tenant_id: &str) -> Result<Option<Promise>> {
    let rows = db.execute(&format!("{SELECT} WHERE p.tenant_id = ? AND p.status = 'active'"), &[tenant_id.into()])?;
    rows.first().map(from_row).transpose()
}

/// A promise falling due today: active, and its date is today's date in
/// the tenant's zone (own, else the property's, else UTC). The one
/// definition the call list and the start page share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueToday {
    pub tenant_id: String,
    /// The promised date (the tenant's today).
    pub promised_date: String,
    /// The promised amount in cents: the one named, else the balance when
    /// the promise was made (what the tenant promised to pay).
    pub amount_cents: i64,
    /// End of the promised date (RFC 3339 UTC).
    pub due_at: String,
    /// The tenant's zone the date is in.
    pub time_zone: String,
}

/// Promises due today at `now` (see [`DueToday`]), oldest first, of the
/// tenants `tenant_filter` (` AND ...` on `x.tenant_id`, with its
/// parameters) admits.
pub fn due_today(db: &dyn Db, now: DateTime<Utc>, tenant_filter: &str, filter_params: Vec<db::Value>) -> Result<Vec<DueToday>> {
    // Every zone's date is within a day of the UTC date; the exact local
    // date is settled per tenant below.
    let utc = now.date_naive();
    let mut params: Vec<db::Value> = vec![time::date_string(utc - Duration::days(1)).into(), time::date_string(utc + Duration::days(1)).into()];
    params.extend(filter_params);
    let rows = db.execute(
        &format!(
            "SELECT x.tenant_id, x.promised_date, coalesce(x.amount_cents, x.balance_cents) AS amount, x.due_at, t.time_zone AS own_zone, p.time_zone AS property_zone
             FROM promises x JOIN tenants t ON t.tenant_id = x.tenant_id LEFT JOIN properties p ON p.property_id = t.property_id
             WHERE x.status = 'active' AND x.promised_date BETWEEN ? AND ?{tenant_filter} ORDER BY x.id"
        ),
        &params,
    )?;
    let mut due = Vec::new();
    for r in rows.iter() {
        let zone = [r.opt_str("own_zone")?, r.opt_str("property_zone")?]
            .into_iter()
            .flatten()
            .find_map(|z| crate::base::normalize::time_zone(z).ok())
            .unwrap_or(chrono_tz::UTC);
        let promised_date = r.string("promised_date")?;
        if promised_date == time::date_string(time::local_date(now, zone)) {
            due.push(DueToday {
                tenant_id: r.string("tenant_id")?,
                promised_date,
                amount_cents: r.i64("amount")?,
                due_at: r.string("due_at")?,
                time_zone: zone.name().to_owned(),
            });
        }
    }
    Ok(due)
}

/// What an evaluation changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Promises newly kept.
    pub kept: usize,
    /// Promises newly broken (their pauses lifted).
    pub broken: usize,
}

/// Settle every active promise at `now` (see the module docs). Runs its
/// own transaction.
pub fn evaluate(db: &dyn Db, now: DateTime<Utc>) -> Result<Evaluation> {
    db::transaction(db, |tx| evaluate_in_tx(tx, None, now))
}

/// [`evaluate`] for one tenant (after a payment). Runs its own transaction.
pub fn evaluate_tenant(db: &dyn Db, tenant_id: &str, now: DateTime<Utc>) -> Result<Evaluation> {
    db::transaction(db, |tx| evaluate_in_tx(tx, Some(tenant_id), now))
}

/// [`evaluate`] inside the caller's transaction (`tenant`: only that one).
pub fn evaluate_in_tx(tx: &dyn Db, tenant: Option<&str>, now: DateTime<Utc>) -> Result<Evaluation> {
    let promises = active_rows(tx, tenant)?;
    let stamp = time::timestamp(now);
    let mut out = Evaluation::default();
    for (p, balance_now) in promises {
        let met = balance_now <= 0 || p.paid_since_cents >= p.required_cents;
        let due = time::parse_timestamp(&p.due_at).ok_or_else(|| Error::Corrupt("promise due_at is not a timestamp".into()))?;
        let (status, action) = if met {
            (PromiseStatus::Kept, "promise.kept")
        } else if now >= due {
            (PromiseStatus::Broken, "promise.broken")
        } else {
            continue;
        };
        tx.execute(
            "UPDATE promises SET status = ?, resolved_at = ? WHERE id = ? AND status = 'active'",
            &[status.as_str().into(), stamp.as_str().into(), p.id.into()],
        )?;
        if status == PromiseStatus::Broken {
            out.broken += 1;
            // Lift this promise's pause (not a later one set by staff).
            pauses::lift_promise_in_tx(tx, &p.tenant_id, p.id)?;
            crate::records::notes::add(
                tx,
                &p.tenant_id,
                "promise",
                &format!(
                    "Promise to pay {} by {} was not kept ({} paid since); automatic notices resume.",
                    crate::base::money::format_money(p.required_cents),
                    p.promised_date,
                    crate::base::money::format_money(p.paid_since_cents)
                ),
                "system",
                now,
            )?;
        } else {
            out.kept += 1;
        }
        crate::records::audit::record(
            tx,
            "system",
            action,
            &crate::records::audit::tenant_target(&p.tenant_id),
            &serde_json::json!({ "promise_id": p.id, "required_cents": p.required_cents, "paid_since_cents": p.paid_since_cents }),
            now,
        )?;
    }
    Ok(out)
}

fn active_rows(tx: &dyn Db, tenant: Option<&str>) -> Result<Vec<(Promise, i64)>> {
    let sql = format!(
        "SELECT q.*, coalesce(bb.balance_cents, 0) AS balance_now FROM ({SELECT} WHERE p.status = 'active'{}) q
         LEFT JOIN tenant_balances bb ON bb.tenant_id = q.tenant_id",
        if tenant.is_some() { " AND p.tenant_id = ?" } else { "" }
    );
    let params: Vec<crate::base::db::Value> = tenant.map(|t| vec![t.into()]).unwrap_or_default();
    let rows = tx.execute(&sql, &params)?;
    rows.iter().map(|r| Ok((from_row(r)?, r.i64("balance_now")?))).collect()
}
