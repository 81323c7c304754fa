//! Who is calling: the break-glass `staff_token` (compared in constant
//! time), a person's API token (`rmsu_...`, looked up by its hash), or a
//! console session cookie. Checked before any routing so a stranger learns
//! nothing. Also used by the components that serve staff-only `POST`
//! routes outside the API (`/api/scan`, `/api/send`): the same callers
//! (break-glass token, personal token, session cookie with the CSRF rule),
//! a manager or stronger ([`RUN_NEED`]), audited ([`run_gate`]).

use super::ApiContext;
use crate::base::db::Db;
use crate::base::http::{header, Request, Response};
use crate::records::audit as audit_log;
use chrono::{DateTime, Utc};
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
    identify_in(req, ctx.db, ctx.staff_token, ctx.now)
}

/// [`identify`] without a whole [`ApiContext`] (the scan and send routes
/// have no sign-in counters).
fn identify_in(req: &Request, db: &dyn Db, staff_token: &str, now: DateTime<Utc>) -> Result<Principal, Response> {
    if staff_token.trim().is_empty() {
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
            return match accounts::by_token(db, token) {
                Ok(Some(user)) => Ok(Principal::User { user, via_session: false }),
                Ok(None) => Err(unauthorized()),
                Err(e) => Err(store_down(e)),
            };
        }
        return authenticate(&req.headers, staff_token).map(|actor| Principal::Bootstrap { actor });
    }
    if let Some(sid) = cookie(req, SESSION_COOKIE) {
        return match accounts::session_user(db, sid, now) {
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
/// must be `public_base_url`'s origin or the request's own host. Neither
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
    // The request's own host: `Host`, or (Spin hands components no `Host`)
    // the authority of `spin-full-url`, which the host builds from it. A
    // forged page cannot choose either for the victim's browser.
    let host = req
        .header("host")
        .map(|h| h.trim().to_ascii_lowercase())
        .or_else(|| req.header("spin-full-url").and_then(origin_of).and_then(|o| o.split_once("://").map(|(_, h)| h.to_owned())));
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

/// The least role that may run a scan or a send pass over HTTP
/// (`/api/scan`, `/api/send`; the OpenAPI document says the same).
pub const RUN_NEED: Role = Role::Manager;

/// The gate of a staff-only `POST` route served outside the staff API
/// (`/api/scan`, `/api/send`), in this order: who is calling, exactly as
/// the staff API decides it ([`identify_in`]: 401, or 503 with no
/// `staff_token` configured, fail closed); the method (405; `what` names
/// the action: "run a scan"); a session cookie from another origin (403);
/// a role weaker than [`RUN_NEED`] (403). Refusals and runs are audited,
/// a run as `action` ("scan.run") under the caller's name. Ok is the caller.
pub fn run_gate(
    req: &Request,
    db: &dyn Db,
    staff_token: &str,
    public_base_url: &str,
    now: DateTime<Utc>,
    what: &str,
    action: &str,
) -> Result<Principal, Response> {
    // Accounts and sessions live in the database: bring the schema up to
    // date before anyone is looked up (one statement when it is current).
    if let Err(e) = crate::schema::migrate(db, now) {
        let mut r = Response::error(503, "the database is unavailable; try again");
        r.diagnostic = Some(e.to_string());
        return Err(r);
    }
    let principal = identify_in(req, db, staff_token, now)?;
    if !req.method.eq_ignore_ascii_case("POST") {
        return Err(Response::error(405, format!("use POST to {what}")).with_header("allow", "POST"));
    }
    let refuse = |why: &str| -> Response {
        let detail = serde_json::json!({ "method": "POST", "route": req.path_only(), "why": why });
        if let Err(e) = audit_log::record(db, &principal.actor(), "auth.refused", "", &detail, now) {
            let mut r = Response::error(503, "the database is unavailable; try again");
            r.diagnostic = Some(e.to_string());
            return r;
        }
        Response::error(403, format!("{why}: not allowed for this account"))
    };
    if principal.via_session() && !same_origin(req, public_base_url) {
        return Err(refuse("cross-origin request"));
    }
    if principal.role() < RUN_NEED {
        return Err(refuse("role"));
    }
    let detail = serde_json::json!({ "route": req.path_only() });
    if let Err(e) = audit_log::record(db, &principal.actor(), action, "", &detail, now) {
        let mut r = Response::error(503, "the database is unavailable; try again");
        r.diagnostic = Some(e.to_string());
        return Err(r);
    }
    Ok(principal)
}

/// [`run_gate`] for a Spin request against the `default` database, as the
/// overdue-scan and outbound-send components call it: None means go ahead.
/// `public_base_url` is read here (the CSRF check); without it the
/// request's own `Host` is the console's origin.
#[cfg(feature = "spin")]
pub fn staff_post_refusal(req: &spin_sdk::http::Request, staff_token: &str, what: &str, action: &str) -> Option<spin_sdk::http::Response> {
    let request = Request::from_spin(req);
    let public_base_url = spin_sdk::variables::get("public_base_url").unwrap_or_default();
    let db = match crate::base::db::SpinDb::open_default() {
        Ok(db) => db,
        Err(e) => {
            let mut r = Response::error(503, "database unavailable");
            r.diagnostic = Some(e.to_string());
            return Some(r.into_spin());
        }
    };
    run_gate(&request, &db, staff_token, &public_base_url, Utc::now(), what, action).err().map(Response::into_spin)
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
}
