//! Staff exclusions: the tenant-wide flags (bankruptcy, no automated texts
//! and calls, no automated contact at all) and one contact point's
//! exclusion. The by-customer exclusion (a STOP) is the tenant's own and
//! only their START lifts it, so staff cannot edit it here.

use super::input::json_body;
use super::{tenants, ApiError, Call};
use crate::base::db;
use crate::base::http::Response;
use crate::records::exclusions::{self, TenantFlag};
use crate::records::tenants as records;
use crate::records::view;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankruptcyBody {
    on: bool,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExclusionsBody {
    #[serde(default)]
    bankruptcy: Option<BankruptcyBody>,
    #[serde(default)]
    disable_texting_auto_calls: Option<bool>,
    #[serde(default)]
    disable_auto_communications: Option<bool>,
}

/// `PUT /api/tenants/{tenant_id}/exclusions`: any of the three flags, in
/// one transaction → the tenant view. Turning bankruptcy on needs a reason.
pub(super) fn put_tenant_flags(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: ExclusionsBody = json_body(call)?;
    if body.bankruptcy.is_none() && body.disable_texting_auto_calls.is_none() && body.disable_auto_communications.is_none()
    {
        return Err(ApiError::bad_request(
            "nothing to change: give bankruptcy, disable_texting_auto_calls and/or disable_auto_communications",
        ));
    }
    if let Some(b) = &body.bankruptcy {
        if b.on && b.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(ApiError::bad_request("bankruptcy.reason is required when turning bankruptcy on"));
        }
    }
    let tenant_id = call.param("tenant_id");
    let (actor, now) = (call.actor.as_str(), call.ctx.now);
    db::transaction(call.db(), |tx| -> Result<(), ApiError> {
        records::require(tx, tenant_id)?;
        if let Some(b) = &body.bankruptcy {
            exclusions::set_flag_in_tx(tx, tenant_id, TenantFlag::Bankruptcy, b.on, b.reason.as_deref(), actor, now)?;
        }
        if let Some(on) = body.disable_texting_auto_calls {
            exclusions::set_flag_in_tx(tx, tenant_id, TenantFlag::DisableTextingAutoCalls, on, None, actor, now)?;
        }
        if let Some(on) = body.disable_auto_communications {
            exclusions::set_flag_in_tx(tx, tenant_id, TenantFlag::DisableAutoCommunications, on, None, actor, now)?;
        }
        Ok(())
    })?;
    tenants::view_response(call, tenant_id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactPointExclusionBody {
    on: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// `PUT /api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion`:
/// `{on, reason?}` → the tenant view; 409 for a body that touches
/// `by_customer`.
pub(super) fn put_contact_point(call: &Call<'_>) -> Result<Response, ApiError> {
    let raw: serde_json::Map<String, serde_json::Value> = json_body(call)?;
    if raw.contains_key("by_customer") {
        return Err(ApiError::new(
            409,
            "the by-customer exclusion is set by the customer's STOP and only their START lifts it; staff cannot edit it",
        ));
    }
    let body: ContactPointExclusionBody =
        serde_json::from_value(serde_json::Value::Object(raw)).map_err(ApiError::invalid_json)?;
    let tenant = tenants::require(call)?;
    let property = records::property(call.db(), &tenant.property_id)?;
    let eff = records::effective(&tenant, property.as_ref());
    let (actor, now) = (call.actor.as_str(), call.ctx.now);
    db::transaction(call.db(), |tx| -> Result<(), ApiError> {
        let points = records::contact_points(tx, &tenant.tenant_id)?;
        let point = view::find_contact_point(&points, call.param("contact_point"), &eff.country)?;
        exclusions::set_user_exclusion_in_tx(
            tx,
            &tenant.tenant_id,
            &point.address,
            body.on,
            body.reason.as_deref(),
            actor,
            now,
        )?;
        Ok(())
    })?;
    tenants::view_response(call, &tenant.tenant_id)
}
