//! Compliance through the local host: `POST /api/compliance/check` answers
//! through the compliance component (a Spin component dependency of the
//! staff console), and gives the same decisions as the native core on the
//! same database.

use e2e::{json, App, Json};
use rentmsg::base::channel::Channel;
use rentmsg::compliance::{self, CheckRequest};
use rentmsg::base::db::{Db, NativeDb};

/// Saturday 2024-06-01 12:00 in New York.
const NOON_NY: &str = "2024-06-01T16:00:00Z";

fn check(app: &App, body: Json) -> Json {
    let (status, out) = app.staff_post("/api/compliance/check", &body);
    assert_eq!(status, 200, "{body} -> {out}");
    out
}

fn rules(out: &Json) -> Vec<String> {
    out["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_owned()).collect()
}

fn setup(app: &App) {
    let (s, b) = app.import(
        "properties",
        "property_id,name,time_zone,state,country\n\
         p-ny,Main St,America/New_York,NY,US\n\
         p-on,Queen St,America/Toronto,ON,CA\n",
    );
    assert_eq!((s, b["created"].clone()), (200, json!(2)), "{b}");
    let (s, b) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
         t-ny,p-ny,Pat Doe,1A,(212) 555-0100,,,pat@example.com,pat@employer.example,,,,g1\n\
         t-la,p-ny,Lee Roe,1B,(415) 555-0100,,,,,,,,\n\
         t-on,p-on,Sam Poe,2,(416) 555-0100,,,,,,,,\n",
    );
    assert_eq!((s, b["created"].clone()), (200, json!(3)), "{b}");
    for t in ["t-ny", "t-la", "t-on"] {
        let (s, b) = app.staff_put(&format!("/api/tenants/{t}/consent"), &json!({"status": "opted_in", "evidence": "lease section 12"}));
        assert_eq!(s, 200, "{b}");
    }
}

#[test]
fn staff_check_route_decides_through_the_component() {
    let app = App::start();
    setup(&app);

    // Bad input and unknown tenants.
    let (s, b) = app.staff_post("/api/compliance/check", &json!({"tenant_id": "nobody", "channel": "text"}));
    assert_eq!(s, 404, "{b}");
    for bad in [
        json!({"tenant_id": "t-ny", "channel": "fax"}),
        json!({"tenant_id": "t-ny", "channel": "text", "at": "tomorrow"}),
        json!({"tenant_id": "t-ny", "channel": "text", "address": "pat@example.com"}),
        json!({"tenant_id": "t-ny", "channel": "letter", "address": "+12125550100"}),
        json!({"channel": "text"}),
    ] {
        let (s, b) = app.staff_post("/api/compliance/check", &bad);
        assert_eq!(s, 400, "{bad} -> {b}");
        assert!(b["error"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    }

    // Opted in, midday: allowed; the usual address is named.
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
    assert_eq!(out["address"], "+12125550100");
    assert_eq!(out["reasons"], json!([]));

    // 07:00 in New York: deferred to 08:00 local by the Reg F window.
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": "2024-06-01T11:00:00Z"}));
    assert_eq!(out["decision"], "defer", "{out}");
    assert_eq!(out["defer_until"], "2024-06-01T12:00:00.000Z");
    assert_eq!(rules(&out), ["window:us-reg-f-text"]);

    // A California mobile on a New York tenant: only the overlap (08:00 Pacific = 11:00 New York).
    let out = check(&app, json!({"tenant_id": "t-la", "channel": "phone", "at": "2024-06-01T14:00:00Z"}));
    assert_eq!((out["decision"].as_str(), out["defer_until"].as_str()), (Some("defer"), Some("2024-06-01T15:00:00.000Z")), "{out}");

    // Ontario on a Sunday morning: not before 13:00.
    let out = check(&app, json!({"tenant_id": "t-on", "channel": "phone", "at": "2024-06-02T14:00:00Z"}));
    assert_eq!(rules(&out), ["window:on-phone"], "{out}");
    assert_eq!(out["defer_until"], "2024-06-02T17:00:00.000Z");

    // Work email: not without consent for that very address.
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "email", "address": "Pat@Employer.example", "at": NOON_NY, "manual": true}));
    assert_eq!(rules(&out), ["work_email:us-reg-f-email"], "{out}");

    // Exclusions, each with its scope.
    let (s, b) = app.staff_put("/api/tenants/t-ny/exclusions", &json!({"bankruptcy": {"on": true, "reason": "chapter 7 filed"}}));
    assert_eq!(s, 200, "{b}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY}));
    assert_eq!((out["decision"].as_str(), rules(&out)), (Some("block"), vec!["exclusion.bankruptcy".to_owned()]), "{out}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "phone", "at": NOON_NY, "manual": true}));
    assert_eq!(out["decision"], "allow", "manual calls stay possible: {out}");
    // The block is logged with its rule, as a JSON line without the address.
    let logged = |log: &str| log.lines().any(|l| l.contains(r#""component":"compliance""#) && l.contains("exclusion.bankruptcy") && l.contains(r#""tenant_id":"t-ny""#));
    let log = app.log_when(logged);
    assert!(
        logged(&log),
        "{log}"
    );
    assert!(!log.contains("555-0100") && !log.contains("5550100"), "no phone numbers in logs: {log}");
    app.staff_put("/api/tenants/t-ny/exclusions", &json!({"bankruptcy": {"on": false}, "disable_texting_auto_calls": true}));
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY, "manual": true}));
    assert_eq!(rules(&out), ["exclusion.disable_texting_auto_calls"], "manual texts too: {out}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "email", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
    app.staff_put("/api/tenants/t-ny/exclusions", &json!({"disable_texting_auto_calls": false}));
    let (s, b) = app.staff_put("/api/tenants/t-ny/contact-points/mobile_phone/exclusion", &json!({"on": true, "reason": "asked by phone"}));
    assert_eq!(s, 200, "{b}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY, "manual": true}));
    assert_eq!(rules(&out), ["exclusion.number_by_user"], "{out}");
    app.staff_put("/api/tenants/t-ny/contact-points/mobile_phone/exclusion", &json!({"on": false}));

    // Consent withdrawn for texts only.
    app.staff_put("/api/tenants/t-ny/consent", &json!({"status": "opted_out", "channel": "text"}));
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY}));
    assert_eq!(rules(&out), ["consent"], "{out}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "email", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
}

/// The text window through the host on both sides of New York's two DST
/// changes in 2024, for a tenant of a New York property with a Manhattan
/// mobile (212: the number rings in New York too), opted in, nothing else
/// in the way. Reg F (the US pack): texts only from 08:00 to 21:00 at the
/// consumer's location, in local wall-clock time whatever the offset.
///
/// The calendar, by hand: New York is EST (UTC-5) in winter and EDT (UTC-4)
/// in summer; in 2024 it springs forward on Sunday 10 March at 02:00 EST
/// (07:00 UTC; 02:00 becomes 03:00 EDT) and falls back on Sunday 3 November
/// at 02:00 EDT (06:00 UTC; 02:00 becomes 01:00 EST). So 08:00 local is
/// 13:00 UTC on an EST day and 12:00 UTC on an EDT day; 21:00 local is
/// 02:00 UTC the next day on an EST day and 01:00 UTC on an EDT day. Each
/// moment below is paired with its local time; a zone stuck on one offset
/// would get at least one side of each change wrong.
#[test]
fn the_text_window_follows_new_york_local_time_across_both_dst_changes() {
    let app = App::start();
    setup(&app);
    const DEFER: &str = "defer";
    let cases: [(&str, &str, &str, Option<&str>); 10] = [
        // Saturday 9 March, still EST: 12:30 UTC is 07:30, before 08:00;
        // the window opens at 08:00 EST, 13:00 UTC.
        ("2024-03-09T12:30:00Z", "Sat 07:30 EST", DEFER, Some("2024-03-09T13:00:00.000Z")),
        // Sunday 10 March, now EDT: the same 12:30 UTC is 08:30, inside.
        ("2024-03-10T12:30:00Z", "Sun 08:30 EDT", "allow", None),
        // 06:30 UTC is 01:30 EST, before the change; 08:00 that morning is
        // already EDT, 12:00 UTC (not 13:00).
        ("2024-03-10T06:30:00Z", "Sun 01:30 EST", DEFER, Some("2024-03-10T12:00:00.000Z")),
        // Evening of the change: 00:30 UTC on the 11th is 20:30 EDT on the
        // 10th (inside), 01:30 UTC is 21:30 EDT (the window has closed; it
        // reopens Monday 08:00 EDT, 12:00 UTC).
        ("2024-03-11T00:30:00Z", "Sun 20:30 EDT", "allow", None),
        ("2024-03-11T01:30:00Z", "Sun 21:30 EDT", DEFER, Some("2024-03-11T12:00:00.000Z")),
        // Saturday 2 November, still EDT: 12:30 UTC is 08:30, inside.
        ("2024-11-02T12:30:00Z", "Sat 08:30 EDT", "allow", None),
        // Sunday 3 November, now EST: the same 12:30 UTC is 07:30, before
        // 08:00 EST, which is 13:00 UTC.
        ("2024-11-03T12:30:00Z", "Sun 07:30 EST", DEFER, Some("2024-11-03T13:00:00.000Z")),
        // 05:30 UTC is the first 01:30 of the night (EDT), before the change;
        // 08:00 that morning is EST, 13:00 UTC (not 12:00).
        ("2024-11-03T05:30:00Z", "Sun 01:30 EDT", DEFER, Some("2024-11-03T13:00:00.000Z")),
        // Evening after the change: 01:30 UTC on the 4th is 20:30 EST on the
        // 3rd (inside), 02:30 UTC is 21:30 EST (closed until Monday 08:00
        // EST, 13:00 UTC).
        ("2024-11-04T01:30:00Z", "Sun 20:30 EST", "allow", None),
        ("2024-11-04T02:30:00Z", "Sun 21:30 EST", DEFER, Some("2024-11-04T13:00:00.000Z")),
    ];
    let mut wrong = Vec::new();
    for (at, local, decision, defer_until) in cases {
        let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": at}));
        let want_rules: Vec<String> = if decision == DEFER { vec!["window:us-reg-f-text".into()] } else { Vec::new() };
        let got = (out["decision"].as_str(), out["defer_until"].as_str(), rules(&out));
        if got != (Some(decision), defer_until, want_rules.clone()) {
            wrong.push(format!("{at} ({local}): expected {decision} {defer_until:?} {want_rules:?}, got {out}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn contact_controls_are_data_staff_can_edit() {
    let app = App::start();
    setup(&app);

    let (s, list) = app.staff_get("/api/contact-controls");
    assert_eq!(s, 200);
    let keys: Vec<&str> = list["controls"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    for k in ["default-phone", "us-reg-f-phone", "ma-home-mobile-phone", "wa-text", "on-phone", "qc-email"] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let (s, codes) = app.staff_get("/api/call-result-codes");
    assert_eq!(s, 200);
    assert_eq!(codes["codes"].as_array().unwrap().len(), 35);
    assert_eq!(codes["codes"][4], json!({"code": 4, "label": "Spoke to debtor, verified right party"}));

    // Narrow the US text window: 09:00 New York now defers to 10:00.
    let (s, mut us_text) = app.staff_get("/api/contact-controls/us-reg-f-text");
    assert_eq!((s, us_text["pack"].as_str()), (200, Some("us-reg-f")));
    us_text["window"] = json!("10:00-20:00");
    for k in ["pack", "created_at", "updated_at"] {
        us_text.as_object_mut().unwrap().remove(k);
    }
    let (s, b) = app.staff_put("/api/contact-controls/us-reg-f-text", &us_text);
    assert_eq!(s, 200, "{b}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": "2024-06-01T13:00:00Z"}));
    assert_eq!((rules(&out), out["defer_until"].as_str()), (vec!["window:us-reg-f-text".to_owned()], Some("2024-06-01T14:00:00.000Z")), "{out}");

    // Invalid edits are refused with a reason.
    let (s, b) = app.staff_put("/api/contact-controls/us-reg-f-text", &json!({"channel": "text", "window": "20:00-10:00"}));
    assert_eq!(s, 400, "{b}");
    let (s, _) = app.staff_put("/api/contact-controls/nope", &json!({"channel": "text"}));
    assert_eq!(s, 404);

    // A staff control: no letters at all in the US.
    let (s, b) = app.staff_post(
        "/api/contact-controls",
        &json!({"key": "no-letters", "channel": "letter", "country": "us", "description": "Letters paused", "max_contacts": 0, "period": "month"}),
    );
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["country"], "US");
    let (s, _) = app.staff_post("/api/contact-controls", &json!({"key": "no-letters", "channel": "letter"}));
    assert_eq!(s, 409);
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "letter", "at": NOON_NY}));
    assert_eq!(rules(&out), ["frequency:no-letters"], "{out}");
    let (s, _) = app.staff(reqwest::Method::DELETE, "/api/contact-controls/no-letters").send().map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!(s, 200);
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "letter", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
}

/// The route (through the component) and the native core agree on the same
/// database, including frequency limits and hold-for over a seeded log.
#[test]
fn route_and_native_core_give_the_same_decisions() {
    let app = App::start();
    setup(&app);
    let db = NativeDb::open(app.state_dir.join("sqlite_db.db")).unwrap();
    // Six call attempts this week and a right-party contact on an Ontario tenant.
    let log = |tenant: &str, address: &str, channel: &str, at: &str, code: Option<i64>| {
        db.execute(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, call_result)
             VALUES (?, ?, 'outbound', ?, '', 'completed', ?, ?)",
            &[tenant.into(), channel.into(), address.into(), at.into(), code.into()],
        )
        .unwrap();
    };
    for day in 26..=31 {
        log("t-ny", "+12125550100", "phone", &format!("2024-05-{day}T15:00:00.000Z"), Some(1));
    }
    log("t-on", "+14165550100", "phone", "2024-05-30T15:00:00.000Z", Some(4));
    log("t-on", "+14165550100", "text", "2024-05-31T15:00:00.000Z", None);

    let mut compared = 0;
    for tenant in ["t-ny", "t-la", "t-on", "nobody"] {
        for channel in ["text", "email", "phone", "letter"] {
            for manual in [false, true] {
                for at in ["2024-06-01T16:00:00Z", "2024-06-01T11:30:00Z", "2024-06-02T03:00:00Z", "2024-06-09T15:00:00Z"] {
                    let body = json!({"tenant_id": tenant, "channel": channel, "at": at, "manual": manual});
                    let (status, out) = app.staff_post("/api/compliance/check", &body);
                    let request = CheckRequest {
                        tenant_id: tenant.into(),
                        channel: channel.parse::<Channel>().unwrap(),
                        address: None,
                        at: compliance::load::parse_at(at).unwrap(),
                        manual,
                    };
                    match compliance::check(&db, &request) {
                        Ok(native) => {
                            assert_eq!(status, 200, "{body} -> {out}");
                            let mut want = native.to_json();
                            for k in ["tenant_id", "channel", "at", "manual"] {
                                want[k] = out[k].clone();
                            }
                            assert_eq!(out, want, "{body}");
                        }
                        Err(e) => assert_eq!((status, tenant), (404, "nobody"), "{body}: {e}"),
                    }
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 128);
    // The seeded log is seen through the component.
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "phone", "at": NOON_NY}));
    assert_eq!((out["decision"].as_str(), out["near_limit"].as_bool()), (Some("allow"), Some(true)), "{out}");
    assert_eq!(out["warnings"][0]["rule"], "frequency:us-reg-f-phone");
    let out = check(&app, json!({"tenant_id": "t-on", "channel": "phone", "at": "2024-06-03T16:00:00Z"}));
    assert_eq!(rules(&out), ["hold_for:default-phone"], "{out}");
}

/// A number the carrier reports unusable for texts (a signed delivery
/// status callback with ErrorCode 30006) is blocked for texts, automatic
/// and manual, in the check route; calls to it stay with the other rules;
/// a later delivery lifts it.
#[test]
fn carrier_invalid_number_blocks_texts_through_the_status_webhook() {
    use e2e::twilio::{form_body, signature};
    const AUTH: &str = "e2e-compliance-sms-auth-7f3a";
    const PUBLIC: &str = "https://rent.example.test";
    let app = App::builder().variable("sms_auth_token", AUTH).variable("public_base_url", PUBLIC).start();
    setup(&app);
    let status_callback = |fields: &[(&str, &str)]| {
        let resp = app
            .client
            .post(app.url("/webhooks/sms/status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature(AUTH, &format!("{PUBLIC}/webhooks/sms/status"), fields))
            .body(form_body(fields))
            .send()
            .expect("POST status callback");
        assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap_or_default());
    };

    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
    status_callback(&[("MessageSid", "SMc0mp001"), ("MessageStatus", "undelivered"), ("ErrorCode", "30006"), ("To", "+12125550100")]);
    assert_eq!(app.staff_get("/api/sms-numbers/+12125550100").1["texting"], json!("invalid"));

    for manual in [false, true] {
        let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY, "manual": manual}));
        assert_eq!((out["decision"].as_str(), rules(&out)), (Some("block"), vec!["number_state.invalid".to_owned()]), "{out}");
        let detail = out["reasons"][0]["detail"].as_str().unwrap();
        assert!(detail.contains("error 30006"), "the carrier's code is named: {detail}");
    }
    // Calls to the number are decided by the other rules as before.
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "phone", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "phone", "at": "2024-06-01T11:00:00Z", "manual": true}));
    assert_eq!(rules(&out), ["window:us-reg-f-phone"], "{out}");
    // Other tenants' numbers are untouched.
    let out = check(&app, json!({"tenant_id": "t-la", "channel": "text", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");

    // A delivery to the number shows the carrier reaches it again.
    status_callback(&[("MessageSid", "SMc0mp002"), ("MessageStatus", "delivered"), ("To", "+12125550100")]);
    let out = check(&app, json!({"tenant_id": "t-ny", "channel": "text", "at": NOON_NY}));
    assert_eq!(out["decision"], "allow", "{out}");
}
