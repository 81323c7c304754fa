//! The report's per-day figures, kept by the writers' triggers, against a
//! recount straight from the rows they summarise: after any mix of writes
//! (in any order, reversals included), after the migration fills them from
//! rows already there, and for the two rules the recount cannot show (a
//! tenant who moves, a payment recorded before its notice is sent).

use rentmsg::base::db::{Db, NativeDb, Value};
use rentmsg::records::scope::Scope;
use rentmsg::staff::reports::{self, Breakdown, Report, ReportQuery};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2024-03-25T12:00:00Z".parse().unwrap()
}

fn exec(db: &NativeDb, sql: &str, params: &[Value]) {
    db.execute(sql, params).unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Three properties: New York (English), Quebec (French unless the tenant
/// says otherwise), Ontario (English); 24 tenants, a third of them Spanish
/// speakers, tenants 0 and 1 sharing one phone number.
fn portfolio(db: &NativeDb) {
    let at = "2024-01-01T00:00:00.000Z";
    for (id, state, country) in [("P1", "NY", "US"), ("P2", "QC", "CA"), ("P3", "ON", "CA")] {
        exec(db, "INSERT INTO properties (property_id, name, time_zone, state, country, created_at, updated_at) VALUES (?, ?, 'America/Toronto', ?, ?, ?, ?)", &[id.into(), format!("Site {id}").into(), state.into(), country.into(), at.into(), at.into()]);
    }
    for i in 0..24 {
        let language = (i % 3 == 0).then_some("es");
        exec(
            db,
            "INSERT INTO tenants (tenant_id, property_id, name, language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            &[format!("T{i}").into(), format!("P{}", 1 + i % 3).into(), format!("Tenant {i}").into(), language.into(), at.into(), at.into()],
        );
        let phone = format!("+1555010{:04}", i.max(1));
        exec(db, "INSERT INTO contact_points (tenant_id, kind, channel, address, created_at, updated_at) VALUES (?, 'mobile_phone', 'phone', ?, ?, ?)", &[format!("T{i}").into(), phone.into(), at.into(), at.into()]);
    }
}

/// A small deterministic generator (the workload must be reproducible).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
    fn stamp(&mut self) -> String {
        format!("2024-03-{:02}T{:02}:{:02}:00.000Z", 1 + self.below(20), self.below(24), self.below(60))
    }
    fn day(&mut self) -> String {
        format!("2024-03-{:02}", 1 + self.below(24))
    }
}

const RULES: [&str; 4] = [
    r#"[{"rule":"consent"}]"#,
    r#"[{"rule":"quiet-hours"},{"rule":"frequency"}]"#,
    r#"[{"rule":"consent"},{"rule":"consent"}]"#,
    "not json",
];

/// `steps` writes of every kind the product makes, in random order,
/// through plain SQL (the triggers must follow any writer), reversals
/// included: a failed send retried, a delivery receipt undone, a payment
/// re-imported with another amount, date or kind, a blocked row decided
/// again.
fn workload(db: &NativeDb, rng: &mut Rng, steps: usize) {
    for _ in 0..steps {
        let tenant = format!("T{}", rng.below(24));
        let outbox: Vec<i64> = db.execute("SELECT id FROM outbox", &[]).unwrap().iter().map(|r| r.i64("id").unwrap()).collect();
        let pick = |rng: &mut Rng| outbox[rng.below(outbox.len() as u64) as usize];
        match rng.below(14) {
            0..=2 => {
                let at = rng.stamp();
                exec(db, "INSERT INTO outbox (kind, tenant_id, channel, state, not_before, custom_body, created_by, created_at, updated_at) VALUES ('supplemental', ?, 'text', 'pending', ?, 'Please pay.', 'staff:a', ?, ?)", &[tenant.into(), at.clone().into(), at.clone().into(), at.into()]);
            }
            3 if !outbox.is_empty() => {
                let at = rng.stamp();
                let reasons = RULES[rng.below(4) as usize];
                exec(db, "UPDATE outbox SET state = 'blocked', decision = 'block', reasons = ?, decided_at = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'queued', 'blocked')", &[reasons.into(), at.clone().into(), at.into(), pick(rng).into()]);
            }
            4 if !outbox.is_empty() => {
                // Handed to the provider: the contact-log row, then the answer.
                let id = pick(rng);
                let at = rng.stamp();
                let rows = db.execute("SELECT tenant_id FROM outbox WHERE id = ? AND state IN ('pending', 'queued')", &[id.into()]).unwrap();
                if let Some(r) = rows.first() {
                    let t = r.string("tenant_id").unwrap();
                    exec(db, "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at) VALUES (?, 'text', 'outbound', '+15550100001', 'Please pay.', 'sending', ?)", &[t.into(), at.clone().into()]);
                    let log = db.execute("SELECT max(id) AS id FROM contact_log", &[]).unwrap().first().unwrap().i64("id").unwrap();
                    exec(db, "UPDATE outbox SET state = 'sending', contact_log_id = ?, updated_at = ? WHERE id = ?", &[log.into(), at.clone().into(), id.into()]);
                    if rng.below(4) == 0 {
                        exec(db, "UPDATE outbox SET state = 'failed', updated_at = ? WHERE id = ?", &[at.clone().into(), id.into()]);
                        exec(db, "UPDATE contact_log SET status = 'failed' WHERE id = ?", &[log.into()]);
                    } else {
                        exec(db, "UPDATE outbox SET state = 'sent', sent_at = ?, updated_at = ? WHERE id = ?", &[at.clone().into(), at.into(), id.into()]);
                        exec(db, "UPDATE contact_log SET status = 'sent' WHERE id = ?", &[log.into()]);
                    }
                }
            }
            5 if !outbox.is_empty() => {
                // A failure retried later; or a failed row touched again.
                let at = rng.stamp();
                let state = if rng.below(2) == 0 { "queued" } else { "failed" };
                exec(db, "UPDATE outbox SET state = ?, updated_at = ? WHERE id = ? AND state = 'failed'", &[state.into(), at.into(), pick(rng).into()]);
            }
            6 if !outbox.is_empty() => {
                let status = ["delivered", "undelivered", "delivered"][rng.below(3) as usize];
                exec(db, "UPDATE contact_log SET status = ? WHERE id = (SELECT contact_log_id FROM outbox WHERE id = ?) AND status <> 'sending'", &[status.into(), pick(rng).into()]);
            }
            7 | 8 => {
                let (reference, kind) = (format!("R{}", rng.below(30)), ["payment", "payment", "credit", "charge"][rng.below(4) as usize]);
                let (day, cents) = (rng.day(), 1000 * (1 + rng.below(9) as i64));
                exec(
                    db,
                    "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'x', 'x')
                     ON CONFLICT (tenant_id, reference) DO UPDATE SET kind = excluded.kind, date = excluded.date, amount_cents = excluded.amount_cents",
                    &[tenant.into(), reference.into(), kind.into(), day.clone().into(), day.into(), cents.into()],
                );
            }
            9 => {
                let at = rng.stamp();
                exec(db, "UPDATE promises SET status = 'replaced', resolved_at = ? WHERE tenant_id = ? AND status = 'active'", &[at.clone().into(), tenant.clone().into()]);
                exec(db, "INSERT INTO promises (tenant_id, amount_cents, promised_date, due_at, balance_cents, paid_base_cents, status, source, created_by, created_at) VALUES (?, 5000, '2024-03-28', '2024-03-29T03:59:59Z', 5000, 0, 'active', 'call', 'staff:a', ?)", &[tenant.into(), at.into()]);
            }
            10 => {
                let at = rng.stamp();
                let status = if rng.below(2) == 0 { "kept" } else { "broken" };
                exec(db, "UPDATE promises SET status = ?, resolved_at = ? WHERE id = (SELECT max(id) FROM promises WHERE tenant_id = ?) AND status = 'active'", &[status.into(), at.into(), tenant.into()]);
            }
            11 if !outbox.is_empty() => {
                let id = pick(rng);
                let at = rng.stamp();
                exec(db, "INSERT INTO link_opens (tenant_id, outbox_id, opened_at) SELECT tenant_id, id, ? FROM outbox WHERE id = ?", &[at.into(), id.into()]);
            }
            12 => {
                // A reply from the number tenants 0 and 1 share, or from one tenant's; a STOP is not a reply.
                let n = rng.below(4);
                let kind = if n == 3 { "opt_out" } else { "text" };
                let tenants = if n == 0 { json!(["T0", "T1"]) } else { json!([tenant]) };
                let at = rng.stamp();
                exec(db, "INSERT INTO inbound_messages (message_sid, from_address, to_address, body, kind, effect, tenant_ids, received_at, in_inbox) VALUES (?, '+15550100001', '+15005550006', 'ok', ?, 'inbox', ?, ?, 1)", &[format!("SM{}", rng.below(u64::MAX)).into(), kind.into(), tenants.to_string().into(), at.into()]);
            }
            _ => {
                let on = i64::from(rng.below(3) != 0);
                let address = format!("+1555010{:04}", 1 + rng.below(23));
                let at = rng.stamp();
                exec(db, "INSERT INTO exclusion_events (kind, address, is_on, reason, actor, at) VALUES ('number_by_customer', ?, ?, 'STOP', 'customer', ?)", &[address.into(), on.into(), at.into()]);
            }
        }
    }
}

/// The figures counted from the rows themselves, per property and (when
/// split) language, for days `from`..=`to`: what each figure means, written
/// out as plain queries over the source tables.
fn recount(db: &NativeDb, from: &str, to: &str, split: bool) -> BTreeMap<(String, String), BTreeMap<String, i64>> {
    let lang = if split {
        "coalesce(t.language, CASE WHEN (SELECT state FROM properties WHERE property_id = t.property_id) = 'QC' THEN 'fr' ELSE 'en' END)"
    } else {
        "''"
    };
    let day = |col: &str| format!("substr({col}, 1, 10) BETWEEN ?1 AND ?2");
    let queries: Vec<(&str, String)> = vec![
        ("queued", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM outbox o JOIN tenants t USING (tenant_id) WHERE {} GROUP BY 1, 2", day("o.created_at"))),
        ("sent", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM outbox o JOIN tenants t USING (tenant_id) WHERE {} GROUP BY 1, 2", day("o.sent_at"))),
        ("delivered", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM outbox o JOIN tenants t USING (tenant_id) JOIN contact_log cl ON cl.id = o.contact_log_id WHERE cl.status = 'delivered' AND {} GROUP BY 1, 2", day("o.sent_at"))),
        ("blocked", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM outbox o JOIN tenants t USING (tenant_id) WHERE o.state = 'blocked' AND {} GROUP BY 1, 2", day("o.decided_at"))),
        ("failed", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM outbox o JOIN tenants t USING (tenant_id) WHERE o.state = 'failed' AND {} GROUP BY 1, 2", day("o.updated_at"))),
        ("replies", format!("SELECT t.property_id, {lang} AS l, count(DISTINCT m.id) AS n FROM inbound_messages m, json_each(m.tenant_ids) j JOIN tenants t ON t.tenant_id = j.value WHERE m.kind = 'text' AND {} GROUP BY 1, 2", day("m.received_at"))),
        ("opt_outs", format!("SELECT t.property_id, {lang} AS l, count(DISTINCT e.id) AS n FROM exclusion_events e JOIN contact_points cp ON cp.address = e.address JOIN tenants t ON t.tenant_id = cp.tenant_id WHERE e.kind = 'number_by_customer' AND e.is_on = 1 AND {} GROUP BY 1, 2", day("e.at"))),
        ("links_opened", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM link_opens x JOIN tenants t USING (tenant_id) WHERE {} GROUP BY 1, 2", day("x.opened_at"))),
        ("promises", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM promises p JOIN tenants t USING (tenant_id) WHERE {} GROUP BY 1, 2", day("p.created_at"))),
        ("promises_kept", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM promises p JOIN tenants t USING (tenant_id) WHERE p.status = 'kept' AND {} GROUP BY 1, 2", day("p.resolved_at"))),
        ("promises_broken", format!("SELECT t.property_id, {lang} AS l, count(*) AS n FROM promises p JOIN tenants t USING (tenant_id) WHERE p.status = 'broken' AND {} GROUP BY 1, 2", day("p.resolved_at"))),
    ];
    let mut out: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
    let mut put = |p: String, l: String, k: &str, n: i64| {
        if n != 0 {
            *out.entry((p, l)).or_default().entry(k.to_owned()).or_default() += n;
        }
    };
    for (name, sql) in &queries {
        for r in db.execute(sql, &[from.into(), to.into()]).unwrap().iter() {
            put(r.string("property_id").unwrap(), r.string("l").unwrap(), name, r.i64("n").unwrap());
        }
    }
    let reasons = format!(
        "SELECT t.property_id, {lang} AS l, coalesce(json_extract(r.value, '$.rule'), 'unknown') AS rule, count(*) AS n
         FROM outbox o JOIN tenants t USING (tenant_id), json_each(CASE WHEN json_valid(o.reasons) THEN o.reasons ELSE '[]' END) r
         WHERE o.state = 'blocked' AND {} GROUP BY 1, 2, 3",
        day("o.decided_at")
    );
    for r in db.execute(&reasons, &[from.into(), to.into()]).unwrap().iter() {
        put(r.string("property_id").unwrap(), r.string("l").unwrap(), &format!("blocked:{}", r.string("rule").unwrap()), r.i64("n").unwrap());
    }
    // A payment counts when some message to its tenant went out on its date
    // or in the 30 days before.
    let payments = format!(
        "SELECT t.property_id, {lang} AS l, count(*) AS n, sum(x.amount_cents) AS cents FROM ledger_entries x JOIN tenants t USING (tenant_id)
         WHERE x.kind = 'payment' AND x.date BETWEEN ?1 AND ?2
           AND EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = x.tenant_id AND o.sent_at IS NOT NULL
                       AND julianday(x.date) - julianday(substr(o.sent_at, 1, 10)) BETWEEN 0 AND 30)
         GROUP BY 1, 2"
    );
    for r in db.execute(&payments, &[from.into(), to.into()]).unwrap().iter() {
        let (p, l) = (r.string("property_id").unwrap(), r.string("l").unwrap());
        put(p.clone(), l.clone(), "payments_after_notice", r.i64("n").unwrap());
        put(p, l, "payments_after_notice_cents", r.i64("cents").unwrap());
    }
    out
}

const FIGURES: [&str; 13] = [
    "queued", "sent", "delivered", "blocked", "failed", "replies", "opt_outs", "links_opened", "promises", "promises_kept", "promises_broken",
    "payments_after_notice", "payments_after_notice_cents",
];

/// A report's figures in the shape of [`recount`]'s (zeros left out).
fn figures_of(counts: &Json) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for f in FIGURES {
        let n = counts[f].as_i64().unwrap_or_else(|| panic!("{f} missing in {counts}"));
        if n != 0 {
            out.insert(f.to_owned(), n);
        }
    }
    for (rule, n) in counts["blocked_by_reason"].as_object().unwrap() {
        if n.as_i64() != Some(0) {
            out.insert(format!("blocked:{rule}"), n.as_i64().unwrap());
        }
    }
    out
}

fn report(db: &NativeDb, from: &str, to: &str, property: Option<&str>, by: Option<Breakdown>) -> Json {
    let q = ReportQuery { from: date(from), to: date(to), property_id: property.map(str::to_owned), scope: Scope::All, by };
    let r: Report = reports::build(db, &q).unwrap();
    serde_json::to_value(r).unwrap()
}

/// The report's figures over `from`..=`to`, unsplit and split by language,
/// for every property and for P2 alone, equal the recount.
fn assert_matches_recount(db: &NativeDb, from: &str, to: &str) {
    for property in [None, Some("P2")] {
        let r = report(db, from, to, property, None);
        let got: BTreeMap<(String, String), BTreeMap<String, i64>> = r["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| ((p["property_id"].as_str().unwrap().to_owned(), String::new()), figures_of(p)))
            .filter(|(_, f)| !f.is_empty())
            .collect();
        let mut want = recount(db, from, to, false);
        want.retain(|(p, _), _| property.is_none_or(|only| p == only));
        assert_eq!(got, want, "{from}..{to} {property:?}");

        let r = report(db, from, to, property, Some(Breakdown::Language));
        let mut got = BTreeMap::new();
        for p in r["properties"].as_array().unwrap() {
            for l in p["languages"].as_array().unwrap() {
                got.insert((p["property_id"].as_str().unwrap().to_owned(), l["language"].as_str().unwrap().to_owned()), figures_of(l));
            }
        }
        let mut want = recount(db, from, to, true);
        want.retain(|(p, _), _| property.is_none_or(|only| p == only));
        assert_eq!(got, want, "{from}..{to} {property:?} by language");
    }
}

#[test]
fn report_figures_equal_a_recount_of_the_rows_after_any_mix_of_writes() {
    for seed in [1, 2, 3] {
        let db = NativeDb::open_in_memory().unwrap();
        rentmsg::schema::migrate(&db, now()).unwrap();
        portfolio(&db);
        let mut rng = Rng(seed);
        for _ in 0..4 {
            workload(&db, &mut rng, 150);
            for (from, to) in [("2024-03-01", "2024-03-31"), ("2024-03-07", "2024-03-07"), ("2024-03-10", "2024-03-16"), ("2024-02-01", "2024-02-29")] {
                assert_matches_recount(&db, from, to);
            }
        }
        let totals = report(&db, "2024-03-01", "2024-03-31", None, None)["totals"].clone();
        assert!(totals["sent"].as_i64().unwrap() > 0 && totals["payments_after_notice"].as_i64().unwrap() > 0, "the workload exercised little: {totals}");
    }
}

#[test]
fn the_migration_counts_what_was_already_there() {
    let db = NativeDb::open_in_memory().unwrap();
    // The schema as it was before the per-day figures, with rows in it.
    exec(&db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)", &[]);
    for m in rentmsg::schema::MIGRATIONS.iter().filter(|m| m.version < 13) {
        for s in m.statements {
            exec(&db, s, &[]);
        }
        exec(&db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 'x')", &[m.version.into(), m.name.into()]);
    }
    portfolio(&db);
    let mut rng = Rng(7);
    workload(&db, &mut rng, 500);
    let from_13: Vec<i64> = rentmsg::schema::MIGRATIONS.iter().map(|m| m.version).filter(|v| *v >= 13).collect();
    assert_eq!(rentmsg::schema::migrate(&db, now()).unwrap(), from_13);
    assert_matches_recount(&db, "2024-03-01", "2024-03-31");
    assert_matches_recount(&db, "2024-03-05", "2024-03-09");
    // And the triggers carry on from there.
    workload(&db, &mut rng, 300);
    assert_matches_recount(&db, "2024-03-01", "2024-03-31");
}

fn sent_text(db: &NativeDb, tenant: &str, at: &str) {
    exec(db, "INSERT INTO outbox (kind, tenant_id, channel, state, not_before, custom_body, created_by, created_at, updated_at) VALUES ('supplemental', ?, 'text', 'pending', ?, 'Please pay.', 'staff:a', ?, ?)", &[tenant.into(), at.into(), at.into(), at.into()]);
    exec(db, "UPDATE outbox SET state = 'sent', sent_at = ?, updated_at = ? WHERE id = (SELECT max(id) FROM outbox)", &[at.into(), at.into()]);
}

fn figure(r: &Json, property: &str, name: &str) -> i64 {
    r["properties"].as_array().unwrap().iter().find(|p| p["property_id"] == property).unwrap()[name].as_i64().unwrap()
}

#[test]
fn a_tenant_who_moves_leaves_their_history_with_the_old_property() {
    let db = NativeDb::open_in_memory().unwrap();
    rentmsg::schema::migrate(&db, now()).unwrap();
    portfolio(&db);
    // T3 is at P1 (3 % 3 = 0 -> P1), texted on the 4th; moves to P2 on the
    // 6th and is texted again on the 8th.
    sent_text(&db, "T3", "2024-03-04T15:00:00.000Z");
    exec(&db, "UPDATE tenants SET property_id = 'P2' WHERE tenant_id = 'T3'", &[]);
    sent_text(&db, "T3", "2024-03-08T15:00:00.000Z");
    let r = report(&db, "2024-03-01", "2024-03-31", None, None);
    assert_eq!((figure(&r, "P1", "sent"), figure(&r, "P2", "sent")), (1, 1), "{r}");
    assert_eq!(r["totals"]["sent"], 2);
}

#[test]
fn a_payment_counts_after_notice_whichever_is_written_first() {
    let db = NativeDb::open_in_memory().unwrap();
    rentmsg::schema::migrate(&db, now()).unwrap();
    portfolio(&db);
    let pay = |reference: &str, day: &str, cents: i64| {
        exec(
            &db,
            "INSERT INTO ledger_entries (tenant_id, reference, kind, date, due_date, amount_cents, created_at, updated_at) VALUES ('T4', ?, 'payment', ?, ?, ?, 'x', 'x')
             ON CONFLICT (tenant_id, reference) DO UPDATE SET date = excluded.date, amount_cents = excluded.amount_cents",
            &[reference.into(), day.into(), day.into(), cents.into()],
        )
    };
    let march = || report(&db, "2024-03-01", "2024-04-30", Some("P2"), None)["totals"].clone();
    // The ledger posts a $100.00 payment dated March 12 before any message.
    pay("PAY-1", "2024-03-12", 10_000);
    assert_eq!((march()["payments_after_notice"].clone(), march()["payments_after_notice_cents"].clone()), (json!(0), json!(0)));
    // A text sent on March 10 is within the 30 days before it.
    sent_text(&db, "T4", "2024-03-10T14:00:00.000Z");
    assert_eq!((march()["payments_after_notice"].clone(), march()["payments_after_notice_cents"].clone()), (json!(1), json!(10_000)));
    // A second text does not count it twice.
    sent_text(&db, "T4", "2024-03-11T14:00:00.000Z");
    assert_eq!(march()["payments_after_notice"], json!(1));
    // April 11 is 31 days after March 11: outside; April 10 is inside.
    pay("PAY-2", "2024-04-11", 5_000);
    assert_eq!(march()["payments_after_notice"], json!(1));
    pay("PAY-2", "2024-04-10", 5_000);
    assert_eq!((march()["payments_after_notice"].clone(), march()["payments_after_notice_cents"].clone()), (json!(2), json!(15_000)));
    // Re-imported with another amount.
    pay("PAY-1", "2024-03-12", 12_000);
    assert_eq!(march()["payments_after_notice_cents"], json!(17_000));
}
