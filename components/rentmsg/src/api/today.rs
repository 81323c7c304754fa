//! `GET /api/today?zone=`: the start page's figures, each with the rows
//! behind it.

use super::{ApiError, Call};
use crate::base::http::Response;
use crate::staff::today;

pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let tz = today::zone(call.db(), call.query("zone"))?;
    let t = today::build(call.db(), call.checker, &call.scope(), tz, call.ctx.now)?;
    Ok(Response::json(200, &t))
}
