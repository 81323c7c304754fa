//! Throughput of the key-value operations the sender's pacing and
//! idempotency rest on (`increment` on a per-minute bucket, insert-only
//! compare-and-swap on an idempotency key), on each backend the host
//! offers, and through the host itself. Feeds `infra/CAPACITY.md`.
//!
//! 1. Backends, called as the guest interfaces call them (no wasm): process
//!    memory (the baseline: the cost of the call path alone), Spin's SQLite
//!    file, the file shared by two connections (as two host processes share
//!    it), a real `redis-server`, and two clients on it. One client, then 32
//!    concurrent ones, back to back for a fixed time.
//! 2. Through the host: the probe fixture answering a request that takes a
//!    budget slot and claims an idempotency key, with key-value on the
//!    SQLite file and on Redis, against the same request with no operation
//!    (the baseline: instance and HTTP cost), 32 concurrent clients.
//!
//! Run: `cargo xtask bench` (or `cargo bench --profile host -p spin-host --bench kv_atomics`)
//! after `cargo xtask build-wasm`; needs `redis-server` (Debian package).
//! `KV_BENCH_SECS` sets each phase's length (default 3).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::redis::RedisServer;
use spin_host::key_value::backend::{KvBackend, MemoryKv, OnBlockingPool, SqliteKv};
use spin_host::key_value::redis::RedisKv;

/// Concurrent clients in the loaded phases.
const CONCURRENCY: usize = 32;

#[derive(Clone, Copy)]
enum Op {
    /// `increment(bucket, 1)`: one budget slot.
    Increment,
    /// `compare_and_swap(fresh key, absent → "1")`: one idempotency key.
    ClaimKey,
}

struct Stats {
    ops: usize,
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

fn stats(mut lat: Vec<u64>, elapsed: Duration) -> Stats {
    lat.sort_unstable();
    let at = |q: f64| lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0) as f64;
    Stats { ops: lat.len(), per_sec: lat.len() as f64 / elapsed.as_secs_f64(), p50_us: at(0.50), p99_us: at(0.99) }
}

/// Run `op` from `concurrency` tasks spread over `clients` for `phase`.
async fn run(clients: &[Arc<dyn KvBackend>], concurrency: usize, op: Op, phase: Duration) -> Stats {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let kv = clients[t % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let ok = match op {
                    Op::Increment => kv.increment("bench", &format!("budget:{run}"), 1).await.map(|_| true),
                    Op::ClaimKey => kv.compare_and_swap("bench", &format!("idem:{run}:{t}:{n}"), None, b"1".to_vec()).await,
                };
                assert_eq!(ok, Ok(true), "every operation must succeed");
                lat.push(t0.elapsed().as_micros() as u64);
                n += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    stats(all, started.elapsed())
}

fn row(label: &str, s: &Stats, baseline: f64) {
    println!(
        "| {label} | {:.0} | {:.0} | {:.0} | {:.2} |",
        s.per_sec,
        s.p50_us,
        s.p99_us,
        baseline / s.per_sec
    );
}

/// Requests per second and latency of POSTing `body(i)` to `url` from CONCURRENCY clients.
async fn http_phase(client: &reqwest::Client, url: &str, body: fn(u64) -> String, phase: Duration) -> Stats {
    static REQ: AtomicU64 = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let b = body(REQ.fetch_add(1, Ordering::Relaxed));
                let t0 = Instant::now();
                let resp = client.post(&url).header("content-type", "application/json").body(b).send().await.expect("request");
                assert_eq!(resp.status(), 200);
                let answer: serde_json::Value = resp.json().await.expect("JSON");
                let results = answer["results"].as_array().cloned().unwrap_or_default();
                assert!(results.iter().all(|r| r.get("ok").is_some()), "{answer}");
                lat.push(t0.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    stats(all, started.elapsed())
}

fn empty(_: u64) -> String {
    r#"{"ops":[]}"#.to_string()
}

fn slot_and_key(i: u64) -> String {
    serde_json::json!({ "ops": [
        { "op": "wkv.increment", "store": "default", "key": "budget:2024-06-05T12:00", "delta": 1 },
        { "op": "wkv.cas", "store": "default", "key": format!("idem:{i}"), "value": "sent", "read": false },
    ] })
    .to_string()
}

// `..Default::default()` keeps this building when the host gains options.
#[allow(clippy::needless_update)]
async fn serve(root: &Path, state: &Path, runtime_config: &Path) -> anyhow::Result<(spin_host::Host, String)> {
    let host = spin_host::Host::load(spin_host::HostOptions {
        manifest: root.join("fixtures/apps/probe.toml"),
        state_dir: Some(state.to_path_buf()),
        runtime_config_file: Some(runtime_config.to_path_buf()),
        variables: vec![("secret_token".into(), "bench".into())],
        ..Default::default()
    })
    .await?;
    let listener = spin_host::triggers::http::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/probe/bench", listener.local_addr()?);
    let serving = host.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
    Ok((host, url))
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wasm = root.join("../../target/wasm32-wasip2/release/fixture_probe.wasm");
    anyhow::ensure!(wasm.exists(), "build the fixtures first: cargo xtask build-wasm");
    let phase = Duration::from_secs(std::env::var("KV_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;

    rt.block_on(async {
        let file = dir.path().join("kv.db");
        let sqlite = || -> anyhow::Result<Arc<dyn KvBackend>> { Ok(Arc::new(OnBlockingPool(Arc::new(SqliteKv::open(&file)?)))) };
        let redis_client = || -> anyhow::Result<Arc<dyn KvBackend>> { Ok(Arc::new(RedisKv::new(&redis.url())?)) };
        let memory: Arc<dyn KvBackend> = Arc::new(OnBlockingPool(Arc::new(MemoryKv::default())));
        let backends: Vec<(&str, Vec<Arc<dyn KvBackend>>)> = vec![
            ("memory (baseline)", vec![memory]),
            ("SQLite file", vec![sqlite()?]),
            ("SQLite file, 2 connections", vec![sqlite()?, sqlite()?]),
            ("Redis", vec![redis_client()?]),
            ("Redis, 2 clients", vec![redis_client()?, redis_client()?]),
        ];

        println!("Key-value atomics, by backend ({}s phases, 2 tokio workers)", phase.as_secs());
        for (op, op_label) in [(Op::Increment, "increment (budget slot)"), (Op::ClaimKey, "insert-only CAS (idempotency key)")] {
            for concurrency in [1, CONCURRENCY] {
                println!();
                println!("{op_label}, {concurrency} concurrent");
                println!("| backend | ops/s | p50 µs | p99 µs | cost vs baseline |");
                println!("|---|---:|---:|---:|---:|");
                let mut baseline = None;
                for (label, clients) in &backends {
                    let s = run(clients, concurrency, op, phase).await;
                    let base = *baseline.get_or_insert(s.per_sec);
                    row(label, &s, base);
                    assert!(s.ops > 0);
                }
            }
        }

        // Through the host: the probe fixture with key-value on each backend.
        let sqlite_rc = dir.path().join("rc-sqlite.toml");
        std::fs::write(
            &sqlite_rc,
            format!(
                "[key_value_store.default]\ntype = \"spin\"\npath = {:?}\n[key_value_store.cache]\ntype = \"spin\"\n",
                dir.path().join("host-kv.db").display().to_string()
            ),
        )?;
        let redis_rc = dir.path().join("rc-redis.toml");
        std::fs::write(
            &redis_rc,
            format!(
                "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n[key_value_store.cache]\ntype = \"spin\"\n",
                redis.url_db(2)
            ),
        )?;
        let (_h1, on_sqlite) = serve(root, &dir.path().join("s1"), &sqlite_rc).await?;
        let (_h2, on_redis) = serve(root, &dir.path().join("s2"), &redis_rc).await?;
        let client = reqwest::Client::new();
        // Warm up both.
        http_phase(&client, &on_sqlite, slot_and_key, Duration::from_millis(500)).await;
        http_phase(&client, &on_redis, slot_and_key, Duration::from_millis(500)).await;
        println!();
        println!("Through the host: one request = take a budget slot + claim an idempotency key ({CONCURRENCY} clients)");
        println!("| request | req/s | p50 µs | p99 µs | cost vs baseline |");
        println!("|---|---:|---:|---:|---:|");
        let base = http_phase(&client, &on_sqlite, empty, phase).await;
        row("no operation (baseline)", &base, base.per_sec);
        let s = http_phase(&client, &on_sqlite, slot_and_key, phase).await;
        row("key-value on the SQLite file", &s, base.per_sec);
        let r = http_phase(&client, &on_redis, slot_and_key, phase).await;
        row("key-value on Redis", &r, base.per_sec);
        anyhow::Ok(())
    })?;
    Ok(())
}
