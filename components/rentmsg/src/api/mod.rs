//! The staff API (`/api/*`), independent of any HTTP stack: a staff
//! component turns its request into a [`Request`], calls [`serve`] with its
//! route group and writes the [`Response`] back ([`component`] does all
//! three in a Spin component). Tested natively end to end against
//! `NativeDb` through [`handle`], which serves every group.
//!
//! Every route but signing in needs a caller ([`auth`]): the break-glass
//! `staff_token`, a person's API token or a console session; a missing or
//! wrong one gets 401 and no data, before any routing. Each route names the
//! least role that may call it ([`Need`], in the route groups: the one place that
//! decides); a weaker role gets 403. The caller's property scope is applied
//! here to every tenant, property, inbox or outbox id the request names
//! (outside it: 404, as if it did not exist) and by the list routes to
//! what they list. Bad
//! input always gets a 4xx JSON `{"error": "..."}` saying what is wrong
//! ([`errors`]). The routes served are the [`GROUPS`], one file per resource,
//! each group served by its own component ([`RouteGroup`]);
//! `components/staff-console/openapi.yaml` documents exactly those (a test
//! checks both directions).

use crate::base::form;
use crate::base::http::{Request, Response};
use crate::compliance::{ComplianceCheck, DbChecker};
use crate::base::db::Db;
use crate::records::audit as audit_log;
use crate::records::scope::Scope;
use crate::schema;
use crate::sending::pacing::Counter;
use crate::staff::accounts::Role;
pub use crate::staff::reply::{NextPass, ReplySender};
use chrono::{DateTime, Utc};

mod auth;
#[cfg(feature = "compliance-client")]
pub mod component;
mod errors;
mod input;

mod audit;
mod calls;
mod compliance;
mod consent;
mod contact_controls;
mod contacts;
mod conversation;
mod exclusions;
mod help_contact;
mod imports;
mod inbound_calls;
mod inbox;
mod keywords;
mod ledger;
mod messages;
mod outbox;
mod promises;
mod replies;
mod reports;
mod revocation_phrases;
mod schedule;
mod session;
mod settings;
mod sms_numbers;
mod staff_users;
mod templates;
mod tenants;
mod today;

#[cfg(feature = "spin")]
pub use auth::staff_post_refusal;
pub use auth::{authenticate, run_gate, Principal, RUN_NEED, SESSION_COOKIE};
use errors::ApiError;

/// Largest accepted request body (a CSV import of a large portfolio).
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// What a request runs against.
pub struct ApiContext<'a> {
    /// The database the routes read and write.
    pub db: &'a dyn Db,
    /// The `staff_token` variable; empty lets nobody in.
    pub staff_token: &'a str,
    /// The current time (the only clock the API reads).
    pub now: DateTime<Utc>,
    /// `public_base_url`: the console's origin (CSRF check) and whether
    /// the session cookie may be sent over plain http.
    pub public_base_url: &'a str,
    /// The shared counters of failed sign-ins (the key-value store).
    pub counters: &'a dyn Counter,
    /// Delays a slowed sign-in answer (a no-op in tests).
    pub sleep: fn(std::time::Duration),
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone (signing in).
    Public,
    /// This role or a stronger one.
    Role(Role),
    /// The account named by `{id}` itself, or an admin.
    SelfOrAdmin,
}

const VIEWER: Need = Need::Role(Role::Viewer);
const COLLECTOR: Need = Need::Role(Role::Collector);
const MANAGER: Need = Need::Role(Role::Manager);
const ADMIN: Need = Need::Role(Role::Admin);
const SELF_OR_ADMIN: Need = Need::SelfOrAdmin;
const PUBLIC: Need = Need::Public;

type Handler = fn(&Call<'_>) -> Result<Response, ApiError>;

/// One served route: method and OpenAPI-style path template.
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template with `{param}` segments.
    pub path: &'static str,
    handler: Handler,
    /// Who may call it.
    pub need: Need,
}

/// The routes one component serves. Spin routes by path alone, so every
/// method of a path is in one group; spin.toml sends each group's paths to
/// its component (a test routes every template through the manifest). A
/// component links only its own group's handlers, so the phone-number
/// metadata and the template engine are in the components that use them.
pub struct RouteGroup {
    /// The component serving these routes (its spin.toml name, and the
    /// `component` of its log lines).
    pub component: &'static str,
    /// The routes, matched in order.
    pub routes: &'static [Route],
}

/// The staff console's routes: the pages' reads (tenants, call list,
/// inbox, outbox, audit, reports), accounts and sign-in, and the settings
/// that take no phone number and render no template.
pub const CONSOLE: RouteGroup = RouteGroup {
    component: "staff-console",
    routes: &[
        Route { method: "GET", path: "/api/tenants", handler: tenants::list, need: VIEWER },
        Route { method: "GET", path: "/api/tenants/{tenant_id}", handler: tenants::get, need: VIEWER },
        Route { method: "PATCH", path: "/api/tenants/{tenant_id}", handler: tenants::patch, need: COLLECTOR },
        Route { method: "GET", path: "/api/tenants/{tenant_id}/ledger", handler: ledger::get, need: VIEWER },
        Route { method: "PUT", path: "/api/tenants/{tenant_id}/exclusions", handler: exclusions::put_tenant_flags, need: MANAGER },
        Route { method: "GET", path: "/api/tenants/{tenant_id}/contacts", handler: contacts::list, need: VIEWER },
        Route { method: "GET", path: "/api/audit", handler: audit::list, need: VIEWER },
        Route { method: "GET", path: "/api/inbox", handler: inbox::list, need: VIEWER },
        Route { method: "GET", path: "/api/inbox/{id}", handler: inbox::get, need: VIEWER },
        Route { method: "POST", path: "/api/inbox/{id}/read", handler: inbox::mark_read, need: COLLECTOR },
        Route { method: "POST", path: "/api/inbox/{id}/handled", handler: inbox::mark_handled, need: COLLECTOR },
        Route { method: "DELETE", path: "/api/inbox/{id}/handled", handler: inbox::reopen, need: COLLECTOR },
        Route { method: "POST", path: "/api/inbox/{id}/undo-opt-out", handler: inbox::undo_opt_out, need: COLLECTOR },
        Route { method: "GET", path: "/api/keywords", handler: keywords::get, need: VIEWER },
        Route { method: "PUT", path: "/api/keywords", handler: keywords::put, need: MANAGER },
        Route { method: "GET", path: "/api/revocation-phrases", handler: revocation_phrases::get, need: VIEWER },
        Route { method: "PUT", path: "/api/revocation-phrases", handler: revocation_phrases::put, need: MANAGER },
        Route { method: "GET", path: "/api/properties/{property_id}/sms-help-contact", handler: help_contact::get, need: VIEWER },
        Route { method: "PUT", path: "/api/properties/{property_id}/sms-help-contact", handler: help_contact::put, need: MANAGER },
        Route { method: "GET", path: "/api/contact-controls", handler: contact_controls::list, need: VIEWER },
        Route { method: "POST", path: "/api/contact-controls", handler: contact_controls::create, need: MANAGER },
        Route { method: "GET", path: "/api/contact-controls/{key}", handler: contact_controls::get, need: VIEWER },
        Route { method: "PUT", path: "/api/contact-controls/{key}", handler: contact_controls::put, need: MANAGER },
        Route { method: "DELETE", path: "/api/contact-controls/{key}", handler: contact_controls::delete, need: MANAGER },
        Route { method: "GET", path: "/api/call-result-codes", handler: compliance::call_result_codes, need: VIEWER },
        Route { method: "GET", path: "/api/notice-schedule", handler: schedule::get, need: VIEWER },
        Route { method: "PUT", path: "/api/notice-schedule", handler: schedule::put, need: MANAGER },
        Route { method: "GET", path: "/api/outbox", handler: outbox::list, need: VIEWER },
        Route { method: "GET", path: "/api/outbox/{id}", handler: outbox::get, need: VIEWER },
        Route { method: "GET", path: "/api/settings", handler: settings::get, need: VIEWER },
        Route { method: "PUT", path: "/api/settings", handler: settings::put, need: MANAGER },
        Route { method: "GET", path: "/api/call-list", handler: calls::call_list, need: VIEWER },
        Route { method: "GET", path: "/api/reports", handler: reports::get, need: VIEWER },
        Route { method: "GET", path: "/api/reports/chart.svg", handler: reports::chart, need: VIEWER },
        Route { method: "GET", path: "/api/tenants/{tenant_id}/promises", handler: promises::list, need: VIEWER },
        Route { method: "POST", path: "/api/tenants/{tenant_id}/promises", handler: promises::create, need: COLLECTOR },
        Route { method: "POST", path: "/api/staff-users", handler: staff_users::create, need: ADMIN },
        Route { method: "GET", path: "/api/staff-users", handler: staff_users::list, need: ADMIN },
        Route { method: "GET", path: "/api/staff-users/{id}", handler: staff_users::get, need: ADMIN },
        Route { method: "PATCH", path: "/api/staff-users/{id}", handler: staff_users::patch, need: ADMIN },
        Route { method: "POST", path: "/api/staff-users/{id}/token", handler: staff_users::rotate_token, need: SELF_OR_ADMIN },
        Route { method: "PUT", path: "/api/staff-users/{id}/password", handler: staff_users::set_password, need: SELF_OR_ADMIN },
        Route { method: "POST", path: "/api/session", handler: session::sign_in, need: PUBLIC },
        Route { method: "DELETE", path: "/api/session", handler: session::sign_out, need: VIEWER },
        Route { method: "GET", path: "/api/me", handler: session::me, need: VIEWER },
        Route { method: "GET", path: "/api/tenants/{tenant_id}/conversation", handler: conversation::get, need: VIEWER },
        Route { method: "GET", path: "/api/today", handler: today::get, need: VIEWER },
    ],
};

/// What staff bring in: the CSV imports and every route where a person
/// types a phone number (validated against the numbering plan), so the
/// phone metadata is linked into this component only.
pub const INTAKE: RouteGroup = RouteGroup {
    component: "staff-intake",
    routes: &[
        Route { method: "GET", path: "/api/tenants/{tenant_id}/consent", handler: consent::get, need: VIEWER },
        Route { method: "PUT", path: "/api/tenants/{tenant_id}/consent", handler: consent::put, need: COLLECTOR },
        Route { method: "POST", path: "/api/import/properties", handler: imports::properties, need: MANAGER },
        Route { method: "POST", path: "/api/import/tenants", handler: imports::tenants, need: MANAGER },
        Route { method: "POST", path: "/api/import/ledger", handler: imports::ledger, need: MANAGER },
        Route {
            method: "PUT",
            path: "/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion",
            handler: exclusions::put_contact_point,
            need: COLLECTOR,
        },
        Route { method: "GET", path: "/api/sms-numbers/{number}", handler: sms_numbers::get, need: VIEWER },
        Route { method: "POST", path: "/api/compliance/check", handler: compliance::check, need: COLLECTOR },
        Route { method: "POST", path: "/api/tenants/{tenant_id}/calls", handler: calls::record, need: COLLECTOR },
        Route { method: "POST", path: "/api/tenants/{tenant_id}/inbound-calls", handler: inbound_calls::record, need: COLLECTOR },
    ],
};

/// Routes that render message templates: the notice templates, staff
/// messages and replies (a reply is sent at once, through the providers).
pub const MESSAGING: RouteGroup = RouteGroup {
    component: "staff-messaging",
    routes: &[
        Route { method: "GET", path: "/api/notice-templates", handler: templates::list, need: VIEWER },
        Route { method: "GET", path: "/api/notice-templates/{stage}/{channel}", handler: templates::get, need: VIEWER },
        Route { method: "PUT", path: "/api/notice-templates/{stage}/{channel}", handler: templates::put, need: MANAGER },
        Route { method: "POST", path: "/api/tenants/{tenant_id}/messages", handler: messages::send, need: COLLECTOR },
        Route { method: "POST", path: "/api/tenants/{tenant_id}/replies", handler: replies::create, need: COLLECTOR },
    ],
};

/// Every route the staff API serves, group by group.
pub const GROUPS: [&RouteGroup; 3] = [&CONSOLE, &INTAKE, &MESSAGING];

/// Every route the staff API serves.
fn all_routes() -> impl Iterator<Item = &'static Route> {
    GROUPS.into_iter().flat_map(|g| g.routes.iter())
}

/// `(method, path template)` of every route, for docs and tests.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    all_routes().map(|r| (r.method, r.path)).collect()
}

/// `(method, path template, need)` of every route, for docs and tests.
pub fn route_needs() -> Vec<(&'static str, &'static str, Need)> {
    all_routes().map(|r| (r.method, r.path, r.need)).collect()
}

/// A matched request, as every handler sees it.
struct Call<'a> {
    req: &'a Request,
    ctx: &'a ApiContext<'a>,
    /// Path parameters, percent-decoded.
    params: Vec<(&'static str, String)>,
    /// Query parameters, percent-decoded (`+` read as a space).
    query: form::Form,
    /// Who is acting, for the audit log (`user:<username>`, `bootstrap`...).
    actor: String,
    /// Who is calling (None only on the public sign-in route).
    principal: Option<Principal>,
    /// Where compliance decisions come from (the component in production).
    checker: &'a dyn ComplianceCheck,
    /// Sends a staff reply at once (the provider step in production).
    sender: &'a dyn ReplySender,
}

impl Call<'_> {
    fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v.as_str())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name)
    }

    fn db(&self) -> &dyn Db {
        self.ctx.db
    }

    /// The properties the caller may see (every one on the public route,
    /// which reads no records).
    fn scope(&self) -> Scope {
        self.principal.as_ref().map_or(Scope::All, Principal::scope)
    }
}

/// Match a path against a template; Some(params) on success.
fn match_template<'p>(template: &'static str, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
    let mut t = template.split('/');
    let mut p = path.split('/');
    let mut params = Vec::new();
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name, ps));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Answer one staff API request on any route, deciding compliance
/// in-process over `ctx.db` ([`DbChecker`]): tests and native tools.
pub fn handle(req: &Request, ctx: &ApiContext<'_>) -> Response {
    handle_sending(req, ctx, &DbChecker { db: ctx.db }, &NextPass)
}

/// As [`handle`], asking `checker` for every compliance decision and with
/// `sender` running the send step of a staff reply.
pub fn handle_sending(req: &Request, ctx: &ApiContext<'_>, checker: &dyn ComplianceCheck, sender: &dyn ReplySender) -> Response {
    dispatch(all_routes(), req, ctx, checker, sender)
}

/// Answer one request on `group`'s routes (what a staff component serves):
/// compliance decisions from `checker` (the compliance component's WIT
/// import, so staff see exactly what the product applies), a staff reply's
/// send step from `sender`.
pub fn serve(group: &RouteGroup, req: &Request, ctx: &ApiContext<'_>, checker: &dyn ComplianceCheck, sender: &dyn ReplySender) -> Response {
    dispatch(group.routes.iter(), req, ctx, checker, sender)
}

fn dispatch(
    routes: impl Iterator<Item = &'static Route>,
    req: &Request,
    ctx: &ApiContext<'_>,
    checker: &dyn ComplianceCheck,
    sender: &dyn ReplySender,
) -> Response {
    let path = req.path_only();
    let method = req.method.to_ascii_uppercase();
    let mut allowed: Vec<&'static str> = Vec::new();
    let mut found = None;
    for route in routes {
        if let Some(params) = match_template(route.path, path) {
            if route.method == method {
                found = Some((route, params));
                break;
            }
            allowed.push(route.method);
        }
    }
    // Accounts live in the database: bring the schema up to date before
    // anyone is looked up (one statement when it is current).
    if let Err(e) = schema::migrate(ctx.db, ctx.now) {
        return ApiError::from(e).into_response();
    }
    let public = found.as_ref().is_some_and(|(r, _)| r.need == Need::Public);
    let principal = if public {
        None
    } else {
        match auth::identify(req, ctx) {
            Ok(p) => Some(p),
            Err(resp) => return resp,
        }
    };
    let Some((route, raw_params)) = found else {
        if allowed.is_empty() {
            return Response::error(404, format!("no such route: {method} {path}"));
        }
        return Response::error(405, format!("{method} is not allowed here; use {}", allowed.join(", ")))
            .with_header("allow", allowed.join(", "));
    };
    let mut resp = run(route, raw_params, req, ctx, principal, checker, sender).unwrap_or_else(ApiError::into_response);
    resp.route = Some(route.path);
    resp
}

/// May `principal` call `route` (with these path parameters)?
fn permitted(need: Need, principal: &Principal, params: &[(&'static str, String)]) -> bool {
    match need {
        Need::Public => true,
        Need::Role(role) => principal.role() >= role,
        Need::SelfOrAdmin => {
            principal.role() >= Role::Admin
                || principal.user_id().is_some_and(|me| params.iter().any(|(k, v)| *k == "id" && v.parse::<i64>().ok() == Some(me)))
        }
    }
}

/// 403, audited: a refusal is worth knowing about.
fn refuse(call: &Call<'_>, route: &Route, why: &str) -> Result<Response, ApiError> {
    let detail = serde_json::json!({ "method": route.method, "route": route.path, "why": why });
    audit_log::record(call.db(), &call.actor, "auth.refused", "", &detail, call.ctx.now)?;
    Err(ApiError::new(403, format!("{why}: not allowed for this account")))
}

/// 404 unless every tenant and property the request names (path or query)
/// is inside the caller's scope.
fn check_scope(call: &Call<'_>) -> Result<(), ApiError> {
    let scope = call.scope();
    if scope == Scope::All {
        return Ok(());
    }
    let db = call.db();
    let named = |name: &str| -> Option<String> {
        call.params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).or_else(|| input::filter_param(call, name).map(str::to_owned))
    };
    if let Some(t) = named("tenant_id") {
        if !scope.allows_tenant(db, &t)? {
            return Err(ApiError::new(404, format!("tenant `{t}` not found")));
        }
    }
    if let Some(p) = named("property_id") {
        if !scope.allows_property(&p) {
            return Err(ApiError::new(404, format!("property `{p}` not found")));
        }
    }
    Ok(())
}

/// 404 unless the inbox message or outbox row named by `{id}` is in scope.
fn check_item_scope(call: &Call<'_>, route: &Route) -> Result<(), ApiError> {
    let scope = call.scope();
    if scope == Scope::All {
        return Ok(());
    }
    let db = call.db();
    let id = call.params.iter().find(|(k, _)| *k == "id").and_then(|(_, v)| v.parse::<i64>().ok());
    if let Some(id) = id {
        let visible = if route.path.starts_with("/api/inbox/") {
            scope.allows_inbox_message(db, id)?
        } else if route.path.starts_with("/api/outbox/") {
            scope.allows_outbox_row(db, id)?
        } else {
            true
        };
        if !visible {
            return Err(ApiError::new(404, format!("{id} not found")));
        }
    }
    Ok(())
}

fn run(
    route: &'static Route,
    raw_params: Vec<(&'static str, &str)>,
    req: &Request,
    ctx: &ApiContext<'_>,
    principal: Option<Principal>,
    checker: &dyn ComplianceCheck,
    sender: &dyn ReplySender,
) -> Result<Response, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(413, format!("the body is larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024))));
    }
    let params = raw_params
        .into_iter()
        .map(|(k, v)| Ok((k, form::decode_path_segment(v)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let query = form::parse_query(req.query())?;
    let actor = principal.as_ref().map_or_else(|| "anonymous".to_owned(), Principal::actor);
    let call = Call { req, ctx, params, query, actor, principal, checker, sender };
    if let Some(p) = &call.principal {
        if p.via_session() && !matches!(route.method, "GET" | "HEAD") && !auth::same_origin(req, ctx.public_base_url) {
            return refuse(&call, route, "cross-origin request");
        }
        // A tenant or property outside the scope is 404 whatever the role,
        // so it is checked before the role; inbox and outbox ids after it
        // (a refusal says nothing about a message).
        check_scope(&call)?;
        if !permitted(route.need, p, &call.params) {
            return refuse(&call, route, "role");
        }
        check_item_scope(&call, route)?;
    }
    (route.handler)(&call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(match_template("/api/tenants/{tenant_id}", "/api/tenants/T1"), Some(vec![("tenant_id", "T1")]));
        assert_eq!(match_template("/api/tenants/{tenant_id}", "/api/tenants/"), None);
        assert_eq!(match_template("/api/tenants/{tenant_id}", "/api/tenants/T1/x"), None);
        assert_eq!(match_template("/api/tenants", "/api/tenants"), Some(vec![]));
    }
}
