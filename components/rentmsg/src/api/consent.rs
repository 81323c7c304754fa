//! A tenant's consent: `GET` the tenant-wide status and its history, `PUT`
//! a change (tenant-wide, or for one channel or contact point) with its
//! evidence. Recorded as `staff_api` by the acting staff member.

use super::input::json_body;
use super::{tenants, ApiError, Call};
use crate::base::channel::Channel;
use crate::base::error::Error;
use crate::base::http::Response;
use crate::records::consent::{self, ConsentChange, ConsentStatus};
use crate::records::tenants as records;
use crate::records::view;
use serde::Deserialize;

/// `GET /api/tenants/{tenant_id}/consent`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = tenants::require(call)?;
    let events = consent::events(call.db(), &tenant.tenant_id)?;
    Ok(Response::json(
        200,
        &serde_json::json!({
            "tenant_id": tenant.tenant_id,
            "consent": consent::tenant_wide(&events),
            "events": events,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    status: ConsentStatus,
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    address: Option<String>,
}

/// `PUT /api/tenants/{tenant_id}/consent`: `{status, evidence?, channel?,
/// address?}` → the tenant view. An address must be one of the tenant's
/// contact points (written in any form that normalises to it).
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: ConsentBody = json_body(call)?;
    let tenant = tenants::require(call)?;
    let address = match body.address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(raw) => {
            let property = records::property(call.db(), &tenant.property_id)?;
            let eff = records::effective(&tenant, property.as_ref());
            let points = records::contact_points(call.db(), &tenant.tenant_id)?;
            let point = view::find_contact_point(&points, raw, &eff.country).map_err(|e| match e {
                Error::NotFound(_) => ApiError::bad_request("address is not one of the tenant's contact points"),
                other => other.into(),
            })?;
            Some(point.address.clone())
        }
    };
    let change = ConsentChange {
        tenant_id: &tenant.tenant_id,
        status: body.status,
        evidence: body.evidence.as_deref(),
        channel: body.channel,
        address: address.as_deref(),
        actor: &call.actor,
        source: "staff_api",
    };
    consent::set(call.db(), &change, call.ctx.now)?;
    tenants::view_response(call, &tenant.tenant_id)
}
