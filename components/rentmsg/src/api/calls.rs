//! Staff routes of the console work (issue 8): the manual call list,
//! recording a call, supplemental messages and the reports.

use super::{json_body, limit_param, ApiError, Response, Call};
use crate::staff::call_list::{self, CallListQuery};
use crate::staff::calls::{self, CallError, NewCall, PromiseInput};
use crate::base::channel::Channel;
use crate::staff::reports::{self, ReportQuery};
use crate::notices::supplemental;
use crate::base::time;
use chrono::Duration;
use serde::Deserialize;

/// `GET /api/call-list?property_id=&limit=&offset=`
pub(super) fn call_list(call: &Call<'_>) -> Result<Response, ApiError> {
    let limit = limit_param(call, Some(call_list::DEFAULT_LIMIT))?.unwrap_or(call_list::DEFAULT_LIMIT);
    let offset = match call.query("offset") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("offset must be a whole number, 0 or more"))?,
    };
    let q = CallListQuery { property_id: call.query("property_id").filter(|p| !p.is_empty()), limit, offset };
    let list = call_list::build(call.db(), call.checker, &q, call.ctx.now)?;
    Ok(Response::json(200, &list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromiseBody {
    #[serde(default)]
    amount_cents: Option<i64>,
    date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    result_code: i64,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    override_reason: Option<String>,
    #[serde(default)]
    promise: Option<PromiseBody>,
}

/// `POST /api/tenants/{tenant_id}/calls`: `{result_code, notes?, address?,
/// override_reason?, promise?: {amount_cents?, date}}` → 201 with the
/// recorded call; 409 with the decision when the rules object and no
/// override reason is given.
pub(super) fn record_call(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: CallBody = json_body(call)?;
    let promise = match &body.promise {
        None => None,
        Some(p) => {
            if p.amount_cents.is_some_and(|a| a <= 0) {
                return Err(ApiError::bad_request("promise.amount_cents must be more than 0"));
            }
            Some(PromiseInput {
                amount_cents: p.amount_cents,
                date: time::parse_date(&p.date).map_err(|e| ApiError::bad_request(format!("promise.date: {e}")))?,
            })
        }
    };
    let new = NewCall {
        tenant_id: call.param("tenant_id"),
        result_code: body.result_code,
        notes: body.notes.as_deref(),
        address: body.address.as_deref(),
        override_reason: body.override_reason.as_deref(),
        promise,
        actor: &call.actor,
    };
    match calls::record(call.db(), call.checker, &new, call.ctx.now) {
        Ok(recorded) => Ok(Response::json(201, &recorded)),
        Err(CallError::NotAllowed(decision)) => {
            let message = CallError::NotAllowed(decision.clone()).to_string();
            Ok(Response::json(409, &serde_json::json!({ "error": message, "decision": decision.to_json() })))
        }
        Err(CallError::Check(e)) => Err(e.into()),
        Err(CallError::Domain(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    channel: Channel,
    purpose: String,
    #[serde(default)]
    template_stage: Option<i64>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

/// `POST /api/tenants/{tenant_id}/messages`: a supplemental message →
/// 201 with the outbox row (state queued, deferred or blocked).
pub(super) fn send_message(call: &Call<'_>) -> Result<Response, ApiError> {
    let body: MessageBody = json_body(call)?;
    let req = supplemental::Request {
        tenant_id: call.param("tenant_id"),
        channel: body.channel,
        purpose: body.purpose.trim(),
        template_stage: body.template_stage,
        subject: body.subject.as_deref(),
        body: body.body.as_deref(),
        actor: &call.actor,
    };
    let row = supplemental::queue(call.db(), call.checker, &req, call.ctx.now)?;
    Ok(Response::json(201, &row))
}

fn report_query(call: &Call<'_>) -> Result<ReportQuery, ApiError> {
    let date = |name: &str| -> Result<Option<chrono::NaiveDate>, ApiError> {
        match call.query(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => time::parse_date(v).map(Some).map_err(|e| ApiError::bad_request(format!("{name}: {e}"))),
        }
    };
    let to = date("to")?.unwrap_or_else(|| call.ctx.now.date_naive());
    let from = date("from")?.unwrap_or(to - Duration::days(29));
    let q = ReportQuery { from, to, property_id: call.query("property_id").filter(|p| !p.is_empty()).map(str::to_owned) };
    q.validate()?;
    Ok(q)
}

/// Which form the client asked for: `?format=` first, then `Accept`.
fn wants_csv(call: &Call<'_>) -> Result<bool, ApiError> {
    match call.query("format").filter(|f| !f.is_empty()) {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!("format `{other}` is not json or csv"))),
        None => Ok(call.req.header("accept").is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("text/csv") && !a.contains("application/json")
        })),
    }
}

/// `GET /api/reports?from=&to=&property_id=&format=json|csv`
pub(super) fn report(call: &Call<'_>) -> Result<Response, ApiError> {
    let q = report_query(call)?;
    let csv = wants_csv(call)?;
    let report = reports::build(call.db(), &q)?;
    if !csv {
        return Ok(Response::json(200, &report));
    }
    let name = format!("report-{}-{}.csv", report.from, report.to);
    Ok(Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/csv; charset=utf-8".into()),
            ("content-disposition".into(), format!("attachment; filename=\"{name}\"")),
        ],
        body: reports::to_csv(&report)?,
        route: None,
        diagnostic: None,
    })
}

/// `GET /api/reports/chart.svg?from=&to=&property_id=`
pub(super) fn report_chart(call: &Call<'_>) -> Result<Response, ApiError> {
    let q = report_query(call)?;
    let report = reports::build(call.db(), &q)?;
    Ok(Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "image/svg+xml; charset=utf-8".into()),
            // The chart is data, never a document that runs anything.
            ("content-security-policy".into(), "default-src 'none'; style-src 'unsafe-inline'".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: reports::to_svg(&report).into_bytes(),
        route: None,
        diagnostic: None,
    })
}
