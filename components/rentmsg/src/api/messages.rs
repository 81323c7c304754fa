//! `POST /api/tenants/{tenant_id}/messages`: a supplemental message (a
//! template stage or staff's own text), queued through the same outbox and
//! compliance checks as the scheduled notices.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::channel::Channel;
use crate::base::http::Response;
use crate::notices::supplemental;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    channel: Channel,
    purpose: String,
    #[serde(default)]
    template_stage: Option<i64>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

/// `POST /api/tenants/{tenant_id}/messages`: a supplemental message →
/// 201 with the outbox row (state queued, deferred or blocked).
pub(super) fn send(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: MessageBody = json_body(call)?;
    let req = supplemental::Request {
        tenant_id: call.param("tenant_id"),
        channel: body.channel,
        purpose: body.purpose.trim(),
        template_stage: body.template_stage,
        subject: body.subject.as_deref(),
        body: body.body.as_deref(),
        actor: &call.actor,
    };
    let row = supplemental::queue(call.db(), call.checker, &req, call.ctx.now)?;
    Ok(Response::json(201, &row))
}

