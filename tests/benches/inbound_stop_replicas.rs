//! Benchmark: signed STOP webhooks at 200 concurrent requests split over two
//! host processes (two replicas) that share one SQLite database file, as in
//! `tests/tests/scale_out.rs`. Both processes write the same file, so each
//! one's writers wait for the other's write lock; this checks that neither
//! replica is starved under saturation (no errors, no request near SQLite's
//! busy timeout, every STOP stored) and reports each replica's latency.
//!
//! `INBOUND_BENCH_REQUESTS` (default 4000) STOPs, `INBOUND_BENCH_CONCURRENCY`
//! (default 200) clients, half of them on each replica.

use e2e::bench::{env_usize, import_stop_tenants, percentile_ms, post_webhooks, stop_tenant_number, stops_stored, SignedWebhook};
use e2e::twilio::{form_body, inbound_sms, signature};
use e2e::App;
use std::sync::Arc;
use std::time::Instant;

const AUTH: &str = "bench-sms-auth-token-0c9e44";
const PUBLIC: &str = "https://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";

fn replica(state: &std::path::Path) -> App {
    App::builder()
        .variable("sms_auth_token", AUTH)
        .variable("public_base_url", PUBLIC)
        .variable("sms_from", OUR_NUMBER)
        .state_dir(state)
        .start()
}

fn main() {
    let n = env_usize("INBOUND_BENCH_REQUESTS", 4000);
    let concurrency = env_usize("INBOUND_BENCH_CONCURRENCY", 200);
    let state = tempfile::tempdir().expect("state dir");
    let a = replica(state.path());
    let b = replica(state.path());

    import_stop_tenants(&a, n);

    let url = format!("{PUBLIC}/webhooks/sms");
    let prepare = |from: &dyn Fn(usize) -> String, prefix: &str, count: usize| -> Vec<SignedWebhook> {
        (0..count)
            .map(|i| {
                let (sid, sender) = (format!("SM{prefix}{i:030}"), from(i));
                let fields = inbound_sms(&sid, &sender, OUR_NUMBER, "STOP");
                SignedWebhook { body: form_body(&fields), signature: signature(AUTH, &url, &fields) }
            })
            .collect()
    };
    // Each replica gets every other STOP; each list is drawn by its own clients.
    let stops = prepare(&stop_tenant_number, "stop", n);
    let warm_from = |i: usize| format!("+1212{:03}{:04}", 201 + i / 10_000, i % 10_000);
    let (even, odd): (Vec<_>, Vec<_>) = stops.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let even: Arc<Vec<SignedWebhook>> = Arc::new(even.into_iter().map(|(_, p)| p).collect());
    let odd: Arc<Vec<SignedWebhook>> = Arc::new(odd.into_iter().map(|(_, p)| p).collect());
    let warm = Arc::new(prepare(&warm_from, "warm", concurrency * 2));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (a_url, b_url) = (a.url("/webhooks/sms"), b.url("/webhooks/sms"));
    let half = concurrency / 2;
    let ((mut a_lat, a_failed), (mut b_lat, b_failed), took) = rt.block_on(async {
        let (wa, wb) = (warm.clone(), warm.clone());
        let (ua, ub) = (a_url.clone(), b_url.clone());
        let _ = tokio::join!(post_webhooks(&ua, wa, 0, half), post_webhooks(&ub, wb, 0, half));
        let started = Instant::now();
        let (pa, pb) = tokio::join!(post_webhooks(&ua, even, 0, half), post_webhooks(&ub, odd, 0, concurrency - half));
        ((pa.latencies, pa.failed), (pb.latencies, pb.failed), started.elapsed())
    });

    let missing = n - stops_stored(&a, n);
    a_lat.sort_unstable();
    b_lat.sort_unstable();
    println!("two replicas, one SQLite file: {n} signed STOPs, {concurrency} concurrent clients ({half} per replica), loopback");
    for (name, lat, failed) in [("replica A", &a_lat, a_failed), ("replica B", &b_lat, b_failed)] {
        println!(
            "  {name}: {:5} STOPs  p50 {:8.2} ms  p99 {:8.2} ms  max {:8.2} ms  errors {failed}",
            lat.len(),
            percentile_ms(lat, 50.0),
            percentile_ms(lat, 99.0),
            lat.last().copied().unwrap_or(0) as f64 / 1000.0
        );
    }
    println!("  together: {:.0} STOP/s; STOPs stored: {}/{n}", n as f64 / took.as_secs_f64(), n - missing);
    if a_failed + b_failed > 0 || missing > 0 {
        eprintln!("FAILED: {} errors, {missing} STOPs not stored", a_failed + b_failed);
        std::process::exit(1);
    }
}
