//! `GET /api/audit`: who changed what, newest first, optionally for one
//! tenant.

use super::input::{before_id_param, filter_param, limit_param, DEFAULT_LIMIT};
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::records::audit;

/// `GET /api/audit?tenant_id=&limit=&before=`
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let target = filter_param(call, "tenant_id").map(audit::tenant_target);
    // One row more than the page tells whether an older page exists.
    let mut entries = audit::list_in_scope(call.db(), target.as_deref(), &call.scope(), before_id_param(call)?, limit + 1)?;
    let older = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Response::json(200, &serde_json::json!({ "entries": entries, "older": older })))
}
