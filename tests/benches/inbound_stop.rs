//! Benchmark: p50 / p99 latency of a signed STOP webhook at 200 concurrent
//! requests on loopback through the local host, against the trivial `hello`
//! component measured in the same run (same bodies, same client, rounds
//! interleaved so background load hits both alike).
//!
//! Target (BENCHMARKS.md, "Inbound webhook"): STOP p50 within 2x of the
//! trivial p50, no errors, every STOP stored. Exits non-zero on any error or
//! any STOP not stored; the latency ratio is reported, not asserted.
//!
//! `INBOUND_BENCH_REQUESTS` (default 2000) STOPs, each from its own tenant's
//! number, `INBOUND_BENCH_CONCURRENCY` (default 200) clients.

use e2e::twilio::{form_body, inbound_sms, signature};
use e2e::bench::{env_usize, import_stop_tenants, percentile_ms, post_webhooks, stop_tenant_number, stops_stored, SignedWebhook};
use e2e::{workspace_root, App};
use std::sync::Arc;
use std::time::Duration;

const AUTH: &str = "bench-sms-auth-token-0c9e44";
const PUBLIC: &str = "https://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";
const ROUNDS: usize = 2;

fn prepare(prefix: &str, from: impl Fn(usize) -> String, text: &str, n: usize) -> Vec<SignedWebhook> {
    let url = format!("{PUBLIC}/webhooks/sms");
    (0..n)
        .map(|i| {
            let sid = format!("SM{prefix}{i:030}");
            let from = from(i);
            let fields = inbound_sms(&sid, &from, OUR_NUMBER, text);
            SignedWebhook { body: form_body(&fields), signature: signature(AUTH, &url, &fields) }
        })
        .collect()
}

/// CPU time (user + system, all threads, seconds) a process has used so far,
/// from `/proc/<pid>/stat`; 0 where that is not available.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Linux reports these in USER_HZ, 100 per second.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used by the host process, by this process (the client), during `phase`.
async fn with_cpu<T>(host_pid: u32, phase: impl std::future::Future<Output = T>) -> (T, f64, f64) {
    let (host, client) = (cpu_seconds(&host_pid.to_string()), cpu_seconds("self"));
    let out = phase.await;
    (out, cpu_seconds(&host_pid.to_string()) - host, cpu_seconds("self") - client)
}

fn main() {
    let n = env_usize("INBOUND_BENCH_REQUESTS", 2000);
    let concurrency = env_usize("INBOUND_BENCH_CONCURRENCY", 200);
    let hello = App::builder().manifest(workspace_root().join("infra/host/fixtures/apps/hello.toml")).start();
    let product = App::builder()
        .variable("sms_auth_token", AUTH)
        .variable("public_base_url", PUBLIC)
        .variable("sms_from", OUR_NUMBER)
        .start();

    // One tenant per STOP, each with its own mobile number.
    import_stop_tenants(&product, n);

    let stops = prepare("stop", stop_tenant_number, "STOP", n);
    // Warm-up (not measured): free text from unknown numbers, same path and size.
    let warm = prepare("warm", |i| format!("+1212{:03}{:04}", 201 + i / 10_000, i % 10_000), "STOP?!x", concurrency * 2);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let hello_url = hello.url("/webhooks/sms");
    let product_url = product.url("/webhooks/sms");
    let (mut hello_lat, mut stop_lat) = (Vec::new(), Vec::new());
    let (mut hello_failed, mut stop_failed) = (0, 0);
    let (mut hello_time, mut stop_time) = (Duration::ZERO, Duration::ZERO);
    // CPU seconds of the serving host and of the client, per phase kind.
    let (mut hello_cpu, mut stop_cpu) = ((0.0, 0.0), (0.0, 0.0));
    rt.block_on(async {
        let warm = Arc::new(warm);
        let (_, f, _) = post_webhooks(&client, &hello_url, warm.clone(), concurrency).await;
        hello_failed += f;
        let (_, f, _) = post_webhooks(&client, &product_url, warm.clone(), concurrency).await;
        stop_failed += f;
        let per_round = n.div_ceil(ROUNDS);
        let mut chunks: Vec<Vec<SignedWebhook>> = Vec::new();
        let mut it = stops.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(it.by_ref().take(per_round).collect());
        }
        // `PROFILE_WAIT=1`: name the STOP host's pid and pause so a profiler can attach.
        if std::env::var_os("PROFILE_WAIT").is_some() {
            eprintln!("PROFILE_GO {}", product.pid());
            std::thread::sleep(Duration::from_secs(3));
        }
        for chunk in chunks {
            let chunk = Arc::new(chunk);
            let ((lat, f, t), host, client_cpu) = with_cpu(hello.pid(), post_webhooks(&client, &hello_url, chunk.clone(), concurrency)).await;
            hello_lat.extend(lat);
            hello_failed += f;
            hello_time += t;
            hello_cpu = (hello_cpu.0 + host, hello_cpu.1 + client_cpu);
            let ((lat, f, t), host, client_cpu) = with_cpu(product.pid(), post_webhooks(&client, &product_url, chunk, concurrency)).await;
            stop_lat.extend(lat);
            stop_failed += f;
            stop_time += t;
            stop_cpu = (stop_cpu.0 + host, stop_cpu.1 + client_cpu);
        }
    });

    // Every STOP stored: each tenant's number is excluded by the customer.
    let missing = n - stops_stored(&product, n);

    hello_lat.sort_unstable();
    stop_lat.sort_unstable();
    let (h50, h99) = (percentile_ms(&hello_lat, 50.0), percentile_ms(&hello_lat, 99.0));
    let (s50, s99) = (percentile_ms(&stop_lat, 50.0), percentile_ms(&stop_lat, 99.0));
    println!("inbound webhook benchmark: {n} signed STOPs, {concurrency} concurrent clients, loopback, local host");
    println!(
        "  trivial (hello):  p50 {h50:8.2} ms   p99 {h99:8.2} ms   {:7.0} req/s   errors {hello_failed}",
        hello_lat.len() as f64 / hello_time.as_secs_f64()
    );
    println!(
        "  signed STOP:      p50 {s50:8.2} ms   p99 {s99:8.2} ms   {:7.0} req/s   errors {stop_failed}",
        stop_lat.len() as f64 / stop_time.as_secs_f64()
    );
    println!("  ratio STOP/trivial: p50 {:.2}x   p99 {:.2}x   (target p50 <= 2x)", s50 / h50, s99 / h99);
    // Where the time goes: CPU per request of the host serving it and of this client.
    let per = |cpu: f64, n: usize| cpu * 1e6 / n.max(1) as f64;
    println!(
        "  CPU per request, host / client: trivial {:.0} / {:.0} us   STOP {:.0} / {:.0} us",
        per(hello_cpu.0, hello_lat.len()),
        per(hello_cpu.1, hello_lat.len()),
        per(stop_cpu.0, stop_lat.len()),
        per(stop_cpu.1, stop_lat.len()),
    );
    println!("  STOPs stored: {}/{n}", n - missing);
    if hello_failed + stop_failed > 0 || missing > 0 {
        eprintln!("FAILED: {hello_failed} trivial errors, {stop_failed} STOP errors, {missing} STOPs not stored");
        std::process::exit(1);
    }
}
