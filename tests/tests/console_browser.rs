//! The staff console in a headless Chromium (Debian's `chromium`, installed
//! by `.ci/run`) driving real clicks: sign in with a personal account (the
//! session cookie, nothing in web storage), open the call list, record a
//! call with a promise, see it in the history, see the report chart; a
//! collector scoped to one property sees only its tenants; a viewer finds
//! no write controls; an admin creates a user and sees the token once;
//! wrong passwords, then the lock-out message. Screenshots go to
//! `test-artifacts/` (gitignored). A missing browser fails the test.

mod console_seed;

use console_seed::{local_date, receive_text, seed};
use e2e::{json, App, Json};

const SMS_AUTH: &str = "e2e-console-sms-auth-3c9a";
const PUBLIC: &str = "https://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";

/// Create an account with the break-glass token; returns its API token.
fn create_user(app: &App, username: &str, display: &str, role: &str, properties: &[&str], password: &str) -> String {
    let body = json!({ "username": username, "display_name": display, "role": role, "property_ids": properties, "password": password });
    let (s, r) = app.staff_post("/api/staff-users", &body);
    assert_eq!(s, 201, "{r}");
    r["token"].as_str().unwrap().to_owned()
}

/// Sign in through the page and wait for the call list.
fn sign_in(b: &mut e2e::browser::Browser, username: &str, password: &str) {
    assert!(b.visible("#login-username").unwrap() && b.visible("#login-password").unwrap(), "the page asks who you are first");
    assert!(!b.visible("#nav").unwrap());
    b.type_into("#login-username", username).unwrap();
    b.type_into("#login-password", password).unwrap();
    b.click("#login-submit").unwrap();
    // Signing in lands on the start page; the call list is one click away.
    b.wait_for("the start page after signing in", "!document.getElementById('view-today').hidden && document.querySelector('#today-figures button') !== null");
    b.click("#nav-calls").unwrap();
    b.wait_for("the call list", "!document.getElementById('view-calls').hidden && document.getElementById('calls-summary').textContent.length > 0");
}

/// Nothing the page could leak: no web storage, the cookie out of script's reach.
fn assert_no_credential_in_the_page(b: &mut e2e::browser::Browser) {
    assert_eq!(b.eval("sessionStorage.length").unwrap(), json!(0));
    // localStorage holds the call-list filter only, never a credential.
    assert_eq!(b.eval("Object.keys(localStorage).filter((k) => k !== 'rentmsg.callFilter').length").unwrap(), json!(0));
    assert_eq!(b.eval("document.cookie").unwrap(), json!(""), "the session cookie is HttpOnly");
}

/// The page's errors, less the browser's notes of API answers the page
/// expects and handles (the 401 of the "still signed in?" probe on load, a
/// wrong password, a tenant outside the scope): exceptions, CSP violations
/// and failed asset loads still count.
fn page_errors(b: &mut e2e::browser::Browser) -> Vec<String> {
    b.console_errors()
        .into_iter()
        .filter(|e| !(e.starts_with("log: Failed to load resource: the server responded with a status of 4") && e.contains("/api/")))
        .collect()
}

#[test]
fn a_staff_member_works_the_call_list_in_a_real_browser() {
    let app = App::builder()
        .variable("sms_auth_token", SMS_AUTH)
        .variable("public_base_url", PUBLIC)
        .variable("sms_from", OUR_NUMBER)
        .start();
    let (_, offset) = seed(&app);
    // C1 texted a question (not a keyword): it waits in the inbox.
    receive_text(&app, SMS_AUTH, PUBLIC, "SM0001console", "+18885550134", OUR_NUMBER, "Can I pay half now and half next week?");
    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    // A tablet in landscape.
    b.viewport(1024, 768, true).unwrap();
    create_user(&app, "alice", "Alice Adams", "collector", &[], "alice-long-password-1");
    b.open(&app.url("/console")).unwrap();

    // Sign in as herself.
    sign_in(&mut b, "alice", "alice-long-password-1");
    b.wait_for("the call list", "document.querySelector('#calls-table tbody tr[data-tenant=\"C1\"]') !== null");
    let text = b.text().unwrap();
    assert!(text.contains("Alice Adams") && text.contains("Collector"), "{text}");
    assert!(text.contains("Casey Jones (C1)") && text.contains("Robin Lee (C2)"), "{text}");
    assert!(!text.contains("Dana Paid"), "a paid-up tenant is not on the call list");
    assert!(text.contains("Callable now"), "{text}");
    assert!(text.contains("$640.00"), "{text}");
    assert_no_credential_in_the_page(&mut b);
    b.screenshot("console-call-list").unwrap();

    // Open the tenant and record a call with a promise.
    b.click("#calls-table tr[data-tenant=\"C1\"] button").unwrap();
    b.wait_for("the tenant page", "!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('C1') && document.querySelectorAll('#call-result option').length > 10");
    assert!(b.text().unwrap().contains("A call is allowed now."));
    let date = local_date(offset, 3);
    b.set_value("#call-result", "101").unwrap();
    b.type_into("#call-notes", "Promised to pay on the 3rd").unwrap();
    b.click("#call-promise").unwrap();
    assert_eq!(b.eval("document.getElementById('call-promise').checked").unwrap(), json!(true));
    b.set_value("#call-promise-date", &date).unwrap();
    b.type_into("#call-promise-amount", "250.00").unwrap();
    b.click("#call-submit").unwrap();
    b.wait_for("the call in the history",
        "Array.from(document.querySelectorAll('#history-table tbody td')).some(td => td.textContent.includes('Promised to pay on the 3rd'))",
    );
    b.wait_for("the promise", "document.querySelector('#promises-table tbody tr') !== null");
    // The tables fill before the page has finished reloading the tenant; the status line comes last.
    b.wait_for("the call's confirmation", "document.getElementById('status').textContent.startsWith('Call recorded')");
    let text = b.text().unwrap();
    assert!(text.contains("Call recorded: Manual dial: right party contact, with a promise to pay."), "{text}");
    assert!(text.contains(&date) && text.contains("active") && text.contains("$250.00"), "{text}");
    // The hold-for now applies: the page says so.
    assert!(text.contains("Not callable now") && text.contains("hold_for:"), "{text}");
    b.screenshot("console-tenant-after-call").unwrap();

    // A supplemental message goes through compliance: C1 never opted in.
    b.set_value("#msg-purpose", "promise_follow_up").unwrap();
    b.type_into("#msg-body", "Thank you for the call, {{ tenant_name }}. Your balance is {{ balance }}.").unwrap();
    b.click("#msg-submit").unwrap();
    b.wait_for("the queued message", "document.getElementById('status').textContent.startsWith('Message ')");
    let status = b.eval("document.getElementById('status').textContent").unwrap();
    assert!(status.as_str().unwrap().contains("blocked (consent)"), "{status}");

    // What the page did is what the API holds, attributed to the person.
    let (_, contacts) = app.staff_get("/api/tenants/C1/contacts");
    let call = contacts["contacts"].as_array().unwrap().iter().find(|c| c["channel"] == json!("phone") && c["status"] == json!("completed")).unwrap();
    assert_eq!(call["detail"]["call_result"], json!(101));
    assert_eq!(call["detail"]["recorded_by"], json!("user:alice"));
    let (_, promises) = app.staff_get("/api/tenants/C1/promises");
    assert_eq!(promises["promises"][0]["source"], json!("call"));
    assert_eq!(promises["promises"][0]["amount_cents"], json!(25000));
    assert_eq!(promises["promises"][0]["created_by"], json!("user:alice"));

    // Back on the call list C1 is not callable, with the reasons and when.
    b.click("#nav-calls").unwrap();
    b.wait_for("the refreshed call list",
        "(() => { const r = document.querySelector('#calls-table tbody tr[data-tenant=\"C1\"]'); return r && r.textContent.includes('promise_to_pay'); })()",
    );
    assert!(b.text().unwrap().contains("callable from"));

    // Answer the reply: the inbox shows it; mark it handled.
    b.click("#nav-inbox").unwrap();
    b.wait_for("the reply in the inbox",
        "Array.from(document.querySelectorAll('#inbox-table tbody td')).some(td => td.textContent.includes('half next week'))",
    );
    b.screenshot("console-inbox").unwrap();
    b.click("#inbox-table .mark-handled").unwrap();
    b.wait_for("the handled reply to leave the open inbox", "document.querySelectorAll('#inbox-table tbody tr').length === 0");
    let (_, inbox) = app.staff_get("/api/inbox?status=handled");
    assert_eq!(inbox["messages"][0]["handled_by"], json!("user:alice"), "{inbox}");

    // The report chart renders from the server's SVG under the page's policy.
    b.click("#nav-reports").unwrap();
    b.wait_for("the report chart", "(() => { const i = document.getElementById('reports-chart'); return i && i.complete && i.naturalWidth > 0; })()");
    assert!(b.text().unwrap().contains("Harbor Storage (P1)"));
    b.screenshot("console-reports").unwrap();

    // Keyboard: the controls are real buttons and fields, reachable by Tab.
    let focusable = b
        .eval("Array.from(document.querySelectorAll('nav button, #view-reports button, #view-reports input')).every(e => e.tabIndex >= 0)")
        .unwrap();
    assert_eq!(focusable, json!(true));
    let errors = page_errors(&mut b);
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}

/// One more property with one overdue tenant, for scoped accounts.
fn seed_second_property(app: &App, zone: &str, offset: i64) {
    let (s, r) = app.import("properties", &format!("property_id,name,time_zone,state,country\nP2,Bayside Lockers,{zone},NY,US\n"));
    assert_eq!(s, 200, "{r}");
    let (s, r) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
         C4,P2,Pat Quinn,3,(855) 555-0177,,,,,,,,\n",
    );
    assert_eq!(s, 200, "{r}");
    let d10 = local_date(offset, -10);
    let (s, r) = app.import("ledger", &format!("tenant_id,date,due_date,kind,amount,reference\nC4,{d10},{d10},charge,300.00,R4\n"));
    assert_eq!(s, 200, "{r}");
}

#[test]
fn a_collector_scoped_to_one_property_sees_and_calls_only_its_tenants() {
    let app = App::start();
    let (zone, offset) = seed(&app);
    seed_second_property(&app, &zone, offset);
    create_user(&app, "cara", "Cara Collins", "collector", &["P2"], "cara-long-password-2");
    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    b.viewport(1024, 768, true).unwrap();
    b.open(&app.url("/console")).unwrap();
    sign_in(&mut b, "cara", "cara-long-password-2");
    b.wait_for("C4 on the call list", "document.querySelector('#calls-table tbody tr[data-tenant=\"C4\"]') !== null");
    let rows = b.eval("Array.from(document.querySelectorAll('#calls-table tbody tr')).map(r => r.dataset.tenant)").unwrap();
    assert_eq!(rows, json!(["C4"]), "only P2's tenants");
    let text = b.text().unwrap();
    assert!(!text.contains("Casey Jones") && !text.contains("Robin Lee"), "{text}");
    assert!(text.contains("Cara Collins") && text.contains("Collector") && text.contains("P2"), "{text}");
    // A collector records calls but runs no send pass and manages nobody.
    assert!(!b.visible("#msg-send-now").unwrap() && !b.visible("#nav-users").unwrap());
    assert_no_credential_in_the_page(&mut b);
    b.screenshot("console-collector-call-list").unwrap();

    b.click("#calls-table tr[data-tenant=\"C4\"] button").unwrap();
    b.wait_for("the tenant page", "!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('C4') && document.querySelectorAll('#call-result option').length > 10");
    assert!(b.visible("#call-submit").unwrap() && b.visible("#consent-submit").unwrap());
    assert!(!b.visible("#excl-submit").unwrap(), "tenant-wide exclusions are a manager's");
    b.set_value("#call-result", "101").unwrap();
    b.type_into("#call-notes", "Scoped collector call").unwrap();
    b.click("#call-submit").unwrap();
    b.wait_for("the call in the history",
        "Array.from(document.querySelectorAll('#history-table tbody td')).some(td => td.textContent.includes('Scoped collector call'))",
    );
    b.screenshot("console-collector-after-call").unwrap();
    let (_, contacts) = app.staff_get("/api/tenants/C4/contacts");
    let call = contacts["contacts"].as_array().unwrap().iter().find(|c| c["channel"] == json!("phone")).unwrap();
    assert_eq!(call["detail"]["recorded_by"], json!("user:cara"), "{call}");

    // Another property's tenant by id: as if it did not exist.
    b.type_into("#open-tenant-id", "C1").unwrap();
    b.click("#open-tenant button").unwrap();
    b.wait_for("the refusal", "document.getElementById('error').textContent.includes('not found')");

    // Sign out: back to the sign-in page, and the cookie no longer works.
    b.click("#sign-out").unwrap();
    b.wait_for("the sign-in page", "!document.getElementById('view-login').hidden && document.getElementById('nav').hidden");
    let me = b.eval("fetch('/api/me', {credentials: 'same-origin'}).then(r => r.status)").unwrap();
    assert_eq!(me, json!(401));
    let errors = page_errors(&mut b);
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}

#[test]
fn a_viewer_finds_no_write_controls() {
    let app = App::start();
    seed(&app);
    create_user(&app, "vic", "Vic Viewer", "viewer", &[], "vic-long-password-3");
    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    b.viewport(1024, 768, true).unwrap();
    b.open(&app.url("/console")).unwrap();
    sign_in(&mut b, "vic", "vic-long-password-3");
    b.wait_for("the call list", "document.querySelector('#calls-table tbody tr[data-tenant=\"C1\"]') !== null");
    assert!(b.text().unwrap().contains("Viewer"));
    assert!(!b.visible("#nav-users").unwrap());
    b.click("#calls-table tr[data-tenant=\"C1\"] button").unwrap();
    b.wait_for("the tenant page", "!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('C1')");
    b.wait_for("the ledger", "document.querySelector('#ledger-table tbody tr') !== null");
    for control in ["#call-form", "#call-submit", "#msg-form", "#msg-submit", "#msg-send-now", "#consent-form", "#excl-form", "#excl-submit"] {
        assert!(!b.visible(control).unwrap(), "a viewer sees {control}");
    }
    assert_eq!(b.eval("document.querySelectorAll('#points-table form, #points-table button').length").unwrap(), json!(0));
    // What a viewer reads is all there.
    let text = b.text().unwrap();
    assert!(text.contains("Ledger") && text.contains("$640.00") && text.contains("Contact points"), "{text}");
    b.screenshot("console-viewer-tenant").unwrap();
    b.click("#nav-inbox").unwrap();
    b.wait_for("the inbox", "!document.getElementById('view-inbox').hidden && document.getElementById('status').textContent === 'Inbox loaded.'");
    assert_eq!(b.eval("document.querySelectorAll('#inbox-table button.mark-handled, #inbox-table button.undo-opt-out').length").unwrap(), json!(0));
    // Every visible button is a read (navigation, filters, sign-out).
    let buttons = b.eval("Array.from(document.querySelectorAll('button')).filter(e => e.getClientRects().length > 0).map(e => e.textContent.trim())").unwrap();
    for label in buttons.as_array().unwrap() {
        let l = label.as_str().unwrap();
        assert!(["Today", "Call list", "Inbox", "Reports", "Open", "Refresh", "Sign out"].contains(&l), "a viewer sees the button {l:?}");
    }
    assert_no_credential_in_the_page(&mut b);
    let errors = page_errors(&mut b);
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}

#[test]
fn an_admin_creates_a_user_and_sees_the_token_once_and_wrong_passwords_lock_out() {
    let app = App::start();
    seed(&app);
    create_user(&app, "ada", "Ada Admin", "admin", &[], "ada-long-password-4");
    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    b.viewport(1024, 768, true).unwrap();
    b.open(&app.url("/console")).unwrap();

    // A wrong password says so, and nothing more.
    b.type_into("#login-username", "ada").unwrap();
    b.type_into("#login-password", "not-her-password").unwrap();
    b.click("#login-submit").unwrap();
    b.wait_for("the refusal", "document.getElementById('error').textContent === 'Wrong username or password.'");
    assert!(b.visible("#login-username").unwrap() && !b.visible("#nav").unwrap());

    sign_in(&mut b, "ada", "ada-long-password-4");
    assert!(b.visible("#nav-users").unwrap());
    b.click("#nav-users").unwrap();
    b.wait_for("the staff users", "document.querySelector('#users-table tbody tr[data-user=\"ada\"]') !== null");
    b.type_into("#user-new-username", "newbie").unwrap();
    b.type_into("#user-new-display", "New Person").unwrap();
    b.set_value("#user-new-role", "viewer").unwrap();
    b.type_into("#user-new-properties", "P1").unwrap();
    b.click("#user-new-submit").unwrap();
    b.wait_for("the new token", "!document.getElementById('users-secret').hidden && document.getElementById('users-secret-token').value.startsWith('rmsu_')");
    let token = b.eval("document.getElementById('users-secret-token').value").unwrap().as_str().unwrap().to_owned();
    assert!(b.text().unwrap().contains("shown once"));
    assert!(b.eval("document.querySelector('#users-table tbody tr[data-user=\"newbie\"]').textContent").unwrap().as_str().unwrap().contains("Viewer"));
    b.screenshot("console-admin-new-token").unwrap();
    // The token works for the new person...
    let me = app.client.get(app.url("/api/me")).bearer_auth(&token).send().unwrap();
    assert_eq!(me.status().as_u16(), 200);
    assert_eq!(me.json::<Json>().unwrap()["username"], json!("newbie"));
    // ...and once hidden it is gone from the page for good.
    b.click("#users-secret-done").unwrap();
    b.wait_for("the token hidden", "document.getElementById('users-secret').hidden");
    b.click("#nav-users").unwrap();
    b.wait_for("the list again", "document.querySelector('#users-table tbody tr[data-user=\"newbie\"]') !== null");
    let html = b.eval("document.documentElement.outerHTML + document.getElementById('users-secret-token').value").unwrap();
    assert!(!html.as_str().unwrap().contains(&token), "the token is shown once only");
    // Edit: make the new person a collector; rotate: the old token stops at once.
    b.click("#users-table tr[data-user=\"newbie\"] button").unwrap();
    b.wait_for("the edit form", "!document.getElementById('user-edit').hidden");
    b.set_value("#user-edit-role", "collector").unwrap();
    b.click("#user-edit-submit").unwrap();
    b.wait_for("the saved role", "document.querySelector('#users-table tbody tr[data-user=\"newbie\"]').textContent.includes('Collector')");
    b.click("#user-rotate").unwrap();
    b.wait_for("the rotated token", "!document.getElementById('users-secret').hidden && document.getElementById('users-secret-token').value.startsWith('rmsu_')");
    let rotated = b.eval("document.getElementById('users-secret-token').value").unwrap().as_str().unwrap().to_owned();
    assert_ne!(rotated, token);
    assert_eq!(app.client.get(app.url("/api/me")).bearer_auth(&token).send().unwrap().status().as_u16(), 401);
    assert_eq!(app.client.get(app.url("/api/me")).bearer_auth(&rotated).send().unwrap().status().as_u16(), 200);
    b.type_into("#user-password", "newbie-long-password-5").unwrap();
    b.click("#user-password-submit").unwrap();
    b.wait_for("the password set", "document.getElementById('status').textContent === 'Password set for newbie.'");
    b.screenshot("console-admin-users").unwrap();
    let errors = page_errors(&mut b);
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");

    // Sign out; guess newbie's password until the lock: the page says when to come back.
    b.click("#sign-out").unwrap();
    b.wait_for("the sign-in page", "!document.getElementById('view-login').hidden");
    for _ in 0..10 {
        let r = app.client.post(app.url("/api/session")).json(&json!({"username": "newbie", "password": "guessing-wrongly"})).send().unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    b.type_into("#login-username", "newbie").unwrap();
    b.type_into("#login-password", "newbie-long-password-5").unwrap();
    b.click("#login-submit").unwrap();
    b.wait_for("the lock-out", "/^Too many attempts, try again in \\d+ minutes?\\.$/.test(document.getElementById('error').textContent)");
    b.screenshot("console-locked-out").unwrap();
}
