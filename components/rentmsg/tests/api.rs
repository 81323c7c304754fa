//! The staff API natively, route by route: auth, the tenant view, consent,
//! exclusions, contact history, the audit trail, and bad input.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{Env, TOKEN};
use rentmsg::base::db::Db;
use rentmsg::base::channel::Channel;
use rentmsg::records::contact_log::{self, Direction, NewContact};
use rentmsg::records::exclusions;
use serde_json::{json, Value as Json};

fn seeded() -> Env {
    let env = Env::new();
    env.seed();
    env
}

fn point<'v>(view: &'v Json, kind: &str) -> &'v Json {
    view["contact_points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == json!(kind))
        .unwrap_or_else(|| panic!("no {kind} in {view}"))
}

fn error_of(r: &rentmsg::base::http::Response) -> String {
    r.body_json()["error"].as_str().unwrap_or_default().to_owned()
}

fn put(env: &Env, path: &str, body: Json) -> (u16, Json) {
    let r = env.put_json(path, &body);
    (r.status, r.body_json())
}

// ---------------------------------------------------------------- auth

#[test]
fn no_token_or_a_wrong_one_gets_401_and_no_data() {
    let env = seeded();
    let writes_before = env.count("SELECT count(*) AS n FROM audit_log");
    let bad_headers: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("authorization", format!("Bearer {TOKEN}x"))],
        vec![("authorization", format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]))],
        vec![("authorization", format!("Basic {TOKEN}"))],
        vec![("authorization", "Bearer".to_owned())],
        vec![("authorization", "Bearer ".to_owned())],
        vec![("authorization", TOKEN.to_owned())],
        vec![("x-staff-token", TOKEN.to_owned())],
    ];
    let requests: &[(&str, &str, &[u8])] = &[
        ("GET", "/api/tenants/T1", b""),
        ("GET", "/api/tenants/T1/contacts", b""),
        ("GET", "/api/tenants/nobody", b""),
        ("GET", "/api/no-such-route", b""),
        ("POST", "/api/import/properties", b"property_id,name,time_zone,state,country\nP9,X,UTC,,\n"),
        ("PUT", "/api/tenants/T1/consent", br#"{"status":"opted_in","evidence":"lease"}"#),
        ("PUT", "/api/tenants/T1/exclusions", br#"{"disable_auto_communications":true}"#),
    ];
    for headers in &bad_headers {
        for (method, path, body) in requests {
            let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.push(("content-type", if path.contains("import") { "text/csv" } else { "application/json" }));
            let r = env.raw(method, path, &h, body);
            assert_eq!(r.status, 401, "{method} {path} with {headers:?}");
            assert_eq!(r.body_json(), json!({"error": "missing or invalid bearer token"}), "no data leaks");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log"), writes_before, "nothing was written");
    assert_eq!(env.count("SELECT count(*) AS n FROM properties"), 2);
    assert_eq!(env.count("SELECT count(*) AS n FROM consent_events"), 0);
    // The scheme is case-insensitive; surrounding blanks are ignored.
    let r = env.raw("GET", "/api/tenants/T1", &[("Authorization", &format!("bearer  {TOKEN} "))], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn an_unset_staff_token_locks_everyone_out() {
    let env = seeded();
    for configured in ["", "   "] {
        let ctx = rentmsg::api::ApiContext { db: &env.db, staff_token: configured, now: env.now, public_base_url: "https://console.example", counters: &env.counters, sleep: |_| {} };
        for presented in ["Bearer ", "Bearer    ", "Bearer x"] {
            let req = rentmsg::base::http::Request {
                method: "GET".into(),
                path: "/api/tenants/T1".into(),
                headers: vec![("authorization".into(), presented.into())],
                body: vec![],
                client_addr: None,
            };
            let r = rentmsg::api::handle(&req, &ctx);
            assert_eq!(r.status, 503);
            assert_eq!(r.body_json(), json!({"error": "staff_token not configured"}));
        }
    }
}

#[test]
fn unknown_routes_and_methods_are_named() {
    let env = seeded();
    let r = env.get("/api/nothing-here");
    assert_eq!((r.status, error_of(&r)), (404, "no such route: GET /api/nothing-here".to_owned()));
    let r = env.send("DELETE", "/api/tenants/T1", None, b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
    let r = env.get("/api/tenants/T1/consent/extra");
    assert_eq!(r.status, 404);
    let r = env.get("/api/tenants/T%ZZ");
    assert_eq!((r.status, error_of(&r)), (400, "malformed percent-encoding in the URL".to_owned()));
    let r = env.get("/api/tenants/T%FF");
    assert_eq!((r.status, error_of(&r)), (400, "the URL does not decode to UTF-8".to_owned()));
    let r = env.get("/api/tenants?property_id=%zz");
    assert_eq!((r.status, error_of(&r)), (400, "malformed percent-encoding in the URL".to_owned()));
}

#[test]
fn plus_is_a_space_in_the_query_and_a_plus_in_the_path() {
    let env = seeded();
    // The query's `+` became a space before the value was checked.
    let r = env.get("/api/reports?format=csv+x");
    assert_eq!((r.status, error_of(&r)), (400, "format `csv x` is not json or csv".to_owned()));
    let r = env.get("/api/reports?format=c%2Bsv");
    assert_eq!((r.status, error_of(&r)), (400, "format `c+sv` is not json or csv".to_owned()));
    // The path's `+` is the number's own.
    let n = env.get_ok("/api/sms-numbers/+14155552671");
    assert_eq!(n["address"], json!("+14155552671"));
    assert_eq!(env.get_ok("/api/sms-numbers/%2B14155552671")["address"], json!("+14155552671"));
}

// ---------------------------------------------------------------- tenant view

#[test]
fn tenant_view_has_balance_status_and_contact_points() {
    let env = seeded();
    let t1 = env.get_ok("/api/tenants/T1");
    assert_eq!(t1["tenant_id"], json!("T1"));
    assert_eq!(t1["property_name"], json!("Maple Court"));
    // 2 × 1200.00 charged, 1500 paid: February covered, 900 of March open.
    assert_eq!(t1["balance_cents"], json!(90_000));
    assert_eq!(t1["overdue_cents"], json!(90_000));
    assert_eq!(t1["days_past_due"], json!(9));
    assert_eq!(t1["oldest_open_due_date"], json!("2024-03-01"));
    assert_eq!(t1["consent"], json!("opted_out"), "every tenant starts opted out");
    assert_eq!(t1["exclusion_status"], json!("none"));
    assert_eq!(t1["status"], json!("active"));
    let kinds: Vec<&str> = t1["contact_points"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["mobile_phone", "home_phone", "email"]);
    assert_eq!(
        point(&t1, "mobile_phone"),
        &json!({
            "kind": "mobile_phone",
            "channel": "phone",
            "address": "+14155552671",
            "consent": {"phone": "opted_out", "text": "opted_out"},
            "excluded": false,
            "exclusions": {"by_customer": {"on": false}, "by_user": {"on": false}},
        })
    );
    assert_eq!(point(&t1, "email")["address"], json!("pat@example.com"));
    assert_eq!(point(&t1, "email")["consent"], json!({"email": "opted_out"}));

    let t2 = env.get_ok("/api/tenants/T2");
    assert_eq!((t2["balance_cents"].clone(), t2["days_past_due"].clone()), (json!(95_050), json!(5)));
    let t3 = env.get_ok("/api/tenants/T3");
    assert_eq!((t3["balance_cents"].clone(), t3["days_past_due"].clone()), (json!(0), json!(0)));
    assert_eq!(t3["contact_points"], json!([]));

    let r = env.get("/api/tenants/nobody");
    assert_eq!((r.status, error_of(&r)), (404, "tenant `nobody` not found".to_owned()));
}

#[test]
fn days_past_due_count_in_the_tenants_own_time_zone() {
    let mut env = seeded();
    // 03:00 UTC on the 10th is still the 9th in New York and Toronto.
    env.now = Utc.with_ymd_and_hms(2024, 3, 10, 3, 0, 0).unwrap();
    let t1 = env.get_ok("/api/tenants/T1");
    assert_eq!((t1["as_of"].clone(), t1["days_past_due"].clone()), (json!("2024-03-09"), json!(8)));
    env.import_ok("properties", "property_id,name,time_zone,state,country\nP3,Harbour,Pacific/Auckland,,NZ\n");
    env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\nT4,P3,Kiri,1,021 123 4567,,,,,,,,\n",
    );
    env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nT4,2024-03-01,2024-03-01,charge,10,R1\n");
    // ...and already the 10th in Auckland.
    let t4 = env.get_ok("/api/tenants/T4");
    assert_eq!((t4["as_of"].clone(), t4["days_past_due"].clone()), (json!("2024-03-10"), json!(9)));
    assert_eq!(point(&t4, "mobile_phone")["address"], json!("+64211234567"));
}

#[test]
fn list_and_ledger_routes() {
    let env = seeded();
    let page = env.get_ok("/api/tenants?property_id=P1&limit=1");
    assert_eq!(page["total"], json!(2));
    assert_eq!(page["tenants"], json!([{"tenant_id": "T1", "property_id": "P1", "name": "Pat Smith", "unit": "1A", "status": "active"}]));
    let page = env.get_ok("/api/tenants?property_id=P1&limit=1&offset=1");
    assert_eq!(page["tenants"][0]["tenant_id"], json!("T3"));
    for bad in ["/api/tenants?limit=0", "/api/tenants?limit=x", "/api/tenants?limit=1001", "/api/tenants?offset=-1"] {
        assert_eq!(env.get(bad).status, 400, "{bad}");
    }
    let ledger = env.get_ok("/api/tenants/T1/ledger");
    assert_eq!(ledger["summary"]["balance_cents"], json!(90_000));
    let refs: Vec<&str> = ledger["entries"].as_array().unwrap().iter().map(|e| e["reference"].as_str().unwrap()).collect();
    assert_eq!(refs, ["RENT-2024-02", "RENT-2024-03", "PAY-1"]);
    assert_eq!(ledger["summary"]["charges"][1], json!({"reference": "RENT-2024-03", "due_date": "2024-03-01", "amount_cents": 120_000, "open_cents": 90_000}));
}

// ---------------------------------------------------------------- consent

#[test]
fn opting_in_needs_evidence_and_every_change_is_kept() {
    let env = seeded();
    for body in [
        json!({"status": "opted_in"}),
        json!({"status": "opted_in", "evidence": null}),
        json!({"status": "opted_in", "evidence": "   "}),
        json!({"status": "opted_in", "evidence": "", "channel": "text"}),
    ] {
        let (status, reply) = put(&env, "/api/tenants/T1/consent", body.clone());
        assert_eq!(status, 400, "{body}");
        assert!(reply["error"].as_str().unwrap().starts_with("evidence is required to opt in"), "{reply}");
    }
    assert_eq!(env.count("SELECT count(*) AS n FROM consent_events"), 0, "refused changes leave no trace");

    let r = env.raw(
        "PUT",
        "/api/tenants/T1/consent",
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/json; charset=utf-8"),
            ("x-staff-user", "bob"),
        ],
        br#"{"status": "opted_in", "evidence": "Lease section 12, signed 2023-06-01"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let view = r.body_json();
    assert_eq!(view["consent"], json!("opted_in"), "the reply is the updated tenant");
    assert_eq!(point(&view, "mobile_phone")["consent"], json!({"phone": "opted_in", "text": "opted_in"}));

    // One number's texts, written as staff would type it.
    let (status, view) = put(
        &env,
        "/api/tenants/T1/consent",
        json!({"status": "opted_out", "evidence": "asked by phone not to text this number", "channel": "text", "address": "(415) 555-2671"}),
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["consent"], json!("opted_in"), "tenant-wide consent stands");
    assert_eq!(point(&view, "mobile_phone")["consent"], json!({"phone": "opted_in", "text": "opted_out"}));
    assert_eq!(point(&view, "home_phone")["consent"], json!({"phone": "opted_in", "text": "opted_in"}));

    // A contact point can be named by its kind too; opting out needs no evidence.
    let (status, view) = put(&env, "/api/tenants/T1/consent", json!({"status": "opted_out", "address": "email"}));
    assert_eq!(status, 200, "{view}");
    assert_eq!(point(&view, "email")["consent"], json!({"email": "opted_out"}));

    let history = env.get_ok("/api/tenants/T1/consent");
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["actor"], json!("bootstrap:bob"));
    assert_eq!(events[0]["evidence"], json!("Lease section 12, signed 2023-06-01"));
    assert_eq!(events[0]["at"], json!("2024-03-10T16:00:00.000Z"));
    assert_eq!(events[0]["source"], json!("staff_api"));
    assert_eq!((events[1]["channel"].clone(), events[1]["address"].clone()), (json!("text"), json!("+14155552671")));
    assert_eq!(events[2]["address"], json!("pat@example.com"));
    assert_eq!(events[2]["actor"], json!("bootstrap"));
    let audit = env.get_ok("/api/audit?tenant_id=T1");
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["consent.set", "consent.set", "consent.set"]);
}

#[test]
fn consent_input_is_checked() {
    let env = seeded();
    let cases: Vec<(Json, u16, &str)> = vec![
        (json!({"status": "maybe"}), 400, "unknown variant `maybe`, expected `opted_in` or `opted_out`"),
        (json!({"evidence": "lease"}), 400, "missing field `status`"),
        (json!({"status": "opted_out", "channel": "fax"}), 400, "unknown variant `fax`"),
        (json!({"status": "opted_out", "colour": "red"}), 400, "unknown field `colour`"),
        (json!({"status": "opted_out", "address": "+1 212 555 0100"}), 400, "address is not one of the tenant's contact points"),
        (json!({"status": "opted_out", "address": "work_phone"}), 400, "address is not one of the tenant's contact points"),
        (json!({"status": "opted_out", "address": "not a number"}), 400, "is not a phone number"),
        (json!({"status": "opted_out", "channel": "email", "address": "mobile_phone"}), 400, "channel email cannot be used with a phone number"),
        (json!({"status": "opted_out", "channel": "text", "address": "pat@example.com"}), 400, "channel text cannot be used with an email address"),
        (json!({"status": "opted_in", "evidence": "x".repeat(2001)}), 400, "evidence is longer than 2000 characters"),
        (json!(["opted_in"]), 400, "invalid JSON body: expected an object"),
        (json!("opted_in"), 400, "invalid JSON body: expected an object"),
    ];
    for (body, status, message) in cases {
        let (got, reply) = put(&env, "/api/tenants/T1/consent", body.clone());
        assert_eq!(got, status, "{body}: {reply}");
        assert!(reply["error"].as_str().unwrap().contains(message), "{body}: {reply}");
    }
    let (status, reply) = put(&env, "/api/tenants/nobody/consent", json!({"status": "opted_in", "evidence": "lease"}));
    assert_eq!((status, reply), (404, json!({"error": "tenant `nobody` not found"})));
    assert_eq!(env.count("SELECT count(*) AS n FROM consent_events"), 0);
}

// ---------------------------------------------------------------- exclusions

#[test]
fn bankruptcy_needs_a_reason_that_becomes_a_note() {
    let env = seeded();
    for body in [
        json!({"bankruptcy": {"on": true}}),
        json!({"bankruptcy": {"on": true, "reason": "  "}}),
        json!({"bankruptcy": {"on": true, "reason": null}, "disable_auto_communications": true}),
    ] {
        let (status, reply) = put(&env, "/api/tenants/T1/exclusions", body.clone());
        assert_eq!(status, 400, "{body}");
        assert_eq!(reply["error"], json!("bankruptcy.reason is required when turning bankruptcy on"));
    }
    assert_eq!(env.count("SELECT count(*) AS n FROM exclusions"), 0, "nothing half-written");
    assert_eq!(env.count("SELECT count(*) AS n FROM notes"), 0);

    let (status, view) =
        put(&env, "/api/tenants/T1/exclusions", json!({"bankruptcy": {"on": true, "reason": "Chapter 7 filed 2024-03-08, case 24-10012"}}));
    assert_eq!(status, 200, "{view}");
    let b = &view["exclusions"]["bankruptcy"];
    assert_eq!((b["on"].clone(), b["reason"].clone(), b["set_by"].clone()), (json!(true), json!("Chapter 7 filed 2024-03-08, case 24-10012"), json!("bootstrap")));
    assert_eq!(view["notes"][0]["kind"], json!("bankruptcy"));
    assert_eq!(view["notes"][0]["body"], json!("Bankruptcy exclusion on: Chapter 7 filed 2024-03-08, case 24-10012"));
    // Tenant flags are not number exclusions: the status stays none.
    assert_eq!(view["exclusion_status"], json!("none"));

    let (status, view) = put(&env, "/api/tenants/T1/exclusions", json!({"bankruptcy": {"on": false, "reason": "case dismissed"}}));
    assert_eq!(status, 200);
    assert_eq!(view["exclusions"]["bankruptcy"], json!({"on": false}));
    assert_eq!(view["notes"][0]["body"], json!("Bankruptcy exclusion removed: case dismissed"));
}

#[test]
fn the_three_tenant_flags_are_independent() {
    let env = seeded();
    let flags = |view: &Json| {
        let e = &view["exclusions"];
        (
            e["bankruptcy"]["on"].as_bool().unwrap(),
            e["disable_texting_auto_calls"]["on"].as_bool().unwrap(),
            e["disable_auto_communications"]["on"].as_bool().unwrap(),
        )
    };
    let steps: Vec<(Json, (bool, bool, bool))> = vec![
        (json!({"disable_texting_auto_calls": true}), (false, true, false)),
        (json!({"bankruptcy": {"on": true, "reason": "filed"}}), (true, true, false)),
        (json!({"disable_auto_communications": true}), (true, true, true)),
        (json!({"disable_texting_auto_calls": false}), (true, false, true)),
        (json!({"bankruptcy": {"on": false}}), (false, false, true)),
        (json!({"disable_auto_communications": true}), (false, false, true)),
        (json!({"disable_auto_communications": false, "disable_texting_auto_calls": true}), (false, true, false)),
    ];
    for (body, want) in steps {
        let (status, view) = put(&env, "/api/tenants/T1/exclusions", body.clone());
        assert_eq!(status, 200, "{body}: {view}");
        assert_eq!(flags(&view), want, "after {body}");
    }
    // Repeating a setting that is already in force is not a change.
    let history = env.count("SELECT count(*) AS n FROM exclusion_events");
    assert_eq!(history, 7, "one event per actual change (the repeated disable_auto_communications is not one)");
    let audit = env.get_ok("/api/audit?tenant_id=T1&limit=1000");
    assert_eq!(audit["entries"].as_array().unwrap().len(), 7);
    // One request changed two flags: texting first, then automatic communications.
    assert_eq!(audit["entries"][1]["detail"], json!({"exclusion": "disable_texting_auto_calls", "on": true, "reason": null}));
    assert_eq!(audit["entries"][0]["detail"], json!({"exclusion": "disable_auto_communications", "on": false, "reason": null}));
}

#[test]
fn exclusion_bodies_are_checked() {
    let env = seeded();
    let cases: Vec<(&str, u16, &str)> = vec![
        ("{}", 400, "nothing to change"),
        (r#"{"disable_texting": true}"#, 400, "unknown field `disable_texting`"),
        (r#"{"disable_auto_communications": "yes"}"#, 400, "invalid type: string \"yes\", expected a boolean"),
        (r#"{"bankruptcy": true}"#, 400, "invalid JSON body"),
        (r#"{"bankruptcy": {"reason": "x"}}"#, 400, "missing field `on`"),
        ("true", 400, "invalid JSON body: expected an object"),
        (r#"{"bankruptcy": {"on": true, "reason": "filed"}"#, 400, "invalid JSON body: EOF while parsing"),
        (r#"{"disable_auto_communications": true} trailing"#, 400, "trailing characters"),
        ("", 400, "the body is empty; expected a JSON object"),
    ];
    for (body, status, message) in cases {
        let r = env.send("PUT", "/api/tenants/T1/exclusions", Some("application/json"), body.as_bytes());
        assert_eq!(r.status, status, "{body}");
        assert!(error_of(&r).contains(message), "{body}: {}", error_of(&r));
    }
    let r = env.send("PUT", "/api/tenants/T1/exclusions", Some("text/plain"), br#"{"disable_auto_communications": true}"#);
    assert_eq!((r.status, error_of(&r)), (415, "content type must be application/json, not text/plain".to_owned()));
    let r = env.send("PUT", "/api/tenants/T1/exclusions", None, br#"{"disable_auto_communications": true}"#);
    assert_eq!(r.status, 415);
    let r = env.send("PUT", "/api/tenants/T1/exclusions", Some("application/json"), &[0xff, 0xfe, b'{', b'}']);
    assert_eq!(r.status, 400);
    let (status, _) = put(&env, "/api/tenants/nobody/exclusions", json!({"disable_auto_communications": true}));
    assert_eq!(status, 404);
    assert_eq!(env.count("SELECT count(*) AS n FROM exclusions"), 0);
}

#[test]
fn per_number_exclusions_by_user_drive_the_status() {
    let env = seeded();
    let path = |cp: &str| format!("/api/tenants/T1/contact-points/{cp}/exclusion");
    let (status, view) = put(&env, &path("mobile_phone"), json!({"on": true, "reason": "tenant asked: work hours only"}));
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["exclusion_status"], json!("partial"), "one of two numbers");
    let mobile = point(&view, "mobile_phone");
    assert_eq!(mobile["excluded"], json!(true));
    assert_eq!(mobile["exclusions"]["by_user"]["reason"], json!("tenant asked: work hours only"));
    assert_eq!(mobile["exclusions"]["by_customer"], json!({"on": false}));
    // The home phone, named by its number in URL form.
    let (status, view) = put(&env, &path("%2B16175550123"), json!({"on": true}));
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["exclusion_status"], json!("full"));
    // Emails carry exclusions too, but the status counts numbers.
    let (status, view) = put(&env, &path("Pat%40Example.com"), json!({"on": true}));
    assert_eq!(status, 200, "{view}");
    assert_eq!(point(&view, "email")["excluded"], json!(true));
    let (status, view) = put(&env, &path("mobile_phone"), json!({"on": false}));
    assert_eq!(status, 200);
    assert_eq!(view["exclusion_status"], json!("partial"));
    assert_eq!(point(&view, "mobile_phone")["exclusions"]["by_user"], json!({"on": false}));
    let audit = env.get_ok("/api/audit?tenant_id=T1");
    assert_eq!(audit["entries"].as_array().unwrap().len(), 4);
    assert_eq!(audit["entries"][0]["action"], json!("exclusions.number_by_user"));

    let (status, reply) = put(&env, &path("work_phone"), json!({"on": true}));
    assert_eq!((status, reply), (404, json!({"error": "the tenant has no such contact point"})));
    let (status, _) = put(&env, &path("%2B12125550100"), json!({"on": true}));
    assert_eq!(status, 404);
    let (status, _) = put(&env, &path("mobile_phone"), json!({"reason": "x"}));
    assert_eq!(status, 400);
    let (status, _) = put(&env, "/api/tenants/nobody/contact-points/mobile_phone/exclusion", json!({"on": true}));
    assert_eq!(status, 404);
}

#[test]
fn the_customers_stop_is_visible_but_not_editable_by_staff() {
    let env = seeded();
    let stop_at = env.now - Duration::hours(2);
    assert!(exclusions::set_customer_opt_out(&env.db, "+14155552671", stop_at, Some("SM123")).unwrap());
    let view = env.get_ok("/api/tenants/T1");
    assert_eq!(view["exclusion_status"], json!("partial"));
    let by_customer = &point(&view, "mobile_phone")["exclusions"]["by_customer"];
    assert_eq!(by_customer["on"], json!(true));
    assert_eq!(by_customer["set_by"], json!("customer"));
    assert_eq!(by_customer["set_at"], json!("2024-03-10T14:00:00.000Z"));
    assert_eq!(by_customer["message_sid"], json!("SM123"));

    for body in [json!({"by_customer": false}), json!({"on": false, "by_customer": false})] {
        let (status, reply) = put(&env, "/api/tenants/T1/contact-points/mobile_phone/exclusion", body);
        assert_eq!(status, 409);
        assert!(reply["error"].as_str().unwrap().contains("only their START lifts it"), "{reply}");
    }
    // Staff's own exclusion on the same number is separate from the customer's.
    let (status, view) = put(&env, "/api/tenants/T1/contact-points/mobile_phone/exclusion", json!({"on": true}));
    assert_eq!(status, 200);
    let (status, view2) = put(&env, "/api/tenants/T1/contact-points/mobile_phone/exclusion", json!({"on": false}));
    assert_eq!(status, 200);
    assert_eq!(point(&view, "mobile_phone")["exclusions"]["by_customer"]["on"], json!(true));
    assert_eq!(point(&view2, "mobile_phone")["exclusions"]["by_customer"]["on"], json!(true));
    assert_eq!(point(&view2, "mobile_phone")["excluded"], json!(true));

    // Only the customer's START lifts it.
    assert!(exclusions::clear_customer_opt_out(&env.db, "+14155552671", env.now, Some("SM124")).unwrap());
    assert_eq!(env.get_ok("/api/tenants/T1")["exclusion_status"], json!("none"));
}

// ---------------------------------------------------------------- contacts

#[test]
fn contact_history_is_newest_first() {
    let env = seeded();
    let base = Utc.with_ymd_and_hms(2024, 3, 8, 14, 0, 0).unwrap();
    let log = |minutes: i64, channel: Channel, direction: Direction, address: &str, body: &str, status: &str| {
        contact_log::record(
            &env.db,
            &NewContact {
                tenant_id: Some("T1"),
                channel,
                direction,
                address,
                body,
                status,
                at: base + Duration::minutes(minutes),
                provider_id: None,
                detail: None,
            },
        )
        .unwrap();
    };
    log(0, Channel::Text, Direction::Outbound, "+14155552671", "Your rent is 9 days late", "delivered");
    log(90, Channel::Email, Direction::Outbound, "pat@example.com", "Balance reminder", "sent");
    log(30, Channel::Text, Direction::Inbound, "+14155552671", "paying friday", "received");
    let contacts = env.get_ok("/api/tenants/T1/contacts");
    let list = contacts["contacts"].as_array().unwrap();
    let bodies: Vec<&str> = list.iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Balance reminder", "paying friday", "Your rent is 9 days late"]);
    let c = &list[1];
    assert_eq!(
        (c["channel"].clone(), c["direction"].clone(), c["address"].clone(), c["status"].clone(), c["at"].clone()),
        (json!("text"), json!("inbound"), json!("+14155552671"), json!("received"), json!("2024-03-08T14:30:00.000Z"))
    );
    assert_eq!(env.get_ok("/api/tenants/T1/contacts?limit=1")["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(env.get_ok("/api/tenants/T2/contacts")["contacts"], json!([]));
    assert_eq!(env.get("/api/tenants/nobody/contacts").status, 404);
    assert_eq!(env.get("/api/tenants/T1/contacts?limit=0").status, 400);
}

// ---------------------------------------------------------------- bodies

#[test]
fn bodies_over_the_limit_get_413_after_the_token_check() {
    let env = seeded();
    let huge = vec![b'a'; rentmsg::api::MAX_BODY_BYTES + 1];
    let r = env.send("POST", "/api/import/properties", Some("text/csv"), &huge);
    assert_eq!((r.status, error_of(&r)), (413, "the body is larger than 20 MiB".to_owned()));
    let r = env.send("PUT", "/api/tenants/T1/consent", Some("application/json"), &huge);
    assert_eq!(r.status, 413);
    let r = env.raw("POST", "/api/import/properties", &[("content-type", "text/csv")], &huge);
    assert_eq!(r.status, 401, "strangers learn nothing, not even the limit");
}

#[test]
fn audit_lists_newest_first_and_filters_by_tenant() {
    let env = seeded();
    put(&env, "/api/tenants/T2/exclusions", json!({"disable_auto_communications": true}));
    put(&env, "/api/tenants/T1/consent", json!({"status": "opted_in", "evidence": "lease"}));
    let all = env.get_ok("/api/audit");
    let actions: Vec<(&str, Option<&str>)> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("consent.set", Some("tenant:T1")),
            ("exclusions.set", Some("tenant:T2")),
            ("import.ledger", None),
            ("import.tenants", None),
            ("import.properties", None),
        ]
    );
    assert_eq!(env.get_ok("/api/audit?tenant_id=T2")["entries"].as_array().unwrap().len(), 1);
    assert_eq!(env.get_ok("/api/audit?limit=2")["entries"].as_array().unwrap().len(), 2);
}

fn ids_of(list: &Json) -> Vec<i64> {
    list.as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect()
}

/// Every page of `path` (limit 2) by following `older`, with the total
/// of rows seen; each page must be the next slice of `whole`.
fn follow(env: &Env, path: &str, items: &str, whole: &[i64]) -> usize {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}limit=2");
    let (mut seen, mut pages) = (0, 0);
    loop {
        let page = env.get_ok(&url);
        let got = ids_of(&page[items]);
        assert_eq!(got, whole[seen..(seen + 2).min(whole.len())].to_vec(), "{path}, page {pages}");
        seen += got.len();
        pages += 1;
        match page["older"].as_str() {
            Some(c) => url = format!("{path}{sep}limit=2&before={c}"),
            None => break,
        }
    }
    assert_eq!(seen, whole.len(), "{path}: every row once");
    pages
}

/// The outbox and the audit log page with `before` through the whole list,
/// newest first, rows written in the same millisecond in write order
/// (newest first), filters kept across pages.
#[test]
fn outbox_and_audit_pages_after_a_cursor_are_slices_of_the_whole_list() {
    let env = seeded();
    let stamp = rentmsg::base::time::timestamp(env.now);
    let states = ["queued", "sent", "blocked", "sent", "queued", "sent", "failed"];
    let mut written = Vec::new();
    for (i, state) in states.iter().enumerate() {
        let tenant = if i % 2 == 0 { "T1" } else { "T2" };
        let row = env
            .db
            .execute(
                "INSERT INTO outbox (kind, tenant_id, channel, state, not_before, custom_body, created_by, created_at, updated_at)
                 VALUES ('supplemental', ?, 'text', ?, ?, 'hello', 'staff', ?, ?) RETURNING id",
                &[tenant.into(), (*state).into(), stamp.as_str().into(), stamp.as_str().into(), stamp.as_str().into()],
            )
            .unwrap();
        written.push((row.first().unwrap().i64("id").unwrap(), tenant, *state));
    }
    let newest_first = |keep: &dyn Fn(&str, &str) -> bool| -> Vec<i64> { written.iter().rev().filter(|(_, t, s)| keep(t, s)).map(|(id, _, _)| *id).collect() };
    assert_eq!(follow(&env, "/api/outbox", "items", &newest_first(&|_, _| true)), 4);
    assert_eq!(follow(&env, "/api/outbox?state=sent", "items", &newest_first(&|_, s| s == "sent")), 2);
    assert_eq!(follow(&env, "/api/outbox?tenant_id=T1", "items", &newest_first(&|t, _| t == "T1")), 2);
    let page = env.get_ok("/api/outbox?limit=100");
    assert_eq!(page["older"], Json::Null);
    assert_eq!(page["counts"], json!({"queued": 2, "sent": 3, "blocked": 1, "failed": 1}));

    // Audit rows: the imports' and eight more at one timestamp.
    for i in 0..8 {
        let target = if i % 2 == 0 { "tenant:T1".to_owned() } else { format!("address:+1555000{i}") };
        rentmsg::records::audit::record(&env.db, "staff", "test.write", &target, &json!({ "n": i }), env.now).unwrap();
    }
    let all: Vec<i64> = env
        .db
        .execute("SELECT id FROM audit_log ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.i64("id").unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(all.len() >= 8);
    follow(&env, "/api/audit", "entries", &all);
    let t1: Vec<i64> =
        env.db.execute("SELECT id FROM audit_log WHERE target = 'tenant:T1' ORDER BY id", &[]).unwrap().iter().map(|r| r.i64("id").unwrap()).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(t1.len() >= 4);
    follow(&env, "/api/audit?tenant_id=T1", "entries", &t1);
    assert_eq!(env.get("/api/audit?before=abc").status, 400);
    assert_eq!(env.get("/api/outbox?before=0").status, 400);
}
