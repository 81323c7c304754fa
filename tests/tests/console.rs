//! The staff console end to end through the real host: the page and its
//! assets (strict CSP, no external assets), the call list, call recording,
//! supplemental messages and reports through the staff-console component
//! (compliance through the composed component). The browser test is in
//! `console_browser.rs`.

mod console_seed;

use console_seed::{local_date, seed};
use e2e::{json, App};

#[test]
fn the_console_page_and_assets_are_served_with_a_strict_policy_and_no_data() {
    let app = App::start();
    for (path, ct) in [("/console", "text/html"), ("/console/app.js", "text/javascript"), ("/console/app.css", "text/css")] {
        let r = app.get(path);
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let headers = r.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(ct), "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let body = r.text().unwrap();
        assert!(!body.contains("https://") && !body.contains("http://"), "{path} refers to an external asset");
    }
    assert_eq!(app.get("/console/secret").status().as_u16(), 404);
    // The page carries no data and needs no token; the API still does.
    assert_eq!(app.get("/api/call-list").status().as_u16(), 401);
}

#[test]
fn call_list_and_call_recording_through_the_component() {
    let app = App::start();
    let (_, offset) = seed(&app);
    let (s, list) = app.staff_get("/api/call-list");
    assert_eq!(s, 200, "{list}");
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["tenant_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["C1", "C2"], "{list}");
    assert_eq!(list["items"][0]["callable"], json!(true), "{list}");
    // A right-party contact with a promise: recorded, counted, paused.
    let date = local_date(offset, 3);
    let (s, call) = app.staff_post(
        "/api/tenants/C1/calls",
        &json!({"result_code": 101, "notes": "Will pay on the 3rd", "promise": {"date": date, "amount_cents": 25000}}),
    );
    assert_eq!(s, 201, "{call}");
    assert_eq!(call["classification"]["right_party_contact"], json!(true));
    assert_eq!(call["promise"]["status"], json!("active"));
    let (_, list) = app.staff_get("/api/call-list");
    let c1 = list["items"].as_array().unwrap().iter().find(|i| i["tenant_id"] == json!("C1")).unwrap();
    assert_eq!(c1["callable"], json!(false), "{c1}");
    let rules: Vec<&str> = c1["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.iter().any(|r| r.starts_with("hold_for:")) && rules.contains(&"promise_to_pay"), "{rules:?}");
    // Calling again now is refused without an override, recorded with one.
    let (s, refused) = app.staff_post("/api/tenants/C1/calls", &json!({"result_code": 108}));
    assert_eq!(s, 409, "{refused}");
    let (s, over) = app.staff_post("/api/tenants/C1/calls", &json!({"result_code": 108, "override_reason": "Asked for a call back"}));
    assert_eq!(s, 201, "{over}");
    let (_, audit) = app.staff_get("/api/audit?tenant_id=C1");
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == json!("call.override")), "{audit}");
    // A supplemental message to an opted-in tenant, sent by the next pass.
    let (s, r) = app.staff_put("/api/tenants/C2/consent", &json!({"status": "opted_in", "evidence": "lease"}));
    assert_eq!(s, 200, "{r}");
    let (s, row) = app.staff_post("/api/tenants/C2/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Hi {{ tenant_name }}, {{ balance }} is past due."}));
    assert_eq!(s, 201, "{row}");
    assert_eq!(row["state"], json!("queued"), "{row}");
    // Reports as CSV through the component.
    let r = app.staff(reqwest::Method::GET, "/api/reports").header("accept", "text/csv").send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = r.text().unwrap();
    assert!(text.lines().nth(1).unwrap().starts_with("P1,Harbor Storage,"), "{text}");
    let svg = app.staff(reqwest::Method::GET, "/api/reports/chart.svg").send().unwrap();
    assert_eq!(svg.status().as_u16(), 200);
    assert!(svg.text().unwrap().contains("<svg"));
}

