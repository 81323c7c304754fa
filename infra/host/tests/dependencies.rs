//! Component dependencies (Spin 3): an import satisfied at load by another
//! component's export, and Spin's `dependencies_inherit_configuration` rule
//! for what the dependency may use.

mod common;

use std::path::Path;

use common::*;
use e2e::FakeServer;

async fn try_all(app: &TestApp, importer: &str, url: &str) -> Json {
    app.client
        .post(app.url(&format!("/{importer}/try")))
        .json(&json!({ "store": "default", "database": "default", "variable": "who", "url": url }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_is_served_by_the_dependency() {
    let app = Start::fixture("deps.toml").start().await;
    for importer in ["isolated", "inheriting"] {
        let (status, body) = app.get(&format!("/{importer}/greet?name=ada")).await;
        assert_eq!((status, body.as_str()), (200, "\"hello, ada, from the provider\""), "{importer}");
    }
    // Two importers, two dependency instances per request: one compile per wasm file.
    assert_eq!(app.host.stats().0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_that_does_not_inherit_gets_nothing() {
    let upstream = FakeServer::start(|_| (200, "text/plain".into(), "pong".into()));
    let app = Start::fixture("deps.toml").variable("upstream", &upstream.base).start().await;
    let got = try_all(&app, "isolated", &format!("{}/x", upstream.base)).await;
    // What Spin 3's deny-all adapter answers (Spin 4 says access-denied for the stores).
    assert_eq!(
        got,
        json!({
            "key-value": "Error::NoSuchStore",
            "wasi-keyvalue": "Error::AccessDenied",
            "sqlite": "Error::NoSuchDatabase",
            "variable": "Error::Undefined(\"who\")",
            "http": "ErrorCode::InternalError(Some(\"\\\"wasi:http/outgoing-handler\\\" is not permitted\"))",
            "environment": "0 entries",
            "files": got["files"].clone(),
        })
    );
    assert_ne!(got["files"], "ok", "no files are mounted for it");
    assert!(upstream.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_that_inherits_gets_the_importers_configuration() {
    let upstream = FakeServer::start(|_| (200, "text/plain".into(), "pong".into()));
    let app = Start::fixture("deps.toml").variable("upstream", &upstream.base).start().await;
    let got = try_all(&app, "inheriting", &format!("{}/x", upstream.base)).await;
    assert_eq!(
        got,
        json!({
            "key-value": "ok",
            "wasi-keyvalue": "ok",
            "sqlite": "ok",
            "variable": "value inheriting importer",
            "http": "status 200",
            "environment": "1 entries",
            "files": "ok",
        })
    );
    assert_eq!(upstream.requests().len(), 1);
    // Inherited, not widened: a store the importer may not open stays shut.
    let denied = app
        .client
        .post(app.url("/inheriting/try"))
        .json(&json!({ "store": "other", "database": "other", "variable": "nope", "url": "http://example.com/" }))
        .send()
        .await
        .expect("send")
        .json::<Json>()
        .await
        .expect("JSON");
    assert_eq!(denied["key-value"], "Error::AccessDenied");
    assert_eq!(denied["sqlite"], "Error::AccessDenied");
    assert_eq!(denied["http"], "ErrorCode::HttpRequestDenied");
    assert_eq!(denied["variable"], "Error::Undefined(\"nope\")");
}

fn write_manifest(dir: &Path, dependencies: &str) -> std::path::PathBuf {
    let release = fixture("deps.toml").parent().expect("apps").join("../../../../target/wasm32-wasip2/release");
    let path = dir.join("spin.toml");
    let text = format!(
        "spin_manifest_version = 2\n[application]\nname = \"d\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"i\"\n[component.i]\nsource = \"{r}/fixture_dep_importer.wasm\"\n[component.i.dependencies]\n{dependencies}\n",
        r = release.display()
    );
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_mistakes_stop_the_app_at_load() {
    let dir = tempfile::tempdir().expect("temp");
    let release = fixture("deps.toml").parent().expect("apps").join("../../../../target/wasm32-wasip2/release");
    let cases = [
        // A key the component does not import.
        (format!("\"fixture:other/thing\" = {{ path = \"{}/fixture_dep_provider.wasm\" }}", release.display()), "matches nothing"),
        // A provider that does not export the interface.
        (format!("\"fixture:deps/capabilities\" = {{ path = \"{}/fixture_hello.wasm\" }}", release.display()), "does not export"),
        // A provider file that is missing.
        ("\"fixture:deps/capabilities\" = { path = \"missing.wasm\" }".to_string(), "missing.wasm"),
    ];
    for (deps, expected) in cases {
        let mut start = Start::fixture("deps.toml");
        start.options.manifest = write_manifest(dir.path(), &deps);
        let e = start.load().await.err().expect("must not load");
        assert!(format!("{e:#}").contains(expected), "{deps}: {e:#}");
    }
    // And no dependency at all: the import is missing.
    let mut start = Start::fixture("deps.toml");
    start.options.manifest = write_manifest(dir.path(), "");
    let e = start.load().await.err().expect("must not load");
    assert!(format!("{e:#}").contains("fixture:deps/capabilities"), "{e:#}");
}
