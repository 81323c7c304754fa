//! The staff inbox: texts from tenants that need a person (anything not a
//! keyword), listed by status, marked read, handled or reopened.

use super::input::{before_id_param, filter_param, limit_param, offset_param, DEFAULT_LIMIT};
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::inbound::inbox;

fn inbox_id(call: &Call<'_>) -> Result<i64, ApiError> {
    call.param("id")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request("inbox id must be a positive whole number"))
}

fn bool_param(call: &Call<'_>, name: &str) -> Result<Option<bool>, ApiError> {
    match call.query(name) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be true or false"))),
    }
}

/// `GET /api/inbox?status=open|handled|all&matched=true|false&tenant_id=&limit=&offset=&before=`
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let status = match filter_param(call, "status") {
        None => inbox::InboxStatus::Open,
        Some(s) => s.parse().map_err(ApiError::bad_request)?,
    };
    let offset = offset_param(call)?;
    let query = inbox::InboxQuery {
        status,
        matched: bool_param(call, "matched")?,
        tenant_id: filter_param(call, "tenant_id").map(str::to_owned),
        limit: limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT),
        offset,
        before: before_id_param(call)?,
        scope: call.scope(),
    };
    let page = inbox::list(call.db(), &query)?;
    Ok(Response::json(200, &page))
}

/// `GET /api/inbox/{id}`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let id = inbox_id(call)?;
    match inbox::get(call.db(), id)? {
        Some(m) => Ok(Response::json(200, &m)),
        None => Err(ApiError::new(404, format!("inbox message {id} not found"))),
    }
}

/// `POST /api/inbox/{id}/read`
pub(super) fn mark_read(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::mark_read(call.db(), inbox_id(call)?, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

/// `POST /api/inbox/{id}/handled`
pub(super) fn mark_handled(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::set_handled(call.db(), inbox_id(call)?, true, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

/// `POST /api/inbox/{id}/undo-opt-out`: a reply misread as a revocation.
pub(super) fn undo_opt_out(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::undo_opt_out(call.db(), inbox_id(call)?, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

/// `DELETE /api/inbox/{id}/handled`: reopen.
pub(super) fn reopen(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::set_handled(call.db(), inbox_id(call)?, false, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

