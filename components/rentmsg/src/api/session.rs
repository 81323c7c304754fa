//! Console sign-in: `POST /api/session` (username and password → a session
//! cookie), `DELETE /api/session` (sign out) and `GET /api/me` (who is
//! calling). Failed sign-ins are counted in the shared key-value store
//! ([`crate::staff::throttle`]): slowed, then refused with 429.

use super::auth::{self, SESSION_COOKIE};
use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::records::audit;
use crate::staff::accounts;
use crate::staff::throttle::{Throttle, Verdict};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    username: String,
    password: String,
}

/// `Secure` unless the deployment is served over plain http (local use).
fn secure_attr(public_base_url: &str) -> &'static str {
    if public_base_url.trim().to_ascii_lowercase().starts_with("http://") {
        ""
    } else {
        "; Secure"
    }
}

fn throttle_down(e: String) -> ApiError {
    ApiError { status: 503, message: "sign-in is unavailable; try again".into(), diagnostic: Some(format!("sign-in counters: {e}")) }
}

fn wrong_credentials() -> ApiError {
    ApiError::new(401, "wrong username or password")
}

/// `POST /api/session`: `{username, password}` → 204 with the cookie.
pub(super) fn sign_in(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: SignInBody = json_body(call)?;
    let username = body.username.trim();
    let now = call.ctx.now;
    let throttle = Throttle::new(call.ctx.counters, username, call.req.client_addr.as_deref(), now);
    let target = format!("username:{}", username.chars().take(64).collect::<String>());
    if let Verdict::Refuse { retry_after } = throttle.check().map_err(throttle_down)? {
        audit::record(call.db(), "anonymous", "auth.sign_in_refused", &target, &serde_json::json!({ "retry_after": retry_after }), now)?;
        let mut e = ApiError::new(429, "too many failed sign-ins; try again later").into_response();
        e.headers.push(("retry-after".into(), retry_after.to_string()));
        return Ok(e);
    }
    let Some(user) = accounts::check_credentials(call.db(), username, &body.password)? else {
        let delay = throttle.failed().map_err(throttle_down)?;
        audit::record(call.db(), "anonymous", "auth.sign_in_failed", &target, &serde_json::json!({}), now)?;
        if let Some(d) = delay {
            (call.ctx.sleep)(d);
        }
        return Err(wrong_credentials());
    };
    throttle.succeeded().map_err(throttle_down)?;
    let sid = accounts::start_session(call.db(), &user, now)?;
    let max_age = accounts::SESSION_ABSOLUTE.num_seconds();
    let cookie = format!("{SESSION_COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}", secure_attr(call.ctx.public_base_url));
    Ok(Response::new(204, "text/plain", Vec::new()).with_header("set-cookie", cookie))
}

/// `DELETE /api/session`: end the cookie's session (and clear the cookie).
pub(super) fn sign_out(call: &Call<'_>) -> Result<Response, ApiError> {
    if let Some(sid) = auth::cookie(call.req, SESSION_COOKIE) {
        accounts::end_session(call.db(), sid, &call.actor, call.ctx.now)?;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}", secure_attr(call.ctx.public_base_url));
    Ok(Response::new(204, "text/plain", Vec::new()).with_header("set-cookie", cookie))
}

/// `GET /api/me` → `{username, role, property_ids, display_name, id}`.
pub(super) fn me(call: &Call<'_>) -> Result<Response, ApiError> {
    let Some(p) = &call.principal else { return Err(ApiError::new(401, "not signed in")) };
    let body = match p {
        auth::Principal::Bootstrap { actor } => serde_json::json!({
            "id": null, "username": actor, "display_name": "Break-glass administrator", "role": "admin", "property_ids": [],
        }),
        auth::Principal::User { user, .. } => serde_json::json!({
            "id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role, "property_ids": user.property_ids,
        }),
    };
    Ok(Response::json(200, &body))
}
