//! Compliance: may we contact this tenant now, on this channel, at this
//! address? Allow, block or defer-until, with every reason that applied.
//!
//! - [`decide`]: the pure decision core (no I/O, no clock).
//! - [`controls`]: contact controls and how they apply (most specific wins,
//!   national rules still apply); [`hours`]: legal contact windows.
//! - [`store`]: controls and call result codes in SQLite (default packs are
//!   rows seeded by migration 2).
//! - [`load`]: gathers the facts for one request and runs the core
//!   ([`check`]).
//! - [`zones`]: the zone(s) a phone number rings in (NANP area codes).
//!
//! Components reach this through the `rentmsg:compliance/decide` WIT
//! interface (the `compliance` component); [`ComplianceCheck`] is the seam
//! that lets the staff API run natively in tests ([`DbChecker`]) and
//! through the component in production.

#[cfg(feature = "compliance-client")]
pub mod client;
pub mod controls;
pub mod decide;
pub mod hours;
pub mod load;
pub mod store;
pub mod zones;

pub use decide::{Decision, Reason, Verdict};
pub use load::check;

use crate::base::channel::Channel;
use crate::base::db::Db;
use chrono::{DateTime, Utc};

/// A proposed contact, as callers ask about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRequest {
    /// Whom the contact is for.
    pub tenant_id: String,
    /// Text, email, phone or letter.
    pub channel: Channel,
    /// Phone number in E.164 form or email address (any case); None = the
    /// tenant's usual one. A number a person typed goes through
    /// [`load::typed_address`] first.
    pub address: Option<String>,
    /// The moment the contact would be made.
    pub at: DateTime<Utc>,
    /// Made by a person.
    pub manual: bool,
}

/// Why no decision could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// No such tenant.
    #[error("{0}")]
    UnknownTenant(String),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The facts could not be read: do not contact.
    #[error("compliance data unavailable: {0}")]
    Unavailable(String),
}

/// Something that decides proposed contacts: the core over a database
/// ([`DbChecker`]) or the compliance component through its WIT import.
pub trait ComplianceCheck {
    /// Decide one proposed contact.
    fn check(&self, request: &CheckRequest) -> Result<Decision, CheckError>;
}

/// [`ComplianceCheck`] running the core in-process over a database.
pub struct DbChecker<'a> {
    /// Where the facts and controls are.
    pub db: &'a dyn Db,
}

impl ComplianceCheck for DbChecker<'_> {
    fn check(&self, request: &CheckRequest) -> Result<Decision, CheckError> {
        load::check(self.db, request)
    }
}

impl Decision {
    /// The staff API's JSON form: `{decision, reasons, defer_until?,
    /// near_limit, warnings, address?}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "decision": self.verdict.as_str(),
            "reasons": self.reasons,
            "near_limit": self.near_limit,
            "warnings": self.warnings,
        });
        if let Some(t) = self.defer_until {
            v["defer_until"] = crate::base::time::timestamp(t).into();
        }
        if let Some(a) = &self.address {
            v["address"] = a.clone().into();
        }
        v
    }
}
