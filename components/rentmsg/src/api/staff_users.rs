//! Staff accounts: `POST/GET /api/staff-users`, `GET/PATCH
//! /api/staff-users/{id}`, `POST /api/staff-users/{id}/token` (a new token,
//! shown once) and `PUT /api/staff-users/{id}/password`. Who may call each
//! is decided in the route table; nothing here returns a token hash or a
//! password hash.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::staff::accounts::{self, NewUser, Patch, Role};
use serde::Deserialize;

fn user_id(call: &Call<'_>) -> Result<i64, ApiError> {
    call.param("id").parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::bad_request("id must be a positive whole number"))
}

fn role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| ApiError::bad_request("role must be one of admin, manager, collector, viewer"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    role: String,
    #[serde(default)]
    property_ids: Option<Vec<String>>,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/staff-users` → 201 `{id, username, role, property_ids, token}`.
pub(super) fn create(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: CreateBody = json_body(call)?;
    let new = NewUser {
        username: &body.username,
        display_name: body.display_name.as_deref(),
        role: role(&body.role)?,
        property_ids: body.property_ids,
        password: body.password.as_deref(),
    };
    let (user, token) = accounts::create(call.db(), &new, &call.actor, call.ctx.now)?;
    Ok(Response::json(
        201,
        &serde_json::json!({
            "id": user.id, "username": user.username, "display_name": user.display_name,
            "role": user.role, "property_ids": user.property_ids, "token": token,
        }),
    ))
}

/// `GET /api/staff-users`
pub(super) fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &serde_json::json!({ "users": accounts::list(call.db())? })))
}

/// `GET /api/staff-users/{id}`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let id = user_id(call)?;
    match accounts::get(call.db(), id)? {
        Some(u) => Ok(Response::json(200, &u)),
        None => Err(ApiError::new(404, format!("staff user {id} not found"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    property_ids: Option<Vec<String>>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// `PATCH /api/staff-users/{id}`: `{role?, display_name?, property_ids?, disabled?}`.
pub(super) fn patch(call: &Call<'_>) -> Result<Response, ApiError> {
    let id = user_id(call)?;
    let body: PatchBody = json_body(call)?;
    let patch = Patch {
        role: body.role.as_deref().map(role).transpose()?,
        display_name: body.display_name,
        property_ids: body.property_ids,
        disabled: body.disabled,
    };
    Ok(Response::json(200, &accounts::update(call.db(), id, &patch, &call.actor, call.ctx.now)?))
}

/// `POST /api/staff-users/{id}/token` → `{token}`; the old token stops working.
pub(super) fn rotate_token(call: &Call<'_>) -> Result<Response, ApiError> {
    let token = accounts::rotate_token(call.db(), user_id(call)?, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &serde_json::json!({ "token": token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

/// `PUT /api/staff-users/{id}/password`: `{password}` (12 characters or more) → 204.
pub(super) fn set_password(call: &Call<'_>) -> Result<Response, ApiError> {
    let id = user_id(call)?;
    let body: PasswordBody = json_body(call)?;
    accounts::set_password(call.db(), id, &body.password, &call.actor, call.ctx.now)?;
    Ok(Response::new(204, "text/plain", Vec::new()))
}
