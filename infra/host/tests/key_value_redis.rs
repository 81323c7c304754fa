//! Key-value on Redis (`[key_value_store.<label>] type = "redis"`) through
//! both guest interfaces, against a real `redis-server`: the same answers
//! as the SQLite file store, Spin's Redis layout (plain keys, counters as
//! decimal text), and a Redis that is down failing calls, never the app.

mod common;

use common::*;
use e2e::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_interfaces_work_on_redis() {
    let redis = RedisServer::start();
    let app = Start::probe_on_redis(&redis.url()).start().await;
    let r = app
        .probe(json!([
            { "op": "kv.get", "store": "default", "key": "k" },
            { "op": "kv.set", "store": "default", "key": "k", "value": "v1" },
            { "op": "wkv.get", "store": "default", "key": "k" },
            { "op": "kv.exists", "store": "default", "key": "k" },
            { "op": "wkv.set", "store": "default", "key": "k", "value": "v2" },
            { "op": "kv.get", "store": "default", "key": "k" },
            { "op": "kv.keys", "store": "default" },
            { "op": "wkv.keys", "store": "default" },
            { "op": "kv.delete", "store": "default", "key": "k" },
            { "op": "wkv.delete", "store": "default", "key": "k" },
            { "op": "wkv.exists", "store": "default", "key": "k" },
        ]))
        .await;
    assert_eq!(
        r,
        vec![
            ok(Json::Null),
            ok(Json::Null),
            ok(json!("v1")),
            ok(json!(true)),
            ok(Json::Null),
            ok(json!("v2")),
            ok(json!(["k"])),
            ok(json!({ "keys": ["k"], "cursor": null })),
            ok(Json::Null),
            ok(Json::Null),
            ok(json!(false)),
        ]
    );
    // Nothing of the host's own on the server: no files, no prefixes.
    assert!(!app.state_dir.join("sqlite_key_value.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increment_compare_and_swap_and_batches_on_redis() {
    let redis = RedisServer::start();
    let app = Start::probe_on_redis(&redis.url()).start().await;
    let r = app
        .probe(json!([
            { "op": "wkv.increment", "store": "default", "key": "n", "delta": 5 },
            { "op": "wkv.increment", "store": "default", "key": "n", "delta": -7 },
            { "op": "kv.set", "store": "default", "key": "word", "value": "abc" },
            { "op": "wkv.increment", "store": "default", "key": "word", "delta": 1 },
            { "op": "wkv.cas", "store": "default", "key": "lease", "value": "me" },
            { "op": "wkv.cas", "store": "default", "key": "lease", "value": "you", "read": false },
            { "op": "wkv.cas", "store": "default", "key": "lease", "value": "me again" },
            { "op": "kv.get", "store": "default", "key": "lease" },
            { "op": "wkv.set_many", "store": "cache", "entries": [["a", "1"], ["b", "2"], ["c", "3"]] },
            { "op": "wkv.get_many", "store": "cache", "keys": ["a", "missing", "c"] },
            { "op": "wkv.delete_many", "store": "cache", "keys": ["a", "missing"] },
            { "op": "kv.keys", "store": "cache" },
        ]))
        .await;
    assert_eq!(r[0], ok(json!(5)));
    assert_eq!(r[1], ok(json!(-2)));
    assert!(r[3]["err"].as_str().unwrap_or_default().starts_with("other: Redis at 127.0.0.1:"), "{:?}", r[3]);
    assert!(r[3]["err"].as_str().unwrap_or_default().contains("not an integer"), "{:?}", r[3]);
    assert_eq!(r[4], ok(json!({ "swapped": true, "previous": null })));
    assert_eq!(r[5], ok(json!({ "swapped": false, "previous": null, "current": "me" })));
    assert_eq!(r[6], ok(json!({ "swapped": true, "previous": "me" })));
    assert_eq!(r[7], ok(json!("me again")));
    let mut got: Vec<Json> = r[9]["ok"].as_array().cloned().unwrap_or_default();
    got.sort_by_key(|p| p[0].as_str().unwrap_or_default().to_string());
    assert_eq!(got, vec![json!(["a", "1"]), json!(["c", "3"])], "absent keys are left out, as Spin does");
    let mut keys: Vec<String> = serde_json::from_value(r[11]["ok"].clone()).unwrap_or_default();
    keys.sort();
    assert_eq!(keys, vec!["b", "c"]);

    // Spin's Redis layout: keys as they are, counters as Redis integers.
    assert_eq!(redis.get("n").as_deref(), Some(&b"-2"[..]));
    assert_eq!(redis.get("lease").as_deref(), Some(&b"me again"[..]));
    let raw = app.probe_one(json!({ "op": "kv.get", "store": "default", "key": "n" })).await;
    assert_eq!(raw, ok(json!("-2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_on_different_databases_stay_apart_and_persist() {
    let redis = RedisServer::start();
    let start = Start::probe_on_redis(&redis.url());
    let mut first = start.start().await;
    first
        .probe(json!([
            { "op": "kv.set", "store": "default", "key": "same", "value": "in default" },
            { "op": "kv.set", "store": "cache", "key": "same", "value": "in cache" },
        ]))
        .await;
    first.stop().await.expect("stop");
    // A second host (a restart, another replica) reads what the first wrote.
    let second = Start::probe_on_redis(&redis.url()).start().await;
    let r = second
        .probe(json!([
            { "op": "kv.get", "store": "default", "key": "same" },
            { "op": "kv.get", "store": "cache", "key": "same" },
        ]))
        .await;
    assert_eq!(r, vec![ok(json!("in default")), ok(json!("in cache"))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_checked_before_redis_is_touched() {
    // No server at all: a refused label must not depend on the backend.
    let port = e2e::redis::free_port();
    let app = Start::probe_on_redis(&format!("redis://127.0.0.1:{port}")).start().await;
    let bare = app
        .results_at("/bare/x", json!([{ "op": "kv.open", "store": "default" }, { "op": "wkv.open", "store": "default" }]))
        .await;
    assert_eq!(bare, vec![err("access-denied"); 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_fails_calls_not_the_app() {
    // Spin connects on first use: the app loads while Redis is down (a pod
    // starting before its Redis), calls fail as values, and work once it is up.
    let port = e2e::redis::free_port();
    let app = Start::probe_on_redis(&format!("redis://127.0.0.1:{port}")).start().await;
    let r = app
        .probe(json!([
            { "op": "kv.open", "store": "default" },
            { "op": "kv.get", "store": "default", "key": "k" },
            { "op": "wkv.increment", "store": "default", "key": "n", "delta": 1 },
        ]))
        .await;
    assert_eq!(r[0], ok(Json::Null));
    for failed in &r[1..] {
        let text = failed["err"].as_str().unwrap_or_default();
        assert!(text.starts_with(&format!("other: Redis at 127.0.0.1:{port}/0")), "{failed}");
    }
    let _redis = RedisServer::start_on(port);
    let mut last = Json::Null;
    for _ in 0..50 {
        last = app.probe_one(json!({ "op": "wkv.increment", "store": "default", "key": "n", "delta": 1 })).await;
        if last == ok(json!(1)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last, ok(json!(1)), "calls work once Redis is up, without a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_redis_url_stops_the_app_at_load() {
    let mut start = Start::probe();
    let dir = start.temp_dir();
    let file = dir.join("rc.toml");
    std::fs::write(&file, "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:notaport\"\n\n[key_value_store.cache]\ntype = \"spin\"\n").expect("write");
    start.options.runtime_config_file = Some(file);
    let e = start.load().await.err().expect("the app must not load");
    let text = format!("{e:#}");
    assert!(text.contains("key-value store \"default\"") && text.contains("invalid Redis URL"), "{text}");
}

#[test]
fn spin_host_cron_runs_use_the_runtime_config_redis() {
    // Each `spin-host cron` is its own process; both count on the one Redis
    // the serving host uses, not on a file in the state directory.
    let redis = RedisServer::start();
    let temp = tempfile::tempdir().expect("temp");
    let rc = redis_runtime_config(temp.path(), &redis.url());
    let app = e2e::App::builder().manifest(fixture("cron.toml")).runtime_config_file(&rc).start();
    for _ in 0..2 {
        let out = app.cron("ticker");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(redis.get("cron-ticks").as_deref(), Some(&b"2"[..]));
    assert!(!app.state_dir.join("sqlite_key_value.db").exists());
}
