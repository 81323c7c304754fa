//! Tenants in their own language and properties in their own currency:
//! imports, the staff API, notices and their cost, keywords and replies.

mod common;

use common::Env;
use rentmsg::base::channel::Channel;
use rentmsg::base::db::Db;
use rentmsg::base::locale::{Currency, Language};
use rentmsg::inbound::process::{self, InboundSms, ReplySettings};
use rentmsg::notices::links;
use rentmsg::notices::templates::{self, Encoding, RenderContext};
use serde_json::json;

const PROPERTIES: &str = "property_id,name,time_zone,state,country,currency
P-QC,Entrepôt Laval,America/Toronto,QC,CA,
P-ON,Maple Court,America/Toronto,ON,CA,USD
P-TX,Lone Star Storage,America/Chicago,TX,US,
";

const TENANTS: &str = "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status,language
T-QC,P-QC,Marie Tremblay,1A,514-555-0101,,,,,,,,,active,
T-ES,P-TX,Ana García,2B,512-555-0102,,,,,,,,,active,es-MX
T-EN,P-QC,John Smith,3C,514-555-0103,,,,,,,,,active,EN
T-BAD,P-TX,Bad Tag,4D,512-555-0104,,,,,,,,,active,de
";

fn language_of(env: &Env, tenant: &str) -> (String, String) {
    let v = env.get_ok(&format!("/api/tenants/{tenant}"));
    (v["language"].as_str().unwrap().to_owned(), v["language_source"].as_str().unwrap().to_owned())
}

#[test]
fn imports_with_and_without_the_columns() {
    let env = Env::new();
    let r = env.import_ok("properties", PROPERTIES);
    assert_eq!(r["created"], 3);
    let r = env.import_ok("tenants", TENANTS);
    assert_eq!(r["created"], 3, "{r}");
    let rejected = r["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["line"], 5);
    assert!(rejected[0]["reason"].as_str().unwrap().contains("language `de` is not supported"), "{r}");

    // A Quebec property's tenant without a language reads French.
    assert_eq!(language_of(&env, "T-QC"), ("fr".into(), "property".into()));
    assert_eq!(language_of(&env, "T-ES"), ("es".into(), "tenant".into()));
    assert_eq!(language_of(&env, "T-EN"), ("en".into(), "tenant".into()));
    let v = env.get_ok("/api/tenants/T-QC");
    assert_eq!(v["currency"], "CAD");
    assert_eq!(env.get_ok("/api/tenants/T-ES")["currency"], "USD");
    let p = rentmsg::records::tenants::property(&env.db, "P-ON").unwrap().unwrap();
    assert_eq!((p.currency, p.language()), (Currency::Usd, Language::En), "the explicit column wins over the country");

    // The same file again: all unchanged.
    let again = env.import_ok("tenants", TENANTS);
    assert_eq!((again["unchanged"].as_i64(), again["updated"].as_i64()), (Some(3), Some(0)), "{again}");

    // A file without the column keeps each tenant's language.
    let old = "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id
T-ES,P-TX,Ana García,2B,512-555-0102,,,,,,,,
";
    let r = env.import_ok("tenants", old);
    assert_eq!(r["unchanged"], 1, "{r}");
    assert_eq!(language_of(&env, "T-ES"), ("es".into(), "tenant".into()));

    // Properties without the currency column: CAD in Canada, USD elsewhere.
    let env2 = Env::new();
    env2.import_ok("properties", "property_id,name,time_zone,state,country\nA,A,America/Toronto,QC,CA\nB,B,America/Chicago,TX,US\n");
    assert_eq!(rentmsg::records::tenants::property(&env2.db, "A").unwrap().unwrap().currency, Currency::Cad);
    assert_eq!(rentmsg::records::tenants::property(&env2.db, "B").unwrap().unwrap().currency, Currency::Usd);
    let bad = env2.import_ok("properties", "property_id,name,time_zone,state,country,currency\nC,C,America/Chicago,TX,US,EUR\n");
    assert_eq!(bad["rejected"][0]["line"], 2);
    assert!(bad["rejected"][0]["reason"].as_str().unwrap().contains("currency `EUR` is not supported"), "{bad}");
}

#[test]
fn staff_set_and_clear_a_language() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    env.import_ok("tenants", TENANTS);
    let patch = |body: serde_json::Value| env.send("PATCH", "/api/tenants/T-QC", Some("application/json"), body.to_string().as_bytes());
    let r = patch(json!({ "language": "es-US" }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(language_of(&env, "T-QC"), ("es".into(), "tenant".into()));
    assert_eq!(patch(json!({ "language": "klingon" })).status, 400);
    assert_eq!(patch(json!({ "name": "x" })).status, 400);
    assert_eq!(patch(json!({})).status, 400);
    assert_eq!(patch(json!({ "language": null })).status, 200);
    assert_eq!(language_of(&env, "T-QC"), ("fr".into(), "property".into()));
    let missing = env.send("PATCH", "/api/tenants/NOPE", Some("application/json"), br#"{"language":"fr"}"#);
    assert_eq!(missing.status, 404);
}

/// A 30-character base URL and a real short token.
fn short_link() -> String {
    let token = links::sign("k", links::Purpose::Pay, &links::new_link_id().unwrap()).unwrap();
    links::url("https://pay.example-storage.co", links::Purpose::Pay, &token)
}

#[test]
fn every_default_text_fits_one_gsm7_segment() {
    let env = Env::new();
    rentmsg::schema::migrate(&env.db, env.now).unwrap();
    let link = short_link();
    assert_eq!(link.len(), 30 + "/pay/".len() + links::SHORT_TOKEN_CHARS);
    let mut table = Vec::new();
    for lang in Language::ALL {
        let currency = if lang == Language::Fr { Currency::Cad } else { Currency::Usd };
        for stage in 1..=5 {
            let t = templates::get_in(&env.db, stage, Channel::Text, lang).unwrap().unwrap_or_else(|| panic!("{lang} stage {stage}"));
            let mut ctx = RenderContext::sample_in(Channel::Text, lang, currency);
            ctx.payment_link = link.clone();
            let r = templates::render(Channel::Text, None, &t.body, &ctx).unwrap();
            let m = r.measure.unwrap();
            table.push(format!("{lang} {stage}: {} chars {:?} {} segment(s)", m.characters, m.encoding, m.segments));
            assert_eq!((m.encoding, m.segments), (Encoding::Gsm7, 1), "{lang} stage {stage}: {}", r.body);
            assert!(!r.opt_out_appended && r.body.ends_with(templates::sms_opt_out(lang)), "{}", r.body);
        }
        for stage in 1..=5 {
            assert!(templates::get_in(&env.db, stage, Channel::Email, lang).unwrap().is_some(), "{lang} email {stage}");
        }
    }
    println!("{}", table.join("\n"));
}

#[test]
fn notices_render_per_language_and_fall_back() {
    let env = Env::new();
    rentmsg::schema::migrate(&env.db, env.now).unwrap();
    let fr = templates::find(&env.db, 1, Channel::Text, Language::Fr, Language::Fr).unwrap().unwrap();
    assert_eq!(fr.language, Language::Fr);
    let ctx = RenderContext::sample_in(Channel::Text, Language::Fr, Currency::Cad);
    let r = templates::render(Channel::Text, None, &fr.body, &ctx).unwrap();
    assert!(r.body.contains("1 234,56 $") && r.body.ends_with("Répondez ARRET pour vous désabonner."), "{}", r.body);
    let es = templates::find(&env.db, 2, Channel::Email, Language::Es, Language::En).unwrap().unwrap();
    let ctx = RenderContext::sample_in(Channel::Email, Language::Es, Currency::Usd);
    let r = templates::render(Channel::Email, es.subject.as_deref(), &es.body, &ctx).unwrap();
    assert!(r.subject.unwrap().contains("$1,234.56") && r.body.contains("cancele la suscripción"), "{}", r.body);

    // A missing Spanish template: the property's language, then English.
    env.db.execute("DELETE FROM notice_templates WHERE stage = 3 AND channel = 'text' AND language = 'es'", &[]).unwrap();
    let t = templates::find(&env.db, 3, Channel::Text, Language::Es, Language::Fr).unwrap().unwrap();
    assert_eq!(t.language, Language::Fr);
    let t = templates::find(&env.db, 3, Channel::Text, Language::Es, Language::En).unwrap().unwrap();
    assert_eq!(t.language, Language::En);
    env.db.execute("DELETE FROM notice_templates WHERE stage = 3 AND channel = 'text' AND language = 'fr'", &[]).unwrap();
    let t = templates::find(&env.db, 3, Channel::Text, Language::Es, Language::Fr).unwrap().unwrap();
    assert_eq!(t.language, Language::En);
}

fn inbound(env: &Env, sid: &str, body: &str) -> process::InboundOutcome {
    let msg = InboundSms { message_sid: sid, from: "+15125550102", to: "+16175550100", body, num_media: 0, provider_keyword: None };
    process::receive(&env.db, &msg, &ReplySettings { sms_from: "+16175550100" }, env.now).unwrap()
}

#[test]
fn every_keyword_in_every_spelling_answers_in_its_language() {
    let env = Env::new();
    env.import_ok("properties", PROPERTIES);
    env.import_ok("tenants", TENANTS);
    let mut n = 0;
    let mut sid = || {
        n += 1;
        format!("SM{n:032}")
    };
    let opt_outs: &[(&str, &str)] = &[
        ("PARAR", "COMENZAR"), ("parar", "COMENZAR"), ("Alto", "COMENZAR"), ("cancelar!", "COMENZAR"),
        ("DETENER", "COMENZAR"), ("baja", "COMENZAR"),
        ("ARRÊT", "COMMENCER"), ("arret", "COMMENCER"), ("Arrêter", "COMMENCER"), ("ARRETER", "COMMENCER"),
        ("désabonner", "COMMENCER"), ("DESABONNER", "COMMENCER"), ("STOP", "START"),
    ];
    let opt_ins: &[(&str, &str)] = &[("comenzar", "PARAR"), ("Reanudar", "PARAR"), ("COMMENCER", "ARRET"), ("reprendre", "ARRET"), ("start", "STOP")];
    for (i, (word, back)) in opt_outs.iter().enumerate() {
        let out = inbound(&env, &sid(), word);
        assert_eq!(out.effect.as_str(), "opted_out", "{word}");
        assert!(out.reply.as_deref().unwrap_or_default().contains(back), "{word}: {:?}", out.reply);
        let (lift, expect) = opt_ins[i % opt_ins.len()];
        let back_in = inbound(&env, &sid(), lift);
        assert_eq!(back_in.effect.as_str(), "opted_in", "{lift}");
        assert!(back_in.reply.as_deref().unwrap_or_default().contains(expect), "{lift}: {:?}", back_in.reply);
    }
    let help = inbound(&env, &sid(), "ayuda");
    assert!(help.reply.as_deref().unwrap_or_default().contains("Responda PARAR para cancelar"), "{:?}", help.reply);
    let aide = inbound(&env, &sid(), "Aide?");
    assert!(aide.reply.as_deref().unwrap_or_default().contains("Répondez ARRET"), "{:?}", aide.reply);
    // Sentences that merely contain a keyword are free text for staff.
    for sentence in ["No puedo parar de trabajar, pago el viernes", "Je vais payer, pas besoin d'arrêter le service", "quiero darme de baja del plan de pagos?"] {
        let out = inbound(&env, &sid(), sentence);
        assert_eq!(out.effect.as_str(), "inbox", "{sentence}");
        assert!(out.reply.is_none());
    }
    let v = env.get_ok("/api/tenants/T-ES");
    assert!(v["contact_points"][0]["exclusions"].to_string().len() > 0);
    // The lists show each word's language; staff may add words in a language.
    let k = env.get_ok("/api/keywords");
    assert_eq!(k["languages"]["PARAR"], "es");
    assert_eq!(k["languages"]["ARRÊT"], "fr");
    let mut opt_out: Vec<String> = serde_json::from_value(k["opt_out"].clone()).unwrap();
    opt_out.push("Basta".into());
    let r = env.put_json("/api/keywords", &json!({ "opt_out": opt_out, "languages": { "basta": "es" } }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let k = env.get_ok("/api/keywords");
    assert_eq!((k["languages"]["BASTA"].as_str(), k["languages"]["PARAR"].as_str()), (Some("es"), Some("es")));
    let out = inbound(&env, &sid(), "basta");
    assert!(out.reply.unwrap_or_default().contains("COMENZAR"));
}
