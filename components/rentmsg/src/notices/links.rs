//! Signed, expiring personal links: the payment link
//! `{public_base_url}/pay/{token}` and the unsubscribe link
//! `{public_base_url}/unsubscribe/{token}`.
//!
//! Tokens are short because a text pays for every character: with a
//! 30-character `public_base_url` the payment link takes 60 of a segment's
//! 160. `token = base64url(link id || tag)`, 24 characters, where the link id
//! is 12 random bytes (96 bits) naming an outbox row (`outbox.link_id`, which
//! knows the tenant and, in `outbox.link_expires_at`, when its links expire)
//! and `tag` is the first 6 bytes (48 bits) of
//! `HMAC-SHA256(link_key, "rentmsg-link2:" || purpose || 0x00 || link id)`.
//!
//! Why this is enough: guessing works only online, one request per try.
//! Against the 96-bit id, even a million live links and ten thousand tries
//! a second for a year (3 * 10^11 tries) succeed with probability about
//! 4 * 10^-12. The tag is a second lock for whoever learns link ids without
//! the key (a copy of the database): forging the tag of a known id takes
//! 2^47 tries on average, centuries at that rate, and every try is a 404 in
//! the log. The URL carries no personal data, balance, sequential id or
//! readable expiry; the purpose is inside the MAC, so a payment token is not
//! an unsubscribe token and the other way round.
//!
//! Tokens of the first format (44 characters: version byte, link id and
//! expiry in the payload, 128-bit tag) are still accepted until the expiry
//! they carry, so links already sent keep working; new links use the short
//! format only.
//!
//! [`verify`] checks the tag in constant time before reading anything
//! else; expired, tampered, malformed and unknown tokens all give the one
//! [`LinkError::Invalid`], so a caller cannot tell them apart (and neither
//! can whoever holds the link).

use crate::base::db::Db;
use crate::base::error::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Version byte of the first (long) token format.
const VERSION: u8 = 1;
/// Bytes of the random link id.
pub const LINK_ID_BYTES: usize = 12;
/// Bytes of the long format's truncated HMAC tag (128 bits).
const TAG_BYTES: usize = 16;
const PAYLOAD_BYTES: usize = 1 + LINK_ID_BYTES + 4;
const TOKEN_BYTES: usize = PAYLOAD_BYTES + TAG_BYTES;
/// Bytes of the short format's tag (48 bits).
const SHORT_TAG_BYTES: usize = 6;
const SHORT_TOKEN_BYTES: usize = LINK_ID_BYTES + SHORT_TAG_BYTES;
/// Characters of a short token (18 bytes in base64url, no padding).
pub const SHORT_TOKEN_CHARS: usize = 24;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The tenant's payment page.
    Pay,
    /// Email one-click unsubscribe.
    Unsubscribe,
}

impl Purpose {
    /// Path segment and MAC label.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Pay => "pay",
            Purpose::Unsubscribe => "unsubscribe",
        }
    }
}

/// The one error of link checking: whatever was wrong stays private.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Expired, tampered, malformed or unknown.
    #[error("this link is not valid or has expired")]
    Invalid,
}

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRef {
    /// The link id (lower-case hex), `outbox.link_id`.
    pub link_id: String,
    /// When the link stops working, when the token says (long format); None:
    /// the outbox row keeps it (short format).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A fresh random link id (hex), from the platform's secure random source.
pub fn new_link_id() -> std::result::Result<String, getrandom::Error> {
    let mut bytes = [0u8; LINK_ID_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn tag(key: &[u8], purpose: Purpose, payload: &[u8]) -> [u8; TAG_BYTES] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; TAG_BYTES],
    };
    mac.update(b"rentmsg-link:");
    mac.update(purpose.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(payload);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_BYTES];
    out.copy_from_slice(&full[..TAG_BYTES]);
    out
}

fn short_tag(key: &[u8], purpose: Purpose, id: &[u8]) -> [u8; SHORT_TAG_BYTES] {
    let mut out = [0u8; SHORT_TAG_BYTES];
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return out };
    mac.update(b"rentmsg-link2:");
    mac.update(purpose.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(id);
    out.copy_from_slice(&mac.finalize().into_bytes()[..SHORT_TAG_BYTES]);
    out
}

/// Sign a short token for `link_id` (hex, [`LINK_ID_BYTES`] bytes); its
/// expiry is stored with the outbox row. Fails on an empty key or a
/// malformed link id.
pub fn sign(key: &str, purpose: Purpose, link_id: &str) -> std::result::Result<String, String> {
    if key.is_empty() {
        return Err("link_key is not configured".into());
    }
    let id = unhex(link_id).filter(|b| b.len() == LINK_ID_BYTES).ok_or("link id must be 24 hex digits")?;
    let mut token = Vec::with_capacity(SHORT_TOKEN_BYTES);
    token.extend_from_slice(&id);
    token.extend_from_slice(&short_tag(key.as_bytes(), purpose, &id));
    Ok(URL_SAFE_NO_PAD.encode(token))
}

/// Sign a token of the first, long format (the expiry inside). Only links
/// sent before the short format used it; kept so their checks stay tested.
pub fn sign_long(key: &str, purpose: Purpose, link_id: &str, expires_at: DateTime<Utc>) -> std::result::Result<String, String> {
    if key.is_empty() {
        return Err("link_key is not configured".into());
    }
    let id = unhex(link_id).filter(|b| b.len() == LINK_ID_BYTES).ok_or("link id must be 24 hex digits")?;
    let expiry = u32::try_from(expires_at.timestamp().max(0)).map_err(|_| "expiry is out of range".to_string())?;
    let mut token = Vec::with_capacity(TOKEN_BYTES);
    token.push(VERSION);
    token.extend_from_slice(&id);
    token.extend_from_slice(&expiry.to_be_bytes());
    let t = tag(key.as_bytes(), purpose, &token);
    token.extend_from_slice(&t);
    Ok(URL_SAFE_NO_PAD.encode(token))
}

/// Check a token: its tag (constant time) and, in the long format, its
/// version and expiry. The caller still has to find the link id (unknown =
/// [`LinkError::Invalid`] too) and, for a short token, the expiry.
pub fn verify(key: &str, purpose: Purpose, token: &str, now: DateTime<Utc>) -> std::result::Result<LinkRef, LinkError> {
    if key.is_empty() || token.len() > 128 {
        return Err(LinkError::Invalid);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| LinkError::Invalid)?;
    if bytes.len() == SHORT_TOKEN_BYTES {
        let (id, given) = bytes.split_at(LINK_ID_BYTES);
        let expected = short_tag(key.as_bytes(), purpose, id);
        if !bool::from(expected.ct_eq(given)) {
            return Err(LinkError::Invalid);
        }
        return Ok(LinkRef { link_id: hex(id), expires_at: None });
    }
    if bytes.len() != TOKEN_BYTES {
        return Err(LinkError::Invalid);
    }
    let (payload, given) = bytes.split_at(PAYLOAD_BYTES);
    let expected = tag(key.as_bytes(), purpose, payload);
    if !bool::from(expected.ct_eq(given)) {
        return Err(LinkError::Invalid);
    }
    if payload[0] != VERSION {
        return Err(LinkError::Invalid);
    }
    let mut exp = [0u8; 4];
    exp.copy_from_slice(&payload[1 + LINK_ID_BYTES..]);
    let expires_at = Utc.timestamp_opt(i64::from(u32::from_be_bytes(exp)), 0).single().ok_or(LinkError::Invalid)?;
    if now >= expires_at {
        return Err(LinkError::Invalid);
    }
    Ok(LinkRef { link_id: hex(&payload[1..1 + LINK_ID_BYTES]), expires_at: Some(expires_at) })
}

/// `{base}/{purpose}/{token}`, without doubling the slash.
pub fn url(public_base_url: &str, purpose: Purpose, token: &str) -> String {
    format!("{}/{}/{token}", public_base_url.trim_end_matches('/'), purpose.as_str())
}

/// The stored link lifetime in days (setting `link_expiry_days`).
pub fn expiry_days(db: &dyn Db) -> Result<i64> {
    Ok(crate::records::settings::get(db)?.link_expiry_days)
}

/// When a link made at `now` expires.
pub fn expiry_from(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now + Duration::days(days)
}

/// The outbox row a verified link names: `(outbox id, tenant id, channel,
/// address)`; unknown ids are [`LinkError::Invalid`] like any other fault.
pub fn resolve(
    db: &dyn Db,
    key: &str,
    purpose: Purpose,
    token: &str,
    now: DateTime<Utc>,
) -> std::result::Result<std::result::Result<LinkTarget, LinkError>, crate::base::error::Error> {
    let link = match verify(key, purpose, token, now) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let rows = db.execute(
        "SELECT id, tenant_id, channel, address, link_expires_at FROM outbox WHERE link_id = ?",
        &[link.link_id.as_str().into()],
    )?;
    let Some(r) = rows.first() else { return Ok(Err(LinkError::Invalid)) };
    // A short token's expiry is the row's; a row without one never issued it.
    let expires_at = match link.expires_at {
        Some(at) => at,
        None => match r.opt_str("link_expires_at")?.and_then(|s| DateTime::parse_from_rfc3339(s).ok()) {
            Some(at) => at.with_timezone(&Utc),
            None => return Ok(Err(LinkError::Invalid)),
        },
    };
    if now >= expires_at {
        return Ok(Err(LinkError::Invalid));
    }
    Ok(Ok(LinkTarget {
        outbox_id: r.i64("id")?,
        tenant_id: r.string("tenant_id")?,
        channel: r.str("channel")?.parse().map_err(crate::base::error::Error::Corrupt)?,
        address: r.opt_string("address")?,
        expires_at,
    }))
}

/// What a valid link points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    /// The outbox row (the message that carried the link).
    pub outbox_id: i64,
    /// Whose.
    pub tenant_id: String,
    /// The message's channel.
    pub channel: crate::base::channel::Channel,
    /// The address it went to.
    pub address: Option<String>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "test-link-key";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn round_trip_and_shape() {
        let id = new_link_id().unwrap();
        assert_eq!(id.len(), 24);
        let exp = now() + Duration::days(30);
        let token = sign_long(KEY, Purpose::Pay, &id, exp).unwrap();
        assert_eq!(token.len(), 44, "33 bytes in unpadded base64url");
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let got = verify(KEY, Purpose::Pay, &token, now()).unwrap();
        assert_eq!(got, LinkRef { link_id: id.clone(), expires_at: Some(exp) });
        assert_eq!(url("https://x.example/", Purpose::Pay, &token), format!("https://x.example/pay/{token}"));
        let short = sign(KEY, Purpose::Pay, &id).unwrap();
        assert_eq!(short.len(), SHORT_TOKEN_CHARS, "18 bytes in unpadded base64url");
        assert!(short.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(verify(KEY, Purpose::Pay, &short, now()).unwrap(), LinkRef { link_id: id, expires_at: None });
        assert_eq!(url("https://pay.example-storage.com", Purpose::Pay, &short).len(), 60);
    }

    #[test]
    fn short_tokens_fail_alike_and_expire_with_their_row() {
        let id = new_link_id().unwrap();
        let token = sign(KEY, Purpose::Pay, &id).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(verify(KEY, Purpose::Pay, &URL_SAFE_NO_PAD.encode(&bytes), now()), Err(LinkError::Invalid));
            bytes[i] ^= 1;
        }
        assert_eq!(verify(KEY, Purpose::Unsubscribe, &token, now()), Err(LinkError::Invalid));
        assert_eq!(verify("other-key", Purpose::Pay, &token, now()), Err(LinkError::Invalid));
        assert!(sign("", Purpose::Pay, &id).is_err());

        let db = crate::base::db::NativeDb::open_in_memory().unwrap();
        crate::schema::migrate(&db, now()).unwrap();
        db.execute("INSERT INTO properties (property_id, name, time_zone, created_at, updated_at) VALUES ('P', 'P', 'UTC', 'x', 'x')", &[]).unwrap();
        db.execute("INSERT INTO tenants (tenant_id, property_id, name, created_at, updated_at) VALUES ('T', 'P', 'T', 'x', 'x')", &[]).unwrap();
        let exp = now() + Duration::days(2);
        db.execute(
            "INSERT INTO outbox (kind, tenant_id, channel, state, not_before, custom_body, link_id, link_expires_at, created_by, created_at, updated_at)
             VALUES ('supplemental', 'T', 'text', 'sent', 'x', 'b', ?, ?, 's', 'x', 'x')",
            &[id.as_str().into(), crate::base::time::timestamp(exp).into()],
        )
        .unwrap();
        let ok = resolve(&db, KEY, Purpose::Pay, &token, now()).unwrap().unwrap();
        assert_eq!((ok.tenant_id.as_str(), ok.expires_at), ("T", exp));
        assert_eq!(resolve(&db, KEY, Purpose::Pay, &token, exp).unwrap(), Err(LinkError::Invalid), "expired with its row");
        // A long token sent before the short format still resolves until its own expiry.
        let old = sign_long(KEY, Purpose::Pay, &id, now() + Duration::days(5)).unwrap();
        assert_eq!(resolve(&db, KEY, Purpose::Pay, &old, exp + Duration::days(1)).unwrap().map(|t| t.tenant_id), Ok("T".into()));
        assert_eq!(resolve(&db, KEY, Purpose::Pay, &old, now() + Duration::days(5)).unwrap(), Err(LinkError::Invalid));
        // Unknown ids are the same error.
        let stranger = sign(KEY, Purpose::Pay, &new_link_id().unwrap()).unwrap();
        assert_eq!(resolve(&db, KEY, Purpose::Pay, &stranger, now()).unwrap(), Err(LinkError::Invalid));
    }

    #[test]
    fn every_fault_is_the_same_error() {
        let id = new_link_id().unwrap();
        let exp = now() + Duration::days(1);
        let token = sign_long(KEY, Purpose::Unsubscribe, &id, exp).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let mut flipped = Vec::new();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            flipped.push(URL_SAFE_NO_PAD.encode(&bytes));
            bytes[i] ^= 1;
        }
        let bad: Vec<(String, &str, Purpose, DateTime<Utc>)> = vec![
            (token.clone(), KEY, Purpose::Pay, now()),
            (token.clone(), "other-key", Purpose::Unsubscribe, now()),
            (token.clone(), KEY, Purpose::Unsubscribe, exp),
            (token.clone(), KEY, Purpose::Unsubscribe, exp + Duration::days(1)),
            (token.clone(), "", Purpose::Unsubscribe, now()),
            (format!("{token}A"), KEY, Purpose::Unsubscribe, now()),
            (token[..40].to_owned(), KEY, Purpose::Unsubscribe, now()),
            ("!!!".into(), KEY, Purpose::Unsubscribe, now()),
            (String::new(), KEY, Purpose::Unsubscribe, now()),
        ];
        for (t, key, purpose, at) in bad.into_iter().chain(flipped.into_iter().map(|t| (t, KEY, Purpose::Unsubscribe, now()))) {
            assert_eq!(verify(key, purpose, &t, at), Err(LinkError::Invalid), "{t}");
        }
        assert!(verify(KEY, Purpose::Unsubscribe, &token, now()).is_ok());
    }

    #[test]
    fn tokens_carry_no_readable_data_and_differ_per_link() {
        let exp = now() + Duration::days(30);
        let a = sign_long(KEY, Purpose::Pay, &new_link_id().unwrap(), exp).unwrap();
        let b = sign_long(KEY, Purpose::Pay, &new_link_id().unwrap(), exp).unwrap();
        assert_ne!(a, b);
        assert!(sign_long("", Purpose::Pay, &new_link_id().unwrap(), exp).is_err());
        assert!(sign_long(KEY, Purpose::Pay, "1234", exp).is_err());
        let a = sign(KEY, Purpose::Pay, &new_link_id().unwrap()).unwrap();
        let b = sign(KEY, Purpose::Pay, &new_link_id().unwrap()).unwrap();
        assert_ne!(a, b);
        assert!(sign(KEY, Purpose::Pay, "1234").is_err());
    }
}
