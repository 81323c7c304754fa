//! A collector's day through the staff API: answering a reply at once
//! (decided first, sent once, on the conversation), a reply the calling
//! window refuses writes nothing, a spent budget queues the reply and says
//! when, and the start page counts what the lists hold.

mod common;
mod notices_common;

use chrono::{DateTime, TimeZone, Utc};
use common::{Env, TOKEN};
use notices_common::{config, FakeClock, FakeProvider, MemCounter};
use rentmsg::api::{self, ApiContext, ReplySender};
use rentmsg::base::db::Db;
use rentmsg::base::http::{Request, Response};
use rentmsg::compliance::DbChecker;
use rentmsg::sending::send::{self, SendEnv, SendReport};
use serde_json::{json, Value as Json};

/// The provider step as the component runs it, over the fakes.
struct Step<'a> {
    provider: &'a FakeProvider,
    counter: &'a MemCounter,
    now: DateTime<Utc>,
    rate: i64,
}

impl ReplySender for Step<'_> {
    fn send_now(&self, db: &dyn Db, id: i64) -> Result<SendReport, String> {
        let clock = FakeClock::at(self.now);
        let cfg = config(self.rate);
        let log = |_: &Json| {};
        let checker = DbChecker { db };
        let env = SendEnv {
            db,
            checker: &checker,
            http: self.provider,
            counter: self.counter,
            clock: &clock,
            config: &cfg,
            owner: "reply-owner",
            deadline: self.now + chrono::Duration::seconds(5),
            log: &log,
        };
        send::send_row(&env, id, true).map_err(|e| e.to_string())
    }
}

fn call(env: &Env, step: &Step<'_>, now: DateTime<Utc>, method: &str, path: &str, body: Option<Json>) -> Response {
    let mut headers = vec![("Authorization".to_owned(), format!("Bearer {TOKEN}"))];
    if body.is_some() {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    let req = Request { method: method.into(), path: path.into(), headers, body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(), client_addr: None };
    let ctx = ApiContext { db: &env.db, staff_token: TOKEN, now, public_base_url: common::BASE_URL, counters: &env.counters, sleep: |_| {} };
    api::handle_sending(&req, &ctx, &DbChecker { db: &env.db }, step)
}

/// T1 opted in, and a text from T1's mobile waiting in the inbox.
fn with_reply_waiting(env: &Env) -> i64 {
    env.seed();
    let r = env.put_json("/api/tenants/T1/consent", &json!({ "status": "opted_in", "evidence": "signed lease clause 12" }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let at = "2024-03-10T15:00:00.000Z";
    env.db
        .execute(
            "INSERT INTO inbound_messages (message_sid, from_address, to_address, body, kind, effect, tenant_ids, received_at, in_inbox)
             VALUES ('SMin1', '+14155552671', '+15005550006', 'Can I pay Friday?', 'text', 'none', '[\"T1\"]', ?, 1)",
            &[at.into()],
        )
        .unwrap();
    env.db
        .execute(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at) VALUES ('T1', 'text', 'inbound', '+14155552671', 'Can I pay Friday?', 'received', ?)",
            &[at.into()],
        )
        .unwrap();
    env.db.execute("SELECT id FROM inbound_messages WHERE message_sid = 'SMin1'", &[]).unwrap().first().unwrap().i64("id").unwrap()
}

#[test]
fn a_reply_from_the_inbox_is_decided_sent_once_handled_and_in_the_conversation() {
    let env = Env::new();
    let inbox_id = with_reply_waiting(&env);
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let step = Step { provider: &provider, counter: &counter, now: env.now, rate: 60 };
    let r = call(&env, &step, env.now, "POST", "/api/tenants/T1/replies", Some(json!({ "body": "Yes, Friday is fine.", "inbox_id": inbox_id, "purpose": "payment_arrangement" })));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let out = r.body_json();
    assert_eq!(out["decision"], "allow");
    assert_eq!(out["delivery"], "sent", "{out}");
    assert_eq!(provider.count_to("4155552671"), 1);
    assert_eq!(env.count("SELECT count(*) AS n FROM inbound_messages WHERE handled_at IS NOT NULL"), 1);
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'message.reply'"), 1);

    let conv = call(&env, &step, env.now, "GET", "/api/tenants/T1/conversation", None).body_json();
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{conv}");
    assert_eq!(msgs[0]["direction"], "inbound");
    assert_eq!(msgs[1]["direction"], "outbound");
    assert!(msgs[1]["body"].as_str().unwrap().starts_with("Yes, Friday is fine."));
    assert_eq!(conv["time_zone"], "America/New_York");

    // One message a page: the cursor walks back to the inbound text.
    let page = call(&env, &step, env.now, "GET", "/api/tenants/T1/conversation?limit=1", None).body_json();
    assert_eq!(page["messages"][0]["direction"], "outbound");
    let older = page["older"].as_str().unwrap().to_owned();
    let before = call(&env, &step, env.now, "GET", &format!("/api/tenants/T1/conversation?limit=1&before={}", older.replace('+', "%2B").replace(':', "%3A")), None).body_json();
    assert_eq!(before["messages"][0]["direction"], "inbound", "{before}");
    assert!(before["older"].is_null());

    // The start page: the reply is no longer waiting, the message went today.
    let today = call(&env, &step, env.now, "GET", "/api/today?zone=America/New_York", None).body_json();
    let fig = |k: &str| today["figures"].as_array().unwrap().iter().find(|f| f["key"] == k).unwrap().clone();
    assert_eq!(fig("replies_waiting")["count"], 0);
    assert_eq!(fig("sent_today")["count"], 1);
    assert_eq!(fig("sent_today")["items"][0]["tenant_id"], "T1");
    assert_eq!(today["date"], "2024-03-10");
}

#[test]
fn a_reply_at_ten_at_night_is_refused_with_its_rule_and_nothing_is_written() {
    let env = Env::new();
    let inbox_id = with_reply_waiting(&env);
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    // 02:00 UTC on the 11th is 22:00 in New York.
    let late = Utc.with_ymd_and_hms(2024, 3, 11, 2, 0, 0).unwrap();
    let step = Step { provider: &provider, counter: &counter, now: late, rate: 60 };
    let outbox_before = env.count("SELECT count(*) AS n FROM outbox");
    let audit_before = env.count("SELECT count(*) AS n FROM audit_log");
    let r = call(&env, &step, late, "POST", "/api/tenants/T1/replies", Some(json!({ "body": "Yes, Friday is fine.", "inbox_id": inbox_id })));
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    let out = r.body_json();
    assert_ne!(out["decision"], "allow");
    assert!(out["reasons"].as_array().unwrap().iter().any(|x| x["rule"].as_str().unwrap().starts_with("window")), "{out}");
    assert!(out["error"].as_str().unwrap().contains("window"));
    assert_eq!(env.count("SELECT count(*) AS n FROM outbox"), outbox_before);
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log"), audit_before);
    assert_eq!(env.count("SELECT count(*) AS n FROM inbound_messages WHERE handled_at IS NULL"), 1);
    assert_eq!(provider.requests.borrow().len(), 0);
}

#[test]
fn a_spent_budget_queues_the_reply_and_says_when_it_goes() {
    let env = Env::new();
    let inbox_id = with_reply_waiting(&env);
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let minute = env.now.timestamp().div_euclid(60);
    rentmsg::sending::pacing::Counter::increment(&counter, &format!("send-budget:{minute}"), 60).unwrap();
    let step = Step { provider: &provider, counter: &counter, now: env.now, rate: 60 };
    let r = call(&env, &step, env.now, "POST", "/api/tenants/T1/replies", Some(json!({ "body": "Yes, Friday is fine.", "inbox_id": inbox_id })));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let out = r.body_json();
    assert_eq!(out["delivery"], "queued");
    assert_eq!(out["will_go_at"], "2024-03-10T16:01:00.000Z");
    assert_eq!(provider.requests.borrow().len(), 0);
}

#[test]
fn replies_keep_to_account_matters() {
    let env = Env::new();
    let inbox_id = with_reply_waiting(&env);
    let provider = FakeProvider::accepting();
    let counter = MemCounter::default();
    let step = Step { provider: &provider, counter: &counter, now: env.now, rate: 60 };
    for body in [json!({ "body": "See https://example.com", "inbox_id": inbox_id }), json!({ "body": "hi", "purpose": "marketing" }), json!({ "body": "  " })] {
        let r = call(&env, &step, env.now, "POST", "/api/tenants/T1/replies", Some(body.clone()));
        assert_eq!(r.status, 400, "{body}: {}", String::from_utf8_lossy(&r.body));
    }
    // Another tenant's inbox message is not answered from here.
    let r = call(&env, &step, env.now, "POST", "/api/tenants/T3/replies", Some(json!({ "body": "hello", "inbox_id": inbox_id })));
    assert_eq!(r.status, 400);
    assert_eq!(env.count("SELECT count(*) AS n FROM outbox"), 0);
    let bad = call(&env, &step, env.now, "GET", "/api/today?zone=Mars/Olympus", None);
    assert_eq!(bad.status, 400);
}
