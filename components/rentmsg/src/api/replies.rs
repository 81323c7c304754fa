//! `POST /api/tenants/{tenant_id}/replies`: answer a tenant's text in one
//! step (compliance first, then queue, audit, inbox handled, send now).

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::staff::reply::{self, Reply};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    body: String,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    inbox_id: Option<i64>,
}

/// 201 with the decision, the outbox row and what became of it; 409 with
/// the decision and its rules when compliance blocks or defers it (nothing
/// written).
pub(super) fn create(call: &Call<'_>) -> Result<Response, ApiError> {
    let b: ReplyBody = json_body(call)?;
    let r = Reply {
        tenant_id: call.param("tenant_id"),
        body: &b.body,
        purpose: b.purpose.as_deref().map(str::trim).unwrap_or("account_question"),
        inbox_id: b.inbox_id,
        actor: &call.actor,
    };
    let out = reply::answer(call.db(), call.checker, call.sender, &r, call.ctx.now)?;
    let status = if out.outbox.is_some() { 201 } else { 409 };
    let mut body = serde_json::to_value(&out).unwrap_or_default();
    if status == 409 {
        body["error"] = format!("compliance {}s this reply: {}", if out.decision == "defer" { "defer" } else { "block" }, crate::notices::scan::summarize(&out.reasons)).into();
    }
    Ok(Response::json(status, &body))
}
