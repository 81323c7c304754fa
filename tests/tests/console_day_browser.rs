//! A collector's day in headless Chromium: the start page's figures match
//! the API, a reply answered from the inbox reaches the fake SMS provider
//! once and shows in the conversation, and no page is wider than the
//! screen at 1,280 and 768 px. Screenshots go to `test-artifacts/`.

mod console_seed;

use console_seed::{app_with_messages_api, receive_text, seed};
use e2e::{json, App, Json, Recorded, STAFF_TOKEN};

const SMS_AUTH: &str = "e2e-day-sms-auth-71f2";
// Plain http, so the session cookie is not marked Secure for the browser on 127.0.0.1.
const PUBLIC: &str = "http://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";
const SID: &str = "AC00000000000000000000000000000day";

/// Sign in as the console on this branch does; the one place to change
/// when the console signs in another way.
fn sign_in(app: &App, b: &mut e2e::browser::Browser) {
    let body = json!({ "username": "alice", "display_name": "Alice Adams", "role": "collector", "password": "alice-long-password-1" });
    let (s, r) = app.staff_post("/api/staff-users", &body);
    assert_eq!(s, 201, "{r}");
    b.type_into("#login-username", "alice").unwrap();
    b.type_into("#login-password", "alice-long-password-1").unwrap();
    b.click("#login-submit").unwrap();
    b.wait_for("the start page", "document.querySelector('#today-figures button[data-key=\"callable_now\"]') !== null");
}

fn fits(b: &mut e2e::browser::Browser, page: &str) {
    let w = b.eval("[document.documentElement.scrollWidth, window.innerWidth]").unwrap();
    assert!(w[0].as_i64().unwrap() <= w[1].as_i64().unwrap(), "{page} is wider than the screen: {w}");
}

#[test]
fn a_collector_answers_a_reply_from_the_start_page_and_every_page_fits() {
    let (app, sms) = app_with_messages_api(SMS_AUTH, PUBLIC, OUR_NUMBER, SID);
    seed(&app);
    receive_text(&app, SMS_AUTH, PUBLIC, "SM0001day", "+18885550134", OUR_NUMBER, "Can I pay half now and half next week?");
    let today: Json = app.client.get(app.url("/api/today")).bearer_auth(STAFF_TOKEN).send().unwrap().json().unwrap();

    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    b.viewport(1280, 800, false).unwrap();
    b.open(&app.url("/console")).unwrap();
    sign_in(&app, &mut b);
    for f in today["figures"].as_array().unwrap() {
        let key = f["key"].as_str().unwrap();
        let shown = b.eval(&format!("document.querySelector('#today-figures button[data-key=\"{key}\"] .count').textContent")).unwrap();
        let expected = format!("{}{}", if f["at_least"] == json!(true) { "at least " } else { "" }, f["count"]);
        assert_eq!(shown, json!(expected), "{key}");
    }
    b.screenshot("day-start-page").unwrap();
    fits(&mut b, "the start page at 1280");

    // The waiting reply opens from its figure; answer it from the inbox.
    b.click("#nav-inbox").unwrap();
    b.wait_for("the inbox reply box", "document.querySelector('.reply-form textarea') !== null");
    fits(&mut b, "the inbox at 1280");
    b.type_into(".reply-form textarea", "Yes, half now is fine.").unwrap();
    b.click(".reply-form button").unwrap();
    b.wait_for("the reply sent", "document.querySelector('.reply-result') && document.querySelector('.reply-result').textContent.length > 0");
    let result = b.eval("document.querySelector('.reply-result').textContent").unwrap();
    assert!(result.as_str().unwrap().contains("Sent"), "{result}");
    b.screenshot("day-inbox-reply").unwrap();
    // The provider got the reply exactly once, to the number that wrote in.
    let sent: Vec<Recorded> = sms.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(sent.len(), 1, "one provider call for one reply");
    assert_eq!(sent[0].form_field("To").as_deref(), Some("+18885550134"));
    assert!(sent[0].form_field("Body").is_some_and(|body| body.starts_with("Yes, half now is fine.")), "{:?}", sent[0].form_field("Body"));
    // And it is on the tenant's conversation, after the message it answers.
    let conv: Json = app.client.get(app.url("/api/tenants/C1/conversation")).bearer_auth(STAFF_TOKEN).send().unwrap().json().unwrap();
    let bodies: Vec<&str> = conv["messages"].as_array().map(|m| m.iter().filter_map(|c| c["body"].as_str()).collect()).unwrap_or_default();
    let asked = bodies.iter().position(|b| b.starts_with("Can I pay half now"));
    let answered = bodies.iter().position(|b| b.starts_with("Yes, half now is fine."));
    assert!(matches!((asked, answered), (Some(a), Some(r)) if a < r), "the conversation, oldest first: {conv}");

    b.click("#nav-reports").unwrap();
    b.wait_for("the reports", "!document.getElementById('view-reports').hidden");
    fits(&mut b, "the reports at 1280");
    b.viewport(768, 1024, true).unwrap();
    for (nav, view) in [("#nav-today", "today"), ("#nav-calls", "calls"), ("#nav-inbox", "inbox"), ("#nav-reports", "reports")] {
        b.click(nav).unwrap();
        b.wait_for(view, &format!("!document.getElementById('view-{view}').hidden"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        fits(&mut b, &format!("{view} at 768"));
    }
}
