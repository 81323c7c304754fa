//! Outbound pacing benchmark: the rate a fake SMS provider actually sees
//! against `send_rate_per_minute`, through the real local host.
//!
//! Default scenario, "one pass": for each `send_rate_per_minute` in
//! `BENCH_RATES` (600, 2400, 4500) and each provider latency in
//! `BENCH_LATENCIES_MS` (200, 1000), enough overdue, opted-in tenants are
//! loaded and scanned, then a `spin-host up` with its cron schedule on (the
//! `outbound-send` tick every minute, one pass per tick) sends them to a
//! fake Twilio on 127.0.0.1 that answers each message after the latency.
//! Reported for each of the `BENCH_MINUTES` (default 2) full calendar
//! minutes: messages, achieved / configured (target 0.95-1.0, never above);
//! the most calls the fake held at once and the pass's own count; host CPU
//! per message (user + system time of the host process over those
//! minutes / messages); duplicates at the fake.
//!
//! Then the crash case (`BENCH_CRASH=0` skips it): at `BENCH_CRASH_RATE`
//! (600) and 1 s latency the host is killed (SIGKILL) 30 s into a minute
//! with calls in flight, restarted on the same state, and left to finish:
//! duplicates at the fake (must be 0) and rows lost (received but not
//! recorded, or neither sent nor `unknown`: must be 0).
//!
//! `BENCH_SCENARIO=shared` runs the earlier scenario instead: two senders
//! (cron ticks and `POST /api/send`) sharing the budget at `BENCH_RATE`, the
//! fake answering at once, 1.2 × rate notices.
//!
//! Run: `cargo xtask bench -p e2e --bench outbound_pacing` (or `cargo bench
//! --profile host -p e2e --bench outbound_pacing` after `cargo xtask
//! build-wasm`).

use e2e::{json, App, FakeServer, Recorded};
use rentmsg::base::db::{Db, NativeDb};
use rentmsg::records::consent::{self, ConsentChange, ConsentStatus};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SID: &str = "AC00000000000000000000000000000009";
const TOKEN: &str = "bench-sms-token";

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn env_list(name: &str, default: &str) -> anyhow::Result<Vec<u64>> {
    std::env::var(name).unwrap_or_else(|_| default.into()).split(',').map(|v| Ok(v.trim().parse::<u64>()?)).collect()
}

fn env_num(name: &str, default: u64) -> anyhow::Result<u64> {
    Ok(std::env::var(name).map(|v| v.trim().parse::<u64>()).unwrap_or(Ok(default))?)
}

fn main() -> anyhow::Result<()> {
    if std::env::var("BENCH_SCENARIO").as_deref() == Ok("shared") {
        return two_senders();
    }
    let rates = env_list("BENCH_RATES", "600,2400,4500")?;
    let latencies = env_list("BENCH_LATENCIES_MS", "200,1000")?;
    let minutes = env_num("BENCH_MINUTES", 2)?.max(1);
    println!("outbound pacing, one pass per cron tick (spin-host up, cron on), {minutes} full minute(s) per configuration; {} CPU(s)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    println!("| rate/min | latency | minute | messages | achieved/configured | max in flight (fake / pass) | host CPU per message | duplicates |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &rate in &rates {
        for &latency in &latencies {
            one_pass(rate as usize, latency, minutes as usize)?;
        }
    }
    if env_num("BENCH_CRASH", 1)? == 1 {
        crash(env_num("BENCH_CRASH_RATE", 600)? as usize)?;
    }
    Ok(())
}

/// A fake Twilio answering every message after `latency`: records arrival
/// times and recipients, and the most requests it held at once.
struct SlowSms {
    base: String,
    server: Arc<tiny_http::Server>,
    arrivals: Arc<Mutex<Vec<(f64, String)>>>,
    max_held: Arc<AtomicUsize>,
}

impl SlowSms {
    fn start(latency: Duration) -> anyhow::Result<SlowSms> {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("bind: {e}"))?);
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let held = Arc::new(AtomicUsize::new(0));
        let max_held = Arc::new(AtomicUsize::new(0));
        let n = Arc::new(AtomicUsize::new(0));
        // One thread per request held: 4,500 a minute at 1 s is 75 at once.
        for _ in 0..256 {
            let (server, arrivals, held, max_held, n) = (server.clone(), arrivals.clone(), held.clone(), max_held.clone(), n.clone());
            std::thread::spawn(move || {
                while let Ok(mut req) = server.recv() {
                    let at = now_secs();
                    let now_held = held.fetch_add(1, Ordering::SeqCst) + 1;
                    max_held.fetch_max(now_held, Ordering::SeqCst);
                    let mut body = String::new();
                    let _ = req.as_reader().read_to_string(&mut body);
                    let to = e2e::form_decode(&body).into_iter().find(|(k, _)| k == "To").map(|(_, v)| v).unwrap_or_default();
                    std::thread::sleep(latency);
                    if let Ok(mut a) = arrivals.lock() {
                        a.push((at, to));
                    }
                    let i = n.fetch_add(1, Ordering::SeqCst) + 1;
                    let mut resp = tiny_http::Response::from_string(format!(r#"{{"sid":"SM{i:032}","status":"queued"}}"#)).with_status_code(201);
                    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
                        resp = resp.with_header(h);
                    }
                    let _ = req.respond(resp);
                    held.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
        Ok(SlowSms { base: format!("http://127.0.0.1:{port}"), server, arrivals, max_held })
    }

    fn arrivals(&self) -> Vec<(f64, String)> {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Drop for SlowSms {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn variables(sms_base: &str, rate: usize) -> Vec<(&'static str, String)> {
    vec![
        ("public_base_url", "http://rent.example".into()),
        ("sms_api_base", sms_base.into()),
        ("sms_account_sid", SID.into()),
        ("sms_auth_token", TOKEN.into()),
        ("sms_from", "+15005550006".into()),
        ("send_rate_per_minute", rate.to_string()),
    ]
}

/// The portfolio: one property where it is midday now, `tenants` tenants
/// with a UK mobile each, every one 12 days late on a 950.00 rent charge.
fn import_portfolio(app: &App, tenants: usize) -> anyhow::Result<()> {
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
    Ok(())
}

/// Load `tenants` overdue tenants, opted in to texts, and scan them, with
/// the host's HTTP API (no cron) on `state`; consent is written straight
/// into the database (the staff API takes one tenant per request).
fn load(state: &Path, sms_base: &str, rate: usize, tenants: usize) -> anyhow::Result<()> {
    let mut builder = App::builder().state_dir(state);
    for (k, v) in variables(sms_base, rate) {
        builder = builder.variable(k, v);
    }
    let mut app = builder.start();
    import_portfolio(&app, tenants)?;
    {
        let db = NativeDb::open(state.join("sqlite_db.db"))?;
        let now = chrono::Utc::now();
        for i in 0..tenants {
            let t = format!("t{i}");
            let change = ConsentChange { tenant_id: &t, status: ConsentStatus::OptedIn, evidence: Some("lease section 12"), channel: None, address: None, actor: "staff", source: "bench" };
            consent::set(&db, &change, now)?;
        }
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
    app.stop();
    Ok(())
}

/// `spin-host up` on `state` with its cron schedule on; stderr (the
/// components' log lines) to `log`.
fn cron_host(state: &Path, sms_base: &str, rate: usize, log: &Path) -> anyhow::Result<Child> {
    let mut cmd = Command::new(e2e::host_binary());
    cmd.arg("up").arg("--from").arg(e2e::workspace_root().join("spin.toml"));
    cmd.args(["--listen", "127.0.0.1:0"]).arg("--state-dir").arg(state);
    for (k, v) in variables(sms_base, rate).into_iter().chain([("staff_token", e2e::STAFF_TOKEN.to_string()), ("link_key", e2e::LINK_KEY.to_string())]) {
        cmd.env(format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()), v);
    }
    cmd.stdout(Stdio::null()).stderr(std::fs::File::create(log)?);
    Ok(cmd.spawn()?)
}

/// User + system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = Command::new("getconf").arg("CLK_TCK").output().ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok()).unwrap_or(100.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th overall.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (num(11) + num(12)) / ticks
}

/// The largest `max_in_flight` the passes logged.
fn pass_max_in_flight(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"event\":\"calls\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l[l.find('{').unwrap_or(0)..]).ok())
        .filter_map(|v| v["max_in_flight"].as_u64())
        .max()
        .unwrap_or(0)
}

fn sleep_until(t: f64) {
    let wait = t - now_secs();
    if wait > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
}

fn duplicates(arrivals: &[(f64, String)]) -> usize {
    let mut by_to: HashMap<&str, usize> = HashMap::new();
    for (_, to) in arrivals {
        *by_to.entry(to.as_str()).or_default() += 1;
    }
    by_to.values().filter(|n| **n > 1).map(|n| n - 1).sum()
}

/// One configuration: a pass per cron tick, `minutes` full minutes measured.
fn one_pass(rate: usize, latency_ms: u64, minutes: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let sms = SlowSms::start(Duration::from_millis(latency_ms))?;
    // More than the measured minutes can take, so every minute has work.
    let tenants = rate * (minutes + 1) + rate / 10;
    load(&state, &sms.base, rate, tenants)?;
    let log = dir.path().join("host.log");
    let mut host = cron_host(&state, &sms.base, rate, &log)?;
    let first = (now_secs() / 60.0).floor() as i64 + 1;
    // The measured minutes start at a tick; CPU is counted from then.
    sleep_until(first as f64 * 60.0);
    let cpu_start = cpu_seconds(host.id());
    let end = (first + minutes as i64) as f64 * 60.0;
    sleep_until(end);
    let cpu = cpu_seconds(host.id()) - cpu_start;
    // The last calls of the last measured minute are answered after it.
    std::thread::sleep(Duration::from_millis(latency_ms + 1500));
    let _ = host.kill();
    let _ = host.wait();
    let arrivals = sms.arrivals();
    let in_minute = |m: i64| arrivals.iter().filter(|(t, _)| (t / 60.0).floor() as i64 == m).count();
    let measured: usize = (first..first + minutes as i64).map(in_minute).sum();
    let dups = duplicates(&arrivals);
    let fake_max = sms.max_held.load(Ordering::SeqCst);
    let pass_max = pass_max_in_flight(&log);
    for (i, m) in (first..first + minutes as i64).enumerate() {
        let n = in_minute(m);
        let cpu_cell = if i == 0 { format!("{:.2} ms", cpu * 1e3 / measured.max(1) as f64) } else { "〃".into() };
        println!("| {rate} | {latency_ms} ms | {} | {n} | {:.3} | {fake_max} / {pass_max} | {cpu_cell} | {dups} |", i + 1, n as f64 / rate as f64);
    }
    Ok(())
}

/// States of the outbox rows, by state.
fn outbox_states(state: &Path) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let db = NativeDb::open(state.join("sqlite_db.db"))?;
    let rows = db.execute("SELECT state, address FROM outbox", &[])?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows.iter() {
        out.entry(r.string("state")?).or_default().push(r.opt_string("address")?.unwrap_or_default());
    }
    Ok(out)
}

/// Kill the host mid-minute with calls in flight, restart it, let it finish.
fn crash(rate: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let sms = SlowSms::start(Duration::from_secs(1))?;
    let tenants = rate * 2;
    load(&state, &sms.base, rate, tenants)?;
    let log = dir.path().join("host.log");
    let mut host = cron_host(&state, &sms.base, rate, &log)?;
    let first = (now_secs() / 60.0).floor() as i64 + 1;
    sleep_until(first as f64 * 60.0 + 30.0);
    host.kill()?;
    let _ = host.wait();
    let killed_at = now_secs();
    let at_kill = outbox_states(&state)?;
    let in_flight = at_kill.get("sending").map_or(0, Vec::len);
    let log2 = dir.path().join("host-restarted.log");
    let mut host = cron_host(&state, &sms.base, rate, &log2)?;
    // Rows left in `sending` turn `unknown` once their intent lease (120 s) has run out.
    let mut finished = false;
    while now_secs() - killed_at < 240.0 {
        std::thread::sleep(Duration::from_secs(5));
        let s = outbox_states(&state)?;
        if ["queued", "sending", "deferred"].iter().all(|k| s.get(*k).is_none_or(Vec::is_empty)) {
            finished = true;
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let _ = host.kill();
    let _ = host.wait();
    let arrivals = sms.arrivals();
    let end = outbox_states(&state)?;
    let received: std::collections::HashSet<&str> = arrivals.iter().map(|(_, to)| to.as_str()).collect();
    let sent = end.get("sent").cloned().unwrap_or_default();
    let unknown = end.get("unknown").cloned().unwrap_or_default();
    let recorded: std::collections::HashSet<&str> = sent.iter().chain(unknown.iter()).map(String::as_str).collect();
    let lost_received = received.iter().filter(|to| !recorded.contains(**to)).count();
    let lost_rows = tenants - sent.len() - unknown.len();
    let unknown_received = unknown.iter().filter(|a| received.contains(a.as_str())).count();
    println!();
    println!("crash case: rate {rate}/min, 1 s latency, {tenants} notices; host killed (SIGKILL) 30 s into minute {first}, restarted at once");
    println!("  rows in `sending` at the kill (calls in flight): {in_flight}");
    println!("  after the restart finished ({}): sent {}, unknown {} (of which the fake had received {unknown_received}), other {}", if finished { "nothing left due" } else { "timed out" }, sent.len(), unknown.len(), lost_rows);
    println!("  duplicates at the fake: {}", duplicates(&arrivals));
    println!("  lost: {} received but not recorded as sent or unknown, {lost_rows} rows neither sent nor unknown", lost_received);
    Ok(())
}

fn two_senders() -> anyhow::Result<()> {
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

    import_portfolio(&app, tenants)?;
    // Every tenant opted in, through the API.
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
