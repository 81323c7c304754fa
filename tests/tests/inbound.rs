//! The inbound SMS webhooks through the real host: signed requests as the
//! provider sends them, effects read back through the staff API only.

use e2e::twilio::{form_body, inbound_sms, signature};
use e2e::{json, App, Json};

const AUTH: &str = "e2e-sms-auth-token-5d1c0e";
/// What the provider was configured with (a proxy in front of the app).
const PUBLIC: &str = "https://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";
const PAT: &str = "+14155552671";
const KIM_SHARED: &str = "+14155552671";
const STRANGER: &str = "+12125550143";

fn app() -> App {
    let app = App::builder()
        .variable("sms_auth_token", AUTH)
        .variable("public_base_url", PUBLIC)
        .variable("sms_from", OUR_NUMBER)
        .start();
    let (s, b) = app.import(
        "properties",
        "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,MA,US\nP2,Lakeview,America/Chicago,IL,US\n",
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
         T1,P1,Pat Smith,1A,(415) 555-2671,617-555-0123,,pat@example.com,,,,,\n\
         T2,P2,Kim Lee,2B,415.555.2671,,,,,,,,\n",
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["created"], json!(2), "{b}");
    app
}

/// POST a form to a webhook path, signed for `PUBLIC` + path (or not).
fn post(app: &App, path: &str, fields: &[(&str, &str)], sign: bool) -> (u16, String, String) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(fields));
    if sign {
        req = req.header("X-Twilio-Signature", signature(AUTH, &format!("{PUBLIC}{path}"), fields));
    }
    let resp = req.send().expect("POST webhook");
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, ct, resp.text().unwrap_or_default())
}

fn text(app: &App, sid: &str, from: &str, body: &str) -> String {
    let (status, ct, xml) = post(app, "/webhooks/sms", &inbound_sms(sid, from, OUR_NUMBER, body), true);
    assert_eq!(status, 200, "{xml}");
    assert_eq!(ct, "text/xml");
    assert!(xml.contains("<Response"), "{xml}");
    xml
}

fn by_customer(app: &App, tenant: &str, address: &str) -> bool {
    let (s, t) = app.staff_get(&format!("/api/tenants/{tenant}"));
    assert_eq!(s, 200, "{t}");
    let cp = t["contact_points"].as_array().unwrap().iter().find(|c| c["address"] == json!(address)).cloned().unwrap();
    cp["exclusions"]["by_customer"]["on"] == json!(true)
}

fn contacts(app: &App, tenant: &str) -> Vec<Json> {
    let (s, c) = app.staff_get(&format!("/api/tenants/{tenant}/contacts"));
    assert_eq!(s, 200, "{c}");
    c["contacts"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_test_signer_matches_the_official_library() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/twilio/vectors.json");
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let token = doc["auth_token"].as_str().unwrap();
    for v in doc["vectors"].as_array().unwrap() {
        let fields: Vec<(&str, &str)> =
            v["params"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap())).collect();
        assert_eq!(signature(token, v["url"].as_str().unwrap(), &fields), v["signature"].as_str().unwrap(), "{}", v["name"]);
    }
}

#[test]
fn stop_start_help_and_free_text_through_the_host() {
    let app = app();
    // STOP from a number two tenants share: excluded for both, one confirmation.
    let xml = text(&app, "SMe2e0001", PAT, "Stop");
    assert!(xml.contains("<Message>Maple Court / Lakeview: You are unsubscribed"), "{xml}");
    assert!(by_customer(&app, "T1", PAT) && by_customer(&app, "T2", KIM_SHARED));
    assert!(!by_customer(&app, "T1", "+16175550123"));
    let c = contacts(&app, "T2");
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c.iter().any(|x| x["direction"] == json!("inbound") && x["body"] == json!("Stop")));
    assert!(c.iter().any(|x| x["direction"] == json!("outbound") && x["body"].as_str().unwrap().contains("unsubscribed")));
    // The provider retries the same delivery: nothing twice.
    let again = text(&app, "SMe2e0001", PAT, "Stop");
    assert!(again.ends_with("<Response/>"), "{again}");
    assert_eq!(contacts(&app, "T2").len(), 2);
    // A later STOP: on the record, no second confirmation.
    assert!(text(&app, "SMe2e0002", PAT, "STOP").ends_with("<Response/>"));
    assert_eq!(contacts(&app, "T1").len(), 3);

    // HELP answers with the facility, a contact, disclosures.
    let help = text(&app, "SMe2e0003", "+16175550123", "help");
    assert!(help.contains("Maple Court account texts. Help: (617) 555-0100."), "{help}");
    assert!(help.contains("Msg &amp; data rates may apply") && help.contains("Reply STOP to opt out"), "{help}");

    // START lifts the exclusion for both tenants.
    let start = text(&app, "SMe2e0004", PAT, "START");
    assert!(start.contains("resubscribed"), "{start}");
    assert!(!by_customer(&app, "T1", PAT) && !by_customer(&app, "T2", KIM_SHARED));

    // Free text: on the record, in the inbox; unknown numbers in the unmatched inbox.
    assert!(text(&app, "SMe2e0005", PAT, "I can pay on the 15th").ends_with("<Response/>"));
    assert!(text(&app, "SMe2e0006", STRANGER, "wrong number?").ends_with("<Response/>"));
    assert!(contacts(&app, "T1").iter().any(|x| x["body"] == json!("I can pay on the 15th")));
    let (s, inbox) = app.staff_get("/api/inbox");
    assert_eq!(s, 200, "{inbox}");
    assert_eq!(inbox["total"], json!(2), "{inbox}");
    assert_eq!(inbox["unread"], json!(2));
    let (_, unmatched) = app.staff_get("/api/inbox?matched=false");
    assert_eq!(unmatched["messages"][0]["body"], json!("wrong number?"));
    let id = inbox["messages"][1]["id"].as_i64().unwrap();
    let (s, handled) = app.staff_post(&format!("/api/inbox/{id}/handled"), &json!({}));
    assert_eq!(s, 200, "{handled}");
    assert_eq!(handled["handled_by"], json!("bootstrap"));
    let (_, open) = app.staff_get("/api/inbox");
    assert_eq!(open["total"], json!(1));

    // Staff edit the keyword lists; the new word (one no list ships) works at once.
    let (_, lists) = app.staff_get("/api/keywords");
    let mut opt_out = lists["opt_out"].as_array().unwrap().clone();
    opt_out.push(json!("BASTA"));
    let (s, b) = app.staff_put("/api/keywords", &json!({ "opt_out": opt_out }));
    assert_eq!(s, 200, "{b}");
    assert!(text(&app, "SMe2e0007", PAT, "basta").contains("unsubscribed"));
    assert!(by_customer(&app, "T1", PAT));

    // Logs carry no phone numbers or message text.
    let log = app.log_when(|log| log.contains("\"component\":\"inbound-webhook\""));
    assert!(log.contains("\"component\":\"inbound-webhook\""), "{log}");
    for secret in ["4155552671", "6175550123", "2125550143", "pay on the 15th", AUTH] {
        assert!(!log.contains(secret), "log leaks {secret:?}");
    }
}

#[test]
fn forged_and_malformed_webhooks_change_nothing() {
    let app = app();
    let stop = inbound_sms("SMe2eF001", PAT, OUR_NUMBER, "STOP");
    // Unsigned, signed with another key, signed for another URL.
    let (s, _, body) = post(&app, "/webhooks/sms", &stop, false);
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("missing X-Twilio-Signature"));
    let resp = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature("not-the-token", &format!("{PUBLIC}/webhooks/sms"), &stop))
        .body(form_body(&stop))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature(AUTH, &app.url("/webhooks/sms"), &stop))
        .body(form_body(&stop))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "signed for the internal URL, not public_base_url");
    // Not a form, invalid UTF-8, oversized, not a phone number.
    let resp = app.client.post(app.url("/webhooks/sms")).json(&json!({"Body": "STOP"})).send().unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let mut bad = form_body(&stop).into_bytes();
    bad.extend_from_slice(b"&Extra=%FF");
    let resp = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", "irrelevant")
        .body(bad)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().unwrap().contains("UTF-8"));
    let resp = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 70 * 1024])
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let (s, _, body) = post(&app, "/webhooks/sms", &inbound_sms("SMe2eF002", "not-a-number", OUR_NUMBER, "STOP"), true);
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("From is not a phone number"));
    assert!(!by_customer(&app, "T1", PAT));
    assert!(contacts(&app, "T1").is_empty());

    // Status callbacks: carrier opt-out and invalid number.
    let fields = [("MessageSid", "SMe2eS001"), ("MessageStatus", "undelivered"), ("ErrorCode", "30005"), ("To", "+16175550123")];
    let (s, _, body) = post(&app, "/webhooks/sms/status", &fields, true);
    assert_eq!(s, 200, "{body}");
    let (_, n) = app.staff_get("/api/sms-numbers/+16175550123");
    assert_eq!(n["texting"], json!("invalid"), "{n}");
    let fields = [("MessageSid", "SMe2eS002"), ("MessageStatus", "failed"), ("ErrorCode", "21610"), ("To", PAT)];
    assert_eq!(post(&app, "/webhooks/sms/status", &fields, true).0, 200);
    assert!(by_customer(&app, "T1", PAT) && by_customer(&app, "T2", KIM_SHARED));
    // Unsigned status callbacks are refused too.
    let fields = [("MessageSid", "SMe2eS003"), ("MessageStatus", "delivered"), ("To", "+16175550123")];
    assert_eq!(post(&app, "/webhooks/sms/status", &fields, false).0, 403);
    assert_eq!(app.staff_get("/api/sms-numbers/+16175550123").1["texting"], json!("invalid"));
}
