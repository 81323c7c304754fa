//! The decision core: pure, no I/O, no clock. Given the facts about one
//! tenant, the proposed contact and the contact controls, answer allow,
//! block or defer-until with every reason that applied.
//!
//! How it decides: every rule is evaluated at the requested time and says
//! nothing, "block", or "defer: not before T". Any block blocks. Otherwise,
//! if some rule defers, the rules are evaluated again at the latest T they
//! named, and so on until a moment where nothing objects: that moment is
//! `defer_until`, so re-checking at `defer_until` with the same facts
//! always allows. A search that finds no such moment within
//! [`HORIZON_DAYS`] blocks instead (fails closed).

use super::controls::{self, Control};
use super::hours::{self, start_of_day};
use crate::base::channel::Channel;
use crate::base::time;
use crate::records::consent::{self, ConsentEvent, ConsentStatus};
use crate::records::tenants::ContactKind;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// How far ahead a deferral may reach before the contact is blocked.
pub const HORIZON_DAYS: i64 = 400;
/// Most re-evaluations in one deferral search.
const MAX_STEPS: usize = 500;

/// The proposed contact (the tenant is the one the [`Facts`] describe).
#[derive(Debug, Clone, PartialEq)]
pub struct Proposed {
    /// Text, email, phone or letter.
    pub channel: Channel,
    /// The moment the contact would be made.
    pub at: DateTime<Utc>,
    /// Made by a person rather than the system.
    pub manual: bool,
}

/// The address a contact would go to, resolved against the tenant's
/// contact points.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A letter: no electronic address.
    Postal,
    /// One of the tenant's contact points.
    Point {
        /// E.164 number or lower-case email.
        address: String,
        /// Which column it came from.
        kind: ContactKind,
        /// Zones the number rings in (from its area code); empty = none known.
        zones: Vec<Tz>,
    },
    /// The address asked about is not one of the tenant's contact points.
    NotOnFile {
        /// The (normalised) address asked about.
        address: String,
    },
    /// No address was given and the tenant has none for this channel.
    Missing,
}

/// One earlier contact, as the frequency and hold-for rules see it. Only
/// contacts that were made (or attempted) are given; failed-before-sending
/// ones are left out by the loader.
#[derive(Debug, Clone, PartialEq)]
pub struct PastContact {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Its channel (calls count differently from texts and emails).
    pub channel: Channel,
    /// From us (true) or from the tenant.
    pub outbound: bool,
    /// The kind of address it went to, when it is a known contact point.
    pub kind: Option<ContactKind>,
    /// Call result code (phone).
    pub call_result: Option<i64>,
    /// The tenant's own contact (false: another member of the group).
    pub own: bool,
}

/// Everything the rules know about the tenant, gathered by the loader.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Whose facts these are.
    pub tenant_id: String,
    /// The tenant's IANA zone; None = unknown (fails closed).
    pub time_zone: Option<Tz>,
    /// State / province.
    pub state: Option<String>,
    /// Country (ISO).
    pub country: String,
    /// Where the contact goes.
    pub target: Target,
    /// The tenant's consent events.
    pub consent: Vec<ConsentEvent>,
    /// Bankruptcy exclusion.
    pub bankruptcy: bool,
    /// "Disable texting & auto calls".
    pub disable_texting_auto_calls: bool,
    /// "Disable automatic communications".
    pub disable_auto_communications: bool,
    /// The target address is excluded by the customer (STOP).
    pub excluded_by_customer: bool,
    /// The target address is excluded by staff.
    pub excluded_by_user: bool,
    /// The carrier reported the target number cannot receive texts
    /// (`sms_number_states`); None = it has said nothing against it.
    pub number_invalid: Option<CarrierInvalid>,
    /// Earlier contacts of the tenant (and its group), sorted by time.
    pub history: Vec<PastContact>,
}

/// The carrier's report that a number cannot receive texts (invalid,
/// unknown, landline, unreachable), from a delivery status callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierInvalid {
    /// The provider error code that set it (`30006`, `21614`...).
    pub error_code: String,
    /// What the provider means by the code ("not a mobile number"), when
    /// the code table knows it.
    pub meaning: Option<&'static str>,
    /// When it was reported (RFC 3339 UTC).
    pub set_at: String,
}

/// Allow, block or defer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Do not contact.
    Block,
    /// Not now; try again at `defer_until`.
    Defer,
}

impl Verdict {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Block => "block",
            Verdict::Defer => "defer",
        }
    }
}

/// One rule that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Machine-readable rule name.
    pub rule: String,
    /// What it found.
    pub detail: String,
}

/// The answer to one proposed contact, with every reason that applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Allow, block or defer.
    pub verdict: Verdict,
    /// Every rule that blocks or defers at the requested time.
    pub reasons: Vec<Reason>,
    /// For defer: the next moment the contact is allowed.
    pub defer_until: Option<DateTime<Utc>>,
    /// The contact would be the last a frequency limit allows in its period.
    pub near_limit: bool,
    /// The near-limit findings.
    pub warnings: Vec<Reason>,
    /// The address decided about, when any.
    pub address: Option<String>,
}

#[derive(Debug, Clone)]
enum Effect {
    Block,
    /// Not before this instant.
    Defer(DateTime<Utc>),
}

#[derive(Debug, Clone)]
struct Finding {
    rule: String,
    detail: String,
    effect: Effect,
}

fn block(rule: impl Into<String>, detail: impl Into<String>) -> Finding {
    Finding { rule: rule.into(), detail: detail.into(), effect: Effect::Block }
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    format!("{} {}", time::local(t, tz).format("%a %Y-%m-%d %H:%M"), time::abbreviation(t, tz))
}

/// Decide one proposed contact. Pure: the same inputs give the same answer.
pub fn decide(facts: &Facts, proposed: &Proposed, rules: &[Control]) -> Decision {
    let applicable = controls::applicable(rules, proposed.channel, facts.state.as_deref(), &facts.country);
    let address = match &facts.target {
        Target::Point { address, .. } | Target::NotOnFile { address } => Some(address.clone()),
        Target::Postal | Target::Missing => None,
    };
    let t0 = proposed.at;
    let (first, first_warnings) = evaluate(facts, proposed, &applicable, t0);
    let reasons: Vec<Reason> =
        first.iter().map(|f| Reason { rule: f.rule.clone(), detail: f.detail.clone() }).collect();
    let done = |verdict, reasons, defer_until, warnings: Vec<Reason>| Decision {
        verdict,
        reasons,
        defer_until,
        near_limit: !warnings.is_empty(),
        warnings,
        address: address.clone(),
    };
    if first.is_empty() {
        return done(Verdict::Allow, reasons, None, first_warnings);
    }
    if first.iter().any(|f| matches!(f.effect, Effect::Block)) {
        return done(Verdict::Block, reasons, None, Vec::new());
    }
    // Every objection is a deferral: search for the first moment none objects.
    let horizon = t0 + Duration::days(HORIZON_DAYS);
    let mut findings = first;
    let mut t = t0;
    for _ in 0..MAX_STEPS {
        let next = findings
            .iter()
            .filter_map(|f| match f.effect {
                Effect::Defer(at) => Some(at),
                Effect::Block => None,
            })
            .max()
            .unwrap_or(t);
        // Always move forward, even if a rule named the present.
        t = if next > t { next } else { t + Duration::minutes(1) };
        if t > horizon {
            break;
        }
        let (later, warnings) = evaluate(facts, proposed, &applicable, t);
        if later.is_empty() {
            return done(Verdict::Defer, reasons, Some(t), warnings);
        }
        if later.iter().any(|f| matches!(f.effect, Effect::Block)) {
            let mut reasons = reasons;
            for f in later.into_iter().filter(|f| matches!(f.effect, Effect::Block)) {
                reasons.push(Reason { rule: f.rule, detail: format!("by {}: {}", hours_label(t), f.detail) });
            }
            return done(Verdict::Block, reasons, None, Vec::new());
        }
        findings = later;
    }
    let mut reasons = reasons;
    reasons.push(Reason {
        rule: "time.no_allowed_time".into(),
        detail: format!("no moment in the next {HORIZON_DAYS} days satisfies every window and limit"),
    });
    done(Verdict::Block, reasons, None, Vec::new())
}

fn hours_label(t: DateTime<Utc>) -> String {
    crate::base::time::timestamp(t)
}

fn channel_word(c: Channel) -> &'static str {
    match c {
        Channel::Text => "texts",
        Channel::Email => "emails",
        Channel::Phone => "calls",
        Channel::Letter => "letters",
    }
}

/// All findings at instant `t`, and the near-limit warnings.
fn evaluate(facts: &Facts, p: &Proposed, a: &controls::Applicable<'_>, t: DateTime<Utc>) -> (Vec<Finding>, Vec<Reason>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let channel = p.channel;
    let automatic = !p.manual;

    // Where to.
    let (target_address, target_kind, number_zones): (Option<&str>, Option<ContactKind>, &[Tz]) = match &facts.target {
        Target::Postal => (None, None, &[]),
        Target::Point { address, kind, zones } => (Some(address.as_str()), Some(*kind), zones.as_slice()),
        Target::NotOnFile { .. } => {
            out.push(block(
                "address.not_on_file",
                "the address is not one of the tenant's contact points; only numbers and emails on file can be contacted",
            ));
            (None, None, &[])
        }
        Target::Missing => {
            out.push(block("address.none", format!("the tenant has no address on file for {}", channel_word(channel))));
            (None, None, &[])
        }
    };

    // Exclusions, each with its own scope.
    if facts.bankruptcy && automatic {
        out.push(block("exclusion.bankruptcy", "bankruptcy: no automatic contact on any channel; manual contact only"));
    }
    if facts.disable_texting_auto_calls && (channel == Channel::Text || (channel == Channel::Phone && automatic)) {
        out.push(block(
            "exclusion.disable_texting_auto_calls",
            "texting & auto calls disabled: no texts (automatic or manual) and no automatic calls; manual calls only",
        ));
    }
    if facts.disable_auto_communications && automatic && channel != Channel::Letter {
        out.push(block(
            "exclusion.disable_auto_communications",
            "automatic communications disabled: no automatic calls, texts or emails; manual contact only",
        ));
    }
    let address_blocked = |c: Channel| c == Channel::Text || c == Channel::Email || (c == Channel::Phone && automatic);
    if facts.excluded_by_customer && address_blocked(channel) {
        out.push(block(
            "exclusion.number_by_customer",
            "the customer asked to stop at this address: no texts or emails (even manual) and no automatic calls; only their START lifts it",
        ));
    }
    if facts.excluded_by_user && address_blocked(channel) {
        out.push(block(
            "exclusion.number_by_user",
            "staff excluded this address: no texts or emails (even manual) and no automatic calls",
        ));
    }
    // The carrier's verdict: a text cannot reach the number, whoever sends
    // it; calls are left to the other rules (a landline still rings).
    if let (Channel::Text, Some(state)) = (channel, &facts.number_invalid) {
        let meaning = state.meaning.map(|m| format!(": {m}")).unwrap_or_default();
        out.push(block(
            "number_state.invalid",
            format!(
                "the carrier reported this number cannot receive texts (error {}{meaning}, {}): no texts, even manual, until a later delivery to it succeeds",
                state.error_code, state.set_at
            ),
        ));
    }

    // Consent: automatic calls, texts and emails need an opt-in (default opted out).
    let consent_event = target_address.and_then(|addr| covering_event(&facts.consent, channel, addr));
    if automatic && channel != Channel::Letter {
        if let Some(addr) = target_address {
            if consent::resolve(&facts.consent, channel, Some(addr)) != ConsentStatus::OptedIn {
                let detail = match consent_event {
                    Some(e) => format!("opted out of automatic {} since {} ({})", channel_word(channel), e.at, e.source),
                    None => format!("no opt-in on record for automatic {} (every tenant starts opted out)", channel_word(channel)),
                };
                out.push(block("consent", detail));
            }
        }
    }

    // Work email: only with consent given for that very address.
    if channel == Channel::Email && target_kind == Some(ContactKind::WorkEmail) {
        if let Some(c) = a.work_email.iter().find(|c| c.work_email_needs_consent == Some(true)) {
            let own_opt_in = target_address.is_some_and(|addr| {
                facts
                    .consent
                    .iter()
                    .filter(|e| e.address.as_deref() == Some(addr) && e.channel.is_none_or(|ch| ch == Channel::Email))
                    .max_by_key(|e| e.id)
                    .is_some_and(|e| e.status == ConsentStatus::OptedIn)
            });
            if !own_opt_in {
                out.push(block(
                    format!("work_email:{}", c.key),
                    format!("{}: employer-provided address; email it only with consent given for that address", label(c)),
                ));
            }
        }
    }

    // SMS re-authorization: an automatic text needs an authorization younger than the limit.
    if channel == Channel::Text && automatic {
        if let (Some(days), Some(event)) = (a.sms_reauth.iter().filter_map(|c| c.sms_reauth_days).min(), consent_event) {
            if event.status == ConsentStatus::OptedIn {
                let authorized = crate::base::time::parse_timestamp(&event.at);
                let expired = authorized.is_none_or(|at| t - at > Duration::days(i64::from(days)));
                if expired {
                    let key = a.sms_reauth.iter().find(|c| c.sms_reauth_days == Some(days)).map_or("", |c| c.key.as_str());
                    out.push(block(
                        format!("sms_reauth:{key}"),
                        format!("texting authorization from {} is older than {days} days; re-authorize the number", event.at),
                    ));
                }
            }
        }
    }

    // Time: every rule below works in the tenant's local time; no zone, no contact.
    let Some(tz) = facts.time_zone else {
        out.push(block("time.zone_unknown", "the tenant has no valid time zone (tenant or property); fix it before any contact"));
        return (out, warnings);
    };

    // Windows: in the tenant's zone and, for calls and texts, every zone the number rings in.
    let mut zones: Vec<Tz> = vec![tz];
    if channel.uses_phone() {
        for z in number_zones {
            if !zones.contains(z) {
                zones.push(*z);
            }
        }
    }
    for c in &a.hours {
        let Some(h) = &c.hours else { continue };
        for z in &zones {
            if h.allows(t, *z) {
                continue;
            }
            let span = h.daily.map_or_else(|| "its hours".to_owned(), |s| s.to_string());
            let whose = if *z == tz { "the tenant's zone" } else { "the number's zone" };
            match h.next_open(t, *z) {
                Some(next) => out.push(Finding {
                    rule: format!("window:{}", c.key),
                    detail: format!(
                        "{}: outside {span} in {whose} {} (now {}); opens {}",
                        label(c),
                        z.name(),
                        local(t, *z),
                        local(next, *z)
                    ),
                    effect: Effect::Defer(next),
                }),
                None => out.push(block(format!("window:{}", c.key), format!("{}: closed for weeks ahead in {}", label(c), z.name()))),
            }
        }
    }

    let today = time::local_date(t, tz);

    // Hold-for after a right-party contact (calls).
    if channel == Channel::Phone && !a.rpc_codes.is_empty() {
        for c in &a.hold_for {
            let Some(days) = c.hold_for_days.filter(|d| *d > 0) else { continue };
            let days = i64::from(days);
            let window_start = start_of_day(today - Duration::days(days - 1), tz).unwrap_or(t) - Duration::days(1);
            let lo = facts.history.partition_point(|h| h.at < window_start);
            let last_rpc = facts.history[lo..]
                .iter()
                .filter(|h| h.at <= t + Duration::days(1))
                .filter(|h| h.channel == Channel::Phone && (h.own || c.apply_to_group))
                .filter(|h| h.call_result.is_some_and(|r| a.rpc_codes.binary_search(&r).is_ok()))
                .map(|h| time::local_date(h.at, tz))
                .filter(|d| *d <= today && today < *d + Duration::days(days))
                .max();
            if let Some(day) = last_rpc {
                let until = start_of_day(day + Duration::days(days), tz).unwrap_or(t + Duration::days(days));
                out.push(Finding {
                    rule: format!("hold_for:{}", c.key),
                    detail: format!(
                        "{}: right-party contact on {day}; no calls for {days} days counting that day, until {}",
                        label(c),
                        local(until, tz)
                    ),
                    effect: Effect::Defer(until),
                });
            }
        }
    }

    // Frequency limits, in local calendar days.
    for c in &a.limits {
        let Some(limit) = &c.limit else { continue };
        if !limit.address_kinds.is_empty() && !target_kind.is_some_and(|k| limit.address_kinds.contains(&k)) {
            continue;
        }
        let rule = format!("frequency:{}", c.key);
        if limit.max == 0 {
            out.push(block(rule, format!("{}: allows no {}", label(c), channel_word(channel))));
            continue;
        }
        let period = i64::from(limit.period_days);
        let days = counted_days(facts, a, c, limit, tz, today, period);
        let worst = worst_window(&days, today, period);
        if worst + 1 > i64::from(limit.max) {
            // The first later day on which one more contact fits every window.
            let mut day = today;
            let mut found = None;
            for _ in 0..(2 * period + 2) {
                day += Duration::days(1);
                if worst_window(&days, day, period) < i64::from(limit.max) {
                    found = Some(day);
                    break;
                }
            }
            match found.and_then(|d| start_of_day(d, tz)) {
                Some(until) => out.push(Finding {
                    rule,
                    detail: format!(
                        "{}: {worst} of {} allowed in {period} days already; next allowed {}",
                        label(c),
                        limit.max,
                        local(until, tz)
                    ),
                    effect: Effect::Defer(until),
                }),
                None => out.push(block(rule, format!("{}: limit of {} per {period} days is used up", label(c), limit.max))),
            }
        } else if worst + 1 == i64::from(limit.max) {
            let mut detail = String::new();
            let _ = write!(
                detail,
                "{}: this would be contact {} of {} allowed in {period} days",
                label(c), limit.max, limit.max
            );
            warnings.push(Reason { rule, detail });
        }
    }
    (out, warnings)
}

/// How a control is named in details: its description, else its key.
fn label(c: &Control) -> &str {
    if c.description.is_empty() {
        &c.key
    } else {
        &c.description
    }
}

/// The consent event that decides `channel` to `address` (newest covering it).
fn covering_event<'e>(events: &'e [ConsentEvent], channel: Channel, address: &str) -> Option<&'e ConsentEvent> {
    events
        .iter()
        .filter(|e| e.channel.is_none_or(|c| c == channel))
        .filter(|e| e.address.as_deref().is_none_or(|a| a == address))
        .max_by_key(|e| e.id)
}

/// Local dates of the contacts a limit counts, sorted, for the days that
/// can share a period with `today` or with the days after it that a
/// deferral search looks at.
fn counted_days(
    facts: &Facts,
    a: &controls::Applicable<'_>,
    c: &Control,
    limit: &controls::Limit,
    tz: Tz,
    today: NaiveDate,
    period: i64,
) -> Vec<NaiveDate> {
    let first_day = today - Duration::days(period - 1);
    let last_day = today + Duration::days(3 * period + 2);
    // A day longer on each side covers any zone offset; exact dates are filtered below.
    let from = hours::start_of_day(first_day, tz).map_or(DateTime::<Utc>::MIN_UTC, |t| t - Duration::days(1));
    let to = hours::start_of_day(last_day, tz).map_or(DateTime::<Utc>::MAX_UTC, |t| t + Duration::days(2));
    let lo = facts.history.partition_point(|h| h.at < from);
    let hi = facts.history.partition_point(|h| h.at < to);
    let mut days: Vec<NaiveDate> = facts.history[lo..hi]
        .iter()
        .filter(|h| h.outbound && (h.own || c.apply_to_group) && limit.counts.contains(&h.channel))
        .filter(|h| limit.address_kinds.is_empty() || h.kind.is_some_and(|k| limit.address_kinds.contains(&k)))
        .filter(|h| {
            // A call counts when its result is an attempt (or not recorded yet).
            h.channel != Channel::Phone
                || match (&a.attempt_codes, h.call_result) {
                    (Some(codes), Some(r)) => codes.binary_search(&r).is_ok(),
                    _ => true,
                }
        })
        .map(|h| time::local_date(h.at, tz))
        .filter(|d| *d >= first_day && *d <= last_day)
        .collect();
    days.sort_unstable();
    days
}

/// The most contacts in any `period`-day window that contains `day`.
fn worst_window(days: &[NaiveDate], day: NaiveDate, period: i64) -> i64 {
    let mut worst = 0;
    for back in 0..period {
        let start = day - Duration::days(back);
        let end = start + Duration::days(period - 1);
        let lo = days.partition_point(|d| *d < start);
        let hi = days.partition_point(|d| *d <= end);
        worst = worst.max((hi - lo) as i64);
    }
    worst
}
