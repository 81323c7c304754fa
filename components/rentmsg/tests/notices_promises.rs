//! Promises to pay, natively: what may be promised, the pause of automatic
//! notices, kept and broken promises, and the schedule resuming.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rentmsg::compliance::DbChecker;
use rentmsg::records::consent::{self, ConsentChange, ConsentStatus};
use rentmsg::base::db::{Db, NativeDb};
use rentmsg::import::{self, ImportKind};
use rentmsg::records::ledger::{self, EntryKind, NewPayment};
use rentmsg::notices::promises::{self, PromiseSource, PromiseStatus};
use rentmsg::{notices::scan, base::error::Error};

/// Wednesday 2024-06-05 09:30 in New York.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 5, 13, 30, 0).unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const PROPERTIES: &str = "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,NY,US\n";
const TENANTS: &str = "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
    A,P1,Ann Able,1A,(212) 555-0101,,,ann@example.com,,,,,\n\
    B,P1,Bo Bright,1B,(212) 555-0102,,,,,,,,\n\
    G,P1,Gus Paid,1G,(212) 555-0107,,,,,,,,\n\
    S,P1,Sal Stop,1S,(212) 555-0108,,,,,,,,\n";
const LEDGER: &str = "tenant_id,date,due_date,kind,amount,reference\n\
    A,2024-05-24,2024-05-24,charge,1200.00,RENT-A\n\
    B,2024-05-24,2024-05-24,charge,300.00,RENT-B\n\
    G,2024-05-24,2024-05-24,charge,900.00,RENT-G\n\
    G,2024-05-25,,payment,900.00,PAY-G\n\
    S,2024-05-24,2024-05-24,charge,400.00,RENT-S\n";

fn portfolio() -> NativeDb {
    let db = NativeDb::open_in_memory().unwrap();
    rentmsg::schema::migrate(&db, now()).unwrap();
    for (kind, csv) in [(ImportKind::Properties, PROPERTIES), (ImportKind::Tenants, TENANTS), (ImportKind::Ledger, LEDGER)] {
        let r = import::import(&db, kind, csv.as_bytes(), "test", now()).unwrap();
        assert!(r.rejected.is_empty(), "{kind:?}: {:?}", r.rejected);
    }
    db.execute("UPDATE tenants SET status = 'stop' WHERE tenant_id = 'S'", &[]).unwrap();
    for t in ["A", "B", "G", "S"] {
        consent::set(
            &db,
            &ConsentChange {
                tenant_id: t,
                status: ConsentStatus::OptedIn,
                evidence: Some("lease"),
                channel: None,
                address: None,
                actor: "staff",
                source: "test",
            },
            now() - Duration::days(30),
        )
        .unwrap();
    }
    db
}

fn count(db: &dyn Db, sql: &str) -> i64 {
    db.execute(sql, &[]).unwrap().first().unwrap().i64("n").unwrap()
}

fn notices_for(db: &dyn Db, tenant: &str, state: &str) -> i64 {
    count(
        db,
        &format!("SELECT count(*) AS n FROM outbox WHERE tenant_id = '{tenant}' AND state = '{state}' AND kind = 'notice'"),
    )
}

fn pay(db: &dyn Db, tenant: &str, reference: &str, cents: i64, at: DateTime<Utc>) {
    ledger::record_payment(
        db,
        &NewPayment { tenant_id: tenant, reference, kind: EntryKind::Payment, date: at.date_naive(), amount_cents: cents, source: "test" },
        at,
    )
    .unwrap();
}

#[test]
fn what_may_be_promised() {
    let db = portfolio();
    let invalid = |r: Result<promises::Promise, Error>| match r {
        Err(Error::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    };
    // Today in New York is 2024-06-05; the default horizon is 14 days.
    let m = invalid(promises::record(&db, "A", None, d("2024-06-04"), PromiseSource::Link, "tenant", now()));
    assert!(m.contains("today (2024-06-05) or later"), "{m}");
    let m = invalid(promises::record(&db, "A", None, d("2024-06-20"), PromiseSource::Link, "tenant", now()));
    assert!(m.contains("no later than 2024-06-19"), "{m}");
    let m = invalid(promises::record(&db, "A", Some(120_001), d("2024-06-10"), PromiseSource::Link, "tenant", now()));
    assert!(m.contains("$1,200.00"), "{m}");
    invalid(promises::record(&db, "A", Some(0), d("2024-06-10"), PromiseSource::Link, "tenant", now()));
    assert!(matches!(
        promises::record(&db, "G", None, d("2024-06-10"), PromiseSource::Call, "staff:amy", now()),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        promises::record(&db, "nobody", None, d("2024-06-10"), PromiseSource::Call, "staff:amy", now()),
        Err(Error::NotFound(_))
    ));
    // Stop status: not online, but staff may take one on a call.
    assert!(matches!(
        promises::record(&db, "S", None, d("2024-06-10"), PromiseSource::Link, "tenant", now()),
        Err(Error::Conflict(_))
    ));
    let p = promises::record(&db, "S", Some(10_000), d("2024-06-10"), PromiseSource::Call, "staff:amy", now()).unwrap();
    assert_eq!((p.status, p.source, p.required_cents), (PromiseStatus::Active, PromiseSource::Call, 10_000));
    // Nothing was stored by the refused ones; the limits are the edges.
    assert_eq!(count(&db, "SELECT count(*) AS n FROM promises"), 1);
    promises::record(&db, "A", Some(120_000), d("2024-06-19"), PromiseSource::Link, "tenant", now()).unwrap();
    promises::record(&db, "B", None, d("2024-06-05"), PromiseSource::Link, "tenant", now()).unwrap();
    // The horizon is a setting.
    db.execute("UPDATE app_settings SET value = '3' WHERE key = 'promise_horizon_days'", &[]).unwrap();
    invalid(promises::record(&db, "B", None, d("2024-06-09"), PromiseSource::Link, "tenant", now()));
}

#[test]
fn a_promise_pauses_notices_logs_the_contact_and_ends_in_the_tenants_evening() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    let r = scan::run(&db, &checker, now()).unwrap();
    assert!(r.queued > 0, "{r:?}");
    assert_eq!(notices_for(&db, "A", "queued"), 2);
    let p = promises::record(&db, "A", Some(50_000), d("2024-06-07"), PromiseSource::Link, "tenant", now()).unwrap();
    // End of 2024-06-07 in New York (EDT, UTC-4).
    assert_eq!(p.due_at, "2024-06-08T04:00:00.000Z");
    assert_eq!((p.balance_cents, p.required_cents, p.paid_since_cents), (120_000, 50_000, 0));
    // Waiting notices are cancelled and the next stage is not queued.
    assert_eq!(notices_for(&db, "A", "queued"), 0);
    assert_eq!(notices_for(&db, "A", "cancelled"), 2);
    let later = Utc.with_ymd_and_hms(2024, 6, 7, 14, 0, 0).unwrap();
    // Stage 3 (10 days) would be due on 2024-06-03... the same cycle's stage 2/3: none queued while paused.
    let r = scan::run(&db, &checker, later).unwrap();
    assert_eq!(notices_for(&db, "A", "queued"), 0, "{r:?}");
    // The contact log and the audit log have it.
    let log = rentmsg::records::contact_log::for_tenant(&db, "A", None).unwrap();
    let entry = log.iter().find(|c| c.status == "promise").unwrap();
    assert_eq!(entry.body, "Promise to pay $500.00 by 2024-06-07");
    assert_eq!(entry.direction, rentmsg::records::contact_log::Direction::Inbound);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM audit_log WHERE action = 'promise.record'"), 1);
    let listed = promises::list(&db, "A").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(promises::active(&db, "A").unwrap().unwrap().id, p.id);
}

#[test]
fn a_kept_promise_stays_kept_and_its_pause_runs_to_the_date() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    let p = promises::record(&db, "A", Some(50_000), d("2024-06-07"), PromiseSource::Call, "staff:amy", now()).unwrap();
    // Part of it is not enough.
    pay(&db, "A", "PAY-1", 20_000, now() + Duration::hours(1));
    assert_eq!(promises::evaluate(&db, now() + Duration::hours(1)).unwrap(), promises::Evaluation::default());
    assert_eq!(promises::get(&db, p.id).unwrap().unwrap().paid_since_cents, 20_000);
    pay(&db, "A", "PAY-2", 30_000, now() + Duration::hours(2));
    let e = promises::evaluate_tenant(&db, "A", now() + Duration::hours(2)).unwrap();
    assert_eq!((e.kept, e.broken), (1, 0));
    let kept = promises::get(&db, p.id).unwrap().unwrap();
    assert_eq!(kept.status, PromiseStatus::Kept);
    assert_eq!(kept.paid_since_cents, 50_000);
    // Still paused until the promised date ends; then the rest is chased.
    let r = scan::run(&db, &checker, Utc.with_ymd_and_hms(2024, 6, 7, 14, 0, 0).unwrap()).unwrap();
    assert_eq!((r.promises_kept, r.promises_broken), (0, 0));
    assert_eq!(notices_for(&db, "A", "queued"), 0);
    let r = scan::run(&db, &checker, Utc.with_ymd_and_hms(2024, 6, 10, 14, 0, 0).unwrap()).unwrap();
    assert!(notices_for(&db, "A", "queued") > 0, "{r:?}");
    assert_eq!(promises::get(&db, p.id).unwrap().unwrap().status, PromiseStatus::Kept, "a kept promise is never broken");
}

#[test]
fn a_settled_balance_keeps_a_whole_balance_promise() {
    let db = portfolio();
    let p = promises::record(&db, "B", None, d("2024-06-06"), PromiseSource::Link, "tenant", now()).unwrap();
    assert_eq!(p.required_cents, 30_000);
    pay(&db, "B", "PAY-B", 30_000, now());
    let e = promises::evaluate(&db, now()).unwrap();
    assert_eq!(e.kept, 1);
    assert_eq!(promises::list(&db, "B").unwrap()[0].status, PromiseStatus::Kept);
}

#[test]
fn a_missed_promise_is_broken_and_the_schedule_resumes() {
    let db = portfolio();
    let checker = DbChecker { db: &db };
    let p = promises::record(&db, "A", None, d("2024-06-07"), PromiseSource::Link, "tenant", now()).unwrap();
    pay(&db, "A", "PAY-1", 10_000, now());
    // During the promised day (evening in New York): still active.
    let evening = Utc.with_ymd_and_hms(2024, 6, 8, 3, 59, 0).unwrap();
    let r = scan::run(&db, &checker, evening).unwrap();
    assert_eq!(r.promises_broken, 0);
    assert_eq!(promises::get(&db, p.id).unwrap().unwrap().status, PromiseStatus::Active);
    assert_eq!(notices_for(&db, "A", "queued") + notices_for(&db, "A", "deferred"), 0);
    // Next morning: broken, pause lifted, and this very scan queues the due stage.
    let morning = Utc.with_ymd_and_hms(2024, 6, 10, 14, 0, 0).unwrap();
    let r = scan::run(&db, &checker, morning).unwrap();
    assert_eq!((r.promises_kept, r.promises_broken), (0, 1), "{r:?}");
    let broken = promises::get(&db, p.id).unwrap().unwrap();
    assert_eq!(broken.status, PromiseStatus::Broken);
    assert_eq!(broken.resolved_at.as_deref(), Some("2024-06-10T14:00:00.000Z"));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM notice_pauses WHERE tenant_id = 'A'"), 0);
    assert_eq!(notices_for(&db, "A", "queued"), 2, "text and email for the due stage");
    let notes = rentmsg::records::notes::list(&db, "A", 10).unwrap();
    assert!(notes.iter().any(|n| n.kind == "promise" && n.body.contains("was not kept ($100.00 paid since)")), "{notes:?}");
    // Evaluating again changes nothing.
    assert_eq!(promises::evaluate(&db, morning).unwrap(), promises::Evaluation::default());
}

#[test]
fn a_new_promise_replaces_the_active_one_and_a_staff_pause_survives_a_broken_promise() {
    let db = portfolio();
    let first = promises::record(&db, "A", None, d("2024-06-07"), PromiseSource::Link, "tenant", now()).unwrap();
    let second = promises::record(&db, "A", Some(40_000), d("2024-06-12"), PromiseSource::Call, "staff:amy", now()).unwrap();
    assert_eq!(promises::get(&db, first.id).unwrap().unwrap().status, PromiseStatus::Replaced);
    assert_eq!(promises::active(&db, "A").unwrap().unwrap().id, second.id);
    let until = db.execute("SELECT paused_until FROM notice_pauses WHERE tenant_id = 'A'", &[]).unwrap();
    assert_eq!(until.first().unwrap().str("paused_until").unwrap(), "2024-06-13T04:00:00.000Z");
    // Staff pause the tenant for longer by hand: a broken promise leaves that pause alone.
    rentmsg::notices::pauses::pause_tenant(&db, "A", now() + Duration::days(30), "hardship plan", "staff:amy", now()).unwrap();
    let e = promises::evaluate(&db, Utc.with_ymd_and_hms(2024, 6, 14, 14, 0, 0).unwrap()).unwrap();
    assert_eq!(e.broken, 1);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM notice_pauses WHERE tenant_id = 'A'"), 1);
}

#[test]
fn end_of_day_follows_the_zone() {
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    assert_eq!(promises::end_of_day(d("2024-01-10"), ny), Utc.with_ymd_and_hms(2024, 1, 11, 5, 0, 0).unwrap());
    assert_eq!(promises::end_of_day(d("2024-07-10"), ny), Utc.with_ymd_and_hms(2024, 7, 11, 4, 0, 0).unwrap());
    // Midnight that does not exist (DST starts at 00:00 in Santiago).
    let scl: chrono_tz::Tz = "America/Santiago".parse().unwrap();
    let t = promises::end_of_day(d("2024-09-07"), scl);
    assert!(t > Utc.with_ymd_and_hms(2024, 9, 8, 3, 0, 0).unwrap() && t <= Utc.with_ymd_and_hms(2024, 9, 8, 5, 0, 0).unwrap(), "{t}");
}

#[test]
fn a_promise_does_not_shorten_a_longer_staff_pause_and_its_breaking_leaves_it() {
    let db = portfolio();
    rentmsg::notices::pauses::pause_tenant(&db, "A", now() + Duration::days(30), "hardship plan", "staff:amy", now()).unwrap();
    let p = promises::record(&db, "A", None, d("2024-06-07"), PromiseSource::Link, "tenant", now()).unwrap();
    let row = db.execute("SELECT paused_until, reason, promise_id FROM notice_pauses WHERE tenant_id = 'A'", &[]).unwrap();
    let row = row.first().unwrap();
    assert_eq!((row.str("reason").unwrap(), row.opt_i64("promise_id").unwrap()), ("hardship plan", None), "the staff pause stays");
    let e = promises::evaluate(&db, Utc.with_ymd_and_hms(2024, 6, 10, 14, 0, 0).unwrap()).unwrap();
    assert_eq!(e.broken, 1);
    assert_eq!(promises::get(&db, p.id).unwrap().unwrap().status, PromiseStatus::Broken);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM notice_pauses WHERE tenant_id = 'A' AND promise_id IS NULL"), 1);
}
