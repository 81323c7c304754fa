//! The edge every staff component shares (feature `compliance-client`):
//! read the Spin request with its body capped, open the database and the
//! sign-in counters, answer through [`super::serve`] on the component's
//! route group, and log one line per request. Compliance decisions come
//! from the compliance component's WIT import.
//!
//! [`ProviderReply`] sends a staff reply at once; only the component
//! serving the reply route passes it (elsewhere the send pass takes it).

use super::{authenticate, serve as serve_group, ApiContext, RouteGroup, MAX_BODY_BYTES};
use crate::base::db::{Db, SpinDb};
use crate::base::http;
use crate::compliance::client::ComponentChecker;
use crate::sending::pacing::Counter;
use crate::sending::send::{self, SendReport};
use crate::sending::spin_io::{KvCounter, SpinSend};
use crate::staff::reply::ReplySender;
use futures::StreamExt as _;
use spin_sdk::http::IncomingRequest;
use spin_sdk::variables;

/// Answer one `/api/*` request on `group`'s routes.
pub async fn serve(group: &RouteGroup, req: IncomingRequest, sender: &dyn ReplySender) -> spin_sdk::http::Response {
    let started = std::time::Instant::now();
    let mut api_request = http::Request::from_incoming(&req);
    let (body, body_bytes, complete) = read_capped(req).await;
    api_request.body = body;
    // No token configured means nobody gets in (fail closed).
    let staff_token = variables::get("staff_token").unwrap_or_default();
    let public_base_url = variables::get("public_base_url").unwrap_or_default();
    let response = if !complete {
        // Never import a truncated file: part of a CSV would land. The token
        // is still checked first, so strangers learn nothing.
        match authenticate(&api_request.headers, &staff_token) {
            Ok(_) => http::Response::error(400, "the request body could not be read completely; send it again"),
            Err(denied) => denied,
        }
    } else {
        let counters = SignInCounters::default();
        match SpinDb::open_default() {
            Ok(db) => {
                let ctx = ApiContext {
                    db: &db,
                    staff_token: &staff_token,
                    now: chrono::Utc::now(),
                    public_base_url: &public_base_url,
                    counters: &counters,
                    sleep: std::thread::sleep,
                };
                serve_group(group, &api_request, &ctx, &ComponentChecker, sender)
            }
            Err(e) => {
                let mut r = http::Response::error(503, "database unavailable");
                r.diagnostic = Some(e.to_string());
                r
            }
        }
    };
    // Route templates only: raw paths can hold phone numbers or emails.
    let fields = serde_json::json!({
        "method": api_request.method,
        "route": response.route.unwrap_or("-"),
        "status": response.status,
        "body_bytes": body_bytes,
        "ms": started.elapsed().as_millis() as u64,
        "diagnostic": response.diagnostic,
    });
    crate::base::log::line(group.component, &fields);
    response.into_spin()
}

/// Read the body, keeping at most one byte more than the API accepts (so it
/// can answer 413 after checking the token) and discarding the rest: a huge
/// upload costs time, never memory. Returns the kept bytes, the full size
/// and whether the body arrived whole.
async fn read_capped(req: IncomingRequest) -> (Vec<u8>, u64, bool) {
    let keep = MAX_BODY_BYTES + 1;
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

/// Failed sign-ins, counted in the shared store so every replica sees
/// them. The store is opened by the first sign-in of the request (only
/// the sign-in route counts); one that cannot be opened refuses sign-ins
/// (fail closed) but never blocks a token or a live session.
#[derive(Default)]
struct SignInCounters(std::cell::OnceCell<Result<KvCounter, String>>);

impl SignInCounters {
    fn store(&self) -> Result<&KvCounter, String> {
        self.0.get_or_init(|| KvCounter::open("default")).as_ref().map_err(String::clone)
    }
}

impl Counter for SignInCounters {
    fn increment(&self, key: &str, by: i64) -> Result<i64, String> {
        self.store()?.increment(key, by)
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.store()?.delete(key)
    }
}

/// A staff reply's send step, run in the request: the send pass's own step
/// for one row, with the shared budget in key-value. It waits a few seconds
/// at most for its slot; later slots are left to the next pass.
pub struct ProviderReply {
    /// The component sending (its log lines' `component`).
    pub component: &'static str,
}

/// The longest a reply waits for its send slot inside the request.
const REPLY_SLOT_WAIT_SECONDS: i64 = 5;

impl ReplySender for ProviderReply {
    fn send_now(&self, db: &dyn Db, id: i64) -> Result<SendReport, String> {
        let send = SpinSend::open(self.component).map_err(|e| e.to_string())?;
        send.run(db, |now| now + chrono::Duration::seconds(REPLY_SLOT_WAIT_SECONDS), |env| send::send_row(env, id, true))
            .map_err(|e| e.to_string())
    }
}
