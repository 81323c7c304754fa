//! Overdue-scan benchmark: does the scan's cost follow the overdue set or
//! the portfolio, and what does the component cost over the same work
//! natively?
//!
//! For each portfolio size (100,000 and 1,000,000 tenants, 200 properties
//! in New York), 50,000 tenants owe one month's rent due 12 days ago
//! (stage 3), with a mobile number and a tenant-wide opt-in; every other
//! tenant was charged and paid (a zero balance row in `tenant_balances`).
//! The schedule sends stage notices by text. Measured on copies of the same
//! database file, opened as the host opens it (WAL, synchronous=NORMAL):
//!
//! - **raw SQL**: the overdue-set query (`rentmsg::notices::scan::OVERDUE_SQL`) run
//!   natively with rusqlite, rows read;
//! - **native scan**: `rentmsg::notices::scan::run` on rusqlite with the in-process
//!   compliance check (the same statements the component sends);
//! - **component scan**: the overdue-scan component's cron handler in the
//!   local host (`spin_host`), compliance through the compliance component,
//!   SQLite through the host.
//!
//! Each first scan queues and decides 50,000 notices; each rescan finds
//! them all queued and queues nothing (the every-15-minutes steady state).
//!
//! Run: `cargo xtask bench -p e2e --bench overdue_scan` (builds the wasm
//! first). `BENCH_SIZES=20000,200000 BENCH_OVERDUE=10000` for a quick run.

use chrono::{Duration, Utc};
use rentmsg::compliance::DbChecker;
use rentmsg::base::db::{Db, NativeDb};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn open(path: &Path) -> anyhow::Result<NativeDb> {
    let db = NativeDb::open(path)?;
    db.connection().pragma_update(None, "journal_mode", "WAL")?;
    db.connection().pragma_update(None, "synchronous", "NORMAL")?;
    Ok(db)
}

/// Build the portfolio in `path`; returns the seconds it took.
fn build(path: &Path, tenants: i64, overdue: i64) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let db = open(path)?;
    let now = Utc::now();
    rentmsg::schema::migrate(&db, now)?;
    let every = (tenants / overdue).max(1);
    let due = rentmsg::base::time::date_string((now - Duration::days(12)).date_naive());
    let stamp = rentmsg::base::time::timestamp(now);
    db.execute("BEGIN", &[])?;
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199)
         INSERT INTO properties (property_id, name, time_zone, state, country, created_at, updated_at)
         SELECT 'p' || i, 'Property ' || i, 'America/New_York', 'NY', 'US', ?1, ?1 FROM n",
        &[stamp.as_str().into()],
    )?;
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
         INSERT INTO tenants (tenant_id, property_id, name, unit, status, created_at, updated_at)
         SELECT printf('t%07d', i), 'p' || (i % 200), 'Tenant ' || i, 'U' || i, 'active', ?2, ?2 FROM n",
        &[tenants.into(), stamp.as_str().into()],
    )?;
    // Every tenant is charged; all but the overdue ones paid.
    db.execute(
        "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, created_at, updated_at)
         SELECT tenant_id, 'RENT', 'charge', ?1, ?1, 95000, ?2, ?2 FROM tenants",
        &[due.as_str().into(), stamp.as_str().into()],
    )?;
    db.execute(
        "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, created_at, updated_at)
         SELECT tenant_id, 'PAY', 'payment', ?1, ?1, 95000, ?2, ?2 FROM tenants WHERE CAST(substr(tenant_id, 2) AS INTEGER) % ?3 <> 0",
        &[due.as_str().into(), stamp.as_str().into(), every.into()],
    )?;
    db.execute(
        "INSERT INTO contact_points (tenant_id, kind, channel, address, created_at, updated_at)
         SELECT tenant_id, 'mobile_phone', 'phone', printf('+1212%07d', CAST(substr(tenant_id, 2) AS INTEGER)), ?1, ?1
         FROM tenants WHERE CAST(substr(tenant_id, 2) AS INTEGER) % ?2 = 0",
        &[stamp.as_str().into(), every.into()],
    )?;
    db.execute(
        "INSERT INTO consent_events (tenant_id, channel, address, status, evidence, actor, source, at)
         SELECT tenant_id, NULL, NULL, 'opted_in', 'lease section 12', 'bench', 'bench', ?1
         FROM tenants WHERE CAST(substr(tenant_id, 2) AS INTEGER) % ?2 = 0",
        &[stamp.as_str().into(), every.into()],
    )?;
    db.execute("COMMIT", &[])?;
    // Stage notices by text only; Sundays allowed (the run may fall on one).
    let mut spec = rentmsg::notices::schedule::load(&db)?.spec;
    for s in &mut spec.stages {
        s.channels = vec![rentmsg::base::channel::Channel::Text];
    }
    spec.skip_sundays = false;
    rentmsg::notices::schedule::save(&db, spec, "bench", now)?;
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)", &[])?;
    let n = db.execute("SELECT count(*) AS n FROM tenant_balances WHERE balance_cents > 0", &[])?;
    anyhow::ensure!(n.first().map(|r| r.i64("n")).transpose()? == Some(overdue), "expected {overdue} overdue tenants");
    Ok(t0.elapsed().as_secs_f64())
}

fn copy(from: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let to = dir.join("sqlite_db.db");
    std::fs::copy(from, &to)?;
    Ok(to)
}

fn manifest(dir: &Path) -> anyhow::Result<PathBuf> {
    let wasm = e2e::workspace_root().join("target/wasm32-wasip2/release");
    let m = format!(
        "spin_manifest_version = 2\n[application]\nname = \"scan-bench\"\n\
         [[trigger.cron]]\ncomponent = \"overdue-scan\"\ncron_expression = \"0 0 0 1 1 *\"\n\
         [component.overdue-scan]\nsource = {:?}\nsqlite_databases = [\"default\"]\n\
         dependencies_inherit_configuration = true\n\
         [component.overdue-scan.variables]\nstaff_token = \"bench\"\n\
         [component.overdue-scan.dependencies]\n\"rentmsg:compliance/decide\" = {{ path = {:?} }}\n",
        wasm.join("overdue_scan.wasm"),
        wasm.join("compliance.wasm")
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, m)?;
    Ok(path)
}

fn outbox_rows(path: &Path) -> anyhow::Result<i64> {
    let db = open(path)?;
    Ok(db.execute("SELECT count(*) AS n FROM outbox", &[])?.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0))
}

struct Figures {
    tenants: i64,
    setup: f64,
    raw_sql: f64,
    native_first: f64,
    native_rescan: f64,
    component_first: f64,
    component_rescan: f64,
}

fn measure(root: &Path, rt: &tokio::runtime::Runtime, tenants: i64, overdue: i64) -> anyhow::Result<Figures> {
    let dir = root.join(format!("n{tenants}"));
    std::fs::create_dir_all(&dir)?;
    let base = dir.join("base.sqlite");
    let setup = build(&base, tenants, overdue)?;

    // Raw SQL: the overdue-set query, natively (best of 3).
    let db = open(&base)?;
    let schedule = rentmsg::notices::schedule::load(&db)?;
    let mut raw_sql = f64::INFINITY;
    for _ in 0..3 {
        let params = rentmsg::notices::scan::overdue_params(&schedule, Utc::now());
        let t0 = Instant::now();
        let n = db.execute(rentmsg::notices::scan::OVERDUE_SQL, &params)?.len() as i64;
        raw_sql = raw_sql.min(t0.elapsed().as_secs_f64());
        anyhow::ensure!(n == overdue, "overdue query found {n}");
    }
    drop(db);

    // Native scan on a copy.
    let native_path = copy(&base, &dir.join("native"))?;
    let db = open(&native_path)?;
    let checker = DbChecker { db: &db };
    let t0 = Instant::now();
    let first = rentmsg::notices::scan::run(&db, &checker, Utc::now())?;
    let native_first = t0.elapsed().as_secs_f64();
    anyhow::ensure!(first.queued as i64 == overdue, "native first scan queued {}", first.queued);
    let mut native_rescan = f64::INFINITY;
    for _ in 0..3 {
        let t0 = Instant::now();
        let again = rentmsg::notices::scan::run(&db, &checker, Utc::now())?;
        native_rescan = native_rescan.min(t0.elapsed().as_secs_f64());
        anyhow::ensure!(again.queued == 0, "rescan queued {}", again.queued);
    }
    drop(db);

    // The component, on another copy, in the local host.
    let comp_dir = dir.join("component");
    copy(&base, &comp_dir)?;
    let manifest = manifest(&dir)?;
    let (component_first, component_rescan) = rt.block_on(async {
        let host = spin_host::Host::load(spin_host::HostOptions {
            manifest: manifest.clone(),
            state_dir: Some(comp_dir.clone()),
            ..Default::default()
        })
        .await?;
        let t0 = Instant::now();
        host.fire_cron("overdue-scan").await?;
        let first = t0.elapsed().as_secs_f64();
        let mut rescan = f64::INFINITY;
        for _ in 0..3 {
            let t0 = Instant::now();
            host.fire_cron("overdue-scan").await?;
            rescan = rescan.min(t0.elapsed().as_secs_f64());
        }
        anyhow::Ok((first, rescan))
    })?;
    let queued = outbox_rows(&comp_dir.join("sqlite_db.db"))?;
    anyhow::ensure!(queued == overdue, "component queued {queued}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Figures { tenants, setup, raw_sql, native_first, native_rescan, component_first, component_rescan })
}

fn main() -> anyhow::Result<()> {
    let wasm = e2e::workspace_root().join("target/wasm32-wasip2/release");
    for f in ["overdue_scan.wasm", "compliance.wasm"] {
        anyhow::ensure!(wasm.join(f).exists(), "{f} is not built: run `cargo xtask build-wasm` first");
    }
    let sizes: Vec<i64> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let overdue: i64 = std::env::var("BENCH_OVERDUE").unwrap_or_else(|_| "50000".into()).parse()?;
    let root = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut all = Vec::new();
    for n in sizes {
        let f = measure(root.path(), &rt, n, overdue)?;
        eprintln!("measured {} tenants", f.tenants);
        all.push(f);
    }
    println!("overdue scan, {overdue} overdue tenants (stage 3 by text), seconds");
    println!(
        "{:>10} {:>8} {:>9} {:>13} {:>14} {:>16} {:>17} {:>11} {:>12}",
        "tenants", "setup", "raw SQL", "native first", "native rescan", "component first", "component rescan", "comp/native", "comp/native"
    );
    println!("{:>10} {:>8} {:>9} {:>13} {:>14} {:>16} {:>17} {:>11} {:>12}", "", "", "", "", "", "", "", "(first)", "(rescan)");
    for f in &all {
        println!(
            "{:>10} {:>8.1} {:>9.3} {:>13.2} {:>14.3} {:>16.2} {:>17.3} {:>11.2} {:>12.2}",
            f.tenants,
            f.setup,
            f.raw_sql,
            f.native_first,
            f.native_rescan,
            f.component_first,
            f.component_rescan,
            f.component_first / f.native_first,
            f.component_rescan / f.native_rescan
        );
    }
    if let (Some(small), Some(big)) = (all.first(), all.last()) {
        if all.len() > 1 {
            println!(
                "ratio {} / {} tenants: raw SQL {:.2}, native rescan {:.2}, component rescan {:.2}, component first scan {:.2} (target below 1.3)",
                big.tenants,
                small.tenants,
                big.raw_sql / small.raw_sql,
                big.native_rescan / small.native_rescan,
                big.component_rescan / small.component_rescan,
                big.component_first / small.component_first
            );
        }
    }
    Ok(())
}
