//! `GET /api/audit`: who changed what, newest first, optionally for one
//! tenant.

use super::input::{filter_param, limit_param, DEFAULT_LIMIT};
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::records::audit;

/// `GET /api/audit?tenant_id=&limit=`
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let target = filter_param(call, "tenant_id").map(audit::tenant_target);
    let entries = audit::list_in_scope(call.db(), target.as_deref(), &call.scope(), limit)?;
    Ok(Response::json(200, &serde_json::json!({ "entries": entries })))
}
