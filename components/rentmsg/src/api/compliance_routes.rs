//! Staff routes for compliance: the check (`POST /api/compliance/check`),
//! contact controls (the default rule packs and staff's own) and the call
//! result codes.

use super::{json_body, ApiError, Response, Call};
use crate::base::channel::Channel;
use crate::compliance::controls::ControlSpec;
use crate::compliance::load::parse_at;
use crate::compliance::{store, CheckError, CheckRequest};
use serde::Deserialize;

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::UnknownTenant(m) => ApiError::new(404, m),
            CheckError::Invalid(m) => ApiError::bad_request(m),
            CheckError::Unavailable(d) => ApiError {
                status: 503,
                message: "compliance decisions are unavailable; do not contact".into(),
                diagnostic: Some(d),
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    tenant_id: String,
    channel: Channel,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    manual: Option<bool>,
}

/// `POST /api/compliance/check`: `{tenant_id, channel, address?, at?,
/// manual?}` → `{decision, reasons, defer_until?, near_limit, warnings,
/// address?}`.
pub(super) fn check(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: CheckBody = json_body(call)?;
    let tenant_id = body.tenant_id.trim();
    if tenant_id.is_empty() {
        return Err(ApiError::bad_request("tenant_id is required"));
    }
    let at = match body.at.as_deref() {
        Some(s) => parse_at(s)?,
        None => call.ctx.now,
    };
    let request = CheckRequest {
        tenant_id: tenant_id.to_owned(),
        channel: body.channel,
        address: body.address,
        at,
        manual: body.manual.unwrap_or(false),
    };
    let decision = call.checker.check(&request)?;
    let mut out = decision.to_json();
    out["tenant_id"] = request.tenant_id.into();
    out["channel"] = request.channel.as_str().into();
    out["at"] = crate::base::time::timestamp(request.at).into();
    out["manual"] = request.manual.into();
    Ok(Response::json(200, &out))
}

/// `GET /api/contact-controls`.
pub(super) fn list_controls(call: &Call<'_>) -> Result<Response, ApiError> {
    let controls = store::list(call.db())?;
    Ok(Response::json(200, &serde_json::json!({ "controls": controls })))
}

/// `POST /api/contact-controls`: create (201); 409 if the key exists.
pub(super) fn create_control(call: &Call<'_>) -> Result<Response, ApiError> {
    let spec: ControlSpec = json_body(call)?;
    let stored = store::create(call.db(), &spec, &call.actor, call.ctx.now)?;
    Ok(Response::json(201, &stored))
}

/// `GET /api/contact-controls/{key}`.
pub(super) fn get_control(call: &Call<'_>) -> Result<Response, ApiError> {
    let key = call.param("key");
    match store::get(call.db(), key)? {
        Some(c) => Ok(Response::json(200, &c)),
        None => Err(ApiError::new(404, format!("contact control `{key}` not found"))),
    }
}

/// `PUT /api/contact-controls/{key}`: replace its settings (the key stays).
pub(super) fn put_control(call: &Call<'_>) -> Result<Response, ApiError> {
    let mut raw: serde_json::Value = json_body(call)?;
    let key = call.param("key");
    // The key is in the path; the body may leave it out. What GET returns
    // can be sent back as is: its read-only fields are ignored.
    if let Some(obj) = raw.as_object_mut() {
        obj.entry("key").or_insert_with(|| key.into());
        for read_only in store::READ_ONLY_FIELDS {
            obj.remove(*read_only);
        }
    }
    let spec: ControlSpec =
        serde_json::from_value(raw).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    let stored = store::replace(call.db(), key, &spec, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &stored))
}

/// `DELETE /api/contact-controls/{key}`.
pub(super) fn delete_control(call: &Call<'_>) -> Result<Response, ApiError> {
    let key = call.param("key");
    store::delete(call.db(), key, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &serde_json::json!({ "deleted": key })))
}

/// `GET /api/call-result-codes`.
pub(super) fn call_result_codes(call: &Call<'_>) -> Result<Response, ApiError> {
    let codes = store::call_result_codes(call.db())?;
    Ok(Response::json(200, &serde_json::json!({ "codes": codes })))
}
