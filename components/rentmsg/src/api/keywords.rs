//! The keyword lists the SMS webhook acts on (opt-out, opt-in, help):
//! `GET` them with the words each list must keep, `PUT` replacements.

use super::input::json_body;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::inbound::keywords;

fn keywords_response(call: &Call<'_>, lists: &keywords::KeywordLists) -> Result<Response, ApiError> {
    let required: serde_json::Map<String, serde_json::Value> = keywords::KeywordAction::ALL
        .iter()
        .map(|a| (a.as_str().to_owned(), serde_json::json!(a.required())))
        .collect();
    Ok(Response::json(
        200,
        &serde_json::json!({
            "opt_out": lists.opt_out,
            "opt_in": lists.opt_in,
            "help": lists.help,
            "languages": keywords::languages(call.db())?,
            "required": required,
        }),
    ))
}

/// `GET /api/keywords`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    keywords_response(call, &keywords::lists(call.db())?)
}

/// `PUT /api/keywords`: `{opt_out?, opt_in?, help?, languages?}`, each list
/// replacing the stored one; `languages` (`{word: "es"}`) sets words' languages.
pub(super) fn put(call: &Call<'_>) -> Result<Response, ApiError> {
    let update: keywords::KeywordUpdate = json_body(call)?;
    let lists = keywords::update(call.db(), &update, &call.actor, call.ctx.now)?;
    keywords_response(call, &lists)
}

