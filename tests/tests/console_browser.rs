//! The staff console in a headless Chromium (Debian's `chromium`, installed
//! by `.ci/run`) driving real clicks: sign in, open the call list, record a
//! call with a promise, see it in the history, see the report chart.
//! Screenshots go to `test-artifacts/` (gitignored). A missing browser
//! fails the test.

mod console_seed;

use console_seed::{local_date, seed};
use e2e::twilio::{form_body, inbound_sms, signature};
use e2e::{json, App, Json, STAFF_TOKEN};

const SMS_AUTH: &str = "e2e-console-sms-auth-3c9a";
const PUBLIC: &str = "https://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";

/// Poll a JavaScript condition until it holds.
fn wait_until(b: &mut e2e::browser::Browser, what: &str, condition: &str) -> Json {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let v = b.eval(condition).unwrap_or(Json::Null);
        if v != Json::Null && v != json!(false) {
            return v;
        }
        if std::time::Instant::now() > deadline {
            let text = b.text().unwrap_or_default();
            panic!("timed out waiting for {what}; the page shows:\n{text}\nerrors: {:?}", b.console_errors());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
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
    let fields = inbound_sms("SM0001console", "+18885550134", OUR_NUMBER, "Can I pay half now and half next week?");
    let r = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature(SMS_AUTH, &format!("{PUBLIC}/webhooks/sms"), &fields))
        .body(form_body(&fields))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    // A tablet in landscape.
    b.viewport(1024, 768, true).unwrap();
    b.open(&app.url("/console")).unwrap();
    assert!(b.visible("#login-token").unwrap(), "the page asks for the token first");
    assert!(!b.visible("#nav").unwrap());

    // Sign in.
    b.type_into("#login-token", STAFF_TOKEN).unwrap();
    b.type_into("#login-user", "alice").unwrap();
    b.click("#login-submit").unwrap();
    // Signing in lands on the start page; the call list is one click away.
    wait_until(&mut b, "the start page", "document.querySelector('#today-figures button[data-key=\"callable_now\"]') !== null");
    b.click("#nav-calls").unwrap();
    wait_until(&mut b, "the call list", "document.querySelector('#calls-table tbody tr[data-tenant=\"C1\"]') !== null");
    let text = b.text().unwrap();
    assert!(text.contains("Casey Jones (C1)") && text.contains("Robin Lee (C2)"), "{text}");
    assert!(!text.contains("Dana Paid"), "a paid-up tenant is not on the call list");
    assert!(text.contains("Callable now"), "{text}");
    assert!(text.contains("$640.00"), "{text}");
    // The token is in this tab's sessionStorage only.
    assert_eq!(b.eval("sessionStorage.getItem('rentmsg.staffToken')").unwrap(), json!(STAFF_TOKEN));
    // localStorage holds the call-list filter only, never a credential.
    assert_eq!(b.eval("Object.keys(localStorage).filter((k) => k !== 'rentmsg.callFilter').length").unwrap(), json!(0));
    b.screenshot("console-call-list").unwrap();

    // Open the tenant and record a call with a promise.
    b.click("#calls-table tr[data-tenant=\"C1\"] button").unwrap();
    wait_until(&mut b, "the tenant page", "!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('C1') && document.querySelectorAll('#call-result option').length > 10");
    assert!(b.text().unwrap().contains("A call is allowed now."));
    let date = local_date(offset, 3);
    b.set_value("#call-result", "101").unwrap();
    b.type_into("#call-notes", "Promised to pay on the 3rd").unwrap();
    b.click("#call-promise").unwrap();
    assert_eq!(b.eval("document.getElementById('call-promise').checked").unwrap(), json!(true));
    b.set_value("#call-promise-date", &date).unwrap();
    b.type_into("#call-promise-amount", "250.00").unwrap();
    b.click("#call-submit").unwrap();
    wait_until(
        &mut b,
        "the call in the history",
        "Array.from(document.querySelectorAll('#history-table tbody td')).some(td => td.textContent.includes('Promised to pay on the 3rd'))",
    );
    wait_until(&mut b, "the promise", "document.querySelector('#promises-table tbody tr') !== null");
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
    wait_until(&mut b, "the queued message", "document.getElementById('status').textContent.startsWith('Message ')");
    let status = b.eval("document.getElementById('status').textContent").unwrap();
    assert!(status.as_str().unwrap().contains("blocked (consent)"), "{status}");

    // What the page did is what the API holds, attributed to the person.
    let (_, contacts) = app.staff_get("/api/tenants/C1/contacts");
    let call = contacts["contacts"].as_array().unwrap().iter().find(|c| c["channel"] == json!("phone") && c["status"] == json!("completed")).unwrap();
    assert_eq!(call["detail"]["call_result"], json!(101));
    assert_eq!(call["detail"]["recorded_by"], json!("bootstrap:alice"));
    let (_, promises) = app.staff_get("/api/tenants/C1/promises");
    assert_eq!(promises["promises"][0]["source"], json!("call"));
    assert_eq!(promises["promises"][0]["amount_cents"], json!(25000));
    assert_eq!(promises["promises"][0]["created_by"], json!("bootstrap:alice"));

    // Back on the call list C1 is not callable, with the reasons and when.
    b.click("#nav-calls").unwrap();
    wait_until(
        &mut b,
        "the refreshed call list",
        "(() => { const r = document.querySelector('#calls-table tbody tr[data-tenant=\"C1\"]'); return r && r.textContent.includes('promise_to_pay'); })()",
    );
    assert!(b.text().unwrap().contains("callable from"));

    // Answer the reply: the inbox shows it; mark it handled.
    b.click("#nav-inbox").unwrap();
    wait_until(
        &mut b,
        "the reply in the inbox",
        "Array.from(document.querySelectorAll('#inbox-table tbody td')).some(td => td.textContent.includes('half next week'))",
    );
    b.screenshot("console-inbox").unwrap();
    b.click("#inbox-table .mark-handled").unwrap();
    wait_until(&mut b, "the handled reply to leave the open inbox", "document.querySelectorAll('#inbox-table tbody tr').length === 0");
    let (_, inbox) = app.staff_get("/api/inbox?status=handled");
    assert_eq!(inbox["messages"][0]["handled_by"], json!("bootstrap:alice"), "{inbox}");

    // The report chart renders from the server's SVG under the page's policy.
    b.click("#nav-reports").unwrap();
    wait_until(&mut b, "the report chart", "(() => { const i = document.getElementById('reports-chart'); return i && i.complete && i.naturalWidth > 0; })()");
    assert!(b.text().unwrap().contains("Harbor Storage (P1)"));
    b.screenshot("console-reports").unwrap();

    // Keyboard: the controls are real buttons and fields, reachable by Tab.
    let focusable = b
        .eval("Array.from(document.querySelectorAll('nav button, #view-reports button, #view-reports input')).every(e => e.tabIndex >= 0)")
        .unwrap();
    assert_eq!(focusable, json!(true));
    let errors = b.console_errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}
