//! The call list's `total` against the list itself, on random portfolios:
//! the whole portfolio's total (added up from the per-date overdue counts)
//! is the number of tenants its pages list, and the sum of the properties'
//! totals (counted tenant by tenant); the same holds for each stage. The
//! per-date counts equal a recount of the balance summary after imports,
//! payments, status changes and moves. The clock reads 2024-03-10 16:00 UTC.

mod common;

use common::Env;
use proptest::prelude::*;
use serde_json::Value as Json;

/// The default schedule's stages (days past due), for the stage filter.
const STAGES: [i64; 5] = [1, 2, 3, 4, 5];

/// One random tenant: zone, status, charges (days before the clock's date,
/// cents) and payments (cents).
#[derive(Debug, Clone)]
struct Tenant {
    zone: &'static str,
    status: &'static str,
    property: usize,
    charges: Vec<(i64, i64)>,
    paid: i64,
}

fn tenant() -> impl Strategy<Value = Tenant> {
    (
        prop::sample::select(vec!["", "America/New_York", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago"]),
        prop::sample::select(vec!["active", "active", "stop", "moved_out"]),
        0usize..2,
        // Due dates from 70 days back to 3 days ahead; amounts from $1, so
        // some owe less than the $25 minimum.
        prop::collection::vec((-3i64..70, 100i64..90_000), 1..4),
        prop::sample::select(vec![0i64, 0, 500, 2_000, 50_000]),
    )
        .prop_map(|(zone, status, property, charges, paid)| Tenant { zone, status, property, charges, paid })
}

fn date(days_before: i64) -> String {
    (chrono::NaiveDate::from_ymd_opt(2024, 3, 10).unwrap() - chrono::Duration::days(days_before)).format("%Y-%m-%d").to_string()
}

fn dollars(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn import(env: &Env, tenants: &[Tenant], status_of: impl Fn(usize, &Tenant) -> &'static str, property_of: impl Fn(usize, &Tenant) -> usize) {
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status\n");
    for (i, t) in tenants.iter().enumerate() {
        let p = property_of(i, t) + 1;
        csv.push_str(&format!("T{i},P{p},Tenant {i},{i},(888) 555-{i:04},,,,,,,{},,{}\n", t.zone, status_of(i, t)));
    }
    env.import_ok("tenants", &csv);
}

fn seed(env: &Env, tenants: &[Tenant]) {
    env.import_ok(
        "properties",
        "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,MA,US\nP2,Harbor View,America/Chicago,TX,US\n",
    );
    import(env, tenants, |_, t| t.status, |_, t| t.property);
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for (i, t) in tenants.iter().enumerate() {
        for (k, (days, cents)) in t.charges.iter().enumerate() {
            ledger.push_str(&format!("T{i},{},{},charge,{},C-{i}-{k}\n", date(*days), date(*days), dollars(*cents)));
        }
    }
    env.import_ok("ledger", &ledger);
}

/// Payments, then every third tenant's status flipped and every fourth
/// moved to the other property.
fn churn(env: &Env, tenants: &[Tenant]) {
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for (i, t) in tenants.iter().enumerate().filter(|(_, t)| t.paid > 0) {
        ledger.push_str(&format!("T{i},{},,payment,{},P-{i}\n", date(1), dollars(t.paid)));
    }
    env.import_ok("ledger", &ledger);
    let flip = |i: usize, t: &Tenant| if i % 3 == 0 { if t.status == "active" { "stop" } else { "active" } } else { t.status };
    import(env, tenants, flip, |i, t| if i % 4 == 0 { 1 - t.property } else { t.property });
}

/// Every tenant the list shows for `query`, following `next`.
fn listed(env: &Env, query: &str) -> usize {
    let mut n = 0;
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let path = match &after {
            None => format!("/api/call-list?limit=7{query}"),
            Some(c) => format!("/api/call-list?limit=7{query}&after={c}"),
        };
        let page = env.get_ok(&path);
        n += page["items"].as_array().map_or(0, Vec::len);
        match page["next"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => return n,
        }
    }
    panic!("paging {query} does not end");
}

fn total(env: &Env, query: &str) -> i64 {
    let page: Json = env.get_ok(&format!("/api/call-list?limit=1{query}"));
    page["total"].as_i64().unwrap_or(-1)
}

/// The per-date counts differ from a recount of the balance summary: the
/// rows that do not match.
fn counts_drift(env: &Env) -> i64 {
    let recount = "SELECT oldest_unpaid_due_date, tenant_status, count(*) FROM tenant_balances
                   WHERE balance_cents > 0 AND oldest_unpaid_due_date IS NOT NULL GROUP BY 1, 2";
    let kept = "SELECT debt_date, tenant_status, n FROM overdue_counts";
    env.count(&format!("SELECT (SELECT count(*) FROM ({kept} EXCEPT {recount})) + (SELECT count(*) FROM ({recount} EXCEPT {kept})) AS n"))
}

fn check_totals(env: &Env) -> Result<(), TestCaseError> {
    let whole = total(env, "");
    prop_assert_eq!(whole, listed(env, "") as i64, "the whole portfolio's total is what its pages list");
    let by_property = total(env, "&property_id=P1") + total(env, "&property_id=P2");
    prop_assert_eq!(whole, by_property, "the whole portfolio's total is the properties' totals added up");
    for stage in STAGES {
        let q = format!("&stage={stage}");
        prop_assert_eq!(total(env, &q), listed(env, &q) as i64, "stage {}", stage);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn totals_match_the_listed_tenants_before_and_after_payments_status_changes_and_moves(
        tenants in prop::collection::vec(tenant(), 1..40),
    ) {
        let env = Env::new();
        seed(&env, &tenants);
        prop_assert_eq!(counts_drift(&env), 0);
        check_totals(&env)?;
        churn(&env, &tenants);
        prop_assert_eq!(counts_drift(&env), 0);
        check_totals(&env)?;
    }
}

#[test]
fn the_migration_fills_the_counts_from_the_balances_already_there() {
    let env = Env::new();
    let tenants: Vec<Tenant> = (0..12)
        .map(|i| Tenant {
            zone: "",
            status: if i % 5 == 0 { "stop" } else { "active" },
            property: i % 2,
            charges: vec![(10 + i as i64 * 3, 1_000 + i as i64 * 700)],
            paid: 0,
        })
        .collect();
    seed(&env, &tenants);
    // As a database from before the counts: drop them and their triggers,
    // forget the migration, and migrate again.
    use rentmsg::base::db::Db as _;
    for stmt in [
        "DROP TRIGGER overdue_counts_insert",
        "DROP TRIGGER overdue_counts_update",
        "DROP TRIGGER overdue_counts_delete",
        "DROP TABLE overdue_counts",
        "DELETE FROM schema_migrations WHERE version = 15",
    ] {
        env.db.execute(stmt, &[]).unwrap();
    }
    rentmsg::schema::migrate(&env.db, env.now).unwrap();
    assert_eq!(env.count("SELECT coalesce(sum(n), 0) AS n FROM overdue_counts"), 12);
    assert_eq!(counts_drift(&env), 0);
}
