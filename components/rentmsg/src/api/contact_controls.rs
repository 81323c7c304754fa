//! Contact controls: the rules compliance applies (the default rule packs
//! and staff's own), listed, created, replaced and deleted by key.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::compliance::controls::ControlSpec;
use crate::compliance::store;

/// `GET /api/contact-controls`
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    let controls = store::list(call.db())?;
    Ok(Response::json(200, &serde_json::json!({ "controls": controls })))
}

/// `POST /api/contact-controls`: create (201); 409 if the key exists.
pub(super) fn create(call: &Call<'_>) -> Result<Response, ApiError> {
    let spec: ControlSpec = json_body(call)?;
    let stored = store::create(call.db(), &spec, &call.actor, call.ctx.now)?;
    Ok(Response::json(201, &stored))
}

/// `GET /api/contact-controls/{key}`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let key = call.param("key");
    match store::get(call.db(), key)? {
        Some(c) => Ok(Response::json(200, &c)),
        None => Err(ApiError::new(404, format!("contact control `{key}` not found"))),
    }
}

/// `PUT /api/contact-controls/{key}`: replace its settings (the key stays).
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
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
    let spec: ControlSpec = serde_json::from_value(raw).map_err(ApiError::invalid_json)?;
    let stored = store::replace(call.db(), key, &spec, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &stored))
}

/// `DELETE /api/contact-controls/{key}`
pub(super) fn delete(call: &Call<'_>) -> Result<Response, ApiError> {
    let key = call.param("key");
    store::delete(call.db(), key, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &serde_json::json!({ "deleted": key })))
}
