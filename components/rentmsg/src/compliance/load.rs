//! Gathering the facts for one proposed contact and deciding it.
//!
//! One statement reads everything (`FACTS_SQL`), so a check inside a
//! component costs a single host round trip after the schema check;
//! parsed controls are cached by their stored text. The core then decides
//! ([`decide::decide`]).
//!
//! A number (or email) the tenant has on file under several kinds is one
//! contact point: every contact to it counts once, under one kind, decided
//! by the address whichever column was dialled. Phones: mobile, then home,
//! then work. 940 CMR 7.04(1)(f) puts the debtor's "cellular telephone, or
//! other telephone number provided by the debtor as his or her personal
//! telephone number" in the 2-per-7-days bucket, so a number the tenant gave
//! as mobile or home is personal even when it is also the work number.
//! Emails: work first, because 12 CFR 1006.22(f)(3) turns on whether the
//! address is known to be employer-provided. [`point_rank`] and the
//! `ORDER BY` in `FACTS_SQL` state the same order.

use super::controls::{Control, ControlSpec};
use super::decide::{self, CarrierInvalid, Facts, PastContact, Proposed, Target};
use super::{CheckError, CheckRequest, Decision};
use crate::base::channel::Channel;
use crate::records::consent::{ConsentEvent, ConsentStatus};
use crate::base::db::{Db, DbError};
use crate::base::error::Error;
use crate::base::normalize;
use crate::records::tenants::ContactKind;
use crate::base::time;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;

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

/// Decide one proposed contact against the database: bring the schema up to
/// date ([`crate::schema::migrate`], one statement when it is current), load
/// the facts and the controls, run [`decide::decide`].
pub fn check(db: &dyn Db, req: &CheckRequest) -> Result<Decision, CheckError> {
    crate::schema::migrate(db, req.at)?;
    check_once(db, req)
}

fn check_once(db: &dyn Db, req: &CheckRequest) -> Result<Decision, CheckError> {
    let (facts, rules) = load(db, req)?;
    Ok(decide::decide(&facts, &Proposed { channel: req.channel, at: req.at, manual: req.manual }, &rules))
}

/// Everything about the tenant in one statement (one host round trip
/// inside a component):
/// - the tenant with its property;
/// - its contact points, consent events, the exclusions touching it or
///   its addresses, and the carrier's states of its numbers;
/// - the enabled controls that can apply (its region; its channel, and the
///   phone controls that define call codes);
/// - the part of the contact log those controls can see: from the longest
///   period or hold-for back to three periods ahead (a deferral looks
///   ahead), own contacts plus, when a control applies to the group, those
///   of the group (same group id, or sharing a number or email);
///   contacts that never went out are left out.
///
/// Parameters: ?1 tenant, ?2 channel, ?3 the time (RFC 3339 UTC).
const FACTS_SQL: &str = "WITH
    tn AS (SELECT t.state, t.country, t.time_zone, t.group_id,
                  p.time_zone AS property_time_zone, p.state AS property_state, p.country AS property_country
           FROM tenants t LEFT JOIN properties p ON p.property_id = t.property_id WHERE t.tenant_id = ?1),
    ctl AS MATERIALIZED (
            SELECT c.key, c.spec, coalesce(c.period_days, 0) AS period, coalesce(c.hold_for_days, 0) AS hold,
                   c.apply_to_group AS grp
            FROM contact_controls c, tn
            WHERE c.enabled = 1 AND (c.channel = ?2 OR c.channel = 'phone')
              AND (c.state IS NULL OR c.state = coalesce(tn.state, tn.property_state))
              AND (c.country IS NULL OR c.country = coalesce(tn.country, tn.property_country, 'US'))),
    win AS (SELECT coalesce(max(max(period, hold)), 0) AS back, coalesce(max(period), 0) AS ahead,
                   coalesce(max(CASE WHEN period > 0 OR hold > 0 THEN grp ELSE 0 END), 0) AS grp
            FROM ctl),
    grp AS (SELECT tenant_id FROM tenants
            WHERE (SELECT grp FROM win) AND group_id = (SELECT group_id FROM tn) AND tenant_id <> ?1
            UNION
            SELECT o.tenant_id FROM contact_points o JOIN contact_points m ON m.address = o.address
            WHERE (SELECT grp FROM win) AND m.tenant_id = ?1 AND o.tenant_id <> ?1),
    hist AS (SELECT l.* FROM win, contact_log l
             WHERE win.back > 0 AND l.tenant_id = ?1
               AND l.at >= strftime('%Y-%m-%dT%H:%M:%fZ', ?3, '-' || (win.back + 2) || ' days')
               AND l.at < strftime('%Y-%m-%dT%H:%M:%fZ', ?3, '+' || (3 * win.ahead + 4) || ' days')
             UNION ALL
             SELECT l.* FROM win, grp, contact_log l
             WHERE win.back > 0 AND l.tenant_id = grp.tenant_id
               AND l.at >= strftime('%Y-%m-%dT%H:%M:%fZ', ?3, '-' || (win.back + 2) || ' days')
               AND l.at < strftime('%Y-%m-%dT%H:%M:%fZ', ?3, '+' || (3 * win.ahead + 4) || ' days'))
SELECT
    (SELECT json_object('state', state, 'country', country, 'time_zone', time_zone, 'group_id', group_id,
                        'property_time_zone', property_time_zone, 'property_state', property_state,
                        'property_country', property_country) FROM tn) AS tenant,
    (SELECT json_group_array(json_array(kind, address)) FROM contact_points WHERE tenant_id = ?1) AS points,
    (SELECT json_group_array(json_array(id, channel, address, status, evidence, actor, source, at))
     FROM consent_events WHERE tenant_id = ?1) AS consent,
    (SELECT json_group_array(json_array(kind, address)) FROM exclusions
     WHERE (tenant_id = ?1 AND address IS NULL)
        OR (address IN (SELECT address FROM contact_points WHERE tenant_id = ?1)
            AND (kind = 'number_by_customer' OR tenant_id = ?1))) AS exclusions,
    (SELECT json_group_array(json_array(address, state, error_code, set_at)) FROM sms_number_states
     WHERE address IN (SELECT address FROM contact_points WHERE tenant_id = ?1)) AS number_states,
    (SELECT json_group_array(json_array(key, spec)) FROM ctl) AS controls,
    (SELECT json_group_array(json_array(l.at, l.channel, l.direction, l.tenant_id = ?1,
                                        coalesce(l.call_result, json_extract(l.detail, '$.call_result')),
                                        (SELECT p.kind FROM contact_points p WHERE p.tenant_id = l.tenant_id AND p.address = l.address
                                         ORDER BY CASE p.kind WHEN 'mobile_phone' THEN 1 WHEN 'home_phone' THEN 2
                                                  WHEN 'work_phone' THEN 3 WHEN 'work_email' THEN 4 ELSE 5 END
                                         LIMIT 1)))
     FROM hist l
     WHERE l.status NOT IN ('failed', 'canceled', 'cancelled', 'blocked', 'rejected', 'deferred', 'skipped')) AS history";

fn corrupt(what: &str) -> CheckError {
    CheckError::Unavailable(format!("stored {what} has an unexpected shape"))
}

fn json_column(row: crate::base::db::Row<'_>, column: &str) -> Result<serde_json::Value, CheckError> {
    match row.opt_str(column)? {
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt(column)),
        None => Ok(serde_json::Value::Null),
    }
}

fn opt_text(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// The facts and controls for one request (tests and benchmarks use this
/// to run the core on its own).
pub fn load(db: &dyn Db, req: &CheckRequest) -> Result<(Facts, Vec<Control>), CheckError> {
    let rows = db.execute(
        FACTS_SQL,
        &[req.tenant_id.as_str().into(), req.channel.as_str().into(), time::timestamp(req.at).into()],
    )?;
    let row = rows.first().ok_or_else(|| corrupt("facts"))?;
    let tenant = json_column(row, "tenant")?;
    if tenant.is_null() {
        return Err(CheckError::UnknownTenant(format!("tenant `{}` not found", req.tenant_id)));
    }
    // The tenant's own zone, else the property's; a zone that is set but not
    // a valid IANA name is unknown, and unknown fails closed.
    let zone_name = tenant["time_zone"].as_str().or(tenant["property_time_zone"].as_str());
    let time_zone: Option<Tz> = zone_name.and_then(|name| Tz::from_str(name).ok());
    let state = opt_text(&tenant["state"]).or(opt_text(&tenant["property_state"]));
    let country = opt_text(&tenant["country"])
        .or(opt_text(&tenant["property_country"]))
        .unwrap_or_else(|| normalize::DEFAULT_COUNTRY.to_owned());

    let mut points = Vec::new();
    for p in json_column(row, "points")?.as_array().ok_or_else(|| corrupt("contact points"))? {
        points.push(crate::records::tenants::ContactPoint {
            kind: p[0].as_str().and_then(|k| k.parse().ok()).ok_or_else(|| corrupt("contact point kind"))?,
            address: opt_text(&p[1]).ok_or_else(|| corrupt("contact point address"))?,
        });
    }
    let target = resolve_target(req, &points)?;

    let mut consent = Vec::new();
    for e in json_column(row, "consent")?.as_array().ok_or_else(|| corrupt("consent"))? {
        consent.push(ConsentEvent {
            id: e[0].as_i64().ok_or_else(|| corrupt("consent id"))?,
            tenant_id: req.tenant_id.clone(),
            channel: match e[1].as_str() {
                Some(c) => Some(c.parse().map_err(|_| corrupt("consent channel"))?),
                None => None,
            },
            address: opt_text(&e[2]),
            status: match e[3].as_str() {
                Some("opted_in") => ConsentStatus::OptedIn,
                Some("opted_out") => ConsentStatus::OptedOut,
                _ => return Err(corrupt("consent status")),
            },
            evidence: opt_text(&e[4]),
            actor: opt_text(&e[5]).unwrap_or_default(),
            source: opt_text(&e[6]).unwrap_or_default(),
            at: opt_text(&e[7]).ok_or_else(|| corrupt("consent time"))?,
        });
    }

    let target_address = match &target {
        Target::Point { address, .. } => Some(address.clone()),
        _ => None,
    };
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
        number_invalid: None,
        history: Vec::new(),
    };
    for x in json_column(row, "exclusions")?.as_array().ok_or_else(|| corrupt("exclusions"))? {
        let on_target = x[1].as_str().is_some() && x[1].as_str() == target_address.as_deref();
        match x[0].as_str() {
            Some("bankruptcy") => facts.bankruptcy = true,
            Some("disable_texting_auto_calls") => facts.disable_texting_auto_calls = true,
            Some("disable_auto_communications") => facts.disable_auto_communications = true,
            Some("number_by_customer") => facts.excluded_by_customer |= on_target,
            Some("number_by_user") => facts.excluded_by_user |= on_target,
            _ => return Err(corrupt("exclusion kind")),
        }
    }

    for n in json_column(row, "number_states")?.as_array().ok_or_else(|| corrupt("number states"))? {
        if n[0].as_str().is_none() || n[0].as_str() != target_address.as_deref() {
            continue;
        }
        match n[1].as_str() {
            Some("invalid") => {
                let error_code = opt_text(&n[2]).ok_or_else(|| corrupt("number state error code"))?;
                facts.number_invalid = Some(CarrierInvalid {
                    meaning: crate::records::number_states::meaning(&error_code),
                    error_code,
                    set_at: opt_text(&n[3]).ok_or_else(|| corrupt("number state time"))?,
                });
            }
            // A state this code does not know could forbid texting: fail closed.
            _ => return Err(corrupt("number state")),
        }
    }

    let mut rules = Vec::new();
    for c in json_column(row, "controls")?.as_array().ok_or_else(|| corrupt("contact controls"))? {
        let key = c[0].as_str().unwrap_or("?");
        rules.push(control_from_spec(key, c[1].as_str().ok_or_else(|| corrupt("contact control"))?)?);
    }
    rules.sort_by(|a, b| a.key.cmp(&b.key));

    let mut history = Vec::new();
    for h in json_column(row, "history")?.as_array().ok_or_else(|| corrupt("contact log"))? {
        history.push(PastContact {
            at: h[0].as_str().and_then(time::parse_timestamp).ok_or_else(|| corrupt("contact time"))?,
            channel: h[1].as_str().and_then(|c| c.parse().ok()).ok_or_else(|| corrupt("contact channel"))?,
            outbound: h[2].as_str() == Some("outbound"),
            own: h[3].as_i64() == Some(1),
            // Written as a number by the call-results workflow; a text code from a JSON detail is accepted too.
            call_result: h[4].as_i64().or_else(|| h[4].as_str().and_then(|s| s.trim().parse().ok())),
            kind: h[5].as_str().and_then(|k| k.parse().ok()),
        });
    }
    history.sort_by_key(|c| c.at);
    facts.history = history;
    Ok((facts, rules))
}

thread_local! {
    /// Parsed controls by their stored JSON: controls change rarely, and
    /// parsing windows, holidays and code lists is most of a check's work.
    /// Keyed by the whole text, so an edited control is parsed afresh.
    static PARSED: RefCell<HashMap<String, Control>> = RefCell::new(HashMap::new());
}

/// Most parsed controls kept per thread (instance) before starting over.
const PARSED_CAPACITY: usize = 512;

fn control_from_spec(key: &str, spec: &str) -> Result<Control, CheckError> {
    PARSED.with(|cache| {
        if let Some(c) = cache.borrow().get(spec) {
            return Ok(c.clone());
        }
        let bad = |e: String| CheckError::Unavailable(format!("contact control `{key}`: {e}"));
        let parsed: ControlSpec = serde_json::from_str(spec).map_err(|e| bad(e.to_string()))?;
        let control = parsed.to_control().map_err(bad)?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= PARSED_CAPACITY {
            cache.clear();
        }
        cache.insert(spec.to_owned(), control.clone());
        Ok(control)
    })
}

fn resolve_target(req: &CheckRequest, points: &[crate::records::tenants::ContactPoint]) -> Result<Target, CheckError> {
    let given = req.address.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let point_target = |p: &crate::records::tenants::ContactPoint| Target::Point {
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
        if !normalize::is_e164(raw) {
            return Err(CheckError::Invalid(format!("`{raw}` is not a phone number in E.164 form like +12125550100")));
        }
        raw.to_owned()
    };
    let wanted_phone = req.channel.uses_phone();
    Ok(points
        .iter()
        .filter(|p| p.address == address && p.kind.is_phone() == wanted_phone)
        .min_by_key(|p| point_rank(p.kind))
        .map_or(Target::NotOnFile { address }, point_target))
}

/// A request's address as a person typed it, with a phone number (for a
/// text or call) put in the E.164 form the check takes, read in `country`
/// (the tenant's, as for imported numbers). The check itself takes numbers
/// in E.164 only, so that the compliance component, which every contact
/// goes through, links no phone-number metadata (phonenumber and the regex
/// engine it validates with, about 1.3 MB); the routes where staff type a
/// number call this first. Emails and letters are left to the check.
pub fn typed_address(channel: Channel, address: Option<String>, country: &str) -> Result<Option<String>, CheckError> {
    match address.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() && channel.uses_phone() && !normalize::looks_like_email(raw) => {
            normalize::phone_e164(raw, country).map(Some).map_err(CheckError::Invalid)
        }
        _ => Ok(address),
    }
}

/// The order in which the kinds of one address decide its kind (lower
/// first); see the module docs. `FACTS_SQL` orders the same way.
pub fn point_rank(kind: ContactKind) -> u8 {
    match kind {
        ContactKind::MobilePhone => 1,
        ContactKind::HomePhone => 2,
        ContactKind::WorkPhone => 3,
        ContactKind::WorkEmail => 4,
        ContactKind::Email => 5,
    }
}

/// Parse an RFC 3339 time for a request (`at`).
pub fn parse_at(s: &str) -> Result<DateTime<Utc>, CheckError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CheckError::Invalid(format!("`{s}` is not an RFC 3339 time like 2024-05-01T14:00:00Z")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_numbers_become_e164_in_the_tenants_country() {
        let typed = |channel, a: &str, country| typed_address(channel, Some(a.to_owned()), country);
        assert_eq!(typed(Channel::Text, "(212) 555-0100", "US"), Ok(Some("+12125550100".into())));
        assert_eq!(typed(Channel::Phone, " 020 7946 0958 ", "GB"), Ok(Some("+442079460958".into())));
        assert!(matches!(typed(Channel::Text, "555-1234", "US"), Err(CheckError::Invalid(_))));
        // Left for the check, which answers them as before.
        assert_eq!(typed(Channel::Text, "pat@example.com", "US"), Ok(Some("pat@example.com".into())));
        assert_eq!(typed(Channel::Email, "Pat@Example.com", "US"), Ok(Some("Pat@Example.com".into())));
        assert_eq!(typed(Channel::Letter, "(212) 555-0100", "US"), Ok(Some("(212) 555-0100".into())));
        assert_eq!(typed_address(Channel::Text, None, "US"), Ok(None));
    }
}
