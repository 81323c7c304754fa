//! Properties, tenants and their contact points (read side; writes come
//! from the CSV imports).

use crate::base::db::{self, Db, Row};
use crate::base::error::{Error, Result};
use crate::base::locale::{Currency, Language};
use crate::base::normalize;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Tenant status from the AR system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Normal account.
    Active,
    /// On the AR system's stop file: no online payments accepted.
    Stop,
    /// No longer living there.
    MovedOut,
}

impl TenantStatus {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Stop => "stop",
            TenantStatus::MovedOut => "moved_out",
        }
    }
}

impl FromStr for TenantStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(TenantStatus::Active),
            "stop" => Ok(TenantStatus::Stop),
            "moved_out" => Ok(TenantStatus::MovedOut),
            other => Err(format!("status `{other}` is not one of active, stop, moved_out")),
        }
    }
}

/// Which column of the tenant file a contact point came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// `mobile_phone` column.
    MobilePhone,
    /// `home_phone` column.
    HomePhone,
    /// `work_phone` column.
    WorkPhone,
    /// `email` column.
    Email,
    /// `work_email` column (employer-provided: not emailed by default).
    WorkEmail,
}

/// Channel family of a contact point's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// An E.164 phone number (calls and texts).
    Phone,
    /// An email address.
    Email,
}

impl AddressKind {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Phone => "phone",
            AddressKind::Email => "email",
        }
    }
}

impl ContactKind {
    /// All kinds, in CSV column order.
    pub const ALL: [ContactKind; 5] = [
        ContactKind::MobilePhone,
        ContactKind::HomePhone,
        ContactKind::WorkPhone,
        ContactKind::Email,
        ContactKind::WorkEmail,
    ];

    /// Stored / wire / CSV column name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::MobilePhone => "mobile_phone",
            ContactKind::HomePhone => "home_phone",
            ContactKind::WorkPhone => "work_phone",
            ContactKind::Email => "email",
            ContactKind::WorkEmail => "work_email",
        }
    }

    /// Phone or email.
    pub fn address_kind(self) -> AddressKind {
        match self {
            ContactKind::MobilePhone | ContactKind::HomePhone | ContactKind::WorkPhone => AddressKind::Phone,
            ContactKind::Email | ContactKind::WorkEmail => AddressKind::Email,
        }
    }

    /// True for phone numbers.
    pub fn is_phone(self) -> bool {
        self.address_kind() == AddressKind::Phone
    }
}

impl FromStr for ContactKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ContactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a contact point kind"))
    }
}

/// A property (facility): its time zone and country are its tenants'
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    /// AR system id.
    pub property_id: String,
    /// Display name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// State / province code.
    pub state: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// The currency its balances are kept and charged in.
    pub currency: Currency,
}

impl Property {
    /// The language of its tenants who have none: French in Quebec, else
    /// English.
    pub fn language(&self) -> Language {
        Language::for_property(self.state.as_deref(), self.country.as_deref())
    }
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenant {
    /// AR system id.
    pub tenant_id: String,
    /// The property the tenant rents at.
    pub property_id: String,
    /// Full name.
    pub name: String,
    /// Unit label.
    pub unit: Option<String>,
    /// State / province code (own; the property's is the fallback).
    pub state: Option<String>,
    /// ISO country code (own; the property's is the fallback).
    pub country: Option<String>,
    /// IANA time zone (own; None = the property's).
    pub time_zone: Option<String>,
    /// Co-signer / household group.
    pub group_id: Option<String>,
    /// AR status.
    pub status: TenantStatus,
    /// The language the tenant reads (None = the property's).
    pub language: Option<Language>,
    /// When first imported.
    pub created_at: String,
    /// When last changed by an import.
    pub updated_at: String,
}

/// One phone number or email address of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactPoint {
    /// Which column it came from.
    pub kind: ContactKind,
    /// E.164 number or lower-case email.
    pub address: String,
}

impl ContactPoint {
    /// Phone or email.
    pub fn address_kind(&self) -> AddressKind {
        self.kind.address_kind()
    }
}

fn property_from_row(row: Row<'_>) -> Result<Property> {
    Ok(Property {
        property_id: row.string("property_id")?,
        name: row.string("name")?,
        time_zone: row.string("time_zone")?,
        state: row.opt_string("state")?,
        country: row.opt_string("country")?,
        currency: row.str("currency")?.parse().map_err(|e: crate::base::locale::CurrencyError| Error::Corrupt(e.to_string()))?,
    })
}

pub(crate) fn tenant_from_row(row: Row<'_>) -> Result<Tenant> {
    let status = row.str("status")?;
    Ok(Tenant {
        tenant_id: row.string("tenant_id")?,
        property_id: row.string("property_id")?,
        name: row.string("name")?,
        unit: row.opt_string("unit")?,
        state: row.opt_string("state")?,
        country: row.opt_string("country")?,
        time_zone: row.opt_string("time_zone")?,
        group_id: row.opt_string("group_id")?,
        status: status.parse().map_err(Error::Corrupt)?,
        language: row
            .opt_str("language")?
            .map(|l| l.parse().map_err(|e: crate::base::locale::LanguageError| Error::Corrupt(e.to_string())))
            .transpose()?,
        created_at: row.string("created_at")?,
        updated_at: row.string("updated_at")?,
    })
}

/// A property by id.
pub fn property(db: &dyn Db, property_id: &str) -> Result<Option<Property>> {
    let rows = db.execute(
        "SELECT property_id, name, time_zone, state, country, currency FROM properties WHERE property_id = ?",
        &[property_id.into()],
    )?;
    rows.first().map(property_from_row).transpose()
}

/// A tenant by id.
pub fn get(db: &dyn Db, tenant_id: &str) -> Result<Option<Tenant>> {
    let rows = db.execute(
        "SELECT tenant_id, property_id, name, unit, state, country, time_zone, group_id, status, language, created_at, updated_at
         FROM tenants WHERE tenant_id = ?",
        &[tenant_id.into()],
    )?;
    rows.first().map(tenant_from_row).transpose()
}

/// A tenant by id, or `NotFound`.
pub fn require(db: &dyn Db, tenant_id: &str) -> Result<Tenant> {
    get(db, tenant_id)?.ok_or_else(|| Error::NotFound(format!("tenant `{tenant_id}` not found")))
}

/// Tenants in id order, optionally of one property; `(page, total)`.
pub fn list(db: &dyn Db, property_id: Option<&str>, scope: &crate::records::scope::Scope, limit: i64, offset: i64) -> Result<(Vec<Tenant>, i64)> {
    let (mut filter, mut params): (String, Vec<crate::base::db::Value>) = match property_id {
        Some(p) => ("WHERE property_id = ?".into(), vec![p.into()]),
        None => ("WHERE true".into(), vec![]),
    };
    let (in_scope, scope_params) = scope.and_property_in("property_id");
    filter.push_str(&in_scope);
    params.extend(scope_params);
    let total = db
        .execute(&format!("SELECT count(*) AS n FROM tenants {filter}"), &params)?
        .first()
        .map(|r| r.i64("n"))
        .transpose()?
        .unwrap_or(0);
    let rows = db.execute(
        &format!(
            "SELECT tenant_id, property_id, name, unit, state, country, time_zone, group_id, status, language, created_at, updated_at
             FROM tenants {filter} ORDER BY tenant_id {}",
            db::limit_clause(limit, Some(offset))
        ),
        &params,
    )?;
    let tenants = rows.iter().map(tenant_from_row).collect::<Result<Vec<_>>>()?;
    Ok((tenants, total))
}

/// A tenant's contact points in column order (mobile, home, work, email, work email).
pub fn contact_points(db: &dyn Db, tenant_id: &str) -> Result<Vec<ContactPoint>> {
    let rows = db.execute("SELECT kind, address FROM contact_points WHERE tenant_id = ?", &[tenant_id.into()])?;
    let mut points = rows
        .iter()
        .map(|r| {
            Ok(ContactPoint {
                kind: r.str("kind")?.parse().map_err(Error::Corrupt)?,
                address: r.string("address")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    points.sort_by_key(|p| p.kind);
    Ok(points)
}

/// Tenants that have this address (E.164 or email) as a contact point, with
/// the kind: `(tenant_id, kind)`. For inbound messages.
pub fn find_by_address(db: &dyn Db, address: &str) -> Result<Vec<(String, ContactKind)>> {
    let rows = db.execute(
        "SELECT tenant_id, kind FROM contact_points WHERE address = ? ORDER BY tenant_id, kind",
        &[address.into()],
    )?;
    rows.iter()
        .map(|r| Ok((r.string("tenant_id")?, r.str("kind")?.parse().map_err(Error::Corrupt)?)))
        .collect()
}

/// Where a tenant's effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The tenant's own column.
    Tenant,
    /// The property's column.
    Property,
    /// The built-in default.
    Default,
}

/// A tenant's settings after falling back to the property.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// Time zone for contact windows and "today".
    pub time_zone: Tz,
    /// Where the time zone came from.
    pub time_zone_source: Source,
    /// State / province code.
    pub state: Option<String>,
    /// Country code (default US).
    pub country: String,
}

/// The language a tenant reads: their own, else the property's, else
/// English.
pub fn language_of(tenant: &Tenant, property: Option<&Property>) -> Language {
    tenant.language.or_else(|| property.map(Property::language)).unwrap_or_default()
}

/// Set or clear (None: the property's) a tenant's language; audited.
/// NotFound for an unknown tenant.
pub fn set_language(db: &dyn Db, tenant_id: &str, language: Option<Language>, actor: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Tenant> {
    crate::base::db::transaction(db, |tx| -> Result<Tenant> {
        let before = require(tx, tenant_id)?;
        tx.execute(
            "UPDATE tenants SET language = ?, updated_at = ? WHERE tenant_id = ?",
            &[language.map(Language::as_str).into(), crate::base::time::timestamp(now).into(), tenant_id.into()],
        )?;
        crate::records::audit::record(
            tx,
            actor,
            "tenant.language",
            tenant_id,
            &serde_json::json!({ "before": before.language, "after": language }),
            now,
        )?;
        require(tx, tenant_id)
    })
}

/// Resolve a tenant's time zone, state and country against its property.
pub fn effective(tenant: &Tenant, property: Option<&Property>) -> Effective {
    let own_tz = tenant.time_zone.as_deref().and_then(|t| normalize::time_zone(t).ok());
    let prop_tz = property.and_then(|p| normalize::time_zone(&p.time_zone).ok());
    let (time_zone, time_zone_source) = match (own_tz, prop_tz) {
        (Some(tz), _) => (tz, Source::Tenant),
        (None, Some(tz)) => (tz, Source::Property),
        (None, None) => (chrono_tz::UTC, Source::Default),
    };
    Effective {
        time_zone,
        time_zone_source,
        state: tenant.state.clone().or_else(|| property.and_then(|p| p.state.clone())),
        country: tenant
            .country
            .clone()
            .or_else(|| property.and_then(|p| p.country.clone()))
            .unwrap_or_else(|| normalize::DEFAULT_COUNTRY.to_owned()),
    }
}
