//! Payment links end to end through the local host: a notice texted by the
//! real send pass carries the link; headless Chromium (phone-sized, with
//! JavaScript off) opens it as the tenant would, pays through a fake
//! Stripe-compatible server the test starts, and the signed webhook
//! (sent twice) puts the payment on the ledger once and cancels the
//! waiting notices. A promise made on the page pauses the next scan's
//! notices; once missed it is marked broken and the notices resume.
//!
//! The components read the real clock, so the portfolio is placed in a
//! time zone where it is midday now (as in scan_send.rs).

use e2e::browser::Browser;
use e2e::{json, App, FakeServer, Json, Recorded};
use rentmsg::base::db::{Db, NativeDb};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SID: &str = "AC00000000000000000000000000000001";
const SMS_TOKEN: &str = "e2e-sms-auth-token";
const STRIPE_KEY: &str = "sk_test_e2e_51Hx";
const WEBHOOK_SECRET: &str = "whsec_e2e_payments";
/// What the links point at; the tests open the same paths on the host.
const PUBLIC: &str = "http://rent.example";

fn twilio() -> FakeServer {
    let n = Arc::new(Mutex::new(0));
    FakeServer::start(move |r: &Recorded| {
        use base64::Engine as _;
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{SMS_TOKEN}")));
        if r.header("authorization") != Some(basic.as_str()) || r.url != format!("/2010-04-01/Accounts/{SID}/Messages.json") {
            return (401, "application/json".into(), r#"{"code":20003,"message":"Authenticate"}"#.into());
        }
        let mut i = n.lock().unwrap();
        *i += 1;
        (201, "application/json".into(), format!(r#"{{"sid":"SM{:032}","status":"queued"}}"#, *i))
    })
}

/// A Stripe-compatible checkout API: checks the key, the form fields and
/// the idempotency key (same key, same session), and serves the hosted
/// checkout page the payer lands on.
fn stripe() -> FakeServer {
    let sessions: Arc<Mutex<HashMap<String, String>>> = Arc::new(Mutex::new(HashMap::new()));
    let own_base = Arc::new(Mutex::new(String::new()));
    let base_for_handler = own_base.clone();
    let server = FakeServer::start(move |r: &Recorded| {
        if r.method == "GET" && r.url.starts_with("/c/cs_test_") {
            let page = format!(
                r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Fake checkout</title></head><body><h1>Fake checkout</h1><p>{}</p></body></html>"#,
                &r.url[3..]
            );
            return (200, "text/html; charset=utf-8".into(), page);
        }
        if r.header("authorization") != Some(&format!("Bearer {STRIPE_KEY}")) {
            return (401, "application/json".into(), r#"{"error":{"message":"Invalid API Key provided","type":"invalid_request_error"}}"#.into());
        }
        if r.method != "POST" || r.url != "/v1/checkout/sessions" {
            return (404, "application/json".into(), r#"{"error":{"message":"Unrecognized request URL"}}"#.into());
        }
        let Some(key) = r.header("idempotency-key").map(str::to_owned) else {
            return (400, "application/json".into(), r#"{"error":{"message":"an Idempotency-Key is required by this fake"}}"#.into());
        };
        let f = |k: &str| r.form_field(k).unwrap_or_default();
        let amount_ok = f("line_items[0][price_data][unit_amount]").parse::<i64>().is_ok_and(|a| a > 0);
        let ok = r.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
            && f("mode") == "payment"
            && f("line_items[0][price_data][currency]") == "usd"
            && amount_ok
            && !f("line_items[0][price_data][product_data][name]").is_empty()
            && f("line_items[0][quantity]") == "1"
            && f("success_url").starts_with(&format!("{PUBLIC}/pay/"))
            && f("success_url").ends_with("?paid=1")
            && f("cancel_url").starts_with(&format!("{PUBLIC}/pay/"))
            && !f("client_reference_id").is_empty()
            && f("metadata[tenant_id]") == f("client_reference_id")
            && f("metadata[notice_id]").parse::<i64>().is_ok();
        if !ok {
            return (400, "application/json".into(), r#"{"error":{"message":"Missing required param"}}"#.into());
        }
        let mut s = sessions.lock().unwrap();
        let n = s.len() + 1;
        let id = s.entry(key).or_insert_with(|| format!("cs_test_{n:04}")).clone();
        let base = base_for_handler.lock().unwrap().clone();
        (200, "application/json".into(), json!({ "id": id, "object": "checkout.session", "url": format!("{base}/c/{id}") }).to_string())
    });
    *own_base.lock().unwrap() = server.base.clone();
    server
}

fn start(sms: &FakeServer, pay: &FakeServer) -> App {
    App::builder()
        .variable("public_base_url", PUBLIC)
        .variable("sms_api_base", sms.base.as_str())
        .variable("sms_account_sid", SID)
        .variable("sms_auth_token", SMS_TOKEN)
        .variable("sms_from", "+15005550006")
        .variable("payments_api_base", pay.base.as_str())
        .variable("payments_secret_key", STRIPE_KEY)
        .variable("payments_webhook_secret", WEBHOOK_SECRET)
        .variable("send_rate_per_minute", "1200")
        .start()
}

/// Tenants (id, mobile, email) owing $950.00 due 12 days ago (stage 3),
/// opted in. Email is not configured, so their email notices wait queued.
fn load(app: &App, tenants: &[(&str, &str, &str)]) {
    let noon = e2e::zone_at_local_hour(12);
    let (s, b) = app.import("properties", &format!("property_id,name,time_zone,state,country\nP1,Maple Court,{noon},,GB\n"));
    assert_eq!(s, 200, "{b}");
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    for (id, mobile, email) in tenants {
        csv.push_str(&format!("{id},P1,Tenant {id},U-{id},{mobile},,,{email},,,GB,,\n"));
        ledger.push_str(&format!("{id},{due},{due},charge,950.00,RENT-{id}\n"));
    }
    let (s, b) = app.import("tenants", &csv);
    assert_eq!((s, b["rejected"].clone()), (200, json!([])), "{b}");
    let (s, b) = app.import("ledger", &ledger);
    assert_eq!((s, b["rejected"].clone()), (200, json!([])), "{b}");
    let (s, mut schedule) = app.staff_get("/api/notice-schedule");
    assert_eq!(s, 200);
    schedule["skip_sundays"] = json!(false);
    let (s, b) = app.staff_put("/api/notice-schedule", &schedule);
    assert_eq!(s, 200, "{b}");
    for (id, _, _) in tenants {
        let (s, b) = app.staff_put(&format!("/api/tenants/{id}/consent"), &json!({"status": "opted_in", "evidence": "lease section 12"}));
        assert_eq!(s, 200, "{b}");
    }
}

fn cron_ok(app: &App, component: &str) {
    let out = app.cron(component);
    assert!(out.status.success(), "{component}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Scan and send; the link path (`/pay/<token>`) texted to each number.
fn notices_sent(app: &App, sms: &FakeServer) -> HashMap<String, String> {
    cron_ok(app, "overdue-scan");
    cron_ok(app, "outbound-send");
    let mut links = HashMap::new();
    for r in sms.requests() {
        let body = r.form_field("Body").unwrap();
        let start = body.find(&format!("{PUBLIC}/pay/")).unwrap_or_else(|| panic!("no link in {body}"));
        let url: String = body[start..].chars().take_while(|c| !c.is_whitespace()).collect();
        links.insert(r.form_field("To").unwrap(), url.trim_start_matches(PUBLIC).to_owned());
    }
    links
}

fn db(app: &App) -> NativeDb {
    NativeDb::open(app.state_dir.join("sqlite_db.db")).unwrap()
}

fn count(db: &dyn Db, sql: &str) -> i64 {
    db.execute(sql, &[]).unwrap().first().unwrap().i64("n").unwrap()
}

fn contacts(app: &App, tenant: &str) -> Vec<Json> {
    let (s, b) = app.staff_get(&format!("/api/tenants/{tenant}/contacts"));
    assert_eq!(s, 200, "{b}");
    b["contacts"].as_array().unwrap().clone()
}

fn post_webhook(app: &App, body: &str, header: &str) -> (u16, String) {
    let r = app
        .client
        .post(app.url("/webhooks/payments"))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body.to_owned())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn browser() -> Browser {
    let mut b = Browser::launch().expect("headless Chromium is required for the payment page tests");
    b.phone_viewport().unwrap();
    // The page must work without JavaScript.
    b.javascript(false).unwrap();
    b
}

#[test]
fn a_tenant_opens_the_texted_link_on_a_phone_and_pays_once() {
    let sms = twilio();
    let pay = stripe();
    let app = start(&sms, &pay);
    load(&app, &[("ann", "07911 123101", "ann@example.com")]);
    let links = notices_sent(&app, &sms);
    let link = links["+447911123101"].clone();
    let db = db(&app);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE tenant_id = 'ann' AND channel = 'email' AND state = 'queued'"), 1, "the email waits");

    // What a person sees on a phone.
    let mut b = browser();
    b.open(&app.url(&link)).unwrap();
    assert_eq!(b.last_document_status(), Some(200));
    let text = b.text().unwrap();
    for needle in ["Maple Court", "Account of Tenant ann, unit U-ann", "Balance due", "$950.00", "12 days past due", "How the balance is made up", "(overdue)", "Pay $950.00", "Promise to pay", "Date you will pay", "Amount (optional)"] {
        assert!(text.contains(needle), "the page lacks {needle:?}:\n{text}");
    }
    assert!(b.visible("button.pay").unwrap(), "the Pay button is on screen");
    assert!(b.visible("#promise-date").unwrap());
    let width = b.eval("document.documentElement.scrollWidth").unwrap().as_i64().unwrap();
    assert!(width <= 390, "no sideways scrolling on a phone ({width}px)");
    b.screenshot("payment-page-phone").unwrap();
    assert!(b.console_errors().is_empty(), "{:?}", b.console_errors());

    // Pay: a checkout session for the balance, then the provider's page.
    b.click_and_wait("button.pay").unwrap();
    let landed = b.url().unwrap();
    assert!(landed.starts_with(&format!("{}/c/cs_test_", pay.base)), "{landed}");
    assert!(b.text().unwrap().contains("Fake checkout"));
    let created: Vec<Recorded> = pay.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(created.len(), 1);
    let req = &created[0];
    assert_eq!(req.form_field("line_items[0][price_data][unit_amount]").as_deref(), Some("95000"));
    assert_eq!(req.form_field("client_reference_id").as_deref(), Some("ann"));
    assert_eq!(req.form_field("success_url"), Some(format!("{PUBLIC}{link}?paid=1")));
    let session = landed.rsplit('/').next().unwrap().to_owned();
    let notice = req.form_field("metadata[notice_id]").unwrap();
    // Nothing is settled by the redirect.
    assert_eq!(count(&db, "SELECT count(*) AS n FROM ledger_entries WHERE source = 'payments'"), 0);

    // The provider's signed webhook, twice (a retry): on the ledger once.
    let event = e2e::stripe::session_event("evt_e2e_1", "checkout.session.completed", &session, 95_000, "paid", "ann", &notice);
    let now = chrono::Utc::now().timestamp();
    let (s, bad) = post_webhook(&app, &event, &e2e::stripe::signature_header("whsec_wrong", now, &event));
    assert_eq!(s, 400, "{bad}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM payment_events"), 0);
    let (s, first) = post_webhook(&app, &event, &e2e::stripe::signature_header(WEBHOOK_SECRET, now, &event));
    assert_eq!(s, 200, "{first}");
    assert!(first.contains(r#""effect":"recorded""#), "{first}");
    let (s, again) = post_webhook(&app, &event, &e2e::stripe::signature_header(WEBHOOK_SECRET, now + 5, &event));
    assert_eq!(s, 200, "{again}");
    assert!(again.contains(r#""effect":"duplicate""#), "{again}");
    let other = json!({"id": "evt_e2e_9", "type": "payment_intent.created", "data": {"object": {"id": "pi_1"}}}).to_string();
    let (s, ignored) = post_webhook(&app, &other, &e2e::stripe::signature_header(WEBHOOK_SECRET, now, &other));
    assert_eq!((s, ignored.contains("ignored")), (200, true), "{ignored}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM ledger_entries WHERE tenant_id = 'ann' AND source = 'payments' AND kind = 'payment' AND amount_cents = 95000"), 1);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE tenant_id = 'ann' AND state IN ('queued', 'deferred', 'pending')"), 0, "waiting notices cancelled");
    // The contact log shows the open and the payment.
    let log = contacts(&app, "ann");
    assert_eq!(log.iter().filter(|c| c["status"] == "link_opened").count(), 1, "{log:#?}");
    let paid: Vec<&Json> = log.iter().filter(|c| c["status"] == "payment").collect();
    assert_eq!(paid.len(), 1, "{log:#?}");
    assert_eq!(paid[0]["body"], "Online payment of $950.00 received");

    // Back on the page: settled, no forms.
    b.open(&app.url(&format!("{link}?paid=1"))).unwrap();
    let text = b.text().unwrap();
    assert!(text.contains("Your balance is settled") && text.contains("your payment has been received"), "{text}");
    assert!(!b.visible("button.pay").unwrap());
    b.screenshot("payment-page-settled").unwrap();
    assert!(b.console_errors().is_empty(), "{:?}", b.console_errors());
    // The log carries no token or phone number.
    let log = app.log();
    assert!(log.contains(r#""component":"payment-link""#));
    assert!(!log.contains(link.trim_start_matches("/pay/")) && !log.contains("+447911123101"), "{log}");
}

#[test]
fn stop_status_and_bad_links_in_the_browser() {
    let sms = twilio();
    let pay = stripe();
    let app = start(&sms, &pay);
    load(&app, &[("sal", "07911 123108", "")]);
    let links = notices_sent(&app, &sms);
    let link = links["+447911123108"].clone();
    // The AR system's stop file arrives.
    let (s, b) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status\n\
         sal,P1,Tenant sal,U-sal,07911 123108,,,,,,GB,,,stop\n",
    );
    assert_eq!(s, 200, "{b}");
    let mut b = browser();
    b.open(&app.url(&link)).unwrap();
    let text = b.text().unwrap();
    assert!(text.contains("Online payment is not accepted for this account"), "{text}");
    assert!(text.contains("Please call the Maple Court office"), "{text}");
    assert!(text.contains("$950.00"));
    assert!(!b.visible("button.pay").unwrap() && !b.visible("#promise-date").unwrap());
    b.screenshot("payment-page-stop").unwrap();
    assert!(b.console_errors().is_empty(), "{:?}", b.console_errors());
    // A tampered link: the same plain page as any bad link.
    let mut tampered = link.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    b.open(&app.url(&tampered)).unwrap();
    assert_eq!(b.last_document_status(), Some(404));
    assert!(b.text().unwrap().contains("This payment link is not valid or has expired"));
    let unknown = app.get("/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(unknown.status().as_u16(), 404);
    let r = app.client.post(app.url(&format!("{link}/checkout"))).send().unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert!(pay.requests().is_empty(), "no checkout for a stopped account");
}

#[test]
fn a_promise_pauses_the_notices_until_it_is_missed() {
    let sms = twilio();
    let pay = stripe();
    let app = start(&sms, &pay);
    load(&app, &[("pat", "07911 123105", "pat@example.com")]);
    let links = notices_sent(&app, &sms);
    let link = links["+447911123105"].clone();
    let db = db(&app);
    let mut b = browser();
    b.open(&app.url(&link)).unwrap();
    let min = b.eval("document.querySelector('#promise-date').min").unwrap().as_str().unwrap().to_owned();
    let date = (chrono::NaiveDate::parse_from_str(&min, "%Y-%m-%d").unwrap() + chrono::Duration::days(3)).format("%Y-%m-%d").to_string();
    b.set_value("#promise-date", &date).unwrap();
    b.type_into("#promise-amount", "400").unwrap();
    b.click_and_wait("button.secondary").unwrap();
    assert!(b.url().unwrap().ends_with("?promised=1"), "{}\n{}", b.url().unwrap(), b.text().unwrap());
    let text = b.text().unwrap();
    assert!(text.contains("your promise to pay is recorded") && text.contains("You promised to pay $400.00 by"), "{text}");
    b.screenshot("payment-page-promised").unwrap();
    assert!(b.console_errors().is_empty(), "{:?}", b.console_errors());
    // Recorded on the tenant and in the contact log; the waiting email is cancelled.
    let p = db.execute("SELECT status, source, amount_cents, promised_date FROM promises WHERE tenant_id = 'pat'", &[]).unwrap();
    let p = p.first().unwrap();
    assert_eq!((p.str("status").unwrap(), p.str("source").unwrap(), p.i64("amount_cents").unwrap(), p.str("promised_date").unwrap()), ("active", "link", 40_000, date.as_str()));
    let log = contacts(&app, "pat");
    assert!(log.iter().any(|c| c["status"] == "promise" && c["body"] == format!("Promise to pay $400.00 by {date}")), "{log:#?}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE tenant_id = 'pat' AND state IN ('queued', 'deferred', 'pending')"), 0);

    // Staff move stage 4 to 11 days: due now, but the promise pauses it.
    let (_, mut schedule) = app.staff_get("/api/notice-schedule");
    schedule["stages"][3]["days_past_due"] = json!(11);
    let (s, body) = app.staff_put("/api/notice-schedule", &schedule);
    assert_eq!(s, 200, "{body}");
    let (s, report) = app.staff_post("/api/scan", &json!({}));
    assert_eq!(s, 200, "{report}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE tenant_id = 'pat' AND stage = 4"), 0, "{report}");

    // The promised date passes unpaid (the clock cannot wait days: the
    // promise and its pause are moved to yesterday).
    let yesterday = rentmsg::base::time::timestamp(chrono::Utc::now() - chrono::Duration::days(1));
    db.execute("UPDATE promises SET due_at = ? WHERE tenant_id = 'pat'", &[yesterday.as_str().into()]).unwrap();
    db.execute("UPDATE notice_pauses SET paused_until = ? WHERE tenant_id = 'pat'", &[yesterday.as_str().into()]).unwrap();
    let (s, report) = app.staff_post("/api/scan", &json!({}));
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["promises_broken"], 1, "{report}");
    let status = db.execute("SELECT status FROM promises WHERE tenant_id = 'pat'", &[]).unwrap();
    assert_eq!(status.first().unwrap().str("status").unwrap(), "broken");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE tenant_id = 'pat' AND stage = 4 AND state IN ('queued', 'deferred')"), 2, "notices resume");
    // The page no longer shows the promise.
    b.open(&app.url(&link)).unwrap();
    assert!(!b.text().unwrap().contains("You promised"));
}
