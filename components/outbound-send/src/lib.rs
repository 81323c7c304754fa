//! Outbound sending: on its cron tick (`fermyon:spin-cron`, every minute) or
//! on `POST /api/send` (staff token), `rentmsg::sending::send::run_pass` sends the
//! due messages within the shared pace budget (key-value), re-checking
//! each with the compliance component (a dependency). It also serves
//! `/unsubscribe/:token`, the opt-out link it puts in every email.

use rentmsg::base::db::SpinDb;
use rentmsg::sending::send::{self, SendReport};
use rentmsg::base::log::line as log_line;
use rentmsg::sending::spin_io::SpinSend;
use spin_sdk::http::{Request, Response};
use spin_sdk::{http_component, variables};

/// This component's name in its log lines.
const COMPONENT: &str = "outbound-send";

wit_bindgen::generate!({
    path: "../../wit/spin-cron.wit",
    world: "fermyon:spin-cron/spin-cron",
});

fn var(name: &str) -> String {
    variables::get(name).unwrap_or_default().trim().to_owned()
}

/// One send pass ending at the end of this minute (or after `max_seconds`).
fn run(max_seconds: Option<i64>) -> anyhow::Result<SendReport> {
    let send = SpinSend::open(COMPONENT)?;
    let db = SpinDb::open_default()?;
    let deadline = |now| {
        let end_of_minute = send::default_deadline(now);
        max_seconds.map_or(end_of_minute, |s| end_of_minute.min(now + chrono::Duration::seconds(s)))
    };
    Ok(send.run(&db, deadline, send::run_pass)?)
}

fn report_line(trigger: &str, started: std::time::Instant, outcome: Result<&SendReport, &anyhow::Error>) {
    let v = match outcome {
        Ok(r) => serde_json::json!({ "event": "pass", "trigger": trigger, "ms": started.elapsed().as_millis() as u64, "report": r }),
        Err(e) => serde_json::json!({ "event": "pass_failed", "trigger": trigger, "ms": started.elapsed().as_millis() as u64, "error": e.to_string() }),
    };
    log_line(COMPONENT, &v);
}

struct Cron;

impl Guest for Cron {
    fn handle_cron_event(_metadata: Metadata) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let outcome = run(None);
        report_line("cron", started, outcome.as_ref());
        outcome.map(|_| ()).map_err(|e| Error::Other(e.to_string()))
    }
}

export!(Cron);

fn json(status: u16, body: &serde_json::Value) -> Response {
    Response::builder().status(status).header("content-type", "application/json").body(body.to_string()).build()
}

fn send_route(req: &Request) -> Response {
    let started = std::time::Instant::now();
    // No token configured means nobody gets in (fail closed).
    if let Some(refusal) = rentmsg::api::staff_post_refusal(req, &variables::get("staff_token").unwrap_or_default(), "run a send pass", "send.run") {
        return refusal;
    }
    let body = req.body();
    if body.len() > 4096 {
        return json(413, &serde_json::json!({ "error": "the body is larger than 4 KiB" }));
    }
    let mut max_seconds = None;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let is_json = req.header("content-type").and_then(|v| v.as_str()).is_some_and(|ct| ct.trim().starts_with("application/json"));
        if !is_json {
            return json(415, &serde_json::json!({ "error": "the body must be application/json: {\"max_seconds\": 1-60}" }));
        }
        let parsed: Result<serde_json::Map<String, serde_json::Value>, _> = serde_json::from_slice(body);
        let Ok(map) = parsed else {
            return json(400, &serde_json::json!({ "error": "invalid JSON body: expected an object like {\"max_seconds\": 30}" }));
        };
        for (k, v) in map {
            match (k.as_str(), v.as_i64()) {
                ("max_seconds", Some(n)) if (1..=60).contains(&n) => max_seconds = Some(n),
                ("max_seconds", _) => return json(400, &serde_json::json!({ "error": "max_seconds must be a whole number from 1 to 60" })),
                (other, _) => return json(400, &serde_json::json!({ "error": format!("unknown field `{other}`; only max_seconds") })),
            }
        }
    }
    let outcome = run(max_seconds);
    report_line("http", started, outcome.as_ref());
    match outcome {
        Ok(report) => json(200, &serde_json::to_value(&report).unwrap_or_default()),
        Err(e) => {
            // A dependency down answers 503 (try again); our own fault (e.g. links that cannot be signed) 500.
            let status = e.downcast_ref::<rentmsg::base::error::Error>().map_or(503, rentmsg::base::error::Error::http_status);
            json(status, &serde_json::json!({ "error": format!("the send pass could not complete: {e}") }))
        }
    }
}

fn unsubscribe_route(req: &Request, token: &str) -> Response {
    let outcome = SpinDb::open_default().map_err(anyhow::Error::from).and_then(|db| {
        // `?lang=es` shows the page in another language; unknown values are ignored.
        let asked = req.query().split('&').find_map(|p| p.strip_prefix("lang=")).and_then(|l| l.parse().ok());
        Ok(rentmsg::notices::unsubscribe::handle_in(&db, &var("link_key"), &req.method().to_string(), token, req.body(), chrono::Utc::now(), asked)?)
    });
    match outcome {
        Ok(page) => {
            log_line(COMPONENT, &serde_json::json!({ "event": "unsubscribe", "outcome": page.outcome, "status": page.status }));
            let mut b = Response::builder();
            b.status(page.status)
                .header("content-type", "text/html; charset=utf-8")
                .header("cache-control", "no-store")
                .header("referrer-policy", "no-referrer");
            if let Some(allow) = page.allow {
                b.header("allow", allow);
            }
            b.body(page.body).build()
        }
        Err(e) => {
            log_line(COMPONENT, &serde_json::json!({ "event": "unsubscribe_failed", "error": e.to_string() }));
            Response::builder()
                .status(503)
                .header("content-type", "text/plain; charset=utf-8")
                .body("We could not record your request just now; please try again.")
                .build()
        }
    }
}

#[http_component]
fn handle(req: Request) -> Response {
    let path = req.path().to_owned();
    match path.strip_prefix("/unsubscribe/") {
        Some(token) => unsubscribe_route(&req, token),
        None => send_route(&req),
    }
}
