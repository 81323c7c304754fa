//! Reading what a staff request sends: the JSON or CSV body (content type
//! and charset checked first, so a wrong upload gets 415 rather than a
//! confusing parse error) and the paging query parameters.

use super::{ApiError, Call};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

/// Default and largest page size for list routes.
pub(super) const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The media type (lower case) and charset parameter of `Content-Type`.
fn media_type(call: &Call<'_>) -> Option<(String, Option<String>)> {
    let ct = call.req.header("content-type")?;
    let mut parts = ct.split(';');
    let mt = parts.next()?.trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    });
    Some((mt, charset))
}

fn require_utf8_charset(charset: Option<String>) -> Result<(), ApiError> {
    match charset.as_deref() {
        None | Some("utf-8") | Some("utf8") => Ok(()),
        Some(other) => Err(ApiError::new(415, format!("charset {other} is not supported; send UTF-8"))),
    }
}

/// Refuse anything but a `text/csv` UTF-8 body.
pub(super) fn require_csv(call: &Call<'_>) -> Result<(), ApiError> {
    match media_type(call) {
        Some((mt, charset)) if mt == "text/csv" => require_utf8_charset(charset),
        Some((mt, _)) => Err(ApiError::new(415, format!("content type must be text/csv, not {mt}"))),
        None => Err(ApiError::new(415, "content type must be text/csv")),
    }
}

/// The body as a JSON object read into `T` (unknown fields are refused
/// where `T` says so).
pub(super) fn json_body<T: DeserializeOwned>(call: &Call<'_>) -> Result<T, ApiError> {
    match media_type(call) {
        Some((mt, charset)) if mt == "application/json" || mt.ends_with("+json") => require_utf8_charset(charset)?,
        Some((mt, _)) => return Err(ApiError::new(415, format!("content type must be application/json, not {mt}"))),
        None => return Err(ApiError::new(415, "content type must be application/json")),
    }
    if call.req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the body is empty; expected a JSON object"));
    }
    let value: Json = serde_json::from_slice(&call.req.body).map_err(ApiError::invalid_json)?;
    // serde would also read a struct from an array (`["opted_in"]`); the
    // documented bodies are objects, so anything else is refused.
    if !value.is_object() {
        return Err(ApiError::bad_request("invalid JSON body: expected an object"));
    }
    serde_json::from_value(value).map_err(ApiError::invalid_json)
}

/// Drop the read-only fields a `GET` returns, then read the rest strictly:
/// every `PUT` accepts what the matching `GET` gave.
pub(super) fn without_read_only<T: DeserializeOwned>(mut body: Map<String, Json>, read_only: &[&str]) -> Result<T, ApiError> {
    for k in read_only {
        body.remove(*k);
    }
    serde_json::from_value(Json::Object(body)).map_err(ApiError::invalid_json)
}

/// `?limit=`: 1 to 1000, `default` when absent.
pub(super) fn limit_param(call: &Call<'_>, default: Option<i64>) -> Result<Option<i64>, ApiError> {
    match call.query("limit") {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))),
        },
    }
}

/// `?offset=`: 0 or more, 0 when absent.
pub(super) fn offset_param(call: &Call<'_>) -> Result<i64, ApiError> {
    match call.query("offset") {
        None => Ok(0),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("offset must be a whole number, 0 or more")),
    }
}

/// `?before=`: the `older` cursor of a listing ordered newest first by id
/// (the last id of the page before), None when absent or empty.
pub(super) fn before_id_param(call: &Call<'_>) -> Result<Option<i64>, ApiError> {
    match filter_param(call, "before") {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("before must be a cursor from `older`")),
    }
}

/// A non-empty query parameter (an empty one means "no filter").
pub(super) fn filter_param<'c>(call: &'c Call<'_>, name: &str) -> Option<&'c str> {
    call.query(name).filter(|v| !v.is_empty())
}
