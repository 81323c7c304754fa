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
