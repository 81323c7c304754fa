//! `Stripe-Signature` verification: `t=<unix>,v1=<hex>[,v1=<hex>...]`; the
//! signed payload is `{t}.{raw body}`, HMAC-SHA256 with the endpoint secret,
//! hex. Any `v1` may match (secret rotation sends two); other schemes
//! (`v0`) are ignored; `t` more than the tolerance away from now fails.
//! Comparisons are constant time; everything fails closed.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Default timestamp tolerance in seconds (as the official libraries).
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signature was refused (for logs; the sender only gets 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No endpoint secret is configured.
    #[error("the webhook secret is not configured")]
    NoSecret,
    /// The header is missing or has no timestamp / no v1 signature.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// The timestamp is outside the tolerance.
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    /// No v1 signature matches.
    #[error("no signature matches the payload")]
    Mismatch,
}

/// The hex HMAC-SHA256 of `{t}.{payload}` with `secret` (what a sender
/// puts in `v1`).
pub fn compute(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length: unreachable.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Verify `header` for `payload` at `now_unix`; returns the signed timestamp.
pub fn verify(header: Option<&str>, payload: &[u8], secret: &str, now_unix: i64, tolerance: i64) -> Result<i64, SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    // Parsed as the official libraries do: no trimming, exact scheme names.
    for part in header.split(',') {
        let Some((k, v)) = part.split_once('=') else { continue };
        match k {
            "t" => timestamp = v.parse::<i64>().ok(),
            "v1" => signatures.push(v),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // Lower-case hex compared as text, in constant time (as the libraries'
    // secure_compare: an upper-case signature does not match).
    let expected = compute(secret, t, payload);
    let mut any = subtle::Choice::from(0u8);
    for s in signatures {
        any |= expected.as_bytes().ct_eq(s.as_bytes());
    }
    if !bool::from(any) {
        return Err(SignatureError::Mismatch);
    }
    // Checked after the MAC, as the official libraries do.
    if tolerance > 0 && (now_unix - t).abs() > tolerance {
        return Err(SignatureError::Stale);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_rotation_and_faults() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = compute("whsec_a", 1_700_000_000, body);
        let ok = format!("t=1700000000,v1={sig}");
        assert_eq!(verify(Some(&ok), body, "whsec_a", 1_700_000_100, 300), Ok(1_700_000_000));
        let two = format!("t=1700000000,v1={},v1={sig},v0=abc", "0".repeat(64));
        assert!(verify(Some(&two), body, "whsec_a", 1_700_000_000, 300).is_ok());
        assert_eq!(verify(Some(&ok), body, "whsec_b", 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&ok), b"{}", "whsec_a", 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&ok), body, "whsec_a", 1_700_000_301, 300), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&ok), body, "whsec_a", 1_699_999_699, 300), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&format!("v1={sig}")), body, "whsec_a", 1_700_000_000, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=1700000000"), body, "whsec_a", 1_700_000_000, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(None, body, "whsec_a", 1_700_000_000, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&ok), body, "", 1_700_000_000, 300), Err(SignatureError::NoSecret));
    }
}
