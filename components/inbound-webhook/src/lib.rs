//! SMS provider webhooks: `POST /webhooks/sms` and `POST /webhooks/sms/status`
//! in, `rentmsg::inbound::webhook` does the work (signature, keywords,
//! one transaction per delivery), TwiML out.

use rentmsg::base::db::SpinDb;
use rentmsg::base::http;
use rentmsg::inbound::webhook::{self, WebhookConfig, WebhookContext};
use spin_sdk::http::{Request, Response};
use spin_sdk::{http_component, variables};

#[http_component]
fn handle(req: Request) -> Response {
    let started = std::time::Instant::now();
    let request = http::Request::from_spin(&req);
    // A missing variable reads as empty: no token verifies nothing (fail closed).
    let public_base_url = variables::get("public_base_url").unwrap_or_default();
    let auth_token = variables::get("sms_auth_token").unwrap_or_default();
    let sms_from = variables::get("sms_from").unwrap_or_default();
    let config = WebhookConfig { public_base_url: &public_base_url, auth_token: &auth_token, sms_from: &sms_from };
    let response = match SpinDb::open_default() {
        Ok(db) => webhook::handle(&request, &WebhookContext { db: &db, config, now: chrono::Utc::now() }),
        Err(e) => {
            let mut r = http::Response::error(503, "storage is unavailable; retry");
            r.outcome = Some("storage_failed");
            r.diagnostic = Some(e.to_string());
            r
        }
    };
    // Route and outcome only: bodies, numbers and ids stay out of logs.
    let fields = serde_json::json!({
        "route": response.route.unwrap_or("-"),
        "status": response.status,
        "outcome": response.outcome,
        "ms": started.elapsed().as_millis() as u64,
        "diagnostic": response.diagnostic,
    });
    rentmsg::base::log::line("inbound-webhook", &fields);
    response.into_spin()
}
