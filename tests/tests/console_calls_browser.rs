//! The call list and the tenant page in headless Chromium: a reply at
//! 22:00 in the tenant's zone is refused with the calling-window rule and
//! never reaches the provider; after a call the console offers the next
//! callable tenant; the whole round (start page, call list, tenant, call)
//! works from the keyboard with a visible focus ring; the stage and
//! callable filters survive a reload and are applied by the server.
//! Screenshots go to `test-artifacts/`.

mod console_seed;

use console_seed::{app_with_messages_api, seed};
use e2e::browser::Browser;
use e2e::{json, App, Json};

const SMS_AUTH: &str = "e2e-calls-sms-auth-52c1";
// Plain http, so the session cookie is not marked Secure for the browser on 127.0.0.1.
const PUBLIC: &str = "http://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";
const SID: &str = "AC0000000000000000000000000000calls";

/// A collector signs in; the start page shows.
fn sign_in(app: &App, b: &mut Browser) {
    let body = json!({ "username": "carol", "display_name": "Carol Diaz", "role": "collector", "password": "carol-long-password-1" });
    let (s, r) = app.staff_post("/api/staff-users", &body);
    assert_eq!(s, 201, "{r}");
    b.type_into("#login-username", "carol").unwrap();
    b.type_into("#login-password", "carol-long-password-1").unwrap();
    b.click("#login-submit").unwrap();
    b.wait_for("the start page", "document.querySelector('#today-figures button[data-key=\"callable_now\"]') !== null");
}

fn browser(app: &App) -> Browser {
    let mut b = Browser::launch().expect("headless Chromium (installed by .ci/run)");
    b.viewport(1280, 900, false).unwrap();
    b.open(&app.url("/console")).unwrap();
    b
}

fn open_calls(b: &mut Browser) {
    b.click("#nav-calls").unwrap();
    b.wait_for("the call list", "!document.getElementById('view-calls').hidden && document.getElementById('calls-summary').textContent.length > 0");
}

fn open_tenant_from_list(b: &mut Browser, tenant: &str) {
    b.click(&format!("#calls-table tr[data-tenant=\"{tenant}\"] button")).unwrap();
    b.wait_for(tenant, &format!("!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('({tenant})')"));
}

#[test]
fn a_reply_at_ten_at_night_in_the_tenants_zone_is_refused_with_the_rule_and_nothing_is_sent() {
    let (app, sms) = app_with_messages_api(SMS_AUTH, PUBLIC, OUR_NUMBER, SID);
    // The property (and so the tenant) in a zone where it is 22:00 now.
    let zone = e2e::zone_at_local_hour(22);
    let (s, r) = app.import("properties", &format!("property_id,name,time_zone,state,country\nP1,Harbor Storage,{zone},NY,US\n"));
    assert_eq!(s, 200, "{r}");
    let (s, r) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\nN1,P1,Noor Night,3,(888) 555-0177,,,,,,,,\n",
    );
    assert_eq!(s, 200, "{r}");
    // Consent on file, so the hour is the only objection.
    let (s, r) = app.staff_put("/api/tenants/N1/consent", &json!({ "status": "opted_in", "evidence": "signed lease clause 12" }));
    assert_eq!(s, 200, "{r}");
    let mut b = browser(&app);
    sign_in(&app, &mut b);
    b.set_value("#open-tenant-id", "N1").unwrap();
    b.eval("document.getElementById('open-tenant').requestSubmit()").unwrap();
    b.wait_for("the tenant page", "document.getElementById('tenant-title').textContent.includes('(N1)')");
    b.type_into("#conv-body", "Thanks, we got your message.").unwrap();
    b.click("#conv-send").unwrap();
    b.wait_for("the refusal", "document.querySelector('#conv-result .error') !== null");
    let shown = b.eval("document.getElementById('conv-result').textContent").unwrap();
    let rules = b.eval("[...document.querySelectorAll('#conv-result .reasons li strong')].map(e => e.textContent)").unwrap();
    let rules: Vec<&str> = rules.as_array().unwrap().iter().filter_map(Json::as_str).collect();
    assert!(!rules.is_empty() && rules.iter().all(|r| r.starts_with("window")), "the calling-window rule is the reason: {rules:?} ({shown})");
    // The rule's own words are behind its "why".
    let why = b.eval("document.querySelector('#conv-result details.why span').textContent").unwrap();
    assert!(why.as_str().is_some_and(|w| !w.is_empty()), "{why}");
    b.screenshot("calls-reply-refused-at-22").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(sms.requests().iter().filter(|r| r.method == "POST").count(), 0, "nothing reached the provider");
    let (s, outbox) = app.staff_get("/api/outbox?tenant_id=N1");
    assert_eq!(s, 200, "{outbox}");
    assert_eq!(outbox["items"], json!([]), "nothing queued: {outbox}");
}

#[test]
fn after_a_call_the_console_offers_the_next_callable_tenant_and_opens_it() {
    let (app, _sms) = app_with_messages_api(SMS_AUTH, PUBLIC, OUR_NUMBER, SID);
    seed(&app);
    let mut b = browser(&app);
    sign_in(&app, &mut b);
    open_calls(&mut b);
    // C1 owes more for longer: first; C2 next.
    let order = b.eval("[...document.querySelectorAll('#calls-table tbody tr')].map(r => r.dataset.tenant)").unwrap();
    assert_eq!(order, json!(["C1", "C2"]));
    open_tenant_from_list(&mut b, "C1");
    b.set_value("#call-result", "108").unwrap();
    b.click("#call-submit").unwrap();
    b.wait_for("the next tenant offered", "document.getElementById('next-tenant-open') !== null");
    let offered = b.eval("document.getElementById('next-tenant-open').textContent").unwrap();
    assert!(offered.as_str().unwrap().contains("(C2)"), "{offered}");
    b.screenshot("calls-next-tenant-offered").unwrap();
    b.click("#next-tenant-open").unwrap();
    b.wait_for("C2's page", "document.getElementById('tenant-title').textContent.includes('(C2)')");
    let (_, contacts) = app.staff_get("/api/tenants/C1/contacts");
    assert!(contacts["contacts"].as_array().unwrap().iter().any(|c| c["channel"] == json!("phone") && c["detail"]["call_result"] == json!(108)), "{contacts}");
}

/// Press a key as a keyboard does (CDP key events only).
fn press(b: &mut Browser, key: &str, shift: bool) {
    let (code, vk, text) = match key {
        "Tab" => ("Tab", 9, ""),
        "Enter" => ("Enter", 13, "\r"),
        " " => ("Space", 32, " "),
        other => panic!("only Tab, Enter and Space here, not {other}"),
    };
    let modifiers = if shift { 8 } else { 0 };
    let mut down = json!({ "type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers });
    if !text.is_empty() {
        down["text"] = json!(text);
    }
    b.call("Input.dispatchKeyEvent", down).unwrap();
    b.call("Input.dispatchKeyEvent", json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers })).unwrap();
}

/// The focused control, and whether its focus ring shows (an outline or a
/// box shadow).
const FOCUSED: &str = "(() => { const e = document.activeElement; if (!e || e === document.body) return null; \
    const s = getComputedStyle(e); const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none'); \
    return { id: e.id, tag: e.tagName, text: (e.textContent || '').trim().slice(0, 60), ring, matches: SELECTOR }; })()";

/// Tab (or Shift+Tab) until the focused control matches `selector`, checking
/// the focus ring on every control passed.
fn tab_to(b: &mut Browser, selector: &str, shift: bool) {
    let probe = FOCUSED.replace("SELECTOR", &format!("e.matches({})", json!(selector)));
    for _ in 0..120 {
        press(b, "Tab", shift);
        let f = b.eval(&probe).unwrap();
        if f.is_null() {
            continue;
        }
        assert_eq!(f["ring"], json!(true), "no visible focus indicator on {f}");
        if f["matches"] == json!(true) {
            return;
        }
    }
    panic!("Tab never reached {selector}");
}

#[test]
fn a_call_is_recorded_from_the_start_page_with_the_keyboard_alone() {
    let (app, _sms) = app_with_messages_api(SMS_AUTH, PUBLIC, OUR_NUMBER, SID);
    seed(&app);
    let mut b = browser(&app);
    sign_in(&app, &mut b);
    // From the start page: to the call list.
    tab_to(&mut b, "#nav-calls", false);
    press(&mut b, "Enter", false);
    b.wait_for("the call list", "!document.getElementById('view-calls').hidden && document.querySelector('#calls-table tbody tr') !== null");
    // The first tenant, opened with Space.
    tab_to(&mut b, "#calls-table tr[data-tenant=\"C1\"] button", false);
    press(&mut b, " ", false);
    b.wait_for("C1's page", "!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('(C1)')");
    // A result in one key press, then back (Shift+Tab) to check it took.
    tab_to(&mut b, "#call-quick button[data-code=\"108\"]", false);
    press(&mut b, "Enter", false);
    assert_eq!(b.eval("document.getElementById('call-result').value").unwrap(), json!("108"));
    tab_to(&mut b, "#call-result", true);
    b.screenshot("calls-keyboard-focus").unwrap();
    tab_to(&mut b, "#call-submit", false);
    press(&mut b, "Enter", false);
    b.wait_for("the call recorded", "document.getElementById('next-tenant-open') !== null || document.getElementById('next-tenant').textContent.length > 0");
    let (_, contacts) = app.staff_get("/api/tenants/C1/contacts");
    let calls: Vec<&Json> = contacts["contacts"].as_array().unwrap().iter().filter(|c| c["channel"] == json!("phone")).collect();
    assert_eq!(calls.len(), 1, "{contacts}");
    assert_eq!(calls[0]["detail"]["call_result"], json!(108));
}

#[test]
fn the_call_list_filters_survive_a_reload_and_are_applied_by_the_server() {
    let (app, _sms) = app_with_messages_api(SMS_AUTH, PUBLIC, OUR_NUMBER, SID);
    seed(&app);
    let mut b = browser(&app);
    sign_in(&app, &mut b);
    open_calls(&mut b);
    // C1 is 20 days past due (stage 4), C2 5 (stage 2).
    b.set_value("#calls-stage", "2").unwrap();
    b.click("#calls-callable-only").unwrap();
    b.wait_for("the filtered list", "[...document.querySelectorAll('#calls-table tbody tr')].map(r => r.dataset.tenant).join() === 'C2'");
    b.open(&app.url("/console")).unwrap();
    b.wait_for("the start page again", "document.querySelector('#today-figures button[data-key=\"callable_now\"]') !== null");
    open_calls(&mut b);
    assert_eq!(b.eval("document.getElementById('calls-stage').value").unwrap(), json!("2"));
    assert_eq!(b.eval("document.getElementById('calls-callable-only').checked").unwrap(), json!(true));
    let rows = b.eval("[...document.querySelectorAll('#calls-table tbody tr')].map(r => [r.dataset.tenant, r.dataset.stage, r.dataset.callable, r.hidden])").unwrap();
    let (_, api) = app.staff_get("/api/call-list?stage=2&callable=true");
    let expected: Vec<Json> = api["items"].as_array().unwrap().iter().map(|i| json!([i["tenant_id"], i["stage"].to_string(), "true", false])).collect();
    assert!(!expected.is_empty(), "{api}");
    assert_eq!(rows, Json::Array(expected), "every row shown matches both filters, as the server lists them");
    b.screenshot("calls-filters-after-reload").unwrap();
}
