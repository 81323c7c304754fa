//! The shipped rule packs against the law and the calendar.
//!
//! - One test per rule fixed by migration 7, each naming the law it follows.
//! - A table of dated cases per pack: both DST changes, each holiday, the
//!   moved holidays, the first and last minute of each window, and the
//!   overlap of the tenant's and the number's zones. Expected values are
//!   worked out from the law and the calendar in the comments.
//! - Every pack's holiday list checked, day by day for 2025-2035, against
//!   an independent computation written here (Meeus/Jones/Butcher Easter
//!   and the observed-day rules).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rentmsg::base::channel::Channel;
use rentmsg::base::db::NativeDb;
use rentmsg::compliance::controls::Control;
use rentmsg::compliance::decide::{decide, Facts, PastContact, Proposed, Target, Verdict};
use rentmsg::compliance::{store, zones};
use rentmsg::records::consent::{ConsentEvent, ConsentStatus};
use rentmsg::records::tenants::ContactKind;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The default packs as a fresh database has them (migrations 2 and 7).
fn packs() -> &'static [Control] {
    static PACKS: OnceLock<Vec<Control>> = OnceLock::new();
    PACKS.get_or_init(|| {
        let db = NativeDb::open_in_memory().unwrap();
        rentmsg::schema::migrate(&db, Utc::now()).unwrap();
        store::all_rules(&db).unwrap()
    })
}

fn pack(key: &str) -> &'static Control {
    packs().iter().find(|c| c.key == key).unwrap_or_else(|| panic!("no pack row {key}"))
}

fn without(prefixes: &[&str]) -> Vec<Control> {
    packs().iter().filter(|c| !prefixes.iter().any(|p| c.key.starts_with(p))).cloned().collect()
}

#[derive(Clone, Copy)]
enum Region {
    NewYork,
    Massachusetts,
    Washington,
    Ontario,
    Quebec,
    Arizona,
}

impl Region {
    fn zone(self) -> Tz {
        match self {
            Region::NewYork | Region::Massachusetts => Tz::America__New_York,
            Region::Washington => Tz::America__Los_Angeles,
            Region::Ontario | Region::Quebec => Tz::America__Toronto,
            Region::Arizona => Tz::America__Phoenix,
        }
    }
    fn state_country(self) -> (&'static str, &'static str) {
        match self {
            Region::NewYork => ("NY", "US"),
            Region::Massachusetts => ("MA", "US"),
            Region::Washington => ("WA", "US"),
            Region::Ontario => ("ON", "CA"),
            Region::Quebec => ("QC", "CA"),
            Region::Arizona => ("AZ", "US"),
        }
    }
    /// A mobile number in the region's own area code.
    fn mobile(self) -> &'static str {
        match self {
            Region::NewYork => "+12125550100",
            Region::Massachusetts => "+16175550100",
            Region::Washington => "+12065550100",
            Region::Ontario => "+14165550100",
            Region::Quebec => "+15145550100",
            Region::Arizona => "+19285550100",
        }
    }
}

fn point(address: &str, kind: ContactKind) -> Target {
    Target::Point { address: address.into(), kind, zones: zones::zones_for_number(address).to_vec() }
}

/// A tenant of `region`, opted in tenant-wide, contacted at `address` (`kind`).
fn tenant(region: Region, address: &str, kind: ContactKind) -> Facts {
    let (state, country) = region.state_country();
    Facts {
        tenant_id: "T1".into(),
        time_zone: Some(region.zone()),
        state: Some(state.into()),
        country: country.into(),
        target: point(address, kind),
        consent: vec![ConsentEvent {
            id: 1,
            tenant_id: "T1".into(),
            channel: None,
            address: None,
            status: ConsentStatus::OptedIn,
            evidence: Some("lease".into()),
            actor: "staff".into(),
            source: "test".into(),
            at: "2020-01-01T00:00:00.000Z".into(),
        }],
        bankruptcy: false,
        disable_texting_auto_calls: false,
        disable_auto_communications: false,
        excluded_by_customer: false,
        excluded_by_user: false,
        number_invalid: None,
        history: vec![],
    }
}

fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap().with_timezone(&Utc)
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn past(at: DateTime<Utc>, channel: Channel, kind: ContactKind) -> PastContact {
    PastContact { at, channel, outbound: true, kind: Some(kind), call_result: Some(1), own: true }
}

fn run(facts: &Facts, channel: Channel, t: DateTime<Utc>, rules: &[Control]) -> (Verdict, Vec<String>, Option<DateTime<Utc>>) {
    let d = decide(facts, &Proposed { channel, at: t, manual: false }, rules);
    (d.verdict, d.reasons.iter().map(|r| r.rule.clone()).collect(), d.defer_until)
}

// ---------------------------------------------------------------- one test per rule

/// Legislation Act, 2006 (Ontario), s. 87: Easter Monday is a holiday, and
/// R.R.O. 1990, Reg. 74 allows no collection contact on a holiday.
/// 2025: Easter Sunday is April 20, so Easter Monday is April 21.
#[test]
fn ontario_easter_monday_is_closed() {
    let on = tenant(Region::Ontario, Region::Ontario.mobile(), ContactKind::MobilePhone);
    let tz = Region::Ontario.zone();
    let (v, r, until) = run(&on, Channel::Text, at(tz, 2025, 4, 21, 10, 0), packs());
    assert_eq!((v, r), (Verdict::Defer, vec!["window:on-text".to_owned()]));
    // Tuesday April 22, 07:00 EDT (UTC-4).
    assert_eq!(until, Some(utc(2025, 4, 22, 11, 0)));
}

/// Legislation Act, 2006, s. 87: Remembrance Day (November 11) is a
/// holiday. 2025-11-11 is a Tuesday.
#[test]
fn ontario_remembrance_day_is_closed() {
    let on = tenant(Region::Ontario, Region::Ontario.mobile(), ContactKind::MobilePhone);
    let (v, _, until) = run(&on, Channel::Phone, at(Region::Ontario.zone(), 2025, 11, 11, 10, 0), packs());
    assert_eq!(v, Verdict::Defer);
    // Wednesday November 12, 07:00 EST (UTC-5).
    assert_eq!(until, Some(utc(2025, 11, 12, 12, 0)));
}

/// Legislation Act, 2006, s. 88: when New Year's Day falls on a Sunday the
/// Monday after is a holiday too. 2034-01-01 is a Sunday.
#[test]
fn ontario_new_years_day_on_a_sunday_closes_monday() {
    let on = tenant(Region::Ontario, Region::Ontario.mobile(), ContactKind::MobilePhone);
    let (v, _, until) = run(&on, Channel::Email, at(Region::Ontario.zone(), 2034, 1, 2, 10, 0), packs());
    assert_eq!(v, Verdict::Defer);
    // Tuesday January 3, 07:00 EST.
    assert_eq!(until, Some(utc(2034, 1, 3, 12, 0)));
}

/// Canada Day is July 2 when July 1 is a Sunday (Holidays Act, s. 2, read
/// into the Legislation Act, 2006, s. 88). 2029-07-01 is a Sunday.
#[test]
fn ontario_canada_day_moves_to_monday() {
    let on = tenant(Region::Ontario, Region::Ontario.mobile(), ContactKind::MobilePhone);
    let (v, _, until) = run(&on, Channel::Text, at(Region::Ontario.zone(), 2029, 7, 2, 10, 0), packs());
    assert_eq!(v, Verdict::Defer);
    // Tuesday July 3, 07:00 EDT.
    assert_eq!(until, Some(utc(2029, 7, 3, 11, 0)));
}

/// Christmas on a Saturday (2027-12-25): Boxing Day is the Sunday and the
/// Monday after (December 27) is a holiday too. Christmas on a Sunday
/// (2033-12-25): Boxing Day is Monday the 26th and the Tuesday (27th) is a
/// holiday.
#[test]
fn ontario_christmas_on_a_weekend_moves_the_holidays() {
    let on = tenant(Region::Ontario, Region::Ontario.mobile(), ContactKind::MobilePhone);
    let tz = Region::Ontario.zone();
    let (v, _, until) = run(&on, Channel::Text, at(tz, 2027, 12, 27, 10, 0), packs());
    assert_eq!((v, until), (Verdict::Defer, Some(utc(2027, 12, 28, 12, 0))), "Tuesday Dec 28 07:00 EST");
    let (v, _, until) = run(&on, Channel::Text, at(tz, 2033, 12, 26, 10, 0), packs());
    assert_eq!((v, until), (Verdict::Defer, Some(utc(2033, 12, 28, 12, 0))), "Wednesday Dec 28 07:00 EST");
}

/// The Ontario packs cite the regulation that exists: R.R.O. 1990, Reg. 74
/// under the Collection and Debt Settlement Services Act.
#[test]
fn ontario_packs_cite_reg_74() {
    for key in ["on-phone", "on-text", "on-email"] {
        let d = &pack(key).description;
        assert!(d.contains("R.R.O. 1990, Reg. 74"), "{key}: {d}");
        assert!(!d.contains("74/95"), "{key}: {d}");
    }
}

/// Act respecting the collection of certain debts, CQLR c., s. 34(4):
/// no contact on a holiday; when July 1 is a Sunday the holiday is July 2.
/// 2029-07-01 is a Sunday (closed in Quebec anyway).
#[test]
fn quebec_canada_day_moves_to_monday() {
    let qc = tenant(Region::Quebec, Region::Quebec.mobile(), ContactKind::MobilePhone);
    let (v, r, until) = run(&qc, Channel::Text, at(Region::Quebec.zone(), 2029, 7, 2, 10, 0), packs());
    assert_eq!((v, r), (Verdict::Defer, vec!["window:qc-text".to_owned()]));
    // Tuesday July 3, 08:00 EDT.
    assert_eq!(until, Some(utc(2029, 7, 3, 12, 0)));
    for key in ["qc-phone", "qc-text", "qc-email"] {
        assert!(pack(key).description.contains("CQLR c. R-2.2, s. 34(4)"), "{key}");
    }
}

/// RCW 19.16.250: no call to the debtor's place of employment more than
/// once a week. A call to the work number on Monday 2025-06-02 holds the
/// next one until the week is out: Monday 2025-06-09, 08:00 PDT (the
/// 08:00 Reg F window is the later of the two openings that morning).
#[test]
fn washington_work_number_once_a_week() {
    let work = "+12065550199";
    let mut wa = tenant(Region::Washington, work, ContactKind::WorkPhone);
    let tz = Region::Washington.zone();
    wa.history.push(past(at(tz, 2025, 6, 2, 10, 0), Channel::Phone, ContactKind::WorkPhone));
    let (v, r, until) = run(&wa, Channel::Phone, at(tz, 2025, 6, 4, 10, 0), packs());
    assert_eq!((v, r), (Verdict::Defer, vec!["frequency:wa-work-phone".to_owned()]));
    assert_eq!(until, Some(utc(2025, 6, 9, 15, 0)));
    // The mobile is not the workplace: the weekly 3-contact limit still has room.
    let mut mobile = wa.clone();
    mobile.target = point(Region::Washington.mobile(), ContactKind::MobilePhone);
    assert_eq!(run(&mobile, Channel::Phone, at(tz, 2025, 6, 4, 10, 0), packs()).0, Verdict::Allow);
}

/// Massachusetts 940 CMR 7.04(1)(g) (the Attorney General's debt collection
/// regulations bind creditors): calls and texts only 08:00-21:00 unless the
/// debtor's waking hours are known. With the US and house defaults
/// switched off, a 07:00 call in Boston still waits for 08:00.
#[test]
fn massachusetts_has_its_own_window() {
    let rules = without(&["us-reg-f-", "default-"]);
    let ma = tenant(Region::Massachusetts, Region::Massachusetts.mobile(), ContactKind::MobilePhone);
    let tz = Region::Massachusetts.zone();
    for (channel, rule) in [(Channel::Phone, "window:ma-phone"), (Channel::Text, "window:ma-text")] {
        let (v, r, until) = run(&ma, channel, at(tz, 2025, 6, 3, 7, 0), &rules);
        assert_eq!((v, r), (Verdict::Defer, vec![rule.to_owned()]));
        assert_eq!(until, Some(utc(2025, 6, 3, 12, 0)), "08:00 EDT");
    }
}

/// 940 CMR 7.04(1)(f): the 2-per-7-days bucket is the debtor's residence,
/// cellular or other personal number. A number that is both the mobile and
/// the work number is one number in one bucket: contacts to it count once,
/// in the home/mobile bucket, never in the 30-day "other number" bucket.
#[test]
fn massachusetts_number_in_two_columns_lands_in_one_bucket() {
    let number = Region::Massachusetts.mobile();
    let tz = Region::Massachusetts.zone();
    let mut ma = tenant(Region::Massachusetts, number, ContactKind::MobilePhone);
    // One call this week, recorded by the loader under the number's one kind.
    ma.history.push(past(at(tz, 2025, 6, 2, 10, 0), Channel::Phone, ContactKind::MobilePhone));
    let d = decide(&ma, &Proposed { channel: Channel::Phone, at: at(tz, 2025, 6, 3, 10, 0), manual: true }, packs());
    assert_eq!(d.verdict, Verdict::Allow, "{:?}", d.reasons);
    let warned: Vec<&str> = d.warnings.iter().map(|w| w.rule.as_str()).collect();
    assert_eq!(warned, ["frequency:ma-home-mobile-phone"], "the second of two allowed");
}

/// Who the rules bind: Reg F, RCW 19.16, Ontario's CDSSA and Quebec's
/// bind third-party collectors; 940 CMR 7.00 binds creditors. Every
/// pack still ships enabled, and says so.
#[test]
fn each_pack_says_whom_its_law_binds() {
    for c in packs() {
        assert!(c.enabled, "{} ships enabled", c.key);
        if c.key.starts_with("default-") {
            continue;
        }
        let d = &c.description;
        if c.key.starts_with("ma-") {
            assert!(d.contains("Binds creditors"), "{}: {d}", c.key);
        } else {
            assert!(d.contains("not a landlord collecting its own rent"), "{}: {d}", c.key);
        }
    }
    assert_eq!(store::pack_law("massachusetts").map(|l| l.binds_first_party_creditor), Some(true));
    for p in ["us-reg-f", "washington", "ontario", "quebec"] {
        assert_eq!(store::pack_law(p).map(|l| l.binds_first_party_creditor), Some(false), "{p}");
    }
    assert_eq!(store::pack_law("default"), None);
}

/// The loader reads a number on file twice (mobile and home) as one
/// contact point: one call to it is one of the two 940 CMR 7.04(1)(f)
/// allows in 7 days, not two.
#[test]
fn a_number_listed_twice_is_counted_once() {
    use rentmsg::api::{self, ApiContext};
    use rentmsg::base::db::Db;
    use rentmsg::base::http::Request;
    use serde_json::json;
    let db = NativeDb::open_in_memory().unwrap();
    let now = utc(2025, 6, 5, 16, 0);
    let send = |method: &str, path: &str, ct: &str, body: Vec<u8>| {
        let req = Request {
            method: method.into(),
            path: path.into(),
            headers: vec![("Authorization".into(), "Bearer law-test-token".into()), ("Content-Type".into(), ct.into())],
            body,
            client_addr: None,
        };
        let counters = rentmsg::staff::throttle::MemCounter::default();
        let r = api::handle(&req, &ApiContext { db: &db, staff_token: "law-test-token", now, public_base_url: "http://127.0.0.1:3000", counters: &counters, sleep: |_| {} });
        (r.status, r.body_json())
    };
    let (s, b) = send("POST", "/api/import/properties", "text/csv", b"property_id,name,time_zone,state,country\np-ma,Elm,America/New_York,MA,US\n".to_vec());
    assert_eq!(s, 200, "{b}");
    let (s, b) = send(
        "POST",
        "/api/import/tenants",
        "text/csv",
        b"tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\nm,p-ma,Mass,3,(617) 555-0100,(617) 555-0100,,,,,,,\n".to_vec(),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = send("PUT", "/api/tenants/m/consent", "application/json", json!({"status": "opted_in", "evidence": "lease"}).to_string().into_bytes());
    assert_eq!(s, 200, "{b}");
    db.execute(
        "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, call_result)
         VALUES ('m', 'phone', 'outbound', '+16175550100', '', 'completed', '2025-06-03T15:00:00.000Z', 1)",
        &[],
    )
    .unwrap();
    let (s, out) = send("POST", "/api/compliance/check", "application/json", json!({"tenant_id": "m", "channel": "text", "at": "2025-06-05T16:00:00Z"}).to_string().into_bytes());
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["decision"], "allow", "one call, counted once: {out}");
    assert_eq!(out["warnings"][0]["rule"], "frequency:ma-home-mobile-text", "{out}");
}

// ---------------------------------------------------------------- dated cases

struct Case {
    name: &'static str,
    facts: Facts,
    channel: Channel,
    at: DateTime<Utc>,
    verdict: Verdict,
    reasons: &'static [&'static str],
    defer_until: Option<DateTime<Utc>>,
}

fn case(name: &'static str, region: Region, channel: Channel, at: DateTime<Utc>) -> Case {
    Case {
        name,
        facts: tenant(region, region.mobile(), ContactKind::MobilePhone),
        channel,
        at,
        verdict: Verdict::Allow,
        reasons: &[],
        defer_until: None,
    }
}

impl Case {
    fn defer(mut self, reasons: &'static [&'static str], until: DateTime<Utc>) -> Case {
        self.verdict = Verdict::Defer;
        self.reasons = reasons;
        self.defer_until = Some(until);
        self
    }
    fn number(mut self, address: &str) -> Case {
        self.facts.target = point(address, ContactKind::MobilePhone);
        self
    }
}

#[test]
fn dated_cases() {
    use Channel::*;
    use Region::*;
    let ny = Tz::America__New_York;
    let la = Tz::America__Los_Angeles;
    let to = Tz::America__Toronto;
    let phx = Tz::America__Phoenix;
    const REGF_TEXT: &[&str] = &["window:us-reg-f-text"];
    const MA_TEXT: &[&str] = &["window:ma-text", "window:us-reg-f-text"];
    const ON_TEXT: &[&str] = &["window:on-text"];
    const QC_TEXT: &[&str] = &["window:qc-text"];
    let cases = vec![
        // --- Reg F (New York), 08:00-21:00 local. 2025 DST: starts Sunday
        // March 9 (EDT, UTC-4), ends Sunday November 2 (EST, UTC-5).
        case("NY spring-forward day, 07:59 EDT", NewYork, Text, at(ny, 2025, 3, 9, 7, 59)).defer(REGF_TEXT, utc(2025, 3, 9, 12, 0)),
        case("NY spring-forward day, 08:00 EDT first minute", NewYork, Text, at(ny, 2025, 3, 9, 8, 0)),
        case("NY spring-forward day, 20:59 EDT last minute", NewYork, Text, at(ny, 2025, 3, 9, 20, 59)),
        case("NY spring-forward day, 21:00 EDT → Monday 08:00 EDT", NewYork, Text, at(ny, 2025, 3, 9, 21, 0)).defer(REGF_TEXT, utc(2025, 3, 10, 12, 0)),
        case("NY fall-back day, 07:59 EST → 08:00 EST = 13:00Z", NewYork, Text, at(ny, 2025, 11, 2, 7, 59)).defer(REGF_TEXT, utc(2025, 11, 2, 13, 0)),
        case("NY fall-back day, 20:59 EST", NewYork, Text, at(ny, 2025, 11, 2, 20, 59)),
        // --- Massachusetts: its own 08:00-21:00 and Reg F's, both.
        case("MA spring-forward day, 07:59 EDT", Massachusetts, Text, at(ny, 2025, 3, 9, 7, 59)).defer(MA_TEXT, utc(2025, 3, 9, 12, 0)),
        case("MA first minute 08:00", Massachusetts, Text, at(ny, 2025, 6, 3, 8, 0)),
        case("MA fall-back day 21:00 EST → Monday 08:00 EST", Massachusetts, Text, at(ny, 2025, 11, 2, 21, 0)).defer(MA_TEXT, utc(2025, 11, 3, 13, 0)),
        // --- Washington: RCW 19.16.250 07:30-21:00 and Reg F 08:00-21:00;
        // the overlap is 08:00-21:00 PDT/PST.
        case("WA 07:29 PDT: both windows closed", Washington, Phone, at(la, 2025, 3, 9, 7, 29)).defer(&["window:us-reg-f-phone", "window:wa-phone"], utc(2025, 3, 9, 15, 0)),
        case("WA 07:59 PDT: only Reg F closed", Washington, Phone, at(la, 2025, 3, 9, 7, 59)).defer(&["window:us-reg-f-phone"], utc(2025, 3, 9, 15, 0)),
        case("WA fall-back day 20:59 PST last minute", Washington, Phone, at(la, 2025, 11, 2, 20, 59)),
        // --- Ontario: 07:00-21:00, Sundays 13:00-17:00, none on holidays.
        // 2025-03-09 is a Sunday and the spring-forward day.
        case("ON Sunday (spring forward) 12:59 EDT → 13:00", Ontario, Text, at(to, 2025, 3, 9, 12, 59)).defer(ON_TEXT, utc(2025, 3, 9, 17, 0)),
        case("ON Sunday 13:00 first minute", Ontario, Text, at(to, 2025, 3, 9, 13, 0)),
        case("ON Sunday 16:59 last minute", Ontario, Text, at(to, 2025, 3, 9, 16, 59)),
        case("ON Sunday 17:00 → Monday 07:00 EDT", Ontario, Text, at(to, 2025, 3, 9, 17, 0)).defer(ON_TEXT, utc(2025, 3, 10, 11, 0)),
        case("ON Sunday (fall back) 13:00 EST", Ontario, Text, at(to, 2025, 11, 2, 13, 0)),
        case("ON Monday after fall back 06:59 EST → 07:00 EST", Ontario, Text, at(to, 2025, 11, 3, 6, 59)).defer(ON_TEXT, utc(2025, 11, 3, 12, 0)),
        case("ON weekday 07:00 first minute", Ontario, Text, at(to, 2025, 6, 3, 7, 0)),
        case("ON weekday 20:59 last minute", Ontario, Text, at(to, 2025, 6, 3, 20, 59)),
        case("ON weekday 21:00 → next day 07:00", Ontario, Text, at(to, 2025, 6, 3, 21, 0)).defer(ON_TEXT, utc(2025, 6, 4, 11, 0)),
        // 2025 holidays: Jan 1 (Wed), Family Day Feb 17 (3rd Monday), Good
        // Friday Apr 18 (Easter Apr 20), Easter Monday Apr 21, Victoria Day
        // May 19 (Monday before May 25, itself a Sunday), Canada Day Jul 1
        // (Tue), Labour Day Sep 1, Thanksgiving Oct 13, Remembrance Day
        // Nov 11 (Tue), Christmas Dec 25 (Thu), Boxing Day Dec 26 (Fri).
        case("ON New Year's Day 2025 → Jan 2 07:00 EST", Ontario, Text, at(to, 2025, 1, 1, 10, 0)).defer(ON_TEXT, utc(2025, 1, 2, 12, 0)),
        case("ON Family Day 2025-02-17 → Feb 18", Ontario, Text, at(to, 2025, 2, 17, 10, 0)).defer(ON_TEXT, utc(2025, 2, 18, 12, 0)),
        case("ON Good Friday 2025-04-18 → Saturday 07:00 EDT", Ontario, Text, at(to, 2025, 4, 18, 10, 0)).defer(ON_TEXT, utc(2025, 4, 19, 11, 0)),
        case("ON Easter Monday 2025-04-21 → Apr 22", Ontario, Text, at(to, 2025, 4, 21, 10, 0)).defer(ON_TEXT, utc(2025, 4, 22, 11, 0)),
        case("ON Victoria Day 2025-05-19 → May 20", Ontario, Text, at(to, 2025, 5, 19, 10, 0)).defer(ON_TEXT, utc(2025, 5, 20, 11, 0)),
        case("ON Canada Day 2025-07-01 → Jul 2", Ontario, Text, at(to, 2025, 7, 1, 10, 0)).defer(ON_TEXT, utc(2025, 7, 2, 11, 0)),
        case("ON Labour Day 2025-09-01 → Sep 2", Ontario, Text, at(to, 2025, 9, 1, 10, 0)).defer(ON_TEXT, utc(2025, 9, 2, 11, 0)),
        case("ON Thanksgiving 2025-10-13 → Oct 14", Ontario, Text, at(to, 2025, 10, 13, 10, 0)).defer(ON_TEXT, utc(2025, 10, 14, 11, 0)),
        case("ON Remembrance Day 2025-11-11 → Nov 12 07:00 EST", Ontario, Text, at(to, 2025, 11, 11, 10, 0)).defer(ON_TEXT, utc(2025, 11, 12, 12, 0)),
        case("ON Christmas 2025 (Thu) → Boxing Day closed too → Saturday Dec 27", Ontario, Text, at(to, 2025, 12, 25, 10, 0)).defer(ON_TEXT, utc(2025, 12, 27, 12, 0)),
        // Moved days. 2034-01-01 is a Sunday → Monday Jan 2 also closed.
        case("ON 2034-01-01 Sunday 14:00 → Tue Jan 3", Ontario, Text, at(to, 2034, 1, 1, 14, 0)).defer(ON_TEXT, utc(2034, 1, 3, 12, 0)),
        // 2029-07-01 is a Sunday → Canada Day is Monday July 2.
        case("ON 2029-06-30 Sat 21:00 → Tue Jul 3", Ontario, Text, at(to, 2029, 6, 30, 21, 0)).defer(ON_TEXT, utc(2029, 7, 3, 11, 0)),
        // 2028-07-01 is a Saturday: nothing moves; Sunday July 2 has its
        // ordinary Sunday window.
        case("ON 2028-07-02 Sunday 14:00 open", Ontario, Text, at(to, 2028, 7, 2, 14, 0)),
        // 2027-12-25 is a Saturday: Sunday 26 (Boxing Day) and Monday 27 closed.
        case("ON 2027-12-24 Fri 21:00 → Tue Dec 28", Ontario, Text, at(to, 2027, 12, 24, 21, 0)).defer(ON_TEXT, utc(2027, 12, 28, 12, 0)),
        // 2033-12-25 is a Sunday: Monday 26 (Boxing Day) and Tuesday 27 closed.
        case("ON 2033-12-24 Sat 21:00 → Wed Dec 28", Ontario, Text, at(to, 2033, 12, 24, 21, 0)).defer(ON_TEXT, utc(2033, 12, 28, 12, 0)),
        // --- Quebec: 08:00-20:00 Monday to Saturday, closed Sundays and holidays.
        case("QC Sunday (spring forward) → Monday 08:00 EDT", Quebec, Text, at(to, 2025, 3, 9, 12, 0)).defer(QC_TEXT, utc(2025, 3, 10, 12, 0)),
        case("QC Monday after fall back 07:59 EST → 08:00 EST", Quebec, Text, at(to, 2025, 11, 3, 7, 59)).defer(QC_TEXT, utc(2025, 11, 3, 13, 0)),
        case("QC weekday 08:00 first minute", Quebec, Text, at(to, 2025, 6, 3, 8, 0)),
        case("QC weekday 19:59 last minute", Quebec, Text, at(to, 2025, 6, 3, 19, 59)),
        case("QC weekday 20:00 → next day 08:00", Quebec, Text, at(to, 2025, 6, 3, 20, 0)).defer(QC_TEXT, utc(2025, 6, 4, 12, 0)),
        case("QC New Year's Day 2025 → Jan 2 08:00 EST", Quebec, Text, at(to, 2025, 1, 1, 10, 0)).defer(QC_TEXT, utc(2025, 1, 2, 13, 0)),
        case("QC Good Friday 2025-04-18 → Saturday 08:00", Quebec, Text, at(to, 2025, 4, 18, 10, 0)).defer(QC_TEXT, utc(2025, 4, 19, 12, 0)),
        case("QC Easter Monday 2025-04-21 → Apr 22", Quebec, Text, at(to, 2025, 4, 21, 10, 0)).defer(QC_TEXT, utc(2025, 4, 22, 12, 0)),
        case("QC Journée nationale des patriotes 2025-05-19 → May 20", Quebec, Text, at(to, 2025, 5, 19, 10, 0)).defer(QC_TEXT, utc(2025, 5, 20, 12, 0)),
        case("QC Fête nationale 2025-06-24 → Jun 25", Quebec, Text, at(to, 2025, 6, 24, 10, 0)).defer(QC_TEXT, utc(2025, 6, 25, 12, 0)),
        case("QC Canada Day 2025-07-01 → Jul 2", Quebec, Text, at(to, 2025, 7, 1, 10, 0)).defer(QC_TEXT, utc(2025, 7, 2, 12, 0)),
        case("QC Labour Day 2025-09-01 → Sep 2", Quebec, Text, at(to, 2025, 9, 1, 10, 0)).defer(QC_TEXT, utc(2025, 9, 2, 12, 0)),
        case("QC Thanksgiving 2025-10-13 → Oct 14", Quebec, Text, at(to, 2025, 10, 13, 10, 0)).defer(QC_TEXT, utc(2025, 10, 14, 12, 0)),
        case("QC Christmas 2025 (Thu) → Fri Dec 26 08:00 EST", Quebec, Text, at(to, 2025, 12, 25, 10, 0)).defer(QC_TEXT, utc(2025, 12, 26, 13, 0)),
        // 2029-06-30 is a Saturday; Sunday Jul 1 closed; Canada Day moves to Monday Jul 2.
        case("QC 2029-06-30 Sat 20:00 → Tue Jul 3 08:00", Quebec, Text, at(to, 2029, 6, 30, 20, 0)).defer(QC_TEXT, utc(2029, 7, 3, 12, 0)),
        // --- Zone overlap: a New York tenant whose mobile is a San Francisco
        // (415, Pacific) number. 10:00 EDT is 07:00 PDT: wait for 08:00 PDT
        // = 11:00 EDT = 15:00Z.
        case("NY tenant, 415 mobile, 10:00 EDT", NewYork, Text, at(ny, 2025, 6, 3, 10, 0)).number("+14155550100").defer(REGF_TEXT, utc(2025, 6, 3, 15, 0)),
        case("NY tenant, 415 mobile, 20:59 EDT (17:59 PDT)", NewYork, Text, at(ny, 2025, 6, 3, 20, 59)).number("+14155550100"),
        // A Los Angeles-zoned tenant with a New York number at 18:30 PDT =
        // 21:30 EDT: New York is closed; New York opens 08:00 EDT = 05:00
        // PDT, still closed in Los Angeles; both open at 08:00 PDT = 15:00Z.
        // Washington's own 07:30-21:00 holds in the number's zone too.
        case("WA tenant, 212 number, 18:30 PDT", Washington, Text, at(la, 2025, 6, 3, 18, 30)).number("+12125550100").defer(&["window:us-reg-f-text", "window:wa-text"], utc(2025, 6, 4, 15, 0)),
        // Arizona keeps MST (UTC-7) all year; 928 also rings on the Navajo
        // Nation, which keeps MDT (UTC-6) in summer. 20:30 MST = 21:30 MDT:
        // closed on the Nation; next opening in both is 08:00 MST = 15:00Z
        // (08:00 MDT = 07:00 MST is too early in Phoenix).
        case("AZ 928 number 20:30 MST in summer", Arizona, Text, at(phx, 2025, 6, 3, 20, 30)).defer(&["window:us-reg-f-text"], utc(2025, 6, 4, 15, 0)),
        case("AZ 928 number 19:59 MST in summer (20:59 MDT)", Arizona, Text, at(phx, 2025, 6, 3, 19, 59)),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let (v, r, until) = run(&c.facts, c.channel, c.at, packs());
        let want: Vec<String> = c.reasons.iter().map(|s| (*s).to_owned()).collect();
        if (v, &r, until) != (c.verdict, &want, c.defer_until) {
            failures.push(format!("{}: got {v:?} {r:?} {until:?}, want {:?} {want:?} {:?}", c.name, c.verdict, c.defer_until));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

// ---------------------------------------------------------------- holiday lists, independently

/// Western Easter Sunday from published church calendars, for the years
/// the packs are checked over. A table, not a computation: the product
/// computes Easter itself, and this must not share its arithmetic.
fn easter_sunday(year: i32) -> NaiveDate {
    const PUBLISHED: [(i32, u32, u32); 11] = [
        (2025, 4, 20),
        (2026, 4, 5),
        (2027, 3, 28),
        (2028, 4, 16),
        (2029, 4, 1),
        (2030, 4, 21),
        (2031, 4, 13),
        (2032, 3, 28),
        (2033, 4, 17),
        (2034, 4, 9),
        (2035, 3, 25),
    ];
    let (y, m, d) = PUBLISHED.iter().copied().find(|(y, _, _)| *y == year).unwrap_or_else(|| panic!("no published Easter date for {year} in this table"));
    ymd(y, m, d)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The n-th `weekday` of a month, counting from day 1.
fn nth(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    let first = ymd(year, month, 1);
    let shift = (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
    first + Duration::days(i64::from(shift + 7 * (n - 1)))
}

/// The Monday before May 25 (Victoria Day; Quebec's Journée nationale des patriotes).
fn monday_before_may_25(year: i32) -> NaiveDate {
    let mut d = ymd(year, 5, 24);
    while d.weekday() != Weekday::Mon {
        d -= Duration::days(1);
    }
    d
}

/// Ontario: Legislation Act, 2006, ss. 87-88 (Sundays aside), with the
/// moved days as the packs state them.
fn ontario(year: i32) -> BTreeSet<NaiveDate> {
    let easter = easter_sunday(year);
    let mut s: BTreeSet<NaiveDate> = [
        ymd(year, 1, 1),
        nth(year, 2, Weekday::Mon, 3),
        easter - Duration::days(2),
        easter + Duration::days(1),
        monday_before_may_25(year),
        ymd(year, 7, 1),
        nth(year, 9, Weekday::Mon, 1),
        nth(year, 10, Weekday::Mon, 2),
        ymd(year, 11, 11),
        ymd(year, 12, 25),
        ymd(year, 12, 26),
    ]
    .into_iter()
    .collect();
    if ymd(year, 1, 1).weekday() == Weekday::Sun {
        s.insert(ymd(year, 1, 2));
    }
    if ymd(year, 7, 1).weekday() == Weekday::Sun {
        s.insert(ymd(year, 7, 2));
    }
    match ymd(year, 12, 25).weekday() {
        // Saturday: Monday the 27th; Sunday: Boxing Day is Monday, Tuesday the 27th too.
        Weekday::Sat | Weekday::Sun => {
            s.insert(ymd(year, 12, 27));
        }
        _ => {}
    }
    s
}

/// Quebec: the holidays the packs close (Sundays aside), July 2 when July 1
/// is a Sunday.
fn quebec(year: i32) -> BTreeSet<NaiveDate> {
    let easter = easter_sunday(year);
    let mut s: BTreeSet<NaiveDate> = [
        ymd(year, 1, 1),
        easter - Duration::days(2),
        easter + Duration::days(1),
        monday_before_may_25(year),
        ymd(year, 6, 24),
        ymd(year, 7, 1),
        nth(year, 9, Weekday::Mon, 1),
        nth(year, 10, Weekday::Mon, 2),
        ymd(year, 12, 25),
    ]
    .into_iter()
    .collect();
    if ymd(year, 7, 1).weekday() == Weekday::Sun {
        s.insert(ymd(year, 7, 2));
    }
    s
}

#[test]
fn pack_holidays_match_the_calendar_2025_2035() {
    let regions: [(&str, fn(i32) -> BTreeSet<NaiveDate>); 6] = [
        ("on-phone", ontario),
        ("on-text", ontario),
        ("on-email", ontario),
        ("qc-phone", quebec),
        ("qc-text", quebec),
        ("qc-email", quebec),
    ];
    for (key, expected) in regions {
        let hours = pack(key).hours.as_ref().unwrap();
        for year in 2025..=2035 {
            let want = expected(year);
            let mut got = BTreeSet::new();
            let mut day = ymd(year, 1, 1);
            while day.year() == year {
                if hours.holidays.iter().any(|h| h.is_on(day)) {
                    got.insert(day);
                }
                day += Duration::days(1);
            }
            assert_eq!(got, want, "{key} {year}");
        }
    }
    // Sundays: Ontario 13:00-17:00 only, Quebec closed (checked once).
    assert!(pack("on-text").hours.as_ref().unwrap().days[6].is_some());
    assert!(pack("qc-text").hours.as_ref().unwrap().days[6].is_some());
}
