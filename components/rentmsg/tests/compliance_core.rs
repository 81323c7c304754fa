//! The decision core on its own: a table test per rule (with the shipped
//! default packs as the controls) and property tests of the invariants.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use rentmsg::base::channel::Channel;
use rentmsg::compliance::controls::{Control, ControlSpec};
use rentmsg::compliance::decide::{decide, CarrierInvalid, Facts, PastContact, Proposed, Target, Verdict};
use rentmsg::compliance::{store, zones};
use rentmsg::records::consent::{ConsentEvent, ConsentStatus};
use rentmsg::base::db::NativeDb;
use rentmsg::records::tenants::ContactKind;
use std::sync::OnceLock;

/// The default packs as shipped (migration 2).
fn packs() -> &'static [Control] {
    static PACKS: OnceLock<Vec<Control>> = OnceLock::new();
    PACKS.get_or_init(|| {
        let db = NativeDb::open_in_memory().unwrap();
        rentmsg::schema::migrate(&db, Utc::now()).unwrap();
        store::all_rules(&db).unwrap()
    })
}

fn with(extra: serde_json::Value) -> Vec<Control> {
    let mut rules = packs().to_vec();
    rules.push(serde_json::from_value::<ControlSpec>(extra).unwrap().to_control().unwrap());
    rules
}

const NY_MOBILE: &str = "+12125550100";
const LA_MOBILE: &str = "+14155550100";

fn consent(id: i64, channel: Option<Channel>, address: Option<&str>, status: ConsentStatus, at: DateTime<Utc>) -> ConsentEvent {
    ConsentEvent {
        id,
        tenant_id: "T1".into(),
        channel,
        address: address.map(str::to_owned),
        status,
        evidence: Some("lease".into()),
        actor: "staff".into(),
        source: "test".into(),
        at: rentmsg::base::time::timestamp(at),
    }
}

fn point(address: &str, kind: ContactKind) -> Target {
    Target::Point {
        address: address.into(),
        kind,
        zones: if kind.is_phone() { zones::zones_for_number(address).to_vec() } else { vec![] },
    }
}

/// A New York tenant, opted in tenant-wide a year before 2024-06-01, texting their NY mobile.
fn ny() -> Facts {
    Facts {
        tenant_id: "T1".into(),
        time_zone: Some(Tz::America__New_York),
        state: Some("NY".into()),
        country: "US".into(),
        target: point(NY_MOBILE, ContactKind::MobilePhone),
        consent: vec![consent(1, None, None, ConsentStatus::OptedIn, Utc.with_ymd_and_hms(2023, 6, 1, 0, 0, 0).unwrap())],
        bankruptcy: false,
        disable_texting_auto_calls: false,
        disable_auto_communications: false,
        excluded_by_customer: false,
        excluded_by_user: false,
        number_invalid: None,
        history: vec![],
    }
}

/// The carrier's "landline or unreachable carrier" on the target number.
fn carrier_invalid() -> Option<CarrierInvalid> {
    Some(CarrierInvalid { error_code: "30006".into(), meaning: Some("landline or unreachable carrier"), set_at: "2024-05-30T14:00:00.000Z".into() })
}

fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
}

/// Saturday 2024-06-01 (a plain day) in New York.
fn ny_at(h: u32, min: u32) -> DateTime<Utc> {
    local(Tz::America__New_York, 2024, 6, 1, h, min)
}

fn call(at: DateTime<Utc>, code: Option<i64>, kind: ContactKind) -> PastContact {
    PastContact { at, channel: Channel::Phone, outbound: true, kind: Some(kind), call_result: code, own: true }
}

fn text(at: DateTime<Utc>) -> PastContact {
    PastContact { at, channel: Channel::Text, outbound: true, kind: Some(ContactKind::MobilePhone), call_result: None, own: true }
}

struct Case {
    name: &'static str,
    facts: Facts,
    channel: Channel,
    at: DateTime<Utc>,
    manual: bool,
    rules: Vec<Control>,
    verdict: Verdict,
    /// Rules named in the reasons, in order.
    reasons: &'static [&'static str],
    defer_until: Option<DateTime<Utc>>,
    near_limit: bool,
}

fn case(name: &'static str, facts: Facts, channel: Channel, at: DateTime<Utc>, manual: bool) -> Case {
    Case {
        name,
        facts,
        channel,
        at,
        manual,
        rules: packs().to_vec(),
        verdict: Verdict::Allow,
        reasons: &[],
        defer_until: None,
        near_limit: false,
    }
}

impl Case {
    fn expect(mut self, verdict: Verdict, reasons: &'static [&'static str]) -> Self {
        self.verdict = verdict;
        self.reasons = reasons;
        self
    }
    fn until(mut self, t: DateTime<Utc>) -> Self {
        self.defer_until = Some(t);
        self
    }
    fn rules(mut self, rules: Vec<Control>) -> Self {
        self.rules = rules;
        self
    }
    fn near(mut self) -> Self {
        self.near_limit = true;
        self
    }
}

fn f(edit: impl FnOnce(&mut Facts)) -> Facts {
    let mut facts = ny();
    edit(&mut facts);
    facts
}

#[test]
fn every_rule_table() {
    use Channel::*;
    use Verdict::*;
    let ny_tz = Tz::America__New_York;
    let noon = ny_at(12, 0);
    let email = |facts: &mut Facts| facts.target = point("pat@example.com", ContactKind::Email);
    let mut cases = vec![
        case("baseline: opted in, 12:00 local", ny(), Text, noon, false),
        // Consent.
        case("default is opted out", f(|x| x.consent.clear()), Text, noon, false).expect(Block, &["consent"]),
        case(
            "address-scoped opt-out beats older tenant opt-in",
            f(|x| x.consent.push(consent(2, None, Some(NY_MOBILE), ConsentStatus::OptedOut, noon - Duration::days(1)))),
            Text,
            noon,
            false,
        )
        .expect(Block, &["consent"]),
        case("opted out: automatic email blocked", f(|x| { x.consent.clear(); email(x) }), Email, noon, false)
            .expect(Block, &["consent"]),
        case("opted out: automatic call blocked", f(|x| x.consent.clear()), Phone, noon, false).expect(Block, &["consent"]),
        case("opted out: a manual text is not gated by consent", f(|x| x.consent.clear()), Text, noon, true),
        case("opted out: letters need no consent", f(|x| { x.consent.clear(); x.target = Target::Postal }), Letter, noon, false),
        // Bankruptcy: every automatic contact; manual stays possible.
        case("bankruptcy blocks automatic text", f(|x| x.bankruptcy = true), Text, noon, false)
            .expect(Block, &["exclusion.bankruptcy"]),
        case("bankruptcy blocks automatic letters", f(|x| { x.bankruptcy = true; x.target = Target::Postal }), Letter, noon, false)
            .expect(Block, &["exclusion.bankruptcy"]),
        case("bankruptcy: manual text allowed", f(|x| x.bankruptcy = true), Text, noon, true),
        case("bankruptcy: manual call allowed", f(|x| x.bankruptcy = true), Phone, noon, true),
        // Disable texting & auto calls: all texts, automatic calls.
        case("texting disabled: manual text blocked", f(|x| x.disable_texting_auto_calls = true), Text, noon, true)
            .expect(Block, &["exclusion.disable_texting_auto_calls"]),
        case("texting disabled: automatic call blocked", f(|x| x.disable_texting_auto_calls = true), Phone, noon, false)
            .expect(Block, &["exclusion.disable_texting_auto_calls"]),
        case("texting disabled: manual call allowed", f(|x| x.disable_texting_auto_calls = true), Phone, noon, true),
        case("texting disabled: email allowed", f(|x| { x.disable_texting_auto_calls = true; email(x) }), Email, noon, false),
        // Disable automatic communications: automatic phone / text / email.
        case("auto disabled: automatic email blocked", f(|x| { x.disable_auto_communications = true; email(x) }), Email, noon, false)
            .expect(Block, &["exclusion.disable_auto_communications"]),
        case("auto disabled: manual text allowed", f(|x| x.disable_auto_communications = true), Text, noon, true),
        case("auto disabled: letters allowed", f(|x| { x.disable_auto_communications = true; x.target = Target::Postal }), Letter, noon, false),
        // Per-number exclusions.
        case("STOP: manual text blocked", f(|x| x.excluded_by_customer = true), Text, noon, true)
            .expect(Block, &["exclusion.number_by_customer"]),
        case("STOP: automatic call blocked", f(|x| x.excluded_by_customer = true), Phone, noon, false)
            .expect(Block, &["exclusion.number_by_customer"]),
        case("STOP: manual call allowed", f(|x| x.excluded_by_customer = true), Phone, noon, true),
        case("by user: manual text blocked", f(|x| x.excluded_by_user = true), Text, noon, true)
            .expect(Block, &["exclusion.number_by_user"]),
        case("by user: manual call allowed", f(|x| x.excluded_by_user = true), Phone, noon, true),
        case(
            "several reasons are all named",
            f(|x| { x.bankruptcy = true; x.excluded_by_customer = true; x.consent.clear() }),
            Text,
            ny_at(7, 0),
            false,
        )
        .expect(Block, &["exclusion.bankruptcy", "exclusion.number_by_customer", "consent", "window:us-reg-f-text"]),
        // The carrier's number state: no texts at all; calls and email as usual.
        case("carrier invalid: automatic text blocked", f(|x| x.number_invalid = carrier_invalid()), Text, noon, false)
            .expect(Block, &["number_state.invalid"]),
        case("carrier invalid: manual text blocked", f(|x| x.number_invalid = carrier_invalid()), Text, noon, true)
            .expect(Block, &["number_state.invalid"]),
        case("carrier invalid: a text is blocked, not deferred to the window", f(|x| x.number_invalid = carrier_invalid()), Text, ny_at(7, 0), false)
            .expect(Block, &["number_state.invalid", "window:us-reg-f-text"]),
        case("carrier invalid: automatic call allowed", f(|x| x.number_invalid = carrier_invalid()), Phone, noon, false),
        case("carrier invalid: manual call allowed", f(|x| x.number_invalid = carrier_invalid()), Phone, noon, true),
        case("carrier invalid: calls keep their own rules", f(|x| { x.number_invalid = carrier_invalid(); x.consent.clear() }), Phone, ny_at(22, 0), false)
            .expect(Block, &["consent", "window:us-reg-f-phone"]),
        case("carrier invalid: calls keep their window", f(|x| x.number_invalid = carrier_invalid()), Phone, ny_at(22, 0), true)
            .expect(Defer, &["window:us-reg-f-phone"])
            .until(local(ny_tz, 2024, 6, 2, 8, 0)),
        case(
            "carrier invalid alongside other blocks: each is named",
            f(|x| { x.number_invalid = carrier_invalid(); x.excluded_by_customer = true; x.disable_texting_auto_calls = true }),
            Text,
            noon,
            true,
        )
        .expect(Block, &["exclusion.disable_texting_auto_calls", "exclusion.number_by_customer", "number_state.invalid"]),
        // Addresses.
        case("address not on file", f(|x| x.target = Target::NotOnFile { address: "+12125559999".into() }), Text, noon, true)
            .expect(Block, &["address.not_on_file"]),
        case("no address for the channel", f(|x| x.target = Target::Missing), Text, noon, false).expect(Block, &["address.none"]),
        // Work email.
        case("work email needs its own consent", f(|x| x.target = point("pat@employer.example", ContactKind::WorkEmail)), Email, noon, true)
            .expect(Block, &["work_email:us-reg-f-email"]),
        case(
            "work email with consent for that address",
            f(|x| {
                x.target = point("pat@employer.example", ContactKind::WorkEmail);
                x.consent.push(consent(2, Some(Email), Some("pat@employer.example"), ConsentStatus::OptedIn, noon));
            }),
            Email,
            noon,
            false,
        ),
        // Time windows, in the tenant's zone.
        case("before 08:00 defers to 08:00", ny(), Text, ny_at(7, 30), false)
            .expect(Defer, &["window:us-reg-f-text"])
            .until(ny_at(8, 0)),
        case("21:00 is closed: next day 08:00", ny(), Email, ny_at(21, 0), false)
            .expect(Defer, &["window:us-reg-f-email"])
            .until(local(ny_tz, 2024, 6, 2, 8, 0)),
        case("manual contact keeps the window", ny(), Phone, ny_at(22, 0), true)
            .expect(Defer, &["window:us-reg-f-phone"])
            .until(local(ny_tz, 2024, 6, 2, 8, 0)),
        case(
            "DST spring-forward day: 08:00 EDT",
            ny(),
            Text,
            Utc.with_ymd_and_hms(2024, 3, 10, 11, 0, 0).unwrap(),
            false,
        )
        .expect(Defer, &["window:us-reg-f-text"])
        .until(Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap()),
        // Number zone vs address zone: only the overlap.
        case("California number, 10:00 in New York: wait for 08:00 Pacific", f(|x| x.target = point(LA_MOBILE, ContactKind::MobilePhone)), Text, ny_at(10, 0), false)
            .expect(Defer, &["window:us-reg-f-text"])
            .until(ny_at(11, 0)),
        case("California number, 20:30 in New York: both open", f(|x| x.target = point(LA_MOBILE, ContactKind::MobilePhone)), Text, ny_at(20, 30), false),
        case("California number, 21:30 in New York: next overlap 11:00 New York", f(|x| x.target = point(LA_MOBILE, ContactKind::MobilePhone)), Phone, ny_at(21, 30), false)
            .expect(Defer, &["window:us-reg-f-phone"])
            .until(local(ny_tz, 2024, 6, 2, 11, 0)),
        case("email ignores the number's zone", f(|x| x.target = point("pat@example.com", ContactKind::Email)), Email, ny_at(10, 0), false),
        case("unknown zone fails closed", f(|x| x.time_zone = None), Text, noon, false).expect(Block, &["time.zone_unknown"]),
        case("unknown zone fails closed for manual calls too", f(|x| x.time_zone = None), Phone, noon, true)
            .expect(Block, &["time.zone_unknown"]),
        // Regional packs.
        case(
            "Washington 07:45: state window opens 07:30 but national 08:00 still applies",
            f(|x| x.state = Some("WA".into())),
            Text,
            ny_at(7, 45),
            false,
        )
        .expect(Defer, &["window:us-reg-f-text"])
        .until(ny_at(8, 0)),
        case(
            "Ontario Sunday 10:00: wait for 13:00",
            f(|x| { x.state = Some("ON".into()); x.country = "CA".into(); x.time_zone = Some(Tz::America__Toronto); x.target = point("+14165550100", ContactKind::MobilePhone) }),
            Phone,
            local(Tz::America__Toronto, 2024, 6, 2, 10, 0),
            false,
        )
        .expect(Defer, &["window:on-phone"])
        .until(local(Tz::America__Toronto, 2024, 6, 2, 13, 0)),
        case(
            "Ontario Saturday 07:15: Ontario's 07:00 applies (no Canadian national rule)",
            f(|x| { x.state = Some("ON".into()); x.country = "CA".into(); x.time_zone = Some(Tz::America__Toronto); x.target = point("+14165550100", ContactKind::MobilePhone) }),
            Phone,
            local(Tz::America__Toronto, 2024, 6, 1, 7, 15),
            false,
        ),
        case(
            "Ontario Canada Day: closed",
            f(|x| { x.state = Some("ON".into()); x.country = "CA".into(); x.time_zone = Some(Tz::America__Toronto); x.target = point("+14165550100", ContactKind::MobilePhone) }),
            Text,
            local(Tz::America__Toronto, 2024, 7, 1, 12, 0),
            false,
        )
        .expect(Defer, &["window:on-text"])
        .until(local(Tz::America__Toronto, 2024, 7, 2, 7, 0)),
        case(
            "Quebec Sunday: closed until Monday 08:00",
            f(|x| { x.state = Some("QC".into()); x.country = "CA".into(); x.time_zone = Some(Tz::America__Toronto); x.target = point("+15145550100", ContactKind::MobilePhone) }),
            Text,
            local(Tz::America__Toronto, 2024, 6, 2, 12, 0),
            false,
        )
        .expect(Defer, &["window:qc-text"])
        .until(local(Tz::America__Toronto, 2024, 6, 3, 8, 0)),
        case(
            "Quebec 20:00 is closed",
            f(|x| { x.state = Some("QC".into()); x.country = "CA".into(); x.time_zone = Some(Tz::America__Toronto); x.target = point("+15145550100", ContactKind::MobilePhone) }),
            Text,
            local(Tz::America__Toronto, 2024, 6, 4, 20, 0),
            false,
        )
        .expect(Defer, &["window:qc-text"])
        .until(local(Tz::America__Toronto, 2024, 6, 5, 8, 0)),
        // Call frequency (Reg F 7 in 7) and codes.
        case(
            "six attempts in the week: the seventh is allowed and flagged",
            f(|x| x.history = (1..=6).map(|d| call(noon - Duration::days(d), Some(1), ContactKind::MobilePhone)).collect()),
            Phone,
            noon,
            false,
        )
        .near(),
        case(
            "seven attempts in six days: the eighth waits until the oldest leaves the 7-day window",
            f(|x| x.history = (1..=7).map(|h| call(noon - Duration::days(6) + Duration::minutes(h), Some(1), ContactKind::MobilePhone)).collect()),
            Phone,
            noon,
            false,
        )
        .expect(Defer, &["frequency:us-reg-f-phone"])
        .until(local(ny_tz, 2024, 6, 2, 8, 0)),
        case(
            "cancelled dialer calls are not attempts",
            f(|x| x.history = (1..=7).map(|d| call(noon - Duration::days(d) + Duration::hours(1), Some(125), ContactKind::MobilePhone)).collect()),
            Phone,
            noon,
            false,
        ),
        case(
            "calls without a result yet count as attempts",
            f(|x| x.history = (0..7).map(|h| call(ny_at(9, h * 5), None, ContactKind::MobilePhone)).collect()),
            Phone,
            noon,
            true,
        )
        .expect(Defer, &["frequency:us-reg-f-phone"])
        .until(local(ny_tz, 2024, 6, 8, 8, 0)),
        case(
            "texts are not counted toward the call limit",
            f(|x| x.history = (0..10).map(|h| text(ny_at(9, h))).collect()),
            Phone,
            noon,
            false,
        ),
        // Hold-for after a conversation.
        case(
            "right-party contact 2 days ago: no calls until day 8",
            f(|x| x.history = vec![call(noon - Duration::days(2), Some(4), ContactKind::MobilePhone)]),
            Phone,
            noon,
            false,
        )
        .expect(Defer, &["hold_for:us-reg-f-phone"])
        .until(local(ny_tz, 2024, 6, 6, 8, 0)),
        case(
            "right-party contact 7 days ago: calls allowed again",
            f(|x| x.history = vec![call(noon - Duration::days(7), Some(101), ContactKind::MobilePhone)]),
            Phone,
            noon,
            false,
        ),
        case(
            "hold-for does not stop texts",
            f(|x| x.history = vec![call(noon - Duration::days(1), Some(4), ContactKind::MobilePhone)]),
            Text,
            noon,
            false,
        ),
        // Massachusetts: calls and texts together, by kind of number.
        case(
            "Massachusetts: 2 texts this week to the mobile defer a call to the mobile",
            f(|x| { x.state = Some("MA".into()); x.target = point("+16175550100", ContactKind::MobilePhone); x.history = vec![text(noon - Duration::days(3)), text(noon - Duration::days(1))] }),
            Phone,
            noon,
            false,
        )
        .expect(Defer, &["frequency:ma-home-mobile-phone"])
        .until(local(ny_tz, 2024, 6, 5, 8, 0))
        .near(),
        case(
            "Massachusetts: texts to the mobile do not count against the work number",
            f(|x| { x.state = Some("MA".into()); x.target = point("+16175550111", ContactKind::WorkPhone); x.history = vec![text(noon - Duration::days(3)), text(noon - Duration::days(1))] }),
            Phone,
            noon,
            false,
        ),
        case(
            "Massachusetts: one text this week, the call is the last allowed",
            f(|x| { x.state = Some("MA".into()); x.target = point("+16175550100", ContactKind::HomePhone); x.history = vec![text(noon - Duration::days(3))] }),
            Phone,
            noon,
            false,
        )
        .near(),
        // Washington: 3 contacts a week across channels.
        case(
            "Washington: 3 contacts this week defer an email",
            f(|x| { x.state = Some("WA".into()); x.target = point("pat@example.com", ContactKind::Email); x.history = vec![text(noon - Duration::days(1)), text(noon - Duration::days(2)), call(noon - Duration::days(3), Some(1), ContactKind::MobilePhone)] }),
            Email,
            noon,
            false,
        )
        .expect(Defer, &["frequency:wa-email"])
        .until(local(ny_tz, 2024, 6, 5, 8, 0))
        .near(),
    ];
    // Staff-made controls.
    cases.push(
        case("a limit of zero blocks", ny(), Letter, noon, false)
            .rules(with(serde_json::json!({"key": "no-letters", "channel": "letter", "country": "US", "max_contacts": 0, "period": "month"})))
            .expect(Block, &["frequency:no-letters"]),
    );
    cases.push(
        case("SMS re-authorization older than its age blocks automatic texts", ny(), Text, noon, false)
            .rules(with(serde_json::json!({"key": "reauth", "channel": "text", "sms_reauth_days": 180})))
            .expect(Block, &["sms_reauth:reauth"]),
    );
    cases.push(
        case("SMS re-authorization young enough", ny(), Text, noon, false)
            .rules(with(serde_json::json!({"key": "reauth", "channel": "text", "sms_reauth_days": 400}))),
    );
    let group_history = vec![
        PastContact { own: false, ..text(noon - Duration::days(1)) },
        PastContact { own: false, ..text(noon - Duration::days(2)) },
    ];
    cases.push(
        case("group contacts count when the control applies to the group", f(|x| x.history = group_history.clone()), Text, noon, false)
            .rules(with(serde_json::json!({"key": "group-texts", "channel": "text", "country": "US", "max_contacts": 2, "period": "week", "apply_to_group": true})))
            .expect(Defer, &["frequency:group-texts"])
            .until(local(ny_tz, 2024, 6, 6, 8, 0))
            .near(),
    );
    cases.push(
        case("group contacts do not count otherwise", f(|x| x.history = group_history.clone()), Text, noon, false)
            .rules(with(serde_json::json!({"key": "own-texts", "channel": "text", "country": "US", "max_contacts": 2, "period": "week"}))),
    );
    cases.push(
        case("a control in one state does not touch another", ny(), Text, ny_at(9, 0), false)
            .rules(with(serde_json::json!({"key": "ca-late", "channel": "text", "state": "CA", "window": "10:00-20:00"}))),
    );

    let mut failures = Vec::new();
    for c in &cases {
        let d = decide(&c.facts, &Proposed { channel: c.channel, at: c.at, manual: c.manual }, &c.rules);
        let rules: Vec<&str> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
        if d.verdict != c.verdict || rules != c.reasons || d.defer_until != c.defer_until || d.near_limit != c.near_limit {
            failures.push(format!(
                "{}:\n  want {:?} {:?} until {:?} near {}\n  got  {:?} {:?} until {:?} near {} {:?}",
                c.name, c.verdict, c.reasons, c.defer_until, c.near_limit, d.verdict, rules, d.defer_until, d.near_limit, d.reasons
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn carrier_block_names_the_error_code() {
    let facts = f(|x| x.number_invalid = carrier_invalid());
    let d = decide(&facts, &Proposed { channel: Channel::Text, at: ny_at(12, 0), manual: true }, packs());
    assert_eq!(d.reasons.len(), 1, "{:?}", d.reasons);
    let detail = &d.reasons[0].detail;
    assert!(detail.contains("error 30006: landline or unreachable carrier"), "{detail}");
    assert!(detail.contains("2024-05-30T14:00:00.000Z"), "{detail}");
    // A code the carrier table does not describe is still named.
    let facts = f(|x| x.number_invalid = Some(CarrierInvalid { error_code: "39999".into(), meaning: None, set_at: "2024-05-30T14:00:00.000Z".into() }));
    let d = decide(&facts, &Proposed { channel: Channel::Text, at: ny_at(12, 0), manual: false }, packs());
    assert_eq!(d.verdict, Verdict::Block);
    assert!(d.reasons[0].detail.contains("error 39999,"), "{:?}", d.reasons);
}

// ---------------------------------------------------------------- properties

const ZONES: [Tz; 5] = [Tz::America__New_York, Tz::America__Los_Angeles, Tz::America__Toronto, Tz::America__Chicago, Tz::Europe__London];
const NUMBERS: [&str; 5] = ["+12125550100", "+14155550100", "+14165550100", "+18505550100", "+18005550100"];
const REGIONS: [(Option<&str>, &str); 7] =
    [(Some("NY"), "US"), (Some("MA"), "US"), (Some("WA"), "US"), (Some("ON"), "CA"), (Some("QC"), "CA"), (None, "GB"), (Some("BC"), "CA")];
const CODES: [Option<i64>; 6] = [None, Some(1), Some(4), Some(101), Some(125), Some(0)];
const CHANNELS: [Channel; 4] = [Channel::Text, Channel::Email, Channel::Phone, Channel::Letter];
const KINDS: [ContactKind; 3] = [ContactKind::MobilePhone, ContactKind::HomePhone, ContactKind::WorkPhone];

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn arb_contact() -> impl Strategy<Value = PastContact> {
    (0i64..(70 * 24 * 60), 0usize..4, prop::bool::weighted(0.8), 0usize..3, 0usize..6, prop::bool::weighted(0.8)).prop_map(
        |(minutes, ch, outbound, kind, code, own)| PastContact {
            at: base_time() + Duration::minutes(minutes),
            channel: CHANNELS[ch],
            outbound,
            kind: Some(KINDS[kind]),
            call_result: CODES[code],
            own,
        },
    )
}

#[derive(Debug, Clone)]
struct Scenario {
    facts: Facts,
    proposed: Proposed,
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    (
        (0usize..6, 0usize..7, 0usize..5, 0usize..3, 0u8..4, prop::collection::vec(prop::bool::weighted(0.1), 6)),
        (0usize..4, any::<bool>(), (20 * 24 * 60)..(60 * 24 * 60i64)),
        prop::collection::vec(arb_contact(), 0..120),
    )
        .prop_map(|((zone, region, number, kind, consent_mode, flags), (channel, manual, minutes), mut history)| {
            history.sort_by_key(|h| h.at);
            let channel = CHANNELS[channel];
            let at = base_time() + Duration::minutes(minutes);
            let target = match channel {
                Channel::Letter => Target::Postal,
                Channel::Email if kind == 2 => point("pat@employer.example", ContactKind::WorkEmail),
                Channel::Email => point("pat@example.com", ContactKind::Email),
                _ => point(NUMBERS[number], KINDS[kind]),
            };
            let address = match &target {
                Target::Point { address, .. } => Some(address.clone()),
                _ => None,
            };
            let consent_at = at - Duration::days(i64::from(consent_mode) * 100);
            let consent = match consent_mode {
                0 => vec![],
                1 => vec![consent(1, None, None, ConsentStatus::OptedIn, consent_at)],
                2 => vec![consent(1, Some(channel), address.as_deref(), ConsentStatus::OptedIn, consent_at)],
                _ => vec![
                    consent(1, None, None, ConsentStatus::OptedIn, consent_at),
                    consent(2, None, address.as_deref(), ConsentStatus::OptedOut, consent_at),
                ],
            };
            let (state, country) = REGIONS[region];
            let facts = Facts {
                tenant_id: "T1".into(),
                time_zone: if zone == 5 { None } else { Some(ZONES[zone]) },
                state: state.map(str::to_owned),
                country: country.into(),
                target,
                consent,
                bankruptcy: flags[0],
                disable_texting_auto_calls: flags[1],
                disable_auto_communications: flags[2],
                excluded_by_customer: flags[3],
                excluded_by_user: flags[4],
                // Only numbers have a carrier state.
                number_invalid: if flags[5] && channel.uses_phone() { carrier_invalid() } else { None },
                history,
            };
            Scenario { facts, proposed: Proposed { channel, at, manual } }
        })
}

/// Extra controls the property tests add to the packs (group limits,
/// re-authorization, a tight window), so those rules are exercised too.
fn property_rules() -> &'static [Control] {
    static RULES: OnceLock<Vec<Control>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = packs().to_vec();
        for spec in [
            serde_json::json!({"key": "p-group-text", "channel": "text", "max_contacts": 4, "period": "week", "apply_to_group": true, "count_channels": ["phone"]}),
            serde_json::json!({"key": "p-reauth", "channel": "text", "sms_reauth_days": 250}),
            serde_json::json!({"key": "p-gb-email", "channel": "email", "country": "GB", "window": "09:00-17:00", "day_windows": {"sat": "closed", "sun": "closed"}, "max_contacts": 2, "period": "month"}),
        ] {
            rules.push(serde_json::from_value::<ControlSpec>(spec).unwrap().to_control().unwrap());
        }
        rules
    })
}

/// Phone controls reduced to their call-code definitions: definitions, not
/// rules, so a rule checked "on its own" still counts calls the same way.
fn code_definitions(rules: &[Control]) -> Vec<Control> {
    rules
        .iter()
        .filter(|c| c.channel == Channel::Phone && (c.attempt_codes.is_some() || c.rpc_codes.is_some()))
        .map(|c| Control {
            key: format!("{}-codes", c.key),
            limit: None,
            hold_for_days: None,
            hours: None,
            sms_reauth_days: None,
            work_email_needs_consent: None,
            ..c.clone()
        })
        .collect()
}

fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Allow => 0,
        Verdict::Defer => 1,
        Verdict::Block => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// A decision never allows what any single rule blocks or defers: the
    /// tenant-level rules alone (no controls), and each control that
    /// applies, alone.
    #[test]
    fn never_allows_what_a_single_rule_objects_to(s in arb_scenario()) {
        let rules = property_rules();
        let all = decide(&s.facts, &s.proposed, rules);
        let defs = code_definitions(rules);
        let alone = decide(&s.facts, &s.proposed, &defs);
        if alone.verdict != Verdict::Allow {
            prop_assert_ne!(all.verdict, Verdict::Allow, "tenant rules object: {:?}", alone.reasons);
        }
        let a = rentmsg::compliance::controls::applicable(rules, s.proposed.channel, s.facts.state.as_deref(), &s.facts.country);
        // Each control alone, with only the facet through which it applies.
        let bare = |c: &Control| Control {
            limit: None, hold_for_days: None, hours: None, sms_reauth_days: None, work_email_needs_consent: None, ..c.clone()
        };
        let mut applied: Vec<Control> = Vec::new();
        applied.extend(a.hours.iter().map(|c| Control { hours: c.hours.clone(), ..bare(c) }));
        applied.extend(a.limits.iter().map(|c| Control { limit: c.limit.clone(), ..bare(c) }));
        applied.extend(a.hold_for.iter().map(|c| Control { hold_for_days: c.hold_for_days, ..bare(c) }));
        applied.extend(a.sms_reauth.iter().map(|c| Control { sms_reauth_days: c.sms_reauth_days, ..bare(c) }));
        applied.extend(a.work_email.iter().map(|c| Control { work_email_needs_consent: c.work_email_needs_consent, ..bare(c) }));
        for c in &applied {
            let mut single = defs.clone();
            single.push(c.clone());
            let one = decide(&s.facts, &s.proposed, &single);
            if one.verdict != Verdict::Allow {
                prop_assert_ne!(all.verdict, Verdict::Allow, "control {} objects alone: {:?}", c.key, one.reasons);
            }
        }
    }

    /// Re-checking at defer-until allows.
    #[test]
    fn defer_until_is_allowed_when_rechecked(s in arb_scenario()) {
        let rules = property_rules();
        let d = decide(&s.facts, &s.proposed, rules);
        prop_assert_eq!(d.verdict == Verdict::Defer, d.defer_until.is_some());
        if let Some(until) = d.defer_until {
            prop_assert!(until > s.proposed.at);
            let again = decide(&s.facts, &Proposed { at: until, ..s.proposed.clone() }, rules);
            prop_assert_eq!(again.verdict, Verdict::Allow, "re-check at {} gave {:?}", until, again.reasons);
        }
    }

    /// Adding a contact to the log never loosens a decision: never block or
    /// defer into allow, never block into defer, never an earlier defer-until.
    #[test]
    fn more_history_never_loosens(s in arb_scenario(), extra in arb_contact()) {
        let rules = property_rules();
        let before = decide(&s.facts, &s.proposed, rules);
        let mut facts = s.facts.clone();
        let i = facts.history.partition_point(|h| h.at <= extra.at);
        facts.history.insert(i, extra);
        let after = decide(&facts, &s.proposed, rules);
        prop_assert!(rank(after.verdict) >= rank(before.verdict), "{:?} -> {:?}: {:?}", before.verdict, after.verdict, after.reasons);
        if let (Some(b), Some(a)) = (before.defer_until, after.defer_until) {
            prop_assert!(a >= b, "defer-until moved earlier: {} -> {}", b, a);
        }
    }

    /// A number the carrier reported invalid never gets a text, manual or
    /// not, and the state changes no call: with it a text is blocked with
    /// the rule named; without it every call decides exactly the same.
    #[test]
    fn carrier_invalid_blocks_texts_and_nothing_else(s in arb_scenario()) {
        let rules = property_rules();
        let mut invalid = s.facts.clone();
        invalid.number_invalid = carrier_invalid();
        let mut usable = s.facts.clone();
        usable.number_invalid = None;
        let with = decide(&invalid, &s.proposed, rules);
        let without = decide(&usable, &s.proposed, rules);
        if s.proposed.channel == Channel::Text {
            prop_assert_eq!(with.verdict, Verdict::Block);
            let named: Vec<&str> = with.reasons.iter().map(|r| r.rule.as_str()).collect();
            prop_assert!(named.contains(&"number_state.invalid"), "{:?}", named);
            // The other objections at that moment are still named, as they
            // are without the state (which may add findings of its deferral search).
            let others: Vec<_> = with.reasons.iter().filter(|r| r.rule != "number_state.invalid").cloned().collect();
            prop_assert!(without.reasons.starts_with(&others), "{:?} vs {:?}", others, without.reasons);
        } else {
            prop_assert_eq!(with, without);
        }
    }

    /// Every block or defer names at least one rule; an allow names none.
    #[test]
    fn reasons_match_the_verdict(s in arb_scenario()) {
        let d = decide(&s.facts, &s.proposed, property_rules());
        prop_assert_eq!(d.verdict == Verdict::Allow, d.reasons.is_empty());
        prop_assert!(d.reasons.iter().all(|r| !r.rule.is_empty() && !r.detail.is_empty()));
    }
}
