//! Staff API component: `/api/*` in, `rentmsg::api` does the work.

mod compliance_client;

use rentmsg::api::{self, ApiContext, ApiRequest};
use rentmsg::db::SpinDb;
use spin_sdk::http::{Request, Response};
use spin_sdk::{http_component, variables};

#[http_component]
fn handle(req: Request) -> Response {
    let started = std::time::Instant::now();
    let api_request = ApiRequest {
        method: req.method().to_string(),
        path: req.path_and_query().unwrap_or("/").to_string(),
        headers: req
            .headers()
            .filter_map(|(name, value)| Some((name.to_string(), value.as_str()?.to_string())))
            .collect(),
        body: req.body().to_vec(),
    };
    // No token configured means nobody gets in (fail closed).
    let staff_token = variables::get("staff_token").unwrap_or_default();
    let response = match SpinDb::open_default() {
        Ok(db) => api::handle_with(
            &api_request,
            &ApiContext { db: &db, staff_token: &staff_token, now: chrono::Utc::now() },
            &compliance_client::ComponentChecker,
        ),
        Err(e) => {
            let mut r = api::ApiResponse::error(503, "database unavailable");
            r.diagnostic = Some(e.to_string());
            r
        }
    };
    // Route templates only: raw paths can hold phone numbers or emails.
    let log = serde_json::json!({
        "component": "staff-console",
        "method": api_request.method,
        "route": response.route.unwrap_or("-"),
        "status": response.status,
        "ms": started.elapsed().as_millis() as u64,
        "diagnostic": response.diagnostic,
    });
    eprintln!("{log}");
    let mut builder = Response::builder();
    builder.status(response.status);
    for (name, value) in &response.headers {
        builder.header(name.as_str(), value.as_str());
    }
    builder.body(response.body).build()
}
