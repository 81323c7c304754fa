//! `POST /api/tenants/{tenant_id}/inbound-calls`: a call the tenant placed
//! to staff, recorded with its result code (see [`crate::inbound::calls`]).

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::inbound::calls::{self, NewInboundCall};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundCallBody {
    result_code: i64,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

/// `{result_code, notes?, address?}` → 201 with the recorded call.
pub(super) fn record(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: InboundCallBody = json_body(call)?;
    let recorded = calls::record(
        call.db(),
        &NewInboundCall {
            tenant_id: call.param("tenant_id"),
            result_code: body.result_code,
            notes: body.notes.as_deref(),
            address: body.address.as_deref(),
            actor: &call.actor,
        },
        call.ctx.now,
    )?;
    Ok(Response::json(201, &recorded))
}
