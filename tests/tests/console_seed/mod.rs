//! The portfolio the console tests share.

#![allow(dead_code)]

use chrono::{Duration, Timelike, Utc};
use e2e::twilio::{accepting_messages_api, form_body, inbound_sms, signature};
use e2e::{json, App, FakeServer};

/// A fixed-offset zone where it is about midday now, so the calling window
/// (08:00-21:00 local) is open whenever the test runs. `Etc/GMT-5` is UTC+5.
pub fn midday_zone() -> (String, i64) {
    let offset = 12 - i64::from(Utc::now().hour());
    let name = match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    (name, offset)
}

/// The tenant-local date `days` from now.
pub fn local_date(offset_hours: i64, days: i64) -> String {
    (Utc::now() + Duration::hours(offset_hours) + Duration::days(days)).format("%Y-%m-%d").to_string()
}

/// One property, two overdue tenants (C1 owes more for longer), one paid up.
/// Toll-free numbers ring in no zone of their own, so only the tenant's
/// (midday) zone applies.
pub fn seed(app: &App) -> (String, i64) {
    let (zone, offset) = midday_zone();
    let (s, r) = app.import("properties", &format!("property_id,name,time_zone,state,country\nP1,Harbor Storage,{zone},NY,US\n"));
    assert_eq!(s, 200, "{r}");
    let (s, r) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n\
         C1,P1,Casey Jones,12,(888) 555-0134,,,casey@example.com,,,,,\n\
         C2,P1,Robin Lee,14,(877) 555-0188,,,,,,,,\n\
         C3,P1,Dana Paid,15,(866) 555-0101,,,,,,,,\n",
    );
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["rejected"], json!([]), "{r}");
    let ledger = format!(
        "tenant_id,date,due_date,kind,amount,reference\nC1,{d20},{d20},charge,640.00,R1\nC2,{d5},{d5},charge,120.00,R2\nC3,{d5},{d5},charge,100.00,R3\nC3,{d1},,payment,100.00,P3\n",
        d20 = local_date(offset, -20),
        d5 = local_date(offset, -5),
        d1 = local_date(offset, -1),
    );
    let (s, r) = app.import("ledger", &ledger);
    assert_eq!(s, 200, "{r}");
    (zone, offset)
}


/// An app that texts from `from` through a fake Messages API for account
/// `account_sid` that accepts every message (kept, for the test to read).
pub fn app_with_messages_api(auth_token: &str, public_base_url: &str, from: &str, account_sid: &str) -> (App, FakeServer) {
    let sms = accepting_messages_api(account_sid);
    let app = App::builder()
        .variable("sms_auth_token", auth_token)
        .variable("public_base_url", public_base_url)
        .variable("sms_from", from)
        .variable("sms_api_base", sms.base.as_str())
        .variable("sms_account_sid", account_sid)
        .start();
    (app, sms)
}

/// A tenant's text from `from` to `to`, signed as the provider signs it,
/// delivered to the app's SMS webhook; the webhook must take it (200).
pub fn receive_text(app: &App, auth_token: &str, public_base_url: &str, message_sid: &str, from: &str, to: &str, body: &str) {
    let fields = inbound_sms(message_sid, from, to, body);
    let r = app
        .client
        .post(app.url("/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature(auth_token, &format!("{public_base_url}/webhooks/sms"), &fields))
        .body(form_body(&fields))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
