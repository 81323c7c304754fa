//! Benchmark: p50 / p99 latency of opening a payment link (`GET
//! /pay/:token`: token check, ledger summary, page render, open logged)
//! through the local host, against the trivial `hello` component measured
//! in the same run with the same client, rounds interleaved.
//!
//! Target (BENCHMARKS.md, "Payment links"): page p50 within 5x of the
//! trivial p50 on loopback, no errors. Exits non-zero on any error; the
//! ratio is reported, not asserted.
//!
//! The links are real: `PAGE_BENCH_TENANTS` (default 20) tenants get a
//! notice through the scan and send crons (fake SMS provider), and the
//! links in the texts are opened `PAGE_BENCH_REQUESTS` (default 2000) times
//! in turn by `PAGE_BENCH_CONCURRENCY` (default 20) clients.

use e2e::bench::{cpu_seconds, env_usize, percentile_ms};
use e2e::{json, workspace_root, App, FakeServer, Recorded};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SID: &str = "AC00000000000000000000000000000001";
const SMS_TOKEN: &str = "bench-sms-token";
const PUBLIC: &str = "http://rent.example";
const ROUNDS: usize = 4;

async fn fire(client: &reqwest::Client, urls: Arc<Vec<String>>, concurrency: usize) -> (Vec<u64>, usize, Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, urls, next) = (client.clone(), urls.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut failed, mut bytes) = (Vec::new(), 0, 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(url) = urls.get(i) else { break };
                let t = Instant::now();
                let ok = match client.get(url).send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        match resp.bytes().await {
                            Ok(b) => {
                                bytes = b.len();
                                status == 200
                            }
                            Err(_) => false,
                        }
                    }
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_micros() as u64);
                failed += usize::from(!ok);
            }
            (lat, failed, bytes)
        }));
    }
    let (mut all, mut failed, mut bytes) = (Vec::new(), 0, 0);
    for t in tasks {
        let (lat, f, b) = t.await.expect("client task");
        all.extend(lat);
        failed += f;
        bytes = bytes.max(b);
    }
    (all, failed, started.elapsed(), bytes)
}

/// CPU seconds of a serving host and of this process (the client) over some rounds.
#[derive(Default)]
struct Cpu {
    host: f64,
    client: f64,
}

impl Cpu {
    fn start(host_pid: &str) -> Cpu {
        Cpu { host: cpu_seconds(host_pid), client: cpu_seconds("self") }
    }

    fn stop(self, host_pid: &str) -> Cpu {
        Cpu { host: cpu_seconds(host_pid) - self.host, client: cpu_seconds("self") - self.client }
    }

    fn add(&mut self, other: Cpu) {
        self.host += other.host;
        self.client += other.client;
    }

    fn per_request(&self, n: usize) -> String {
        let n = n.max(1) as f64;
        format!("{:.0} / {:.0} us", self.host * 1e6 / n, self.client * 1e6 / n)
    }
}

fn main() {
    let tenants = env_usize("PAGE_BENCH_TENANTS", 20);
    let n = env_usize("PAGE_BENCH_REQUESTS", 2000);
    let concurrency = env_usize("PAGE_BENCH_CONCURRENCY", 20);
    let sms = FakeServer::start(|r: &Recorded| {
        let id = r.form_field("To").unwrap_or_default();
        (201, "application/json".into(), format!(r#"{{"sid":"SM{:0>32}","status":"queued"}}"#, id.trim_start_matches('+')))
    });
    let hello = App::builder().manifest(workspace_root().join("infra/host/fixtures/apps/hello.toml")).start();
    let product = App::builder()
        .variable("public_base_url", PUBLIC)
        .variable("sms_api_base", sms.base.as_str())
        .variable("sms_account_sid", SID)
        .variable("sms_auth_token", SMS_TOKEN)
        .variable("sms_from", "+15005550006")
        .variable("send_rate_per_minute", "6000")
        .start();

    let (s, b) = product.import("properties", &format!("property_id,name,time_zone,state,country\nP1,Maple Court,{},,GB\n", e2e::zone_at_local_hour(12)));
    assert_eq!(s, 200, "{b}");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for i in 0..tenants {
        csv.push_str(&format!("T{i},P1,Tenant {i},U{i},07911 {:06},,,,,,GB,,\n", 200_000 + i));
        ledger.push_str(&format!("T{i},{due},{due},charge,950.00,RENT-{i}\nT{i},{due},{due},charge,35.50,FEE-{i}\n"));
    }
    assert_eq!(product.import("tenants", &csv).0, 200);
    assert_eq!(product.import("ledger", &ledger).0, 200);
    let (_, mut schedule) = product.staff_get("/api/notice-schedule");
    schedule["skip_sundays"] = json!(false);
    assert_eq!(product.staff_put("/api/notice-schedule", &schedule).0, 200);
    for i in 0..tenants {
        let (s, b) = product.staff_put(&format!("/api/tenants/T{i}/consent"), &json!({"status": "opted_in", "evidence": "lease"}));
        assert_eq!(s, 200, "{b}");
    }
    for component in ["overdue-scan", "outbound-send"] {
        let out = product.cron(component);
        assert!(out.status.success(), "{component}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let links: Vec<String> = sms
        .requests()
        .iter()
        .filter_map(|r| {
            let body = r.form_field("Body")?;
            let start = body.find(&format!("{PUBLIC}/pay/"))?;
            Some(body[start..].chars().take_while(|c| !c.is_whitespace()).collect::<String>().trim_start_matches(PUBLIC).to_owned())
        })
        .collect();
    assert_eq!(links.len(), tenants, "a link texted to every tenant");

    let page_urls: Vec<String> = (0..n).map(|i| product.url(&links[i % links.len()])).collect();
    let hello_urls: Vec<String> = (0..n).map(|i| hello.url(&links[i % links.len()])).collect();
    // A token with a wrong tag: the same component and routing, the token
    // check and the "Link not valid" page, no ledger read and no write.
    // The last character is changed, never kept: a token that already ends in
    // `x` gets `y`.
    let spoil = |link: &str| {
        let (head, last) = link.split_at(link.len() - 1);
        format!("{head}{}", if last == "x" { "y" } else { "x" })
    };
    let invalid_urls: Vec<String> = (0..n).map(|i| product.url(&spoil(&links[i % links.len()]))).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).timeout(Duration::from_secs(60)).build().expect("client");
    let (mut hello_lat, mut page_lat, mut invalid_lat) = (Vec::new(), Vec::new(), Vec::new());
    let (mut hello_failed, mut page_failed, mut page_bytes) = (0, 0, 0);
    let mut invalid_not_404 = 0;
    let (mut hello_time, mut page_time) = (Duration::ZERO, Duration::ZERO);
    let (hello_pid, product_pid) = (hello.pid().to_string(), product.pid().to_string());
    let (mut hello_cpu, mut page_cpu, mut invalid_cpu) = (Cpu::default(), Cpu::default(), Cpu::default());
    rt.block_on(async {
        // Warm-up, not measured.
        let warm: Vec<String> = page_urls.iter().take(concurrency * 2).cloned().collect();
        fire(&client, Arc::new(hello_urls.iter().take(concurrency * 2).cloned().collect()), concurrency).await;
        fire(&client, Arc::new(warm), concurrency).await;
        let per_round = n.div_ceil(ROUNDS);
        for r in 0..ROUNDS {
            let range = r * per_round..((r + 1) * per_round).min(n);
            let cpu = Cpu::start(&hello_pid);
            let (lat, f, t, _) = fire(&client, Arc::new(hello_urls[range.clone()].to_vec()), concurrency).await;
            hello_cpu.add(cpu.stop(&hello_pid));
            hello_lat.extend(lat);
            hello_failed += f;
            hello_time += t;
            let cpu = Cpu::start(&product_pid);
            let (lat, f, t, b) = fire(&client, Arc::new(page_urls[range.clone()].to_vec()), concurrency).await;
            page_cpu.add(cpu.stop(&product_pid));
            page_lat.extend(lat);
            page_failed += f;
            page_time += t;
            page_bytes = page_bytes.max(b);
            // Every one of these is a 404: `fire` counts them all as "failed".
            let cpu = Cpu::start(&product_pid);
            let (lat, f, _, _) = fire(&client, Arc::new(invalid_urls[range].to_vec()), concurrency).await;
            invalid_cpu.add(cpu.stop(&product_pid));
            invalid_not_404 += lat.len() - f;
            invalid_lat.extend(lat);
        }
    });
    hello_lat.sort_unstable();
    page_lat.sort_unstable();
    invalid_lat.sort_unstable();
    let (h50, h99) = (percentile_ms(&hello_lat, 50.0), percentile_ms(&hello_lat, 99.0));
    let (p50, p99) = (percentile_ms(&page_lat, 50.0), percentile_ms(&page_lat, 99.0));
    println!("payment page benchmark: {n} opens of {tenants} real links, {concurrency} concurrent clients, loopback, local host");
    println!(
        "  trivial (hello):  p50 {h50:8.2} ms   p99 {h99:8.2} ms   {:7.0} req/s   errors {hello_failed}   CPU per request host / client {}",
        hello_lat.len() as f64 / hello_time.as_secs_f64(),
        hello_cpu.per_request(hello_lat.len())
    );
    println!(
        "  payment page:     p50 {p50:8.2} ms   p99 {p99:8.2} ms   {:7.0} req/s   errors {page_failed}   {page_bytes} bytes   CPU per request host / client {}",
        page_lat.len() as f64 / page_time.as_secs_f64(),
        page_cpu.per_request(page_lat.len())
    );
    println!(
        "  invalid link:     p50 {:8.2} ms   p99 {:8.2} ms   (token check and the 404 page, no database write)   CPU per request host / client {}",
        percentile_ms(&invalid_lat, 50.0),
        percentile_ms(&invalid_lat, 99.0),
        invalid_cpu.per_request(invalid_lat.len())
    );
    println!("  ratio page/trivial: p50 {:.2}x   p99 {:.2}x   (target p50 <= 5x)", p50 / h50, p99 / h99);
    if hello_failed + page_failed + invalid_not_404 > 0 {
        eprintln!("FAILED: {hello_failed} trivial errors, {page_failed} page errors, {invalid_not_404} invalid links answered 200");
        std::process::exit(1);
    }
}
