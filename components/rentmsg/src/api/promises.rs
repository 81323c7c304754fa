//! A tenant's promises to pay: the list, and a promise staff took (on a
//! call, by default) recorded with [`promises::record`].

use super::input::json_body;
use super::{tenants, ApiError, Call};
use crate::base::http::Response;
use crate::notices::promises::{self, PromiseSource};
use serde::Deserialize;

/// `POST /api/tenants/{tenant_id}/promises` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPromiseBody {
    /// `YYYY-MM-DD`, the tenant's local date.
    promised_date: String,
    /// Optional amount in cents (none: the whole balance).
    #[serde(default)]
    amount_cents: Option<i64>,
    /// `call` (default) or `link`.
    #[serde(default)]
    source: Option<String>,
}

/// `GET /api/tenants/{tenant_id}/promises`: newest first (statuses as of
/// the last scan or payment; `paid_since_cents` as of now).
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = tenants::require(call)?;
    let list = promises::list(call.db(), &tenant.tenant_id)?;
    Ok(Response::json(200, &serde_json::json!({ "tenant_id": tenant.tenant_id, "promises": list })))
}

/// `POST /api/tenants/{tenant_id}/promises`: record a promise taken by staff.
pub(super) fn create(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: NewPromiseBody = json_body(call)?;
    let tenant = tenants::require(call)?;
    let date = crate::base::time::parse_date(body.promised_date.trim())
        .map_err(|_| ApiError::bad_request("promised_date must be a date like 2024-06-07"))?;
    let source = match body.source.as_deref() {
        None => PromiseSource::Call,
        Some(s) => s.parse::<PromiseSource>().map_err(ApiError::bad_request)?,
    };
    let p = promises::record(call.db(), &tenant.tenant_id, body.amount_cents, date, source, &call.actor, call.ctx.now)?;
    Ok(Response::json(201, &serde_json::to_value(&p).map_err(|e| ApiError::new(500, e.to_string()))?))
}
