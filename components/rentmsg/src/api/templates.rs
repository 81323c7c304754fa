//! Notice templates, one per stage and channel (text or email), each with
//! a sample rendering (`preview`: what a tenant would get, and for texts
//! the encoding and segment count). `PUT` accepts what `GET` returns; the
//! read-only fields are ignored.

use super::input::{json_body, without_read_only};
use super::{ApiError, Call};
use crate::base::channel::Channel;
use crate::base::http::Response;
use crate::base::locale::Language;
use crate::notices::templates::{self, Rendered, Template};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

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
    v["preview"] = match templates::check_in(t.channel, t.language, t.subject.as_deref(), &t.body) {
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
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let all: Vec<Json> = templates::list(call.db())?.iter().map(template_json).collect();
    Ok(Response::json(200, &json!({ "templates": all })))
}

/// The `?language=` of the request (default English).
fn language(call: &Call<'_>) -> Result<Language, ApiError> {
    match call.query("language") {
        None | Some("") => Ok(Language::En),
        Some(l) => l.parse().map_err(|e: crate::base::locale::LanguageError| ApiError::bad_request(e.to_string())),
    }
}

/// `GET /api/notice-templates/{stage}/{channel}?language=`.
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let (stage, channel) = stage_channel(call)?;
    let lang = language(call)?;
    match templates::get_in(call.db(), stage, channel, lang)? {
        Some(t) => Ok(Response::json(200, &template_json(&t))),
        None => Err(ApiError::new(404, format!("no {} template in `{lang}` for stage {stage}", channel.as_str()))),
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
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let (stage, channel) = stage_channel(call)?;
    let raw: Map<String, Json> = json_body(call)?;
    let lang = language(call)?;
    let body: TemplateBody = without_read_only(raw, &["stage", "channel", "language", "updated_by", "updated_at", "preview"])?;
    let (t, _) = templates::put_in(call.db(), stage, channel, lang, body.subject.as_deref(), &body.body, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &template_json(&t)))
}

