//! The staff console's routes, natively: the call list, recording calls
//! (attempts, right-party contacts, overrides), supplemental messages and
//! the reports.

mod common;

use chrono::Duration;
use common::Env;
use rentmsg::base::db::Db;
use serde_json::{json, Value as Json};

fn post(env: &Env, path: &str, body: &Json) -> rentmsg::base::http::Response {
    env.send("POST", path, Some("application/json"), body.to_string().as_bytes())
}

fn entry<'a>(list: &'a Json, tenant: &str) -> &'a Json {
    list["items"].as_array().unwrap().iter().find(|i| i["tenant_id"] == json!(tenant)).unwrap_or_else(|| panic!("{tenant} not on {list}"))
}

fn rules(v: &Json) -> Vec<String> {
    v.as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn call_list_orders_by_days_and_says_who_is_callable_and_when() {
    let env = Env::new();
    env.seed();
    // Sunday 2024-03-10 11:00 in New York, 11:00 in Toronto.
    let list = env.get_ok("/api/call-list");
    assert_eq!(list["total"], json!(2), "{list}");
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["tenant_id"].as_str().unwrap()).collect();
    // T1 is 9 days past due, T2 5; T3 owes nothing.
    assert_eq!(ids, ["T1", "T2"]);
    let t1 = entry(&list, "T1");
    assert_eq!(t1["callable"], json!(true), "{t1}");
    assert_eq!(t1["days_past_due"], json!(9));
    assert_eq!(t1["balance_cents"], json!(90000));
    assert_eq!(t1["phone"], json!("+14155552671"));
    // Ontario: Sundays only 13:00-17:00 local.
    let t2 = entry(&list, "T2");
    assert_eq!(t2["callable"], json!(false), "{t2}");
    assert_eq!(t2["decision"], json!("defer"));
    assert!(rules(&t2["reasons"]).contains(&"window:on-phone".to_owned()), "{t2}");
    assert_eq!(t2["callable_at"], json!("2024-03-10T17:00:00.000Z"));
    assert_eq!(list["callable"], json!(1));
    // Property filter and paging.
    let p2 = env.get_ok("/api/call-list?property_id=P2");
    assert_eq!(p2["total"], json!(1));
    let page = env.get_ok("/api/call-list?limit=1&offset=1");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["tenant_id"], json!("T2"));
    assert_eq!(env.get("/api/call-list?limit=0").status, 400);
    assert_eq!(env.get("/api/call-list?offset=-1").status, 400);
    // A tenant who moved out is not called.
    env.import_ok("tenants", &common::TENANTS.replace("G7\n", "G7,moved_out\n").replace("group_id\n", "group_id,status\n"));
    assert_eq!(env.get_ok("/api/call-list")["total"], json!(1));
}

#[test]
fn a_right_party_contact_puts_the_tenant_on_hold_at_once() {
    let env = Env::new();
    env.seed();
    let r = post(&env, "/api/tenants/T1/calls", &json!({"result_code": 101, "notes": "Will pay Friday"}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    let call = r.body_json();
    assert_eq!(call["classification"], json!({"attempt": true, "right_party_contact": true}));
    assert_eq!(call["overridden"], json!(false));
    assert_eq!(call["contact"]["channel"], json!("phone"));
    assert_eq!(call["contact"]["direction"], json!("outbound"));
    assert_eq!(call["contact"]["address"], json!("+14155552671"));
    assert_eq!(call["result_label"], json!("Manual dial: right party contact"));
    // The contact log has the result code where the rules read it.
    assert_eq!(env.count("SELECT count(*) AS n FROM contact_log WHERE tenant_id = 'T1' AND call_result = 101"), 1);
    let history = env.get_ok("/api/tenants/T1/contacts");
    assert!(history["contacts"][0]["body"].as_str().unwrap().contains("Will pay Friday"), "{history}");
    let view = env.get_ok("/api/tenants/T1");
    assert_eq!(view["notes"][0]["kind"], json!("call"));
    // Hold-for 7 days after the conversation (until 2024-03-17 local
    // midnight), then the calling window in the number's zone (415: Los
    // Angeles, 08:00 PDT).
    let list = env.get_ok("/api/call-list");
    let t1 = entry(&list, "T1");
    assert_eq!(t1["callable"], json!(false), "{t1}");
    assert!(rules(&t1["reasons"]).iter().any(|r| r.starts_with("hold_for:")), "{t1}");
    assert_eq!(t1["callable_at"], json!("2024-03-17T15:00:00.000Z"));
    assert!(t1["last_rpc_at"].is_string());
    // A second call now needs an override reason.
    let blocked = post(&env, "/api/tenants/T1/calls", &json!({"result_code": 108}));
    assert_eq!(blocked.status, 409, "{}", blocked.body_json());
    assert_eq!(blocked.body_json()["decision"]["decision"], json!("defer"));
    assert!(blocked.body_json()["error"].as_str().unwrap().contains("override"));
    assert_eq!(env.count("SELECT count(*) AS n FROM contact_log WHERE tenant_id = 'T1'"), 1, "nothing recorded");
    let over = post(&env, "/api/tenants/T1/calls", &json!({"result_code": 108, "override_reason": "Tenant asked us to call back today"}));
    assert_eq!(over.status, 201, "{}", over.body_json());
    assert_eq!(over.body_json()["overridden"], json!(true));
    let audit = env.get_ok("/api/audit?tenant_id=T1");
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"call.override") && actions.contains(&"call.record"), "{actions:?}");
    let over_entry = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == json!("call.override")).unwrap();
    assert_eq!(over_entry["detail"]["reason"], json!("Tenant asked us to call back today"));
    assert!(env.get_ok("/api/tenants/T1")["notes"].as_array().unwrap().iter().any(|n| n["kind"] == json!("call_override")));
}

#[test]
fn a_promise_taken_on_a_call_pauses_notices_and_shows_on_the_tenant() {
    let env = Env::new();
    env.seed();
    let r = post(
        &env,
        "/api/tenants/T1/calls",
        &json!({"result_code": 101, "notes": "Can pay half on Friday", "promise": {"date": "2024-03-15", "amount_cents": 45000}}),
    );
    assert_eq!(r.status, 201, "{}", r.body_json());
    let call = r.body_json();
    assert_eq!(call["promise"]["source"], json!("call"));
    assert_eq!(call["promise"]["status"], json!("active"));
    assert_eq!(call["promise"]["amount_cents"], json!(45000));
    assert_eq!(call["promise"]["created_by"], json!("bootstrap"));
    // The promise and the call are on the tenant.
    let promises = env.get_ok("/api/tenants/T1/promises");
    assert_eq!(promises["promises"].as_array().unwrap().len(), 1);
    assert_eq!(promises["promises"][0]["promised_date"], json!("2024-03-15"));
    let contacts = env.get_ok("/api/tenants/T1/contacts");
    let statuses: Vec<&str> = contacts["contacts"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"completed") && statuses.contains(&"promise"), "{statuses:?}");
    // Automatic notices are paused until the end of the promised date.
    let report = rentmsg::notices::scan::run(&env.db, &rentmsg::compliance::DbChecker { db: &env.db }, env.now).unwrap();
    assert_eq!(env.count("SELECT count(*) AS n FROM outbox WHERE tenant_id = 'T1'"), 0, "{report:?}");
    // The call list says why T1 is not to be called.
    let list = env.get_ok("/api/call-list");
    let t1 = entry(&list, "T1");
    assert_eq!(t1["callable"], json!(false));
    assert!(rules(&t1["reasons"]).contains(&"promise_to_pay".to_owned()), "{t1}");
    assert!(t1["paused_until"].as_str().unwrap().starts_with("2024-03-16T04:00:00"), "{t1}");
    // A promise date beyond the horizon is refused and nothing is recorded.
    let r = post(&env, "/api/tenants/T2/calls", &json!({"result_code": 125, "override_reason": "test", "promise": {"date": "2025-01-01"}}));
    assert_eq!(r.status, 400, "{}", r.body_json());
    assert_eq!(env.count("SELECT count(*) AS n FROM contact_log WHERE tenant_id = 'T2'"), 0);
    assert_eq!(env.get("/api/tenants/nobody/promises").status, 404);
    // Reports count the promise and payment-link opens.
    env.db
        .execute("INSERT INTO link_opens (tenant_id, outbox_id, opened_at) VALUES ('T1', 1, '2024-03-10T15:00:00.000Z')", &[])
        .unwrap();
    let report = env.get_ok("/api/reports?from=2024-03-10&to=2024-03-10&property_id=P1");
    assert_eq!((report["totals"]["promises"].clone(), report["totals"]["links_opened"].clone()), (json!(1), json!(1)), "{report}");
}

#[test]
fn attempts_count_toward_the_weekly_limit() {
    let env = Env::new();
    env.seed();
    // Massachusetts: at most 2 calls or texts per 7 days to home or mobile numbers.
    for code in [108, 105] {
        let r = post(&env, "/api/tenants/T1/calls", &json!({"result_code": code, "address": "mobile_phone"}));
        assert_eq!(r.status, 201, "{}", r.body_json());
        assert_eq!(r.body_json()["classification"], json!({"attempt": true, "right_party_contact": false}));
    }
    let t1 = env.get_ok("/api/call-list");
    let t1 = entry(&t1, "T1");
    assert_eq!(t1["attempts_7d"], json!(2));
    assert_eq!(t1["callable"], json!(false));
    assert!(rules(&t1["reasons"]).contains(&"frequency:ma-home-mobile-phone".to_owned()), "{t1}");
    // The home number is a home number too; the limit covers it.
    let r = post(&env, "/api/tenants/T1/calls", &json!({"result_code": 108, "address": "home_phone"}));
    assert_eq!(r.status, 409, "{}", r.body_json());
    // A dialer code the controls do not count (cancelled, never placed).
    let r = post(&env, "/api/tenants/T2/calls", &json!({"result_code": 125, "override_reason": "Sunday morning test"}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    assert_eq!(r.body_json()["classification"], json!({"attempt": false, "right_party_contact": false}));
}

#[test]
fn bad_call_input_is_refused_clearly() {
    let env = Env::new();
    env.seed();
    let cases: &[(&str, Json, u16, &str)] = &[
        ("T1", json!({"result_code": 999}), 400, "not on the list"),
        ("nobody", json!({"result_code": 101}), 404, "not found"),
        ("T1", json!({}), 400, "result_code"),
        ("T1", json!({"result_code": 101, "surprise": 1}), 400, "unknown field"),
        ("T1", json!({"result_code": 101, "address": "email"}), 400, "not a phone number"),
        ("T1", json!({"result_code": 101, "address": "work_phone"}), 400, "no work_phone"),
        ("T1", json!({"result_code": 101, "promise": {"date": "2024-13-01"}}), 400, "promise.date"),
        ("T1", json!({"result_code": 101, "promise": {"date": "2024-03-20", "amount_cents": -5}}), 400, "amount_cents"),
        ("T3", json!({"result_code": 101}), 400, "no phone number"),
        ("T1", json!({"result_code": 101, "override_reason": "x".repeat(501)}), 400, "override_reason"),
    ];
    for (tenant, body, status, want) in cases {
        let r = post(&env, &format!("/api/tenants/{tenant}/calls"), body);
        assert_eq!(r.status, *status, "{body}: {}", r.body_json());
        let msg = r.body_json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(msg.contains(want), "{body}: {msg}");
    }
    // A number that is not the tenant's is blocked; only an override records it.
    let r = post(&env, "/api/tenants/T1/calls", &json!({"result_code": 108, "address": "+1 212 555 0100"}));
    assert_eq!(r.status, 409);
    assert!(rules(&r.body_json()["decision"]["reasons"]).contains(&"address.not_on_file".to_owned()));
    assert_eq!(env.count("SELECT count(*) AS n FROM contact_log"), 0);
}

#[test]
fn supplemental_messages_pass_compliance_and_queue_in_the_outbox() {
    let env = Env::new();
    env.seed();
    let r = env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease clause 12"}));
    assert_eq!(r.status, 200);
    let r = post(
        &env,
        "/api/tenants/T1/messages",
        &json!({"channel": "text", "purpose": "payment_arrangement", "body": "Hi {{ tenant_name }}, call us about a plan for {{ balance }}."}),
    );
    assert_eq!(r.status, 201, "{}", r.body_json());
    let row = r.body_json();
    assert_eq!(row["kind"], json!("supplemental"));
    assert_eq!(row["state"], json!("queued"), "{row}");
    assert_eq!(row["created_by"], json!("bootstrap"));
    // From an approved template, by email.
    let r = post(&env, "/api/tenants/T1/messages", &json!({"channel": "email", "purpose": "balance_reminder", "template_stage": 2}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    assert!(r.body_json()["custom_subject"].as_str().unwrap().contains("reminder"));
    // T2 never opted in: blocked, with the rule, and visible in the outbox.
    let r = post(&env, "/api/tenants/T2/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Please call the office."}));
    assert_eq!(r.status, 201);
    assert_eq!(r.body_json()["state"], json!("blocked"));
    assert!(rules(&r.body_json()["reasons"]).contains(&"consent".to_owned()));
    let bad: &[(&str, Json, u16, &str)] = &[
        ("T1", json!({"channel": "text", "purpose": "marketing", "body": "Sale!"}), 400, "purpose"),
        ("T1", json!({"channel": "text", "purpose": "account_question", "body": "See www.example.com"}), 400, "web links"),
        ("T1", json!({"channel": "text", "purpose": "account_question"}), 400, "template_stage"),
        ("T1", json!({"channel": "text", "purpose": "account_question", "body": "x", "template_stage": 1}), 400, "not both"),
        ("T1", json!({"channel": "email", "purpose": "account_question", "body": "Hello"}), 400, "subject"),
        ("T1", json!({"channel": "phone", "purpose": "account_question", "body": "Hello"}), 400, "text or email"),
        ("T1", json!({"channel": "text", "purpose": "account_question", "template_stage": 99}), 400, "no text template"),
        ("T3", json!({"channel": "text", "purpose": "account_question", "body": "Hello"}), 409, "no overdue balance"),
        ("nobody", json!({"channel": "text", "purpose": "account_question", "body": "Hello"}), 404, "not found"),
    ];
    for (tenant, body, status, want) in bad {
        let r = post(&env, &format!("/api/tenants/{tenant}/messages"), body);
        assert_eq!(r.status, *status, "{body}: {}", r.body_json());
        assert!(r.body_json()["error"].as_str().unwrap_or_default().contains(want), "{body}: {}", r.body_json());
    }
    assert_eq!(env.count("SELECT count(*) AS n FROM outbox WHERE kind = 'supplemental'"), 3);
}

#[test]
fn reports_count_what_happened_per_property_as_json_csv_and_svg() {
    let env = Env::new();
    env.seed();
    env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease"}));
    post(&env, "/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Please pay {{ balance }}."}));
    post(&env, "/api/tenants/T2/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Please pay."}));
    // The T1 message went out yesterday; T1 paid today.
    let yesterday = rentmsg::base::time::timestamp(env.now - Duration::days(1));
    env.db
        .execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, created_at = ? WHERE tenant_id = 'T1'",
            &[yesterday.as_str().into(), yesterday.as_str().into()],
        )
        .unwrap();
    env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nT1,2024-03-10,,payment,100.00,PAY-2\n");
    let r = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10");
    assert_eq!(r["from"], json!("2024-03-01"));
    let p1 = r["properties"].as_array().unwrap().iter().find(|p| p["property_id"] == json!("P1")).unwrap();
    assert_eq!((p1["queued"].clone(), p1["sent"].clone(), p1["blocked"].clone()), (json!(1), json!(1), json!(0)), "{p1}");
    assert_eq!(p1["payments_after_notice"], json!(1));
    assert_eq!(p1["payments_after_notice_cents"], json!(10000));
    let p2 = r["properties"].as_array().unwrap().iter().find(|p| p["property_id"] == json!("P2")).unwrap();
    assert_eq!(p2["blocked"], json!(1));
    assert_eq!(p2["blocked_by_reason"]["consent"], json!(1));
    assert_eq!(r["totals"]["queued"], json!(2));
    // One property.
    let only = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10&property_id=P2");
    assert_eq!(only["properties"].as_array().unwrap().len(), 1);
    assert_eq!(only["totals"]["blocked"], json!(1));
    // Before anything happened.
    let empty = env.get_ok("/api/reports?from=2024-01-01&to=2024-01-31");
    assert_eq!(empty["totals"]["queued"], json!(0));
    // CSV by query or Accept.
    for r in [
        env.get("/api/reports?from=2024-03-01&to=2024-03-10&format=csv"),
        env.raw(
            "GET",
            "/api/reports?from=2024-03-01&to=2024-03-10",
            &[("Authorization", &format!("Bearer {}", common::TOKEN)), ("Accept", "text/csv")],
            b"",
        ),
    ] {
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with("text/csv"));
        let text = String::from_utf8(r.body.clone()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), rentmsg::staff::reports::CSV_COLUMNS.join(","));
        let rows: Vec<&str> = lines.collect();
        // P2 bills in CAD: per-currency totals rows follow ALL.
        assert_eq!(rows.len(), 5, "{text}");
        assert!(rows[1].starts_with("P2,Lakeview,2024-03-01,2024-03-10,1,0,0,1,0,0,0,0,0,0,0,0,0,consent=1"), "{text}");
        assert!(rows[2].starts_with("ALL,"), "{text}");
    }
    let svg = env.get("/api/reports/chart.svg?from=2024-03-01&to=2024-03-10");
    assert_eq!(svg.status, 200);
    assert!(svg.header("content-type").unwrap().starts_with("image/svg+xml"));
    let text = String::from_utf8(svg.body).unwrap();
    assert!(text.starts_with("<svg") && text.contains("Blocked: consent") && !text.contains("<script"), "{text}");
    // Bad ranges.
    assert_eq!(env.get("/api/reports?from=2024-03-10&to=2024-03-01").status, 400);
    assert_eq!(env.get("/api/reports?from=2023-01-01&to=2024-03-01").status, 400);
    assert_eq!(env.get("/api/reports?from=yesterday").status, 400);
    assert_eq!(env.get("/api/reports?format=xml").status, 400);
    assert_eq!(env.get("/api/reports?property_id=P9").status, 404);
}

#[test]
fn csv_cells_that_look_like_formulas_are_neutralised() {
    let env = Env::new();
    env.import_ok("properties", "property_id,name,time_zone,state,country\n=P1,=HYPERLINK(1),America/New_York,NY,US\n");
    let r = env.get("/api/reports?format=csv");
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.contains("'=P1,'=HYPERLINK(1)"), "{text}");
}

/// A checker that cannot decide about one tenant.
struct FailingFor<'a>(&'a str, rentmsg::compliance::DbChecker<'a>);

impl rentmsg::compliance::ComplianceCheck for FailingFor<'_> {
    fn check(&self, r: &rentmsg::compliance::CheckRequest) -> Result<rentmsg::compliance::Decision, rentmsg::compliance::CheckError> {
        if r.tenant_id == self.0 {
            return Err(rentmsg::compliance::CheckError::Unavailable("facts unreadable".into()));
        }
        self.1.check(r)
    }
}

#[test]
fn a_tenant_compliance_cannot_decide_about_is_listed_as_not_callable() {
    let env = Env::new();
    env.seed();
    let checker = FailingFor("T1", rentmsg::compliance::DbChecker { db: &env.db });
    let q = rentmsg::staff::call_list::CallListQuery { limit: 50, ..Default::default() };
    let list = rentmsg::staff::call_list::build(&env.db, &checker, &q, env.now).unwrap();
    let t1 = list.items.iter().find(|i| i.tenant_id == "T1").unwrap();
    assert!(!t1.callable);
    assert_eq!(t1.decision, "block");
    assert_eq!(t1.reasons[0].rule, "compliance.unavailable");
    assert!(t1.callable_at.is_none());
    assert_eq!(list.items.len(), 2, "the rest of the list still shows");
}

#[test]
fn listing_pages_run_their_statements_without_preparing_them_again() {
    // A LIMIT or OFFSET bound as a parameter makes SQLite prepare the
    // statement anew on every run; the pages write theirs in.
    let env = Env::new();
    env.seed();
    let r = post(&env, "/api/tenants/T1/calls", &json!({"result_code": 101, "notes": "Will pay Friday"}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    let pages = [
        "/api/call-list",
        "/api/call-list?limit=1&offset=1",
        "/api/tenants",
        "/api/tenants?limit=1&offset=1",
        "/api/tenants/T1",
        "/api/tenants/T1/contacts",
        "/api/audit",
        "/api/audit?target=tenant:T1",
        "/api/inbox",
        "/api/outbox",
    ];
    for page in pages {
        env.get_ok(page);
    }
    let before = env.db.reprepares();
    for page in pages {
        env.get_ok(page);
    }
    assert_eq!(env.db.reprepares() - before, 0, "statements prepared again on the second read of the same pages");
}

#[test]
fn reports_never_add_two_currencies_into_one_figure() {
    let env = Env::new();
    env.seed();
    env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease"}));
    post(&env, "/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Please pay."}));
    post(&env, "/api/tenants/T2/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Please pay."}));
    let yesterday = rentmsg::base::time::timestamp(env.now - Duration::days(1));
    env.db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, created_at = ?", &[yesterday.as_str().into(), yesterday.as_str().into()]).unwrap();
    env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nT1,2024-03-10,,payment,100.00,PAY-2\nT2,2024-03-10,,payment,40.00,PAY-3\n");
    env.db.execute("UPDATE properties SET currency = 'USD'", &[]).unwrap();
    // One currency: the single figure is the sum, and the split agrees.
    let r = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10");
    assert_eq!(r["currencies"], json!(["USD"]));
    assert_eq!(r["totals"]["payments_after_notice_cents"], json!(14000));
    assert_eq!(r["totals"]["payments_after_notice_cents_by_currency"], json!({"USD": 14000}));
    // P2 bills in Canadian dollars: no single money total any more.
    env.db.execute("UPDATE properties SET currency = 'CAD' WHERE property_id = 'P2'", &[]).unwrap();
    let r = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10");
    assert_eq!(r["currencies"], json!(["CAD", "USD"]));
    assert_eq!(r["totals"]["payments_after_notice_cents"], json!(null), "{r}");
    assert_eq!(r["totals"]["payments_after_notice_cents_by_currency"], json!({"USD": 10000, "CAD": 4000}));
    assert_eq!(r["totals"]["payments_after_notice"], json!(2), "counts still add up");
    let p2 = r["properties"].as_array().unwrap().iter().find(|p| p["property_id"] == json!("P2")).unwrap();
    assert_eq!((p2["currency"].clone(), p2["payments_after_notice_cents"].clone()), (json!("CAD"), json!(4000)));
    assert_eq!(p2["payments_after_notice_cents_by_currency"], json!({"CAD": 4000}));
    // One property alone is one currency again.
    let only = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10&property_id=P2");
    assert_eq!(only["totals"]["payments_after_notice_cents"], json!(4000));
    // CSV: the ALL row leaves the money cell empty; a totals row per currency.
    let csv = String::from_utf8(env.get("/api/reports?from=2024-03-01&to=2024-03-10&format=csv").body).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let col = |name: &str| rentmsg::staff::reports::CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let row = |id: &str| rows.iter().find(|r| r[0] == id).unwrap_or_else(|| panic!("no {id} row in {csv}"));
    assert_eq!(row("ALL")[col("payments_after_notice_cents")], "", "{csv}");
    assert_eq!((row("ALL-CAD")[col("payments_after_notice_cents")], row("ALL-CAD")[col("currency")]), ("4000", "CAD"));
    assert_eq!(row("ALL-USD")[col("payments_after_notice_cents")], "10000");
    assert_eq!(row("P2")[col("currency")], "CAD");
}

#[test]
fn a_supplemental_from_a_template_is_in_the_tenants_language() {
    let env = Env::new();
    env.seed();
    env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease"}));
    let r = env.send("PATCH", "/api/tenants/T1", Some("application/json"), json!({"language": "es"}).to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.body_json());
    let r = post(&env, "/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "balance_reminder", "template_stage": 1}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    let spanish = rentmsg::notices::templates::get_in(&env.db, 1, rentmsg::base::channel::Channel::Text, rentmsg::base::locale::Language::Es).unwrap().unwrap();
    assert_eq!(r.body_json()["custom_body"], json!(spanish.body), "{}", r.body_json());
}
