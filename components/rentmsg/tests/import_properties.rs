//! Property tests: whatever mix of good and bad rows a file has, exactly
//! the bad ones are rejected (with their own line numbers), the good ones
//! land, and re-importing the file — in any row order — changes nothing.
//! Plus money and ledger invariants over arbitrary inputs.

mod common;

use chrono::NaiveDate;
use common::{Env, PROPERTIES};
use proptest::prelude::*;
use rentmsg::records::ledger::{summarize, Entry, EntryKind};
use rentmsg::base::money::{format_money, parse_cents};

/// How a generated tenant row is spoiled (None = a good row).
#[derive(Debug, Clone, Copy)]
enum Spoil {
    Phone,
    TimeZone,
    Name,
    Status,
    Email,
    Property,
    Country,
}

fn spoil() -> impl Strategy<Value = Option<Spoil>> {
    prop_oneof![
        3 => Just(None),
        1 => prop_oneof![
            Just(Spoil::Phone),
            Just(Spoil::TimeZone),
            Just(Spoil::Name),
            Just(Spoil::Status),
            Just(Spoil::Email),
            Just(Spoil::Property),
            Just(Spoil::Country),
        ]
        .prop_map(Some),
    ]
}

/// One good tenant row's values, before spoiling.
#[derive(Debug, Clone)]
struct Row {
    property: &'static str,
    phone_style: u8,
    line: u16,
    tz: Option<&'static str>,
    status: &'static str,
    with_email: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop_oneof![Just("P1"), Just("P2")],
        0u8..4,
        0u16..10_000,
        prop_oneof![Just(None), Just(Some("America/Chicago")), Just(Some("Europe/London"))],
        prop_oneof![Just(""), Just("active"), Just("stop"), Just("moved_out")],
        any::<bool>(),
    )
        .prop_map(|(property, phone_style, line, tz, status, with_email)| Row { property, phone_style, line, tz, status, with_email })
}

fn render(i: usize, r: &Row, spoil: Option<Spoil>) -> String {
    let area = if r.property == "P2" { 416 } else { 617 };
    let mut phone = match r.phone_style {
        0 => format!("({area}) 555-{:04}", r.line),
        1 => format!("{area}.555.{:04}", r.line),
        2 => format!("+1 {area} 555 {:04}", r.line),
        _ => format!("{area}555{:04}", r.line),
    };
    let mut property = r.property.to_owned();
    let mut name = format!("Tenant {i}");
    let mut tz = r.tz.unwrap_or("").to_owned();
    let mut status = r.status.to_owned();
    let mut email = if r.with_email { format!("T{i}@Example.com") } else { String::new() };
    let mut country = String::new();
    match spoil {
        None => {}
        Some(Spoil::Phone) => phone = format!("555-{:03}", r.line % 1000),
        Some(Spoil::TimeZone) => tz = "Eastern Standard Time".into(),
        Some(Spoil::Name) => name = String::new(),
        Some(Spoil::Status) => status = "evicted".into(),
        Some(Spoil::Email) => email = format!("t{i} at example.com"),
        Some(Spoil::Property) => property = "P404".into(),
        Some(Spoil::Country) => country = "XX".into(),
    }
    format!("T{i},{property},{name},U{i},{phone},,,{email},,,{country},{tz},,{status}\n")
}

const HEADER: &str =
    "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn exactly_the_bad_rows_are_rejected_and_reimport_changes_nothing(
        rows in prop::collection::vec((row(), spoil()), 1..40),
        rotate in 0usize..40,
    ) {
        let env = Env::new();
        env.import_ok("properties", PROPERTIES);
        let mut csv = String::from(HEADER);
        for (i, (r, s)) in rows.iter().enumerate() {
            csv.push_str(&render(i, r, *s));
        }
        let want_rejected: Vec<u64> =
            rows.iter().enumerate().filter(|(_, (_, s))| s.is_some()).map(|(i, _)| i as u64 + 2).collect();
        let good = (rows.len() - want_rejected.len()) as u64;

        let report = env.import_ok("tenants", &csv);
        let lines: Vec<u64> = report["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
        prop_assert_eq!(&lines, &want_rejected, "{}", report);
        prop_assert_eq!(report["created"].as_u64(), Some(good));
        prop_assert_eq!(env.count("SELECT count(*) AS n FROM tenants"), good as i64);
        prop_assert_eq!(
            env.count("SELECT count(*) AS n FROM contact_points WHERE address NOT LIKE '+1%' AND kind = 'mobile_phone'"),
            0
        );

        // The same rows in another order: every good row unchanged.
        let body: Vec<&str> = csv.lines().skip(1).collect();
        let k = rotate % body.len();
        let rotated = format!("{HEADER}{}\n", [&body[k..], &body[..k]].concat().join("\n"));
        let report = env.import_ok("tenants", &rotated);
        prop_assert_eq!(report["created"].as_u64(), Some(0));
        prop_assert_eq!(report["updated"].as_u64(), Some(0));
        prop_assert_eq!(report["unchanged"].as_u64(), Some(good));
        prop_assert_eq!(report["rejected"].as_array().unwrap().len(), want_rejected.len());
    }

    #[test]
    fn cents_survive_formatting(cents in -99_999_999_999_999i64..=99_999_999_999_999) {
        prop_assert_eq!(parse_cents(&format_money(cents).replacen('$', "", 1)), Ok(cents));
    }

    #[test]
    fn amounts_with_two_decimals_are_exact(units in 0u64..1_000_000_000, frac in 0u8..100, grouped in any::<bool>()) {
        let int = if grouped {
            let digits = units.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        } else {
            units.to_string()
        };
        prop_assert_eq!(parse_cents(&format!("{int}.{frac:02}")), Ok(units as i64 * 100 + i64::from(frac)));
    }

    #[test]
    fn ledger_summary_invariants(
        entries in prop::collection::vec((0u8..3, 0i64..120, 0i64..60, 1i64..500_000), 0..25),
        today in 0i64..200,
    ) {
        let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let entries: Vec<Entry> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, day, grace, cents))| Entry {
                reference: format!("R{i}"),
                kind: [EntryKind::Charge, EntryKind::Payment, EntryKind::Credit][usize::from(*k)],
                date: base + chrono::Duration::days(*day),
                due_date: base + chrono::Duration::days(day + grace),
                amount_cents: *cents,
            })
            .collect();
        let s = summarize(&entries, base + chrono::Duration::days(today));
        let charged: i64 = entries.iter().filter(|e| e.kind == EntryKind::Charge).map(|e| e.amount_cents).sum();
        let paid: i64 = entries.iter().filter(|e| e.kind != EntryKind::Charge).map(|e| e.amount_cents).sum();
        prop_assert_eq!(s.balance_cents, charged - paid);
        let open: i64 = s.charges.iter().map(|c| c.open_cents).sum();
        prop_assert_eq!(open, s.balance_cents.max(0));
        prop_assert!(s.overdue_cents <= open && s.overdue_cents >= 0);
        prop_assert!(s.days_past_due >= 0);
        if s.balance_cents <= 0 {
            prop_assert_eq!(s.days_past_due, 0);
            prop_assert_eq!(s.oldest_open_due_date, None);
        }
        // Oldest first: once a charge is open, every later-due charge is fully open.
        let mut seen_open = false;
        for c in &s.charges {
            if seen_open {
                prop_assert_eq!(c.open_cents, c.amount_cents);
            }
            seen_open |= c.open_cents > 0;
        }
    }
}
