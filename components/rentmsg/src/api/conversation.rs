//! `GET /api/tenants/{tenant_id}/conversation?before=&limit=`: every text
//! and email in and out, oldest to newest, a page at a time.

use super::input::limit_param;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::staff::conversation;

pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(conversation::DEFAULT_LIMIT))?.unwrap_or(conversation::DEFAULT_LIMIT);
    let before = call.query("before").filter(|s| !s.is_empty()).map(conversation::parse_cursor).transpose()?;
    let page = conversation::page(call.db(), call.param("tenant_id"), before.as_ref(), limit)?;
    Ok(Response::json(200, &page))
}
