//! Outbound HTTP limited to `allowed_outbound_hosts` exactly as Spin does:
//! allowed hosts are reached, anything else is `HTTP-request-denied` for the
//! guest (never a crash, never a packet), requests to the app itself and to
//! other components (service chaining) need their own rules.

mod common;

use common::*;
use e2e::FakeServer;

fn http(url: &str) -> Json {
    json!({ "op": "http", "method": "POST", "url": url, "body": "ping" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_are_reached_and_others_denied() {
    let upstream = FakeServer::start(|_| (201, "text/plain".into(), "pong".into()));
    let stranger = FakeServer::start(|_| (200, "text/plain".into(), "should never be asked".into()));
    let app = Start::probe().variable("upstream", &upstream.base).start().await;
    let other_port = stranger.base.rsplit(':').next().unwrap_or_default().to_string();
    let r = app
        .probe(json!([
            http(&format!("{}/v1/send?x=1", upstream.base)),
            http(&stranger.base),
            // Same host, another port: the rule names the upstream's port only.
            http(&format!("http://127.0.0.1:{other_port}/")),
            // Another scheme.
            http(&upstream.base.replace("http://", "https://")),
            http("http://example.com/"),
        ]))
        .await;
    assert_eq!(r[0], ok(json!({ "status": 201, "body": "pong" })));
    for denied in &r[1..] {
        assert_eq!(denied, &err("ErrorCode::HttpRequestDenied"));
    }
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].method.as_str(), seen[0].url.as_str(), seen[0].text()), ("POST", "/v1/send?x=1", "ping".to_string()));
    assert!(stranger.requests().is_empty(), "a denied request must not leave the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_without_rules_reaches_nothing() {
    let upstream = FakeServer::start(|_| (200, "text/plain".into(), "pong".into()));
    let app = Start::probe().variable("upstream", &upstream.base).start().await;
    // A large body too: the refusal is decided before the guest has written
    // it, and the guest must still see the refusal, not a closed stream.
    let large = json!({ "op": "http", "method": "POST", "url": upstream.base, "body": "x".repeat(4 << 20) });
    let r = app.results_at("/bare/x", json!([http(&upstream.base), http("/exact"), http("http://probe.spin.internal/"), large])).await;
    assert_eq!(r, vec![err("ErrorCode::HttpRequestDenied"); 4]);
    assert!(upstream.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_the_app_itself() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            // A relative URL is a request to the app, routed like any other.
            { "op": "http", "url": "/items/7/parts/bolt?q=1" },
            { "op": "http", "url": "http://self.alt/exact" },
            { "op": "http", "url": "/no/such/route" },
        ]))
        .await;
    let routed: Json = serde_json::from_str(r[0]["ok"]["body"].as_str().unwrap_or_default()).expect("probe answer");
    assert_eq!(r[0]["ok"]["status"], 200);
    assert_eq!(routed["headers"]["spin-path-match-item-id"], "7");
    assert_eq!(routed["path"], "/items/7/parts/bolt?q=1");
    assert_eq!(r[1]["ok"]["status"], 200);
    assert_eq!(r[2], ok(json!({ "status": 404, "body": "" })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_chaining_reaches_private_components_it_names() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "http", "url": "http://probe-private.spin.internal/any/path?z=1" },
            // Not in the probe's rules.
            { "op": "http", "url": "http://trap.spin.internal/fine" },
        ]))
        .await;
    assert_eq!(r[0]["ok"]["status"], 200, "{r:?}");
    let chained: Json = serde_json::from_str(r[0]["ok"]["body"].as_str().unwrap_or_default()).expect("probe answer");
    // Spin routes a chained request as `/...` of the component.
    assert_eq!(chained["headers"]["spin-matched-route"], "/...");
    assert_eq!(chained["headers"]["spin-path-info"], "/any/path");
    assert_eq!(chained["headers"]["spin-client-addr"], "0.0.0.0:0");
    assert_eq!(r[1], err("ErrorCode::HttpRequestDenied"));
    // The private component has no public route.
    assert_eq!(app.get("/any/path").await.0, 404);
}

/// One component instance keeps several outgoing requests in flight: the
/// host runs each `outgoing-handler.handle` as its own task, so the send
/// pass (one instance, one thread, a `wasi:io/poll` over its requests) gets
/// answers that overlap. The real app's `outbound-send` cron tick sends to a
/// fake provider that holds each request 500 ms; the fake counts how many
/// it holds at once.
#[test]
fn one_instance_keeps_several_outgoing_requests_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const TENANTS: usize = 6;
    let (held, max_held) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (h, m) = (held.clone(), max_held.clone());
    let sms = FakeServer::start(move |r| {
        let now = h.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(500));
        h.fetch_sub(1, Ordering::SeqCst);
        let to = r.form_field("To").unwrap_or_default();
        (201, "application/json".into(), format!(r#"{{"sid":"SM{}","status":"queued"}}"#, to.trim_start_matches('+')))
    });
    let app = e2e::App::builder()
        .variable("public_base_url", "http://rent.example")
        .variable("sms_api_base", sms.base.as_str())
        .variable("sms_account_sid", "AC00000000000000000000000000000009")
        .variable("sms_auth_token", "host-test-token")
        .variable("sms_from", "+15005550006")
        // A start every 100 ms against 500 ms answers: about five at once.
        .variable("send_rate_per_minute", "600")
        .start();
    let zone = e2e::zone_at_local_hour(12);
    let (s, b) = app.import("properties", &format!("property_id,name,time_zone,state,country\nP1,Maple Court,{zone},,GB\n"));
    assert_eq!(s, 200, "{b}");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for i in 0..TENANTS {
        csv.push_str(&format!("t{i},P1,Tenant {i},U{i},07911 {:06},,,,,,GB,,\n", 100_000 + i));
        ledger.push_str(&format!("t{i},{due},{due},charge,950.00,RENT\n"));
    }
    assert_eq!(app.import("tenants", &csv).0, 200);
    assert_eq!(app.import("ledger", &ledger).0, 200);
    for i in 0..TENANTS {
        let (s, b) = app.staff_put(&format!("/api/tenants/t{i}/consent"), &json!({"status": "opted_in", "evidence": "lease section 12"}));
        assert_eq!(s, 200, "{b}");
    }
    let (_, mut schedule) = app.staff_get("/api/notice-schedule");
    schedule["skip_sundays"] = json!(false);
    for stage in schedule["stages"].as_array_mut().into_iter().flatten() {
        stage["channels"] = json!(["text"]);
    }
    assert_eq!(app.staff_put("/api/notice-schedule", &schedule).0, 200);
    let (s, report) = app.staff_post("/api/scan", &json!({}));
    assert!(s == 200 && report["allowed"] == json!(TENANTS), "{report}");
    // A pass ends with its minute; one that starts near the end may leave some for the next tick.
    for _ in 0..3 {
        let out = app.cron("outbound-send");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if sms.requests().len() >= TENANTS {
            break;
        }
    }
    let mut tos: Vec<String> = sms.requests().iter().filter_map(|r| r.form_field("To")).collect();
    assert_eq!(tos.len(), TENANTS);
    tos.sort();
    tos.dedup();
    assert_eq!(tos.len(), TENANTS, "a message went out twice");
    let most = max_held.load(Ordering::SeqCst);
    assert!(most >= 2, "the fake never held two requests at once ({most}): the host ran them one after another");
}
