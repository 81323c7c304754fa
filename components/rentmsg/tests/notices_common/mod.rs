//! Fakes for the notice tests: a clock that jumps instead of sleeping, an
//! in-memory budget counter, a scripted provider, and a database that fails
//! chosen statements (crash injection).

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use rentmsg::compliance::DbChecker;
use rentmsg::base::db::{Db, DbError, NativeDb, Rows, Value};
use rentmsg::sending::pacing::{Clock, Counter};
use rentmsg::sending::providers::{EmailConfig, HttpClient, HttpRequest, HttpResponse, SmsConfig, TransportError};
use rentmsg::sending::send::{self, SendConfig, SendEnv, SendReport};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Mutex;

pub const LINK_KEY: &str = "native-link-key";

/// Wednesday 2024-06-05 15:00 UTC = 11:00 in New York.
pub fn wednesday_11am_ny() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 5, 15, 0, 0).unwrap()
}

pub struct FakeClock(pub Cell<DateTime<Utc>>);

impl FakeClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        FakeClock(Cell::new(t))
    }
    pub fn advance(&self, d: chrono::Duration) {
        self.0.set(self.0.get() + d);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.get()
    }
    fn sleep_until(&self, t: DateTime<Utc>) {
        if t > self.0.get() {
            self.0.set(t);
        }
    }
}

/// A thread-safe counter store (one per test, shared by "invocations").
#[derive(Default)]
pub struct MemCounter(pub Mutex<HashMap<String, i64>>);

impl Counter for MemCounter {
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        let mut m = self.0.lock().unwrap();
        let v = m.entry(key.to_owned()).or_insert(0);
        *v += delta;
        Ok(*v)
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
}

type Script = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, TransportError>>;

/// A provider that records every request and answers by script.
pub struct FakeProvider {
    pub requests: RefCell<Vec<HttpRequest>>,
    pub script: RefCell<Script>,
    /// Messages the provider accepted (what a tenant would receive).
    pub accepted: RefCell<Vec<HttpRequest>>,
    counter: Cell<u64>,
}

pub fn twilio_ok(sid: &str) -> HttpResponse {
    HttpResponse { status: 201, headers: vec![], body: format!(r#"{{"sid":"{sid}","status":"queued"}}"#).into_bytes() }
}

pub fn postmark_ok(id: &str) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![],
        body: format!(r#"{{"MessageID":"{id}","ErrorCode":0,"Message":"OK"}}"#).into_bytes(),
    }
}

impl FakeProvider {
    /// Accepts everything.
    pub fn accepting() -> Self {
        let p = FakeProvider {
            requests: RefCell::new(Vec::new()),
            script: RefCell::new(Box::new(|_| Ok(HttpResponse::default()))),
            accepted: RefCell::new(Vec::new()),
            counter: Cell::new(0),
        };
        p.accept_all();
        p
    }

    pub fn accept_all(&self) {
        *self.script.borrow_mut() = Box::new(|_| Ok(HttpResponse { status: 0, headers: vec![], body: vec![] }));
    }

    pub fn set(&self, f: impl Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + 'static) {
        *self.script.borrow_mut() = Box::new(f);
    }

    pub fn count_to(&self, address_fragment: &str) -> usize {
        self.accepted.borrow().iter().filter(|r| String::from_utf8_lossy(&r.body).contains(address_fragment)).count()
    }
}

impl HttpClient for FakeProvider {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.borrow_mut().push(request.clone());
        let answer = (self.script.borrow())(request)?;
        // Status 0 from the script means "accept like the real provider".
        let answer = if answer.status == 0 {
            let n = self.counter.get() + 1;
            self.counter.set(n);
            if request.url.ends_with("/email") {
                postmark_ok(&format!("pm-{n}"))
            } else {
                twilio_ok(&format!("SM{n:032}"))
            }
        } else {
            answer
        };
        // A provider keeps what it accepted even if the caller never hears back.
        if (200..300).contains(&answer.status) {
            self.accepted.borrow_mut().push(request.clone());
        }
        Ok(answer)
    }
}

/// A database that fails the `nth` statement containing `pattern`.
pub struct FaultyDb<'a> {
    pub inner: &'a NativeDb,
    pub fault: RefCell<Option<(String, usize)>>,
    pub tripped: Cell<bool>,
}

impl<'a> FaultyDb<'a> {
    pub fn new(inner: &'a NativeDb) -> Self {
        FaultyDb { inner, fault: RefCell::new(None), tripped: Cell::new(false) }
    }
    pub fn fail_on(&self, pattern: &str, nth: usize) {
        *self.fault.borrow_mut() = Some((pattern.to_owned(), nth));
        self.tripped.set(false);
    }
}

impl Db for FaultyDb<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let mut fault = self.fault.borrow_mut();
        if let Some((pattern, nth)) = fault.as_mut() {
            if sql.contains(pattern.as_str()) {
                if *nth <= 1 {
                    *fault = None;
                    self.tripped.set(true);
                    return Err(DbError::Unavailable("injected failure".into()));
                }
                *nth -= 1;
            }
        }
        drop(fault);
        self.inner.execute(sql, params)
    }
}

pub fn config(rate: i64) -> SendConfig {
    SendConfig {
        public_base_url: "https://rent.example".into(),
        link_key: LINK_KEY.into(),
        sms: Some(SmsConfig {
            api_base: "https://sms.example".into(),
            account_sid: "AC123".into(),
            auth_token: "sms-secret".into(),
            from: "+15005550006".into(),
            status_callback: "https://rent.example/webhooks/sms/status".into(),
        }),
        email: Some(EmailConfig {
            api_base: "https://mail.example".into(),
            server_token: "pm-secret".into(),
            from: "billing@rent.example".into(),
            message_stream: "outbound".into(),
        }),
        rate_per_minute: rate,
    }
}

/// Run one pass ending at the end of the clock's minute.
pub fn pass(db: &dyn Db, provider: &FakeProvider, counter: &MemCounter, clock: &FakeClock, cfg: &SendConfig) -> Result<SendReport, rentmsg::base::error::Error> {
    let checker = DbChecker { db };
    let log = |_: &serde_json::Value| {};
    let env = SendEnv {
        db,
        checker: &checker,
        http: provider,
        counter,
        clock,
        config: cfg,
        owner: "test-owner",
        deadline: send::default_deadline(clock.now()),
        log: &log,
    };
    send::run_pass(&env)
}

pub fn count(db: &dyn Db, sql: &str) -> i64 {
    db.execute(sql, &[]).unwrap().first().unwrap().i64("n").unwrap()
}
