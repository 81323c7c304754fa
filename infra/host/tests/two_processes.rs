//! Two `spin-host` processes sharing their key-value stores, as two
//! replicas of the app do: on one Redis, and on one SQLite key-value file.
//! Four clients drive both processes at once with the patterns the sender
//! relies on, and every one must hold exactly:
//!
//! - a counter (`increment`) loses no update;
//! - a pacing budget (take a slot with `increment` on a per-minute bucket,
//!   keep it only if the count is within the budget) is never exceeded and
//!   fully used;
//! - an idempotency key (insert-only compare-and-swap) is claimed by exactly
//!   one client however many try;
//! - a lease taken with compare-and-swap has exactly one holder.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use e2e::redis::RedisServer;

/// Slots in the pacing bucket.
const BUDGET: i64 = 37;
/// Requests per client.
const ROUNDS: usize = 30;
/// Clients, alternating between the two processes.
const CLIENTS: usize = 4;

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Budget slots it kept.
    slots: i64,
    /// Idempotency keys it claimed.
    claimed: Vec<usize>,
    /// Leases it won.
    leases: usize,
}

fn start(state: &Path, runtime_config: &Path) -> e2e::App {
    e2e::App::builder()
        .manifest(fixture("probe.toml"))
        .variable("secret_token", SECRET)
        .state_dir(state)
        .arg("--runtime-config-file")
        .arg(runtime_config.display().to_string())
        .start()
}

/// Run the clients against the two processes and check every invariant.
fn contend(a: &e2e::App, b: &e2e::App) {
    let bases = [a.base.clone(), b.base.clone()];
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let base = bases[i % 2].clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut seen = Seen::default();
                for round in 0..ROUNDS {
                    let body = json!({ "ops": [
                        { "op": "wkv.increment", "store": "default", "key": "hits", "delta": 1 },
                        { "op": "wkv.increment", "store": "default", "key": "budget:2024-06-05T12:00", "delta": 1 },
                        { "op": "wkv.cas", "store": "cache", "key": format!("idem:{round}"), "value": format!("client-{i}"), "read": false },
                        { "op": "wkv.cas", "store": "cache", "key": "lease", "value": format!("client-{i}"), "read": false },
                    ] });
                    let answer: Json =
                        client.post(format!("{base}/probe/p")).json(&body).send().expect("request").json().expect("JSON");
                    let r = &answer["results"];
                    assert!(r[0]["ok"].is_i64(), "{answer}");
                    let taken = r[1]["ok"].as_i64().unwrap_or_else(|| panic!("{answer}"));
                    if taken <= BUDGET {
                        seen.slots += 1;
                    }
                    if r[2]["ok"]["swapped"] == json!(true) {
                        seen.claimed.push(round);
                    }
                    if r[3]["ok"]["swapped"] == json!(true) {
                        seen.leases += 1;
                    }
                }
                seen
            })
        })
        .collect();
    let seen: Vec<Seen> = clients.into_iter().map(|c| c.join().expect("client")).collect();

    assert_eq!(seen.iter().map(|s| s.slots).sum::<i64>(), BUDGET, "the budget is used exactly, never exceeded");
    let mut claims: BTreeMap<usize, usize> = BTreeMap::new();
    for round in seen.iter().flat_map(|s| &s.claimed) {
        *claims.entry(*round).or_default() += 1;
    }
    assert_eq!(claims.len(), ROUNDS, "every idempotency key was claimed");
    assert!(claims.values().all(|n| *n == 1), "no idempotency key was claimed twice: {claims:?}");
    assert_eq!(seen.iter().map(|s| s.leases).sum::<usize>(), 1, "exactly one lease holder");

    let client = reqwest::blocking::Client::new();
    let answer: Json = client
        .post(format!("{}/probe/p", bases[1]))
        .json(&json!({ "ops": [{ "op": "wkv.increment", "store": "default", "key": "hits", "delta": 0 }] }))
        .send()
        .expect("request")
        .json()
        .expect("JSON");
    assert_eq!(answer["results"][0], ok(json!((CLIENTS * ROUNDS) as i64)), "no increment lost");
}

#[test]
fn budget_idempotency_keys_and_leases_hold_across_two_host_processes_on_one_redis() {
    let redis = RedisServer::start();
    let temp = tempfile::tempdir().expect("temp");
    let rc = redis_runtime_config(temp.path(), &redis.url());
    // Separate state directories: the processes share nothing but Redis.
    let a = start(&temp.path().join("a"), &rc);
    let b = start(&temp.path().join("b"), &rc);
    contend(&a, &b);
    assert_eq!(redis.get("hits").as_deref(), Some(format!("{}", CLIENTS * ROUNDS).as_bytes()));
}

#[test]
fn budget_idempotency_keys_and_leases_hold_across_two_host_processes_on_one_sqlite_file() {
    let temp = tempfile::tempdir().expect("temp");
    let state = temp.path().join("state");
    let rc = probe_runtime_config(temp.path());
    let a = start(&state, &rc);
    let b = start(&state, &rc);
    contend(&a, &b);
}
