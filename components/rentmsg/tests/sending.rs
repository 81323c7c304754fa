//! One send pass with several provider calls in flight: the calls overlap,
//! but each row still commits its intent before its call and records the
//! answer after it, starts stay one slot apart, no calendar minute gets
//! more than the rate, and a pass that dies with calls out leaves those rows
//! `unknown`, never sent twice.

mod notices_common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use notices_common::*;
use rentmsg::base::db::{Db, DbError, NativeDb, Rows, Value};
use rentmsg::compliance::DbChecker;
use rentmsg::records::consent::{self, ConsentChange, ConsentStatus};
use rentmsg::sending::pacing::Clock;
use rentmsg::sending::providers::{CallId, Collected, HttpClient, HttpRequest, HttpResponse, Started, ThreadedHttp, TransportError};
use rentmsg::sending::send::{self, SendEnv, SendReport};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

/// `n` opted-in tenants, each with one supplemental email due.
fn seeded(n: usize) -> NativeDb {
    let db = NativeDb::open_in_memory().unwrap();
    rentmsg::schema::migrate(&db, noon()).unwrap();
    db.execute("INSERT INTO properties (property_id, name, time_zone, state, country, created_at, updated_at) VALUES ('P', 'Bulk', 'UTC', NULL, 'GB', 'x', 'x')", &[]).unwrap();
    for i in 0..n {
        let t = format!("T{i}");
        let address = format!("t{i}@example.com");
        db.execute("INSERT INTO tenants (tenant_id, property_id, name, status, created_at, updated_at) VALUES (?, 'P', 'X', 'active', 'x', 'x')", &[t.as_str().into()]).unwrap();
        db.execute(
            "INSERT INTO outbox (kind, tenant_id, channel, address, state, not_before, custom_subject, custom_body, created_by, created_at, updated_at)
             VALUES ('supplemental', ?, 'email', ?, 'queued', '2000-01-01T00:00:00.000Z', 'Notice', 'Hello {{ opt_out }}', 'test', 'x', 'x')",
            &[t.as_str().into(), address.as_str().into()],
        )
        .unwrap();
        db.execute("INSERT INTO contact_points (tenant_id, kind, channel, address, created_at, updated_at) VALUES (?, 'email', 'email', ?, 'x', 'x')", &[t.as_str().into(), address.as_str().into()]).unwrap();
        consent::set(&db, &ConsentChange { tenant_id: &t, status: ConsentStatus::OptedIn, evidence: Some("form"), channel: None, address: None, actor: "s", source: "t" }, noon()).unwrap();
    }
    db
}

/// The outbox row a provider request is about (`outbox-<id>` in the email).
fn row_of(request: &HttpRequest) -> i64 {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    body["Metadata"]["notice_id"].as_str().unwrap().trim_start_matches("outbox-").parse().unwrap()
}

fn to_of(request: &HttpRequest) -> String {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    body["To"].as_str().unwrap().to_owned()
}

/// What happened, in order: database commits of intents and outcomes, and
/// provider calls and answers, each with its outbox row.
#[derive(Default)]
struct Events(RefCell<Vec<(&'static str, i64)>>);

impl Events {
    fn push(&self, what: &'static str, row: i64) {
        self.0.borrow_mut().push((what, row));
    }
}

/// A database that reports when a row's intent and outcome are committed.
struct Recording<'a> {
    inner: &'a NativeDb,
    events: &'a Events,
    /// Statements of the open transaction: (what, row).
    open: RefCell<Vec<(&'static str, i64)>>,
}

impl Db for Recording<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let rows = self.inner.execute(sql, params)?;
        let id = |i: usize| match params.get(i) {
            Some(Value::Integer(n)) => *n,
            _ => -1,
        };
        if sql.contains("SET state = 'sending'") && !rows.is_empty() {
            // The row id is the parameter of `WHERE id = ?`, however many columns the intent sets.
            let at = sql.find("WHERE id = ?").map_or(usize::MAX, |w| sql[..w].matches('?').count());
            self.open.borrow_mut().push(("intent", id(at)));
        } else if sql.contains("WHERE id = ? AND attempts = ? AND state IN ('sending', 'unknown')") {
            self.open.borrow_mut().push(("outcome", id(6)));
        } else if sql.trim() == "COMMIT" {
            for (what, row) in self.open.borrow_mut().drain(..) {
                self.events.push(what, row);
            }
        } else if sql.trim() == "ROLLBACK" {
            self.open.borrow_mut().clear();
        }
        Ok(rows)
    }
}

/// A provider that answers each call `latency` after it started, on the
/// test's clock: `collect` moves the clock to the next answer (or to its
/// `until`), as real waiting would.
struct SlowProvider<'a> {
    clock: &'a FakeClock,
    latency: Duration,
    events: &'a Events,
    out: RefCell<Vec<(CallId, DateTime<Utc>, HttpRequest)>>,
    /// When each call started, and to whom.
    starts: RefCell<Vec<(DateTime<Utc>, String)>>,
    max_in_flight: Cell<usize>,
    /// `collect` panics once this many calls have started: the process dies
    /// with calls out.
    die_after: Option<usize>,
    answered: Cell<u64>,
}

impl<'a> SlowProvider<'a> {
    fn new(clock: &'a FakeClock, latency: Duration, events: &'a Events) -> Self {
        SlowProvider {
            clock,
            latency,
            events,
            out: RefCell::new(Vec::new()),
            starts: RefCell::new(Vec::new()),
            max_in_flight: Cell::new(0),
            die_after: None,
            answered: Cell::new(0),
        }
    }

    fn answer(&self, request: &HttpRequest) -> HttpResponse {
        self.events.push("answer", row_of(request));
        let n = self.answered.get() + 1;
        self.answered.set(n);
        postmark_ok(&format!("pm-{n}"))
    }
}

impl HttpClient for SlowProvider<'_> {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.events.push("call", row_of(request));
        self.starts.borrow_mut().push((self.clock.now(), to_of(request)));
        self.clock.advance(self.latency);
        Ok(self.answer(request))
    }

    fn start(&self, id: CallId, request: &HttpRequest) -> Started {
        self.events.push("call", row_of(request));
        self.starts.borrow_mut().push((self.clock.now(), to_of(request)));
        let mut out = self.out.borrow_mut();
        out.push((id, self.clock.now() + self.latency, request.clone()));
        self.max_in_flight.set(self.max_in_flight.get().max(out.len()));
        Started::InFlight
    }

    fn collect(&self, wait: Option<std::time::Duration>) -> Vec<Collected> {
        let until = wait.map(|w| self.clock.now() + Duration::from_std(w).unwrap());
        if self.die_after.is_some_and(|n| self.starts.borrow().len() >= n) {
            panic!("the host was killed with calls in flight");
        }
        let mut out = self.out.borrow_mut();
        let Some(next) = out.iter().map(|(_, at, _)| *at).min() else { return Vec::new() };
        if until.is_some_and(|u| u < next) {
            self.clock.sleep_until(until.unwrap_or(next));
            return Vec::new();
        }
        self.clock.sleep_until(next);
        let now = self.clock.now();
        let (done, still): (Vec<_>, Vec<_>) = out.drain(..).partition(|(_, at, _)| *at <= now);
        *out = still;
        done.into_iter().map(|(id, _, r)| (id, Ok(self.answer(&r)))).collect()
    }
}

fn run(db: &dyn Db, http: &dyn HttpClient, counter: &MemCounter, clock: &dyn Clock, rate: i64, owner: &str, deadline: DateTime<Utc>) -> SendReport {
    let checker = DbChecker { db };
    let log = |_: &serde_json::Value| {};
    let cfg = config(rate);
    let env = SendEnv { db, checker: &checker, http, counter, clock, config: &cfg, owner, deadline, log: &log };
    send::run_pass(&env).unwrap()
}

fn states(db: &dyn Db) -> HashMap<String, i64> {
    let rows = db.execute("SELECT state, count(*) AS n FROM outbox GROUP BY state", &[]).unwrap();
    rows.iter().map(|r| (r.string("state").unwrap(), r.i64("n").unwrap())).collect()
}

/// For every row: intent committed, then the call, then its answer, then
/// the outcome committed; each once.
fn assert_order_per_row(events: &Events) {
    let mut per_row: HashMap<i64, Vec<&'static str>> = HashMap::new();
    for (what, row) in events.0.borrow().iter() {
        per_row.entry(*row).or_default().push(what);
    }
    assert!(!per_row.is_empty());
    for (row, seq) in per_row {
        assert_eq!(seq, ["intent", "call", "answer", "outcome"], "row {row}");
    }
}

#[test]
fn one_pass_keeps_calls_in_flight_at_the_pace_in_order_per_row() {
    let db = seeded(60);
    let events = Events::default();
    let rec = Recording { inner: &db, events: &events, open: RefCell::new(Vec::new()) };
    let clock = FakeClock::at(noon());
    let provider = SlowProvider::new(&clock, Duration::seconds(1), &events);
    let counter = MemCounter::default();
    // 600 a minute: a start every 100 ms, each answered after 1 s.
    let report = run(&rec, &provider, &counter, &clock, 600, "pass-1", send::default_deadline(noon()));
    assert_eq!((report.sent, report.unknown, report.failed), (60, 0, 0), "{report:?}");
    assert_eq!(states(&db).get("sent"), Some(&60));
    let k = provider.max_in_flight.get();
    assert!((9..=11).contains(&k), "1 s of latency at 10 starts a second keeps about 10 calls out, not {k}");
    let starts = provider.starts.borrow();
    for w in starts.windows(2) {
        assert!(w[1].0 - w[0].0 >= Duration::milliseconds(100), "starts closer than a slot: {:?} then {:?}", w[0].0, w[1].0);
    }
    // 60 starts 100 ms apart and the last answer 1 s later: concurrency, not 60 s of waiting.
    assert!(clock.now() - noon() < Duration::seconds(8), "the pass took {:?}", clock.now() - noon());
    assert_order_per_row(&events);
}

#[test]
fn no_calendar_minute_gets_more_than_the_rate_whatever_the_latency() {
    for (rate, latency_ms, offset_s) in [(30, 5_000, 40), (90, 2_500, 0), (7, 9_000, 55), (600, 50, 20), (300, 1_000, 59)] {
        let inner = seeded(200);
        let events = Events::default();
        let db = Recording { inner: &inner, events: &events, open: RefCell::new(Vec::new()) };
        let clock = FakeClock::at(noon() + Duration::seconds(offset_s));
        let provider = SlowProvider::new(&clock, Duration::milliseconds(latency_ms), &events);
        let counter = MemCounter::default();
        // A pass per minute, as the cron tick starts them, until nothing is due.
        for pass in 0..12 {
            let start = clock.now();
            let r = run(&db, &provider, &counter, &clock, rate, &format!("pass-{pass}"), send::default_deadline(start));
            if r.stopped == send::StopReason::Idle {
                break;
            }
            let next_minute = Utc.timestamp_opt((start.timestamp().div_euclid(60) + 1) * 60, 0).unwrap();
            clock.sleep_until(next_minute);
        }
        let starts = provider.starts.borrow();
        assert!(!starts.is_empty());
        let mut per_minute: HashMap<i64, i64> = HashMap::new();
        for (at, _) in starts.iter() {
            *per_minute.entry(at.timestamp().div_euclid(60)).or_default() += 1;
        }
        for (minute, n) in &per_minute {
            assert!(*n <= rate, "rate {rate}, latency {latency_ms} ms: {n} calls in minute {minute}");
        }
        // Starts follow slots 60 s / rate apart; a pass that starts late
        // sends the slot it is in, up to one slot late, so two starts can
        // be closer than a slot but never three.
        let slot = Duration::microseconds(60_000_000 / rate) - Duration::microseconds(1);
        for w in starts.windows(3) {
            assert!(w[2].0 - w[0].0 >= slot, "rate {rate}, latency {latency_ms} ms: starts {:?}, {:?}, {:?}", w[0].0, w[1].0, w[2].0);
        }
        let mut tos: Vec<&String> = starts.iter().map(|(_, to)| to).collect();
        tos.sort();
        tos.dedup();
        assert_eq!(tos.len(), starts.len(), "a row went out twice");
        if latency_ms * rate > 60_000 * 2 {
            assert!(provider.max_in_flight.get() >= 2, "rate {rate}, latency {latency_ms} ms: {} in flight", provider.max_in_flight.get());
        }
        assert_order_per_row(&events);
    }
}

#[test]
fn a_pass_records_its_last_answer_before_its_deadline_so_the_next_tick_finds_it_done() {
    // 600 a minute answered after 1 s: a pass that started calls up to its
    // deadline would still be waiting for ten answers when the next
    // minute's tick came, and a host that runs one tick at a time would
    // skip that minute.
    let inner = seeded(1500);
    let events = Events::default();
    let db = Recording { inner: &inner, events: &events, open: RefCell::new(Vec::new()) };
    let clock = FakeClock::at(noon());
    let provider = SlowProvider::new(&clock, Duration::seconds(1), &events);
    let counter = MemCounter::default();
    let mut per_pass = Vec::new();
    for minute in 0..2 {
        let start = noon() + Duration::minutes(minute);
        clock.sleep_until(start);
        let deadline = send::default_deadline(start);
        let r = run(&db, &provider, &counter, &clock, 600, &format!("pass-{minute}"), deadline);
        assert_eq!(r.stopped, send::StopReason::Deadline, "{r:?}");
        assert!(clock.now() <= deadline, "pass {minute} ended at {} after its deadline {deadline}", clock.now());
        per_pass.push(r.sent);
    }
    // The slots lost are those whose answer would come after the deadline:
    // the last 1.5 s of the minute at 100 ms a slot, so 585 of 600 start;
    // the first answer the pass sees already tells it the latency.
    for (minute, sent) in per_pass.iter().enumerate() {
        assert!((580..=590).contains(sent), "minute {minute}: {sent} sent");
    }
    assert_eq!(states(&db).get("sending"), None, "no answer left unrecorded");
    assert_order_per_row(&events);
}

#[test]
fn a_pass_killed_with_calls_in_flight_leaves_them_unknown_and_none_goes_twice() {
    let db = seeded(30);
    let events = Events::default();
    let clock = FakeClock::at(noon());
    let counter = MemCounter::default();
    let mut dying = SlowProvider::new(&clock, Duration::seconds(2), &events);
    dying.die_after = Some(6);
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&db, &dying, &counter, &clock, 600, "pass-1", send::default_deadline(noon()));
    }));
    assert!(killed.is_err(), "the pass was meant to die");
    // Six intents committed, six calls out (the provider got them all), no answer recorded.
    assert_eq!(states(&db).get("sending"), Some(&6));
    assert_eq!(dying.starts.borrow().len(), 6);
    let mut received: Vec<String> = dying.starts.borrow().iter().map(|(_, to)| to.clone()).collect();

    // The next pass, seconds later, leaves them alone.
    clock.advance(Duration::seconds(3));
    let provider = SlowProvider::new(&clock, Duration::seconds(2), &events);
    let r = run(&db, &provider, &counter, &clock, 600, "pass-2", send::default_deadline(clock.now()));
    assert_eq!(r.sent, 23, "{r:?}: all but the six out and the one the dead pass held");
    // Once the intent lease has run out, a pass marks them unknown and sends the held one.
    clock.advance(Duration::seconds(send::INTENT_LEASE_SECONDS + 60));
    let r = run(&db, &provider, &counter, &clock, 600, "pass-3", send::default_deadline(clock.now()));
    assert_eq!((r.reconciled_unknown, r.sent), (6, 1), "{r:?}");
    let s = states(&db);
    assert_eq!((s.get("sent"), s.get("unknown"), s.get("sending")), (Some(&24), Some(&6), None), "{s:?}");
    received.extend(provider.starts.borrow().iter().map(|(_, to)| to.clone()));
    let n = received.len();
    received.sort();
    received.dedup();
    assert_eq!((received.len(), n), (30, 30), "every tenant got the message exactly once");
}

/// A provider on real threads: answers after `delay`, counting the calls
/// it holds at once.
struct Sleepy {
    delay: std::time::Duration,
    now: AtomicUsize,
    max: AtomicUsize,
    received: Mutex<Vec<String>>,
}

impl HttpClient for Sleepy {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.received.lock().unwrap().push(to_of(request));
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(postmark_ok(&format!("pm-{}", row_of(request))))
    }
}

/// Real time, shifted to start at noon (so compliance's hours allow email).
struct NoonClock(std::time::Instant);

impl Clock for NoonClock {
    fn now(&self) -> DateTime<Utc> {
        noon() + Duration::from_std(self.0.elapsed()).unwrap()
    }
    fn sleep_until(&self, t: DateTime<Utc>) {
        if let Ok(wait) = (t - self.now()).to_std() {
            std::thread::sleep(wait);
        }
    }
}

#[test]
fn threaded_calls_overlap_in_real_time() {
    let db = seeded(8);
    let sleepy = Arc::new(Sleepy { delay: std::time::Duration::from_millis(400), now: AtomicUsize::new(0), max: AtomicUsize::new(0), received: Mutex::new(Vec::new()) });
    let http = ThreadedHttp::new(sleepy.clone());
    let counter = MemCounter::default();
    let started = std::time::Instant::now();
    // 600 a minute: a start every 100 ms, so about four calls overlap.
    let report = run(&db, &http, &counter, &NoonClock(started), 600, "pass-1", noon() + Duration::seconds(50));
    assert_eq!(report.sent, 8, "{report:?}");
    assert!(sleepy.max.load(Ordering::SeqCst) >= 2, "the provider never held two calls at once");
    let mut got = sleepy.received.lock().unwrap().clone();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 8);
    // Not a timing assertion on the overlap (the count above is); a bound on a hang.
    assert!(started.elapsed() < std::time::Duration::from_secs(40));
}

/// The Spin variables a pass reads, as a lookup over a fixed list (unset = empty).
fn variables(pairs: &[(&str, &str)]) -> impl Fn(&str) -> String {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name: &str| map.get(name).cloned().unwrap_or_default()
}

#[test]
fn send_settings_leave_out_a_channel_whose_provider_settings_are_incomplete() {
    use rentmsg::sending::send::{ConfigError, SendConfig};
    let full = [
        ("public_base_url", "https://pay.example-storage.com/"),
        ("link_key", "k"),
        ("send_rate_per_minute", "600"),
        ("sms_account_sid", "AC1"),
        ("sms_auth_token", "t"),
        ("sms_from", "+16175550100"),
        ("sms_api_base", "https://api.twilio.com"),
        ("email_api_token", "e"),
        ("email_from", "rent@example.com"),
    ];
    let config = SendConfig::from_variables(variables(&full)).unwrap();
    let sms = config.sms.expect("sms configured");
    assert_eq!(sms.status_callback, "https://pay.example-storage.com/webhooks/sms/status", "one slash between base and path");
    assert_eq!(config.email.expect("email configured").message_stream, "outbound");
    assert_eq!(config.rate_per_minute, 600);

    // No SMS sender: texts wait, email still goes.
    let no_from: Vec<_> = full.iter().copied().filter(|(k, _)| *k != "sms_from").collect();
    let config = SendConfig::from_variables(variables(&no_from)).unwrap();
    assert!(config.sms.is_none());
    assert!(config.email.is_some());

    let no_key: Vec<_> = full.iter().copied().filter(|(k, _)| *k != "link_key").collect();
    assert_eq!(SendConfig::from_variables(variables(&no_key)).unwrap_err(), ConfigError::MissingLinkKey);

    for bad in ["0", "100001", "ten", "", "1.5"] {
        let mut vars = full.to_vec();
        vars.retain(|(k, _)| *k != "send_rate_per_minute");
        vars.push(("send_rate_per_minute", bad));
        assert_eq!(SendConfig::from_variables(variables(&vars)).unwrap_err(), ConfigError::BadRate(bad.to_owned()), "rate `{bad}`");
    }
}
