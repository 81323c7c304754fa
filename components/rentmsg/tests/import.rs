//! CSV imports through the staff API, natively: good and bad rows, line
//! numbers and reasons, normalisation, idempotent re-import, whole-file
//! refusals, and batches larger than one transaction.

mod common;

use common::{Env, LEDGER, PROPERTIES, TENANTS};
use rentmsg::base::db::Db;
use rentmsg::import::ROWS_PER_TX;
use serde_json::{json, Value as Json};

fn rejected(report: &Json) -> Vec<(u64, String)> {
    report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_owned()))
        .collect()
}

fn counts(report: &Json) -> (u64, u64, u64, usize) {
    (
        report["created"].as_u64().unwrap(),
        report["updated"].as_u64().unwrap(),
        report["unchanged"].as_u64().unwrap(),
        report["rejected"].as_array().unwrap().len(),
    )
}

/// Every table an import can write, as (table, rows), to prove that a
/// refused file or row wrote nothing.
fn table_counts(env: &Env) -> Vec<(&'static str, i64)> {
    ["properties", "tenants", "contact_points", "ledger_entries"]
        .into_iter()
        .map(|t| (t, env.count(&format!("SELECT count(*) AS n FROM {t}"))))
        .collect()
}

fn str_col(env: &Env, sql: &str) -> Vec<String> {
    env.db.execute(sql, &[]).unwrap().iter().map(|r| r.string("v").unwrap()).collect()
}

#[test]
fn properties_good_rows_land_and_bad_rows_say_why() {
    let env = Env::new();
    let report = env.import_ok(
        "properties",
        "property_id,name,time_zone,state,country
P1,Maple Court,America/New_York,ma,us
P2,No Zone,,MA,US
P3,Bad Zone,Eastern,MA,US
,Nameless Id,America/New_York,MA,US
P4,,America/New_York,MA,US
P5,Bad Country,America/New_York,MA,USA
P6,Toronto,America/Toronto,ON,CA
P1,Maple Again,America/New_York,MA,US
",
    );
    assert_eq!(counts(&report), (2, 0, 0, 6));
    let rejected = rejected(&report);
    let lines: Vec<u64> = rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 9]);
    let reason = |line: u64| rejected.iter().find(|(l, _)| *l == line).unwrap().1.clone();
    assert!(reason(3).contains("time zone is empty"), "{}", reason(3));
    assert!(reason(4).contains("`Eastern` is not an IANA name"), "{}", reason(4));
    assert!(reason(5).contains("property_id is required"), "{}", reason(5));
    assert!(reason(6).contains("name is required"), "{}", reason(6));
    assert!(reason(7).contains("country `USA`"), "{}", reason(7));
    assert!(reason(9).contains("duplicate property_id `P1` (first on line 2)"), "{}", reason(9));
    // Codes are stored upper-case.
    assert_eq!(str_col(&env, "SELECT state || '/' || country AS v FROM properties WHERE property_id = 'P1'"), ["MA/US"]);
    assert_eq!(table_counts(&env)[0], ("properties", 2));
}

#[test]
fn a_row_with_several_problems_lists_them_all() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    let report = env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id
T9,P1,,1A,12,,,not-an-email,,,,Mars/Base,
",
    );
    let rejected = rejected(&report);
    assert_eq!(rejected.len(), 1);
    let reason = &rejected[0].1;
    for part in ["name is required", "email: `not-an-email` is not an email address", "time zone `Mars/Base`"] {
        assert!(reason.contains(part), "{reason} should mention {part}");
    }
}

#[test]
fn tenants_phones_become_e164_with_the_row_or_property_country() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    let report = env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id
T1,P1,Pat Smith,1A,(415) 555-2671,617.555.0123 x45,,Pat@Example.COM,pat@work.example.com,,,,
T2,P2,Lee Wong,2B,416 555 0199,,,,,,,,
T3,P1,Ann Lee,3C,020 7946 0958,,,,,,GB,Europe/London,
T4,P1,Bob Ray,4D,+33 6 12 34 56 78,,,,,,,,
",
    );
    assert_eq!(counts(&report), (4, 0, 0, 0), "{report}");
    let points = str_col(
        &env,
        "SELECT tenant_id || ' ' || kind || ' ' || channel || ' ' || address AS v FROM contact_points ORDER BY tenant_id, kind",
    );
    assert_eq!(
        points,
        [
            "T1 email email pat@example.com",
            "T1 home_phone phone +16175550123",
            "T1 mobile_phone phone +14155552671",
            "T1 work_email email pat@work.example.com",
            "T2 mobile_phone phone +14165550199",
            "T3 mobile_phone phone +442079460958",
            "T4 mobile_phone phone +33612345678",
        ]
    );
}

#[test]
fn tenants_rows_are_checked_one_by_one() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    let before = table_counts(&env);
    let report = env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status
T1,P1,Pat Smith,1A,(415) 555-2671,,,,,,,,,
T2,P9,Nobody Home,1A,,,,,,,,,,
T3,P1,Short Number,1A,555-1234,,,,,,,,,
T4,P1,Bad Status,1A,,,,,,,,,,evicted
T5,P1,Stopped,1A,,,,,,,,,,STOP
T6,P1,Gone,1A,,,,,,,,,,moved_out
T7,P1,Bad Zone,1A,,,,,,,,America/Nowhere,,
T1,P1,Pat Twice,1A,,,,,,,,,,
T8,P1,Too few fields
T9,P1,No status field,1A,,,,,,,,,
T10,P1,Stray comma,1A,,,,,,,,,,active,
T11,P1,Extra field,1A,,,,,,,,,,active,surprise
",
    );
    assert_eq!(counts(&report), (5, 0, 0, 7), "{report}");
    let rejected = rejected(&report);
    let expect: &[(u64, &str)] = &[
        (3, "unknown property_id `P9` (import properties first)"),
        (4, "mobile_phone: `555-1234` is not a valid phone number for US"),
        (5, "status `evicted` is not one of active, stop, moved_out"),
        (8, "time zone `America/Nowhere` is not an IANA name"),
        (9, "duplicate tenant_id `T1` (first on line 2)"),
        (10, "row has 3 fields but the header has 14: no unit, mobile_phone, home_phone"),
        (13, "row has 15 fields but the header has 14: the extra fields are not empty"),
    ];
    assert_eq!(rejected.len(), expect.len(), "{rejected:?}");
    for ((line, reason), (want_line, want)) in rejected.iter().zip(expect) {
        assert_eq!(line, want_line);
        assert!(reason.contains(want), "line {line}: {reason} should contain {want}");
    }
    let statuses = str_col(&env, "SELECT tenant_id || '=' || status AS v FROM tenants ORDER BY tenant_id");
    // A row that leaves out the trailing status is active.
    assert_eq!(statuses, ["T1=active", "T10=active", "T5=stop", "T6=moved_out", "T9=active"]);
    // The rejected rows wrote nothing: five tenants, one contact point.
    let after = table_counts(&env);
    assert_eq!(after[1].1 - before[1].1, 5);
    assert_eq!(after[2].1 - before[2].1, 1);
}

#[test]
fn header_is_matched_by_name_in_any_order_and_case_with_extras_ignored() {
    let env = Env::new();
    let report = env.import_ok(
        "properties",
        "\u{feff}Country, NAME ,notes,time_zone,State,property_id\nCA,Lakeview,ignored,America/Toronto,on,P2\n",
    );
    assert_eq!(counts(&report), (1, 0, 0, 0), "{report}");
    let view = str_col(&env, "SELECT name || ',' || time_zone || ',' || state || ',' || country AS v FROM properties");
    assert_eq!(view, ["Lakeview,America/Toronto,ON,CA"]);
}

#[test]
fn line_numbers_count_physical_lines_and_blank_lines_are_skipped() {
    let env = Env::new();
    let report = env.import_ok(
        "properties",
        "property_id,name,time_zone,state,country,notes\nP1,Maple,America/New_York,MA,US,\"two\nlines\"\n\nP2,Bad,Nowhere/Zone,MA,US,\nP3,\"Line\nBreak\",America/New_York,MA,US,\n",
    );
    assert_eq!(counts(&report), (1, 0, 0, 2));
    let rejected = rejected(&report);
    assert_eq!(rejected[0].0, 5, "header 1, quoted field on 2-3, blank 4, bad row 5");
    // A line break inside a name is refused, not stored.
    assert_eq!(rejected[1], (6, "name contains control characters".to_owned()));
}

#[test]
fn ledger_amounts_are_exact_cents_and_bad_rows_say_why() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    env.import_ok("tenants", TENANTS);
    let report = env.import_ok(
        "ledger",
        "tenant_id,date,due_date,kind,amount,reference
T1,2024-02-01,2024-02-01,charge,\"1,200.10\",R1
T1,2024-02-03,,payment,0.3,P1
T1,2024-02-04,,credit,19.99,C1
T1,2024-02-05,,charge,10.00,R2
T1,2024-02-06,2024-02-06,charge,12.345,R3
T1,2024-02-07,2024-02-07,charge,$12,R4
T1,2024-02-08,2024-02-08,charge,-5,R5
T1,2024-02-09,2024-02-09,charge,0,R6
T1,02/10/2024,2024-02-10,charge,5,R7
T1,2024-02-11,2024-02-11,fee,5,R8
T9,2024-02-12,2024-02-12,charge,5,R9
T1,2024-02-13,2024-02-13,charge,5,
T1,2024-02-14,2024-02-14,charge,7,R1
",
    );
    assert_eq!(counts(&report), (3, 0, 0, 10), "{report}");
    let expect: &[(u64, &str)] = &[
        (5, "due_date is required for a charge"),
        (6, "more than two decimal places"),
        (7, "amount `$12` is not a number"),
        (8, "amount must be greater than 0"),
        (9, "amount must be greater than 0"),
        (10, "date: `02/10/2024` is not a date in YYYY-MM-DD form"),
        (11, "kind `fee` is not one of charge, payment, credit"),
        (12, "unknown tenant_id `T9` (import tenants first)"),
        (13, "reference is required"),
        (14, "duplicate reference `R1` for tenant `T1` (first on line 2)"),
    ];
    let rejected = rejected(&report);
    assert_eq!(rejected.len(), expect.len(), "{rejected:?}");
    for ((line, reason), (want_line, want)) in rejected.iter().zip(expect) {
        assert_eq!(line, want_line);
        assert!(reason.contains(want), "line {line}: {reason} should contain {want}");
    }
    let stored = str_col(
        &env,
        "SELECT reference || ' ' || kind || ' ' || due_date || ' ' || amount_cents AS v FROM ledger_entries ORDER BY id",
    );
    // Payments and credits without a due date are due when posted.
    assert_eq!(stored, ["R1 charge 2024-02-01 120010", "P1 payment 2024-02-03 30", "C1 credit 2024-02-04 1999"]);
    // Amounts are stored as integers, never floats.
    assert_eq!(env.count("SELECT count(*) AS n FROM ledger_entries WHERE typeof(amount_cents) <> 'integer'"), 0);
}

#[test]
fn re_importing_the_same_files_changes_nothing() {
    let env = Env::new();
    env.seed();
    let snapshot = |env: &Env| {
        str_col(
            env,
            "SELECT group_concat(x, '|') AS v FROM (
               SELECT property_id || name || time_zone || updated_at AS x FROM properties
               UNION ALL SELECT tenant_id || name || coalesce(time_zone, '') || updated_at FROM tenants
               UNION ALL SELECT tenant_id || kind || address || updated_at FROM contact_points
               UNION ALL SELECT tenant_id || reference || amount_cents || updated_at FROM ledger_entries)",
        )
    };
    let before = snapshot(&env);
    let mut later = env;
    later.now += chrono::Duration::hours(5);
    for (kind, csv, rows) in [("properties", PROPERTIES, 2), ("tenants", TENANTS, 3), ("ledger", LEDGER, 4)] {
        let report = later.import_ok(kind, csv);
        assert_eq!(counts(&report), (0, 0, rows, 0), "{kind}: {report}");
    }
    assert_eq!(snapshot(&later), before, "no row was touched, not even updated_at");
}

#[test]
fn changed_rows_are_updated_in_place() {
    let mut env = Env::new();
    env.seed();
    env.now += chrono::Duration::days(1);
    let report = env.import_ok(
        "properties",
        "property_id,name,time_zone,state,country\nP1,Maple Court East,America/New_York,MA,US\nP2,Lakeview,America/Toronto,ON,CA\n",
    );
    assert_eq!(counts(&report), (0, 1, 1, 0));
    // T1's mobile changes, its home phone goes, a work email appears; T2 is unchanged.
    let report = env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id
T1,P1,Pat Smith,1A,(415) 555-0000,,,pat@example.com,pat@work.example.com,,,,
T2,P2,Lee Wong,2B,416 555 0199,,,lee@example.org,,,,,G7
",
    );
    assert_eq!(counts(&report), (0, 1, 1, 0), "{report}");
    let points = str_col(&env, "SELECT kind || '=' || address AS v FROM contact_points WHERE tenant_id = 'T1' ORDER BY kind");
    assert_eq!(points, ["email=pat@example.com", "mobile_phone=+14155550000", "work_email=pat@work.example.com"]);
    let report = env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nT1,2024-03-05,,payment,1600,PAY-1\n");
    assert_eq!(counts(&report), (0, 1, 0, 0));
    let view = env.get_ok("/api/tenants/T1");
    assert_eq!(view["balance_cents"], json!(80_000));
    // Updates keep when a record was first seen and say when it changed.
    assert_eq!(view["created_at"], json!("2024-03-10T16:00:00.000Z"));
    assert_eq!(view["updated_at"], json!("2024-03-11T16:00:00.000Z"));
    assert_eq!(
        str_col(&env, "SELECT created_at || ' ' || updated_at AS v FROM contact_points WHERE tenant_id = 'T1' AND kind = 'mobile_phone'"),
        ["2024-03-10T16:00:00.000Z 2024-03-11T16:00:00.000Z"]
    );
    assert_eq!(
        str_col(&env, "SELECT created_at || ' ' || updated_at AS v FROM tenants WHERE tenant_id = 'T2'"),
        ["2024-03-10T16:00:00.000Z 2024-03-10T16:00:00.000Z"],
        "unchanged rows are not touched"
    );
}

#[test]
fn an_import_never_takes_over_a_payment_recorded_by_the_payments_component() {
    let env = Env::new();
    env.seed();
    let payment = rentmsg::records::ledger::NewPayment {
        tenant_id: "T1",
        reference: "pi_123",
        kind: rentmsg::records::ledger::EntryKind::Payment,
        date: chrono::NaiveDate::from_ymd_opt(2024, 3, 9).unwrap(),
        amount_cents: 10_000,
        source: "payments",
    };
    assert!(rentmsg::records::ledger::record_payment(&env.db, &payment, env.now).unwrap());
    // The AR system echoes the same payment back with its reference.
    let report = env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nT1,2024-03-10,,payment,100.00,pi_123\n");
    assert_eq!(counts(&report), (0, 1, 0, 0));
    assert_eq!(
        str_col(&env, "SELECT source || ' ' || date || ' ' || amount_cents AS v FROM ledger_entries WHERE reference = 'pi_123'"),
        ["payments 2024-03-10 10000"]
    );
}

#[test]
fn whole_file_problems_are_refused_and_write_nothing() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    let before = table_counts(&env);
    let audit_before = env.count("SELECT count(*) AS n FROM audit_log");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "wrong header",
            b"tenant,property,name\nT1,P1,Pat\n".to_vec(),
            400,
            "the header is missing column(s) tenant_id, property_id, unit",
        ),
        ("empty body", b"".to_vec(), 400, "the CSV is empty: a header row is required"),
        ("only whitespace", b" \n\n".to_vec(), 400, "the CSV is empty"),
        (
            "latin-1 bytes",
            b"tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\nT1,P1,Ren\xe9e,,,,,,,,,,\n"
                .to_vec(),
            400,
            "not valid UTF-8 (first bad byte at offset 126, line 2)",
        ),
        (
            "column twice",
            b"tenant_id,tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n"
                .to_vec(),
            400,
            "column `tenant_id` appears twice",
        ),
    ];
    for (name, body, status, message) in cases {
        let r = env.send("POST", "/api/import/tenants", Some("text/csv"), &body);
        assert_eq!(r.status, status, "{name}");
        let error = r.body_json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(message), "{name}: {error}");
    }
    let r = env.send("POST", "/api/import/tenants", Some("application/json"), TENANTS.as_bytes());
    assert_eq!(r.status, 415);
    assert_eq!(r.body_json()["error"], json!("content type must be text/csv, not application/json"));
    let r = env.send("POST", "/api/import/tenants", None, TENANTS.as_bytes());
    assert_eq!(r.status, 415);
    let r = env.send("POST", "/api/import/tenants", Some("text/csv; charset=windows-1252"), TENANTS.as_bytes());
    assert_eq!(r.status, 415);
    assert!(r.body_json()["error"].as_str().unwrap().contains("send UTF-8"));
    assert_eq!(table_counts(&env), before);
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log"), audit_before, "refused files are not imports");
    // Explicit UTF-8 is fine.
    let r = env.send("POST", "/api/import/tenants", Some("text/csv; charset=UTF-8"), TENANTS.as_bytes());
    assert_eq!(r.status, 200);
}

#[test]
fn each_import_is_audited_with_who_and_the_counts() {
    let env = Env::new();
    let r = env.raw(
        "POST",
        "/api/import/properties",
        &[("authorization", &format!("Bearer {}", common::TOKEN)), ("content-type", "text/csv"), ("x-staff-user", "alice")],
        PROPERTIES.as_bytes(),
    );
    assert_eq!(r.status, 200);
    let audit = env.get_ok("/api/audit");
    let entry = &audit["entries"][0];
    assert_eq!(entry["actor"], json!("bootstrap:alice"));
    assert_eq!(entry["action"], json!("import.properties"));
    assert_eq!(entry["detail"], json!({"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}));
    assert_eq!(entry["at"], json!("2024-03-10T16:00:00.000Z"));
}

#[test]
fn files_larger_than_one_transaction_land_whole_and_reimport_unchanged() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    let n = ROWS_PER_TX * 2 + 123;
    let mut tenants = String::from(
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n",
    );
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for i in 0..n {
        // Every 1000th row has an impossible phone number.
        let phone = if i % 1000 == 999 { "12".to_owned() } else { format!("(617) 555-{:04}", i % 10_000) };
        tenants.push_str(&format!("T{i},P1,Tenant {i},{i},{phone},,,t{i}@example.com,,,,,\n"));
        ledger.push_str(&format!("T{i},2024-03-01,2024-03-01,charge,{}.{:02},RENT-{i}\n", 500 + i % 700, i % 100));
    }
    let bad = (n / 1000) as u64;
    let report = env.import_ok("tenants", &tenants);
    assert_eq!(counts(&report), (n as u64 - bad, 0, 0, bad as usize));
    assert_eq!(rejected(&report)[0].0, 1001, "T999 is on line 1001");
    let report = env.import_ok("ledger", &ledger);
    assert_eq!(counts(&report), (n as u64 - bad, 0, 0, bad as usize));
    assert!(rejected(&report)[0].1.contains("unknown tenant_id `T999`"));
    let report = env.import_ok("tenants", &tenants);
    assert_eq!(counts(&report), (0, 0, n as u64 - bad, bad as usize));
    let report = env.import_ok("ledger", &ledger);
    assert_eq!(counts(&report), (0, 0, n as u64 - bad, bad as usize));
    assert_eq!(env.count("SELECT count(*) AS n FROM ledger_entries"), n as i64 - bad as i64);
    // Every tenant renamed and given a home phone: all updated, in batches.
    let renamed: String = tenants
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("{l}\n") } else { format!("{}\n", l.replacen(",Tenant ", ",Renamed ", 1).replacen(",,,t", ",(212) 555-0100,,t", 1)) })
        .collect();
    let report = env.import_ok("tenants", &renamed);
    assert_eq!(counts(&report), (0, n as u64 - bad, 0, bad as usize));
    assert_eq!(env.count("SELECT count(*) AS n FROM tenants WHERE name LIKE 'Renamed %'"), n as i64 - bad as i64);
    assert_eq!(env.count("SELECT count(*) AS n FROM contact_points WHERE kind = 'home_phone' AND address = '+12125550100'"), n as i64 - bad as i64);
    assert_eq!(
        env.count("SELECT sum(amount_cents) AS n FROM ledger_entries"),
        (0..n).filter(|i| i % 1000 != 999).map(|i| (500 + i % 700) as i64 * 100 + (i % 100) as i64).sum::<i64>()
    );
}

#[test]
fn a_tenant_without_its_own_time_zone_uses_the_propertys() {
    let env = Env::new();
    env.seed();
    let t1 = env.get_ok("/api/tenants/T1");
    assert_eq!((t1["time_zone"].as_str(), t1["time_zone_source"].as_str()), (Some("America/New_York"), Some("property")));
    let t3 = env.get_ok("/api/tenants/T3");
    assert_eq!((t3["time_zone"].as_str(), t3["time_zone_source"].as_str()), (Some("America/Chicago"), Some("tenant")));
    // A property that moves zone carries its tenants along.
    env.import_ok("properties", "property_id,name,time_zone,state,country\nP1,Maple Court,America/Denver,MA,US\n");
    assert_eq!(env.get_ok("/api/tenants/T1")["time_zone"], json!("America/Denver"));
}

#[test]
fn windows_line_ends_give_the_same_line_numbers() {
    let env = Env::new();
    let report = env.import_ok(
        "properties",
        "property_id,name,time_zone,state,country\r\nP1,Maple,America/New_York,MA,US\r\n\r\nP2,Bad,Nowhere/Zone,MA,US\r\nP3,Ok,America/Chicago,IL,US\r\n",
    );
    assert_eq!(counts(&report), (2, 0, 0, 1));
    assert_eq!(rejected(&report)[0].0, 4);
    assert_eq!(str_col(&env, "SELECT group_concat(name, ',') AS v FROM properties"), ["Maple,Ok"], "no stray \\r");
}
