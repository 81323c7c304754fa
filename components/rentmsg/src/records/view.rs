//! The tenant as staff see it: record, balance, consent, exclusions,
//! contact points and notes, assembled from the tables. Shared by the staff
//! API and the console.

use crate::records::consent::{self, ConsentStatus};
use crate::base::db::Db;
use crate::base::error::{Error, Result};
use crate::records::exclusions::{self, AddressExclusions, ExclusionStatus, TenantFlags};
use crate::records::ledger;
use crate::base::normalize;
use crate::records::notes::{self, Note};
use crate::records::tenants::{self, AddressKind, ContactKind, ContactPoint, Source, Tenant, TenantStatus};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Most notes included in the tenant view.
pub const NOTES_IN_VIEW: i64 = 100;

/// One contact point in the tenant view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactPointView {
    /// Which column it came from (`mobile_phone`, `email`...).
    pub kind: ContactKind,
    /// `phone` or `email`.
    pub channel: AddressKind,
    /// E.164 number or lower-case email.
    pub address: String,
    /// Effective consent per channel that can reach it (`text` and `phone`
    /// for numbers, `email` for emails).
    pub consent: BTreeMap<&'static str, ConsentStatus>,
    /// True when a by-customer or by-user exclusion is on.
    pub excluded: bool,
    /// The per-address exclusions.
    pub exclusions: AddressExclusions,
}

/// The tenant view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantView {
    /// AR id.
    pub tenant_id: String,
    pub property_id: String,
    pub property_name: Option<String>,
    /// Full name as imported.
    pub name: String,
    /// Unit label, when the property has units.
    pub unit: Option<String>,
    /// AR status.
    pub status: TenantStatus,
    /// Effective state (tenant's, else property's).
    pub state: Option<String>,
    /// Effective country (tenant's, else property's, else US).
    pub country: String,
    /// Effective IANA time zone.
    pub time_zone: String,
    /// Where the time zone came from.
    pub time_zone_source: Source,
    /// The language the tenant reads (own or the property's).
    pub language: crate::base::locale::Language,
    /// Where it came from (`tenant`, `property`).
    pub language_source: tenants::Source,
    /// The currency of the tenant's balance (the property's).
    pub currency: crate::base::locale::Currency,
    /// Group (co-signers, household).
    pub group_id: Option<String>,
    /// Charges minus payments and credits, in cents.
    pub balance_cents: i64,
    /// Open amount already past due, in cents.
    pub overdue_cents: i64,
    /// Days since the due date of the oldest open charge.
    pub days_past_due: i64,
    /// Due date of the oldest open charge.
    pub oldest_open_due_date: Option<String>,
    /// The tenant-local date the balance figures are computed for.
    pub as_of: String,
    /// Tenant-wide consent.
    pub consent: ConsentStatus,
    /// none / partial / full (phone numbers excluded).
    pub exclusion_status: ExclusionStatus,
    /// The tenant-wide exclusion flags.
    pub exclusions: TenantFlags,
    /// Phone numbers and emails.
    pub contact_points: Vec<ContactPointView>,
    /// Notes, newest first (at most [`NOTES_IN_VIEW`]).
    pub notes: Vec<Note>,
    /// First imported.
    pub created_at: String,
    /// Last changed by an import.
    pub updated_at: String,
}

/// Build the view of a tenant as of `now`; None if unknown.
pub fn tenant_view(db: &dyn Db, tenant_id: &str, now: DateTime<Utc>) -> Result<Option<TenantView>> {
    let Some(tenant) = tenants::get(db, tenant_id)? else {
        return Ok(None);
    };
    let property = tenants::property(db, &tenant.property_id)?;
    let eff = tenants::effective(&tenant, property.as_ref());
    let today = time::local_date(now, eff.time_zone);
    let summary = ledger::summary(db, tenant_id, today)?;
    let events = consent::events(db, tenant_id)?;
    let points = tenants::contact_points(db, tenant_id)?;
    let ex = exclusions::for_tenant(db, tenant_id)?;
    let contact_points = points
        .iter()
        .map(|p| {
            let consent = consent::channels_for(p.address_kind())
                .iter()
                .map(|c| (c.as_str(), consent::resolve(&events, *c, Some(&p.address))))
                .collect();
            let exclusions = ex.addresses.get(&p.address).cloned().unwrap_or_default();
            ContactPointView {
                kind: p.kind,
                channel: p.address_kind(),
                address: p.address.clone(),
                consent,
                excluded: exclusions.excluded(),
                exclusions,
            }
        })
        .collect();
    let language = tenants::language_of(&tenant, property.as_ref());
    let language_source = if tenant.language.is_some() { tenants::Source::Tenant } else { tenants::Source::Property };
    let currency = property.as_ref().map(|p| p.currency).unwrap_or_default();
    let Tenant { tenant_id, property_id, name, unit, group_id, status, created_at, updated_at, .. } = tenant;
    Ok(Some(TenantView {
        tenant_id: tenant_id.clone(),
        property_id,
        property_name: property.map(|p| p.name),
        name,
        unit,
        status,
        state: eff.state,
        country: eff.country,
        time_zone: eff.time_zone.name().to_owned(),
        time_zone_source: eff.time_zone_source,
        language,
        language_source,
        currency,
        group_id,
        balance_cents: summary.balance_cents,
        overdue_cents: summary.overdue_cents,
        days_past_due: summary.days_past_due,
        oldest_open_due_date: summary.oldest_open_due_date.map(time::date_string),
        as_of: time::date_string(today),
        consent: consent::tenant_wide(&events),
        exclusion_status: ex.status,
        exclusions: ex.flags,
        contact_points,
        notes: notes::list(db, &tenant_id, NOTES_IN_VIEW)?,
        created_at,
        updated_at,
    }))
}

/// Find one of a tenant's contact points by kind name (`mobile_phone`) or
/// by address in any common spelling (`+14155552671`, `(415) 555-2671`,
/// `Pat@Example.com`), normalised with the tenant's country.
pub fn find_contact_point<'p>(points: &'p [ContactPoint], key: &str, country: &str) -> Result<&'p ContactPoint> {
    let key = key.trim();
    let not_found = || Error::NotFound("the tenant has no such contact point".into());
    if let Ok(kind) = key.parse::<ContactKind>() {
        return points.iter().find(|p| p.kind == kind).ok_or_else(not_found);
    }
    let address = if normalize::looks_like_email(key) {
        normalize::email(key).map_err(Error::Invalid)?
    } else {
        normalize::phone_e164(key, country).map_err(Error::Invalid)?
    };
    points.iter().find(|p| p.address == address).ok_or_else(not_found)
}
