//! The phrases that revoke consent to texts in the tenant's own words
//! ("please stop texting me", "no más mensajes"): `GET` the list, `PUT` a
//! replacement. The single-word keywords live in `/api/keywords`.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::inbound::revocation::{self, Phrase};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhrasesBody {
    phrases: Vec<Phrase>,
}

/// `GET /api/revocation-phrases`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &serde_json::json!({ "phrases": revocation::phrases(call.db())? })))
}

/// `PUT /api/revocation-phrases`: `{phrases: [{phrase, language}]}` replaces the list.
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: PhrasesBody = json_body(call)?;
    let phrases = revocation::replace(call.db(), &body.phrases, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &serde_json::json!({ "phrases": phrases })))
}
