//! Outbound pacing benchmark: the rate a fake SMS provider actually sees
//! against `send_rate_per_minute`, through the real local host.
//!
//! A portfolio of 1.2 × rate overdue, opted-in tenants is loaded through the
//! staff API and scanned (`POST /api/scan`), so more notices are due than
//! one minute's budget. Just before a minute starts, two senders run at
//! once and keep going: `spin-host cron outbound-send` ticks (a process per
//! tick, as the cron trigger would fire) and `POST /api/send` passes on the
//! running host. They share the budget in key-value. The fake provider
//! (127.0.0.1) records when each message arrives.
//!
//! Reported: messages per calendar minute (the budget's unit) for the first
//! full minute, achieved / configured (target 0.95-1.0, never above), the
//! largest count in any sliding 60-second window, and the spacing of
//! arrivals (pacing, not a burst).
//!
//! Run: `cargo xtask bench -p e2e --bench outbound_pacing`;
//! `BENCH_RATE` (default 600) sets the rate.

use e2e::{json, App, FakeServer, Recorded};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SID: &str = "AC00000000000000000000000000000009";
const TOKEN: &str = "bench-sms-token";

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    let rate: usize = std::env::var("BENCH_RATE").unwrap_or_else(|_| "600".into()).parse()?;
    let tenants = rate * 6 / 5;
    let arrivals: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let n = Arc::new(AtomicUsize::new(0));
    let sms = FakeServer::start(move |r: &Recorded| {
        if r.form_field("To").is_none() {
            return (400, "application/json".into(), r#"{"code":21604,"message":"To is required"}"#.into());
        }
        if let Ok(mut a) = seen.lock() {
            a.push(now_secs());
        }
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        (201, "application/json".into(), format!(r#"{{"sid":"SM{i:032}","status":"queued"}}"#))
    });
    let app = App::builder()
        .variable("public_base_url", "http://rent.example")
        .variable("sms_api_base", sms.base.as_str())
        .variable("sms_account_sid", SID)
        .variable("sms_auth_token", TOKEN)
        .variable("sms_from", "+15005550006")
        .variable("send_rate_per_minute", rate.to_string())
        .start();

    // The portfolio: every tenant 12 days late, opted in, a UK mobile.
    let zone = e2e::zone_at_local_hour(12);
    let (s, b) = app.import("properties", &format!("property_id,name,time_zone,state,country\nP1,Maple Court,{zone},,GB\n"));
    anyhow::ensure!(s == 200, "{b}");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for i in 0..tenants {
        csv.push_str(&format!("t{i},P1,Tenant {i},U{i},07911 {:06},,,,,,GB,,\n", 100_000 + i));
        ledger.push_str(&format!("t{i},{due},{due},charge,950.00,RENT\n"));
    }
    let (s, b) = app.import("tenants", &csv);
    anyhow::ensure!(s == 200 && b["rejected"] == json!([]), "{b}");
    let (s, b) = app.import("ledger", &ledger);
    anyhow::ensure!(s == 200 && b["rejected"] == json!([]), "{b}");
    for i in 0..tenants {
        let (s, b) = app.staff_put(&format!("/api/tenants/t{i}/consent"), &json!({"status": "opted_in", "evidence": "lease section 12"}));
        anyhow::ensure!(s == 200, "{b}");
    }
    let (_, mut schedule) = app.staff_get("/api/notice-schedule");
    schedule["skip_sundays"] = json!(false);
    for stage in schedule["stages"].as_array_mut().into_iter().flatten() {
        stage["channels"] = json!(["text"]);
    }
    let (s, b) = app.staff_put("/api/notice-schedule", &schedule);
    anyhow::ensure!(s == 200, "{b}");
    let (s, report) = app.staff_post("/api/scan", &json!({}));
    anyhow::ensure!(s == 200 && report["allowed"] == json!(tenants), "{report}");

    // Start both senders two seconds before a minute begins.
    let wait = 58.0 - now_secs().rem_euclid(60.0);
    std::thread::sleep(Duration::from_secs_f64(if wait > 0.0 { wait } else { wait + 60.0 }));
    let started = now_secs();
    let done = Arc::new(AtomicBool::new(false));
    let app = Arc::new(app);
    let cron = {
        let (app, done) = (app.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let out = app.cron("outbound-send");
                if !out.status.success() {
                    eprintln!("cron tick failed: {}", String::from_utf8_lossy(&out.stderr));
                }
            }
        })
    };
    let http = {
        let (app, done) = (app.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let (s, b) = app.staff_post("/api/send", &json!({"max_seconds": 60}));
                if s != 200 {
                    eprintln!("send pass: {s} {b}");
                }
            }
        })
    };
    while arrivals.lock().map(|a| a.len()).unwrap_or(0) < tenants && now_secs() - started < 200.0 {
        std::thread::sleep(Duration::from_millis(200));
    }
    done.store(true, Ordering::SeqCst);
    let _ = cron.join();
    let _ = http.join();

    let mut times = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    times.sort_by(f64::total_cmp);
    anyhow::ensure!(!times.is_empty(), "nothing arrived");
    let first_full = (started / 60.0).floor() as i64 + 1;
    let in_minute = |m: i64| times.iter().filter(|t| (**t / 60.0).floor() as i64 == m).count();
    let full = in_minute(first_full);
    let mut max_window = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while times[j] <= times[i] - 60.0 {
            j += 1;
        }
        max_window = max_window.max(i + 1 - j);
    }
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64| sorted.get(((sorted.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0.0);
    println!("outbound pacing through the local host: send_rate_per_minute = {rate}, {tenants} notices due, two senders (cron ticks + POST /api/send)");
    println!("arrivals at the fake provider: {} in {:.1} s", times.len(), times[times.len() - 1] - times[0]);
    for m in first_full - 1..=first_full + 1 {
        println!("  calendar minute {m}: {} messages", in_minute(m));
    }
    println!(
        "first full minute: {full} / {rate} = {:.3} achieved / configured (target 0.95-1.0, never above)",
        full as f64 / rate as f64
    );
    println!("largest count in any sliding 60 s window: {max_window} ({:.3} of the rate)", max_window as f64 / rate as f64);
    println!(
        "gap between arrivals: median {:.1} ms, p5 {:.1} ms, p95 {:.1} ms (the slot is {:.1} ms)",
        pct(0.5) * 1e3,
        pct(0.05) * 1e3,
        pct(0.95) * 1e3,
        60_000.0 / rate as f64
    );
    Ok(())
}
