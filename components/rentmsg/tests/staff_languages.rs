//! Staff working in the tenants' languages: a supplemental message in the
//! language staff pick (its template, its opt-out line, its amounts, and
//! the language recorded wherever the message shows), and the report split
//! by tenant language without ever adding two currencies.

mod common;
mod notices_common;

use chrono::Duration;
use common::Env;
use notices_common::{config, pass, FakeClock, FakeProvider, MemCounter};
use rentmsg::base::channel::Channel;
use rentmsg::base::db::Db;
use rentmsg::base::locale::Language;
use serde_json::{json, Value as Json};

fn post(env: &Env, path: &str, body: &Json) -> rentmsg::base::http::Response {
    env.send("POST", path, Some("application/json"), body.to_string().as_bytes())
}

/// The text bodies the provider accepted, decoded from the form.
fn texts_sent(provider: &FakeProvider) -> Vec<String> {
    provider
        .accepted
        .borrow()
        .iter()
        .filter_map(|r| {
            String::from_utf8_lossy(&r.body).split('&').find_map(|pair| {
                let value = pair.strip_prefix("Body=")?.replace('+', " ");
                Some(percent_encoding::percent_decode_str(&value).decode_utf8().ok()?.into_owned())
            })
        })
        .collect()
}

/// Seeded, with T1 (Maple Court, Massachusetts: English, USD) opted in.
/// T1 owes 1,200.00 + 1,200.00 - 1,500.00 = 900.00.
fn english_tenant() -> Env {
    let env = Env::new();
    env.seed();
    let r = env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease clause 12"}));
    assert_eq!(r.status, 200);
    assert_eq!(env.get_ok("/api/tenants/T1")["language"], json!("en"));
    env
}

#[test]
fn spanish_picked_for_an_english_tenant_is_written_and_sent_in_spanish() {
    let env = english_tenant();
    let r = post(&env, "/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "balance_reminder", "template_stage": 1, "language": "es"}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    let row = r.body_json();
    let spanish = rentmsg::notices::templates::get_in(&env.db, 1, Channel::Text, Language::Es).unwrap().unwrap();
    assert_eq!(row["custom_body"], json!(spanish.body), "{row}");
    assert_eq!((row["language"].clone(), row["state"].clone()), (json!("es"), json!("queued")), "{row}");

    // Listed with its language before it goes: the outbox and the conversation.
    let listed = env.get_ok("/api/outbox?tenant_id=T1");
    assert_eq!(listed["items"][0]["language"], json!("es"), "{listed}");
    let conv = env.get_ok("/api/tenants/T1/conversation");
    assert_eq!(conv["waiting"][0]["language"], json!("es"), "{conv}");

    // The queueing's one audit row names the language and that it was picked.
    let audit = env.get_ok("/api/audit?tenant_id=T1");
    let entry = |action: &str| -> Json {
        audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == json!(action)).unwrap_or_else(|| panic!("no {action} in {audit}")).clone()
    };
    assert_eq!(entry("message.supplemental")["detail"]["language"], json!("es"));
    assert_eq!(entry("message.supplemental")["detail"]["language_picked"], json!(true));
    assert_eq!(audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == json!("message.supplemental")).count(), 1, "{audit}");

    // Sent: the Spanish stage-1 text with the Spanish opt-out line; Spanish
    // writes dollars as the US does.
    let provider = FakeProvider::accepting();
    let report = pass(&env.db, &provider, &MemCounter::default(), &FakeClock::at(env.now), &config(600)).unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let texts = texts_sent(&provider);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].starts_with("Maple Court: Pat Smith, saldo vencido: $900.00. Pague: https://rent.example/"), "{}", texts[0]);
    assert!(texts[0].ends_with(" Responda PARAR para cancelar."), "{}", texts[0]);
    assert!(!texts[0].contains("Reply STOP"), "{}", texts[0]);
    // The contact log names the language it went out in.
    let contacts = env.get_ok("/api/tenants/T1/contacts");
    let sent = contacts["contacts"].as_array().unwrap().iter().find(|c| c["direction"] == json!("outbound")).unwrap();
    assert_eq!(sent["detail"]["language"], json!("es"), "{sent}");
    assert_eq!(env.get_ok("/api/outbox?tenant_id=T1")["items"][0]["language"], json!("es"));
}

#[test]
fn free_text_in_a_picked_language_gets_that_languages_opt_out_line_and_amounts() {
    let env = english_tenant();
    let r = post(&env, "/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "account_question", "body": "Merci de nous appeler au sujet de {{ balance }}.", "language": "fr"}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    assert_eq!(r.body_json()["language"], json!("fr"));
    // The tenant's own language changes before the send: the message keeps the one it was written in.
    let r = env.send("PATCH", "/api/tenants/T1", Some("application/json"), json!({"language": "es"}).to_string().as_bytes());
    assert_eq!(r.status, 200);
    let provider = FakeProvider::accepting();
    let report = pass(&env.db, &provider, &MemCounter::default(), &FakeClock::at(env.now), &config(600)).unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    // 900 dollars written the French way and marked as US dollars, then the French opt-out line.
    assert_eq!(texts_sent(&provider), ["Merci de nous appeler au sujet de 900,00 $ US. Répondez ARRET pour vous désabonner."]);
}

#[test]
fn a_picked_language_without_the_template_or_an_unknown_language_is_refused() {
    let env = english_tenant();
    env.db.execute("DELETE FROM notice_templates WHERE stage = 2 AND channel = 'text' AND language = 'fr'", &[]).unwrap();
    let cases: &[(Json, &str)] = &[
        // No French stage-2 text: never the English one instead.
        (json!({"channel": "text", "purpose": "balance_reminder", "template_stage": 2, "language": "fr"}), "no text template for stage 2 in Français (fr)"),
        (json!({"channel": "text", "purpose": "balance_reminder", "body": "Hola", "language": "de"}), "language `de` is not supported: give en, es or fr"),
        (json!({"channel": "text", "purpose": "balance_reminder", "body": "Hola", "language": "es-MX"}), "language `es-MX` is not supported"),
        (json!({"channel": "text", "purpose": "balance_reminder", "body": "Hola", "language": "ES"}), "language `ES` is not supported"),
        (json!({"channel": "text", "purpose": "balance_reminder", "body": "Hola", "language": 3}), "language 3 is not supported"),
    ];
    for (body, want) in cases {
        let r = post(&env, "/api/tenants/T1/messages", body);
        assert_eq!(r.status, 400, "{body}: {}", r.body_json());
        let error = r.body_json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(want), "{body}: {error}");
    }
    assert_eq!(env.count("SELECT count(*) AS n FROM outbox"), 0, "nothing queued");
    // The English stage-2 text is still there, and picking English finds it.
    let r = post(&env, "/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "balance_reminder", "template_stage": 2, "language": "en"}));
    assert_eq!((r.status, r.body_json()["language"].clone()), (201, json!("en")), "{}", r.body_json());
}

#[test]
fn a_template_without_a_pick_records_the_language_it_came_in() {
    // A Quebec property without a French email stage 4: the tenant (French
    // by the property) gets the English one, and the row says English.
    let env = Env::new();
    env.import_ok("properties", "property_id,name,time_zone,state,country\nQ,Les Érables,America/Toronto,QC,CA\n");
    env.import_ok("tenants", "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\nQ1,Q,Marie Roy,1,514-555-0101,,,marie@example.com,,,,,\n");
    env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nQ1,2024-02-01,2024-02-01,charge,300.00,R1\n");
    env.db.execute("DELETE FROM notice_templates WHERE stage = 4 AND channel = 'email' AND language = 'fr'", &[]).unwrap();
    let r = post(&env, "/api/tenants/Q1/messages", &json!({"channel": "email", "purpose": "balance_reminder", "template_stage": 4}));
    assert_eq!(r.status, 201, "{}", r.body_json());
    assert_eq!(r.body_json()["language"], json!("en"));
    let r = post(&env, "/api/tenants/Q1/messages", &json!({"channel": "email", "purpose": "balance_reminder", "template_stage": 3}));
    assert_eq!(r.body_json()["language"], json!("fr"));
    // Free text without a pick counts as written in the tenant's language.
    let r = post(&env, "/api/tenants/Q1/messages", &json!({"channel": "text", "purpose": "account_question", "body": "Merci de nous appeler."}));
    assert_eq!((r.status, r.body_json()["language"].clone()), (201, json!("fr")), "{}", r.body_json());
    let audit = env.get_ok("/api/audit?tenant_id=Q1");
    let picked: Vec<&Json> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["detail"].get("language_picked")).collect();
    assert_eq!(picked, [&json!(false); 3], "{audit}");
}

/// Three properties: P1 (Massachusetts, USD) where T1 reads Spanish and T3
/// English by the property; P2 (Ontario, CAD) where T2 reads English by the
/// property; P3 (Quebec, CAD) where T4 reads French by the property and T5
/// Spanish of their own. T1, T4 and T5 were each sent a message yesterday
/// and paid today (100.00, 25.00 and 40.00); T2's message was blocked.
fn portfolio_in_three_languages() -> Env {
    let env = Env::new();
    env.seed();
    env.import_ok("properties", "property_id,name,time_zone,state,country\nP3,Les Érables,America/Toronto,QC,CA\n");
    let r = env.import_ok(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status,language\n\
         T4,P3,Marie Roy,5,514-555-0105,,,,,,,,,active,\n\
         T5,P3,Ana Ruiz,6,514-555-0106,,,,,,,,,active,es\n",
    );
    assert_eq!(r["rejected"], json!([]), "{r}");
    env.import_ok("ledger", "tenant_id,date,due_date,kind,amount,reference\nT4,2024-02-01,2024-02-01,charge,300.00,R4\nT5,2024-02-01,2024-02-01,charge,300.00,R5\n");
    let r = env.send("PATCH", "/api/tenants/T1", Some("application/json"), json!({"language": "es"}).to_string().as_bytes());
    assert_eq!(r.status, 200);
    env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease"}));
    for t in ["T1", "T2", "T4", "T5"] {
        let r = post(&env, &format!("/api/tenants/{t}/messages"), &json!({"channel": "text", "purpose": "balance_reminder", "body": "Please pay."}));
        assert_eq!(r.status, 201, "{t}: {}", r.body_json());
    }
    assert_eq!(env.get_ok("/api/outbox?tenant_id=T2")["items"][0]["state"], json!("blocked"), "T2 never opted in");
    let yesterday = rentmsg::base::time::timestamp(env.now - Duration::days(1));
    env.db
        .execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?1, created_at = ?1 WHERE tenant_id IN ('T1', 'T4', 'T5')",
            &[yesterday.as_str().into()],
        )
        .unwrap();
    env.import_ok(
        "ledger",
        "tenant_id,date,due_date,kind,amount,reference\nT1,2024-03-10,,payment,100.00,PAY-2\nT4,2024-03-10,,payment,25.00,PAY-4\nT5,2024-03-10,,payment,40.00,PAY-5\n",
    );
    env
}

fn property<'a>(r: &'a Json, id: &str) -> &'a Json {
    r["properties"].as_array().unwrap().iter().find(|p| p["property_id"] == json!(id)).unwrap_or_else(|| panic!("no {id} in {r}"))
}

fn languages_of(p: &Json) -> Vec<&str> {
    p["languages"].as_array().unwrap().iter().map(|l| l["language"].as_str().unwrap()).collect()
}

fn language<'a>(p: &'a Json, lang: &str) -> &'a Json {
    p["languages"].as_array().unwrap().iter().find(|l| l["language"] == json!(lang)).unwrap_or_else(|| panic!("no {lang} in {p}"))
}

#[test]
fn the_report_splits_by_tenant_language_and_never_adds_two_currencies() {
    let env = portfolio_in_three_languages();
    let plain = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10");
    assert!(plain.get("languages").is_none() && property(&plain, "P1").get("languages").is_none(), "no split unless asked: {plain}");
    let r = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10&by=language");
    // The split leaves the property rows and totals as they were.
    for id in ["P1", "P2", "P3"] {
        let mut without = property(&r, id).clone();
        without.as_object_mut().unwrap().remove("languages");
        assert_eq!(&without, property(&plain, id));
    }
    assert_eq!(r["totals"], plain["totals"]);

    // P1: only T1 (Spanish) did anything; T3 (English) had no figure.
    let p1 = property(&r, "P1");
    assert_eq!(languages_of(p1), ["es"]);
    let es = language(p1, "es");
    assert_eq!((es["queued"].clone(), es["sent"].clone(), es["payments_after_notice"].clone()), (json!(1), json!(1), json!(1)), "{es}");
    assert_eq!((es["payments_after_notice_cents"].clone(), es["payments_after_notice_cents_by_currency"].clone()), (json!(10000), json!({"USD": 10000})));
    // P2: Ontario is English by default; T2's one message was blocked.
    let p2 = property(&r, "P2");
    assert_eq!(languages_of(p2), ["en"]);
    let en = language(p2, "en");
    assert_eq!((en["queued"].clone(), en["blocked"].clone(), en["sent"].clone()), (json!(1), json!(1), json!(0)), "{en}");
    assert_eq!(en["blocked_by_reason"]["consent"], json!(1));
    assert_eq!(en["blocked_by_reason"], p2["blocked_by_reason"]);
    assert_eq!(en["payments_after_notice_cents_by_currency"], json!({"CAD": 0}));
    // P3: Quebec makes T4 French; T5 reads Spanish; each paid after a message.
    let p3 = property(&r, "P3");
    assert_eq!(languages_of(p3), ["es", "fr"]);
    assert_eq!(language(p3, "fr")["payments_after_notice_cents_by_currency"], json!({"CAD": 2500}));
    assert_eq!(language(p3, "es")["payments_after_notice_cents_by_currency"], json!({"CAD": 4000}));
    assert_eq!((language(p3, "fr")["sent"].clone(), language(p3, "es")["sent"].clone()), (json!(1), json!(1)));
    assert_eq!(p3["payments_after_notice_cents"], json!(6500));

    // Over all properties: one entry per language and currency. Spanish is
    // paid in US dollars at P1 and Canadian dollars at P3: two entries,
    // never 14,000 of nothing in particular.
    let keys: Vec<(String, String)> = r["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["language"].as_str().unwrap().to_owned(), l["currency"].as_str().unwrap().to_owned()))
        .collect();
    let want: Vec<(String, String)> = [("en", "CAD"), ("es", "CAD"), ("es", "USD"), ("fr", "CAD")].iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    assert_eq!(keys, want);
    let total = |lang: &str, cur: &str| -> &Json {
        r["languages"].as_array().unwrap().iter().find(|l| l["language"] == json!(lang) && l["currency"] == json!(cur)).unwrap()
    };
    assert_eq!(total("es", "USD")["payments_after_notice_cents"], json!(10000));
    assert_eq!(total("es", "CAD")["payments_after_notice_cents"], json!(4000));
    assert_eq!(total("fr", "CAD")["payments_after_notice_cents_by_currency"], json!({"CAD": 2500}));
    assert_eq!((total("en", "CAD")["queued"].clone(), total("en", "CAD")["blocked"].clone()), (json!(1), json!(1)));
    for l in r["languages"].as_array().unwrap() {
        let by = l["payments_after_notice_cents_by_currency"].as_object().unwrap();
        assert_eq!(by.keys().collect::<Vec<_>>(), [l["currency"].as_str().unwrap()], "one currency per entry: {l}");
    }
    // Every message counted once: the entries add up to the totals.
    let queued: i64 = r["languages"].as_array().unwrap().iter().map(|l| l["queued"].as_i64().unwrap()).sum();
    assert_eq!(queued, 4);
    assert_eq!(r["totals"]["queued"], json!(4));

    // One property alone.
    let only = env.get_ok("/api/reports?from=2024-03-01&to=2024-03-10&by=language&property_id=P3");
    assert_eq!(only["languages"].as_array().unwrap().len(), 2, "{only}");
    // An unknown split is refused.
    let bad = env.get("/api/reports?by=currency");
    assert_eq!(bad.status, 400);
    assert!(bad.body_json()["error"].as_str().unwrap().contains("by=language"));
}

#[test]
fn the_report_split_by_language_as_csv() {
    let env = portfolio_in_three_languages();
    let plain = String::from_utf8(env.get("/api/reports?from=2024-03-01&to=2024-03-10&format=csv").body).unwrap();
    assert_eq!(plain.lines().next().unwrap(), rentmsg::staff::reports::CSV_COLUMNS.join(","));
    let csv = String::from_utf8(env.get("/api/reports?from=2024-03-01&to=2024-03-10&format=csv&by=language").body).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0].join(","), format!("{},language", rentmsg::staff::reports::CSV_COLUMNS.join(",")));
    let col = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    let find = |id: &str, lang: &str| rows.iter().find(|r| r[0] == id && r[col("language")] == lang).unwrap_or_else(|| panic!("no {id}/{lang} row in {csv}"));
    // Each property row, then its languages.
    let ids: Vec<(&str, &str)> = rows[1..].iter().map(|r| (r[0], r[col("language")])).collect();
    assert_eq!(
        ids,
        [
            ("P1", ""), ("P1", "es"), ("P2", ""), ("P2", "en"), ("P3", ""), ("P3", "es"), ("P3", "fr"),
            ("ALL", ""), ("ALL-CAD", ""), ("ALL-USD", ""),
            ("ALL-CAD", "en"), ("ALL-CAD", "es"), ("ALL-USD", "es"), ("ALL-CAD", "fr"),
        ]
    );
    assert_eq!((find("ALL-USD", "es")[col("payments_after_notice_cents")], find("ALL-USD", "es")[col("currency")]), ("10000", "USD"));
    assert_eq!(find("ALL-CAD", "es")[col("payments_after_notice_cents")], "4000");
    assert_eq!(find("P3", "fr")[col("payments_after_notice_cents")], "2500");
    assert_eq!(find("P3", "")[col("payments_after_notice_cents")], "6500");
}
