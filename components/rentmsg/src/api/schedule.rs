//! The notice schedule: which stage goes out how many days past due, on
//! which channels. `PUT` takes the whole schedule, as `GET` returns it
//! (`updated_by` and `updated_at` are ignored).

use super::input::{json_body, without_read_only};
use super::{ApiError, Call};
use crate::base::db::Db;
use crate::base::http::Response;
use crate::notices::schedule::{self, ScheduleSpec};
use serde_json::{Map, Value as Json};

fn schedule_json(db: &dyn Db) -> Result<Json, ApiError> {
    let s = schedule::load(db)?;
    let mut v = serde_json::to_value(&s.spec).map_err(|e| ApiError::new(500, e.to_string()))?;
    let rows = db.execute("SELECT updated_by, updated_at FROM notice_schedule WHERE id = 1", &[])?;
    if let Some(r) = rows.first() {
        v["updated_by"] = r.string("updated_by")?.into();
        v["updated_at"] = r.string("updated_at")?.into();
    }
    Ok(v)
}

/// `GET /api/notice-schedule`.
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &schedule_json(call.db())?))
}

/// `PUT /api/notice-schedule`: the whole schedule.
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: Map<String, Json> = json_body(call)?;
    let spec: ScheduleSpec = without_read_only(body, &["updated_by", "updated_at"])?;
    schedule::save(call.db(), spec, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &schedule_json(call.db())?))
}

