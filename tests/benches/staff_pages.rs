//! Staff pages at an operator's size: p50 of the reads staff make all day
//! (call list, tenant page, inbox, outbox, audit log, month report and its
//! chart) through the `staff-console` component in the local host, one
//! client, on a database holding a year of history, and the ratio of each
//! read at a tier over the same read at the small tier.
//!
//! Tiers (`infra/CAPACITY.md`): small 36,000 tenants (100 properties),
//! medium 360,000, large 1,800,000 (5,000 properties); 15 % of tenants
//! overdue in each month, each texted at four stages (so 7.2 texts per
//! tenant a year: 13 million at the large tier), a contact-log row and an
//! outbox row per text (3 % blocked, 1 % failed, the rest sent, 95 % of
//! those delivered), a free-text reply to one text in ten (inbox message
//! and inbound contact-log row; read and handled except the last two
//! days'), one audit row per text (staff reading and handling replies,
//! payments, calls, opt-outs), payment-link opens, promises and STOPs; two
//! months of rent and payments per tenant through the ledger, so the
//! balance summary is what the ledger's triggers leave. One tenant has
//! 1,000 contacts (the tenant page). The schema is the product's
//! (`rentmsg::schema::migrate`); rows are inserted with prepared statements
//! in large transactions, in time order, so ids grow with time as they do
//! in production.
//!
//! Generated databases are kept under `target/staff-pages/<tier>-<schema>-g<N>/`
//! and reused while the schema and this generator are unchanged.
//!
//! Run: `cargo xtask bench -p e2e --bench staff_pages` (small and medium),
//! `STAFF_PAGES_TIER=large cargo xtask bench -p e2e --bench staff_pages`
//! (small, then large, for the ratio). `STAFF_PAGES_ROUNDS` (default 7)
//! sets the rounds per read. A read that takes longer than the client's
//! 60 s timeout is reported as `inf`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use e2e::{json, App, Json};
use rentmsg::base::db::NativeDb;
use rentmsg::base::time::{date_string, timestamp};
use rusqlite::params;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bumped whenever the generated data changes.
const GENERATOR: u32 = 1;
const TENANTS_PER_PROPERTY: i64 = 360;
/// Overdue share per month, in twentieths (3/20 = 15 %).
const OVERDUE_OF_20: i64 = 3;
/// Notice stages: days after the due date (the 1st) they are sent.
const STAGE_DAYS: [i64; 4] = [1, 5, 10, 15];
const RENT_CENTS: i64 = 95_000;
const ZONES: [&str; 4] = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"];
/// The tenant whose page is read (1,000 contacts).
const BUSY_TENANT: &str = "t0000001";

fn tier_tenants(name: &str) -> anyhow::Result<i64> {
    Ok(match name {
        "small" => 36_000,
        "medium" => 360_000,
        "large" => 1_800_000,
        other => anyhow::bail!("unknown tier `{other}`: small, medium or large"),
    })
}

fn tenant_id(i: i64) -> String {
    format!("t{i:07}")
}

fn phone(i: i64) -> String {
    format!("+1{}{:07}", 212 + (i / 10_000_000) * 100, i % 10_000_000)
}

/// Is tenant `i` overdue in the month `months_ago` months before now?
fn overdue(i: i64, months_ago: i64) -> bool {
    (i + months_ago * 7) % 20 < OVERDUE_OF_20
}

fn first_of_month(d: NaiveDate, months_back: i64) -> NaiveDate {
    let total = d.year() as i64 * 12 + d.month0() as i64 - months_back;
    NaiveDate::from_ymd_opt((total / 12) as i32, (total % 12) as u32 + 1, 1).unwrap_or(d)
}

fn at(day: NaiveDate, seconds: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()) + Duration::seconds(seconds)
}

/// What the measurement needs to know about a generated database.
#[derive(Debug, Clone)]
struct Meta {
    tenants: i64,
    /// The last full month (the report's range).
    month_from: NaiveDate,
    month_to: NaiveDate,
}

/// The newest migration and a hash of every statement: a migration edited
/// before it ships changes the key too.
fn schema_key() -> String {
    use std::hash::{Hash, Hasher};
    let m = rentmsg::schema::MIGRATIONS;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for x in m {
        x.statements.hash(&mut h);
    }
    format!("s{}-{:08x}", m.last().map_or(0, |x| x.version), h.finish() as u32)
}

fn tier_dir(tier: &str) -> PathBuf {
    e2e::workspace_root().join("target/staff-pages").join(format!("{tier}-{}-g{GENERATOR}", schema_key()))
}

/// The tier's database, generated unless a finished one is cached.
fn database(tier: &str) -> anyhow::Result<(PathBuf, Meta)> {
    let dir = tier_dir(tier);
    let done = dir.join("generated.json");
    if let Ok(text) = std::fs::read_to_string(&done) {
        let v: Json = serde_json::from_str(&text)?;
        let date = |k: &str| NaiveDate::parse_from_str(v[k].as_str().unwrap_or_default(), "%Y-%m-%d");
        let meta = Meta { tenants: v["tenants"].as_i64().unwrap_or(0), month_from: date("month_from")?, month_to: date("month_to")? };
        eprintln!("{tier}: using the cached database in {}", dir.display());
        return Ok((dir, meta));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let t0 = Instant::now();
    let meta = generate(&dir.join("sqlite_db.db"), tier_tenants(tier)?)?;
    let secs = t0.elapsed().as_secs_f64();
    let size = std::fs::metadata(dir.join("sqlite_db.db"))?.len();
    eprintln!("{tier}: generated in {secs:.0} s, {:.1} GB", size as f64 / 1e9);
    std::fs::write(
        &done,
        json!({
            "tenants": meta.tenants,
            "month_from": date_string(meta.month_from),
            "month_to": date_string(meta.month_to),
            "seconds": secs,
            "bytes": size,
        })
        .to_string(),
    )?;
    Ok((dir, meta))
}

struct Counters {
    texts: i64,
    replies: i64,
}

fn generate(path: &Path, tenants: i64) -> anyhow::Result<Meta> {
    let now = Utc::now();
    let today = now.date_naive();
    let db = NativeDb::open(path)?;
    rentmsg::schema::migrate(&db, now)?;
    let c = db.connection();
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "OFF")?;
    c.pragma_update(None, "cache_size", -3_000_000i64)?;
    c.pragma_update(None, "temp_store", "MEMORY")?;
    let stamp = timestamp(now - Duration::days(400));
    let properties = (tenants / TENANTS_PER_PROPERTY).max(1);

    c.execute_batch("BEGIN")?;
    {
        let mut p = c.prepare("INSERT INTO properties (property_id, name, time_zone, state, country, created_at, updated_at) VALUES (?, ?, ?, 'NY', 'US', ?, ?)")?;
        for i in 0..properties {
            p.execute(params![format!("P{i:04}"), format!("Storage Site {i}"), ZONES[(i % 4) as usize], stamp, stamp])?;
        }
        let mut t = c.prepare("INSERT INTO tenants (tenant_id, property_id, name, unit, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)")?;
        let mut cp = c.prepare("INSERT INTO contact_points (tenant_id, kind, channel, address, created_at, updated_at) VALUES (?, 'mobile_phone', 'phone', ?, ?, ?)")?;
        let mut consent = c.prepare("INSERT INTO consent_events (tenant_id, channel, address, status, evidence, actor, source, at) VALUES (?, NULL, NULL, 'opted_in', 'lease', 'import', 'import', ?)")?;
        for i in 0..tenants {
            let id = tenant_id(i);
            t.execute(params![id, format!("P{:04}", (i / TENANTS_PER_PROPERTY).min(properties - 1)), format!("Tenant {i}"), format!("U{}", i % TENANTS_PER_PROPERTY), stamp, stamp])?;
            cp.execute(params![id, phone(i), stamp, stamp])?;
            consent.execute(params![id, stamp])?;
        }
    }
    c.execute_batch("COMMIT")?;

    // Two months of rent: last month's charged and paid (on a day that
    // follows its notices for the tenants who got them), this month's
    // charged and paid by all but the overdue. The ledger's triggers keep
    // the balance summary.
    let this_month = first_of_month(today, 0);
    let last_month = first_of_month(today, 1);
    c.execute_batch("BEGIN")?;
    {
        let mut l = c.prepare(
            "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )?;
        for i in 0..tenants {
            let id = tenant_id(i);
            for (month, months_ago) in [(last_month, 1), (this_month, 0)] {
                let due = date_string(month);
                l.execute(params![id, format!("RENT-{due}"), "charge", due, due, RENT_CENTS, stamp, stamp])?;
                if months_ago == 0 && overdue(i, 0) {
                    continue;
                }
                let late = if overdue(i, months_ago) { 3 + i % 20 } else { i % 3 };
                let paid = (month + Duration::days(late)).min(today);
                l.execute(params![id, format!("PAY-{due}"), "payment", date_string(paid), date_string(paid), RENT_CENTS, stamp, stamp])?;
            }
            if i % 50_000 == 49_999 {
                c.execute_batch("COMMIT; BEGIN")?;
            }
        }
    }
    c.execute_batch("COMMIT")?;

    let mut n = Counters { texts: 0, replies: 0 };
    c.execute_batch("BEGIN")?;
    {
        let mut outbox = c.prepare(
            "INSERT INTO outbox (kind, tenant_id, channel, cycle, stage, days_past_due, address, state, state_reason, not_before, decision, reasons, decided_at,
                                 link_id, body, encoding, segments, attempts, provider_id, provider_status, contact_log_id, sent_at, created_by, created_at, updated_at)
             VALUES ('notice', ?1, 'text', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?8, ?11, ?12, 'GSM-7', 1, ?17, ?13, ?14, ?15, ?16, 'scan', ?8, ?18)",
        )?;
        let mut log = c.prepare(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, provider_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?;
        let mut audit = c.prepare("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)")?;
        let mut inbound = c.prepare(
            "INSERT INTO inbound_messages (message_sid, from_address, to_address, body, num_media, kind, effect, tenant_ids, received_at, in_inbox, read_at, read_by, handled_at, handled_by)
             VALUES (?, ?, '+15005550006', ?, 0, 'text', 'inbox', ?, ?, 1, ?, ?, ?, ?)",
        )?;
        let mut opens = c.prepare("INSERT INTO link_opens (tenant_id, outbox_id, opened_at, client_hash) VALUES (?, ?, ?, 'bench')")?;
        let mut promise = c.prepare(
            "INSERT INTO promises (tenant_id, amount_cents, promised_date, due_at, balance_cents, paid_base_cents, status, source, created_by, created_at, resolved_at)
             VALUES (?, ?, ?, ?, ?, 0, ?, 'link', 'customer', ?, ?)",
        )?;
        let mut stop = c.prepare(
            "INSERT INTO exclusion_events (kind, tenant_id, address, is_on, reason, actor, source_ref, at) VALUES ('number_by_customer', NULL, ?, 1, 'STOP', 'customer', ?, ?)",
        )?;
        let recent = now - Duration::days(2);
        for months_ago in (0..12).rev() {
            let month = first_of_month(today, months_ago);
            let due = date_string(month);
            for (s, days) in STAGE_DAYS.iter().enumerate() {
                let day = month + Duration::days(*days);
                if day > today {
                    continue;
                }
                let texted: Vec<i64> = (0..tenants).filter(|i| overdue(*i, months_ago)).collect();
                // Sent across the 13:00-23:00 UTC window, in tenant order.
                let step = 36_000.0 / texted.len().max(1) as f64;
                for (k, i) in texted.iter().enumerate() {
                    let when = at(day, 13 * 3600) + Duration::milliseconds((k as f64 * step * 1000.0) as i64);
                    if when > now {
                        break;
                    }
                    let id = tenant_id(*i);
                    let address = phone(*i);
                    let ts = timestamp(when);
                    let body = format!("Storage Site {}: Tenant {i}, your balance of $950.00 is {days} days past due. Pay: https://rent.example/pay/x{}", i / TENANTS_PER_PROPERTY, n.texts);
                    let roll = n.texts % 100;
                    let (state, reason, decision, reasons) = match roll {
                        0..=2 => ("blocked", None, "block", r#"[{"rule":"us-reg-f-frequency","detail":"7 contacts in 7 days"}]"#),
                        3 => ("failed", Some("30003 unreachable"), "allow", "[]"),
                        _ => ("sent", None, "allow", "[]"),
                    };
                    let log_id = if state == "blocked" {
                        None
                    } else {
                        let status = if state == "failed" { "failed" } else if roll < 9 { "undelivered" } else { "delivered" };
                        log.execute(params![id, "text", "outbound", address, body, status, ts, format!("SM{:032}", n.texts), Option::<String>::None])?;
                        Some(c.last_insert_rowid())
                    };
                    let provider = log_id.map(|_| format!("SM{:032}", n.texts));
                    outbox.execute(params![
                        id,
                        due,
                        (s + 1) as i64,
                        days,
                        address,
                        state,
                        reason,
                        ts,
                        decision,
                        reasons,
                        format!("L{:012}", n.texts),
                        body,
                        provider,
                        provider.as_ref().map(|_| if roll < 9 { "undelivered" } else { "delivered" }),
                        log_id,
                        if state == "sent" { Some(ts.clone()) } else { None },
                        i64::from(state != "blocked"),
                        timestamp(when + Duration::seconds(2)),
                    ])?;
                    let outbox_id = c.last_insert_rowid();
                    let later = timestamp(when + Duration::minutes(20 + (n.texts % 600)));
                    // One audit row per text, of the kinds a day's work leaves.
                    let (action, actor, detail) = match n.texts % 5 {
                        0 => ("payment.recorded", "payments", json!({ "amount_cents": RENT_CENTS, "reference": format!("PAY-{due}") })),
                        1 => ("call.record", "staff:collector1", json!({ "result": "left_message" })),
                        2 => ("promise.record", "customer", json!({ "amount_cents": RENT_CENTS })),
                        3 => ("message.reply", "staff:collector2", json!({ "outbox_id": outbox_id })),
                        _ => ("consent.set", "staff:collector1", json!({ "status": "opted_in" })),
                    };
                    audit.execute(params![later, actor, action, format!("tenant:{id}"), detail.to_string()])?;
                    if state == "sent" && n.texts % 10 == 5 {
                        let received = when + Duration::minutes(7);
                        let handled = (received < recent).then(|| timestamp(received + Duration::hours(3)));
                        inbound.execute(params![
                            format!("SMin{:030}", n.replies),
                            address,
                            format!("I'll pay on Friday, sorry ({})", n.replies),
                            format!("[\"{id}\"]"),
                            timestamp(received),
                            handled,
                            handled.as_ref().map(|_| "staff:collector1"),
                            handled,
                            handled.as_ref().map(|_| "staff:collector1"),
                        ])?;
                        log.execute(params![id, "text", "inbound", address, "I'll pay on Friday, sorry", "received", timestamp(received), format!("SMin{:030}", n.replies), Option::<String>::None])?;
                        n.replies += 1;
                    }
                    if state == "sent" && n.texts % 33 == 7 {
                        opens.execute(params![id, outbox_id, timestamp(when + Duration::minutes(30))])?;
                    }
                    if state == "sent" && n.texts % 97 == 11 {
                        let promised = day + Duration::days(5);
                        let status = if promised < today { if n.texts % 2 == 0 { "kept" } else { "broken" } } else { "replaced" };
                        let resolved = (status != "replaced").then(|| timestamp(at(promised, 20 * 3600)));
                        promise.execute(params![id, RENT_CENTS, date_string(promised), timestamp(at(promised, 86_399)), RENT_CENTS, status, timestamp(when + Duration::hours(1)), resolved])?;
                    }
                    if state == "sent" && n.texts % 211 == 13 {
                        stop.execute(params![address, format!("SMstop{}", n.texts), timestamp(when + Duration::minutes(3))])?;
                    }
                    n.texts += 1;
                    if n.texts % 200_000 == 0 {
                        c.execute_batch("COMMIT; BEGIN")?;
                        eprintln!("  {} texts", n.texts);
                    }
                }
            }
        }
        // The busy tenant's page: every kind of contact until it has 1,000.
        let have: i64 = c.query_row("SELECT count(*) FROM contact_log WHERE tenant_id = ?", [BUSY_TENANT], |r| r.get(0))?;
        for k in 0..(1000 - have).max(0) {
            let when = now - Duration::minutes(500 * k + 60);
            let (channel, direction, status) = match k % 4 {
                0 => ("phone", "outbound", "left_message"),
                1 => ("text", "inbound", "received"),
                2 => ("email", "outbound", "delivered"),
                _ => ("text", "outbound", "delivered"),
            };
            log.execute(params![BUSY_TENANT, channel, direction, phone(1), format!("contact {k}"), status, timestamp(when), Option::<String>::None, Option::<String>::None])?;
        }
    }
    c.execute_batch("COMMIT")?;
    c.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    let busy: i64 = c.query_row("SELECT count(*) FROM contact_log WHERE tenant_id = ?", [BUSY_TENANT], |r| r.get(0))?;
    anyhow::ensure!(busy == 1000, "the busy tenant has {busy} contacts");
    let owing: i64 = c.query_row("SELECT count(*) FROM tenant_balances WHERE balance_cents > 0", [], |r| r.get(0))?;
    let expected = (0..tenants).filter(|i| overdue(*i, 0)).count() as i64;
    anyhow::ensure!(owing == expected, "{owing} tenants owe, expected {expected}");
    eprintln!("  {} texts, {} replies, {owing} overdue", n.texts, n.replies);
    Ok(Meta { tenants, month_from: last_month, month_to: this_month - Duration::days(1) })
}

/// One read: a name and the requests it makes, in order.
struct Read {
    name: &'static str,
    paths: Vec<String>,
}

fn reads(db: &Path, meta: &Meta, call_list_next: &str) -> anyhow::Result<Vec<Read>> {
    let c = rusqlite::Connection::open(db)?;
    // The id half way down each list: a page there is "deep".
    let middle = |sql: &str| -> anyhow::Result<i64> { Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))?) };
    let inbox_deep = middle("SELECT id FROM inbound_messages WHERE in_inbox = 1 ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM inbound_messages WHERE in_inbox = 1)")?;
    let outbox_deep = middle("SELECT (min(id) + max(id)) / 2 FROM outbox")?;
    let audit_deep = middle("SELECT (min(id) + max(id)) / 2 FROM audit_log")?;
    let (from, to) = (date_string(meta.month_from), date_string(meta.month_to));
    let enc = BUSY_TENANT;
    // The call list's page after the first, by the cursor the first gave.
    let second = format!("/api/call-list?limit=50&after={}", percent_encoding::utf8_percent_encode(call_list_next, percent_encoding::NON_ALPHANUMERIC));
    let one = |name: &'static str, p: String| Read { name, paths: vec![p] };
    Ok(vec![
        one("call list, first 50", "/api/call-list?limit=50".into()),
        one("call list, next 50", second),
        Read {
            name: "tenant page (1,000 contacts)",
            paths: vec![
                format!("/api/tenants/{enc}"),
                format!("/api/tenants/{enc}/ledger"),
                format!("/api/tenants/{enc}/contacts?limit=200"),
                format!("/api/tenants/{enc}/promises"),
            ],
        },
        one("inbox (open), first 50", "/api/inbox?limit=50".into()),
        one("inbox (all), first 50", "/api/inbox?status=all&limit=50".into()),
        one("inbox (all), deep, before=", format!("/api/inbox?status=all&limit=50&before={inbox_deep}")),
        one("outbox, first 50", "/api/outbox?limit=50".into()),
        one("outbox, deep, before=", format!("/api/outbox?limit=50&before={outbox_deep}")),
        one("outbox sent, deep, before=", format!("/api/outbox?state=sent&limit=50&before={outbox_deep}")),
        one("audit, first 50", "/api/audit?limit=50".into()),
        one("audit, deep, before=", format!("/api/audit?limit=50&before={audit_deep}")),
        one("report, month, one property", format!("/api/reports?from={from}&to={to}&property_id=P0001")),
        one("report, month, all properties", format!("/api/reports?from={from}&to={to}")),
        one("report chart (SVG), month", format!("/api/reports/chart.svg?from={from}&to={to}")),
    ])
}

/// p50, min and max in milliseconds of `rounds` runs of each read.
fn measure(tier: &str, rounds: usize) -> anyhow::Result<(Meta, Vec<(&'static str, f64, f64, f64)>)> {
    let (dir, meta) = database(tier)?;
    let app = App::builder().state_dir(&dir).start();
    let username = format!("bench{}", Utc::now().timestamp_millis());
    let (s, r) = app.staff_post("/api/staff-users", &json!({ "username": username, "role": "viewer" }));
    anyhow::ensure!(s == 201, "creating the viewer: {s} {r}");
    let token = r["token"].as_str().unwrap_or_default().to_owned();
    let first = app.client.get(app.url("/api/call-list?limit=50")).bearer_auth(&token).send()?.json::<Json>()?;
    let next = first["next"].as_str().ok_or_else(|| anyhow::anyhow!("the call list's first page has no `next`: {first}"))?.to_owned();
    let reads = reads(&dir.join("sqlite_db.db"), &meta, &next)?;
    let mut out = Vec::new();
    for read in &reads {
        let mut times = Vec::new();
        // One unmeasured run warms the page cache and the instance pool.
        // A read past the client's timeout (60 s) is recorded as infinite
        // and not repeated.
        'rounds: for round in 0..=rounds {
            let t0 = Instant::now();
            for p in &read.paths {
                let resp = match app.client.get(app.url(p)).bearer_auth(&token).send() {
                    Err(e) if e.is_timeout() => {
                        times = vec![f64::INFINITY];
                        break 'rounds;
                    }
                    other => other?,
                };
                let status = resp.status().as_u16();
                let body = resp.bytes()?;
                anyhow::ensure!(status == 200, "{p}: {status} {}", String::from_utf8_lossy(&body));
            }
            if round > 0 {
                times.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        let p50 = times[times.len() / 2];
        eprintln!("  {tier}: {:<32} p50 {p50:9.1} ms", read.name);
        out.push((read.name, p50, times[0], times[times.len() - 1]));
    }
    Ok((meta, out))
}

fn main() -> anyhow::Result<()> {
    let wasm = e2e::workspace_root().join("target/wasm32-wasip2/release/staff_console.wasm");
    anyhow::ensure!(wasm.exists(), "staff_console.wasm is not built: run `cargo xtask build-wasm` first");
    let mut tiers: Vec<String> =
        std::env::var("STAFF_PAGES_TIER").unwrap_or_else(|_| "small,medium".into()).split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    // The ratio is over the small tier: always measure it first.
    tiers.retain(|t| t != "small");
    tiers.insert(0, "small".into());
    let rounds = e2e::bench::env_usize("STAFF_PAGES_ROUNDS", 7);
    let mut results = Vec::new();
    for t in &tiers {
        tier_tenants(t)?;
        results.push((t.clone(), measure(t, rounds)?));
    }
    println!("staff pages through the staff-console component, one client, p50 of {rounds} rounds (min-max), ms");
    let (_, (_, base)) = &results[0];
    for (tier, (meta, figures)) in &results {
        println!("tier {tier}: {} tenants, report month {}..{}", meta.tenants, meta.month_from, meta.month_to);
        for (i, (name, p50, lo, hi)) in figures.iter().enumerate() {
            let ratio = p50 / base[i].1;
            println!("  {name:<32} {p50:9.1}   ({lo:.1}-{hi:.1})   x{ratio:.2} of small");
        }
    }
    Ok(())
}
