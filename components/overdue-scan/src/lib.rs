//! The overdue scan: on its cron tick (`fermyon:spin-cron`) or on
//! `POST /api/scan` (staff token; for hosts without cron),
//! `rentmsg::notices::scan::run` queues the due notices and records what the
//! compliance component (a dependency) says about each.

use rentmsg::compliance::client::ComponentChecker;
use rentmsg::base::db::SpinDb;
use rentmsg::notices::scan::{self, ScanReport};
use spin_sdk::http::{Request, Response};
use spin_sdk::{http_component, variables};

wit_bindgen::generate!({
    path: "../../wit/spin-cron.wit",
    world: "fermyon:spin-cron/spin-cron",
});

/// One scan against the `default` database.
fn run() -> anyhow::Result<ScanReport> {
    let db = SpinDb::open_default()?;
    Ok(scan::run(&db, &ComponentChecker, chrono::Utc::now())?)
}

/// One JSON line on stderr (counts only: no addresses, no names).
fn log(trigger: &str, started: std::time::Instant, outcome: Result<&ScanReport, &anyhow::Error>) {
    let fields = match outcome {
        Ok(report) => serde_json::json!({ "trigger": trigger, "ms": started.elapsed().as_millis() as u64, "report": report }),
        Err(e) => serde_json::json!({ "trigger": trigger, "ms": started.elapsed().as_millis() as u64, "error": e.to_string() }),
    };
    rentmsg::base::log::line("overdue-scan", &fields);
}

struct Cron;

impl Guest for Cron {
    fn handle_cron_event(_metadata: Metadata) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let outcome = run();
        log("cron", started, outcome.as_ref());
        outcome.map(|_| ()).map_err(|e| Error::Other(e.to_string()))
    }
}

export!(Cron);

fn json(status: u16, body: &serde_json::Value) -> Response {
    Response::builder().status(status).header("content-type", "application/json").body(body.to_string()).build()
}

#[http_component]
fn handle(req: Request) -> Response {
    let started = std::time::Instant::now();
    // No token configured means nobody gets in (fail closed).
    if let Some(refusal) = rentmsg::api::staff_post_refusal(&req, &variables::get("staff_token").unwrap_or_default(), "run a scan", "scan.run") {
        return refusal;
    }
    let outcome = run();
    log("http", started, outcome.as_ref());
    match outcome {
        Ok(report) => json(200, &serde_json::to_value(&report).unwrap_or_default()),
        Err(e) => {
            let status = e.downcast_ref::<rentmsg::base::error::Error>().map_or(503, rentmsg::base::error::Error::http_status);
            json(status, &serde_json::json!({ "error": "the scan could not complete; nothing is lost, run it again" }))
        }
    }
}
