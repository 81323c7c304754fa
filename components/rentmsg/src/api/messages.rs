//! `POST /api/tenants/{tenant_id}/messages`: a supplemental message (a
//! template stage or staff's own text), queued through the same outbox and
//! compliance checks as the scheduled notices, in the language staff pick.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::channel::Channel;
use crate::base::http::Response;
use crate::base::locale::Language;
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
    /// `en`, `es` or `fr`: the language staff write in or want the
    /// template in (absent or null: the tenant's).
    #[serde(default)]
    language: Option<serde_json::Value>,
}

/// The picked language, exactly one of the codes the console offers: a
/// regional tag such as `es-MX` is refused here, since staff choose from a
/// list rather than pass a reader's preference along.
fn picked_language(raw: Option<&serde_json::Value>) -> Result<Option<Language>, ApiError> {
    let unsupported = |what: String| ApiError::bad_request(format!("language {what} is not supported: give en, es or fr (or leave it out for the tenant's language)"));
    match raw {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(code)) => {
            Language::ALL.into_iter().find(|l| l.as_str() == code).map(Some).ok_or_else(|| unsupported(format!("`{code}`")))
        }
        Some(other) => Err(unsupported(other.to_string())),
    }
}

/// `POST /api/tenants/{tenant_id}/messages`: a supplemental message →
/// 201 with the outbox row (state queued, deferred or blocked).
pub(super) fn send(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: MessageBody = json_body(call)?;
    let language = picked_language(body.language.as_ref())?;
    let req = supplemental::Request {
        tenant_id: call.param("tenant_id"),
        channel: body.channel,
        purpose: body.purpose.trim(),
        template_stage: body.template_stage,
        subject: body.subject.as_deref(),
        body: body.body.as_deref(),
        language,
        actor: &call.actor,
    };
    let row = supplemental::queue(call.db(), call.checker, &req, call.ctx.now)?;
    Ok(Response::json(201, &row))
}

