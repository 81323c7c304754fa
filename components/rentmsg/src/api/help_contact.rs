//! A property's SMS help contact: who the automatic HELP reply names
//! (a phone number or email of the office).

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::records::{help_contact, tenants};
use serde::Deserialize;

fn help_contact_response(property_id: &str, contact: Option<String>) -> Response {
    Response::json(200, &serde_json::json!({ "property_id": property_id, "contact": contact }))
}

/// `GET /api/properties/{property_id}/sms-help-contact`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let property_id = call.param("property_id");
    if tenants::property(call.db(), property_id)?.is_none() {
        return Err(ApiError::new(404, format!("property `{property_id}` not found")));
    }
    Ok(help_contact_response(property_id, help_contact::get(call.db(), property_id)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelpContactBody {
    contact: Option<String>,
}

/// `PUT /api/properties/{property_id}/sms-help-contact`: `{contact}` (null or "" removes it).
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: HelpContactBody = json_body(call)?;
    let property_id = call.param("property_id");
    let contact = help_contact::set(call.db(), property_id, body.contact.as_deref(), &call.actor, call.ctx.now)?;
    Ok(help_contact_response(property_id, contact))
}

