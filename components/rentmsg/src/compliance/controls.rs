//! Contact controls: per channel, optionally per state and/or
//! country, each naming what it limits. The default rule packs are rows of
//! the same table (seeded by migration 2), so staff edit them like their own.
//!
//! Which controls apply to a contact, facet by facet (window, frequency
//! limits, hold-for, call codes, SMS re-authorization, work email):
//!
//! - a control matches when its channel is the contact's and its state and
//!   country (when set) are the tenant's;
//! - among the matching controls that set a facet, the most specific ones
//!   win (state + country, then state, then country, then none);
//! - national rules still apply: when the winners are state-level, the
//!   country-level controls of the tenant's country that set the facet apply
//!   too, and the stricter of the two holds (windows must both allow,
//!   every limit holds, the longest hold-for, the shortest re-authorization
//!   age, union of code lists);
//! - a control with no state and no country is the default for everyone
//!   the more specific ones do not cover.

use super::hours::{DayRule, Holiday, Hours, Span};
use crate::base::channel::Channel;
use crate::records::tenants::ContactKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One contact control, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// Stable name, used in decision reasons (`window:<key>`...).
    pub key: String,
    /// The channel it controls.
    pub channel: Channel,
    /// What it is, for staff (citation included for the shipped packs).
    pub description: String,
    /// State / province it is limited to (upper case), or all.
    pub state: Option<String>,
    /// ISO country it is limited to, or all.
    pub country: Option<String>,
    /// Frequency limit, when set.
    pub limit: Option<Limit>,
    /// Count the group's contacts too (co-signers, same group, shared numbers).
    pub apply_to_group: bool,
    /// Phone: days with no call after a right-party contact (that day is day 1).
    pub hold_for_days: Option<u32>,
    /// Phone: call result codes that count as attempts.
    pub attempt_codes: Option<Vec<i64>>,
    /// Phone: call result codes that are right-party contacts.
    pub rpc_codes: Option<Vec<i64>>,
    /// Legal contact hours in the tenant's (and the number's) local time.
    pub hours: Option<Hours>,
    /// Text: days a texting authorization stays good.
    pub sms_reauth_days: Option<u32>,
    /// Email: an employer-provided address needs its own consent.
    pub work_email_needs_consent: Option<bool>,
    /// Off = kept but not applied.
    pub enabled: bool,
}

/// A frequency limit: at most `max` counted contacts in any `period_days`
/// consecutive local days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Most contacts allowed in the period.
    pub max: u32,
    /// Length of the period in days (a week is 7, a month 30).
    pub period_days: u32,
    /// Channels whose contacts are counted (at least the control's own).
    pub counts: Vec<Channel>,
    /// Only contacts to (and checks of) addresses of these kinds; empty = all.
    pub address_kinds: Vec<ContactKind>,
}

impl Control {
    /// 3 state + country, 2 state, 1 country, 0 neither.
    pub fn specificity(&self) -> u8 {
        match (&self.state, &self.country) {
            (Some(_), Some(_)) => 3,
            (Some(_), None) => 2,
            (None, Some(_)) => 1,
            (None, None) => 0,
        }
    }

    /// Does this control cover a contact on `channel` for a tenant in
    /// `state` / `country`?
    pub fn matches(&self, channel: Channel, state: Option<&str>, country: &str) -> bool {
        self.enabled
            && self.channel == channel
            && self.state.as_deref().is_none_or(|s| state == Some(s))
            && self.country.as_deref().is_none_or(|c| c == country)
    }
}

/// The controls that apply to one contact, resolved facet by facet.
#[derive(Debug, Clone, Default)]
pub struct Applicable<'a> {
    /// Controls whose hours apply (all must allow).
    pub hours: Vec<&'a Control>,
    /// Controls whose frequency limits apply (all must hold).
    pub limits: Vec<&'a Control>,
    /// Controls whose hold-for applies (the longest holds).
    pub hold_for: Vec<&'a Control>,
    /// Call result codes counted as attempts (union); None = every placed call.
    pub attempt_codes: Option<Vec<i64>>,
    /// Call result codes that are right-party contacts (union).
    pub rpc_codes: Vec<i64>,
    /// Controls whose SMS re-authorization age applies (the shortest holds).
    pub sms_reauth: Vec<&'a Control>,
    /// Controls requiring consent for work email addresses.
    pub work_email: Vec<&'a Control>,
}

fn facet<'a>(
    matching: &[&'a Control],
    country: &str,
    has: impl Fn(&Control) -> bool,
) -> Vec<&'a Control> {
    let set: Vec<&'a Control> = matching.iter().copied().filter(|c| has(c)).collect();
    let Some(top) = set.iter().map(|c| c.specificity()).max() else {
        return Vec::new();
    };
    set.into_iter()
        .filter(|c| {
            let s = c.specificity();
            // The winners, plus national (country-level) rules under state-level ones.
            s == top || (top >= 2 && s == 1 && c.country.as_deref() == Some(country))
        })
        .collect()
}

/// Resolve the controls that apply to a contact on `channel` for a tenant
/// in `state` / `country`. `phone_controls` is consulted for call codes
/// (attempts and RPCs are defined on phone controls whatever the channel).
pub fn applicable<'a>(controls: &'a [Control], channel: Channel, state: Option<&str>, country: &str) -> Applicable<'a> {
    let matching: Vec<&Control> = controls.iter().filter(|c| c.matches(channel, state, country)).collect();
    let phone: Vec<&Control> = controls.iter().filter(|c| c.matches(Channel::Phone, state, country)).collect();
    let union = |cs: Vec<&Control>, get: fn(&Control) -> Option<&Vec<i64>>| -> Option<Vec<i64>> {
        if cs.is_empty() {
            return None;
        }
        let mut all: Vec<i64> = cs.iter().filter_map(|c| get(c)).flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        Some(all)
    };
    Applicable {
        hours: facet(&matching, country, |c| c.hours.is_some()),
        limits: facet(&matching, country, |c| c.limit.is_some()),
        hold_for: facet(&matching, country, |c| c.hold_for_days.is_some()),
        attempt_codes: union(facet(&phone, country, |c| c.attempt_codes.is_some()), |c| c.attempt_codes.as_ref()),
        rpc_codes: union(facet(&phone, country, |c| c.rpc_codes.is_some()), |c| c.rpc_codes.as_ref()).unwrap_or_default(),
        sms_reauth: facet(&matching, country, |c| c.sms_reauth_days.is_some()),
        work_email: facet(&matching, country, |c| c.work_email_needs_consent.is_some()),
    }
}

// ---------------------------------------------------------------- wire / storage form

/// A control as staff read and write it (JSON), and as it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSpec {
    /// Stable name: lower-case letters, digits, `-`, `_`, `.`; at most 64.
    pub key: String,
    /// `text`, `email`, `phone` or `letter`.
    pub channel: Channel,
    /// What it is and why.
    #[serde(default)]
    pub description: String,
    /// State / province code (e.g. `MA`, `ON`); absent = every state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ISO country code; absent = every country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Most contacts in the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_contacts: Option<u32>,
    /// `week` (7 days) or `month` (30 days); required with `max_contacts`
    /// unless `period_days` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Period length in days (1-366), instead of `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_days: Option<u32>,
    /// Channels counted toward `max_contacts`; default the control's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_channels: Option<Vec<Channel>>,
    /// Only addresses of these kinds (`mobile_phone`, `home_phone`,
    /// `work_phone`, `email`, `work_email`); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_kinds: Option<Vec<ContactKind>>,
    /// Count the whole group's contacts.
    #[serde(default)]
    pub apply_to_group: bool,
    /// Phone: days on hold after a right-party contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_for_days: Option<u32>,
    /// Phone: call result codes that are attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_codes: Option<Vec<i64>>,
    /// Phone: call result codes that are right-party contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_codes: Option<Vec<i64>>,
    /// Legal contact window, `HH:MM-HH:MM` local.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Weekday replacements: `{"sun": "13:00-17:00", "sat": "closed"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_windows: Option<BTreeMap<String, String>>,
    /// Closed holidays (`07-01`, `09/mon#1`, `05-25/mon<`, `easter-2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<Vec<String>>,
    /// Text: days before a texting number must be re-authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_reauth_days: Option<u32>,
    /// Email: employer-provided addresses need their own consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_email_needs_consent: Option<bool>,
    /// Applied when true (default).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

fn check_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("key `{key}` must be 1-64 lower-case letters, digits, `-`, `_` or `.`"))
    }
}

/// Weekday index (Monday = 0) from a three-letter name.
fn weekday_index(name: &str) -> Result<usize, String> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| format!("day_windows: `{name}` is not a weekday (mon ... sun)"))
}

impl ControlSpec {
    /// Validate and type the spec; the message says what is wrong.
    pub fn to_control(&self) -> Result<Control, String> {
        check_key(&self.key)?;
        let description = self.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS || description.chars().any(char::is_control) {
            return Err(format!("description must be at most {MAX_DESCRIPTION_CHARS} characters, no control characters"));
        }
        let state = match self.state.as_deref() {
            Some(s) => crate::base::normalize::state(s)?,
            None => None,
        };
        let country = match self.country.as_deref() {
            Some(c) => crate::base::normalize::country(c)?,
            None => None,
        };
        let period_days = match (self.period.as_deref(), self.period_days) {
            (Some(_), Some(_)) => return Err("give period or period_days, not both".into()),
            (Some("week"), None) => Some(7),
            (Some("month"), None) => Some(30),
            (Some(other), None) => return Err(format!("period `{other}` is not week or month")),
            (None, Some(d)) if (1..=366).contains(&d) => Some(d),
            (None, Some(d)) => return Err(format!("period_days {d} is not from 1 to 366")),
            (None, None) => None,
        };
        let limit = match (self.max_contacts, period_days) {
            (Some(max), Some(period_days)) => {
                if max > 10_000 {
                    return Err("max_contacts is larger than 10000".into());
                }
                let mut counts = self.count_channels.clone().unwrap_or_default();
                if !counts.contains(&self.channel) {
                    counts.push(self.channel);
                }
                counts.sort();
                counts.dedup();
                let mut address_kinds = self.address_kinds.clone().unwrap_or_default();
                address_kinds.sort();
                address_kinds.dedup();
                Some(Limit { max, period_days, counts, address_kinds })
            }
            (Some(_), None) => return Err("max_contacts needs a period (week or month) or period_days".into()),
            (None, Some(_)) => return Err("period needs max_contacts".into()),
            (None, None) => {
                if self.count_channels.is_some() || self.address_kinds.is_some() {
                    return Err("count_channels and address_kinds need max_contacts".into());
                }
                None
            }
        };
        let phone_only = |name: &str, set: bool| -> Result<(), String> {
            if set && self.channel != Channel::Phone {
                Err(format!("{name} applies to phone controls only"))
            } else {
                Ok(())
            }
        };
        phone_only("hold_for_days", self.hold_for_days.is_some())?;
        phone_only("attempt_codes", self.attempt_codes.is_some())?;
        phone_only("rpc_codes", self.rpc_codes.is_some())?;
        if self.hold_for_days.is_some_and(|d| d > 366) {
            return Err("hold_for_days is more than 366".into());
        }
        for codes in [&self.attempt_codes, &self.rpc_codes].into_iter().flatten() {
            if codes.iter().any(|c| !(0..=9999).contains(c)) {
                return Err("call result codes are numbers from 0 to 9999".into());
            }
        }
        if self.sms_reauth_days.is_some() && self.channel != Channel::Text {
            return Err("sms_reauth_days applies to text controls only".into());
        }
        if self.sms_reauth_days.is_some_and(|d| d == 0 || d > 3660) {
            return Err("sms_reauth_days is not from 1 to 3660".into());
        }
        if self.work_email_needs_consent.is_some() && self.channel != Channel::Email {
            return Err("work_email_needs_consent applies to email controls only".into());
        }
        let hours = if self.window.is_some() || self.day_windows.is_some() || self.holidays.is_some() {
            let mut hours = Hours { daily: self.window.as_deref().map(Span::parse).transpose()?, ..Default::default() };
            for (day, rule) in self.day_windows.iter().flatten() {
                let i = weekday_index(day)?;
                hours.days[i] = Some(if rule.trim().eq_ignore_ascii_case("closed") {
                    DayRule::Closed
                } else {
                    DayRule::Open(Span::parse(rule)?)
                });
            }
            for h in self.holidays.iter().flatten() {
                hours.holidays.push(Holiday::parse(h)?);
            }
            Some(hours)
        } else {
            None
        };
        let sort = |v: &Option<Vec<i64>>| {
            v.clone().map(|mut v| {
                v.sort_unstable();
                v.dedup();
                v
            })
        };
        Ok(Control {
            key: self.key.clone(),
            channel: self.channel,
            description,
            state,
            country,
            limit,
            apply_to_group: self.apply_to_group,
            hold_for_days: self.hold_for_days,
            attempt_codes: sort(&self.attempt_codes),
            rpc_codes: sort(&self.rpc_codes),
            hours,
            sms_reauth_days: self.sms_reauth_days,
            work_email_needs_consent: self.work_email_needs_consent,
            enabled: self.enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<Control, String> {
        serde_json::from_value::<ControlSpec>(json).map_err(|e| e.to_string())?.to_control()
    }

    #[test]
    fn specs_validate() {
        let ok = spec(serde_json::json!({
            "key": "on-phone", "channel": "phone", "state": "on", "country": "ca",
            "max_contacts": 3, "period": "week", "count_channels": ["text", "email"],
            "window": "07:00-21:00", "day_windows": {"sun": "13:00-17:00"}, "holidays": ["07-01"],
            "hold_for_days": 7, "attempt_codes": [1, 1, 0], "rpc_codes": [4]
        }))
        .unwrap();
        assert_eq!(ok.state.as_deref(), Some("ON"));
        assert_eq!(ok.country.as_deref(), Some("CA"));
        assert_eq!(ok.limit.as_ref().unwrap().counts, vec![Channel::Text, Channel::Email, Channel::Phone]);
        assert_eq!(ok.attempt_codes, Some(vec![0, 1]));
        assert!(ok.hours.as_ref().unwrap().days[6].is_some());
        let bad: &[(serde_json::Value, &str)] = &[
            (serde_json::json!({"key": "Bad Key", "channel": "text"}), "key"),
            (serde_json::json!({"key": "k", "channel": "fax"}), "unknown variant"),
            (serde_json::json!({"key": "k", "channel": "text", "max_contacts": 3}), "period"),
            (serde_json::json!({"key": "k", "channel": "text", "period": "year", "max_contacts": 1}), "week or month"),
            (serde_json::json!({"key": "k", "channel": "text", "hold_for_days": 7}), "phone"),
            (serde_json::json!({"key": "k", "channel": "phone", "sms_reauth_days": 7}), "text"),
            (serde_json::json!({"key": "k", "channel": "text", "window": "21:00-08:00"}), "before"),
            (serde_json::json!({"key": "k", "channel": "text", "day_windows": {"funday": "closed"}}), "weekday"),
            (serde_json::json!({"key": "k", "channel": "text", "holidays": ["xmas"]}), "holiday"),
            (serde_json::json!({"key": "k", "channel": "text", "state": "Massachusetts"}), "state"),
            (serde_json::json!({"key": "k", "channel": "text", "surprise": 1}), "unknown field"),
        ];
        for (json, want) in bad {
            let err = spec(json.clone()).unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    fn control(key: &str, state: Option<&str>, country: Option<&str>, window: Option<&str>, max: Option<u32>) -> Control {
        spec(serde_json::json!({
            "key": key, "channel": "phone", "state": state, "country": country, "window": window,
            "max_contacts": max, "period": max.map(|_| "week"),
        }))
        .unwrap()
    }

    #[test]
    fn most_specific_wins_and_national_still_applies() {
        let controls = vec![
            control("generic", None, None, Some("08:00-21:00"), Some(7)),
            control("us", None, Some("US"), Some("08:00-21:00"), Some(7)),
            control("wa", Some("WA"), Some("US"), Some("07:30-21:00"), Some(3)),
            control("on", Some("ON"), Some("CA"), Some("07:00-21:00"), None),
        ];
        fn keys(v: &[&Control]) -> Vec<String> {
            v.iter().map(|c| c.key.clone()).collect()
        }
        // Washington: its own window and the national one; its limit and the national one.
        let a = applicable(&controls, Channel::Phone, Some("WA"), "US");
        assert_eq!(keys(&a.hours), ["us", "wa"]);
        assert_eq!(keys(&a.limits), ["us", "wa"]);
        // New York: national only (the generic default is overridden).
        let a = applicable(&controls, Channel::Phone, Some("NY"), "US");
        assert_eq!(keys(&a.hours), ["us"]);
        // Ontario: its window replaces the default; no Canadian national control,
        // and the default limit still applies because Ontario sets none.
        let a = applicable(&controls, Channel::Phone, Some("ON"), "CA");
        assert_eq!(keys(&a.hours), ["on"]);
        assert_eq!(keys(&a.limits), ["generic"]);
        // Elsewhere: the default.
        let a = applicable(&controls, Channel::Phone, None, "GB");
        assert_eq!(keys(&a.hours), ["generic"]);
        // Other channels are not covered by phone controls.
        assert!(applicable(&controls, Channel::Text, None, "US").hours.is_empty());
        // Disabled controls do not apply.
        let mut off = controls.clone();
        off[1].enabled = false;
        assert_eq!(keys(&applicable(&off, Channel::Phone, Some("NY"), "US").hours), ["generic"]);
    }
}
