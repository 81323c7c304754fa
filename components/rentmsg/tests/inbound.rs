//! The SMS webhooks end to end over NativeDb: signed requests through
//! `inbound::webhook::handle`, effects read back through the staff API.

mod common;

use common::Env;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use rentmsg::base::db::{Db, DbError, Rows, Value};
use rentmsg::inbound::signature;
use rentmsg::base::http::{Request, Response};
use rentmsg::inbound::webhook::{self, WebhookConfig, WebhookContext};
use serde_json::{json, Value as Json};
use std::cell::Cell;

const BASE: &str = "https://rent.example.com";
const AUTH: &str = "auth-token-for-tests-0123456789ab";
const FROM: &str = "+16175550100";
/// T1's mobile; T4 (another property) shares it.
const SHARED: &str = "+14155552671";
const UNKNOWN: &str = "+12125550143";

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, NON_ALPHANUMERIC), utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

fn request(path: &str, fields: &[(&str, &str)], signature: Option<String>) -> Request {
    let mut headers = vec![("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
    if let Some(sig) = signature {
        headers.push(("X-Twilio-Signature".to_owned(), sig));
    }
    Request { method: "POST".into(), path: path.into(), headers, body: encode(fields).into_bytes(), client_addr: None }
}

fn sign(path: &str, fields: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    signature::compute(AUTH, &format!("{BASE}{path}"), &params)
}

fn signed(path: &str, fields: &[(&str, &str)]) -> Request {
    request(path, fields, Some(sign(path, fields)))
}

fn sms<'a>(sid: &'a str, from: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", from),
        ("To", FROM),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
    ]
}

struct T {
    env: Env,
}

impl T {
    fn new() -> T {
        let env = Env::new();
        env.seed();
        env.import_ok(
            "tenants",
            "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
             T4,P2,Kim Lee,4D,+1 415 555 2671,,,,,,,,\n",
        );
        T { env }
    }

    fn hook_with(&self, db: &dyn Db, req: &Request) -> Response {
        let ctx = WebhookContext {
            db,
            config: WebhookConfig { public_base_url: BASE, auth_token: AUTH, sms_from: FROM },
            now: self.env.now,
        };
        webhook::handle(req, &ctx)
    }

    fn hook(&self, req: &Request) -> Response {
        self.hook_with(&self.env.db, req)
    }

    fn text(&self, sid: &str, from: &str, body: &str) -> Response {
        let r = self.hook(&signed("/webhooks/sms", &sms(sid, from, body)));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/xml"));
        r
    }

    fn count(&self, sql: &str) -> i64 {
        self.env.count(sql)
    }

    /// Rows in every table the webhook writes.
    fn footprint(&self) -> Vec<i64> {
        ["inbound_messages", "contact_log", "exclusions", "exclusion_events", "audit_log", "sms_status_events", "sms_number_states"]
            .iter()
            .map(|t| self.count(&format!("SELECT count(*) AS n FROM {t}")))
            .collect()
    }

    fn tenant(&self, id: &str) -> Json {
        let r = self.env.get(&format!("/api/tenants/{id}"));
        assert_eq!(r.status, 200);
        r.body_json()
    }

    fn contacts(&self, id: &str) -> Vec<Json> {
        let r = self.env.get(&format!("/api/tenants/{id}/contacts"));
        assert_eq!(r.status, 200);
        r.body_json()["contacts"].as_array().cloned().unwrap_or_default()
    }

    fn by_customer_on(&self, tenant: &str, address: &str) -> bool {
        let t = self.tenant(tenant);
        let cp = t["contact_points"].as_array().unwrap().iter().find(|c| c["address"] == json!(address)).cloned().unwrap();
        cp["exclusions"]["by_customer"]["on"] == json!(true)
    }
}

fn message(r: &Response) -> Option<String> {
    let body = r.text();
    let start = body.find("<Message>")? + "<Message>".len();
    let end = body.find("</Message>")?;
    let escaped = &body[start..end];
    Some(escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&"))
}

fn is_empty_twiml(r: &Response) -> bool {
    r.status == 200 && r.text().ends_with("<Response/>")
}

#[test]
fn stop_excludes_the_number_for_every_tenant_confirms_once_and_is_logged() {
    let t = T::new();
    let r = t.text("SM0001", SHARED, "  Stop! ");
    let reply = message(&r).expect("a confirmation");
    assert!(reply.contains("unsubscribed") && reply.contains("START"), "{reply}");
    // Both facilities that have the number are named.
    assert!(reply.starts_with("Maple Court / Lakeview: "), "{reply}");
    assert!(t.by_customer_on("T1", SHARED));
    assert!(t.by_customer_on("T4", SHARED));
    assert!(!t.by_customer_on("T1", "+16175550123"), "the other number of T1 is untouched");
    assert_eq!(t.tenant("T1")["exclusion_status"], json!("partial"));
    assert_eq!(t.tenant("T4")["exclusion_status"], json!("full"));
    let ex = &t.tenant("T4")["contact_points"][0]["exclusions"]["by_customer"];
    assert_eq!(ex["set_by"], json!("customer"));
    assert_eq!(ex["set_at"], json!("2024-03-10T16:00:00.000Z"));
    assert_eq!(ex["message_sid"], json!("SM0001"));
    for tenant in ["T1", "T4"] {
        let c = t.contacts(tenant);
        assert_eq!(c.len(), 2, "{tenant}: inbound and the confirmation: {c:?}");
        let inbound = c.iter().find(|x| x["direction"] == json!("inbound")).unwrap();
        assert_eq!(inbound["body"], json!("  Stop! "));
        assert_eq!(inbound["status"], json!("received"));
        assert_eq!(inbound["address"], json!(SHARED));
        assert_eq!(inbound["detail"]["effect"], json!("opted_out"));
        let out = c.iter().find(|x| x["direction"] == json!("outbound")).unwrap();
        assert_eq!(out["body"], json!(reply.as_str()));
        assert_eq!(out["channel"], json!("text"));
        assert_eq!(out["detail"]["auto_reply"], json!("opt_out"));
    }
    assert_eq!(t.count("SELECT count(*) AS n FROM audit_log WHERE action = 'exclusions.number_by_customer'"), 1);

    // The same delivery again (provider retry): nothing changes, no second confirmation.
    let before = t.footprint();
    let again = t.text("SM0001", SHARED, "  Stop! ");
    assert!(is_empty_twiml(&again), "{}", again.text());
    assert_eq!(t.footprint(), before);

    // Another STOP: logged, but no second confirmation.
    let second = t.text("SM0002", SHARED, "STOP");
    assert!(is_empty_twiml(&second));
    assert_eq!(t.contacts("T1").len(), 3);
    assert_eq!(t.count("SELECT count(*) AS n FROM contact_log WHERE direction = 'outbound'"), 2);
    assert_eq!(t.count("SELECT count(*) AS n FROM exclusions WHERE kind = 'number_by_customer'"), 1);

    // START lifts it for everyone, with a confirmation that discloses rates.
    let start = t.text("SM0003", SHARED, "start");
    let confirm = message(&start).expect("opt-in confirmation");
    assert!(confirm.contains("Msg & data rates may apply") && confirm.contains("STOP"), "{confirm}");
    assert!(!t.by_customer_on("T1", SHARED) && !t.by_customer_on("T4", SHARED));
    assert_eq!(t.tenant("T4")["exclusion_status"], json!("none"));

    // And a new STOP confirms again (a new revocation).
    assert!(message(&t.text("SM0004", SHARED, "opt-out")).is_some());
    assert!(t.by_customer_on("T1", SHARED));
}

#[test]
fn keyword_matching_is_whole_message_and_the_lists_are_data() {
    let t = T::new();
    let cases = [
        ("STOPALL", "opt_out"),
        ("unsubscribe.", "opt_out"),
        ("Opt Out", "opt_out"),
        ("\"quit\"", "opt_out"),
        ("Revoke 🙏", "opt_out"),
        // A revocation in the tenant's own words (47 CFR 64.1200(a)(10)):
        // an opt-out, though not a keyword.
        ("please stop texting me", "opt_out"),
        ("stop by the office tomorrow", "text"),
        // ALTO ships as a Spanish opt-out word (migration 10); BASTA does not.
        ("basta", "text"),
        ("alto", "opt_out"),
        ("info", "help"),
    ];
    for (i, (body, kind)) in cases.iter().enumerate() {
        let sid = format!("SMk{i}");
        t.text(&sid, UNKNOWN, body);
        let rows = t.env.db.execute("SELECT kind FROM inbound_messages WHERE message_sid = ?", &[sid.as_str().into()]).unwrap();
        assert_eq!(rows.first().unwrap().str("kind").unwrap(), *kind, "{body:?}");
        // Undo any opt-out so the next word is judged on its own.
        t.env.db.execute("DELETE FROM exclusions", &[]).unwrap();
    }
    // Staff add a Spanish opt-out word; it then works as STOP does.
    let lists = t.env.get("/api/keywords").body_json();
    assert!(lists["opt_out"].as_array().unwrap().contains(&json!("OPT OUT")));
    assert!(lists["required"]["opt_out"].as_array().unwrap().contains(&json!("REVOKE")));
    let mut opt_out: Vec<Json> = lists["opt_out"].as_array().unwrap().clone();
    opt_out.push(json!("Basta"));
    let r = t.env.put_json("/api/keywords", &json!({ "opt_out": opt_out, "help": ["HELP", "AYUDA"] }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body_json()["opt_out"].as_array().unwrap().contains(&json!("BASTA")));
    assert_eq!(r.body_json()["help"], json!(["AYUDA", "HELP"]));
    assert!(message(&t.text("SMk100", SHARED, "¡Basta!")).is_some());
    assert!(t.by_customer_on("T1", SHARED));
    // INFO was dropped from help: now it is free text.
    t.text("SMk101", UNKNOWN, "info");
    let rows = t.env.db.execute("SELECT kind FROM inbound_messages WHERE message_sid = 'SMk101'", &[]).unwrap();
    assert_eq!(rows.first().unwrap().str("kind").unwrap(), "text");
    // The legal words cannot be removed, nor a word put in two lists.
    let r = t.env.put_json("/api/keywords", &json!({ "opt_out": ["STOP"] }));
    assert_eq!(r.status, 400);
    assert!(r.body_json()["error"].as_str().unwrap().contains("must keep"));
    let r = t.env.put_json("/api/keywords", &json!({ "opt_in": ["START", "STOP"] }));
    assert_eq!(r.status, 400);
    let r = t.env.put_json("/api/keywords", &json!({ "nonsense": [] }));
    assert_eq!(r.status, 400);
    assert_eq!(t.count("SELECT count(*) AS n FROM audit_log WHERE action = 'keywords.update'"), 1);
}

#[test]
fn help_names_the_facility_a_contact_and_the_disclosures_and_always_works() {
    let t = T::new();
    let help = message(&t.text("SMh1", "+16175550123", "HELP")).expect("help reply");
    assert!(help.starts_with("Maple Court account texts."), "{help}");
    assert!(help.contains("Help: (617) 555-0100."), "sms_from is the default contact: {help}");
    assert!(help.contains("Msg & data rates may apply") && help.contains("Reply STOP to opt out"), "{help}");
    assert_eq!(t.contacts("T1").len(), 2, "the help and its answer are on the record");

    // A per-property contact, editable by staff.
    let r = t.env.put_json("/api/properties/P1/sms-help-contact", &json!({ "contact": "office 617-555-0199" }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(t.env.get("/api/properties/P1/sms-help-contact").body_json()["contact"], json!("office 617-555-0199"));
    let help = message(&t.text("SMh2", "+16175550123", "help")).unwrap();
    assert!(help.contains("Help: office 617-555-0199."), "{help}");
    assert_eq!(t.env.put_json("/api/properties/NOPE/sms-help-contact", &json!({ "contact": "x" })).status, 404);
    assert_eq!(t.env.put_json("/api/properties/P1/sms-help-contact", &json!({ "contact": "x".repeat(61) })).status, 400);

    // Unknown number: generic text.
    let generic = message(&t.text("SMh3", UNKNOWN, "HELP")).unwrap();
    assert!(generic.starts_with("Rent account texts."), "{generic}");

    // HELP works even after STOP (CTIA), and changes nothing.
    t.text("SMh4", "+16175550123", "STOP");
    assert!(message(&t.text("SMh5", "+16175550123", "HELP")).is_some());
    assert!(t.by_customer_on("T1", "+16175550123"));
}

#[test]
fn free_text_goes_to_the_tenant_record_and_the_inbox_unknown_numbers_to_the_unmatched_inbox() {
    let t = T::new();
    assert!(is_empty_twiml(&t.text("SMt1", SHARED, "I'll pay Friday, sorry!")));
    assert!(is_empty_twiml(&t.text("SMt2", UNKNOWN, "Who is this?")));
    // An opt-in word with nothing to lift is an answer to a question.
    assert!(is_empty_twiml(&t.text("SMt3", "+16175550123", "Yes")));
    for tenant in ["T1", "T4"] {
        let c = t.contacts(tenant);
        assert!(c.iter().any(|x| x["body"] == json!("I'll pay Friday, sorry!") && x["direction"] == json!("inbound")));
    }
    assert_eq!(t.count("SELECT count(*) AS n FROM contact_log WHERE tenant_id IS NULL AND body = 'Who is this?'"), 1);

    let page = t.env.get("/api/inbox").body_json();
    assert_eq!(page["total"], json!(3), "{page}");
    assert_eq!(page["unread"], json!(3));
    let msgs = page["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["body"], json!("Yes"), "newest first");
    let shared = msgs.iter().find(|m| m["message_sid"] == json!("SMt1")).unwrap();
    assert_eq!(shared["matched"], json!(true));
    let names: Vec<&str> = shared["tenants"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Pat Smith", "Kim Lee"]);
    let unmatched = t.env.get("/api/inbox?matched=false").body_json();
    assert_eq!(unmatched["total"], json!(1));
    assert_eq!(unmatched["messages"][0]["from"], json!(UNKNOWN));
    assert_eq!(t.env.get("/api/inbox?tenant_id=T4").body_json()["total"], json!(1));

    // Staff read and handle.
    let id = shared["id"].as_i64().unwrap();
    let r = t.env.send("POST", &format!("/api/inbox/{id}/read"), None, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body_json()["read_by"], json!("bootstrap"));
    let r = t.env.send("POST", &format!("/api/inbox/{id}/handled"), None, b"");
    assert_eq!(r.body_json()["handled_by"], json!("bootstrap"));
    let open = t.env.get("/api/inbox").body_json();
    assert_eq!(open["total"], json!(2));
    assert_eq!(open["unread"], json!(2));
    assert_eq!(t.env.get("/api/inbox?status=handled").body_json()["total"], json!(1));
    let r = t.env.send("DELETE", &format!("/api/inbox/{id}/handled"), None, b"");
    assert_eq!(r.body_json()["handled_at"], Json::Null);
    assert_eq!(t.env.get(&format!("/api/inbox/{id}")).body_json()["body"], json!("I'll pay Friday, sorry!"));
    assert_eq!(t.env.get("/api/inbox/999").status, 404);
    assert_eq!(t.env.get("/api/inbox/x").status, 400);
    assert_eq!(t.env.get("/api/inbox?status=weird").status, 400);
    assert_eq!(t.count("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'inbox.%'"), 3);
    // Keyword messages are not inbox items.
    t.text("SMt4", SHARED, "STOP");
    assert_eq!(t.env.get("/api/inbox?status=all").body_json()["total"], json!(3));
}

#[test]
fn a_provider_opt_out_type_is_honoured_without_a_second_confirmation() {
    let t = T::new();
    let mut fields = sms("SMp1", SHARED, "Arrêt");
    fields.push(("OptOutType", "STOP"));
    let r = t.hook(&signed("/webhooks/sms", &fields));
    assert!(is_empty_twiml(&r), "the provider sent its own confirmation: {}", r.text());
    assert!(t.by_customer_on("T1", SHARED));
    let mut fields = sms("SMp2", SHARED, "Reprendre");
    fields.push(("OptOutType", "start"));
    assert!(is_empty_twiml(&t.hook(&signed("/webhooks/sms", &fields))));
    assert!(!t.by_customer_on("T1", SHARED));
    let rows = t.env.db.execute("SELECT provider_opt_out_type AS p FROM inbound_messages WHERE message_sid = 'SMp1'", &[]).unwrap();
    assert_eq!(rows.first().unwrap().str("p").unwrap(), "STOP");
}

#[test]
fn forged_or_unverifiable_requests_change_nothing() {
    let t = T::new();
    let before = t.footprint();
    let fields = sms("SMf1", SHARED, "STOP");
    let cases: Vec<(Request, u16)> = vec![
        (request("/webhooks/sms", &fields, None), 403),
        (request("/webhooks/sms", &fields, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into())), 403),
        (request("/webhooks/sms", &fields, Some(sign("/webhooks/sms/status", &fields))), 403),
        (request("/webhooks/sms?x=1", &fields, Some(sign("/webhooks/sms", &fields))), 403),
        (request("/webhooks/sms", &sms("SMf1", SHARED, "START"), Some(sign("/webhooks/sms", &fields))), 403),
    ];
    for (req, want) in &cases {
        let r = t.hook(req);
        assert_eq!(r.status, *want, "{}", r.text());
        assert_eq!(r.outcome, Some("forged"));
    }
    // Another signing scheme is refused, even with a valid HMAC-SHA1 signature.
    let mut req = signed("/webhooks/sms", &fields);
    req.headers.push(("X-Twilio-Webhooks-Signature-Settings".into(), "key=k1,algorithm=HMAC_SHA256".into()));
    assert_eq!(t.hook(&req).status, 403);
    // No token configured: nothing can be verified, the provider should retry later.
    let ctx = WebhookContext {
        db: &t.env.db,
        config: WebhookConfig { public_base_url: BASE, auth_token: "", sms_from: FROM },
        now: t.env.now,
    };
    assert_eq!(webhook::handle(&signed("/webhooks/sms", &fields), &ctx).status, 503);
    assert_eq!(t.footprint(), before);
    // The URL with an explicit default port is the same URL.
    let path = "/webhooks/sms";
    let params: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let sig = signature::compute(AUTH, &format!("https://rent.example.com:443{path}"), &params);
    assert_eq!(t.hook(&request(path, &fields, Some(sig))).status, 200);
}

#[test]
fn bad_input_gets_a_4xx_with_a_reason_and_stores_nothing() {
    let t = T::new();
    let before = t.footprint();
    let long = "x".repeat(1601);
    let mut cases: Vec<(Request, u16, &str)> = vec![
        (signed("/webhooks/sms", &sms("SMb1", "whatsapp:+14155552671", "hi")), 400, "From is not a phone number"),
        (signed("/webhooks/sms", &sms("SMb2", "12", "hi")), 400, "From is not a phone number"),
        (signed("/webhooks/sms", &sms("SMb3", SHARED, &long)), 400, "Body is longer"),
        (signed("/webhooks/sms", &sms("", SHARED, "hi")), 400, "MessageSid is required"),
        (signed("/webhooks/sms", &sms("SM<script>", SHARED, "hi")), 400, "MessageSid must be"),
        (signed("/webhooks/sms", &[("MessageSid", "SMb4"), ("From", SHARED), ("To", FROM)]), 400, "Body is required"),
        (signed("/webhooks/sms", &[("MessageSid", "SMb5"), ("To", FROM), ("Body", "x")]), 400, "From is required"),
        (
            signed("/webhooks/sms", &[("MessageSid", "SMb6"), ("From", SHARED), ("To", "not-ours"), ("Body", "x")]),
            400,
            "To is not a phone number",
        ),
        (
            signed("/webhooks/sms", &[("MessageSid", "SMb7"), ("From", SHARED), ("To", FROM), ("Body", "x"), ("NumMedia", "-1")]),
            400,
            "NumMedia",
        ),
        (signed("/webhooks/sms/status", &[("MessageSid", "SMb8")]), 400, "MessageStatus is required"),
        (signed("/webhooks/sms/status", &[("MessageSid", "SMb9"), ("MessageStatus", "failed"), ("ErrorCode", "x1")]), 400, "ErrorCode"),
    ];
    // Not a form.
    let mut json_req = signed("/webhooks/sms", &sms("SMb10", SHARED, "hi"));
    json_req.headers[0].1 = "application/json".into();
    json_req.body = br#"{"MessageSid":"SMb10","Body":"STOP"}"#.to_vec();
    cases.push((json_req, 415, "content type must be application/x-www-form-urlencoded"));
    let mut no_type = signed("/webhooks/sms", &sms("SMb11", SHARED, "hi"));
    no_type.headers.remove(0);
    cases.push((no_type, 415, "not none"));
    let mut latin1 = signed("/webhooks/sms", &sms("SMb12", SHARED, "hi"));
    latin1.headers[0].1 = "application/x-www-form-urlencoded; charset=iso-8859-1".into();
    cases.push((latin1, 415, "UTF-8"));
    // Invalid UTF-8 in a value, raw or escaped.
    let mut raw = signed("/webhooks/sms", &sms("SMb13", SHARED, "hi"));
    raw.body.extend_from_slice(b"&X=\xff");
    cases.push((raw, 400, "UTF-8"));
    let mut escaped = signed("/webhooks/sms", &sms("SMb14", SHARED, "hi"));
    escaped.body.extend_from_slice(b"&X=%C3%28");
    cases.push((escaped, 400, "UTF-8"));
    let mut broken = signed("/webhooks/sms", &sms("SMb15", SHARED, "hi"));
    broken.body.extend_from_slice(b"&X=100%");
    cases.push((broken, 400, "%-escape"));
    // Oversized.
    let mut big = signed("/webhooks/sms", &sms("SMb16", SHARED, "hi"));
    big.body = vec![b'a'; webhook::MAX_BODY_BYTES + 1];
    cases.push((big, 413, "larger than"));
    // Wrong method and route.
    let mut get = signed("/webhooks/sms", &sms("SMb17", SHARED, "hi"));
    get.method = "GET".into();
    cases.push((get, 405, "use POST"));
    cases.push((signed("/webhooks/other", &sms("SMb18", SHARED, "hi")), 404, "no such webhook"));
    for (req, status, reason) in &cases {
        let r = t.hook(req);
        assert_eq!(r.status, *status, "{reason}: {}", r.text());
        let body: Json = serde_json::from_slice(&r.body).expect("JSON error body");
        assert!(body["error"].as_str().unwrap().contains(reason), "want {reason:?} in {}", r.text());
    }
    assert_eq!(t.footprint(), before);
}

/// A database that fails one kind of statement, like a full disk or a lost
/// libSQL connection in the middle of a transaction.
struct Failing<'a> {
    inner: &'a dyn Db,
    fail_on: &'static str,
    failures: Cell<u32>,
}

impl Db for Failing<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        if sql.contains(self.fail_on) {
            self.failures.set(self.failures.get() + 1);
            return Err(DbError::Unavailable("disk I/O error".into()));
        }
        self.inner.execute(sql, params)
    }
}

#[test]
fn a_storage_failure_answers_5xx_keeps_nothing_and_the_retry_applies_once() {
    let t = T::new();
    let before = t.footprint();
    let req = signed("/webhooks/sms", &sms("SMs1", SHARED, "STOP"));
    let failing = Failing { inner: &t.env.db, fail_on: "INSERT INTO contact_log", failures: Cell::new(0) };
    let r = t.hook_with(&failing, &req);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.outcome, Some("storage_failed"));
    assert!(failing.failures.get() > 0);
    assert!(r.diagnostic.is_some());
    assert_eq!(t.footprint(), before, "the opt-out rolled back with the rest");
    assert!(!t.by_customer_on("T1", SHARED));
    // The provider retries the same delivery: processed once, confirmed once.
    let retry = t.hook(&req);
    assert!(message(&retry).is_some());
    assert!(t.by_customer_on("T1", SHARED));
    assert!(is_empty_twiml(&t.hook(&req)));
    assert_eq!(t.count("SELECT count(*) AS n FROM inbound_messages"), 1);
}

fn outbound(t: &T, sid: &str, to: &str, status: &str) {
    t.env
        .db
        .execute(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, provider_id, detail)
             VALUES ('T1', 'text', 'outbound', ?, 'Your rent is overdue', ?, '2024-03-10T15:00:00.000Z', ?, '{\"stage\":1}')",
            &[to.into(), status.into(), sid.into()],
        )
        .unwrap();
}

fn status_of(t: &T, sid: &str) -> (String, Json) {
    let rows = t.env.db.execute("SELECT status, detail FROM contact_log WHERE provider_id = ?", &[sid.into()]).unwrap();
    let r = rows.first().unwrap();
    (r.string("status").unwrap(), serde_json::from_str(r.str("detail").unwrap()).unwrap())
}

fn callback(t: &T, sid: &str, status: &str, code: Option<&str>, to: &str) -> Response {
    let mut fields = vec![("MessageSid", sid), ("MessageStatus", status), ("To", to), ("From", FROM)];
    if let Some(c) = code {
        fields.push(("ErrorCode", c));
    }
    let r = t.hook(&signed("/webhooks/sms/status", &fields));
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

#[test]
fn status_callbacks_update_the_contact_log_in_order_and_once() {
    let t = T::new();
    outbound(&t, "SMo1", SHARED, "queued");
    callback(&t, "SMo1", "sent", None, SHARED);
    assert_eq!(status_of(&t, "SMo1").0, "sent");
    callback(&t, "SMo1", "delivered", None, SHARED);
    let (status, detail) = status_of(&t, "SMo1");
    assert_eq!(status, "delivered");
    assert_eq!(detail["stage"], json!(1), "existing detail kept");
    assert_eq!(detail["status_at"], json!("2024-03-10T16:00:00.000Z"));
    // A late `sent` never overwrites `delivered`.
    callback(&t, "SMo1", "sending", None, SHARED);
    assert_eq!(status_of(&t, "SMo1").0, "delivered");
    // A repeat changes nothing.
    let before = t.footprint();
    assert_eq!(callback(&t, "SMo1", "delivered", None, SHARED).outcome, Some("duplicate"));
    assert_eq!(t.footprint(), before);
    // A callback for a message we do not know is kept, harmlessly.
    assert_eq!(callback(&t, "SMzz", "delivered", None, UNKNOWN).outcome, Some("recorded"));
    let staff = t.contacts("T1");
    assert_eq!(staff[0]["status"], json!("delivered"));
}

#[test]
fn carrier_codes_mark_numbers_invalid_or_opted_out() {
    let t = T::new();
    outbound(&t, "SMc1", "+16175550123", "sent");
    let r = callback(&t, "SMc1", "undelivered", Some("30006"), "+16175550123");
    assert_eq!(r.outcome, Some("marked_invalid"));
    let (status, detail) = status_of(&t, "SMc1");
    assert_eq!((status.as_str(), detail["error_code"].clone()), ("undelivered", json!("30006")));
    let n = t.env.get("/api/sms-numbers/+16175550123").body_json();
    assert_eq!(n["texting"], json!("invalid"), "{n}");
    assert_eq!(n["carrier_state"]["error_code"], json!("30006"));
    assert_eq!(n["tenant_ids"], json!(["T1"]));
    // Same verdict on another message: already invalid, one audit row.
    outbound(&t, "SMc2", "+16175550123", "sent");
    assert_eq!(callback(&t, "SMc2", "failed", Some("30003"), "+16175550123").outcome, Some("already_invalid"));
    assert_eq!(t.count("SELECT count(*) AS n FROM audit_log WHERE action = 'sms_number.invalid'"), 1);
    // A later delivery shows the number works again.
    outbound(&t, "SMc3", "+16175550123", "sent");
    assert_eq!(callback(&t, "SMc3", "delivered", None, "+16175550123").outcome, Some("invalid_cleared"));
    assert_eq!(t.env.get("/api/sms-numbers/(617) 555-0123").body_json()["texting"], json!("ok"));
    // Codes that say nothing about the number change nothing.
    outbound(&t, "SMc4", "+16175550123", "sent");
    assert_eq!(callback(&t, "SMc4", "undelivered", Some("30007"), "+16175550123").outcome, Some("updated"));
    assert_eq!(t.count("SELECT count(*) AS n FROM sms_number_states"), 0);
    // 21610: the recipient opted out at the carrier: a STOP for every tenant.
    outbound(&t, "SMc5", SHARED, "sent");
    assert_eq!(callback(&t, "SMc5", "failed", Some("21610"), SHARED).outcome, Some("opted_out"));
    assert!(t.by_customer_on("T1", SHARED) && t.by_customer_on("T4", SHARED));
    let n = t.env.get(&format!("/api/sms-numbers/{SHARED}")).body_json();
    assert_eq!(n["texting"], json!("opted_out"));
    assert!(n["by_customer"]["reason"].as_str().unwrap().contains("21610"));
    // No To in the callback: the logged address is used.
    outbound(&t, "SMc6", "+14165550199", "sent");
    let r = t.hook(&signed("/webhooks/sms/status", &[("MessageSid", "SMc6"), ("MessageStatus", "failed"), ("ErrorCode", "21614")]));
    assert_eq!(r.outcome, Some("marked_invalid"));
    assert_eq!(t.env.get("/api/sms-numbers/+14165550199").body_json()["texting"], json!("invalid"));
    assert_eq!(t.env.get("/api/sms-numbers/nonsense").status, 400);
}

#[test]
fn a_fresh_database_is_migrated_by_the_first_webhook() {
    let env = Env::new();
    let req = signed("/webhooks/sms", &sms("SMm1", UNKNOWN, "STOP"));
    let ctx = WebhookContext {
        db: &env.db,
        config: WebhookConfig { public_base_url: BASE, auth_token: AUTH, sms_from: "" },
        now: env.now,
    };
    let r = webhook::handle(&req, &ctx);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(message(&r).unwrap().starts_with("You are unsubscribed"));
    assert_eq!(env.count("SELECT count(*) AS n FROM exclusions WHERE address = '+12125550143'"), 1);
}

/// 47 CFR 64.1200(a)(10) (FCC 2024 consent-revocation order): consent can
/// be revoked by any reasonable means. A reply that is, as a whole, a clear
/// request to stop (English, Spanish, French) opts the number out of texts
/// with the one confirmation allowed, and stays in the inbox flagged for a
/// person. Replies that merely contain "stop" are ordinary inbox text.
#[test]
fn revocation_in_the_tenants_own_words() {
    let t = T::new();
    let revocations = [
        "Please stop texting me",
        "please stop texting me.",
        "Don't text me",
        "DO NOT TEXT ME!!",
        "unsubscribe me",
        "No more messages, thanks",
        "Leave me alone",
        "stop texting me please",
        "No me envíen más mensajes",
        "Déjenme en paz",
        "Arrêtez de m'écrire",
        "Laissez-moi tranquille",
        "Ne me contactez plus svp",
    ];
    for (i, body) in revocations.iter().enumerate() {
        let sid = format!("SMr{i}");
        let r = t.text(&sid, SHARED, body);
        assert!(message(&r).is_some_and(|m| m.contains("START")), "{body:?}: one confirmation naming START: {}", r.text());
        assert!(t.by_customer_on("T1", SHARED), "{body:?} opts the number out");
        let row = t.env.db.execute("SELECT kind, effect, in_inbox, revocation_phrase FROM inbound_messages WHERE message_sid = ?", &[sid.as_str().into()]).unwrap();
        let row = row.first().unwrap();
        assert_eq!((row.str("kind").unwrap(), row.str("effect").unwrap(), row.i64("in_inbox").unwrap()), ("opt_out", "opted_out", 1), "{body:?}");
        assert!(row.opt_str("revocation_phrase").unwrap().is_some(), "{body:?}");
        t.env.db.execute("DELETE FROM exclusions", &[]).unwrap();
    }
    let not_revocations = [
        "I'll stop by Friday to pay",
        "can you stop by",
        "stop the late fee?",
        "Please stop by the office",
        "I can't pay, leave me alone for a week and I'll pay",
        "no more money until Friday",
        "texting me tomorrow is fine",
    ];
    for (i, body) in not_revocations.iter().enumerate() {
        let sid = format!("SMn{i}");
        let r = t.text(&sid, SHARED, body);
        assert!(is_empty_twiml(&r), "{body:?}: no reply");
        assert!(!t.by_customer_on("T1", SHARED), "{body:?} is not a revocation");
        let row = t.env.db.execute("SELECT kind, revocation_phrase FROM inbound_messages WHERE message_sid = ?", &[sid.as_str().into()]).unwrap();
        assert_eq!(row.first().unwrap().str("kind").unwrap(), "text", "{body:?}");
        assert!(row.first().unwrap().opt_str("revocation_phrase").unwrap().is_none());
    }
}

/// A misread revocation is undone by staff, audited; a keyword STOP is not
/// theirs to undo (only the tenant's START lifts it).
#[test]
fn staff_undo_a_misread_revocation() {
    let t = T::new();
    t.text("SMu1", SHARED, "leave me alone");
    assert!(t.by_customer_on("T1", SHARED));
    let page = t.env.get_ok("/api/inbox?status=open");
    let m = page["messages"].as_array().unwrap().iter().find(|m| m["message_sid"] == "SMu1").cloned().unwrap();
    assert_eq!((m["kind"].as_str(), m["revocation_phrase"].as_str()), (Some("opt_out"), Some("LEAVE ME ALONE")), "{m}");
    let id = m["id"].as_i64().unwrap();
    let r = t.env.send("POST", &format!("/api/inbox/{id}/undo-opt-out"), None, b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let m = r.body_json();
    assert!(m["undone_at"].is_string() && m["undone_by"].is_string(), "{m}");
    assert!(!t.by_customer_on("T1", SHARED), "the opt-out is lifted");
    assert_eq!(t.count("SELECT count(*) AS n FROM audit_log WHERE action = 'inbox.undo_opt_out'"), 1);
    // Twice: 409, nothing changes.
    let r = t.env.send("POST", &format!("/api/inbox/{id}/undo-opt-out"), None, b"");
    assert_eq!(r.status, 409);
    // A plain text message is not an opt-out to undo.
    t.text("SMu2", SHARED, "when is rent due?");
    let page = t.env.get_ok("/api/inbox?status=open");
    let plain = page["messages"].as_array().unwrap().iter().find(|m| m["message_sid"] == "SMu2").unwrap()["id"].as_i64().unwrap();
    assert_eq!(t.env.send("POST", &format!("/api/inbox/{plain}/undo-opt-out"), None, b"").status, 409);
    // A later keyword STOP is in force: the phrase's undo cannot lift it.
    t.text("SMu3", SHARED, "no more messages");
    let page = t.env.get_ok("/api/inbox?status=open");
    let third = page["messages"].as_array().unwrap().iter().find(|m| m["message_sid"] == "SMu3").unwrap()["id"].as_i64().unwrap();
    t.env.db.execute("DELETE FROM exclusions", &[]).unwrap();
    t.text("SMu4", SHARED, "STOP");
    assert_eq!(t.env.send("POST", &format!("/api/inbox/{third}/undo-opt-out"), None, b"").status, 409);
    assert!(t.by_customer_on("T1", SHARED), "STOP stays");
}

/// A tenant whose mobile and home numbers are the same is matched once, and
/// the tenants sharing a number are listed by tenant id, whatever order
/// they were imported in.
#[test]
fn a_number_on_two_contact_points_of_a_tenant_matches_it_once() {
    let t = T::new();
    t.env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
         T9,P1,Sam Roe,9A,+1 212 555 0199,+1 212 555 0199,,,,,,,\n\
         T10,P2,Ada Poe,10B,,,+1 212 555 0199,,,,,,\n",
    );
    t.text("SMd1", "+12125550199", "STOP");
    let row = t.env.db.execute("SELECT tenant_ids FROM inbound_messages WHERE message_sid = 'SMd1'", &[]).unwrap();
    assert_eq!(row.first().unwrap().str("tenant_ids").unwrap(), r#"["T10","T9"]"#, "each tenant once, by id as text");
    assert_eq!(t.count("SELECT count(*) AS n FROM contact_log WHERE tenant_id = 'T9' AND provider_id = 'SMd1'"), 1);
    assert_eq!(t.count("SELECT count(*) AS n FROM contact_log WHERE tenant_id = 'T10' AND provider_id = 'SMd1'"), 1);
}

/// Stored tenant ids that are not a JSON array are corrupt data, not "no
/// tenants": the inbox refuses to guess.
#[test]
fn corrupt_tenant_ids_are_an_error() {
    let t = T::new();
    t.text("SMc1", SHARED, "when is rent due?");
    t.env.db.execute("UPDATE inbound_messages SET tenant_ids = 'not json' WHERE message_sid = 'SMc1'", &[]).unwrap();
    let r = t.env.get("/api/inbox");
    assert!(r.status >= 500, "{} {}", r.status, String::from_utf8_lossy(&r.body));
    // A retried delivery of the same message reads the stored row: also refused.
    let r = t.hook(&signed("/webhooks/sms", &sms("SMc1", SHARED, "when is rent due?")));
    assert!(r.status >= 500, "{} {}", r.status, r.text());
}

/// The inbox's counters against counts of the rows themselves, for every
/// filter combination the counters serve.
fn assert_inbox_counters(t: &T) {
    let direct = |filter: &str| t.count(&format!("SELECT count(*) AS n FROM inbound_messages WHERE in_inbox = 1{filter}"));
    for (status, s_filter) in [("open", " AND handled_at IS NULL"), ("handled", " AND handled_at IS NOT NULL"), ("all", "")] {
        for (matched, m_filter) in [("", ""), ("true", " AND tenant_ids <> '[]'"), ("false", " AND tenant_ids = '[]'")] {
            let page = t.env.get_ok(&format!("/api/inbox?status={status}&matched={matched}&limit=1"));
            assert_eq!(page["total"], json!(direct(&format!("{s_filter}{m_filter}"))), "status={status} matched={matched}");
            assert_eq!(page["unread"], json!(direct(" AND read_at IS NULL")));
            assert_eq!(page["open"], json!(direct(" AND handled_at IS NULL")));
        }
    }
}

fn sids(page: &Json) -> Vec<String> {
    page["messages"].as_array().unwrap().iter().map(|m| m["message_sid"].as_str().unwrap().to_owned()).collect()
}

/// Pages read with `before` are the slices of the whole list, newest first,
/// though every message arrived in the same millisecond (the webhook's
/// clock does not move here): ties go by arrival order, newest first.
#[test]
fn inbox_pages_after_a_cursor_are_slices_of_the_whole_list() {
    let t = T::new();
    let from = [SHARED, UNKNOWN, "+16175550123"];
    for i in 0..7 {
        t.text(&format!("SMp{i}"), from[i % 3], &format!("question number {i}"));
    }
    // A keyword is not an inbox item and takes no place in the pages.
    t.text("SMpk", UNKNOWN, "HELP");
    let stamps = t.count("SELECT count(DISTINCT received_at) AS n FROM inbound_messages");
    assert_eq!(stamps, 1, "all at one timestamp");
    let whole: Vec<String> = (0..7).rev().map(|i| format!("SMp{i}")).collect();

    let mut seen = Vec::new();
    let mut path = "/api/inbox?status=all&limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = t.env.get_ok(&path);
        assert_eq!(page["total"], json!(7), "the total counts the whole list on every page");
        let got = sids(&page);
        assert_eq!(got, whole[seen.len()..(seen.len() + 3).min(7)].to_vec(), "page {pages}");
        seen.extend(got);
        pages += 1;
        match page["older"].as_str() {
            Some(cursor) => path = format!("/api/inbox?status=all&limit=3&before={cursor}"),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, whole.clone()), "three pages, nothing lost or repeated");
    // A list that ends exactly at a page boundary has no empty page after it.
    let first = t.env.get_ok("/api/inbox?status=all&limit=7");
    assert_eq!((sids(&first), first["older"].clone()), (whole.clone(), Json::Null));

    // Filters hold across pages: the unmatched inbox (from UNKNOWN: 1 and 4).
    let page = t.env.get_ok("/api/inbox?status=all&matched=false&limit=1");
    assert_eq!((sids(&page), page["total"].clone()), (vec!["SMp4".to_owned()], json!(2)));
    let next = t.env.get_ok(&format!("/api/inbox?status=all&matched=false&limit=1&before={}", page["older"].as_str().unwrap()));
    assert_eq!((sids(&next), next["older"].clone()), (vec!["SMp1".to_owned()], Json::Null));

    // Offset still works for existing callers, and its page has a cursor too.
    let by_offset = t.env.get_ok("/api/inbox?status=all&limit=3&offset=3");
    assert_eq!(sids(&by_offset), whole[3..6].to_vec());
    let after = t.env.get_ok(&format!("/api/inbox?status=all&limit=3&before={}", by_offset["older"].as_str().unwrap()));
    assert_eq!(sids(&after), whole[6..].to_vec());

    for bad in ["x", "0", "-3", "1.5"] {
        let r = t.env.get(&format!("/api/inbox?before={bad}"));
        assert_eq!(r.status, 400, "before={bad}");
        assert_eq!(r.body_json()["error"], json!("before must be a cursor from `older`"));
    }
}

/// The counters behind `total`, `unread` and `open` equal the rows after
/// every kind of write: arrival (matched, unmatched, keyword), read,
/// handled, reopened, an undone opt-out, a row deleted, and the backfill of
/// an inbox that existed before the counters did.
#[test]
fn inbox_counters_follow_every_write() {
    let t = T::new();
    assert_inbox_counters(&t);
    t.text("SMc1", SHARED, "paying Friday");
    t.text("SMc2", UNKNOWN, "wrong number?");
    t.text("SMc3", SHARED, "leave me alone");
    t.text("SMc4", UNKNOWN, "STOP");
    assert_inbox_counters(&t);
    let page = t.env.get_ok("/api/inbox?status=all");
    let id_of = |sid: &str| page["messages"].as_array().unwrap().iter().find(|m| m["message_sid"] == sid).unwrap()["id"].as_i64().unwrap();
    let (c1, c2, c3) = (id_of("SMc1"), id_of("SMc2"), id_of("SMc3"));
    for (method, path) in [
        ("POST", format!("/api/inbox/{c1}/read")),
        ("POST", format!("/api/inbox/{c1}/read")),
        ("POST", format!("/api/inbox/{c2}/handled")),
        ("POST", format!("/api/inbox/{c1}/handled")),
        ("DELETE", format!("/api/inbox/{c2}/handled")),
        ("POST", format!("/api/inbox/{c3}/undo-opt-out")),
    ] {
        let r = t.env.send(method, &path, None, b"");
        assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
        assert_inbox_counters(&t);
    }
    // Known from the steps: c1 read and handled, c2 handled (so read) then
    // reopened, c3 untouched but undone: 3 in the inbox, 2 open, 1 unread.
    let page = t.env.get_ok("/api/inbox?status=all");
    assert_eq!((page["total"].clone(), page["open"].clone(), page["unread"].clone()), (json!(3), json!(2), json!(1)));
    t.env.db.execute("DELETE FROM inbound_messages WHERE id = ?", &[c2.into()]).unwrap();
    assert_inbox_counters(&t);
    t.env.db.execute("UPDATE inbound_messages SET in_inbox = 0 WHERE id = ?", &[c3.into()]).unwrap();
    assert_inbox_counters(&t);

    // An inbox from before the counters: the migration fills them.
    t.text("SMc5", SHARED, "one more");
    let triggers = t.env.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE 'inbox_counts_%' OR name LIKE 'outbox_state_counts_%')", &[]).unwrap();
    assert_eq!(triggers.len(), 6);
    for r in triggers.iter() {
        t.env.db.execute(&format!("DROP TRIGGER {}", r.str("name").unwrap()), &[]).unwrap();
    }
    t.env.db.execute("DROP TABLE inbox_counts", &[]).unwrap();
    t.env.db.execute("DROP TABLE outbox_state_counts", &[]).unwrap();
    // (Migration 13 dropped this index again; migration 12 alone makes it.)
    t.env.db.execute("DROP INDEX IF EXISTS inbound_messages_received", &[]).unwrap();
    t.env.db.execute("DELETE FROM schema_migrations WHERE version = 12", &[]).unwrap();
    assert_eq!(rentmsg::schema::migrate(&t.env.db, t.env.now).unwrap(), vec![12]);
    assert_inbox_counters(&t);
}

#[test]
fn a_stops_stored_details_keep_their_json_shape() {
    let t = T::new();
    assert!(message(&t.text("SMshape1", UNKNOWN, "STOP")).is_some());
    let detail = |sql: &str| -> Vec<String> {
        t.env.db.execute(sql, &[]).unwrap().iter().map(|r| r.string("detail").unwrap()).collect()
    };
    let inbound_id = t.count("SELECT id AS n FROM inbound_messages WHERE message_sid = 'SMshape1'");
    assert_eq!(
        detail("SELECT detail FROM contact_log WHERE provider_id = 'SMshape1' ORDER BY id"),
        vec![format!(
            "{{\"effect\":\"opted_out\",\"inbound_id\":{inbound_id},\"keyword\":\"STOP\",\"kind\":\"opt_out\",\"num_media\":0,\"provider_opt_out_type\":null,\"revocation_phrase\":null}}"
        )]
    );
    assert_eq!(
        detail("SELECT detail FROM contact_log WHERE detail LIKE '%\"in_reply_to\":\"SMshape1\"%'"),
        vec!["{\"auto_reply\":\"opt_out\",\"in_reply_to\":\"SMshape1\",\"via\":\"twiml\"}".to_owned()]
    );
    assert!(message(&t.text("SMshape2", UNKNOWN, "START")).is_some());
    assert_eq!(
        detail("SELECT detail FROM audit_log WHERE action = 'exclusions.number_by_customer' ORDER BY id"),
        vec![
            format!("{{\"message_sid\":\"SMshape1\",\"on\":true,\"reason\":\"{}\"}}", rentmsg::records::exclusions::CUSTOMER_STOP_REASON),
            "{\"message_sid\":\"SMshape2\",\"on\":false}".to_owned(),
        ]
    );
}
