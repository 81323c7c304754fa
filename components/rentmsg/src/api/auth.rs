//! Who may call the staff routes: `Authorization: Bearer <staff_token>`,
//! compared in constant time, checked before any routing so a stranger
//! learns nothing. Also used by the components that serve staff-only
//! `POST` routes outside the API (`/api/scan`, `/api/send`).

use crate::base::http::{header, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time token check: both sides are hashed first, so neither the
/// content nor the length of the expected token leaks through timing.
fn token_matches(presented: &str, expected: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    bool::from(digest(presented).ct_eq(&digest(expected)))
}

/// The bearer token from an `Authorization` header value.
fn bearer(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, token) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = token.trim();
        (!token.is_empty()).then_some(token)
    } else {
        None
    }
}

/// Check the request's bearer token against `staff_token`. Ok gives the
/// actor recorded in the audit log: `staff`, or `staff:<name>` when an
/// `X-Staff-User` header names the person (letters, digits, `._@-`, at most
/// 64). Err is the response to send (401, or 503 when no token is configured).
pub fn authenticate(headers: &[(String, String)], staff_token: &str) -> Result<String, Response> {
    if staff_token.trim().is_empty() {
        return Err(Response::error(503, "staff_token not configured"));
    }
    let ok = header(headers, "authorization").and_then(bearer).is_some_and(|t| token_matches(t, staff_token));
    if !ok {
        return Err(Response::error(401, "missing or invalid bearer token").with_header("www-authenticate", "Bearer"));
    }
    let user = header(headers, "x-staff-user").map(str::trim).filter(|u| {
        !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    });
    Ok(match user {
        Some(u) => format!("staff:{u}"),
        None => "staff".to_owned(),
    })
}

/// The refusal, if any, of a staff-only `POST` route served outside the
/// staff API: the staff token first (no token configured lets nobody in),
/// then the method. `what` names the action in the 405 message ("run a
/// scan"). Only Spin components serve such routes.
#[cfg_attr(not(feature = "spin"), allow(dead_code))]
fn post_refusal(method: &str, headers: &[(String, String)], staff_token: &str, what: &str) -> Option<Response> {
    if let Err(denied) = authenticate(headers, staff_token) {
        return Some(denied);
    }
    if method != "POST" {
        return Some(Response::error(405, format!("use POST to {what}")).with_header("allow", "POST"));
    }
    None
}

/// [`post_refusal`] for a Spin request, as the overdue-scan and
/// outbound-send components call it.
#[cfg(feature = "spin")]
pub fn staff_post_refusal(req: &spin_sdk::http::Request, staff_token: &str, what: &str) -> Option<spin_sdk::http::Response> {
    let headers: Vec<(String, String)> =
        req.headers().filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string()))).collect();
    post_refusal(&req.method().to_string(), &headers, staff_token, what).map(Response::into_spin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing_and_constant_time_compare() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc  "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("s3cret-and-more", "s3cret"));
        assert!(!token_matches("", ""));
        assert!(!token_matches("x", ""));
    }

    #[test]
    fn staff_posts_need_the_token_then_post() {
        let token = vec![("Authorization".to_owned(), "Bearer t0k".to_owned())];
        assert_eq!(post_refusal("POST", &[], "t0k", "run a scan").map(|r| r.status), Some(401));
        assert_eq!(post_refusal("GET", &[], "", "run a scan").map(|r| r.status), Some(503));
        let r = post_refusal("GET", &token, "t0k", "run a scan").unwrap();
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        assert_eq!(r.body_json(), serde_json::json!({ "error": "use POST to run a scan" }));
        assert!(post_refusal("POST", &token, "t0k", "run a scan").is_none());
    }
}
