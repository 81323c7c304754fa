//! Application settings (how long payment links stay valid, ...): `GET`
//! them, `PUT` any of them.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::records::settings::{self, SettingsChange};

/// `GET /api/settings`.
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &settings::get(call.db())?))
}

/// `PUT /api/settings`: any of `{link_expiry_days}`.
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let change: SettingsChange = json_body(call)?;
    Ok(Response::json(200, &settings::set(call.db(), &change, &call.actor, call.ctx.now)?))
}
