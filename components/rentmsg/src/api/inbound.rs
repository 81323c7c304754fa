//! Staff API routes of the inbound SMS work: the inbox, the keyword lists,
//! the per-property HELP contact and a number's texting state.

use super::{json_body, limit_param, ApiError, Response, Call, DEFAULT_LIMIT};
use crate::records::exclusions;
use crate::inbound::{inbox, keywords};
use crate::records::{help_contact, number_states as carrier};
use crate::base::normalize;
use crate::records::tenants;
use serde::Deserialize;

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

/// `GET /api/inbox?status=open|handled|all&matched=true|false&tenant_id=&limit=&offset=`
pub(super) fn list_inbox(call: &Call<'_>) -> Result<Response, ApiError> {
    let status = match call.query("status").filter(|s| !s.is_empty()) {
        None => inbox::InboxStatus::Open,
        Some(s) => s.parse().map_err(ApiError::bad_request)?,
    };
    let offset = match call.query("offset") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("offset must be a whole number, 0 or more"))?,
    };
    let query = inbox::InboxQuery {
        status,
        matched: bool_param(call, "matched")?,
        tenant_id: call.query("tenant_id").filter(|t| !t.is_empty()).map(str::to_owned),
        limit: limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT),
        offset,
    };
    let page = inbox::list(call.db(), &query)?;
    Ok(Response::json(200, &page))
}

/// `GET /api/inbox/{id}`
pub(super) fn get_inbox_message(call: &Call<'_>) -> Result<Response, ApiError> {
    let id = inbox_id(call)?;
    match inbox::get(call.db(), id)? {
        Some(m) => Ok(Response::json(200, &m)),
        None => Err(ApiError::new(404, format!("inbox message {id} not found"))),
    }
}

/// `POST /api/inbox/{id}/read`
pub(super) fn read_inbox_message(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::mark_read(call.db(), inbox_id(call)?, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

/// `POST /api/inbox/{id}/handled`
pub(super) fn handle_inbox_message(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::set_handled(call.db(), inbox_id(call)?, true, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

/// `POST /api/inbox/{id}/undo-opt-out`: a reply misread as a revocation.
pub(super) fn undo_inbox_opt_out(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::undo_opt_out(call.db(), inbox_id(call)?, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

/// `DELETE /api/inbox/{id}/handled`: reopen.
pub(super) fn reopen_inbox_message(call: &Call<'_>) -> Result<Response, ApiError> {
    let m = inbox::set_handled(call.db(), inbox_id(call)?, false, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &m))
}

fn keywords_response(lists: &keywords::KeywordLists) -> Response {
    let required: serde_json::Map<String, serde_json::Value> = keywords::KeywordAction::ALL
        .iter()
        .map(|a| (a.as_str().to_owned(), serde_json::json!(a.required())))
        .collect();
    Response::json(
        200,
        &serde_json::json!({
            "opt_out": lists.opt_out,
            "opt_in": lists.opt_in,
            "help": lists.help,
            "required": required,
        }),
    )
}

/// `GET /api/keywords`
pub(super) fn get_keywords(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(keywords_response(&keywords::lists(call.db())?))
}

/// `PUT /api/keywords`: `{opt_out?, opt_in?, help?}`, each list replacing the stored one.
pub(super) fn put_keywords(call: &Call<'_>) -> Result<Response, ApiError> {
    let update: keywords::KeywordUpdate = json_body(call)?;
    let lists = keywords::update(call.db(), &update, &call.actor, call.ctx.now)?;
    Ok(keywords_response(&lists))
}

fn help_contact_response(property_id: &str, contact: Option<String>) -> Response {
    Response::json(200, &serde_json::json!({ "property_id": property_id, "contact": contact }))
}

/// `GET /api/properties/{property_id}/sms-help-contact`
pub(super) fn get_help_contact(call: &Call<'_>) -> Result<Response, ApiError> {
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
pub(super) fn put_help_contact(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: HelpContactBody = json_body(call)?;
    let property_id = call.param("property_id");
    let contact = help_contact::set(call.db(), property_id, body.contact.as_deref(), &call.actor, call.ctx.now)?;
    Ok(help_contact_response(property_id, contact))
}

/// `GET /api/sms-numbers/{number}`: the number's opt-out (by customer),
/// carrier state and the tenants that have it.
pub(super) fn get_sms_number(call: &Call<'_>) -> Result<Response, ApiError> {
    let address = normalize::phone_e164(call.param("number"), normalize::DEFAULT_COUNTRY)
        .map_err(|_| ApiError::bad_request("the path does not name a phone number"))?;
    let db = call.db();
    let by_customer = exclusions::address_exclusions(db, "", &[address.as_str()])?
        .remove(&address)
        .unwrap_or_default()
        .by_customer;
    let carrier_state = carrier::number_state(db, &address)?;
    let mut tenant_ids: Vec<String> = tenants::find_by_address(db, &address)?.into_iter().map(|(t, _)| t).collect();
    tenant_ids.dedup();
    let texting = if by_customer.on {
        "opted_out"
    } else if carrier_state.is_some() {
        "invalid"
    } else {
        "ok"
    };
    Ok(Response::json(
        200,
        &serde_json::json!({
            "address": address,
            "texting": texting,
            "by_customer": by_customer,
            "carrier_state": carrier_state,
            "tenant_ids": tenant_ids,
        }),
    ))
}
