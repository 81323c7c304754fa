//! The staff API (`/api/*`), independent of any HTTP stack: the component
//! turns its request into a [`Request`], calls [`handle`] and writes the
//! [`Response`] back. Tested natively end to end against `NativeDb`.
//!
//! Every route needs `Authorization: Bearer <staff_token>` ([`auth`]); a
//! missing or wrong token gets 401 and no data, before any routing. Bad
//! input always gets a 4xx JSON `{"error": "..."}` saying what is wrong
//! ([`errors`]). The routes served are [`ROUTES`], one file per resource;
//! `components/staff-console/openapi.yaml` documents exactly those (a test
//! checks both directions).

use crate::base::form;
use crate::base::http::{Request, Response};
use crate::compliance::{ComplianceCheck, DbChecker};
use crate::base::db::Db;
use crate::schema;
use chrono::{DateTime, Utc};

mod auth;
mod errors;
mod input;

mod audit;
mod calls;
mod compliance;
mod consent;
mod contact_controls;
mod contacts;
mod exclusions;
mod help_contact;
mod imports;
mod inbox;
mod keywords;
mod ledger;
mod messages;
mod outbox;
mod promises;
mod reports;
mod schedule;
mod settings;
mod sms_numbers;
mod templates;
mod tenants;

#[cfg(feature = "spin")]
pub use auth::staff_post_refusal;
pub use auth::authenticate;
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
}

type Handler = fn(&Call<'_>) -> Result<Response, ApiError>;

/// One served route: method and OpenAPI-style path template.
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template with `{param}` segments.
    pub path: &'static str,
    handler: Handler,
}

/// Every route the staff API serves.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/api/import/properties", handler: imports::properties },
    Route { method: "POST", path: "/api/import/tenants", handler: imports::tenants },
    Route { method: "POST", path: "/api/import/ledger", handler: imports::ledger },
    Route { method: "GET", path: "/api/tenants", handler: tenants::list },
    Route { method: "GET", path: "/api/tenants/{tenant_id}", handler: tenants::get },
    Route { method: "PATCH", path: "/api/tenants/{tenant_id}", handler: tenants::patch },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/ledger", handler: ledger::get },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/consent", handler: consent::get },
    Route { method: "PUT", path: "/api/tenants/{tenant_id}/consent", handler: consent::put },
    Route { method: "PUT", path: "/api/tenants/{tenant_id}/exclusions", handler: exclusions::put_tenant_flags },
    Route {
        method: "PUT",
        path: "/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion",
        handler: exclusions::put_contact_point,
    },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/contacts", handler: contacts::list },
    Route { method: "GET", path: "/api/audit", handler: audit::list },
    Route { method: "GET", path: "/api/inbox", handler: inbox::list },
    Route { method: "GET", path: "/api/inbox/{id}", handler: inbox::get },
    Route { method: "POST", path: "/api/inbox/{id}/read", handler: inbox::mark_read },
    Route { method: "POST", path: "/api/inbox/{id}/handled", handler: inbox::mark_handled },
    Route { method: "DELETE", path: "/api/inbox/{id}/handled", handler: inbox::reopen },
    Route { method: "GET", path: "/api/keywords", handler: keywords::get },
    Route { method: "PUT", path: "/api/keywords", handler: keywords::put },
    Route { method: "GET", path: "/api/properties/{property_id}/sms-help-contact", handler: help_contact::get },
    Route { method: "PUT", path: "/api/properties/{property_id}/sms-help-contact", handler: help_contact::put },
    Route { method: "GET", path: "/api/sms-numbers/{number}", handler: sms_numbers::get },
    Route { method: "POST", path: "/api/compliance/check", handler: compliance::check },
    Route { method: "GET", path: "/api/contact-controls", handler: contact_controls::list },
    Route { method: "POST", path: "/api/contact-controls", handler: contact_controls::create },
    Route { method: "GET", path: "/api/contact-controls/{key}", handler: contact_controls::get },
    Route { method: "PUT", path: "/api/contact-controls/{key}", handler: contact_controls::put },
    Route { method: "DELETE", path: "/api/contact-controls/{key}", handler: contact_controls::delete },
    Route { method: "GET", path: "/api/call-result-codes", handler: compliance::call_result_codes },
    Route { method: "GET", path: "/api/notice-schedule", handler: schedule::get },
    Route { method: "PUT", path: "/api/notice-schedule", handler: schedule::put },
    Route { method: "GET", path: "/api/notice-templates", handler: templates::list },
    Route { method: "GET", path: "/api/notice-templates/{stage}/{channel}", handler: templates::get },
    Route { method: "PUT", path: "/api/notice-templates/{stage}/{channel}", handler: templates::put },
    Route { method: "GET", path: "/api/outbox", handler: outbox::list },
    Route { method: "GET", path: "/api/outbox/{id}", handler: outbox::get },
    Route { method: "GET", path: "/api/settings", handler: settings::get },
    Route { method: "PUT", path: "/api/settings", handler: settings::put },
    Route { method: "GET", path: "/api/call-list", handler: calls::call_list },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/calls", handler: calls::record },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/messages", handler: messages::send },
    Route { method: "GET", path: "/api/reports", handler: reports::get },
    Route { method: "GET", path: "/api/reports/chart.svg", handler: reports::chart },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/promises", handler: promises::list },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/promises", handler: promises::create },
];

/// `(method, path template)` of every route, for docs and tests.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    ROUTES.iter().map(|r| (r.method, r.path)).collect()
}

/// A matched request, as every handler sees it.
struct Call<'a> {
    req: &'a Request,
    ctx: &'a ApiContext<'a>,
    /// Path parameters, percent-decoded.
    params: Vec<(&'static str, String)>,
    /// Query parameters, percent-decoded (`+` read as a space).
    query: form::Form,
    /// Who is acting, for the audit log (`staff` or `staff:<name>`).
    actor: String,
    /// Where compliance decisions come from (the component in production).
    checker: &'a dyn ComplianceCheck,
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

/// Answer one staff API request, deciding compliance in-process over
/// `ctx.db` ([`DbChecker`]): tests and native tools.
pub fn handle(req: &Request, ctx: &ApiContext<'_>) -> Response {
    handle_with(req, ctx, &DbChecker { db: ctx.db })
}

/// Answer one staff API request, asking `checker` for every compliance
/// decision (the staff-console component passes the compliance
/// component's WIT import, so staff see exactly what the product applies).
pub fn handle_with(req: &Request, ctx: &ApiContext<'_>, checker: &dyn ComplianceCheck) -> Response {
    let actor = match authenticate(&req.headers, ctx.staff_token) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let path = req.path_only();
    let method = req.method.to_ascii_uppercase();
    let mut allowed: Vec<&'static str> = Vec::new();
    let mut found = None;
    for route in ROUTES {
        if let Some(params) = match_template(route.path, path) {
            if route.method == method {
                found = Some((route, params));
                break;
            }
            allowed.push(route.method);
        }
    }
    let Some((route, raw_params)) = found else {
        if allowed.is_empty() {
            return Response::error(404, format!("no such route: {method} {path}"));
        }
        return Response::error(405, format!("{method} is not allowed here; use {}", allowed.join(", ")))
            .with_header("allow", allowed.join(", "));
    };
    let mut resp = run(route, raw_params, req, ctx, actor, checker).unwrap_or_else(ApiError::into_response);
    resp.route = Some(route.path);
    resp
}

fn run(
    route: &'static Route,
    raw_params: Vec<(&'static str, &str)>,
    req: &Request,
    ctx: &ApiContext<'_>,
    actor: String,
    checker: &dyn ComplianceCheck,
) -> Result<Response, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(413, format!("the body is larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024))));
    }
    let params = raw_params
        .into_iter()
        .map(|(k, v)| Ok((k, form::decode_path_segment(v)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let query = form::parse_query(req.query())?;
    schema::migrate(ctx.db, ctx.now)?;
    let call = Call { req, ctx, params, query, actor, checker };
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
