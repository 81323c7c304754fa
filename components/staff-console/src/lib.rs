//! Staff API component: `/api/*` in, `rentmsg::api` does the work; the
//! console page (`/console`, public HTML and script, no data) from
//! `rentmsg::staff::console`.

use futures::StreamExt as _;

use rentmsg::api::{self, ApiContext, ReplySender};
use rentmsg::sending::pacing::{Clock as _, SystemClock};
use rentmsg::sending::send::{self, SendConfig, SendEnv, SendReport};
use rentmsg::sending::spin_io::{KvCounter, WasiHttp};
use rentmsg::base::http;
use rentmsg::base::db::SpinDb;
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::{http_component, variables};

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let started = std::time::Instant::now();
    let mut api_request = http::Request::from_incoming(&req);
    if rentmsg::staff::console::is_console_path(&api_request.path) {
        let page = rentmsg::staff::console::serve(&api_request.method, &api_request.path);
        let log = serde_json::json!({
            "component": "staff-console",
            "method": api_request.method,
            "route": "/console",
            "status": page.status,
            "ms": started.elapsed().as_millis() as u64,
        });
        eprintln!("{log}");
        return page.into_spin();
    }
    let (body, body_bytes, complete) = read_capped(req).await;
    api_request.body = body;
    // No token configured means nobody gets in (fail closed).
    let staff_token = variables::get("staff_token").unwrap_or_default();
    let public_base_url = variables::get("public_base_url").unwrap_or_default();
    let response = if !complete {
        // Never import a truncated file: part of a CSV would land. The token
        // is still checked first, so strangers learn nothing.
        match api::authenticate(&api_request.headers, &staff_token) {
            Ok(_) => http::Response::error(400, "the request body could not be read completely; send it again"),
            Err(denied) => denied,
        }
    } else {
        // Failed sign-ins are counted in the shared store so every replica
        // sees them; a store that cannot be opened refuses sign-ins (fail
        // closed) but never blocks a token or a live session.
        let counters: Box<dyn rentmsg::sending::pacing::Counter> = match rentmsg::sending::spin_io::KvCounter::open("default") {
            Ok(c) => Box::new(c),
            Err(e) => Box::new(Unavailable(e)),
        };
        match SpinDb::open_default() {
            Ok(db) => api::handle_sending(
                &api_request,
                &ApiContext {
                    db: &db,
                    staff_token: &staff_token,
                    now: chrono::Utc::now(),
                    public_base_url: &public_base_url,
                    counters: counters.as_ref(),
                    sleep: std::thread::sleep,
                },
                &rentmsg::compliance::client::ComponentChecker,
                &ProviderStep,
            ),
            Err(e) => {
                let mut r = http::Response::error(503, "database unavailable");
                r.diagnostic = Some(e.to_string());
                r
            }
        }
    };
    // Route templates only: raw paths can hold phone numbers or emails.
    let log = serde_json::json!({
        "component": "staff-console",
        "method": api_request.method,
        "route": response.route.unwrap_or("-"),
        "status": response.status,
        "body_bytes": body_bytes,
        "ms": started.elapsed().as_millis() as u64,
        "diagnostic": response.diagnostic,
    });
    eprintln!("{log}");
    response.into_spin()
}

fn var(name: &str) -> String {
    variables::get(name).unwrap_or_default().trim().to_owned()
}

fn send_log(v: &serde_json::Value) {
    let mut line = serde_json::json!({ "component": "staff-console" });
    if let (Some(obj), Some(src)) = (line.as_object_mut(), v.as_object()) {
        obj.extend(src.clone());
    }
    eprintln!("{line}");
}

/// A staff reply's send step, run in this request: the send pass's own
/// step for one row, with the shared budget in key-value. It waits a few
/// seconds at most for its slot; later slots are left to the next pass.
struct ProviderStep;

/// The longest a reply waits for its send slot inside the request.
const REPLY_SLOT_WAIT_SECONDS: i64 = 5;

impl ReplySender for ProviderStep {
    fn send_now(&self, db: &dyn rentmsg::base::db::Db, id: i64) -> Result<SendReport, String> {
        let config = SendConfig::from_variables(var).map_err(|e| e.to_string())?;
        let counter = KvCounter::open("default")?;
        let clock = SystemClock;
        let now = clock.now();
        let owner = rentmsg::notices::links::new_link_id().map_err(|e| format!("random source: {e}"))?;
        let env = SendEnv {
            db,
            checker: &rentmsg::compliance::client::ComponentChecker,
            http: &WasiHttp::default(),
            counter: &counter,
            clock: &clock,
            config: &config,
            owner: &owner,
            deadline: now + chrono::Duration::seconds(REPLY_SLOT_WAIT_SECONDS),
            log: &send_log,
        };
        send::send_row(&env, id, true).map_err(|e| e.to_string())
    }
}

/// The sign-in counters when the key-value store cannot be opened.
struct Unavailable(String);

impl rentmsg::sending::pacing::Counter for Unavailable {
    fn increment(&self, _: &str, _: i64) -> Result<i64, String> {
        Err(self.0.clone())
    }

    fn delete(&self, _: &str) -> Result<(), String> {
        Err(self.0.clone())
    }
}

/// Read the body, keeping at most one byte more than the API accepts (so it
/// can answer 413 after checking the token) and discarding the rest: a huge
/// upload costs time, never memory. Returns the kept bytes, the full size
/// and whether the body arrived whole.
async fn read_capped(req: IncomingRequest) -> (Vec<u8>, u64, bool) {
    let keep = api::MAX_BODY_BYTES + 1;
    let mut body = Vec::new();
    let mut total: u64 = 0;
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return (body, total, false) };
        total += chunk.len() as u64;
        let room = keep.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    (body, total, true)
}
