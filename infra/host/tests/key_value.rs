//! Key-value through both guest interfaces (`fermyon:spin/key-value@2.0.0`
//! and `wasi:keyvalue@0.2.0-draft2`), over the default store and a named
//! store from the runtime config, with Spin's grant rules and error cases.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_key_value_crud_on_the_default_store() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "kv.get", "store": "default", "key": "k" },
            { "op": "kv.exists", "store": "default", "key": "k" },
            { "op": "kv.set", "store": "default", "key": "k", "value": "v1" },
            { "op": "kv.set", "store": "default", "key": "k", "value": "v2" },
            { "op": "kv.get", "store": "default", "key": "k" },
            { "op": "kv.exists", "store": "default", "key": "k" },
            { "op": "kv.keys", "store": "default" },
            { "op": "kv.delete", "store": "default", "key": "k" },
            { "op": "kv.delete", "store": "default", "key": "k" },
            { "op": "kv.get", "store": "default", "key": "k" },
        ]))
        .await;
    assert_eq!(
        r,
        vec![
            ok(Json::Null),
            ok(json!(false)),
            ok(Json::Null),
            ok(Json::Null),
            ok(json!("v2")),
            ok(json!(true)),
            ok(json!(["k"])),
            ok(Json::Null),
            ok(Json::Null),
            ok(Json::Null),
        ]
    );
    // Spin's default store is a SQLite file in the state directory.
    assert!(app.state_dir.join("sqlite_key_value.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_interfaces_share_the_stores() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "kv.set", "store": "default", "key": "shared", "value": "from spin" },
            { "op": "wkv.get", "store": "default", "key": "shared" },
            { "op": "wkv.set", "store": "cache", "key": "c", "value": "from wasi" },
            { "op": "kv.get", "store": "cache", "key": "c" },
            { "op": "kv.get", "store": "default", "key": "c" },
            { "op": "wkv.exists", "store": "cache", "key": "c" },
            { "op": "wkv.keys", "store": "cache" },
            { "op": "wkv.delete", "store": "cache", "key": "c" },
            { "op": "kv.exists", "store": "cache", "key": "c" },
        ]))
        .await;
    assert_eq!(
        r,
        vec![
            ok(Json::Null),
            ok(json!("from spin")),
            ok(Json::Null),
            ok(json!("from wasi")),
            ok(Json::Null),
            ok(json!(true)),
            ok(json!({ "keys": ["c"], "cursor": null })),
            ok(Json::Null),
            ok(json!(false)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_stores_persist_in_their_file() {
    let start = Start::probe();
    let dir = start.temp_dir();
    let state = start.options.state_dir.clone().expect("state dir");
    let mut first = start.start().await;
    first.probe(json!([{ "op": "kv.set", "store": "cache", "key": "kept", "value": "yes" }])).await;
    first.stop().await.expect("stop");
    assert!(dir.join("cache.db").exists(), "the runtime config put the `cache` store in cache.db");
    // A second host on the same files sees the value.
    let mut again = Start::probe().state_dir(&state);
    again.options.runtime_config_file = Some(probe_runtime_config(&dir));
    let second = again.start().await;
    assert_eq!(second.probe_one(json!({ "op": "kv.get", "store": "cache", "key": "kept" })).await, ok(json!("yes")));
    assert_eq!(second.probe_one(json!({ "op": "kv.get", "store": "default", "key": "kept" })).await, ok(Json::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_checked_first() {
    let app = Start::probe().start().await;
    // Not listed in the component's key_value_stores: access-denied, whether
    // or not the label is configured.
    let bare = app
        .results_at(
            "/bare/x",
            json!([
                { "op": "kv.open", "store": "default" },
                { "op": "kv.open", "store": "nowhere" },
                { "op": "wkv.open", "store": "default" },
                { "op": "wkv.open", "store": "nowhere" },
            ]),
        )
        .await;
    assert_eq!(bare, vec![err("access-denied"); 4]);
    let probe = app
        .probe(json!([
            { "op": "kv.open", "store": "nowhere" },
            { "op": "kv.open", "store": "cache" },
        ]))
        .await;
    assert_eq!(probe, vec![err("access-denied"), ok(Json::Null)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_may_hold_256_stores_open() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "kv.open_many", "store": "default", "count": 256 },
            { "op": "kv.open_many", "store": "default", "count": 257 },
            // Closed stores free their slots.
            { "op": "kv.open_many", "store": "default", "count": 256 },
        ]))
        .await;
    assert_eq!(r, vec![ok(json!(256)), err("store-table-full"), ok(json!(256))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_store_that_is_not_configured_stops_the_app() {
    // probe.toml lists `cache`; without a runtime config it does not exist.
    let mut start = Start::fixture("probe.toml").variable("secret_token", SECRET);
    start.options.runtime_config_file = None;
    let e = start.load().await.err().expect("the app must not load");
    let text = format!("{e:#}");
    assert!(text.contains("\"cache\"") && text.contains("[key_value_store.cache]"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increment_and_compare_and_swap() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "wkv.increment", "store": "default", "key": "n", "delta": 5 },
            { "op": "wkv.increment", "store": "default", "key": "n", "delta": -7 },
            { "op": "kv.set", "store": "default", "key": "word", "value": "abc" },
            { "op": "wkv.increment", "store": "default", "key": "word", "delta": 1 },
            // Expecting absence: inserts once, then fails with the value now there.
            { "op": "wkv.cas", "store": "default", "key": "lease", "value": "me" },
            { "op": "wkv.cas", "store": "default", "key": "lease", "value": "you", "read": false },
            // current() then swap(): replaces what was read.
            { "op": "wkv.cas", "store": "default", "key": "lease", "value": "me again" },
            { "op": "kv.get", "store": "default", "key": "lease" },
        ]))
        .await;
    assert_eq!(r[0], ok(json!(5)));
    assert_eq!(r[1], ok(json!(-2)));
    assert!(r[3]["err"].as_str().unwrap_or_default().contains("not a 64-bit integer"), "{:?}", r[3]);
    assert_eq!(r[4], ok(json!({ "swapped": true, "previous": null })));
    assert_eq!(r[5], ok(json!({ "swapped": false, "previous": null, "current": "me" })));
    assert_eq!(r[6], ok(json!({ "swapped": true, "previous": "me" })));
    assert_eq!(r[7], ok(json!("me again")));
    // Counters are Spin's 8 little-endian bytes: the spin interface reads them raw.
    let raw = app.probe_one(json!({ "op": "kv.get", "store": "default", "key": "n" })).await;
    assert_eq!(raw["ok"].as_str().map(|s| s.chars().count()), Some(8), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_and_list_keys() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "wkv.set_many", "store": "cache", "entries": [["a", "1"], ["b", "2"], ["c", "3"]] },
            { "op": "wkv.get_many", "store": "cache", "keys": ["a", "missing", "c"] },
            { "op": "wkv.delete_many", "store": "cache", "keys": ["a", "missing"] },
            { "op": "kv.keys", "store": "cache" },
            { "op": "wkv.keys", "store": "cache", "cursor": "page-2" },
        ]))
        .await;
    assert_eq!(r[0], ok(Json::Null));
    let mut got: Vec<Json> = r[1]["ok"].as_array().cloned().unwrap_or_default();
    got.sort_by_key(|p| p[0].as_str().unwrap_or_default().to_string());
    // Absent keys are left out, as Spin does.
    assert_eq!(got, vec![json!(["a", "1"]), json!(["c", "3"])]);
    assert_eq!(r[2], ok(Json::Null));
    let mut keys: Vec<String> = serde_json::from_value(r[3]["ok"].clone()).unwrap_or_default();
    keys.sort();
    assert_eq!(keys, vec!["b", "c"]);
    assert_eq!(r[4], err("other: list_keys: cursor not supported"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_from_concurrent_instances_all_count() {
    let app = Start::probe().start().await;
    let mut requests = Vec::new();
    for _ in 0..40 {
        let client = app.client.clone();
        let url = app.url("/probe/inc");
        requests.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({ "ops": [{ "op": "wkv.increment", "store": "default", "key": "hits", "delta": 1 }] }))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for r in requests {
        assert_eq!(r.await.expect("task").expect("request"), 200);
    }
    let total = app.probe_one(json!({ "op": "wkv.increment", "store": "default", "key": "hits", "delta": 0 })).await;
    assert_eq!(total, ok(json!(40)));
}

/// Two host processes on one key-value file: increments and compare-and-swap
/// stay exact across them.
#[test]
fn increments_and_cas_are_atomic_across_two_host_processes() {
    let temp = tempfile::tempdir().expect("temp");
    let state = temp.path().join("state");
    let rc = probe_runtime_config(temp.path());
    let start = || {
        e2e::App::builder()
            .manifest(fixture("probe.toml"))
            .variable("secret_token", SECRET)
            .state_dir(&state)
            .arg("--runtime-config-file")
            .arg(rc.display().to_string())
            .start()
    };
    let (a, b) = (start(), start());
    let bases = [a.base.clone(), b.base.clone()];
    let per_worker = 25;
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let base = bases[i % 2].clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut won = 0;
                for _ in 0..per_worker {
                    let body = json!({ "ops": [
                        { "op": "wkv.increment", "store": "default", "key": "shared", "delta": 1 },
                        // Every worker tries to take the same lease; exactly one may.
                        { "op": "wkv.cas", "store": "cache", "key": "lease", "value": format!("worker-{i}"), "read": false },
                    ] });
                    let answer: Json =
                        client.post(format!("{base}/probe/p")).json(&body).send().expect("request").json().expect("JSON");
                    assert!(answer["results"][0]["ok"].is_i64(), "{answer}");
                    if answer["results"][1]["ok"]["swapped"] == json!(true) {
                        won += 1;
                    }
                }
                won
            })
        })
        .collect();
    let wins: i32 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    assert_eq!(wins, 1, "exactly one compare-and-swap may insert the lease");
    let client = reqwest::blocking::Client::new();
    let answer: Json = client
        .post(format!("{}/probe/p", bases[1]))
        .json(&json!({ "ops": [{ "op": "wkv.increment", "store": "default", "key": "shared", "delta": 0 }] }))
        .send()
        .expect("request")
        .json()
        .expect("JSON");
    assert_eq!(answer["results"][0], ok(json!(4 * per_worker)));
}
