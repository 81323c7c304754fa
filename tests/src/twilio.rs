//! Signing webhook requests the way Twilio does, for tests and benchmarks
//! that play the provider: `X-Twilio-Signature` is base64(HMAC-SHA1(auth
//! token, URL + each field name and value, names sorted, a repeated name's
//! distinct values sorted)). Written apart from the product's verifier and
//! checked against the official library's vectors
//! (`tests/fixtures/twilio/vectors.json`), so a shared mistake cannot hide.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use sha1::Sha1;
use std::collections::{BTreeMap, BTreeSet};

/// The signature of a request to `url` with these form fields.
pub fn signature(auth_token: &str, url: &str, fields: &[(&str, &str)]) -> String {
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in fields {
        sorted.entry(k).or_default().insert(v);
    }
    let mut signed = url.to_owned();
    for (k, values) in sorted {
        for v in values {
            signed.push_str(k);
            signed.push_str(v);
        }
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `application/x-www-form-urlencoded` body of these fields.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, NON_ALPHANUMERIC), utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The fields of an inbound SMS as Twilio posts them.
pub fn inbound_sms<'a>(message_sid: &'a str, from: &'a str, to: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ToCountry", "US"),
        ("SmsMessageSid", message_sid),
        ("NumMedia", "0"),
        ("SmsSid", message_sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", to),
        ("NumSegments", "1"),
        ("MessageSid", message_sid),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", from),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// A Twilio-compatible Messages API on 127.0.0.1 for account `account_sid`:
/// it accepts every message sent there (201, status `queued`, one fixed
/// message sid) and records it; any other request is 404.
pub fn accepting_messages_api(account_sid: &str) -> crate::FakeServer {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Messages.json");
    crate::FakeServer::start(move |r: &crate::Recorded| {
        if r.method == "POST" && r.url == path {
            (201, "application/json".into(), r#"{"sid":"SM00000000000000000000000000000001","status":"queued"}"#.into())
        } else {
            (404, "application/json".into(), "{}".into())
        }
    })
}
