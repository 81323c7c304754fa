//! Compliance benchmark: decisions per second for a tenant with a
//! 1,000-contact history, three ways, measured in the same run:
//!
//! 1. **core**: the pure decision core (`decide`) on preloaded facts
//!    holding the whole 1,000-contact history;
//! 2. **native check**: `rentmsg::compliance::check` on a rusqlite
//!    database: the loader's reads plus the core, in-process;
//! 3. **component**: the same check as a call from a wasm component into
//!    the compliance component (`rentmsg:compliance/decide`), both running
//!    in the local host (`spin_host`), reads through the host's Spin SQLite.
//!    A cron fixture calls the import N times per tick; the per-call cost
//!    is (tick with N + M calls - tick with M calls) / N, so instantiation
//!    is not counted.
//!
//! Run: `cargo xtask bench -p e2e --bench compliance` (builds the wasm first).
//! `BENCH_QUICK=1` runs fewer iterations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rentmsg::base::channel::Channel;
use rentmsg::compliance::decide::{decide, PastContact, Proposed};
use rentmsg::compliance::{self, CheckRequest, Verdict};
use rentmsg::records::consent::{self, ConsentChange, ConsentStatus};
use rentmsg::base::db::{Db, NativeDb};
use rentmsg::import::{self, ImportKind};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const TENANT: &str = "t-bench";
const HISTORY: i64 = 1000;

fn at() -> DateTime<Utc> {
    // Wednesday 2024-06-05 12:00 in New York.
    Utc.with_ymd_and_hms(2024, 6, 5, 16, 0, 0).unwrap()
}

/// A tenant with 1,000 logged contacts, one every 26 hours back from `at`
/// (about 3 years), all channels, calls with mixed result codes.
fn seed(db: &NativeDb) -> anyhow::Result<()> {
    let now = at();
    rentmsg::schema::migrate(db, now)?;
    import::import(db, ImportKind::Properties, b"property_id,name,time_zone,state,country\np1,Main St,America/New_York,NY,US\n", "bench", now)?;
    import::import(
        db,
        ImportKind::Tenants,
        format!(
            "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
             {TENANT},p1,Pat Doe,1A,(212) 555-0100,(212) 555-0101,,pat@example.com,,,,,\n"
        )
        .as_bytes(),
        "bench",
        now,
    )?;
    consent::set(
        db,
        &ConsentChange {
            tenant_id: TENANT,
            status: ConsentStatus::OptedIn,
            evidence: Some("lease section 12"),
            channel: None,
            address: None,
            actor: "bench",
            source: "bench",
        },
        now - Duration::days(2000),
    )?;
    let channels = ["text", "email", "phone", "letter"];
    let codes = [1i64, 3, 108, 2, 119];
    db.execute("BEGIN", &[])?;
    for i in 0..HISTORY {
        let t = now - Duration::hours(26 * (i + 1));
        let channel = channels[(i % 4) as usize];
        let (address, code) = match channel {
            "email" => ("pat@example.com", None),
            "letter" => ("1A Main St", None),
            _ => ("+12125550100", (channel == "phone").then(|| codes[(i / 4) as usize % codes.len()])),
        };
        db.execute(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, call_result)
             VALUES (?, ?, 'outbound', ?, 'notice', 'delivered', ?, ?)",
            &[TENANT.into(), channel.into(), address.into(), rentmsg::base::time::timestamp(t).into(), code.into()],
        )?;
    }
    db.execute("COMMIT", &[])?;
    Ok(())
}

/// Every contact of the tenant, as the core sees them.
fn full_history(db: &NativeDb) -> anyhow::Result<Vec<PastContact>> {
    let rows = db.execute(
        "SELECT at, channel, call_result FROM contact_log WHERE tenant_id = ? ORDER BY at",
        &[TENANT.into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PastContact {
                at: rentmsg::base::time::parse_timestamp(r.str("at")?).ok_or_else(|| anyhow::anyhow!("bad time"))?,
                channel: r.str("channel")?.parse().map_err(anyhow::Error::msg)?,
                outbound: true,
                kind: Some(rentmsg::records::tenants::ContactKind::MobilePhone),
                call_result: r.opt_i64("call_result")?,
                own: true,
            })
        })
        .collect()
}

/// Best of `rounds` timings of `n` runs of `f`, in seconds per run.
fn per_call(rounds: usize, n: u64, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn manifest(dir: &Path, wasm: &Path, small: u64, big: u64, expect: &str) -> String {
    let caller = wasm.join("fixture_compliance_caller.wasm");
    let compliance = wasm.join("compliance.wasm");
    let mut m = String::from("spin_manifest_version = 2\n[application]\nname = \"compliance-bench\"\n");
    for (id, n) in [("small", small), ("big", big)] {
        m.push_str(&format!(
            "[[trigger.cron]]\ncomponent = \"{id}\"\ncron_expression = \"0 0 0 1 1 *\"\n\
             [component.{id}]\nsource = {caller:?}\nsqlite_databases = [\"default\"]\n\
             dependencies_inherit_configuration = true\n\
             environment = {{ BENCH_N = \"{n}\", BENCH_TENANT = \"{TENANT}\", BENCH_CHANNEL = \"phone\", BENCH_AT = \"{}\", BENCH_EXPECT = \"{expect}\" }}\n\
             [component.{id}.dependencies]\n\"rentmsg:compliance/decide\" = {{ path = {compliance:?} }}\n",
            rentmsg::base::time::timestamp(at())
        ));
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, &m).expect("write bench manifest");
    path.to_string_lossy().into_owned()
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let wasm = e2e::workspace_root().join("target/wasm32-wasip2/release");
    for f in ["compliance.wasm", "fixture_compliance_caller.wasm"] {
        anyhow::ensure!(wasm.join(f).exists(), "{f} is not built: run `cargo xtask build-wasm` first");
    }
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state)?;
    let db = NativeDb::open(state.join("sqlite_db.db"))?;
    db.connection().pragma_update(None, "journal_mode", "WAL")?;
    seed(&db)?;

    let request = CheckRequest { tenant_id: TENANT.into(), channel: Channel::Phone, address: None, at: at(), manual: false };
    let native = compliance::check(&db, &request)?;
    let (facts, rules) = compliance::load::load(&db, &request)?;
    let loaded = facts.history.len();
    let mut full = facts.clone();
    full.history = full_history(&db)?;
    let proposed = Proposed { channel: request.channel, at: request.at, manual: false };
    let core = decide(&full, &proposed, &rules);
    anyhow::ensure!(core == native, "core on the full history and the native check disagree: {core:?} vs {native:?}");
    let expect = match native.verdict {
        Verdict::Allow => "allow",
        Verdict::Block => "block",
        Verdict::Defer => "defer",
    };

    let (core_n, check_n, comp_n) = if quick { (20_000, 2_000, 1_000) } else { (200_000, 20_000, 10_000) };
    let core_s = per_call(3, core_n, || {
        black_box(decide(black_box(&full), black_box(&proposed), black_box(&rules)));
    });
    let check_s = per_call(3, check_n, || {
        black_box(compliance::check(&db, black_box(&request)).ok());
    });

    let small = 200;
    let manifest_path = manifest(dir.path(), &wasm, small, small + comp_n, expect);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let comp_s = rt.block_on(async {
        let host = spin_host::Host::load(spin_host::HostOptions {
            manifest: manifest_path.into(),
            state_dir: Some(state.clone()),
            ..Default::default()
        })
        .await?;
        host.fire_cron("small").await?; // warm: compiled code, connection pool
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t0 = Instant::now();
            host.fire_cron("small").await?;
            let t_small = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            host.fire_cron("big").await?;
            let t_big = t1.elapsed().as_secs_f64();
            best = best.min((t_big - t_small) / comp_n as f64);
        }
        anyhow::Ok(best)
    })?;
    // What each host SQLite call pays on top of the query: the host runs
    // rusqlite on tokio's blocking pool, one hand-off per statement.
    let handoff_s = rt.block_on(async {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t0 = Instant::now();
            for _ in 0..check_n {
                let _ = tokio::task::spawn_blocking(|| black_box(1)).await;
            }
            best = best.min(t0.elapsed().as_secs_f64() / check_n as f64);
        }
        best
    });

    let rate = |s: f64| 1.0 / s;
    println!("compliance decisions, tenant with a {HISTORY}-contact history (phone, verdict {expect}, {} reasons, near_limit {}; the loader reads {loaded} of the {HISTORY} contacts)", native.reasons.len(), native.near_limit);
    println!("{:<58} {:>12} {:>14}", "path", "us/decision", "decisions/s");
    for (name, s) in [
        ("core: decide() on preloaded facts (1,000 contacts)", core_s),
        ("native check: SQLite reads + core, in-process", check_s),
        ("component: wasm caller -> compliance component -> host SQLite", comp_s),
    ] {
        println!("{name:<58} {:>12.2} {:>14.0}", s * 1e6, rate(s));
    }
    println!("{:<58} {:>12.2}", "baseline: one tokio spawn_blocking round trip", handoff_s * 1e6);
    println!("ratio component / native check: {:.2}x (target: within 2x)", comp_s / check_s);
    println!("ratio component / core:         {:.2}x", comp_s / core_s);
    println!(
        "core target (>= 50,000 decisions/s): {}",
        if rate(core_s) >= 50_000.0 { "met" } else { "NOT met" }
    );
    Ok(())
}
