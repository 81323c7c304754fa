//! Calls the tenant places to staff, recorded through the staff API.

mod common;

use common::Env;
use serde_json::{json, Value as Json};

fn post(env: &Env, path: &str, body: &Json) -> (u16, Json) {
    let r = env.send("POST", path, Some("application/json"), body.to_string().as_bytes());
    (r.status, r.body_json())
}

/// Reg F, 12 CFR 1006.14(b)(2)(i)(B): a telephone conversation starts a
/// seven-day pause in calls, whoever placed the call. T1 (Massachusetts,
/// zone America/New_York) calls in on Sunday 2024-03-10 and speaks with
/// staff (code 4, right party); a call on Tuesday 2024-03-12 waits until
/// the conversation's day plus 7 days: Sunday 2024-03-17 00:00 EDT. The
/// call goes to T1's usual number, a 415 (Pacific) mobile, so it also waits
/// for 08:00 there: 2024-03-17 08:00 PDT = 15:00Z (11:00 EDT).
#[test]
fn an_inbound_conversation_starts_the_hold() {
    let env = Env::new();
    env.seed();
    let (s, rec) = post(&env, "/api/tenants/T1/inbound-calls", &json!({"result_code": 4, "notes": "called about the balance", "address": "home_phone"}));
    assert_eq!(s, 201, "{rec}");
    assert_eq!((rec["right_party_contact"].as_bool(), rec["contact"]["direction"].as_str()), (Some(true), Some("inbound")), "{rec}");
    assert_eq!(rec["contact"]["address"], "+16175550123");
    assert!(rec["note_id"].is_i64());
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'call.inbound'"), 1);
    let (s, out) = post(&env, "/api/compliance/check", &json!({"tenant_id": "T1", "channel": "phone", "manual": true, "at": "2024-03-12T15:00:00Z"}));
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["decision"], "defer", "{out}");
    let rules: Vec<&str> = out["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"hold_for:us-reg-f-phone"), "{out}");
    assert_eq!(out["defer_until"], "2024-03-17T15:00:00.000Z", "{out}");
    // It is in the tenant's contact history, inbound.
    let contacts = env.get_ok("/api/tenants/T1/contacts");
    assert_eq!(contacts["contacts"][0]["direction"], "inbound");
}

/// An inbound call that was not a conversation (a hang-up) holds nothing,
/// and is not an attempt toward the frequency limits either.
#[test]
fn an_inbound_call_without_a_conversation_holds_nothing() {
    let env = Env::new();
    env.seed();
    let (s, rec) = post(&env, "/api/tenants/T1/inbound-calls", &json!({"result_code": 102}));
    assert_eq!(s, 201, "{rec}");
    assert_eq!(rec["right_party_contact"], false);
    let (_, out) = post(&env, "/api/compliance/check", &json!({"tenant_id": "T1", "channel": "phone", "manual": true, "at": "2024-03-12T15:00:00Z"}));
    assert_eq!(out["decision"], "allow", "{out}");
}

#[test]
fn bad_inbound_calls_are_refused() {
    let env = Env::new();
    env.seed();
    for (path, body, status) in [
        ("/api/tenants/T1/inbound-calls", json!({"result_code": 999}), 400),
        ("/api/tenants/T1/inbound-calls", json!({"result_code": 4, "address": "email"}), 400),
        ("/api/tenants/T1/inbound-calls", json!({"result_code": 4, "surprise": 1}), 400),
        ("/api/tenants/T3/inbound-calls", json!({"result_code": 4}), 400),
        ("/api/tenants/nobody/inbound-calls", json!({"result_code": 4}), 404),
    ] {
        let (s, b) = post(&env, path, &body);
        assert_eq!(s, status, "{path} {body} -> {b}");
    }
    assert_eq!(env.count("SELECT count(*) AS n FROM contact_log"), 0);
}
