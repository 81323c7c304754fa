//! Payment links: `GET /pay/:token` (the tenant's page), `POST
//! /pay/:token/checkout` (303 to a checkout session), `POST
//! /pay/:token/promise` (a promise to pay) and `POST /webhooks/payments`
//! (the provider's signed events). Thin: everything is in
//! `rentmsg::payments`.

use rentmsg::base::db::SpinDb;
use rentmsg::base::http;
use rentmsg::payments::{self, PayConfig, PayEnv};
use rentmsg::sending::spin_io::WasiHttp;
use spin_sdk::http::{Request, Response};
use spin_sdk::{http_component, variables};

fn var(name: &str) -> String {
    variables::get(name).unwrap_or_default().trim().to_owned()
}

fn config() -> PayConfig {
    PayConfig {
        public_base_url: var("public_base_url"),
        link_key: var("link_key"),
        api_base: var("payments_api_base"),
        secret_key: var("payments_secret_key"),
        webhook_secret: var("payments_webhook_secret"),
        currency: "usd".into(),
    }
}

/// One log line: what happened, never tokens, addresses or secrets.
fn log_line(fields: serde_json::Value) {
    rentmsg::base::log::line("payment-link", &fields);
}

#[http_component]
fn handle(req: Request) -> Response {
    let started = std::time::Instant::now();
    let request = http::Request::from_spin(&req);
    let config = config();
    let outcome = SpinDb::open_default().map_err(rentmsg::base::error::Error::from).and_then(|db| {
        let http = WasiHttp::default();
        let env = PayEnv { db: &db, http: &http, config: &config, now: chrono::Utc::now() };
        payments::handle(&env, &request)
    });
    let webhook = request.path_only() == "/webhooks/payments";
    match outcome {
        Ok(r) => {
            let mut fields = r.log.clone();
            fields.insert("event".into(), r.outcome.into());
            fields.insert("status".into(), r.status.into());
            fields.insert("ms".into(), (started.elapsed().as_millis() as u64).into());
            log_line(serde_json::Value::Object(fields));
            r.into_spin()
        }
        Err(e) => {
            log_line(serde_json::json!({ "event": "failed", "webhook": webhook, "error": e.to_string() }));
            // 503 when a dependency is down (try again), 500 for our own fault (e.g. corrupt data); any
            // caller mistake was already answered by `payments::handle`, so never a 4xx here.
            let status = e.http_status().max(500);
            // Nothing was stored; the provider retries a webhook, a person retries the page.
            let r = if webhook {
                http::Response::error(status, "temporarily unavailable, retry later")
            } else {
                http::Response::new(status, "text/plain; charset=utf-8", "We could not load your account just now; please try again in a moment.")
                    .with_header("cache-control", "no-store")
                    .with_header("referrer-policy", "no-referrer")
            };
            r.into_spin()
        }
    }
}
