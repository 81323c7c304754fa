//! `GET /api/tenants` (a page of summaries) and `GET /api/tenants/{id}`
//! (the tenant as staff see it: contact points, consent, exclusions,
//! balance). The tenant view is also what every tenant `PUT` answers with.

use super::input::{filter_param, limit_param, offset_param, DEFAULT_LIMIT};
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::records::{tenants, view};
use serde::Serialize;

/// The tenant named by the `{tenant_id}` path parameter, or 404.
pub(super) fn require(call: &Call<'_>) -> Result<tenants::Tenant, ApiError> {
    Ok(tenants::require(call.db(), call.param("tenant_id"))?)
}

/// 200 with the tenant view, or 404.
pub(super) fn view_response(call: &Call<'_>, tenant_id: &str) -> Result<Response, ApiError> {
    match view::tenant_view(call.db(), tenant_id, call.ctx.now)? {
        Some(v) => Ok(Response::json(200, &v)),
        None => Err(ApiError::new(404, format!("tenant `{tenant_id}` not found"))),
    }
}

/// One row of the list: enough to pick a tenant, nothing more.
#[derive(Serialize)]
struct TenantSummary<'a> {
    tenant_id: &'a str,
    property_id: &'a str,
    name: &'a str,
    unit: Option<&'a str>,
    status: tenants::TenantStatus,
}

/// `GET /api/tenants?property_id=&limit=&offset=`
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let offset = offset_param(call)?;
    let (list, total) = tenants::list(call.db(), filter_param(call, "property_id"), &call.scope(), limit, offset)?;
    let items: Vec<TenantSummary<'_>> = list
        .iter()
        .map(|t| TenantSummary {
            tenant_id: &t.tenant_id,
            property_id: &t.property_id,
            name: &t.name,
            unit: t.unit.as_deref(),
            status: t.status,
        })
        .collect();
    Ok(Response::json(200, &serde_json::json!({ "tenants": items, "total": total, "limit": limit, "offset": offset })))
}

/// `GET /api/tenants/{tenant_id}`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    view_response(call, call.param("tenant_id"))
}

/// `PATCH /api/tenants/{tenant_id}`: `{language}` (`en`, `es`, `fr` or a
/// BCP 47 tag of one; null = the property's language). Answers the tenant
/// view.
pub(super) fn patch(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: serde_json::Map<String, serde_json::Value> = super::input::json_body(call)?;
    if let Some(unknown) = body.keys().find(|k| k.as_str() != "language") {
        return Err(ApiError::bad_request(format!("unknown field `{unknown}`; only `language` can be changed here")));
    }
    let language = match body.get("language") {
        None => return Err(ApiError::bad_request("nothing to change: give `language`")),
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(crate::base::locale::Language::parse_tag(s).map_err(|e| ApiError::bad_request(e.to_string()))?),
        Some(_) => return Err(ApiError::bad_request("`language` must be a string (en, es, fr) or null")),
    };
    let tenant = require(call)?;
    tenants::set_language(call.db(), &tenant.tenant_id, language, &call.actor, call.ctx.now)?;
    view_response(call, &tenant.tenant_id)
}
