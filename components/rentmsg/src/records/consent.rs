//! Consent per tenant and per contact point.
//!
//! Every tenant starts opted out. Each change is an event (who, when, why)
//! in `consent_events`; nothing is overwritten. An event has a scope: the
//! whole tenant (no channel, no address), one channel (`text`, `email`,
//! `phone`, `letter`), one address (all channels to it), or one channel to
//! one address. For a proposed contact (channel, address) the newest event
//! whose scope covers it decides; none → opted out. So a tenant-wide opt-out
//! stops everything at once, and a later narrower opt-in (with evidence)
//! re-enables only what it names.

use crate::records::audit;
use crate::base::channel::Channel;
use crate::base::db::{self, Db, Row};
use crate::base::error::{Error, Result};
use crate::records::tenants::{self, AddressKind};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Consent status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Messages may be sent (other rules permitting).
    OptedIn,
    /// No automated messages.
    OptedOut,
}

impl ConsentStatus {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::OptedIn => "opted_in",
            ConsentStatus::OptedOut => "opted_out",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "opted_in" => Ok(ConsentStatus::OptedIn),
            "opted_out" => Ok(ConsentStatus::OptedOut),
            other => Err(Error::Corrupt(format!("consent status `{other}`"))),
        }
    }
}

/// One recorded consent change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentEvent {
    /// Row id (orders events recorded in the same millisecond).
    pub id: i64,
    /// Whose consent.
    pub tenant_id: String,
    /// Channel scope; None = all channels.
    pub channel: Option<Channel>,
    /// Address scope; None = all addresses.
    pub address: Option<String>,
    /// The new status.
    pub status: ConsentStatus,
    /// Why: lease clause, signed form, tenant's request...
    pub evidence: Option<String>,
    /// Who made the change (`staff`, `staff:alice`, `customer`...).
    pub actor: String,
    /// Through what (`staff_api`, `inbound_sms`...).
    pub source: String,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// A requested consent change. `address` must already be normalised (E.164
/// or lower-case email) and belong to the tenant; [`set`] checks both.
#[derive(Debug, Clone)]
pub struct ConsentChange<'a> {
    /// Whose consent.
    pub tenant_id: &'a str,
    /// New status.
    pub status: ConsentStatus,
    /// Evidence / reason; required to opt in.
    pub evidence: Option<&'a str>,
    /// Channel scope.
    pub channel: Option<Channel>,
    /// Address scope (normalised).
    pub address: Option<&'a str>,
    /// Who made the change (`staff` or `staff:<name>`), kept with the event.
    pub actor: &'a str,
    /// Through what it came (`staff_api` for the staff API), kept with the event.
    pub source: &'a str,
}

/// Longest accepted evidence text.
pub const MAX_EVIDENCE_CHARS: usize = 2000;

/// Check a change on its own: opting in needs evidence; channel and address
/// must fit together.
pub fn validate(change: &ConsentChange<'_>) -> Result<()> {
    let evidence = change.evidence.map(str::trim).unwrap_or("");
    if change.status == ConsentStatus::OptedIn && evidence.is_empty() {
        return Err(Error::Invalid(
            "evidence is required to opt in (e.g. the lease clause or signed form that records consent)".into(),
        ));
    }
    if evidence.chars().count() > MAX_EVIDENCE_CHARS {
        return Err(Error::Invalid(format!("evidence is longer than {MAX_EVIDENCE_CHARS} characters")));
    }
    if let (Some(channel), Some(address)) = (change.channel, change.address) {
        let is_email = crate::base::normalize::looks_like_email(address);
        let ok = match channel {
            Channel::Text | Channel::Phone => !is_email,
            Channel::Email => is_email,
            Channel::Letter => false,
        };
        if !ok {
            return Err(Error::Invalid(format!(
                "channel {} cannot be used with {}",
                channel.as_str(),
                if is_email { "an email address" } else { "a phone number" }
            )));
        }
    }
    Ok(())
}

fn event_from_row(row: Row<'_>) -> Result<ConsentEvent> {
    Ok(ConsentEvent {
        id: row.i64("id")?,
        tenant_id: row.string("tenant_id")?,
        channel: row.opt_str("channel")?.map(|c| c.parse().map_err(Error::Corrupt)).transpose()?,
        address: row.opt_string("address")?,
        status: ConsentStatus::parse(row.str("status")?)?,
        evidence: row.opt_string("evidence")?,
        actor: row.string("actor")?,
        source: row.string("source")?,
        at: row.string("at")?,
    })
}

/// Append a consent event without checks beyond [`validate`]. For callers
/// already inside a transaction that have checked the tenant and address.
pub fn record_in_tx(db: &dyn Db, change: &ConsentChange<'_>, now: DateTime<Utc>) -> Result<ConsentEvent> {
    validate(change)?;
    let evidence = change.evidence.map(str::trim).filter(|e| !e.is_empty());
    let at = time::timestamp(now);
    let rows = db.execute(
        "INSERT INTO consent_events (tenant_id, channel, address, status, evidence, actor, source, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        &[
            change.tenant_id.into(),
            change.channel.map(Channel::as_str).into(),
            change.address.into(),
            change.status.as_str().into(),
            evidence.into(),
            change.actor.into(),
            change.source.into(),
            at.clone().into(),
        ],
    )?;
    let id = rows.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))?;
    Ok(ConsentEvent {
        id,
        tenant_id: change.tenant_id.to_owned(),
        channel: change.channel,
        address: change.address.map(str::to_owned),
        status: change.status,
        evidence: evidence.map(str::to_owned),
        actor: change.actor.to_owned(),
        source: change.source.to_owned(),
        at,
    })
}

/// Record a consent change after checking that the tenant exists and the
/// address (if any) is one of its contact points; audited. Runs its own
/// transaction.
pub fn set(db: &dyn Db, change: &ConsentChange<'_>, now: DateTime<Utc>) -> Result<ConsentEvent> {
    validate(change)?;
    db::transaction(db, |tx| {
        tenants::require(tx, change.tenant_id)?;
        if let Some(address) = change.address {
            let points = tenants::contact_points(tx, change.tenant_id)?;
            if !points.iter().any(|p| p.address == address) {
                return Err(Error::Invalid(format!(
                    "address is not one of tenant `{}`'s contact points",
                    change.tenant_id
                )));
            }
        }
        let event = record_in_tx(tx, change, now)?;
        audit::record(
            tx,
            change.actor,
            "consent.set",
            &audit::tenant_target(change.tenant_id),
            &serde_json::json!({
                "status": event.status,
                "channel": event.channel,
                "address": event.address,
                "evidence": event.evidence,
                "source": event.source,
            }),
            now,
        )?;
        Ok(event)
    })
}

/// A tenant's consent events, oldest first.
pub fn events(db: &dyn Db, tenant_id: &str) -> Result<Vec<ConsentEvent>> {
    let rows = db.execute(
        "SELECT id, tenant_id, channel, address, status, evidence, actor, source, at
         FROM consent_events WHERE tenant_id = ? ORDER BY id",
        &[tenant_id.into()],
    )?;
    rows.iter().map(event_from_row).collect()
}

/// The decision for one channel (and optionally one address) from a
/// tenant's events (pure): the newest event whose scope covers it.
pub fn resolve(events: &[ConsentEvent], channel: Channel, address: Option<&str>) -> ConsentStatus {
    events
        .iter()
        .filter(|e| e.channel.is_none_or(|c| c == channel))
        .filter(|e| match (&e.address, address) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        })
        .max_by_key(|e| e.id)
        .map_or(ConsentStatus::OptedOut, |e| e.status)
}

/// The tenant-wide status: the newest event with no channel and no address.
pub fn tenant_wide(events: &[ConsentEvent]) -> ConsentStatus {
    events
        .iter()
        .filter(|e| e.channel.is_none() && e.address.is_none())
        .max_by_key(|e| e.id)
        .map_or(ConsentStatus::OptedOut, |e| e.status)
}

/// Effective consent for one proposed contact.
pub fn effective(db: &dyn Db, tenant_id: &str, channel: Channel, address: Option<&str>) -> Result<ConsentStatus> {
    Ok(resolve(&events(db, tenant_id)?, channel, address))
}

/// The channels that can reach an address of this kind.
pub fn channels_for(kind: AddressKind) -> &'static [Channel] {
    match kind {
        AddressKind::Phone => &[Channel::Text, Channel::Phone],
        AddressKind::Email => &[Channel::Email],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConsentStatus::*;

    fn ev(id: i64, channel: Option<Channel>, address: Option<&str>, status: ConsentStatus) -> ConsentEvent {
        ConsentEvent {
            id,
            tenant_id: "T1".into(),
            channel,
            address: address.map(str::to_owned),
            status,
            evidence: None,
            actor: "staff".into(),
            source: "test".into(),
            at: String::new(),
        }
    }

    const A: &str = "+14155552671";
    const B: &str = "+14155550000";

    #[test]
    fn resolution_table() {
        use Channel::*;
        let cases: Vec<(&str, Vec<ConsentEvent>, Channel, Option<&str>, ConsentStatus)> = vec![
            ("default is opted out", vec![], Text, Some(A), OptedOut),
            ("tenant-wide opt-in covers every channel", vec![ev(1, None, None, OptedIn)], Email, None, OptedIn),
            (
                "newer address opt-out beats older tenant opt-in",
                vec![ev(1, None, None, OptedIn), ev(2, None, Some(A), OptedOut)],
                Text,
                Some(A),
                OptedOut,
            ),
            (
                "address opt-out leaves other addresses alone",
                vec![ev(1, None, None, OptedIn), ev(2, None, Some(A), OptedOut)],
                Text,
                Some(B),
                OptedIn,
            ),
            (
                "newer tenant-wide opt-out beats older address opt-in",
                vec![ev(1, Some(Text), Some(A), OptedIn), ev(2, None, None, OptedOut)],
                Text,
                Some(A),
                OptedOut,
            ),
            (
                "channel scope: text opt-in does not cover calls",
                vec![ev(1, Some(Text), None, OptedIn)],
                Phone,
                Some(A),
                OptedOut,
            ),
            ("channel scope covers every address", vec![ev(1, Some(Text), None, OptedIn)], Text, Some(B), OptedIn),
            (
                "address-scoped event does not decide an address-less question",
                vec![ev(1, Some(Email), Some("a@b.co"), OptedIn)],
                Email,
                None,
                OptedOut,
            ),
            (
                "ties broken by id, not list order",
                vec![ev(5, None, None, OptedOut), ev(4, None, None, OptedIn)],
                Text,
                Some(A),
                OptedOut,
            ),
        ];
        for (name, events, channel, address, want) in cases {
            assert_eq!(resolve(&events, channel, address), want, "{name}");
        }
    }

    #[test]
    fn tenant_wide_ignores_scoped_events() {
        assert_eq!(tenant_wide(&[]), OptedOut);
        assert_eq!(tenant_wide(&[ev(1, None, None, OptedIn), ev(2, Some(Channel::Text), None, OptedOut)]), OptedIn);
    }

    #[test]
    fn validation_rules() {
        let base = ConsentChange {
            tenant_id: "T1",
            status: OptedIn,
            evidence: Some("Lease section 12"),
            channel: None,
            address: None,
            actor: "staff",
            source: "test",
        };
        assert!(validate(&base).is_ok());
        for evidence in [None, Some(""), Some("   ")] {
            let c = ConsentChange { evidence, ..base.clone() };
            assert!(matches!(validate(&c), Err(Error::Invalid(m)) if m.contains("evidence is required")));
        }
        // Opting out needs no evidence.
        assert!(validate(&ConsentChange { status: OptedOut, evidence: None, ..base.clone() }).is_ok());
        let long = "x".repeat(MAX_EVIDENCE_CHARS + 1);
        assert!(validate(&ConsentChange { evidence: Some(&long), ..base.clone() }).is_err());
        let mismatched = [
            (Channel::Email, A),
            (Channel::Text, "pat@example.com"),
            (Channel::Phone, "pat@example.com"),
            (Channel::Letter, A),
        ];
        for (channel, address) in mismatched {
            let c = ConsentChange { channel: Some(channel), address: Some(address), ..base.clone() };
            assert!(validate(&c).is_err(), "{channel:?} {address}");
        }
        let ok = ConsentChange { channel: Some(Channel::Text), address: Some(A), ..base };
        assert!(validate(&ok).is_ok());
    }
}
