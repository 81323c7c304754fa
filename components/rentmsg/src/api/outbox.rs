//! The outbox: every notice and message the scan or staff queued, with its
//! state (queued, deferred, blocked, sent...). Filled by the overdue-scan
//! component (`POST /api/scan`) and drained by outbound-send
//! (`POST /api/send`); these routes only read it.

use super::input::{before_id_param, filter_param, limit_param, DEFAULT_LIMIT};
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::notices::outbox::{self, ListFilter};
use serde_json::{json, Map, Value as Json};

/// `GET /api/outbox?tenant_id=&state=&limit=&before=`.
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let state = filter_param(call, "state");
    if let Some(s) = state {
        if !outbox::STATES.contains(&s) {
            return Err(ApiError::bad_request(format!("state must be one of {}", outbox::STATES.join(", "))));
        }
    }
    // One row more than the page tells whether an older page exists.
    let filter = ListFilter { tenant_id: filter_param(call, "tenant_id"), state, limit: limit + 1, before: before_id_param(call)?, scope: call.scope() };
    let mut items = outbox::list(call.db(), &filter)?;
    let older = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|r| r.id.to_string())
    } else {
        None
    };
    let counts: Map<String, Json> = outbox::counts(call.db(), &call.scope())?.into_iter().map(|(k, n)| (k, n.into())).collect();
    Ok(Response::json(200, &json!({ "items": items, "counts": counts, "older": older })))
}

/// `GET /api/outbox/{id}`.
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let id: i64 = call.param("id").parse().map_err(|_| ApiError::bad_request("id must be a whole number"))?;
    match outbox::get(call.db(), id)? {
        Some(row) => Ok(Response::json(200, &row)),
        None => Err(ApiError::new(404, format!("outbox row {id} not found"))),
    }
}

