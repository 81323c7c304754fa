//! The SMS provider webhooks, independent of the HTTP stack: the
//! `inbound-webhook` component turns its request into a [`Request`], calls
//! [`handle`] and writes the [`Response`] back (its `route` and `outcome`
//! go to the log).
//!
//! - `POST /webhooks/sms`: an inbound message → TwiML `<Response/>` or
//!   `<Response><Message>…</Message></Response>` (`text/xml`).
//! - `POST /webhooks/sms/status`: a delivery status callback → empty TwiML.
//!
//! Order of checks, each failing closed with nothing stored: method (405),
//! size (413), content type (415), form decoding (400), signature (403; 503
//! when no `sms_auth_token` is configured), fields (400). Then the work runs
//! in one transaction; a storage failure answers 5xx so the provider
//! retries, and the retry (same MessageSid) is processed exactly once.

use crate::base::form;
use crate::base::http::{Request, Response};
use super::process::{self, InboundSms, ProviderKeyword, ReplySettings, StatusCallback};
use super::replies;
use super::signature;
use crate::base::db::{Db, DbError};
use crate::base::error::Error;
use crate::schema;
use chrono::{DateTime, Utc};

/// Route of inbound messages.
pub const INBOUND_PATH: &str = "/webhooks/sms";
/// Route of delivery status callbacks.
pub const STATUS_PATH: &str = "/webhooks/sms/status";

/// Largest accepted body (a Twilio webhook is a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest message text accepted (the provider's own limit).
pub const MAX_TEXT_CHARS: usize = 1600;

/// The component's variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookConfig<'a> {
    /// `public_base_url`: the signed URL is this plus the request path.
    pub public_base_url: &'a str,
    /// `sms_auth_token` (secret): the signing key.
    pub auth_token: &'a str,
    /// `sms_from`: named as a contact in HELP replies.
    pub sms_from: &'a str,
}

/// What a request runs against.
pub struct WebhookContext<'a> {
    /// The database.
    pub db: &'a dyn Db,
    /// Variables.
    pub config: WebhookConfig<'a>,
    /// The current time (the only clock read).
    pub now: DateTime<Utc>,
}

/// TwiML (`text/xml`) with an optional reply.
fn twiml(route: &'static str, outcome: &'static str, message: Option<&str>) -> Response {
    labelled(Response::new(200, "text/xml", replies::twiml(message)), Some(route), outcome)
}

/// `{"error": message}`: the provider shows it in its debugger.
fn refusal(status: u16, route: Option<&'static str>, outcome: &'static str, message: &str) -> Response {
    labelled(Response::error(status, message), route, outcome)
}

fn labelled(mut r: Response, route: Option<&'static str>, outcome: &'static str) -> Response {
    r.route = route;
    r.outcome = Some(outcome);
    r
}

fn storage_failure(route: &'static str, e: Error) -> Response {
    let (status, message) = match &e {
        Error::Db(DbError::Busy(_)) | Error::Db(DbError::Unavailable(_)) => (503, "storage is unavailable; retry"),
        _ => (500, "storage failed; retry"),
    };
    let mut r = refusal(status, Some(route), "storage_failed", message);
    r.diagnostic = Some(e.to_string());
    r
}

/// Answer one webhook request.
pub fn handle(req: &Request, ctx: &WebhookContext<'_>) -> Response {
    let path = req.path_only();
    // By suffix: an app served under a base path (Spin's `base`) sees
    // `/base/webhooks/sms`; the full path still goes into the signed URL.
    let route = if path.ends_with(STATUS_PATH) {
        STATUS_PATH
    } else if path.ends_with(INBOUND_PATH) {
        INBOUND_PATH
    } else {
        return refusal(404, None, "not_found", "no such webhook");
    };
    if !req.method.eq_ignore_ascii_case("POST") {
        return refusal(405, Some(route), "bad_request", "use POST").with_header("allow", "POST");
    }
    let form = match verified_form(req, ctx, route) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    if let Err(e) = schema::migrate(ctx.db, ctx.now) {
        return storage_failure(route, e.into());
    }
    if route == INBOUND_PATH {
        inbound(&form, ctx)
    } else {
        status(&form, ctx)
    }
}

/// Size, content type, decoding and signature: the form only if the
/// provider signed exactly this request.
fn verified_form(
    req: &Request,
    ctx: &WebhookContext<'_>,
    route: &'static str,
) -> Result<form::Form, Box<Response>> {
    let reject = |status: u16, outcome: &'static str, message: &str| Box::new(refusal(status, Some(route), outcome, message));
    if req.body.len() > MAX_BODY_BYTES {
        return Err(reject(413, "bad_request", &format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024)));
    }
    let content_type = req.header("content-type").unwrap_or("");
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let shown = if media.is_empty() { "none" } else { media };
        return Err(reject(
            415,
            "bad_request",
            &format!("content type must be application/x-www-form-urlencoded, not {shown}"),
        ));
    }
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    });
    if charset.as_deref().is_some_and(|c| c != "utf-8" && c != "utf8") {
        return Err(reject(415, "bad_request", "the form must be UTF-8"));
    }
    let form = form::parse(&req.body).map_err(|e| reject(400, "bad_request", &e.to_string()))?;
    if ctx.config.auth_token.is_empty() {
        // Nothing can be verified: refuse everything, retryably, until configured.
        return Err(reject(503, "not_configured", "sms_auth_token is not configured"));
    }
    if let Some(settings) = req.header(signature::SETTINGS_HEADER) {
        let algorithm = settings.split(',').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == "algorithm").then(|| v.trim())
        });
        if algorithm.is_some_and(|a| !a.is_empty() && !a.eq_ignore_ascii_case("HMAC_SHA1")) {
            return Err(reject(403, "forged", "only auth-token (HMAC-SHA1) webhook signatures are accepted"));
        }
    }
    let Some(presented) = req.header(signature::HEADER) else {
        return Err(reject(403, "forged", "missing X-Twilio-Signature header"));
    };
    let url = signature::public_url(ctx.config.public_base_url, &req.path);
    if !signature::verify(ctx.config.auth_token, &url, &form.fields, presented) {
        return Err(reject(403, "forged", "X-Twilio-Signature does not match this request"));
    }
    Ok(form)
}

/// A provider id: required, at most 64 letters, digits, `-` or `_`.
fn sid<'f>(form: &'f form::Form, name: &str) -> Result<&'f str, String> {
    let v = form.get(name).map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(format!("{name} is required"));
    }
    if v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(format!("{name} must be at most 64 letters, digits, - or _"));
    }
    Ok(v)
}

/// A phone number field: E.164 as the provider sends it (`+` and 7 to 15
/// digits; spaces, dots, hyphens and parentheses are tolerated and dropped).
/// Deliberately not checked against numbering-plan metadata: a STOP from a
/// newly opened area code must never be refused because our tables are old.
pub fn phone(value: &str, name: &str) -> Result<String, String> {
    let bad = || format!("{name} is not a phone number in E.164 form like +14155552671");
    let v = value.trim();
    let digits = v.strip_prefix('+').ok_or_else(bad)?;
    let mut out = String::with_capacity(v.len());
    out.push('+');
    for c in digits.chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad()),
        }
    }
    let n = out.len() - 1;
    if !(7..=15).contains(&n) || out.as_bytes()[1] == b'0' {
        return Err(bad());
    }
    Ok(out)
}

/// Our receiving number: E.164, or a short code (3 to 8 digits).
fn our_number(value: &str) -> Result<String, String> {
    let v = value.trim();
    if (3..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(v.to_owned());
    }
    phone(v, "To")
}

struct Inbound {
    message_sid: String,
    from: String,
    to: String,
    body: String,
    num_media: i64,
    provider_keyword: Option<ProviderKeyword>,
}

fn inbound_fields(form: &form::Form) -> Result<Inbound, String> {
    let message_sid = sid(form, "MessageSid")?.to_owned();
    let from = phone(form.get("From").ok_or("From is required")?, "From")?;
    let to = our_number(form.get("To").ok_or("To is required")?)?;
    let body = form.get("Body").ok_or("Body is required")?;
    if body.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("Body is longer than {MAX_TEXT_CHARS} characters"));
    }
    let num_media = match form.get("NumMedia").map(str::trim).filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v.parse::<i64>().ok().filter(|n| (0..=100).contains(n)).ok_or("NumMedia must be a whole number from 0 to 100")?,
    };
    // Unknown OptOutType values (new provider features) leave the decision
    // to our own keyword lists.
    let provider_keyword = form.get("OptOutType").and_then(ProviderKeyword::parse);
    Ok(Inbound { message_sid, from, to, body: body.to_owned(), num_media, provider_keyword })
}

fn inbound(form: &form::Form, ctx: &WebhookContext<'_>) -> Response {
    let route = INBOUND_PATH;
    let fields = match inbound_fields(form) {
        Ok(f) => f,
        Err(msg) => return refusal(400, Some(route), "bad_request", &msg),
    };
    let msg = InboundSms {
        message_sid: &fields.message_sid,
        from: &fields.from,
        to: &fields.to,
        body: &fields.body,
        num_media: fields.num_media,
        provider_keyword: fields.provider_keyword,
    };
    let settings = ReplySettings { sms_from: ctx.config.sms_from };
    match process::receive(ctx.db, &msg, &settings, ctx.now) {
        Ok(outcome) if outcome.duplicate => twiml(route, "duplicate", None),
        Ok(outcome) => {
            twiml(route, outcome.effect.as_str(), outcome.reply.as_deref())
        }
        Err(e) => storage_failure(route, e),
    }
}

struct Status {
    message_sid: String,
    status: String,
    error_code: Option<String>,
    to: Option<String>,
}

fn status_fields(form: &form::Form) -> Result<Status, String> {
    let message_sid = sid(form, "MessageSid")?.to_owned();
    let status = form
        .get("MessageStatus")
        .or_else(|| form.get("SmsStatus"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or("MessageStatus is required")?
        .to_ascii_lowercase();
    if status.len() > 32 || !status.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-') {
        return Err("MessageStatus must be a status word like delivered".into());
    }
    let error_code = match form.get("ErrorCode").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(c) if c.len() <= 10 && c.bytes().all(|b| b.is_ascii_digit()) => Some(c.to_owned()),
        Some(_) => return Err("ErrorCode must be a number".into()),
    };
    let to = match form.get("To").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(phone(v, "To")?),
    };
    Ok(Status { message_sid, status, error_code, to })
}

fn status(form: &form::Form, ctx: &WebhookContext<'_>) -> Response {
    let route = STATUS_PATH;
    let fields = match status_fields(form) {
        Ok(f) => f,
        Err(msg) => return refusal(400, Some(route), "bad_request", &msg),
    };
    let cb = StatusCallback {
        message_sid: &fields.message_sid,
        status: &fields.status,
        error_code: fields.error_code.as_deref(),
        to: fields.to.as_deref(),
    };
    match process::record_status(ctx.db, &cb, ctx.now) {
        Ok(o) if o.duplicate => twiml(route, "duplicate", None),
        Ok(o) => twiml(route, o.number_effect.unwrap_or(if o.updated > 0 { "updated" } else { "recorded" }), None),
        Err(e) => storage_failure(route, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_fields() {
        assert_eq!(phone("+14155552671", "From").as_deref(), Ok("+14155552671"));
        assert_eq!(phone(" +1 (415) 555-2671 ", "From").as_deref(), Ok("+14155552671"));
        assert_eq!(phone("+442079460958", "From").as_deref(), Ok("+442079460958"));
        for bad in ["4155552671", "whatsapp:+14155552671", "+1415555267a", "+123", "+0123456789", "+1234567890123456", "", "+"] {
            assert!(phone(bad, "From").is_err(), "{bad:?}");
        }
        assert_eq!(our_number("12345").as_deref(), Ok("12345"));
        assert!(our_number("12").is_err());
    }
}
