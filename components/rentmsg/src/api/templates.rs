//! Staff routes for notices: the schedule, the templates, the outbox and
//! the settings. (`POST /api/scan` and `POST /api/send` are served by the
//! overdue-scan and outbound-send components.)
//!
//! Every `PUT` accepts what the matching `GET` returns: read-only fields
//! (`updated_by`, `updated_at`, `preview`, the path's own `stage` /
//! `channel`) are ignored.

use super::{json_body, limit_param, ApiError, Response, Call, DEFAULT_LIMIT};
use crate::base::channel::Channel;
use crate::notices::outbox::{self, ListFilter};
use crate::notices::schedule::{self, ScheduleSpec};
use crate::records::settings::{self, SettingsChange};
use crate::notices::templates::{self, Rendered, Template};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

/// Drop read-only fields, then read the rest strictly.
fn strip<T: serde::de::DeserializeOwned>(mut body: Map<String, Json>, read_only: &[&str]) -> Result<T, ApiError> {
    for k in read_only {
        body.remove(*k);
    }
    serde_json::from_value(Json::Object(body)).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn schedule_json(db: &dyn crate::base::db::Db) -> Result<Json, ApiError> {
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
pub(super) fn get_schedule(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &schedule_json(call.db())?))
}

/// `PUT /api/notice-schedule`: the whole schedule.
pub(super) fn put_schedule(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: Map<String, Json> = json_body(call)?;
    let spec: ScheduleSpec = strip(body, &["updated_by", "updated_at"])?;
    schedule::save(call.db(), spec, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &schedule_json(call.db())?))
}

fn preview_json(r: &Rendered) -> Json {
    json!({
        "subject": r.subject,
        "body": r.body,
        "encoding": r.measure.map(|m| m.encoding.as_str()),
        "characters": r.measure.map(|m| m.characters),
        "segments": r.measure.map(|m| m.segments),
    })
}

fn template_json(t: &Template) -> Json {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    // A sample rendering: what a tenant would get, and for texts the
    // encoding and segment count.
    v["preview"] = match templates::check(t.channel, t.subject.as_deref(), &t.body) {
        Ok(r) => preview_json(&r),
        Err(e) => json!({ "error": e.to_string() }),
    };
    v
}

fn stage_channel(call: &Call<'_>) -> Result<(i64, Channel), ApiError> {
    let stage: i64 = call
        .param("stage")
        .parse()
        .ok()
        .filter(|s| (1..=1000).contains(s))
        .ok_or_else(|| ApiError::bad_request("stage must be a whole number from 1 to 1000"))?;
    let channel: Channel = call.param("channel").parse().map_err(ApiError::bad_request)?;
    if !matches!(channel, Channel::Text | Channel::Email) {
        return Err(ApiError::bad_request("notice templates are for text or email"));
    }
    Ok((stage, channel))
}

/// `GET /api/notice-templates`.
pub(super) fn list_templates(call: &Call<'_>) -> Result<Response, ApiError> {
    let all: Vec<Json> = templates::list(call.db())?.iter().map(template_json).collect();
    Ok(Response::json(200, &json!({ "templates": all })))
}

/// `GET /api/notice-templates/{stage}/{channel}`.
pub(super) fn get_template(call: &Call<'_>) -> Result<Response, ApiError> {
    let (stage, channel) = stage_channel(call)?;
    match templates::get(call.db(), stage, channel)? {
        Some(t) => Ok(Response::json(200, &template_json(&t))),
        None => Err(ApiError::new(404, format!("no {} template for stage {stage}", channel.as_str()))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    #[serde(default)]
    subject: Option<String>,
    body: String,
}

/// `PUT /api/notice-templates/{stage}/{channel}`: `{subject?, body}`.
pub(super) fn put_template(call: &Call<'_>) -> Result<Response, ApiError> {
    let (stage, channel) = stage_channel(call)?;
    let raw: Map<String, Json> = json_body(call)?;
    let body: TemplateBody = strip(raw, &["stage", "channel", "updated_by", "updated_at", "preview"])?;
    let (t, _) = templates::put(call.db(), stage, channel, body.subject.as_deref(), &body.body, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &template_json(&t)))
}

/// `GET /api/outbox?tenant_id=&state=&limit=`.
pub(super) fn list_outbox(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let state = call.query("state").filter(|s| !s.is_empty());
    if let Some(s) = state {
        if !outbox::STATES.contains(&s) {
            return Err(ApiError::bad_request(format!("state must be one of {}", outbox::STATES.join(", "))));
        }
    }
    let filter = ListFilter { tenant_id: call.query("tenant_id").filter(|t| !t.is_empty()), state, limit };
    let items = outbox::list(call.db(), &filter)?;
    let counts: Map<String, Json> = outbox::counts(call.db())?.into_iter().map(|(k, n)| (k, n.into())).collect();
    Ok(Response::json(200, &json!({ "items": items, "counts": counts })))
}

/// `GET /api/outbox/{id}`.
pub(super) fn get_outbox(call: &Call<'_>) -> Result<Response, ApiError> {
    let id: i64 = call.param("id").parse().map_err(|_| ApiError::bad_request("id must be a whole number"))?;
    match outbox::get(call.db(), id)? {
        Some(row) => Ok(Response::json(200, &row)),
        None => Err(ApiError::new(404, format!("outbox row {id} not found"))),
    }
}

/// `GET /api/settings`.
pub(super) fn get_settings(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &settings::get(call.db())?))
}

/// `PUT /api/settings`: any of `{link_expiry_days}`.
pub(super) fn put_settings(call: &Call<'_>) -> Result<Response, ApiError> {
    let change: SettingsChange = json_body(call)?;
    Ok(Response::json(200, &settings::set(call.db(), &change, &call.actor, call.ctx.now)?))
}
