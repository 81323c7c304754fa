//! `GET /api/reports` (contacts, promises and payments over a date range,
//! as JSON or CSV, optionally split by tenant language) and
//! `GET /api/reports/chart.svg` (the totals as a chart).

use super::input::filter_param;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::base::time;
use crate::staff::reports::{self, ReportQuery};
use chrono::Duration;

fn report_query(call: &Call<'_>) -> Result<ReportQuery, ApiError> {
    let date = |name: &str| -> Result<Option<chrono::NaiveDate>, ApiError> {
        match filter_param(call, name) {
            None => Ok(None),
            Some(v) => time::parse_date(v).map(Some).map_err(|e| ApiError::bad_request(format!("{name}: {e}"))),
        }
    };
    let to = date("to")?.unwrap_or_else(|| call.ctx.now.date_naive());
    let from = date("from")?.unwrap_or(to - Duration::days(29));
    let by = filter_param(call, "by").map(|b| b.parse()).transpose().map_err(ApiError::bad_request)?;
    let q = ReportQuery { from, to, property_id: filter_param(call, "property_id").map(str::to_owned), scope: call.scope(), by };
    q.validate()?;
    Ok(q)
}

/// Which form the client asked for: `?format=` first, then `Accept`.
fn wants_csv(call: &Call<'_>) -> Result<bool, ApiError> {
    match filter_param(call, "format") {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!("format `{other}` is not json or csv"))),
        None => Ok(call.req.header("accept").is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("text/csv") && !a.contains("application/json")
        })),
    }
}

/// `GET /api/reports?from=&to=&property_id=&by=language&format=json|csv`
pub(super) fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    let q = report_query(call)?;
    let csv = wants_csv(call)?;
    let report = reports::build(call.db(), &q)?;
    if !csv {
        return Ok(Response::json(200, &report));
    }
    let name = format!("report-{}-{}.csv", report.from, report.to);
    Ok(Response::new(200, "text/csv; charset=utf-8", reports::to_csv(&report)?)
        .with_header("content-disposition", format!("attachment; filename=\"{name}\"")))
}

/// `GET /api/reports/chart.svg?from=&to=&property_id=` (a `by` split is
/// checked but draws the same totals)
pub(super) fn chart(call: &Call<'_>) -> Result<Response, ApiError> {
    let q = report_query(call)?;
    let report = reports::build(call.db(), &q)?;
    Ok(Response::new(200, "image/svg+xml; charset=utf-8", reports::to_svg(&report))
        // The chart is data, never a document that runs anything.
        .with_header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
        .with_header("x-content-type-options", "nosniff"))
}
