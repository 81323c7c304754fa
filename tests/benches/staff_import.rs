//! Staff API import benchmark: 50,000-row tenant and ledger files imported
//! through the real local host and the real `staff-intake.wasm` (with its
//! `phone-numbers.wasm` dependency) over HTTP,
//! against a baseline measured in the same run: the same library import
//! called natively on a SQLite file with the host's settings (WAL,
//! synchronous=NORMAL, foreign keys on).
//!
//! Run with `cargo xtask bench` (builds the wasm first), or after
//! `cargo xtask build-wasm`: `cargo bench --profile host -p e2e --bench staff_import`.
//! `BENCH_ROWS` (default 50000) and `BENCH_RUNS` (default 3) change the size
//! and the number of runs; figures are medians.

use std::time::{Duration, Instant};

use chrono::Utc;
use e2e::App;
use rentmsg::base::db::NativeDb;
use rentmsg::import::{self, ImportKind};

/// A portfolio as an AR system would export it.
struct Files {
    properties: String,
    tenants: String,
    ledger: String,
    /// The same tenants with every contact column filled (3 numbers, 2 emails).
    dense_tenants: String,
    /// Rows in the tenant file that are meant to be rejected.
    bad_tenants: usize,
}

/// Deterministic pseudo-random numbers (no dependency, same files every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn generate(rows: usize) -> Files {
    const ZONES: [(&str, &str, &str); 6] = [
        ("America/New_York", "MA", "US"),
        ("America/Chicago", "IL", "US"),
        ("America/Denver", "CO", "US"),
        ("America/Los_Angeles", "CA", "US"),
        ("America/Toronto", "ON", "CA"),
        ("America/Phoenix", "AZ", "US"),
    ];
    const AREAS: [u32; 8] = [617, 312, 303, 415, 416, 602, 212, 713];
    let mut rng = Lcg(42);
    let n_props = 200;
    let mut properties = String::from("property_id,name,time_zone,state,country\n");
    for p in 0..n_props {
        let (tz, state, country) = ZONES[p % ZONES.len()];
        properties.push_str(&format!("P{p:04},Storage Site {p},{tz},{state},{country}\n"));
    }
    let mut tenants = String::from(
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status\n",
    );
    let mut dense_tenants = tenants.clone();
    let mut bad_tenants = 0;
    for i in 0..rows {
        let p = i % n_props;
        let area = AREAS[p % ZONES.len()];
        let mut phone = |style: u64| {
            let exchange = 201 + rng.next() % 798;
            let exchange = if exchange % 100 == 11 { exchange + 1 } else { exchange };
            let line = rng.next() % 10_000;
            match style % 4 {
                0 => format!("({area}) {exchange}-{line:04}"),
                1 => format!("{area}.{exchange}.{line:04}"),
                2 => format!("+1 {area} {exchange} {line:04}"),
                _ => format!("{area}{exchange}{line:04}"),
            }
        };
        let mobile = phone(i as u64);
        let home = if i % 3 == 0 { phone(i as u64 + 1) } else { String::new() };
        // One row in a thousand has a number no phone can have.
        let mobile = if i % 1000 == 500 {
            bad_tenants += 1;
            "555-12".to_owned()
        } else {
            mobile
        };
        let work_email = if i % 10 == 0 { format!("tenant{i}@employer.example.com") } else { String::new() };
        let group = if i % 7 == 0 { format!("G{}", i / 7) } else { String::new() };
        let status = ["active", "active", "active", "", "stop", "moved_out"][i % 6];
        tenants.push_str(&format!(
            "T{i:06},P{p:04},Tenant Number {i},Unit {u},{mobile},{home},,Tenant.{i}@Example.com,{work_email},,,,{group},{status}\n",
            u = 100 + i % 900
        ));
        let (home, work) = (phone(i as u64 + 2), phone(i as u64 + 3));
        dense_tenants.push_str(&format!(
            "T{i:06},P{p:04},Tenant Number {i},Unit {u},{mobile},{home},{work},Tenant.{i}@Example.com,tenant{i}@employer.example.com,,,,{group},{status}\n",
            u = 100 + i % 900
        ));
    }
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for j in 0..rows {
        // Every tenant once, then again: charges, with a payment every fifth row.
        let t = j % rows.div_ceil(2).max(1);
        let month = 1 + j / rows.div_ceil(2).max(1);
        if j % 5 == 4 {
            ledger.push_str(&format!("T{t:06},2024-0{month}-05,,payment,{}.00,PAY-{j}\n", 100 + rng.next() % 900));
        } else {
            ledger.push_str(&format!(
                "T{t:06},2024-0{month}-01,2024-0{month}-01,charge,\"{},{:03}.{:02}\",RENT-2024-0{month}\n",
                1 + rng.next() % 2,
                rng.next() % 1000,
                rng.next() % 100
            ));
        }
    }
    Files { properties, tenants, ledger, dense_tenants, bad_tenants }
}

/// What one import run measured.
#[derive(Clone, Copy)]
struct Run {
    tenants: Duration,
    dense_tenants: Duration,
    ledger: Duration,
    tenants_again: Duration,
    ledger_again: Duration,
}

fn native_run(files: &Files) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = NativeDb::open(dir.path().join("bench.db")).expect("open");
    // As the local host opens its connections.
    db.connection().pragma_update(None, "journal_mode", "WAL").expect("wal");
    db.connection().pragma_update(None, "synchronous", "NORMAL").expect("synchronous");
    rentmsg::schema::migrate(&db, Utc::now()).expect("migrate");
    let time = |kind: ImportKind, body: &str| {
        let started = Instant::now();
        let report = import::import(&db, kind, body.as_bytes(), "bench", Utc::now()).expect("import");
        (started.elapsed(), report)
    };
    time(ImportKind::Properties, &files.properties);
    let (tenants, report) = time(ImportKind::Tenants, &files.tenants);
    assert_eq!(report.rejected.len(), files.bad_tenants, "native tenants: {:?}", &report.rejected[..3.min(report.rejected.len())]);
    let (ledger, _) = time(ImportKind::Ledger, &files.ledger);
    let (tenants_again, report) = time(ImportKind::Tenants, &files.tenants);
    assert_eq!(report.created + report.updated, 0, "re-import changes nothing");
    let (ledger_again, _) = time(ImportKind::Ledger, &files.ledger);
    let (dense_tenants, report) = time(ImportKind::Tenants, &files.dense_tenants);
    assert_eq!(report.rejected.len(), files.bad_tenants);
    Run { tenants, dense_tenants, ledger, tenants_again, ledger_again }
}

/// Peak resident memory of a process (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn host_run(files: &Files) -> (Run, f64, f64) {
    let app = App::start();
    let started_peak = peak_rss_mib(app.pid()).unwrap_or(0.0);
    let time = |kind: &str, body: &str| {
        let started = Instant::now();
        let (status, report) = app.import(kind, body);
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "{kind}: {report}");
        (elapsed, report)
    };
    time("properties", &files.properties);
    let (tenants, report) = time("tenants", &files.tenants);
    assert_eq!(report["rejected"].as_array().map(Vec::len), Some(files.bad_tenants), "host tenants");
    let (ledger, _) = time("ledger", &files.ledger);
    let (tenants_again, report) = time("tenants", &files.tenants);
    assert_eq!(report["created"], serde_json::json!(0));
    assert_eq!(report["updated"], serde_json::json!(0));
    let (ledger_again, _) = time("ledger", &files.ledger);
    let (dense_tenants, _) = time("tenants", &files.dense_tenants);
    let peak = peak_rss_mib(app.pid()).unwrap_or(0.0);
    (Run { tenants, dense_tenants, ledger, tenants_again, ledger_again }, started_peak, peak)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not use.
    let rows: usize = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let files = generate(rows);
    println!("staff API import: {rows} rows per file, {runs} run(s), medians");
    println!(
        "files: tenants {:.2} MB, ledger {:.2} MB, dense tenants {:.2} MB ({} tenant rows rejected on purpose)",
        files.tenants.len() as f64 / 1e6,
        files.ledger.len() as f64 / 1e6,
        files.dense_tenants.len() as f64 / 1e6,
        files.bad_tenants
    );
    let mut native = Vec::new();
    let mut host = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..runs {
        native.push(native_run(&files));
        let (run, start_peak, peak) = host_run(&files);
        host.push(run);
        peaks.push((start_peak, peak));
    }
    type Pick = fn(&Run) -> Duration;
    let rows_of: [(&str, Pick, usize); 5] = [
        ("tenants (new)", |r| r.tenants, files.tenants.len()),
        ("ledger (new)", |r| r.ledger, files.ledger.len()),
        ("tenants (re-import, unchanged)", |r| r.tenants_again, files.tenants.len()),
        ("ledger (re-import, unchanged)", |r| r.ledger_again, files.ledger.len()),
        ("tenants, every contact column filled (all updated)", |r| r.dense_tenants, files.dense_tenants.len()),
    ];
    println!();
    println!("| file | bytes | native library (baseline) | local host + wasm over HTTP | ratio host/native | host rows/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, pick, bytes) in rows_of {
        let n = median(native.iter().map(pick).collect());
        let h = median(host.iter().map(pick).collect());
        println!(
            "| {name} | {bytes} | {:.2} s | {:.2} s | {:.2} | {:.0} |",
            n.as_secs_f64(),
            h.as_secs_f64(),
            h.as_secs_f64() / n.as_secs_f64(),
            rows as f64 / h.as_secs_f64()
        );
    }
    let (start_peak, peak) = peaks[peaks.len() - 1];
    println!();
    println!("host process peak RSS: {start_peak:.0} MiB after start, {peak:.0} MiB after the imports");
}
