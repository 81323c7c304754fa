//! Who is calling: the break-glass `staff_token` (compared in constant
//! time), a person's API token (`rmsu_...`, looked up by its hash), or a
//! console session cookie. Checked before any routing so a stranger learns
//! nothing. Also used by the components that serve staff-only `POST`
//! routes outside the API (`/api/scan`, `/api/send`), which take the
//! break-glass token only.

use super::ApiContext;
use crate::base::http::{header, Request, Response};
use crate::records::scope::Scope;
use crate::staff::accounts::{self, Role, StaffUser};
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

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "rentmsg_session";

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The deployment's break-glass token: an administrator of everything,
    /// audited as `bootstrap` (or `bootstrap:<label>` from `X-Staff-User`).
    Bootstrap {
        /// The audit actor.
        actor: String,
    },
    /// A person's account.
    User {
        /// The account.
        user: StaffUser,
        /// Authenticated by the session cookie (so subject to the CSRF check).
        via_session: bool,
    },
}

impl Principal {
    /// The caller's role.
    pub fn role(&self) -> Role {
        match self {
            Principal::Bootstrap { .. } => Role::Admin,
            Principal::User { user, .. } => user.role,
        }
    }

    /// The properties the caller may see.
    pub fn scope(&self) -> Scope {
        match self {
            Principal::Bootstrap { .. } => Scope::All,
            Principal::User { user, .. } => user.scope(),
        }
    }

    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        match self {
            Principal::Bootstrap { actor } => actor.clone(),
            Principal::User { user, .. } => user.actor(),
        }
    }

    /// The caller's account id (none for the break-glass token).
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User { user, .. } => Some(user.id),
            Principal::Bootstrap { .. } => None,
        }
    }

    /// Authenticated by the console's session cookie?
    pub fn via_session(&self) -> bool {
        matches!(self, Principal::User { via_session: true, .. })
    }
}

/// A cookie's value from the `Cookie` header.
pub(super) fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn unauthorized() -> Response {
    Response::error(401, "missing or invalid bearer token").with_header("www-authenticate", "Bearer")
}

/// Identify the caller of a staff API request: the bearer token (break-glass
/// or personal), else the session cookie. Err is the response to send (401,
/// 503 when no `staff_token` is configured, or when the account store
/// cannot be read: fail closed).
pub fn identify(req: &Request, ctx: &ApiContext<'_>) -> Result<Principal, Response> {
    if ctx.staff_token.trim().is_empty() {
        return Err(Response::error(503, "staff_token not configured"));
    }
    let store_down = |e: accounts::AccountError| {
        let mut r = Response::error(503, "the account store is unavailable; try again");
        r.diagnostic = Some(e.to_string());
        r
    };
    if let Some(value) = req.header("authorization") {
        let Some(token) = bearer(value) else { return Err(unauthorized()) };
        if token.starts_with(accounts::TOKEN_PREFIX) {
            return match accounts::by_token(ctx.db, token) {
                Ok(Some(user)) => Ok(Principal::User { user, via_session: false }),
                Ok(None) => Err(unauthorized()),
                Err(e) => Err(store_down(e)),
            };
        }
        return authenticate(&req.headers, ctx.staff_token).map(|actor| Principal::Bootstrap { actor });
    }
    if let Some(sid) = cookie(req, SESSION_COOKIE) {
        return match accounts::session_user(ctx.db, sid, ctx.now) {
            Ok(Some(user)) => Ok(Principal::User { user, via_session: true }),
            Ok(None) => Err(unauthorized()),
            Err(e) => Err(store_down(e)),
        };
    }
    Err(unauthorized())
}

/// The origin (`scheme://host[:port]`) of a URL, lower case.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// A state-changing request carried by the session cookie must come from
/// the console's own origin: its `Origin` (or, without one, its `Referer`)
/// must be `public_base_url`'s origin or the request's own `Host`. Neither
/// header present is refused too (browsers send `Origin` on every such
/// request). Bearer-token callers are not browsers riding a cookie, so
/// they are not checked.
pub(super) fn same_origin(req: &Request, public_base_url: &str) -> bool {
    let claimed = match req.header("origin").filter(|o| !o.trim().is_empty() && o.trim() != "null") {
        Some(o) => origin_of(o),
        None => req.header("referer").and_then(origin_of),
    };
    let Some(claimed) = claimed else { return false };
    if origin_of(public_base_url).is_some_and(|o| o == claimed) {
        return true;
    }
    let host = req.header("host").map(|h| h.trim().to_ascii_lowercase());
    host.is_some_and(|h| claimed.split_once("://").is_some_and(|(_, ch)| ch == h))
}

/// Check the request's bearer token against the break-glass `staff_token`.
/// Ok gives the actor recorded in the audit log: `bootstrap`, or
/// `bootstrap:<label>` when an `X-Staff-User` header labels the entry
/// (letters, digits, `._@-`, at most 64). Err is the response to send (401,
/// or 503 when no token is configured).
pub fn authenticate(headers: &[(String, String)], staff_token: &str) -> Result<String, Response> {
    if staff_token.trim().is_empty() {
        return Err(Response::error(503, "staff_token not configured"));
    }
    let ok = header(headers, "authorization").and_then(bearer).is_some_and(|t| token_matches(t, staff_token));
    if !ok {
        return Err(unauthorized());
    }
    let user = header(headers, "x-staff-user").map(str::trim).filter(|u| {
        !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    });
    Ok(match user {
        Some(u) => format!("bootstrap:{u}"),
        None => "bootstrap".to_owned(),
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
