//! Manual calls: `GET /api/call-list` (who to call now, in order, with
//! what the rules allow) and `POST /api/tenants/{tenant_id}/calls` (a call's
//! result, with a promise taken on it).

use super::input::{filter_param, json_body, limit_param, offset_param};
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::base::time;
use crate::staff::call_list::{self, CallListQuery};
use crate::staff::calls::{self, CallError, NewCall, PromiseInput};
use serde::Deserialize;

/// `GET /api/call-list?property_id=&stage=&callable=&limit=&after=` (or
/// `offset=` without the stage and callable filters, as before them).
pub(super) fn call_list(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(call_list::DEFAULT_LIMIT))?.unwrap_or(call_list::DEFAULT_LIMIT);
    let offset = offset_param(call)?;
    let stage = match filter_param(call, "stage") {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("stage must be a notice stage number, not `{v}`")))?),
    };
    let callable = match filter_param(call, "callable") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(ApiError::bad_request(format!("callable must be true or false, not `{v}`"))),
    };
    let after = filter_param(call, "after").map(call_list::Cursor::parse).transpose()?;
    // Offset counts rows of the unfiltered order; with a filter or a cursor
    // it would skip something other than what the caller sees.
    if offset > 0 && (stage.is_some() || callable || after.is_some()) {
        return Err(ApiError::bad_request("offset cannot be combined with stage, callable or after; page with after=<next>"));
    }
    let q = CallListQuery { property_id: filter_param(call, "property_id"), stage, callable, limit, offset, after, scope: call.scope() };
    let list = call_list::build(call.db(), call.checker, &q, call.ctx.now)?;
    Ok(Response::json(200, &list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromiseBody {
    #[serde(default)]
    amount_cents: Option<i64>,
    date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    result_code: i64,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    override_reason: Option<String>,
    #[serde(default)]
    promise: Option<PromiseBody>,
}

/// `POST /api/tenants/{tenant_id}/calls`: `{result_code, notes?, address?,
/// override_reason?, promise?: {amount_cents?, date}}` → 201 with the
/// recorded call; 409 with the decision when the rules object and no
/// override reason is given.
pub(super) fn record(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: CallBody = json_body(call)?;
    let promise = match &body.promise {
        None => None,
        Some(p) => {
            if p.amount_cents.is_some_and(|a| a <= 0) {
                return Err(ApiError::bad_request("promise.amount_cents must be more than 0"));
            }
            Some(PromiseInput {
                amount_cents: p.amount_cents,
                date: time::parse_date(&p.date).map_err(|e| ApiError::bad_request(format!("promise.date: {e}")))?,
            })
        }
    };
    let new = NewCall {
        tenant_id: call.param("tenant_id"),
        result_code: body.result_code,
        notes: body.notes.as_deref(),
        address: body.address.as_deref(),
        override_reason: body.override_reason.as_deref(),
        promise,
        actor: &call.actor,
    };
    match calls::record(call.db(), call.checker, &new, call.ctx.now) {
        Ok(recorded) => Ok(Response::json(201, &recorded)),
        Err(CallError::NotAllowed(decision)) => {
            let message = CallError::NotAllowed(decision.clone()).to_string();
            Ok(Response::json(409, &serde_json::json!({ "error": message, "decision": decision.to_json() })))
        }
        Err(CallError::Check(e)) => Err(e.into()),
        Err(CallError::Domain(e)) => Err(e.into()),
    }
}

