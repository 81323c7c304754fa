//! `POST /api/compliance/check` (what the rules say about a proposed
//! contact, from the same checker the product uses) and
//! `GET /api/call-result-codes` (the codes staff record a call with).

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::channel::Channel;
use crate::base::http::Response;
use crate::compliance::load::{parse_at, typed_address};
use crate::compliance::{store, CheckRequest};
use crate::records::tenants;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    tenant_id: String,
    channel: Channel,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    manual: Option<bool>,
}

/// `POST /api/compliance/check`: `{tenant_id, channel, address?, at?,
/// manual?}` → `{decision, reasons, defer_until?, near_limit, warnings,
/// address?}`.
pub(super) fn check(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: CheckBody = json_body(call)?;
    let tenant_id = body.tenant_id.trim();
    if tenant_id.is_empty() {
        return Err(ApiError::bad_request("tenant_id is required"));
    }
    if !call.scope().allows_tenant(call.db(), tenant_id)? {
        return Err(ApiError::new(404, format!("tenant `{tenant_id}` not found")));
    }
    let at = match body.at.as_deref() {
        Some(s) => parse_at(s)?,
        None => call.ctx.now,
    };
    let address = match body.address {
        Some(address) => {
            let country = match tenants::get(call.db(), tenant_id)? {
                Some(tenant) => tenants::effective(&tenant, tenants::property(call.db(), &tenant.property_id)?.as_ref()).country,
                None => return Err(ApiError::new(404, format!("tenant `{tenant_id}` not found"))),
            };
            typed_address(body.channel, Some(address), &country)?
        }
        None => None,
    };
    let request = CheckRequest {
        tenant_id: tenant_id.to_owned(),
        channel: body.channel,
        address,
        at,
        manual: body.manual.unwrap_or(false),
    };
    let decision = call.checker.check(&request)?;
    let mut out = decision.to_json();
    out["tenant_id"] = request.tenant_id.into();
    out["channel"] = request.channel.as_str().into();
    out["at"] = crate::base::time::timestamp(request.at).into();
    out["manual"] = request.manual.into();
    Ok(Response::json(200, &out))
}

/// `GET /api/call-result-codes`
pub(super) fn call_result_codes(call: &Call<'_>) -> Result<Response, ApiError> {
    let codes = store::call_result_codes(call.db())?;
    Ok(Response::json(200, &serde_json::json!({ "codes": codes })))
}
