//! Gathering the facts for one proposed contact and deciding it.
//!
//! A handful of indexed reads: the tenant with its property, its contact
//! points, consent events, exclusions touching it or the target address,
//! the controls that can apply, and only the part of the contact log that a
//! limit or hold-for can see (own contacts, plus the group's when a control
//! applies to the group).

use super::controls::{self, Control};
use super::decide::{self, Facts, PastContact, Proposed, Target};
use super::{store, CheckError, CheckRequest, Decision};
use crate::channel::Channel;
use crate::consent;
use crate::db::{Db, DbError};
use crate::error::Error;
use crate::normalize;
use crate::tenants::ContactKind;
use crate::time;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// Contact statuses that mean the contact never reached anyone (not counted).
const NOT_MADE: &str = "('failed', 'canceled', 'cancelled', 'blocked', 'rejected', 'deferred', 'skipped')";

impl From<Error> for CheckError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => CheckError::UnknownTenant(m),
            Error::Invalid(m) => CheckError::Invalid(m),
            other => CheckError::Unavailable(other.to_string()),
        }
    }
}

impl From<DbError> for CheckError {
    fn from(e: DbError) -> Self {
        CheckError::Unavailable(e.to_string())
    }
}

/// Decide one proposed contact against the database: load the facts and
/// the controls, run [`decide::decide`]. Reads only; if the schema is not
/// there yet it is migrated first.
pub fn check(db: &dyn Db, req: &CheckRequest) -> Result<Decision, CheckError> {
    match check_once(db, req) {
        Err(CheckError::Unavailable(m)) if m.contains("no such table") || m.contains("no such column") => {
            crate::schema::migrate(db, req.at)?;
            check_once(db, req)
        }
        other => other,
    }
}

fn check_once(db: &dyn Db, req: &CheckRequest) -> Result<Decision, CheckError> {
    let (facts, rules) = load(db, req)?;
    Ok(decide::decide(&facts, &Proposed { channel: req.channel, at: req.at, manual: req.manual }, &rules))
}

/// The facts and controls for one request (tests and benchmarks use this
/// to run the core on its own).
pub fn load(db: &dyn Db, req: &CheckRequest) -> Result<(Facts, Vec<Control>), CheckError> {
    let rows = db.execute(
        "SELECT t.tenant_id, t.state, t.country, t.time_zone, t.group_id,
                p.time_zone AS property_time_zone, p.state AS property_state, p.country AS property_country
         FROM tenants t LEFT JOIN properties p ON p.property_id = t.property_id WHERE t.tenant_id = ?",
        &[req.tenant_id.as_str().into()],
    )?;
    let Some(row) = rows.first() else {
        return Err(CheckError::UnknownTenant(format!("tenant `{}` not found", req.tenant_id)));
    };
    let own_zone = row.opt_str("time_zone")?;
    let property_zone = row.opt_str("property_time_zone")?;
    // The tenant's own zone, else the property's; a zone that is set but not
    // a valid IANA name is unknown, and unknown fails closed.
    let time_zone: Option<Tz> = match own_zone.or(property_zone) {
        Some(name) => Tz::from_str(name).ok(),
        None => None,
    };
    let state = row.opt_string("state")?.or(row.opt_string("property_state")?);
    let country = row
        .opt_string("country")?
        .or(row.opt_string("property_country")?)
        .unwrap_or_else(|| normalize::DEFAULT_COUNTRY.to_owned());
    let group_id = row.opt_string("group_id")?;

    let points = crate::tenants::contact_points(db, &req.tenant_id)?;
    let target = resolve_target(req, &points, &country)?;

    let consent = consent::events(db, &req.tenant_id)?;

    let target_address = match &target {
        Target::Point { address, .. } => Some(address.as_str()),
        _ => None,
    };
    let ex = db.execute(
        "SELECT kind, tenant_id FROM exclusions
         WHERE (tenant_id = ? AND address IS NULL)
            OR (address = ? AND (kind = 'number_by_customer' OR tenant_id = ?))",
        &[req.tenant_id.as_str().into(), target_address.into(), req.tenant_id.as_str().into()],
    )?;
    let mut facts = Facts {
        tenant_id: req.tenant_id.clone(),
        time_zone,
        state,
        country,
        target,
        consent,
        bankruptcy: false,
        disable_texting_auto_calls: false,
        disable_auto_communications: false,
        excluded_by_customer: false,
        excluded_by_user: false,
        history: Vec::new(),
    };
    for r in ex.iter() {
        match r.str("kind")? {
            "bankruptcy" => facts.bankruptcy = true,
            "disable_texting_auto_calls" => facts.disable_texting_auto_calls = true,
            "disable_auto_communications" => facts.disable_auto_communications = true,
            "number_by_customer" => facts.excluded_by_customer = true,
            "number_by_user" => facts.excluded_by_user = true,
            other => return Err(CheckError::Unavailable(format!("unknown exclusion kind `{other}`"))),
        }
    }

    let rules = store::rules_for(db, req.channel, facts.state.as_deref(), &facts.country)?;
    facts.history = history(db, req, &facts, &rules, group_id.as_deref())?;
    Ok((facts, rules))
}

fn resolve_target(req: &CheckRequest, points: &[crate::tenants::ContactPoint], country: &str) -> Result<Target, CheckError> {
    let given = req.address.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let point_target = |p: &crate::tenants::ContactPoint| Target::Point {
        address: p.address.clone(),
        kind: p.kind,
        zones: if p.kind.is_phone() { super::zones::zones_for_number(&p.address).to_vec() } else { Vec::new() },
    };
    let preference: &[ContactKind] = match req.channel {
        Channel::Letter => {
            if given.is_some() {
                return Err(CheckError::Invalid("letters take no address; leave address out".into()));
            }
            return Ok(Target::Postal);
        }
        Channel::Text => &[ContactKind::MobilePhone],
        Channel::Phone => &[ContactKind::MobilePhone, ContactKind::HomePhone, ContactKind::WorkPhone],
        Channel::Email => &[ContactKind::Email, ContactKind::WorkEmail],
    };
    let Some(raw) = given else {
        return Ok(preference
            .iter()
            .find_map(|k| points.iter().find(|p| p.kind == *k))
            .map_or(Target::Missing, point_target));
    };
    let address = if req.channel == Channel::Email {
        if !normalize::looks_like_email(raw) {
            return Err(CheckError::Invalid("channel email needs an email address".into()));
        }
        normalize::email(raw).map_err(CheckError::Invalid)?
    } else {
        if normalize::looks_like_email(raw) {
            return Err(CheckError::Invalid(format!("channel {} needs a phone number, not an email address", req.channel.as_str())));
        }
        normalize::phone_e164(raw, country).map_err(CheckError::Invalid)?
    };
    let wanted_phone = req.channel.uses_phone();
    Ok(points
        .iter()
        .find(|p| p.address == address && p.kind.is_phone() == wanted_phone)
        .map_or(Target::NotOnFile { address }, point_target))
}

/// The part of the contact log the rules can see.
fn history(
    db: &dyn Db,
    req: &CheckRequest,
    facts: &Facts,
    rules: &[Control],
    group_id: Option<&str>,
) -> Result<Vec<PastContact>, CheckError> {
    let applicable = controls::applicable(rules, req.channel, facts.state.as_deref(), &facts.country);
    let mut back = 0i64;
    let mut forward = 0i64;
    let mut group = false;
    for c in &applicable.limits {
        if let Some(l) = &c.limit {
            let p = i64::from(l.period_days);
            back = back.max(p);
            forward = forward.max(3 * p + 2);
            group |= c.apply_to_group;
        }
    }
    if req.channel == Channel::Phone {
        for c in &applicable.hold_for {
            back = back.max(i64::from(c.hold_for_days.unwrap_or(0)));
            group |= c.apply_to_group;
        }
    }
    if back == 0 && forward == 0 {
        return Ok(Vec::new());
    }
    // Two days of slack on each side covers any zone offset; the core
    // works out exact local days.
    let from = time::timestamp(req.at - Duration::days(back + 2));
    let to = time::timestamp(req.at + Duration::days(forward + 2));
    let select = "SELECT l.at, l.channel, l.direction, l.tenant_id,
                         coalesce(l.call_result, json_extract(l.detail, '$.call_result')) AS call_result,
                         cp.kind AS kind
                  FROM contact_log l
                  LEFT JOIN contact_points cp ON cp.tenant_id = l.tenant_id AND cp.address = l.address";
    let rows = if group {
        // Group: same group id, or sharing a phone number or email (co-signers).
        db.execute(
            &format!(
                "{select}
                 WHERE l.at >= ? AND l.at < ? AND l.status NOT IN {NOT_MADE}
                   AND (l.tenant_id = ?
                        OR l.tenant_id IN (SELECT tenant_id FROM tenants WHERE group_id = ?)
                        OR l.tenant_id IN (SELECT o.tenant_id FROM contact_points o
                                           JOIN contact_points m ON m.address = o.address
                                           WHERE m.tenant_id = ?))
                 ORDER BY l.at, l.id"
            ),
            &[from.into(), to.into(), req.tenant_id.as_str().into(), group_id.into(), req.tenant_id.as_str().into()],
        )?
    } else {
        db.execute(
            &format!(
                "{select}
                 WHERE l.tenant_id = ? AND l.at >= ? AND l.at < ? AND l.status NOT IN {NOT_MADE}
                 ORDER BY l.at, l.id"
            ),
            &[req.tenant_id.as_str().into(), from.into(), to.into()],
        )?
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let Some(at) = time::parse_timestamp(r.str("at")?) else {
            return Err(CheckError::Unavailable("a contact log time is not RFC 3339".into()));
        };
        let call_result = match r.value("call_result")? {
            crate::db::Value::Integer(i) => Some(*i),
            crate::db::Value::Text(s) => s.trim().parse().ok(),
            crate::db::Value::Real(f) => Some(*f as i64),
            _ => None,
        };
        out.push(PastContact {
            at,
            channel: r.str("channel")?.parse().map_err(CheckError::Unavailable)?,
            outbound: r.str("direction")? == "outbound",
            kind: r.opt_str("kind")?.and_then(|k| k.parse().ok()),
            call_result,
            own: r.opt_str("tenant_id")? == Some(req.tenant_id.as_str()),
        });
    }
    // Stored times sort as text; parse order is the same, but be exact.
    out.sort_by_key(|c| c.at);
    Ok(out)
}

/// Parse an RFC 3339 time for a request (`at`).
pub fn parse_at(s: &str) -> Result<DateTime<Utc>, CheckError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CheckError::Invalid(format!("`{s}` is not an RFC 3339 time like 2024-05-01T14:00:00Z")))
}
