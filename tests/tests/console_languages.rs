//! The console in the tenants' languages, in headless Chromium: a tenant's
//! language shows on their page and the message form starts in it; staff
//! pick another language, and the message is queued in that language (its
//! template, recorded on the outbox row) and reaches the fake SMS provider
//! with that language's opt-out line; the reports view splits the figures
//! by language. Screenshots go to `test-artifacts/`.

mod console_seed;

use console_seed::{app_with_messages_api, seed};
use e2e::{json, Json, Recorded, STAFF_TOKEN};

const SMS_AUTH: &str = "e2e-lang-sms-auth-5be1";
// Plain http, so the session cookie is not marked Secure for the browser on 127.0.0.1.
const PUBLIC: &str = "http://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";
const SID: &str = "AC0000000000000000000000000000lang";

#[test]
fn staff_write_to_a_spanish_speaking_tenant_in_french_and_split_the_report_by_language() {
    let (app, sms) = app_with_messages_api(SMS_AUTH, PUBLIC, OUR_NUMBER, SID);
    seed(&app);
    // C1 (Harbor Storage, New York: English by the property) reads Spanish
    // and agreed to texts.
    let r = app.staff(reqwest::Method::PATCH, "/api/tenants/C1").json(&json!({"language": "es"})).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, r) = app.staff_put("/api/tenants/C1/consent", &json!({"status": "opted_in", "evidence": "lease clause 12"}));
    assert_eq!(s, 200, "{r}");
    let (s, r) = app.staff_post("/api/staff-users", &json!({ "username": "alice", "role": "collector", "password": "alice-long-password-1" }));
    assert_eq!(s, 201, "{r}");

    let mut b = e2e::browser::Browser::launch().expect("headless Chromium (installed by .ci/run)");
    b.viewport(1280, 900, false).unwrap();
    b.open(&app.url("/console")).unwrap();
    b.type_into("#login-username", "alice").unwrap();
    b.type_into("#login-password", "alice-long-password-1").unwrap();
    b.click("#login-submit").unwrap();
    b.wait_for("the start page", "!document.getElementById('view-today').hidden");
    b.click("#nav-calls").unwrap();
    b.wait_for("C1 on the call list", "document.querySelector('#calls-table tbody tr[data-tenant=\"C1\"] button') !== null");
    b.click("#calls-table tr[data-tenant=\"C1\"] button").unwrap();
    b.wait_for("C1's page", "!document.getElementById('view-tenant').hidden && document.getElementById('tenant-title').textContent.includes('C1')");

    // The page shows the tenant's language, and the message form starts in it.
    assert_eq!(b.eval("document.getElementById('tenant-language').value").unwrap(), json!("es"));
    let facts = b.eval("document.getElementById('tenant-facts').textContent").unwrap();
    assert!(facts.as_str().unwrap().contains("(the tenant's own)"), "{facts}");
    assert_eq!(b.eval("document.getElementById('msg-language').value").unwrap(), json!("es"));
    // The templates offered are the Spanish ones.
    let offered = b.eval("Array.from(document.querySelectorAll('#msg-template option')).map(o => o.value).filter(v => v).length").unwrap();
    assert_eq!(offered, json!(5), "one Spanish text template per stage");
    b.screenshot("console-message-language-default").unwrap();

    // Staff pick French and its stage-1 text.
    b.set_value("#msg-language", "fr").unwrap();
    b.set_value("#msg-template", "1").unwrap();
    b.screenshot("console-message-language-french").unwrap();
    b.click("#msg-submit").unwrap();
    b.wait_for("the queued message", "document.getElementById('status').textContent.startsWith('Message ')");
    let status = b.eval("document.getElementById('status').textContent").unwrap();
    assert!(status.as_str().unwrap().contains("in Français queued"), "{status}");

    // The outbox holds the French template and says French.
    let (_, templates) = app.staff_get("/api/notice-templates");
    let french = templates["templates"].as_array().unwrap().iter().find(|t| t["stage"] == json!(1) && t["channel"] == json!("text") && t["language"] == json!("fr")).unwrap();
    let (_, outbox) = app.staff_get("/api/outbox?tenant_id=C1");
    let row = &outbox["items"][0];
    assert_eq!((row["kind"].clone(), row["language"].clone()), (json!("supplemental"), json!("fr")), "{row}");
    assert_eq!(row["custom_body"], french["body"]);
    assert_eq!(row["created_by"], json!("user:alice"));

    // A send pass: the provider gets it once, in French with the French
    // opt-out line, although the tenant reads Spanish.
    let r = app.client.post(app.url("/api/send")).bearer_auth(STAFF_TOKEN).json(&json!({"max_seconds": 5})).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let sent: Vec<Recorded> = sms.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(sent.len(), 1, "one provider call for one message");
    assert_eq!(sent[0].form_field("To").as_deref(), Some("+18885550134"));
    let body = sent[0].form_field("Body").unwrap_or_default();
    assert!(body.starts_with("Harbor Storage : solde de 640,00 $ US en retard. Payez : http://rent.example.test/"), "{body}");
    assert!(body.ends_with(" Répondez ARRET pour vous désabonner."), "{body}");
    let (_, contacts) = app.staff_get("/api/tenants/C1/contacts");
    let logged = contacts["contacts"].as_array().unwrap().iter().find(|c| c["direction"] == json!("outbound")).unwrap();
    assert_eq!(logged["detail"]["language"], json!("fr"), "{logged}");

    // The reports view splits by the tenant's language on request.
    b.click("#nav-reports").unwrap();
    b.wait_for("the report", "document.querySelectorAll('#reports-table tbody tr').length >= 2");
    b.click("#reports-by-language").unwrap();
    b.wait_for("the language rows",
        "Array.from(document.querySelectorAll('#reports-table tbody th')).some(th => th.textContent === 'All, Español (USD)')",
    );
    // C1 is the only tenant with a figure: one Spanish row under the property.
    let rows: Json = b.eval("Array.from(document.querySelectorAll('#reports-table tbody tr')).map(tr => [tr.querySelector('th').textContent, tr.children[1].textContent])").unwrap();
    assert_eq!(
        rows,
        json!([["Harbor Storage (P1)", "1"], ["… Español (P1)", "1"], ["All", "1"], ["All, Español (USD)", "1"]]),
        "rows with their queued count"
    );
    b.screenshot("console-reports-by-language").unwrap();
    let errors: Vec<String> = b
        .console_errors()
        .into_iter()
        .filter(|e| !(e.starts_with("log: Failed to load resource: the server responded with a status of 4") && e.contains("/api/")))
        .collect();
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}
