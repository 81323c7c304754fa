//! The staff API (`/api/*`), independent of any HTTP stack: the component
//! turns its request into an [`Request`], calls [`handle`] and writes the
//! [`Response`] back. Tested natively end to end against `NativeDb`.
//!
//! Every route needs `Authorization: Bearer <staff_token>`, compared in
//! constant time; a missing or wrong token gets 401 and no data, before any
//! routing. Bad input always gets a 4xx JSON `{"error": "..."}` saying what
//! is wrong. The routes served are [`ROUTES`];
//! `components/staff-console/openapi.yaml` documents exactly those (a test
//! checks both directions).

use crate::base::http::{header, Request, Response};
use crate::records::audit;
use crate::base::channel::Channel;
use crate::compliance::{ComplianceCheck, DbChecker};
use crate::records::consent::{self, ConsentChange, ConsentStatus};
use crate::records::contact_log;
use crate::base::db::{self, Db, DbError};
use crate::base::error::Error;
use crate::records::exclusions::{self, TenantFlag};
use crate::import::{self, ImportError, ImportKind};
use crate::records::ledger;
use crate::schema;
use crate::records::tenants;
use crate::base::time;
use crate::records::view;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

mod inbound;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// Default and largest page size for list routes.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// What a request runs against.
pub struct ApiContext<'a> {
    /// The database.
    pub db: &'a dyn Db,
    /// The `staff_token` variable.
    pub staff_token: &'a str,
    /// The current time (the only clock the API reads).
    pub now: DateTime<Utc>,
}

/// A failed request: status and message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Client-facing message.
    pub message: String,
    /// Internal detail for logs.
    pub diagnostic: Option<String>,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), diagnostic: None }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    fn into_response(self) -> Response {
        let mut r = Response::error(self.status, self.message);
        r.diagnostic = self.diagnostic;
        r
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Error::Db(e).into()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(m) => ApiError::new(400, m),
            Error::NotFound(m) => ApiError::new(404, m),
            Error::Conflict(m) => ApiError::new(409, m),
            Error::Db(DbError::Busy(d)) => ApiError {
                status: 503,
                message: "the database is busy; try again".into(),
                diagnostic: Some(d),
            },
            Error::Db(DbError::Unavailable(d)) => {
                ApiError { status: 503, message: "the database is unavailable".into(), diagnostic: Some(d) }
            }
            other => ApiError { status: 500, message: "internal error".into(), diagnostic: Some(other.to_string()) },
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(inner) => inner.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

type Handler = fn(&Call<'_>) -> Result<Response, ApiError>;

/// One served route: method and OpenAPI-style path template.
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path template with `{param}` segments.
    pub path: &'static str,
    /// The handler.
    handler: Handler,
}

/// Every route the staff API serves.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/api/import/properties", handler: import_properties },
    Route { method: "POST", path: "/api/import/tenants", handler: import_tenants },
    Route { method: "POST", path: "/api/import/ledger", handler: import_ledger },
    Route { method: "GET", path: "/api/tenants", handler: list_tenants },
    Route { method: "GET", path: "/api/tenants/{tenant_id}", handler: get_tenant },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/ledger", handler: get_ledger },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/consent", handler: get_consent },
    Route { method: "PUT", path: "/api/tenants/{tenant_id}/consent", handler: put_consent },
    Route { method: "PUT", path: "/api/tenants/{tenant_id}/exclusions", handler: put_exclusions },
    Route {
        method: "PUT",
        path: "/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion",
        handler: put_contact_point_exclusion,
    },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/contacts", handler: get_contacts },
    Route { method: "GET", path: "/api/audit", handler: get_audit },
    Route { method: "GET", path: "/api/inbox", handler: inbound::list_inbox },
    Route { method: "GET", path: "/api/inbox/{id}", handler: inbound::get_inbox_message },
    Route { method: "POST", path: "/api/inbox/{id}/read", handler: inbound::read_inbox_message },
    Route { method: "POST", path: "/api/inbox/{id}/handled", handler: inbound::handle_inbox_message },
    Route { method: "DELETE", path: "/api/inbox/{id}/handled", handler: inbound::reopen_inbox_message },
    Route { method: "POST", path: "/api/inbox/{id}/undo-opt-out", handler: inbound::undo_inbox_opt_out },
    Route { method: "GET", path: "/api/keywords", handler: inbound::get_keywords },
    Route { method: "PUT", path: "/api/keywords", handler: inbound::put_keywords },
    Route { method: "GET", path: "/api/properties/{property_id}/sms-help-contact", handler: inbound::get_help_contact },
    Route { method: "PUT", path: "/api/properties/{property_id}/sms-help-contact", handler: inbound::put_help_contact },
    Route { method: "GET", path: "/api/sms-numbers/{number}", handler: inbound::get_sms_number },
    Route { method: "POST", path: "/api/compliance/check", handler: compliance_routes::check },
    Route { method: "GET", path: "/api/contact-controls", handler: compliance_routes::list_controls },
    Route { method: "POST", path: "/api/contact-controls", handler: compliance_routes::create_control },
    Route { method: "GET", path: "/api/contact-controls/{key}", handler: compliance_routes::get_control },
    Route { method: "PUT", path: "/api/contact-controls/{key}", handler: compliance_routes::put_control },
    Route { method: "DELETE", path: "/api/contact-controls/{key}", handler: compliance_routes::delete_control },
    Route { method: "GET", path: "/api/call-result-codes", handler: compliance_routes::call_result_codes },
    Route { method: "GET", path: "/api/notice-schedule", handler: notices::get_schedule },
    Route { method: "PUT", path: "/api/notice-schedule", handler: notices::put_schedule },
    Route { method: "GET", path: "/api/notice-templates", handler: notices::list_templates },
    Route { method: "GET", path: "/api/notice-templates/{stage}/{channel}", handler: notices::get_template },
    Route { method: "PUT", path: "/api/notice-templates/{stage}/{channel}", handler: notices::put_template },
    Route { method: "GET", path: "/api/outbox", handler: notices::list_outbox },
    Route { method: "GET", path: "/api/outbox/{id}", handler: notices::get_outbox },
    Route { method: "GET", path: "/api/settings", handler: notices::get_settings },
    Route { method: "PUT", path: "/api/settings", handler: notices::put_settings },
    // Staff console (issue 8).
    Route { method: "GET", path: "/api/call-list", handler: console_routes::call_list },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/calls", handler: console_routes::record_call },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/inbound-calls", handler: inbound_calls::record_inbound_call },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/messages", handler: console_routes::send_message },
    Route { method: "GET", path: "/api/reports", handler: console_routes::report },
    Route { method: "GET", path: "/api/reports/chart.svg", handler: console_routes::report_chart },
    Route { method: "GET", path: "/api/tenants/{tenant_id}/promises", handler: payment_routes::list_promises },
    Route { method: "POST", path: "/api/tenants/{tenant_id}/promises", handler: payment_routes::create_promise },
];

mod compliance_routes;
mod console_routes;
mod inbound_calls;
mod notices;
mod payment_routes;

/// `(method, path template)` of every route, for docs and tests.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    ROUTES.iter().map(|r| (r.method, r.path)).collect()
}

/// A matched request.
struct Call<'a> {
    req: &'a Request,
    ctx: &'a ApiContext<'a>,
    params: Vec<(&'static str, String)>,
    query: Vec<(String, String)>,
    actor: String,
    /// Where compliance decisions come from (the component in production).
    checker: &'a dyn ComplianceCheck,
}

impl Call<'_> {
    fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v.as_str())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn db(&self) -> &dyn Db {
        self.ctx.db
    }
}

// ---------------------------------------------------------------- auth

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time token check: both sides are hashed first, so neither the
/// content nor the length of the expected token leaks through timing.
pub fn token_matches(presented: &str, expected: &str) -> bool {
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
        let mut r = Response::error(401, "missing or invalid bearer token");
        r.headers.push(("www-authenticate".into(), "Bearer".into()));
        return Err(r);
    }
    let user = header(headers, "x-staff-user").map(str::trim).filter(|u| {
        !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    });
    Ok(match user {
        Some(u) => format!("staff:{u}"),
        None => "staff".to_owned(),
    })
}

// ---------------------------------------------------------------- routing

fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                match byte {
                    Some(b) => out.push(b),
                    None => return Err(ApiError::bad_request("malformed percent-encoding in the URL")),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the URL does not decode to UTF-8"))
}

fn parse_query(q: &str) -> Result<Vec<(String, String)>, ApiError> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
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
    let (path, query) = req.path.split_once('?').unwrap_or((req.path.as_str(), ""));
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
        let mut r = Response::error(405, format!("{method} is not allowed here; use {}", allowed.join(", ")));
        r.headers.push(("allow".into(), allowed.join(", ")));
        return r;
    };
    let mut resp = run(route, raw_params, query, req, ctx, actor, checker).unwrap_or_else(ApiError::into_response);
    resp.route = Some(route.path);
    resp
}

fn run(
    route: &'static Route,
    raw_params: Vec<(&'static str, &str)>,
    query: &str,
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
        .map(|(k, v)| Ok((k, percent_decode(v, false)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let query = parse_query(query)?;
    schema::migrate(ctx.db, ctx.now)?;
    let call = Call { req, ctx, params, query, actor, checker };
    (route.handler)(&call)
}

// ---------------------------------------------------------------- helpers

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

fn json_body<T: DeserializeOwned>(call: &Call<'_>) -> Result<T, ApiError> {
    match media_type(call) {
        Some((mt, charset)) if mt == "application/json" || mt.ends_with("+json") => require_utf8_charset(charset)?,
        Some((mt, _)) => return Err(ApiError::new(415, format!("content type must be application/json, not {mt}"))),
        None => return Err(ApiError::new(415, "content type must be application/json")),
    }
    if call.req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the body is empty; expected a JSON object"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&call.req.body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    // serde would also read a struct from an array (`["opted_in"]`); the
    // documented bodies are objects, so anything else is refused.
    if !value.is_object() {
        return Err(ApiError::bad_request("invalid JSON body: expected an object"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn limit_param(call: &Call<'_>, default: Option<i64>) -> Result<Option<i64>, ApiError> {
    match call.query("limit") {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))),
        },
    }
}

fn require_tenant(call: &Call<'_>) -> Result<tenants::Tenant, ApiError> {
    Ok(tenants::require(call.db(), call.param("tenant_id"))?)
}

fn tenant_view_response(call: &Call<'_>, tenant_id: &str) -> Result<Response, ApiError> {
    match view::tenant_view(call.db(), tenant_id, call.ctx.now)? {
        Some(v) => Ok(Response::json(200, &v)),
        None => Err(ApiError::new(404, format!("tenant `{tenant_id}` not found"))),
    }
}

// ---------------------------------------------------------------- handlers

fn import_kind(call: &Call<'_>, kind: ImportKind) -> Result<Response, ApiError> {
    match media_type(call) {
        Some((mt, charset)) if mt == "text/csv" => require_utf8_charset(charset)?,
        Some((mt, _)) => return Err(ApiError::new(415, format!("content type must be text/csv, not {mt}"))),
        None => return Err(ApiError::new(415, "content type must be text/csv")),
    }
    let report = import::import(call.db(), kind, &call.req.body, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &report))
}

fn import_properties(call: &Call<'_>) -> Result<Response, ApiError> {
    import_kind(call, ImportKind::Properties)
}

fn import_tenants(call: &Call<'_>) -> Result<Response, ApiError> {
    import_kind(call, ImportKind::Tenants)
}

fn import_ledger(call: &Call<'_>) -> Result<Response, ApiError> {
    import_kind(call, ImportKind::Ledger)
}

#[derive(Serialize)]
struct TenantSummary<'a> {
    tenant_id: &'a str,
    property_id: &'a str,
    name: &'a str,
    unit: Option<&'a str>,
    status: tenants::TenantStatus,
}

fn list_tenants(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let offset = match call.query("offset") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("offset must be a whole number, 0 or more"))?,
    };
    let property = call.query("property_id").filter(|p| !p.is_empty());
    let (list, total) = tenants::list(call.db(), property, limit, offset)?;
    let items: Vec<TenantSummary<'_>> = list
        .iter()
        .map(|t| TenantSummary {
            tenant_id: &t.tenant_id,
            property_id: &t.property_id,
            name: &t.name,
            unit: t.unit.as_deref(),
            status: t.status,
        })
        .collect();
    Ok(Response::json(200, &serde_json::json!({ "tenants": items, "total": total, "limit": limit, "offset": offset })))
}

fn get_tenant(call: &Call<'_>) -> Result<Response, ApiError> {
    tenant_view_response(call, call.param("tenant_id"))
}

fn get_ledger(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = require_tenant(call)?;
    let property = tenants::property(call.db(), &tenant.property_id)?;
    let eff = tenants::effective(&tenant, property.as_ref());
    let today = time::local_date(call.ctx.now, eff.time_zone);
    let entries = ledger::entries(call.db(), &tenant.tenant_id)?;
    let summary = ledger::summarize(&entries, today);
    Ok(Response::json(
        200,
        &serde_json::json!({
            "tenant_id": tenant.tenant_id,
            "as_of": time::date_string(today),
            "summary": summary,
            "entries": entries,
        }),
    ))
}

fn get_consent(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = require_tenant(call)?;
    let events = consent::events(call.db(), &tenant.tenant_id)?;
    Ok(Response::json(
        200,
        &serde_json::json!({
            "tenant_id": tenant.tenant_id,
            "consent": consent::tenant_wide(&events),
            "events": events,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    status: ConsentStatus,
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    address: Option<String>,
}

fn put_consent(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: ConsentBody = json_body(call)?;
    let tenant = require_tenant(call)?;
    let address = match body.address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(raw) => {
            let property = tenants::property(call.db(), &tenant.property_id)?;
            let eff = tenants::effective(&tenant, property.as_ref());
            let points = tenants::contact_points(call.db(), &tenant.tenant_id)?;
            let point = view::find_contact_point(&points, raw, &eff.country).map_err(|e| match e {
                Error::NotFound(_) => ApiError::bad_request("address is not one of the tenant's contact points"),
                other => other.into(),
            })?;
            Some(point.address.clone())
        }
    };
    let change = ConsentChange {
        tenant_id: &tenant.tenant_id,
        status: body.status,
        evidence: body.evidence.as_deref(),
        channel: body.channel,
        address: address.as_deref(),
        actor: &call.actor,
        source: "staff_api",
    };
    consent::set(call.db(), &change, call.ctx.now)?;
    tenant_view_response(call, &tenant.tenant_id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankruptcyBody {
    on: bool,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExclusionsBody {
    #[serde(default)]
    bankruptcy: Option<BankruptcyBody>,
    #[serde(default)]
    disable_texting_auto_calls: Option<bool>,
    #[serde(default)]
    disable_auto_communications: Option<bool>,
}

fn put_exclusions(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: ExclusionsBody = json_body(call)?;
    if body.bankruptcy.is_none() && body.disable_texting_auto_calls.is_none() && body.disable_auto_communications.is_none()
    {
        return Err(ApiError::bad_request(
            "nothing to change: give bankruptcy, disable_texting_auto_calls and/or disable_auto_communications",
        ));
    }
    if let Some(b) = &body.bankruptcy {
        if b.on && b.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(ApiError::bad_request("bankruptcy.reason is required when turning bankruptcy on"));
        }
    }
    let tenant_id = call.param("tenant_id");
    let (actor, now) = (call.actor.as_str(), call.ctx.now);
    db::transaction(call.db(), |tx| -> Result<(), ApiError> {
        tenants::require(tx, tenant_id)?;
        if let Some(b) = &body.bankruptcy {
            exclusions::set_flag_in_tx(tx, tenant_id, TenantFlag::Bankruptcy, b.on, b.reason.as_deref(), actor, now)?;
        }
        if let Some(on) = body.disable_texting_auto_calls {
            exclusions::set_flag_in_tx(tx, tenant_id, TenantFlag::DisableTextingAutoCalls, on, None, actor, now)?;
        }
        if let Some(on) = body.disable_auto_communications {
            exclusions::set_flag_in_tx(tx, tenant_id, TenantFlag::DisableAutoCommunications, on, None, actor, now)?;
        }
        Ok(())
    })?;
    tenant_view_response(call, tenant_id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactPointExclusionBody {
    on: bool,
    #[serde(default)]
    reason: Option<String>,
}

fn put_contact_point_exclusion(call: &Call<'_>) -> Result<Response, ApiError> {
    let raw: serde_json::Map<String, serde_json::Value> = json_body(call)?;
    if raw.contains_key("by_customer") {
        return Err(ApiError::new(
            409,
            "the by-customer exclusion is set by the customer's STOP and only their START lifts it; staff cannot edit it",
        ));
    }
    let body: ContactPointExclusionBody =
        serde_json::from_value(serde_json::Value::Object(raw)).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    let tenant = require_tenant(call)?;
    let property = tenants::property(call.db(), &tenant.property_id)?;
    let eff = tenants::effective(&tenant, property.as_ref());
    let (actor, now) = (call.actor.as_str(), call.ctx.now);
    db::transaction(call.db(), |tx| -> Result<(), ApiError> {
        let points = tenants::contact_points(tx, &tenant.tenant_id)?;
        let point = view::find_contact_point(&points, call.param("contact_point"), &eff.country)?;
        exclusions::set_user_exclusion_in_tx(
            tx,
            &tenant.tenant_id,
            &point.address,
            body.on,
            body.reason.as_deref(),
            actor,
            now,
        )?;
        Ok(())
    })?;
    tenant_view_response(call, &tenant.tenant_id)
}

fn get_contacts(call: &Call<'_>) -> Result<Response, ApiError> {
    let tenant = require_tenant(call)?;
    let limit = limit_param(call, None)?;
    let contacts = contact_log::for_tenant(call.db(), &tenant.tenant_id, limit)?;
    Ok(Response::json(200, &serde_json::json!({ "tenant_id": tenant.tenant_id, "contacts": contacts })))
}

fn get_audit(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT);
    let target = call.query("tenant_id").filter(|t| !t.is_empty()).map(audit::tenant_target);
    let entries = audit::list(call.db(), target.as_deref(), limit)?;
    Ok(Response::json(200, &serde_json::json!({ "entries": entries })))
}

#[cfg(feature = "spin")]
/// The refusal, if any, of a staff-only `POST` route served outside the
/// staff console (`/api/scan`, `/api/send`): the staff token first (no
/// token configured lets nobody in), then the method. `what` names the
/// action in the 405 message ("run a scan").
pub fn staff_post_refusal(req: &spin_sdk::http::Request, staff_token: &str, what: &str) -> Option<spin_sdk::http::Response> {
    let headers: Vec<(String, String)> =
        req.headers().filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string()))).collect();
    if let Err(denied) = authenticate(&headers, staff_token) {
        let mut b = spin_sdk::http::Response::builder();
        b.status(denied.status);
        for (k, v) in &denied.headers {
            b.header(k.as_str(), v.as_str());
        }
        return Some(b.body(denied.body).build());
    }
    if req.method().to_string() != "POST" {
        let body = serde_json::json!({ "error": format!("use POST to {what}") }).to_string();
        return Some(
            spin_sdk::http::Response::builder()
                .status(405)
                .header("content-type", "application/json")
                .header("allow", "POST")
                .body(body)
                .build(),
        );
    }
    None
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

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("%2B1415", false).unwrap(), "+1415");
        assert_eq!(percent_decode("+1415", false).unwrap(), "+1415");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode("pat%40example.com", false).unwrap(), "pat@example.com");
        assert!(percent_decode("%zz", false).is_err());
        assert!(percent_decode("%2", false).is_err());
        assert!(percent_decode("%ff", false).is_err());
    }

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
