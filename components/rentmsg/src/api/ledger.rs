//! `GET /api/tenants/{tenant_id}/ledger`: every entry and the summary
//! (balance, days past due) as of the tenant's local date.

use super::{tenants, ApiError, Call};
use crate::base::http::Response;
use crate::base::time;
use crate::records::ledger;
use crate::records::tenants as records;

/// `GET /api/tenants/{tenant_id}/ledger`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = tenants::require(call)?;
    let property = records::property(call.db(), &tenant.property_id)?;
    let eff = records::effective(&tenant, property.as_ref());
    let today = time::local_date(call.ctx.now, eff.time_zone);
    let entries = ledger::entries(call.db(), &tenant.tenant_id)?;
    let summary = ledger::summarize(&entries, today);
    Ok(Response::json(
        200,
        &serde_json::json!({
            "tenant_id": tenant.tenant_id,
            "as_of": time::date_string(today),
            "summary": summary,
            "entries": entries,
        }),
    ))
}
