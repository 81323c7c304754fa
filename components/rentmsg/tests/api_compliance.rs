//! Compliance through the staff API natively (`api::handle` with the core
//! over `NativeDb`): the loader's reads (region, zones, exclusions on the
//! target address, the contact log window, the group), the check route's
//! input handling, and the contact-control routes.

use chrono::{DateTime, TimeZone, Utc};
use rentmsg::api::{self, ApiContext};
use rentmsg::base::http::{Request, Response};
use rentmsg::base::db::{Db, NativeDb};
use serde_json::{json, Value as Json};

const TOKEN: &str = "compliance-test-token";

struct Env {
    db: NativeDb,
    now: DateTime<Utc>,
}

impl Env {
    fn new() -> Env {
        let env = Env { db: NativeDb::open_in_memory().unwrap(), now: Utc.with_ymd_and_hms(2024, 6, 5, 16, 0, 0).unwrap() };
        let (s, b) = env.csv(
            "properties",
            "property_id,name,time_zone,state,country\np-ny,Main,America/New_York,NY,US\np-ma,Elm,America/New_York,MA,US\n",
        );
        assert_eq!(s, 200, "{b}");
        let (s, b) = env.csv(
            "tenants",
            "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
             a,p-ny,Pat,1,(212) 555-0100,(212) 555-0101,,pat@example.com,,,,,\n\
             b,p-ny,Cosigner,1,(212) 555-0199,,,other@example.com,,,,,\n\
             c,p-ny,Shares a number,2,(212) 555-0100,,,,,,,,\n\
             m,p-ma,Mass,3,(617) 555-0100,,(617) 555-0111,,,,,,\n",
        );
        assert_eq!(s, 200, "{b}");
        for t in ["a", "b", "c", "m"] {
            let (s, b) = env.send("PUT", &format!("/api/tenants/{t}/consent"), &json!({"status": "opted_in", "evidence": "lease"}));
            assert_eq!(s, 200, "{b}");
        }
        env
    }

    fn request(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Response {
        let req = Request {
            method: method.into(),
            path: path.into(),
            headers: vec![("Authorization".into(), format!("Bearer {TOKEN}")), ("Content-Type".into(), content_type.into())],
            body,
            client_addr: None,
        };
        api::handle(&req, &ApiContext { db: &self.db, staff_token: TOKEN, now: self.now, public_base_url: "https://console.example", counters: &rentmsg::staff::throttle::MemCounter::default(), sleep: |_| {} })
    }

    fn send(&self, method: &str, path: &str, body: &Json) -> (u16, Json) {
        let r = self.request(method, path, "application/json", body.to_string().into_bytes());
        (r.status, r.body_json())
    }

    fn csv(&self, kind: &str, text: &str) -> (u16, Json) {
        let r = self.request("POST", &format!("/api/import/{kind}"), "text/csv", text.as_bytes().to_vec());
        (r.status, r.body_json())
    }

    fn check(&self, body: Json) -> Json {
        let (s, out) = self.send("POST", "/api/compliance/check", &body);
        assert_eq!(s, 200, "{body} -> {out}");
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn log(&self, tenant: &str, channel: &str, address: &str, at: &str, status: &str, code: Option<i64>, detail: Option<&str>) {
        self.db
            .execute(
                "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, call_result, detail)
                 VALUES (?, ?, 'outbound', ?, '', ?, ?, ?, ?)",
                &[tenant.into(), channel.into(), address.into(), status.into(), at.into(), code.into(), detail.into()],
            )
            .unwrap();
    }
}

fn rules(out: &Json) -> Vec<String> {
    out["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_owned()).collect()
}

const NOON: &str = "2024-06-05T16:00:00Z";

#[test]
fn check_route_input_and_defaults() {
    let env = Env::new();
    // `at` defaults to now (12:00 in New York); `manual` to false.
    let out = env.check(json!({"tenant_id": "a", "channel": "text"}));
    assert_eq!(out["decision"], "allow", "{out}");
    assert_eq!(out["at"], "2024-06-05T16:00:00.000Z");
    assert_eq!(out["manual"], false);
    assert_eq!(out["address"], "+12125550100");
    // Any common spelling of an address on file.
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "address": "212.555.0101", "at": NOON}));
    assert_eq!((out["decision"].as_str(), out["address"].as_str()), (Some("allow"), Some("+12125550101")), "{out}");
    // An address not on file is blocked, not guessed at.
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "address": "(212) 555-0150", "at": NOON, "manual": true}));
    assert_eq!(rules(&out), ["address.not_on_file"], "{out}");
    // No email on file for email: blocked with the reason.
    let out = env.check(json!({"tenant_id": "m", "channel": "email", "at": NOON}));
    assert_eq!(rules(&out), ["address.none"], "{out}");
    // Bad input: 400 with a message; unknown tenant: 404.
    for (body, status) in [
        (json!({"tenant_id": "a", "channel": "sms"}), 400),
        (json!({"tenant_id": "a", "channel": "text", "at": "2024-06-05 16:00"}), 400),
        (json!({"tenant_id": "a", "channel": "text", "address": "not a number"}), 400),
        (json!({"tenant_id": "a", "channel": "email", "address": "+12125550100"}), 400),
        (json!({"tenant_id": " ", "channel": "text"}), 400),
        (json!({"tenant_id": "a", "channel": "text", "extra": 1}), 400),
        (json!({"tenant_id": "zz", "channel": "text"}), 404),
    ] {
        let (s, b) = env.send("POST", "/api/compliance/check", &body);
        assert_eq!(s, status, "{body} -> {b}");
        assert!(b["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let r = env.request("POST", "/api/compliance/check", "text/plain", b"{}".to_vec());
    assert_eq!(r.status, 415);
}

#[test]
fn stop_on_a_number_is_seen_by_every_tenant_that_has_it_but_only_for_that_number() {
    let env = Env::new();
    rentmsg::records::exclusions::set_customer_opt_out(&env.db, "+12125550100", env.now, Some("SM1")).unwrap();
    for t in ["a", "c"] {
        let out = env.check(json!({"tenant_id": t, "channel": "text", "at": NOON, "manual": true}));
        assert_eq!(rules(&out), ["exclusion.number_by_customer"], "{t}: {out}");
    }
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "address": "+12125550101", "at": NOON}));
    assert_eq!(out["decision"], "allow", "the home number is not excluded: {out}");
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "at": NOON, "manual": true}));
    assert_eq!(out["decision"], "allow", "manual calls to a STOPped number stay possible: {out}");
}

#[test]
fn unknown_zone_fails_closed() {
    let env = Env::new();
    // A zone that is no longer a valid IANA name (e.g. removed from tzdb).
    env.db.execute("UPDATE properties SET time_zone = 'Mars/Olympus_Mons' WHERE property_id = 'p-ny'", &[]).unwrap();
    let out = env.check(json!({"tenant_id": "a", "channel": "letter", "at": NOON}));
    assert_eq!((out["decision"].as_str(), rules(&out)), (Some("block"), vec!["time.zone_unknown".to_owned()]), "{out}");
    // The tenant's own zone wins over the property's.
    env.db.execute("UPDATE tenants SET time_zone = 'America/Chicago' WHERE tenant_id = 'a'", &[]).unwrap();
    let out = env.check(json!({"tenant_id": "a", "channel": "letter", "at": "2024-06-05T12:30:00Z"}));
    assert_eq!((out["decision"].as_str(), out["defer_until"].as_str()), (Some("defer"), Some("2024-06-05T13:00:00.000Z")), "{out}");
}

#[test]
fn the_contact_log_window_codes_and_statuses() {
    let env = Env::new();
    // Six attempts this week, one of them recorded only in the JSON detail,
    // plus contacts that do not count: a cancelled dialer call, a failed
    // call, and an attempt 8 days ago.
    for day in 30..=31 {
        env.log("a", "phone", "+12125550100", &format!("2024-05-{day}T15:00:00.000Z"), "completed", Some(1), None);
    }
    for day in 1..=3 {
        env.log("a", "phone", "+12125550100", &format!("2024-06-0{day}T15:00:00.000Z"), "completed", Some(108), None);
    }
    env.log("a", "phone", "+12125550100", "2024-06-04T15:00:00.000Z", "completed", None, Some(r#"{"call_result": 3}"#));
    env.log("a", "phone", "+12125550100", "2024-06-04T16:00:00.000Z", "completed", Some(125), None);
    env.log("a", "phone", "+12125550100", "2024-06-04T17:00:00.000Z", "failed", Some(1), None);
    env.log("a", "phone", "+12125550100", "2024-05-28T15:00:00.000Z", "completed", Some(1), None);
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "at": NOON}));
    assert_eq!((out["decision"].as_str(), out["near_limit"].as_bool()), (Some("allow"), Some(true)), "{out}");
    assert_eq!(out["warnings"][0]["rule"], "frequency:us-reg-f-phone");
    // One more attempt: the next call waits for the oldest to leave the 7 days.
    env.log("a", "phone", "+12125550100", "2024-06-05T13:00:00.000Z", "completed", Some(1), None);
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "at": NOON}));
    assert_eq!((rules(&out), out["defer_until"].as_str()), (vec!["frequency:us-reg-f-phone".to_owned()], Some("2024-06-06T12:00:00.000Z")), "{out}");
    // A conversation puts calls on hold; texts are not affected.
    env.log("b", "phone", "+12125550199", "2024-06-04T15:00:00.000Z", "completed", Some(4), None);
    let out = env.check(json!({"tenant_id": "b", "channel": "phone", "at": NOON, "manual": true}));
    assert_eq!((rules(&out), out["defer_until"].as_str()), (vec!["hold_for:us-reg-f-phone".to_owned()], Some("2024-06-11T12:00:00.000Z")), "{out}");
    let out = env.check(json!({"tenant_id": "b", "channel": "text", "at": NOON}));
    assert_eq!(out["decision"], "allow");
}

#[test]
fn group_contacts_count_when_the_control_applies_to_the_group() {
    let env = Env::new();
    // c shares a's mobile; b is in no group with a.
    env.log("c", "text", "+12125550100", "2024-06-04T15:00:00.000Z", "delivered", None, None);
    env.log("c", "text", "+12125550100", "2024-06-03T15:00:00.000Z", "delivered", None, None);
    env.log("b", "text", "+12125550199", "2024-06-03T15:00:00.000Z", "delivered", None, None);
    let (s, b) = env.send(
        "POST",
        "/api/contact-controls",
        &json!({"key": "texts-per-household", "channel": "text", "country": "US", "max_contacts": 2, "period": "week", "apply_to_group": true}),
    );
    assert_eq!(s, 201, "{b}");
    let out = env.check(json!({"tenant_id": "a", "channel": "text", "at": NOON}));
    assert_eq!(rules(&out), ["frequency:texts-per-household"], "{out}");
    // Same group id also groups.
    env.db.execute("UPDATE tenants SET group_id = 'g' WHERE tenant_id IN ('a', 'b')", &[]).unwrap();
    env.db.execute("DELETE FROM contact_log WHERE tenant_id = 'c'", &[]).unwrap();
    env.log("b", "text", "+12125550199", "2024-06-04T15:00:00.000Z", "delivered", None, None);
    let out = env.check(json!({"tenant_id": "a", "channel": "text", "at": NOON}));
    assert_eq!(rules(&out), ["frequency:texts-per-household"], "{out}");
    // Without apply_to_group only a's own contacts count.
    let (s, _) = env.send(
        "PUT",
        "/api/contact-controls/texts-per-household",
        &json!({"channel": "text", "country": "US", "max_contacts": 2, "period": "week"}),
    );
    assert_eq!(s, 200);
    let out = env.check(json!({"tenant_id": "a", "channel": "text", "at": NOON}));
    assert_eq!(out["decision"], "allow", "{out}");
}

#[test]
fn massachusetts_counts_calls_and_texts_by_kind_of_number() {
    let env = Env::new();
    env.log("m", "text", "+16175550100", "2024-06-03T15:00:00.000Z", "delivered", None, None);
    env.log("m", "phone", "+16175550100", "2024-06-04T15:00:00.000Z", "completed", Some(1), None);
    let out = env.check(json!({"tenant_id": "m", "channel": "text", "at": NOON}));
    assert_eq!(rules(&out), ["frequency:ma-home-mobile-text"], "{out}");
    let out = env.check(json!({"tenant_id": "m", "channel": "phone", "address": "(617) 555-0111", "at": NOON}));
    assert_eq!((out["decision"].as_str(), out["near_limit"].as_bool()), (Some("allow"), Some(false)), "{out}");
}

#[test]
fn contact_control_routes() {
    let env = Env::new();
    let (s, list) = env.send("GET", "/api/contact-controls", &json!({}));
    assert_eq!(s, 200);
    // 21 rows of migration 2, plus ma-phone, ma-text, wa-work-phone, wa-work-text of migration 7.
    assert_eq!(list["controls"].as_array().unwrap().len(), 25, "the default packs");
    let (s, c) = env.send("GET", "/api/contact-controls/on-phone", &json!({}));
    assert_eq!((s, c["pack"].as_str(), c["state"].as_str()), (200, Some("ontario"), Some("ON")));
    assert_eq!(c["day_windows"], json!({"sun": "13:00-17:00"}));
    for (method, path, body, status) in [
        ("POST", "/api/contact-controls", json!({"key": "x", "channel": "text", "max_contacts": 3}), 400),
        ("POST", "/api/contact-controls", json!({"key": "x", "channel": "text", "holidays": ["never"]}), 400),
        ("POST", "/api/contact-controls", json!({"key": "default-text", "channel": "text"}), 409),
        ("PUT", "/api/contact-controls/on-phone", json!({"key": "renamed", "channel": "phone"}), 400),
        ("PUT", "/api/contact-controls/missing", json!({"channel": "phone"}), 404),
        ("DELETE", "/api/contact-controls/missing", json!({}), 404),
        ("GET", "/api/contact-controls/missing", json!({}), 404),
    ] {
        let (s, b) = env.send(method, path, &body);
        assert_eq!(s, status, "{method} {path} {body} -> {b}");
    }
    // Disabling a pack row takes it out of every decision; audited.
    let (s, mut c) = env.send("GET", "/api/contact-controls/us-reg-f-letter", &json!({}));
    assert_eq!(s, 200);
    c["enabled"] = json!(false);
    let (s, b) = env.send("PUT", "/api/contact-controls/us-reg-f-letter", &c);
    assert_eq!((s, b["enabled"].as_bool()), (200, Some(false)), "{b}");
    let out = env.check(json!({"tenant_id": "a", "channel": "letter", "at": "2024-06-05T11:00:00Z"}));
    assert_eq!(rules(&out), ["window:default-letter"], "the default applies once the national row is off: {out}");
    let audit = env.db.execute("SELECT count(*) AS n FROM audit_log WHERE action = 'contact_control.replace'", &[]).unwrap();
    assert_eq!(audit.first().unwrap().i64("n").unwrap(), 1);
    let (s, codes) = env.send("GET", "/api/call-result-codes", &json!({}));
    assert_eq!(s, 200);
    let codes: Vec<i64> = codes["codes"].as_array().unwrap().iter().map(|c| c["code"].as_i64().unwrap()).collect();
    let want: Vec<i64> = (0..=6).chain(101..=128).collect();
    assert_eq!(codes, want);
}

#[test]
fn a_check_on_a_fresh_database_migrates_first() {
    let db = NativeDb::open_in_memory().unwrap();
    let request = rentmsg::compliance::CheckRequest {
        tenant_id: "a".into(),
        channel: rentmsg::base::channel::Channel::Text,
        address: None,
        at: Utc.with_ymd_and_hms(2024, 6, 5, 16, 0, 0).unwrap(),
        manual: false,
    };
    let err = rentmsg::compliance::check(&db, &request).unwrap_err();
    assert!(matches!(err, rentmsg::compliance::CheckError::UnknownTenant(_)), "{err:?}");
    assert_eq!(rentmsg::schema::migrate(&db, Utc::now()).unwrap(), Vec::<i64>::new(), "already migrated");
}

#[test]
fn a_number_the_carrier_reported_invalid_gets_no_texts_but_calls_go_on() {
    use rentmsg::inbound::process::{record_status, StatusCallback};
    let env = Env::new();
    let status = |sid: &str, status: &str, code: Option<&str>| {
        record_status(&env.db, &StatusCallback { message_sid: sid, status, error_code: code, to: Some("+12125550100") }, env.now)
            .unwrap()
    };
    // Landline or unreachable carrier on the mobile a and c share.
    assert_eq!(status("SM1", "undelivered", Some("30006")).number_effect, Some("marked_invalid"));
    for t in ["a", "c"] {
        for manual in [false, true] {
            let out = env.check(json!({"tenant_id": t, "channel": "text", "at": NOON, "manual": manual}));
            assert_eq!((out["decision"].as_str(), rules(&out)), (Some("block"), vec!["number_state.invalid".to_owned()]), "{t}: {out}");
            assert!(out["reasons"][0]["detail"].as_str().unwrap().contains("error 30006"), "{out}");
        }
    }
    // Named explicitly, in another spelling: the same number, the same block.
    let out = env.check(json!({"tenant_id": "a", "channel": "text", "address": "(212) 555-0100", "at": NOON}));
    assert_eq!(rules(&out), ["number_state.invalid"], "{out}");
    // Calls to it are left to the other rules: allowed at noon, deferred at night.
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "at": NOON}));
    assert_eq!(out["decision"], "allow", "{out}");
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "at": "2024-06-06T02:00:00Z", "manual": true}));
    assert_eq!(rules(&out), ["window:us-reg-f-phone"], "{out}");
    // Another of a's numbers, and b's, are untouched.
    let out = env.check(json!({"tenant_id": "a", "channel": "text", "address": "+12125550101", "at": NOON}));
    assert_eq!(out["decision"], "allow", "{out}");
    let out = env.check(json!({"tenant_id": "b", "channel": "text", "at": NOON}));
    assert_eq!(out["decision"], "allow", "{out}");
    // A later delivery to the number lifts the block.
    assert_eq!(status("SM2", "delivered", None).number_effect, Some("invalid_cleared"));
    let out = env.check(json!({"tenant_id": "a", "channel": "text", "at": NOON}));
    assert_eq!(out["decision"], "allow", "{out}");
}

#[test]
fn an_unknown_number_state_fails_closed() {
    let env = Env::new();
    // A state written by newer code this loader does not know.
    env.db.execute("PRAGMA ignore_check_constraints = ON", &[]).unwrap();
    env.db
        .execute(
            "INSERT INTO sms_number_states (address, state, error_code, set_at) VALUES ('+12125550100', 'suspended', '30999', '2024-06-01T00:00:00.000Z')",
            &[],
        )
        .unwrap();
    let (s, b) = env.send("POST", "/api/compliance/check", &json!({"tenant_id": "a", "channel": "phone", "at": NOON}));
    assert_eq!(s, 503, "{b}");
    // A state on a number the check is not about does not matter.
    let out = env.check(json!({"tenant_id": "a", "channel": "phone", "address": "+12125550101", "at": NOON}));
    assert_eq!(out["decision"], "allow", "{out}");
}
