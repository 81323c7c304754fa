//! The overdue scan and outbound sending through the local host, with fake
//! Twilio and Postmark servers on 127.0.0.1 that check credentials and
//! fields and record what they get. Cron ticks run as `spin-host cron`, the
//! routes over HTTP.
//!
//! The components read the real clock, so the portfolio is placed in a
//! time zone where it is midday now (`Etc/GMT±N`), with UK mobile numbers
//! (no area-code zones), and Sundays are allowed in the schedule.

use e2e::{json, App, FakeServer, Json, Recorded};
use rentmsg::base::db::{Db, NativeDb};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const SID: &str = "AC00000000000000000000000000000001";
const SMS_TOKEN: &str = "e2e-sms-auth-token";
const EMAIL_TOKEN: &str = "e2e-postmark-server-token";

fn twilio() -> FakeServer {
    let n = Arc::new(AtomicUsize::new(0));
    FakeServer::start(move |r: &Recorded| twilio_answer(r, &n))
}

fn twilio_answer(r: &Recorded, n: &AtomicUsize) -> e2e::Reply {
    use base64::Engine as _;
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{SMS_TOKEN}")));
    if r.header("authorization") != Some(basic.as_str()) {
        return (401, "application/json".into(), r#"{"code":20003,"message":"Authenticate","status":401}"#.into());
    }
    if r.method != "POST" || r.url != format!("/2010-04-01/Accounts/{SID}/Messages.json") {
        return (404, "application/json".into(), r#"{"code":20404,"message":"Not found"}"#.into());
    }
    let (to, from, body) = (r.form_field("To"), r.form_field("From"), r.form_field("Body"));
    if to.as_deref().is_none_or(|t| !t.starts_with('+')) || from.as_deref() != Some("+15005550006") || body.as_deref().is_none_or(str::is_empty) {
        return (400, "application/json".into(), r#"{"code":21602,"message":"Message body is required."}"#.into());
    }
    let i = n.fetch_add(1, Ordering::SeqCst) + 1;
    (201, "application/json".into(), format!(r#"{{"sid":"SM{i:032}","status":"queued"}}"#))
}

fn postmark() -> FakeServer {
    let n = Arc::new(AtomicUsize::new(0));
    FakeServer::start(move |r: &Recorded| {
        if r.header("x-postmark-server-token") != Some(EMAIL_TOKEN) {
            return (401, "application/json".into(), r#"{"ErrorCode":10,"Message":"Bad or missing Server API token."}"#.into());
        }
        let j = r.json();
        let ok = r.url == "/email"
            && j["From"] == "billing@maple.example"
            && j["To"].as_str().is_some_and(|t| t.contains('@'))
            && j["Subject"].as_str().is_some_and(|s| !s.is_empty())
            && j["TextBody"].as_str().is_some_and(|s| !s.is_empty());
        if !ok {
            return (422, "application/json".into(), r#"{"ErrorCode":300,"Message":"Invalid email request"}"#.into());
        }
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        (200, "application/json".into(), format!(r#"{{"To":"x","MessageID":"pm-{i}","ErrorCode":0,"Message":"OK"}}"#))
    })
}

fn start(sms: &FakeServer, email: &FakeServer) -> App {
    App::builder()
        .variable("public_base_url", "http://rent.example")
        .variable("sms_api_base", sms.base.as_str())
        .variable("sms_account_sid", SID)
        .variable("sms_auth_token", SMS_TOKEN)
        .variable("sms_from", "+15005550006")
        .variable("email_api_base", email.base.as_str())
        .variable("email_api_token", EMAIL_TOKEN)
        .variable("email_from", "billing@maple.example")
        .variable("send_rate_per_minute", "1200")
        .start()
}

/// Load a portfolio whose oldest charge was due 12 days ago (stage 3).
fn load(app: &App, tenants: &[(&str, &str, &str, &str)]) {
    let noon = e2e::zone_at_local_hour(12);
    let (s, b) = app.import(
        "properties",
        &format!("property_id,name,time_zone,state,country\nP1,Maple Court,{noon},,GB\n"),
    );
    assert_eq!(s, 200, "{b}");
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    for (id, mobile, email, zone) in tenants {
        csv.push_str(&format!("{id},P1,Tenant {id},U-{id},{mobile},,,{email},,,GB,{zone},\n"));
        ledger.push_str(&format!("{id},{due},{due},charge,950.00,RENT-{id}\n"));
    }
    let (s, b) = app.import("tenants", &csv);
    assert_eq!((s, b["rejected"].clone()), (200, json!([])), "{b}");
    let (s, b) = app.import("ledger", &ledger);
    assert_eq!((s, b["rejected"].clone()), (200, json!([])), "{b}");
    // Sundays allowed: the test may run on one.
    let (s, mut schedule) = app.staff_get("/api/notice-schedule");
    assert_eq!(s, 200);
    schedule["skip_sundays"] = json!(false);
    let (s, b) = app.staff_put("/api/notice-schedule", &schedule);
    assert_eq!(s, 200, "{b}");
}

fn opt_in(app: &App, tenant: &str) {
    let (s, b) = app.staff_put(&format!("/api/tenants/{tenant}/consent"), &json!({"status": "opted_in", "evidence": "lease section 12"}));
    assert_eq!(s, 200, "{b}");
}

fn outbox(app: &App) -> Vec<Json> {
    let (s, b) = app.staff_get("/api/outbox?limit=1000");
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Json], tenant: &str, channel: &str) -> &'a Json {
    rows.iter()
        .find(|r| r["tenant_id"] == tenant && r["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} row for {tenant} in {rows:#?}"))
}

fn rules(r: &Json) -> Vec<String> {
    r["reasons"].as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap().to_owned()).collect()
}

fn cron_ok(app: &App, component: &str) {
    let out = app.cron(component);
    assert!(out.status.success(), "{component}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn portfolio_to_notices_through_the_cron_triggers() {
    let sms = twilio();
    let email = postmark();
    let app = start(&sms, &email);
    let night = e2e::zone_at_local_hour(3);
    load(
        &app,
        &[
            ("ok", "07911 123101", "ok@example.com", ""),
            ("optout", "07911 123102", "", ""),
            ("bankrupt", "07911 123103", "", ""),
            ("stopped", "07911 123104", "", ""),
            ("limit", "07911 123105", "", ""),
            ("night", "07911 123106", "", night.as_str()),
        ],
    );
    for t in ["ok", "bankrupt", "stopped", "limit", "night"] {
        opt_in(&app, t);
    }
    let (s, b) = app.staff_put("/api/tenants/bankrupt/exclusions", &json!({"bankruptcy": {"on": true, "reason": "chapter 7"}}));
    assert_eq!(s, 200, "{b}");
    // The stopped tenant texted STOP (a signed webhook, as Twilio sends it).
    let fields = e2e::twilio::inbound_sms("SMstop0000000000000000000000000001", "+447911123104", "+15005550006", "STOP");
    let url = "http://rent.example/webhooks/sms";
    let signature = e2e::twilio::signature(SMS_TOKEN, url, &fields);
    let resp = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(e2e::twilio::form_body(&fields))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap_or_default());
    // Over the limit: a staff control allows one text a week to region LM,
    // and "limit" (moved to LM) had one yesterday.
    let (s, b) = app.staff_post(
        "/api/contact-controls",
        &json!({"key": "e2e-limit", "channel": "text", "state": "LM", "country": "GB", "max_contacts": 1, "period_days": 7, "description": "one text a week"}),
    );
    assert_eq!(s, 201, "{b}");
    {
        let db = NativeDb::open(app.state_dir.join("sqlite_db.db")).unwrap();
        db.execute("UPDATE tenants SET state = 'LM' WHERE tenant_id = 'limit'", &[]).unwrap();
        let yesterday = rentmsg::base::time::timestamp(chrono::Utc::now() - chrono::Duration::days(1));
        db.execute(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at) VALUES ('limit', 'text', 'outbound', '+447911123105', 'earlier', 'delivered', ?)",
            &[yesterday.into()],
        )
        .unwrap();
    }

    // The scan's cron tick queues and decides.
    cron_ok(&app, "overdue-scan");
    let rows = outbox(&app);
    assert_eq!(row(&rows, "ok", "text")["state"], "queued", "{rows:#?}");
    assert_eq!(row(&rows, "ok", "text")["stage"], 3);
    assert_eq!(row(&rows, "ok", "email")["state"], "queued");
    // What stops each of the others, and whether it is for good or for now:
    // no consent, a bankruptcy and a STOP block until someone changes them;
    // the frequency limit (one text a week, one sent yesterday) frees up in
    // six days and the night ends in the morning, so those two wait.
    let expect_not_queued = [
        ("optout", "blocked", "consent"),
        ("bankrupt", "blocked", "exclusion.bankruptcy"),
        ("stopped", "blocked", "exclusion.number_by_customer"),
        ("limit", "deferred", "frequency:e2e-limit"),
        ("night", "deferred", "window:default-text"),
    ];
    for (tenant, state, rule) in expect_not_queued {
        let r = row(&rows, tenant, "text");
        assert_eq!(r["state"], state, "{tenant}: {r}");
        assert_eq!(rules(r), [rule], "{tenant}: exactly one rule stops it: {r}");
        assert!(r["state_reason"].as_str().is_some_and(|s| s.contains(rule)), "{tenant}: {r}");
    }
    // A second scan (through the HTTP route) queues nothing.
    let (s, report) = app.staff_post("/api/scan", &json!({}));
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["queued"], 0, "{report}");
    assert_eq!(outbox(&app).len(), rows.len());

    // The sender's cron tick sends exactly the allowed notices.
    cron_ok(&app, "outbound-send");
    let texts = sms.requests();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0].form_field("To").as_deref(), Some("+447911123101"));
    assert_eq!(texts[0].form_field("StatusCallback").as_deref(), Some("http://rent.example/webhooks/sms/status"));
    let body = texts[0].form_field("Body").unwrap();
    assert!(body.contains("Maple Court") && body.contains("$950.00") && body.contains("http://rent.example/pay/"), "{body}");
    assert!(body.ends_with("Reply STOP to opt out."), "{body}");
    let emails = email.requests();
    assert_eq!(emails.len(), 1);
    let j = emails[0].json();
    assert_eq!(j["To"], "ok@example.com");
    assert_eq!(j["Headers"][1], json!({"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"}));
    let list_unsub = j["Headers"][0]["Value"].as_str().unwrap();
    assert!(list_unsub.starts_with("<http://rent.example/unsubscribe/"), "{list_unsub}");

    // Logged on the tenant with the provider's id.
    let (_, contacts) = app.staff_get("/api/tenants/ok/contacts");
    let outbound: Vec<&Json> = contacts["contacts"].as_array().unwrap().iter().filter(|c| c["direction"] == "outbound").collect();
    assert_eq!(outbound.len(), 2, "{contacts}");
    let text = outbound.iter().find(|c| c["channel"] == "text").unwrap();
    assert_eq!(text["provider_id"], "SM00000000000000000000000000000001");
    assert_eq!(text["status"], "queued");
    assert_eq!(text["detail"]["stage"], 3);
    let rows = outbox(&app);
    assert_eq!(row(&rows, "ok", "text")["state"], "sent");

    // Another pass (HTTP route) sends nothing; nobody else got anything.
    let (s, report) = app.staff_post("/api/send", &json!({"max_seconds": 5}));
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["sent"], 0, "{report}");
    cron_ok(&app, "outbound-send");
    assert_eq!((sms.requests().len(), email.requests().len()), (1, 1));

    // One-click unsubscribe from the email's header.
    let path = list_unsub.trim_start_matches("<http://rent.example").trim_end_matches('>');
    let page = app.get(path);
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("<form method=\"post\""));
    let resp = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (_, tenant) = app.staff_get("/api/tenants/ok");
    let point = tenant["contact_points"].as_array().unwrap().iter().find(|p| p["kind"] == "email").unwrap().clone();
    assert_eq!(point["exclusions"]["by_customer"]["on"], true, "{point}");
    assert_eq!(app.get(&format!("{path}x")).status().as_u16(), 404);
    // From now on compliance blocks email to that address, for the
    // customer's own opt-out; the texts it did not opt out of stay allowed
    // (midday in the tenant's zone, opted in, no limit in region).
    let (s, d) = app.staff_post("/api/compliance/check", &json!({"tenant_id": "ok", "channel": "email"}));
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["decision"], "block", "{d}");
    assert_eq!(rules(&d), ["exclusion.number_by_customer"], "{d}");
    let (s, d) = app.staff_post("/api/compliance/check", &json!({"tenant_id": "ok", "channel": "text"}));
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["decision"], "allow", "an email unsubscribe leaves texts alone: {d}");

    // No phone numbers, emails or tokens in the logs of any process that
    // ran the app: the serving host and every `spin-host cron` run (the
    // texts and emails went out from those).
    let pay_token = body
        .split("http://rent.example/pay/")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .map(|t| t.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .unwrap();
    assert!(pay_token.len() >= 16, "a payment token in {body}");
    let unsubscribe_token = path.rsplit('/').next().unwrap();
    let cron_log = app.cron_log();
    assert!(
        cron_log.contains(r#""component":"outbound-send""#) && cron_log.contains(r#""component":"overdue-scan""#),
        "the cron runs' stderr was captured:\n{cron_log}"
    );
    let secrets = [
        "+447911123101",
        "7911123101",
        "07911 123101",
        "ok@example.com",
        pay_token,
        unsubscribe_token,
        SMS_TOKEN,
        EMAIL_TOKEN,
        e2e::STAFF_TOKEN,
        e2e::LINK_KEY,
    ];
    for (who, log) in [("the serving host", app.log()), ("the cron runs", cron_log)] {
        for secret in secrets {
            assert!(!log.contains(secret), "{who}' log shows {secret}:\n{log}");
        }
    }
}

/// Poll `done` every 20 ms until it holds; panic saying `what` if it still
/// does not after a minute (far longer than any step here takes).
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_crash_mid_send_and_provider_errors_send_nothing_twice() {
    // The first request gets a 500 at once. The second is held by the
    // provider, after telling the test it arrived, until the test lets it
    // go: so the test decides that the sender dies while the provider is
    // still handling (and will accept) the message. Any later one is
    // answered at once (and must never come).
    let calls = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (arrived_tx, arrived) = mpsc::channel::<usize>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (arrived_tx, release_rx) = (Mutex::new(arrived_tx), Mutex::new(release_rx));
    let (c, a) = (calls.clone(), accepted.clone());
    let n = Arc::new(AtomicUsize::new(0));
    let sms = FakeServer::start(move |r: &Recorded| {
        let call = c.fetch_add(1, Ordering::SeqCst) + 1;
        if call == 1 {
            return (500, "application/json".into(), r#"{"code":20500,"message":"Internal Server Error"}"#.into());
        }
        if call == 2 {
            let _ = arrived_tx.lock().expect("arrived").send(call);
            let released = release_rx.lock().expect("release").recv_timeout(Duration::from_secs(120));
            assert!(released.is_ok(), "the test never released the held request");
        }
        let reply = twilio_answer(r, &n);
        if reply.0 == 201 {
            a.fetch_add(1, Ordering::SeqCst);
        }
        reply
    });
    let email = postmark();
    let app = start(&sms, &email);
    load(&app, &[("crash", "07911 123201", "", "")]);
    opt_in(&app, "crash");
    cron_ok(&app, "overdue-scan");
    let db = NativeDb::open(app.state_dir.join("sqlite_db.db")).unwrap();
    let state = |db: &NativeDb| {
        db.execute("SELECT state FROM outbox WHERE tenant_id = 'crash' AND channel = 'text'", &[]).unwrap().first().unwrap().string("state").unwrap()
    };

    // 500: not taken, retried later with backoff (not in the same pass).
    cron_ok(&app, "outbound-send");
    assert_eq!((calls.load(Ordering::SeqCst), accepted.load(Ordering::SeqCst)), (1, 0));
    assert_eq!(state(&db), "queued");
    // Time passes: the backoff is over. This tick is killed while the
    // provider is handling (and will accept) the message.
    db.execute("UPDATE outbox SET not_before = '2000-01-01T00:00:00.000Z' WHERE tenant_id = 'crash'", &[]).unwrap();
    let mut child = app.cron_command("outbound-send").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let call = arrived.recv_timeout(Duration::from_secs(60)).expect("the second tick never called the provider");
    assert_eq!(call, 2);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the tick was killed, not finished: {status}");
    // Only now, with the sender gone, does the provider accept the message.
    release.send(()).unwrap();
    wait_for("the provider accepting the held message", || accepted.load(Ordering::SeqCst) == 1);
    assert_eq!(state(&db), "sending", "the crash left the intent, not a result");
    // Before the lease runs out nothing happens; after it, the row is
    // marked unknown and never sent again.
    cron_ok(&app, "outbound-send");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    db.execute("UPDATE outbox SET leased_until = '2000-01-01T00:00:00.000Z' WHERE tenant_id = 'crash'", &[]).unwrap();
    cron_ok(&app, "outbound-send");
    cron_ok(&app, "outbound-send");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "never re-sent");
    assert_eq!(state(&db), "unknown");
    let (_, contacts) = app.staff_get("/api/tenants/crash/contacts");
    let statuses: Vec<&str> = contacts["contacts"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["unknown", "failed"], "{contacts}");
}

#[test]
fn the_scan_and_send_routes_need_the_staff_token() {
    let sms = twilio();
    let email = postmark();
    let app = start(&sms, &email);
    for path in ["/api/scan", "/api/send"] {
        let r = app.client.post(app.url(path)).send().unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let r = app.client.post(app.url(path)).bearer_auth("wrong").send().unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let (s, _) = app.staff_get(path);
        assert_eq!(s, 405, "{path}");
    }
    let r = app.staff(reqwest::Method::POST, "/api/send").header("content-type", "application/json").body(r#"{"max_seconds": 0}"#).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = app.staff(reqwest::Method::POST, "/api/send").header("content-type", "text/plain").body("x").send().unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // Nothing due: an idle pass.
    let (s, report) = app.staff_post("/api/send", &json!({}));
    assert_eq!((s, report["stopped"].as_str()), (200, Some("idle")), "{report}");
}
