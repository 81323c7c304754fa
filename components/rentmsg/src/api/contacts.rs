//! `GET /api/tenants/{tenant_id}/contacts`: the tenant's contact history
//! (messages and calls both ways), newest first.

use super::input::limit_param;
use super::{tenants, ApiError, Call};
use crate::base::http::Response;
use crate::records::contact_log;

/// `GET /api/tenants/{tenant_id}/contacts?limit=` (no limit: all of them)
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = tenants::require(call)?;
    let limit = limit_param(call, None)?;
    let contacts = contact_log::for_tenant(call.db(), &tenant.tenant_id, limit)?;
    Ok(Response::json(200, &serde_json::json!({ "tenant_id": tenant.tenant_id, "contacts": contacts })))
}
