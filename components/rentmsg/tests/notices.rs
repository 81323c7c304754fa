//! The overdue scan and the send pass, natively: who gets a notice and why
//! not, once per stage, at the configured pace, and never twice, with the
//! database and the provider failing at each step.

mod notices_common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use notices_common::*;
use rentmsg::compliance::DbChecker;
use rentmsg::records::consent::{self, ConsentChange, ConsentStatus};
use rentmsg::base::db::{Db, NativeDb};
use rentmsg::records::exclusions::{self, TenantFlag};
use rentmsg::import::{self, ImportKind};
use rentmsg::records::ledger::{self, EntryKind, NewPayment};
use rentmsg::notices::links::{self, Purpose};
use rentmsg::sending::pacing::Clock as _;
use rentmsg::sending::providers::{HttpResponse, TransportError};
use rentmsg::notices::scan;
use rentmsg::sending::send::StopReason;
use serde_json::json;

/// Wednesday 2024-06-05 09:30 in New York (06:30 in Los Angeles).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 5, 13, 30, 0).unwrap()
}

const PROPERTIES: &str = "property_id,name,time_zone,state,country\n\
    P1,Maple Court,America/New_York,NY,US\n\
    P2,Harbor Storage,America/New_York,MA,US\n";

const TENANTS: &str = "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
    A,P1,Ann Able,1A,(212) 555-0101,,,ann@example.com,,,,,\n\
    B,P1,Bob Optout,1B,(212) 555-0102,,,bob@example.com,,,,,\n\
    C,P1,Cy Bankrupt,1C,(212) 555-0103,,,cy@example.com,,,,,\n\
    D,P1,Di Stopped,1D,(212) 555-0104,,,di@example.com,,,,,\n\
    E,P1,Ed Late,1E,(212) 555-0105,,,,,,,,\n\
    F,P1,Flo Small,1F,(212) 555-0106,,,,,,,,\n\
    G,P1,Gus Paid,1G,(212) 555-0107,,,,,,,,\n\
    H,P1,Hal West,1H,(213) 555-0108,,,,,CA,,America/Los_Angeles,\n\
    I,P2,Ida Limit,2A,(617) 555-0109,,,,,,,,\n";

const LEDGER: &str = "tenant_id,date,due_date,kind,amount,reference\n\
    A,2024-05-24,2024-05-24,charge,1200.00,RENT-A\n\
    B,2024-05-24,2024-05-24,charge,1200.00,RENT-B\n\
    C,2024-05-24,2024-05-24,charge,1200.00,RENT-C\n\
    D,2024-05-24,2024-05-24,charge,1200.00,RENT-D\n\
    E,2024-04-21,2024-04-21,charge,800.00,RENT-E\n\
    F,2024-05-24,2024-05-24,charge,10.00,RENT-F\n\
    G,2024-05-24,2024-05-24,charge,900.00,RENT-G\n\
    G,2024-05-25,,payment,900.00,PAY-G\n\
    H,2024-05-24,2024-05-24,charge,700.00,RENT-H\n\
    I,2024-05-24,2024-05-24,charge,650.00,RENT-I\n";

fn opt_in(db: &dyn Db, tenant: &str) {
    consent::set(
        db,
        &ConsentChange {
            tenant_id: tenant,
            status: ConsentStatus::OptedIn,
            evidence: Some("lease section 12"),
            channel: None,
            address: None,
            actor: "staff",
            source: "test",
        },
        now() - Duration::days(30),
    )
    .unwrap();
}

fn portfolio() -> NativeDb {
    let db = NativeDb::open_in_memory().unwrap();
    rentmsg::schema::migrate(&db, now()).unwrap();
    for (kind, csv) in [(ImportKind::Properties, PROPERTIES), (ImportKind::Tenants, TENANTS), (ImportKind::Ledger, LEDGER)] {
        let r = import::import(&db, kind, csv.as_bytes(), "test", now()).unwrap();
        assert!(r.rejected.is_empty(), "{kind:?}: {:?}", r.rejected);
    }
    for t in ["A", "C", "D", "E", "F", "G", "H", "I"] {
        opt_in(&db, t);
    }
    exclusions::set_flag_in_tx(&db, "C", TenantFlag::Bankruptcy, true, Some("chapter 7 filing"), "staff", now()).unwrap();
    exclusions::set_customer_opt_out(&db, "+12125550104", now() - Duration::days(3), Some("SM-stop")).unwrap();
    // Ida (Massachusetts) already had two texts this week: the limit.
    for days in [1, 2] {
        rentmsg::records::contact_log::record(
            &db,
            &rentmsg::records::contact_log::NewContact {
                tenant_id: Some("I"),
                channel: rentmsg::base::channel::Channel::Text,
                direction: rentmsg::records::contact_log::Direction::Outbound,
                address: "+16175550109",
                body: "earlier notice",
                status: "delivered",
                at: now() - Duration::days(days),
                provider_id: None,
                detail: None,
            },
        )
        .unwrap();
    }
    db
}

fn rows(db: &dyn Db) -> Vec<serde_json::Value> {
    let r = db
        .execute(
            "SELECT tenant_id, channel, stage, state, decision, reasons FROM outbox ORDER BY tenant_id, channel DESC",
            &[],
        )
        .unwrap();
    r.iter()
        .map(|r| {
            json!({
                "tenant": r.str("tenant_id").unwrap(),
                "channel": r.str("channel").unwrap(),
                "stage": r.opt_i64("stage").unwrap(),
                "state": r.str("state").unwrap(),
                "rules": r.opt_str("reasons").unwrap().map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap())
                    .map(|v| v.as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap().to_owned()).collect::<Vec<_>>()),
            })
        })
        .collect()
}

fn state_of(db: &dyn Db, tenant: &str, channel: &str) -> String {
    db.execute("SELECT state FROM outbox WHERE tenant_id = ? AND channel = ? ORDER BY id DESC LIMIT 1", &[tenant.into(), channel.into()])
        .unwrap()
        .first()
        .map(|r| r.string("state").unwrap())
        .unwrap_or_else(|| "none".into())
}

fn rules_of(db: &dyn Db, tenant: &str, channel: &str) -> Vec<String> {
    let r = db
        .execute("SELECT reasons FROM outbox WHERE tenant_id = ? AND channel = ? ORDER BY id DESC LIMIT 1", &[tenant.into(), channel.into()])
        .unwrap();
    let text = r.first().and_then(|r| r.opt_string("reasons").unwrap()).unwrap_or_else(|| "[]".into());
    serde_json::from_str::<serde_json::Value>(&text).unwrap().as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn balance_summary_follows_every_ledger_write() {
    use proptest::prelude::*;
    proptest!(ProptestConfig::with_cases(64), |(ops in proptest::collection::vec((0u8..4, 1i64..2000, 0i64..60, 0usize..6), 1..25))| {
        let db = NativeDb::open_in_memory().unwrap();
        rentmsg::schema::migrate(&db, now()).unwrap();
        import::import(&db, ImportKind::Properties, PROPERTIES.as_bytes(), "t", now()).unwrap();
        import::import(&db, ImportKind::Tenants, TENANTS.as_bytes(), "t", now()).unwrap();
        let base = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        for (i, (op, cents, day, reference)) in ops.iter().enumerate() {
            let date = rentmsg::base::time::date_string(base + Duration::days(*day));
            let reference = format!("R{reference}");
            match op {
                0 | 1 => {
                    let kind = if *op == 0 { "charge" } else { "payment" };
                    db.execute(
                        "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, created_at, updated_at)
                         VALUES ('A', ?, ?, ?, ?, ?, 'x', 'x')
                         ON CONFLICT (tenant_id, reference) DO UPDATE SET kind = excluded.kind, amount_cents = excluded.amount_cents, due_date = excluded.due_date",
                        &[reference.as_str().into(), kind.into(), date.as_str().into(), date.as_str().into(), (*cents).into()],
                    ).unwrap();
                }
                2 => {
                    db.execute("DELETE FROM ledger_entries WHERE tenant_id = 'A' AND reference = ?", &[reference.as_str().into()]).unwrap();
                }
                _ => {
                    ledger::record_payment(&db, &NewPayment { tenant_id: "A", reference: &format!("W{i}"), kind: EntryKind::Credit, date: base, amount_cents: *cents, source: "test" }, now()).unwrap();
                }
            }
            let summary = ledger::summary(&db, "A", base).unwrap();
            let stored = rentmsg::records::balances::get(&db, "A").unwrap();
            let (balance, oldest) = stored.map(|b| (b.balance_cents, b.oldest_unpaid_due_date)).unwrap_or((0, None));
            prop_assert_eq!(balance, summary.balance_cents);
            prop_assert_eq!(oldest, summary.oldest_open_due_date);
        }
    });
}

#[test]
fn scan_queues_the_due_stage_once_and_records_why_not() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    let report = scan::run(&db, &checker, now()).unwrap();
    // F owes less than the $25 minimum and G is paid up: not even read.
    assert_eq!(report.overdue_tenants, 7, "{report:?}");
    let expect = [
        ("A", "text", 3, "queued", vec![]),
        ("A", "email", 3, "queued", vec![]),
        ("B", "text", 3, "blocked", vec!["consent"]),
        ("B", "email", 3, "blocked", vec!["consent"]),
        ("C", "text", 3, "blocked", vec!["exclusion.bankruptcy"]),
        ("C", "email", 3, "blocked", vec!["exclusion.bankruptcy"]),
        ("D", "text", 3, "blocked", vec!["exclusion.number_by_customer"]),
        ("D", "email", 3, "queued", vec![]),
        // 45 days late: only the latest due stage (30 days), not five stale notices.
        ("E", "text", 5, "queued", vec![]),
        ("E", "email", 5, "blocked", vec!["address.none"]),
        // 06:30 in Los Angeles: deferred to 08:00 there.
        ("H", "text", 3, "deferred", vec!["window:us-reg-f-text"]),
        ("H", "email", 3, "blocked", vec!["address.none"]),
    ];
    let got = rows(&db);
    for (tenant, channel, stage, state, rules) in expect {
        let row = got.iter().find(|r| r["tenant"] == tenant && r["channel"] == channel).unwrap_or_else(|| panic!("{tenant} {channel}: no row in {got:#?}"));
        assert_eq!(row["stage"], stage, "{row}");
        assert_eq!(row["state"], state, "{row}");
        let have: Vec<String> = row["rules"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        for r in rules {
            assert!(have.iter().any(|h| h.starts_with(r)), "{tenant} {channel}: {have:?} lacks {r}");
        }
    }
    // Over the Massachusetts limit: not allowed now, and the rule is named.
    assert_ne!(state_of(&db, "I", "text"), "queued");
    assert!(rules_of(&db, "I", "text").iter().any(|r| r.starts_with("frequency:ma-")), "{:?}", rules_of(&db, "I", "text"));
    let h = db.execute("SELECT not_before FROM outbox WHERE tenant_id = 'H' AND channel = 'text'", &[]).unwrap();
    assert_eq!(h.first().unwrap().str("not_before").unwrap(), "2024-06-05T15:00:00.000Z");

    // A second scan, and one overlapping it, queue nothing.
    let before = count(&db, "SELECT count(*) AS n FROM outbox");
    let again = scan::run(&db, &checker, now() + Duration::minutes(15)).unwrap();
    assert_eq!((again.queued, again.already_queued), (0, report.due), "{again:?}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox"), before);
}

#[test]
fn overlapping_scans_on_two_connections_queue_each_notice_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let db = NativeDb::open(&path).unwrap();
        db.connection().pragma_update(None, "journal_mode", "WAL").unwrap();
        rentmsg::schema::migrate(&db, now()).unwrap();
        for (kind, csv) in [(ImportKind::Properties, PROPERTIES), (ImportKind::Tenants, TENANTS), (ImportKind::Ledger, LEDGER)] {
            import::import(&db, kind, csv.as_bytes(), "test", now()).unwrap();
        }
        opt_in(&db, "A");
    }
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let db = NativeDb::open(&path).unwrap();
                barrier.wait();
                scan::run(&db, &DbChecker { db: &db }, now()).unwrap().queued
            })
        })
        .collect();
    let queued: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let db = NativeDb::open(&path).unwrap();
    let n = count(&db, "SELECT count(*) AS n FROM outbox");
    assert_eq!(queued as i64, n, "each row was inserted by exactly one scan");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM (SELECT 1 FROM outbox GROUP BY tenant_id, cycle, stage, channel HAVING count(*) > 1)"), 0);
}

#[test]
fn a_settling_payment_cancels_queued_notices_and_a_partial_one_starts_a_new_cycle_with_reset() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    scan::run(&db, &checker, now()).unwrap();
    assert_eq!(state_of(&db, "A", "text"), "queued");
    ledger::record_payment(
        &db,
        &NewPayment { tenant_id: "A", reference: "PAY-A", kind: EntryKind::Payment, date: now().date_naive(), amount_cents: 120_000, source: "payments" },
        now(),
    )
    .unwrap();
    assert_eq!(state_of(&db, "A", "text"), "cancelled");
    assert_eq!(state_of(&db, "A", "email"), "cancelled");
    // Paid up: a new scan reads nothing for A.
    scan::run(&db, &checker, now() + Duration::hours(1)).unwrap();
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE tenant_id = 'A'"), 2);

    // With reset after any payment, a partial payment restarts the count.
    let mut spec = rentmsg::notices::schedule::load(&db).unwrap().spec;
    spec.reset_after_any_payment = true;
    rentmsg::notices::schedule::save(&db, spec, "staff", now()).unwrap();
    ledger::record_payment(
        &db,
        &NewPayment { tenant_id: "E", reference: "PAY-E", kind: EntryKind::Payment, date: now().date_naive() - Duration::days(2), amount_cents: 100, source: "payments" },
        now(),
    )
    .unwrap();
    let r = scan::run(&db, &checker, now() + Duration::hours(2)).unwrap();
    assert!(r.queued >= 1, "{r:?}");
    let e = db
        .execute("SELECT cycle, stage FROM outbox WHERE tenant_id = 'E' AND channel = 'text' ORDER BY id DESC LIMIT 1", &[])
        .unwrap();
    let e = e.first().unwrap();
    assert_eq!(e.str("cycle").unwrap(), "2024-04-21~2024-06-03");
    assert_eq!(e.i64("stage").unwrap(), 1, "two days since the payment: stage 1");
}

fn scanned() -> NativeDb {
    let db = portfolio();
    scan::run(&db, &DbChecker { db: &db }, now()).unwrap();
    db
}

#[test]
fn a_send_pass_sends_each_allowed_notice_once_and_logs_it() {
    let db = scanned();
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let clock = FakeClock::at(now());
    let cfg = config(600);
    let r = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    // A text + email, D email, E text.
    assert_eq!((r.sent, r.stopped), (4, StopReason::Idle), "{r:?}");
    assert_eq!(provider.count_to("2125550101"), 1);
    assert_eq!(provider.count_to("ann%40example.com") + provider.count_to("ann@example.com"), 1);
    assert_eq!(provider.count_to("2125550104"), 0, "STOPped number gets nothing");
    assert_eq!(provider.count_to("2125550102") + provider.count_to("bob@"), 0, "opted out");
    assert_eq!(provider.count_to("2125550103") + provider.count_to("cy@"), 0, "bankrupt");

    // The text: form fields, auth, links, opt-out line.
    let text = provider.accepted.borrow().iter().find(|r| String::from_utf8_lossy(&r.body).contains("2125550101")).cloned().unwrap();
    assert_eq!(text.url, "https://sms.example/2010-04-01/Accounts/AC123/Messages.json");
    assert!(text.header("authorization").unwrap().starts_with("Basic "));
    let fields: Vec<(String, String)> = url_decode(&String::from_utf8(text.body.clone()).unwrap());
    let body = &fields.iter().find(|(k, _)| k == "Body").unwrap().1;
    assert!(body.contains("Ann Able") && body.contains("$1,200.00") && body.ends_with("Reply STOP to opt out."), "{body}");
    let link = body.split_whitespace().find(|w| w.starts_with("https://rent.example/pay/")).unwrap();
    let token = link.trim_start_matches("https://rent.example/pay/");
    let target = links::resolve(&db, LINK_KEY, Purpose::Pay, token, now()).unwrap().unwrap();
    assert_eq!(target.tenant_id, "A");
    assert!(links::resolve(&db, LINK_KEY, Purpose::Unsubscribe, token, now()).unwrap().is_err(), "purposes do not swap");
    // The link is the base URL and the token, nothing else; the token is
    // the row's random link id and a MAC (the expiry stays on the row): no
    // tenant id.
    assert_eq!(link, format!("https://rent.example/pay/{token}"));
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token).unwrap();
    assert_eq!(bytes.len(), links::LINK_ID_BYTES + 6, "link id, tag");
    let link_id: String = bytes[..links::LINK_ID_BYTES].iter().map(|b| format!("{b:02x}")).collect();
    let stored = db.execute("SELECT link_id FROM outbox WHERE tenant_id = 'A' AND channel = 'text'", &[]).unwrap();
    assert_eq!(stored.first().unwrap().string("link_id").unwrap(), link_id, "the only id in the token is the row's random link id");
    for personal in ["2125550101", "555-0101", "ann@example.com", "ann%40example.com", "1200", "120000", "1,200"] {
        assert!(!link.contains(personal), "{personal} in {link}");
    }

    // The email: unsubscribe headers, metadata.
    let email = provider.accepted.borrow().iter().find(|r| r.url.ends_with("/email") && String::from_utf8_lossy(&r.body).contains("ann@")).cloned().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&email.body).unwrap();
    assert_eq!(j["Headers"][1]["Value"], "List-Unsubscribe=One-Click");
    assert!(j["Headers"][0]["Value"].as_str().unwrap().starts_with("<https://rent.example/unsubscribe/"));
    assert!(j["TextBody"].as_str().unwrap().contains("unsubscribe here: https://rent.example/unsubscribe/"));
    assert!(j["Metadata"]["notice_id"].as_str().unwrap().starts_with("outbox-"));

    // Each send is on the contact log with its provider id and status.
    let logged = rentmsg::records::contact_log::for_tenant(&db, "A", None).unwrap();
    let sent: Vec<_> = logged.iter().filter(|c| c.direction == rentmsg::records::contact_log::Direction::Outbound).collect();
    assert_eq!(sent.len(), 2);
    for c in &sent {
        assert!(c.provider_id.is_some(), "{c:?}");
        assert!(c.status == "queued" || c.status == "sent", "{c:?}");
        assert_eq!(c.detail.as_ref().unwrap()["stage"], 3);
    }
    assert_eq!(state_of(&db, "A", "text"), "sent");

    // A second pass sends nothing.
    let again = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(provider.accepted.borrow().len(), 4);
}

fn url_decode(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let dec = |x: &str| percent_encoding::percent_decode_str(&x.replace('+', " ")).decode_utf8().unwrap().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

#[test]
fn the_budget_caps_each_minute_and_spreads_sends_over_it() {
    let db = scanned();
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let clock = FakeClock::at(now());
    let cfg = config(3);
    let r = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!((r.sent, r.stopped), (3, StopReason::Budget), "{r:?}");
    // Slots at 0, 20 and 40 seconds of the minute.
    assert_eq!(clock.now(), now() + Duration::seconds(40));
    // Another invocation in the same minute gets nothing.
    let other = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!((other.sent, other.stopped), (0, StopReason::Budget));
    clock.0.set(now() + Duration::minutes(1));
    let next = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!((next.sent, next.stopped), (1, StopReason::Idle), "{next:?}");
    assert_eq!(provider.accepted.borrow().len(), 4);
}

#[test]
fn concurrent_passes_share_the_budget_and_never_send_a_row_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let clock_start = Utc::now();
    {
        let db = NativeDb::open(&path).unwrap();
        db.connection().pragma_update(None, "journal_mode", "WAL").unwrap();
        rentmsg::schema::migrate(&db, now()).unwrap();
        db.execute("INSERT INTO properties (property_id, name, time_zone, state, country, created_at, updated_at) VALUES ('P', 'Bulk', 'UTC', NULL, 'GB', 'x', 'x')", &[]).unwrap();
        for i in 0..40 {
            let t = format!("T{i}");
            db.execute("INSERT INTO tenants (tenant_id, property_id, name, status, created_at, updated_at) VALUES (?, 'P', 'X', 'active', 'x', 'x')", &[t.as_str().into()]).unwrap();
            db.execute(
                "INSERT INTO outbox (kind, tenant_id, channel, address, state, not_before, custom_subject, custom_body, created_by, created_at, updated_at)
                 VALUES ('supplemental', ?, 'email', ?, 'queued', '2000-01-01T00:00:00.000Z', 'Notice', 'Hello {{ opt_out }}', 'test', 'x', 'x')",
                &[t.as_str().into(), format!("t{i}@example.com").into()],
            )
            .unwrap();
            db.execute("INSERT INTO contact_points (tenant_id, kind, channel, address, created_at, updated_at) VALUES (?, 'email', 'email', ?, 'x', 'x')", &[t.as_str().into(), format!("t{i}@example.com").into()]).unwrap();
            consent::set(&db, &ConsentChange { tenant_id: &t, status: ConsentStatus::OptedIn, evidence: Some("form"), channel: None, address: None, actor: "s", source: "t" }, now()).unwrap();
        }
    }
    let counter = std::sync::Arc::new(MemCounter::default());
    let rate = 30;
    let handles: Vec<_> = (0..3)
        .map(|n| {
            let (path, counter) = (path.clone(), counter.clone());
            std::thread::spawn(move || {
                let db = NativeDb::open(&path).unwrap();
                let provider = FakeProvider::accepting();
                // Each invocation has its own clock, all in the same minute.
                let clock = FakeClock::at(Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap() + Duration::milliseconds(n * 10));
                let checker = DbChecker { db: &db };
                let log = |_: &serde_json::Value| {};
                let owner = format!("owner-{n}");
                let cfg = config(rate);
                let env = rentmsg::sending::send::SendEnv {
                    db: &db,
                    checker: &checker,
                    http: &provider,
                    counter: &*counter,
                    clock: &clock,
                    config: &cfg,
                    owner: &owner,
                    deadline: rentmsg::sending::send::default_deadline(clock.now()),
                    log: &log,
                };
                let r = rentmsg::sending::send::run_pass(&env).unwrap();
                let sent: Vec<String> = provider.accepted.borrow().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
                (r, sent)
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        let (_, sent) = h.join().unwrap();
        all.extend(sent);
    }
    let _ = clock_start;
    let db = NativeDb::open(&path).unwrap();
    let states = db.execute("SELECT state, state_reason, count(*) AS n FROM outbox GROUP BY 1, 2", &[]).unwrap();
    let states: Vec<String> = states.iter().map(|r| format!("{} {:?} {}", r.str("state").unwrap(), r.opt_str("state_reason").unwrap(), r.i64("n").unwrap())).collect();
    assert!(all.len() as i64 <= rate, "{} sends in one minute, budget {rate}", all.len());
    assert!(all.len() as i64 >= rate / 2, "the budget is used: {} {states:?}", all.len());
    let mut tos: Vec<String> = all.iter().map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["To"].as_str().unwrap().to_owned()).collect();
    let n = tos.len();
    tos.sort();
    tos.dedup();
    assert_eq!(tos.len(), n, "a row went out twice");
}

/// The database or the provider fails at one step of a send; afterwards,
/// passes run until nothing is due. The tenant must have received the
/// notice at most once, and exactly once unless the outcome was unknowable.
fn crash_case(fail_sql: Option<(&str, usize)>, provider_first: Option<Result<HttpResponse, TransportError>>) -> (usize, String) {
    let db = portfolio();
    // Only A's text.
    scan::run(&db, &DbChecker { db: &db }, now()).unwrap();
    db.execute("UPDATE outbox SET state = 'cancelled' WHERE NOT (tenant_id = 'A' AND channel = 'text')", &[]).unwrap();
    let faulty = FaultyDb::new(&db);
    let provider = FakeProvider::accepting();
    if let Some(first) = provider_first {
        let used = std::cell::Cell::new(false);
        let first = std::cell::RefCell::new(Some(first));
        provider.set(move |_| {
            if used.replace(true) {
                Ok(HttpResponse::default())
            } else {
                first.borrow_mut().take().unwrap()
            }
        });
    }
    if let Some((pattern, nth)) = fail_sql {
        faulty.fail_on(pattern, nth);
    }
    let counter = MemCounter::default();
    let clock = FakeClock::at(now());
    let cfg = config(600);
    for _ in 0..12 {
        let _ = pass(&faulty, &provider, &counter, &clock, &cfg);
        // Time passes: leases expire, backoffs elapse.
        clock.advance(Duration::minutes(20));
        if clock.now().time() > chrono::NaiveTime::from_hms_opt(22, 0, 0).unwrap() {
            break;
        }
    }
    if let Some((pattern, _)) = fail_sql {
        assert!(faulty.tripped.get(), "the fault on `{pattern}` never fired");
    }
    (provider.count_to("2125550101"), state_of(&db, "A", "text"))
}

#[test]
fn crashes_and_provider_failures_at_each_step_never_send_twice() {
    let ok = Ok(HttpResponse::default());
    type Case<'a> = (&'a str, Option<(&'a str, usize)>, Option<Result<HttpResponse, TransportError>>, usize, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("no fault", None, None, 1, "sent"),
        ("database down when leasing", Some(("UPDATE outbox SET lease_owner", 1)), None, 1, "sent"),
        ("database down when recording the intent", Some(("UPDATE outbox SET state = 'sending'", 1)), None, 1, "sent"),
        ("contact log write fails inside the intent", Some(("INSERT INTO contact_log", 1)), None, 1, "sent"),
        ("database down after the provider accepted", Some(("UPDATE outbox SET state = ?, state_reason = ?, provider_id", 1)), None, 1, "unknown"),
        ("database down when marking a retry", Some(("UPDATE outbox SET state = 'queued'", 1)), Some(Ok(HttpResponse { status: 503, headers: vec![], body: vec![] })), 0, "unknown"),
        ("provider answers 500 first", None, Some(Ok(HttpResponse { status: 500, headers: vec![], body: b"oops".to_vec() })), 1, "sent"),
        ("provider rate-limits first", None, Some(Ok(HttpResponse { status: 429, headers: vec![("Retry-After".into(), "30".into())], body: vec![] })), 1, "sent"),
        ("request never reaches the provider", None, Some(Err(TransportError::NotSent("connection refused".into()))), 1, "sent"),
        ("provider never answers", None, Some(Err(TransportError::NoAnswer("read timeout".into()))), 0, "unknown"),
        ("provider refuses (4xx)", None, Some(Ok(HttpResponse { status: 400, headers: vec![], body: br#"{"code":21211,"message":"Invalid To"}"#.to_vec() })), 0, "failed"),
        ("reconcile fails once", Some(("UPDATE outbox SET state = 'unknown'", 1)), None, 1, "sent"),
        ("compliance read fails", Some(("WITH\n    tn AS", 1)), None, 1, "sent"),
        ("still fine", None, Some(ok), 1, "sent"),
    ];
    for (name, fail, first, want_received, want_state) in cases {
        let (received, state) = crash_case(fail, first);
        assert_eq!((received, state.as_str()), (want_received, want_state), "{name}");
    }
}

#[test]
fn a_no_answer_is_never_retried_but_a_late_answer_still_lands() {
    let db = portfolio();
    scan::run(&db, &DbChecker { db: &db }, now()).unwrap();
    db.execute("UPDATE outbox SET state = 'cancelled' WHERE NOT (tenant_id = 'A' AND channel = 'text')", &[]).unwrap();
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let clock = FakeClock::at(now());
    let cfg = config(600);
    let faulty = FaultyDb::new(&db);
    // The result write fails: the row stays in `sending`.
    faulty.fail_on("UPDATE outbox SET state = ?, state_reason = ?, provider_id", 1);
    assert!(pass(&faulty, &provider, &counter, &clock, &cfg).is_err());
    assert_eq!(state_of(&db, "A", "text"), "sending");
    // Before the lease expires nobody touches it.
    clock.advance(Duration::seconds(30));
    let r = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!((r.sent, r.reconciled_unknown), (0, 0));
    clock.advance(Duration::minutes(5));
    let r = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!((r.sent, r.reconciled_unknown), (0, 1));
    assert_eq!(state_of(&db, "A", "text"), "unknown");
    let log = rentmsg::records::contact_log::for_tenant(&db, "A", None).unwrap();
    assert_eq!(log.iter().filter(|c| c.status == "unknown").count(), 1);
    assert_eq!(provider.accepted.borrow().len(), 1);
}

#[test]
fn carrier_opt_out_records_a_stop_and_bad_credentials_rest_the_channel() {
    let db = scanned();
    let provider = FakeProvider::accepting();
    provider.set(|r| {
        if r.url.ends_with("/email") {
            Ok(HttpResponse { status: 401, headers: vec![], body: br#"{"ErrorCode":10,"Message":"Bad or missing Server API token."}"#.to_vec() })
        } else {
            Ok(HttpResponse { status: 400, headers: vec![], body: br#"{"code":21610,"message":"Attempt to send to unsubscribed recipient"}"#.to_vec() })
        }
    });
    let counter = MemCounter::default();
    let clock = FakeClock::at(now());
    let r = pass(&db, &provider, &counter, &clock, &config(600)).unwrap();
    assert_eq!(r.opted_out, 2, "{r:?}");
    assert_eq!(r.sent, 0);
    assert!(r.channels_unavailable.iter().any(|c| c.starts_with("email")), "{r:?}");
    assert!(exclusions::customer_opted_out(&db, "+12125550101").unwrap());
    assert_eq!(state_of(&db, "A", "text"), "failed");
    // The email was not sent and is still queued for when the token is fixed.
    assert_eq!(state_of(&db, "A", "email"), "queued");
    assert_eq!(count(&db, "SELECT attempts AS n FROM outbox WHERE tenant_id = 'A' AND channel = 'email'"), 0, "a refused credential is not an attempt");
    let emails = provider.requests.borrow().iter().filter(|r| r.url.ends_with("/email")).count();
    assert_eq!(emails, 1, "one refused try, then the channel rests");
}

#[test]
fn send_time_checks_cancel_defer_and_block() {
    let db = scanned();
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let cfg = config(600);
    // E's cycle changes: a credit covers the April charge... and more is
    // owed from May: new oldest unpaid date, so the April notice is stale.
    import::import(&db, ImportKind::Ledger, b"tenant_id,date,due_date,kind,amount,reference\nE,2024-05-20,2024-05-20,charge,500.00,RENT-E2\n", "t", now()).unwrap();
    ledger::record_payment(&db, &NewPayment { tenant_id: "E", reference: "CR-E", kind: EntryKind::Credit, date: now().date_naive(), amount_cents: 80_000, source: "t" }, now()).unwrap();
    // D's email opted out by the customer after the scan: blocked at send time.
    exclusions::set_customer_opt_out(&db, "di@example.com", now(), None).unwrap();
    // A is paused (a promise to pay).
    rentmsg::notices::pauses::pause_tenant(&db, "A", now() + Duration::days(7), "promised to pay Friday", "staff", now()).unwrap();
    // After hours: H's deferred text is not due yet; at 19:30 NY the window is closed.
    let clock = FakeClock::at(now());
    let r = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!(r.sent, 0, "{r:?}");
    assert_eq!(state_of(&db, "E", "text"), "cancelled");
    assert_eq!(state_of(&db, "D", "email"), "blocked");
    assert!(rules_of(&db, "D", "email").iter().any(|r| r == "exclusion.number_by_customer"));
    assert_eq!(state_of(&db, "A", "text"), "cancelled");
    // H at 11:00 NY: deferred row is due; send it at the right time.
    clock.0.set(Utc.with_ymd_and_hms(2024, 6, 5, 23, 30, 0).unwrap());
    db.execute("UPDATE outbox SET not_before = '2024-06-05T00:00:00.000Z' WHERE tenant_id = 'H' AND channel = 'text'", &[]).unwrap();
    let r = pass(&db, &provider, &counter, &clock, &cfg).unwrap();
    assert_eq!((r.sent, r.deferred), (0, 1), "{r:?}");
    let h = db.execute("SELECT state, not_before FROM outbox WHERE tenant_id = 'H' AND channel = 'text'", &[]).unwrap();
    let h = h.first().unwrap();
    assert_eq!(h.str("state").unwrap(), "deferred");
    assert_eq!(h.str("not_before").unwrap(), "2024-06-06T13:00:00.000Z", "next morning 09:00 New York");
}

#[test]
fn unsubscribe_links_opt_the_address_out() {
    let db = scanned();
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let clock = FakeClock::at(now());
    pass(&db, &provider, &counter, &clock, &config(600)).unwrap();
    let email = provider.accepted.borrow().iter().find(|r| String::from_utf8_lossy(&r.body).contains("ann@")).cloned().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&email.body).unwrap();
    let header = j["Headers"][0]["Value"].as_str().unwrap();
    let token = header.trim_start_matches("<https://rent.example/unsubscribe/").trim_end_matches('>');
    let page = rentmsg::notices::unsubscribe::handle(&db, LINK_KEY, "GET", token, b"", now()).unwrap();
    assert_eq!((page.status, page.outcome), (200, "confirm_page"));
    assert!(page.body.contains("<form method=\"post\""));
    assert!(!exclusions::customer_opted_out(&db, "ann@example.com").unwrap(), "GET changes nothing");
    let page = rentmsg::notices::unsubscribe::handle(&db, LINK_KEY, "POST", token, b"List-Unsubscribe=One-Click", now()).unwrap();
    assert_eq!((page.status, page.outcome), (200, "unsubscribed"));
    assert!(exclusions::customer_opted_out(&db, "ann@example.com").unwrap());
    let again = rentmsg::notices::unsubscribe::handle(&db, LINK_KEY, "POST", token, b"confirm=yes", now()).unwrap();
    assert_eq!((again.status, again.outcome), (200, "already_unsubscribed"));
    let log = rentmsg::records::contact_log::for_tenant(&db, "A", None).unwrap();
    assert_eq!(log.iter().filter(|c| c.status == "unsubscribed").count(), 1);
    let audit = rentmsg::records::audit::list(&db, Some("address:ann@example.com"), 10).unwrap();
    assert_eq!(audit.len(), 1);
    // Expired, tampered, wrong purpose, unknown: one answer.
    let text = provider.accepted.borrow().iter().find(|r| String::from_utf8_lossy(&r.body).contains("2125550101")).cloned().unwrap();
    let pay_token = url_decode(&String::from_utf8(text.body).unwrap())
        .into_iter()
        .find(|(k, _)| k == "Body")
        .unwrap()
        .1
        .split_whitespace()
        .find(|w| w.contains("/pay/"))
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let unknown = links::sign_long(LINK_KEY, Purpose::Unsubscribe, &links::new_link_id().unwrap(), now() + Duration::days(1)).unwrap();
    for (t, at) in [(token.to_owned(), now() + Duration::days(31)), (format!("{token}x"), now()), (pay_token, now()), (unknown, now())] {
        let p = rentmsg::notices::unsubscribe::handle(&db, LINK_KEY, "POST", &t, b"List-Unsubscribe=One-Click", at).unwrap();
        assert_eq!((p.status, p.outcome), (404, "invalid_link"), "{t}");
    }
    // The email to Ann is now blocked by compliance.
    let d = rentmsg::compliance::check(&db, &rentmsg::compliance::CheckRequest { tenant_id: "A".into(), channel: rentmsg::base::channel::Channel::Email, address: None, at: now(), manual: false }).unwrap();
    assert_eq!(d.verdict, rentmsg::compliance::Verdict::Block);
}

#[test]
fn supplemental_messages_use_the_same_path() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    let row = rentmsg::notices::outbox::queue_supplemental(
        &db,
        &checker,
        &rentmsg::notices::outbox::Supplemental { tenant_id: "A", channel: rentmsg::base::channel::Channel::Text, subject: None, body: "{{ facility }}: the office is closed Monday. Pay: {{ payment_link }}", language: None, actor: "staff:alice", asked: serde_json::Value::Null },
        now(),
    )
    .unwrap();
    assert_eq!(row.state, rentmsg::notices::outbox::OutboxState::Queued);
    let blocked = rentmsg::notices::outbox::queue_supplemental(
        &db,
        &checker,
        &rentmsg::notices::outbox::Supplemental { tenant_id: "B", channel: rentmsg::base::channel::Channel::Text, subject: None, body: "Hello", language: None, actor: "staff:alice", asked: serde_json::Value::Null },
        now(),
    )
    .unwrap();
    assert_eq!(blocked.state, rentmsg::notices::outbox::OutboxState::Blocked);
    assert!(rentmsg::notices::outbox::queue_supplemental(
        &db,
        &checker,
        &rentmsg::notices::outbox::Supplemental { tenant_id: "A", channel: rentmsg::base::channel::Channel::Text, subject: None, body: "{{ nope }}", language: None, actor: "staff", asked: serde_json::Value::Null },
        now(),
    )
    .is_err());
    let provider = FakeProvider::accepting();
    let r = pass(&db, &provider, &MemCounter::default(), &FakeClock::at(now()), &config(600)).unwrap();
    assert_eq!(r.sent, 1);
    let body = String::from_utf8(provider.accepted.borrow()[0].body.clone()).unwrap();
    assert!(url_decode(&body).iter().any(|(k, v)| k == "Body" && v.contains("office is closed") && v.ends_with("Reply STOP to opt out.")));
}

#[test]
fn the_overdue_query_reads_the_overdue_index_not_the_portfolio() {
    let db = portfolio();
    let schedule = rentmsg::notices::schedule::load(&db).unwrap();
    let params = scan::overdue_params(&schedule, now());
    let plan = db.execute(&format!("EXPLAIN QUERY PLAN {}", scan::OVERDUE_SQL), &params).unwrap();
    let steps: Vec<String> = plan.iter().map(|r| r.string("detail").unwrap()).collect();
    eprintln!("{steps:#?}");
    assert!(steps.iter().any(|s| s.contains("tenant_balances_overdue")), "{steps:?}");
    assert!(!steps.iter().any(|s| s.starts_with("SCAN") && !s.contains("tenant_balances_overdue")), "a full scan: {steps:?}");
    assert!(!steps.iter().any(|s| s.contains(" t ") || s.contains("tenants") || s.contains("properties")), "reads tenant rows: {steps:?}");
    assert!(steps.iter().any(|s| s.contains("COVERING INDEX tenant_balances_overdue")), "{steps:?}");

    // The copies follow the tenant and the property.
    let row = |db: &NativeDb| {
        let r = db.execute("SELECT tenant_status, tenant_zone, property_zone FROM tenant_balances WHERE tenant_id = 'A'", &[]).unwrap();
        let r = r.first().unwrap();
        (r.string("tenant_status").unwrap(), r.opt_string("tenant_zone").unwrap(), r.opt_string("property_zone").unwrap())
    };
    assert_eq!(row(&db), ("active".into(), None, Some("America/New_York".into())));
    import::import(&db, ImportKind::Properties, b"property_id,name,time_zone,state,country\nP1,Maple Court,America/Chicago,NY,US\n", "t", now()).unwrap();
    import::import(
        &db,
        ImportKind::Tenants,
        b"tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status\nA,P1,Ann Able,1A,(212) 555-0101,,,ann@example.com,,,,America/Denver,,moved_out\n",
        "t",
        now(),
    )
    .unwrap();
    assert_eq!(row(&db), ("moved_out".into(), Some("America/Denver".into()), Some("America/Chicago".into())));
    let r = scan::run(&db, &DbChecker { db: &db }, now()).unwrap();
    assert_eq!(r.overdue_tenants, 6, "A moved out: {r:?}");
}

/// Makes every audit write fail, as a full disk or a broken audit table would.
fn break_the_audit_log(db: &dyn Db) {
    db.execute("CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END", &[]).unwrap();
}

#[test]
fn a_template_change_whose_audit_row_fails_changes_nothing() {
    let db = portfolio();
    let text = rentmsg::base::channel::Channel::Text;
    let body = "{{ facility }}: please pay {{ balance }} at {{ payment_link }} {{ opt_out }}";
    // The template itself is fine: with a working audit log it is stored.
    let scratch = portfolio();
    rentmsg::notices::templates::put(&scratch, 1, text, None, body, "staff:alice", now()).unwrap();
    let before = rentmsg::notices::templates::get(&db, 1, text).unwrap();
    break_the_audit_log(&db);
    let r = rentmsg::notices::templates::put(&db, 1, text, None, body, "staff:alice", now());
    assert!(r.is_err(), "the audit row failed, so the change must fail");
    assert_eq!(rentmsg::notices::templates::get(&db, 1, text).unwrap(), before, "the template is unchanged");
    let r = rentmsg::notices::templates::put(&db, 7, text, None, body, "staff:alice", now());
    assert!(r.is_err());
    assert_eq!(count(&db, "SELECT count(*) AS n FROM notice_templates WHERE stage = 7"), 0, "no new template either");
}

#[test]
fn a_supplemental_message_whose_audit_row_fails_is_not_queued() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    break_the_audit_log(&db);
    let r = rentmsg::notices::outbox::queue_supplemental(
        &db,
        &checker,
        &rentmsg::notices::outbox::Supplemental { tenant_id: "A", channel: rentmsg::base::channel::Channel::Text, subject: None, body: "The office is closed Monday.", language: None, actor: "staff:alice", asked: serde_json::Value::Null },
        now(),
    );
    assert!(r.is_err(), "the audit row failed, so queueing must fail");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE kind = 'supplemental'"), 0, "a staff retry must not queue a second message");
}

/// Every code `records::number_states` calls invalid for texting.
const INVALID_NUMBER_CODES: [&str; 9] = ["21211", "21217", "21401", "21407", "21612", "21614", "30003", "30005", "30006"];

#[test]
fn an_invalid_number_refusal_at_send_marks_the_number_like_a_status_callback() {
    for code in INVALID_NUMBER_CODES {
        let db = scanned();
        let provider = FakeProvider::accepting();
        let answer = format!(r#"{{"code":{code},"message":"The 'To' number is not a valid phone number.","status":400}}"#);
        provider.set(move |r| {
            if r.url.ends_with("/email") {
                Ok(HttpResponse { status: 0, headers: vec![], body: vec![] })
            } else {
                Ok(HttpResponse { status: 400, headers: vec![], body: answer.clone().into_bytes() })
            }
        });
        let r = pass(&db, &provider, &MemCounter::default(), &FakeClock::at(now()), &config(600)).unwrap();
        assert_eq!(r.sent, 2, "{code}: the emails go: {r:?}");
        assert_eq!(state_of(&db, "A", "text"), "failed", "{code}");
        let marked = rentmsg::records::number_states::number_state(&db, "+12125550101").unwrap();
        assert_eq!(marked.map(|s| s.error_code), Some(code.to_owned()), "{code}: the number is marked invalid for texting");
        let audit = rentmsg::records::audit::list(&db, Some("address:+12125550101"), 10).unwrap();
        assert!(audit.iter().any(|a| a.action == "sms_number.invalid" && a.detail["error_code"] == code), "{code}: {audit:?}");
        assert!(!exclusions::customer_opted_out(&db, "+12125550101").unwrap(), "{code}: not a STOP");
    }
}

/// A compliance service that cannot read its facts.
struct DownChecker;

impl rentmsg::compliance::ComplianceCheck for DownChecker {
    fn check(&self, _: &rentmsg::compliance::CheckRequest) -> Result<rentmsg::compliance::Decision, rentmsg::compliance::CheckError> {
        Err(rentmsg::compliance::CheckError::Unavailable("compliance store offline".into()))
    }
}

/// A budget store that cannot be reached.
struct DownCounter;

impl rentmsg::sending::pacing::Counter for DownCounter {
    fn increment(&self, _: &str, _: i64) -> Result<i64, String> {
        Err("key-value store offline".into())
    }
    fn delete(&self, _: &str) -> Result<(), String> {
        Err("key-value store offline".into())
    }
}

fn pass_with(db: &dyn Db, checker: &dyn rentmsg::compliance::ComplianceCheck, counter: &dyn rentmsg::sending::pacing::Counter, cfg: &rentmsg::sending::send::SendConfig) -> Result<rentmsg::sending::send::SendReport, rentmsg::base::error::Error> {
    let provider = FakeProvider::accepting();
    let clock = FakeClock::at(now());
    let log = |_: &serde_json::Value| {};
    let env = rentmsg::sending::send::SendEnv {
        db,
        checker,
        http: &provider,
        counter,
        clock: &clock,
        config: cfg,
        owner: "test-owner",
        deadline: rentmsg::sending::send::default_deadline(now()),
        log: &log,
    };
    rentmsg::sending::send::run_pass(&env)
}

#[test]
fn a_failing_dependency_is_reported_as_itself_not_as_the_database() {
    use rentmsg::base::error::Error;
    let db = scanned();
    let e = pass_with(&db, &DownChecker, &MemCounter::default(), &config(600)).unwrap_err();
    assert!(matches!(e, Error::ComplianceUnavailable(_)), "compliance: {e:?}");
    let e = pass_with(&db, &DbChecker { db: &db }, &DownCounter, &config(600)).unwrap_err();
    assert!(matches!(e, Error::BudgetUnavailable(_)), "budget: {e:?}");
    assert_eq!(e.http_status(), 503);
    let mut unsigned = config(600);
    unsigned.link_key = String::new();
    let e = pass_with(&db, &DbChecker { db: &db }, &MemCounter::default(), &unsigned).unwrap_err();
    assert!(matches!(e, Error::LinkSigning(_)), "link signing: {e:?}");
    assert_eq!(e.http_status(), 500, "our fault, not the caller's");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE state IN ('sending', 'sent')"), 0, "nothing went out");
    // The scan and a staff-queued message say the same.
    let fresh = portfolio();
    let e = scan::run(&fresh, &DownChecker, now()).unwrap_err();
    assert!(matches!(e, Error::ComplianceUnavailable(_)), "scan: {e:?}");
    let e = rentmsg::notices::outbox::queue_supplemental(
        &fresh,
        &DownChecker,
        &rentmsg::notices::outbox::Supplemental { tenant_id: "A", channel: rentmsg::base::channel::Channel::Text, subject: None, body: "Hello", language: None, actor: "staff:alice", asked: serde_json::Value::Null },
        now(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ComplianceUnavailable(_)), "supplemental: {e:?}");
    assert_eq!(e.http_status(), 503, "the staff API and the components answer 503, not 500");
}

/// The outbox's per-state counters (`counts` of `GET /api/outbox`) equal a
/// count of the rows after every kind of write: the scan's inserts and
/// decisions, a send pass (leased, sent), a settling payment cancelling
/// through the balance trigger, a staff message queued and blocked, a row
/// deleted, and the backfill of an outbox from before the counters.
#[test]
fn outbox_counters_follow_every_write() {
    fn check(db: &dyn Db, step: &str) {
        let direct: Vec<(String, i64)> = db
            .execute("SELECT state, count(*) AS n FROM outbox GROUP BY state ORDER BY state", &[])
            .unwrap()
            .iter()
            .map(|r| (r.string("state").unwrap(), r.i64("n").unwrap()))
            .collect();
        let counted = rentmsg::notices::outbox::counts(db, &rentmsg::records::scope::Scope::All).unwrap();
        assert_eq!(counted, direct, "after {step}");
    }
    let db = portfolio();
    check(&db, "nothing");
    let checker = DbChecker { db: &db };
    scan::run(&db, &checker, now()).unwrap();
    check(&db, "the scan");
    assert!(count(&db, "SELECT count(*) AS n FROM outbox WHERE state = 'queued'") > 0 && count(&db, "SELECT count(*) AS n FROM outbox WHERE state = 'blocked'") > 0);
    let provider = FakeProvider::accepting();
    pass(&db, &provider, &MemCounter::default(), &FakeClock::at(now()), &config(600)).unwrap();
    check(&db, "a send pass");
    assert!(count(&db, "SELECT count(*) AS n FROM outbox WHERE state = 'sent'") > 0);
    for (tenant, channel) in [("A", rentmsg::base::channel::Channel::Text), ("B", rentmsg::base::channel::Channel::Text)] {
        rentmsg::notices::outbox::queue_supplemental(
            &db,
            &checker,
            &rentmsg::notices::outbox::Supplemental { tenant_id: tenant, channel, subject: None, body: "The office is closed Monday.", language: None, actor: "staff:alice", asked: serde_json::Value::Null },
            now(),
        )
        .unwrap();
        check(&db, "a staff message");
    }
    // H (Los Angeles, 06:30 there) was deferred to the window: a settling
    // payment cancels it through the balance summary's trigger.
    assert_eq!(state_of(&db, "H", "text"), "deferred");
    ledger::record_payment(&db, &NewPayment { tenant_id: "H", reference: "PAY-H", kind: EntryKind::Payment, date: now().date_naive(), amount_cents: 70_000, source: "payments" }, now()).unwrap();
    assert_eq!(state_of(&db, "H", "text"), "cancelled");
    check(&db, "a settling payment");
    db.execute("DELETE FROM outbox WHERE id = (SELECT max(id) FROM outbox)", &[]).unwrap();
    check(&db, "a delete");

    let triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE 'inbox_counts_%' OR name LIKE 'outbox_state_counts_%')", &[]).unwrap();
    for r in triggers.iter() {
        db.execute(&format!("DROP TRIGGER {}", r.str("name").unwrap()), &[]).unwrap();
    }
    db.execute("DROP TABLE inbox_counts", &[]).unwrap();
    db.execute("DROP TABLE outbox_state_counts", &[]).unwrap();
    // (Migration 13 dropped this index again; migration 12 alone makes it.)
    db.execute("DROP INDEX IF EXISTS inbound_messages_received", &[]).unwrap();
    db.execute("DELETE FROM schema_migrations WHERE version = 12", &[]).unwrap();
    assert_eq!(rentmsg::schema::migrate(&db, now()).unwrap(), vec![12]);
    check(&db, "the backfill");
}
