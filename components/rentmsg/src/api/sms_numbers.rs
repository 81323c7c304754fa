//! `GET /api/sms-numbers/{number}`: whether a number can be texted, and
//! why not (the customer's STOP, or the carrier's answer), with the tenants
//! that have it.

use super::{ApiError, Call};
use crate::base::http::Response;
use crate::base::normalize;
use crate::records::{exclusions, number_states as carrier, tenants};

/// `GET /api/sms-numbers/{number}`: the number's opt-out (by customer),
/// carrier state and the tenants that have it.
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
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
    let scope = call.scope();
    let mut visible = Vec::with_capacity(tenant_ids.len());
    for t in tenant_ids {
        if scope.allows_tenant(db, &t)? {
            visible.push(t);
        }
    }
    let tenant_ids = visible;
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
