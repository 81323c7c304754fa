//! The HTTP trigger: Spin's routing and `spin-*` headers, the host's own
//! endpoints, methods and bodies, traps and components that never answer,
//! graceful shutdown, and one compiled component serving every request.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_match_as_in_spin() {
    let app = Start::probe().start().await;
    let path_of = |answer: &Json| answer["headers"]["spin-matched-route"].as_str().unwrap_or_default().to_string();
    // Exact route.
    let exact = app.probe_at("/exact", json!([])).await;
    assert_eq!(path_of(&exact), "/exact");
    assert_eq!(exact["headers"]["spin-path-info"], "");
    assert_eq!(app.get("/exact/more").await.0, 404);
    // Trailing wildcard: the prefix itself and anything below.
    for (path, info) in [("/probe", ""), ("/probe/", "/"), ("/probe/a/b", "/a/b"), ("/probe/a/b/", "/a/b/")] {
        let answer = app.probe_at(path, json!([])).await;
        assert_eq!(path_of(&answer), "/probe/...", "{path}");
        assert_eq!(answer["headers"]["spin-path-info"], info, "{path}");
        assert_eq!(answer["headers"]["spin-component-route"], "/probe", "{path}");
    }
    assert_eq!(app.get("/probex").await.0, 404);
    // Named segments become spin-path-match-* headers (`_` turns into `-`).
    let answer = app.probe_at("/items/42/parts/wheel?x=1", json!([])).await;
    assert_eq!(answer["headers"]["spin-path-match-item-id"], "42");
    assert_eq!(answer["headers"]["spin-path-match-part"], "wheel");
    assert_eq!(answer["headers"]["spin-raw-component-route"], "/items/:item_id/parts/:part");
    assert_eq!(answer["path"], "/items/42/parts/wheel?x=1");
    assert_eq!(app.get("/items/42/parts").await.0, 404);
    // Another component on another route.
    let bare = app.probe_at("/bare/z", json!([])).await;
    assert_eq!(path_of(&bare), "/bare/...");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_headers_describe_the_request() {
    let app = Start::probe().start().await;
    let answer = app.probe_at("/probe/a?b=c", json!([])).await;
    let h = &answer["headers"];
    let authority = app.base.trim_start_matches("http://");
    assert_eq!(h["spin-full-url"], format!("http://{authority}/probe/a?b=c"));
    assert_eq!(h["spin-base-path"], "/");
    assert_eq!(h["spin-raw-component-route"], "/probe/...");
    assert!(h["spin-client-addr"].as_str().unwrap_or_default().starts_with("127.0.0.1:"), "{h}");
    // A client cannot forge them.
    let forged: Json = app
        .client
        .post(app.url("/probe/a"))
        .header("spin-client-addr", "6.6.6.6:6")
        .header("spin-path-info", "/forged")
        .json(&json!({ "ops": [] }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_ne!(forged["headers"]["spin-client-addr"], "6.6.6.6:6");
    assert_eq!(forged["headers"]["spin-path-info"], "/a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_answers_its_own_endpoints() {
    let app = Start::probe().start().await;
    assert_eq!(app.get("/.well-known/spin/health").await, (200, "OK".to_string()));
    let (status, info) = app.get("/.well-known/spin/info").await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Json>(&info).expect("JSON"), json!({ "name": "probe", "version": "1.2.3" }));
    assert_eq!(app.get("/.well-known/spin/other").await.0, 404);
    // Unrouted paths: 404 with an empty body, as Spin.
    assert_eq!(app.get("/nowhere").await, (404, String::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_reaches_the_component() {
    let app = Start::probe().start().await;
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let resp = app
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).expect("method"), app.url("/probe/m"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.headers()["x-probe-method"], method);
    }
    // HEAD runs the component; the answer has its headers and no body.
    let head = app.client.head(app.url("/probe/m")).send().await.expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["x-probe-method"], "HEAD");
    assert!(head.bytes().await.expect("body").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_pass_through() {
    let app = Start::probe().start().await;
    let body = vec![b'x'; 8 * 1024 * 1024];
    let answer: Json = app
        .client
        .post(app.url("/probe/big"))
        .body(body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["body_len"], 8 * 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_is_a_500_and_the_host_carries_on() {
    let app = Start::probe().start().await;
    assert_eq!(app.get("/trap/panic").await, (500, String::new()));
    assert_eq!(app.get("/trap/fine").await, (200, "fine".to_string()));
}

#[test]
fn a_trap_is_logged_with_its_component() {
    let app = e2e::App::builder().manifest(fixture("probe.toml")).variable("secret_token", SECRET).state_dir_fresh_with_cache().start();
    assert_eq!(app.get("/trap/panic").status().as_u16(), 500);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.log().contains("trapped") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = app.log();
    assert!(log.contains("component \"trap\" trapped") && log.contains("the trap fixture was asked to trap"), "{log}");
}

/// e2e's builder with the probe's runtime config in a fresh directory.
trait ProbeBuilder {
    fn state_dir_fresh_with_cache(self) -> Self;
}

impl ProbeBuilder for e2e::AppBuilder {
    fn state_dir_fresh_with_cache(self) -> Self {
        let dir = tempfile::tempdir().expect("temp").keep();
        let rc = probe_runtime_config(&dir);
        self.state_dir(dir.join("state")).arg("--runtime-config-file").arg(rc.display().to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_never_answers_is_stopped_when_its_client_leaves() {
    let app = Start::probe().start().await;
    // Several hung requests at once: the host keeps serving others meanwhile.
    let mut hung = Vec::new();
    for _ in 0..4 {
        let request = app.client.get(app.url("/trap/hang")).send();
        hung.push(tokio::spawn(request));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.host.live_instances() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.host.live_instances(), 4, "the hung requests did not start");
    // Served while the hung guests still spin and their clients still wait.
    assert_eq!(app.get("/trap/fine").await, (200, "fine".to_string()));
    assert!(hung.iter().all(|h| !h.is_finished()), "a hung request ended before the other was served");
    // Their clients go away.
    for h in &hung {
        h.abort();
    }
    for h in hung {
        assert!(h.await.is_err_and(|e| e.is_cancelled()), "a hung request cannot succeed");
    }
    // The abandoned guests stop: their instances are dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while app.host.live_instances() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.host.live_instances(), 0, "abandoned guests are still running");
    for _ in 0..20 {
        assert_eq!(app.get("/trap/fine").await.0, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_keeps_running_after_its_response() {
    let app = Start::probe().start().await;
    // Work after the body is sent completes, as on Spin, including when the
    // body is never read (HEAD).
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        app.probe_one(json!({ "op": "kv.delete", "store": "default", "key": "after-response" })).await;
        let resp = app.client.request(method.clone(), app.url("/trap/after")).send().await.expect("send");
        assert_eq!(resp.status(), 200, "{method}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let got = app.probe_one(json!({ "op": "kv.get", "store": "default", "key": "after-response" })).await;
            if got == ok(json!("yes")) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{method}: the work after the response never happened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    let mut app = Start::probe().start().await;
    let slow = {
        let client = app.client.clone();
        let url = app.url("/probe/slow");
        tokio::spawn(async move {
            let body = json!({ "ops": [{ "op": "sleep", "ms": 700 }, { "op": "var", "name": "greeting" }] });
            let resp = client.post(url).json(&body).send().await.expect("send");
            (resp.status().as_u16(), resp.json::<Json>().await.expect("JSON"))
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = app.base.clone();
    app.stop().await.expect("stop");
    let (status, answer) = slow.await.expect("task");
    assert_eq!(status, 200);
    assert_eq!(answer["results"][1], ok(json!("hello, world")));
    // New connections are refused once shutdown began.
    assert!(reqwest::get(format!("{base}/probe/x")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_are_compiled_once_and_instantiated_per_request() {
    let app = Start::probe().start().await;
    let (compiled, instances) = app.host.stats();
    // probe.toml uses two wasm files (the probe and the trap fixture).
    assert_eq!((compiled, instances), (2, 0));
    for _ in 0..25 {
        assert_eq!(app.get("/probe/x").await.0, 200);
        assert_eq!(app.get("/trap/fine").await.0, 200);
    }
    assert_eq!(app.host.stats(), (2, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_route_is_served_by_the_later_trigger() {
    let dir = tempfile::tempdir().expect("temp");
    let wasm = fixture("probe.toml").parent().expect("apps").join("../../../../target/wasm32-wasip2/release/fixture_probe.wasm");
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"spin_manifest_version = 2
[application]
name = "dup"
[[trigger.http]]
route = "/same/..."
component = "first"
[[trigger.http]]
route = "/same/..."
component = "second"
[component.first]
source = {wasm:?}
[component.second]
source = {wasm:?}
key_value_stores = ["default"]
"#,
            wasm = wasm.display().to_string()
        ),
    )
    .expect("write manifest");
    let mut start = Start::fixture("hello.toml");
    start.options.manifest = manifest;
    let app = start.start().await;
    // Only `second` may open the default store: it is the one serving.
    assert_eq!(app.results_at("/same/x", json!([{ "op": "kv.open", "store": "default" }])).await, vec![ok(Json::Null)]);
}

/// A burst of new connections is queued by the kernel until the host
/// accepts them: none has its SYN dropped (with the standard library's
/// backlog of 128, the connections past it waited a second for TCP to
/// retry). Nothing accepts here, so every connection below must complete
/// its handshake from the listen queue alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connections_waits_in_the_listen_queue() {
    let listener = spin_host::triggers::http::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    // The kernel caps every backlog at `somaxconn`; test what it allows, up to 300.
    let allowed = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(128);
    let burst = allowed.min(300);
    let connected = tokio::task::spawn_blocking(move || {
        let mut open = Vec::new();
        for i in 0..burst {
            // Loopback answers a queued SYN at once; a dropped one is retried after 1 s.
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(stream) => open.push(stream),
                Err(e) => return Err(format!("connection {i} of {burst}: {e}")),
            }
        }
        Ok(open.len())
    })
    .await
    .expect("connecting task");
    assert_eq!(connected, Ok(burst));
    drop(listener);
}
