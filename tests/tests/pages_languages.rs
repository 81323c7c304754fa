//! The tenant's pages in English, Spanish and French through the local
//! host, in headless Chromium at a phone's size with JavaScript off: the
//! payment page, the promise form re-shown with its error, the unsubscribe
//! page and the invalid-link page. Each must carry `<html lang>`, its own
//! words and the amount as its reader writes it (`$125.00`, `125,00 $`);
//! `?lang=` changes the words only; each weighs under 8 KB (the HTML
//! response: the pages load nothing else). Checkout goes to a fake
//! Stripe-compatible API in the property's currency (`cad` for Quebec,
//! `usd` for the US). Screenshots land in `test-artifacts/`.

use e2e::browser::Browser;
use e2e::{App, FakeServer, Recorded};
use rentmsg::base::db::{Db, NativeDb};
use rentmsg::notices::links::{self, Purpose};

const STRIPE_KEY: &str = "sk_test_e2e_lang";
/// Most bytes a page may weigh on a phone (HTML plus assets; there are none).
const MAX_PAGE_BYTES: usize = 8 * 1024;

/// Records every checkout request; answers with a session on itself.
fn stripe() -> FakeServer {
    FakeServer::start(|r: &Recorded| {
        if r.method == "GET" && r.url.starts_with("/c/") {
            return (200, "text/html; charset=utf-8".into(), r#"<!doctype html><html lang="en"><link rel="icon" href="data:,"><title>Fake checkout</title><p>Fake checkout</p></html>"#.into());
        }
        if r.header("authorization") != Some(&format!("Bearer {STRIPE_KEY}")) || r.url != "/v1/checkout/sessions" {
            return (401, "application/json".into(), r#"{"error":{"message":"no"}}"#.into());
        }
        let host = r.header("host").unwrap_or("127.0.0.1").to_owned();
        (200, "application/json".into(), serde_json::json!({ "id": "cs_test_lang", "url": format!("http://{host}/c/cs_test_lang") }).to_string())
    })
}

struct Tenant {
    id: &'static str,
    lang: &'static str,
    pay: String,
    unsubscribe: String,
}

/// A Quebec property (French, CAD) and a Texas one (English, USD) with a
/// Spanish-speaking tenant; each tenant owes 125.00 and has a sent email
/// notice whose links we sign as the send pass would.
fn load(app: &App) -> Vec<Tenant> {
    let zone = e2e::zone_at_local_hour(12);
    let (s, b) = app.import("properties", &format!("property_id,name,time_zone,state,country\nQ,Les Érables,{zone},QC,CA\nT,Maple Court,{zone},TX,US\n"));
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.import(
        "tenants",
        "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status,language\n\
         fr1,Q,Fleur,1,,,,fr1@example.com,,,,,,,\nen1,T,Ed,2,,,,en1@example.com,,,,,,,\nes1,T,Eva,3,,,,es1@example.com,,,,,,,es\n",
    );
    assert_eq!((s, b["rejected"].clone()), (200, serde_json::json!([])), "{b}");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    let ledger: String = ["fr1", "en1", "es1"].iter().map(|t| format!("{t},{due},{due},charge,125.00,R-{t}\n")).collect();
    let (s, b) = app.import("ledger", &format!("tenant_id,date,due_date,kind,amount,reference\n{ledger}"));
    assert_eq!((s, b["rejected"].clone()), (200, serde_json::json!([])), "{b}");
    let db = NativeDb::open(app.state_dir.join("sqlite_db.db")).unwrap();
    let stamp = |d: chrono::Duration| rentmsg::base::time::timestamp(chrono::Utc::now() + d);
    let mut out = Vec::new();
    for (i, (id, lang)) in [("en1", "en"), ("es1", "es"), ("fr1", "fr")].into_iter().enumerate() {
        let link_id = format!("{:024x}", 0xabc0 + i);
        db.execute(
            "INSERT INTO outbox (kind, tenant_id, channel, address, state, not_before, custom_body, link_id, link_expires_at, created_by, created_at, updated_at)
             VALUES ('supplemental', ?, 'email', ?, 'sent', ?, 'x', ?, ?, 'test', ?, ?)",
            &[
                id.into(),
                format!("{id}@example.com").into(),
                stamp(chrono::Duration::zero()).into(),
                link_id.as_str().into(),
                stamp(chrono::Duration::days(30)).into(),
                stamp(chrono::Duration::zero()).into(),
                stamp(chrono::Duration::zero()).into(),
            ],
        )
        .unwrap();
        out.push(Tenant {
            id,
            lang,
            pay: format!("/pay/{}", links::sign(e2e::LINK_KEY, Purpose::Pay, &link_id).unwrap()),
            unsubscribe: format!("/unsubscribe/{}", links::sign(e2e::LINK_KEY, Purpose::Unsubscribe, &link_id).unwrap()),
        });
    }
    out
}

fn browser() -> Browser {
    let mut b = Browser::launch().expect("headless Chromium is required for the page tests");
    b.phone_viewport().unwrap();
    b.javascript(false).unwrap();
    b
}

/// The page's bytes as served, and that it loads nothing else.
fn weight(app: &App, path: &str) -> usize {
    let body = app.get(path).bytes().unwrap();
    let text = String::from_utf8_lossy(&body);
    for external in ["<script", "<img", "stylesheet", "@import", "url("] {
        assert!(!text.contains(external), "{path} loads an asset ({external})");
    }
    assert!(body.len() < MAX_PAGE_BYTES, "{path}: {} bytes", body.len());
    body.len()
}

/// What a page is made of, words aside: its forms, fields and buttons.
fn shape(b: &mut Browser) -> serde_json::Value {
    b.eval(
        "Array.from(document.querySelectorAll('form, input, button, table tr, section')).map(e => e.tagName + ':' + (e.name || '') + ':' + \
         (e.getAttribute('action') || '').replace(/[?&]lang=[a-z]+/, '') + ':' + (e.type || ''))",
    )
    .unwrap()
}

fn lang_of(b: &mut Browser) -> String {
    b.eval("document.documentElement.lang").unwrap().as_str().unwrap_or_default().to_owned()
}

fn check_text(b: &mut Browser, needles: &[&str]) {
    let text = b.text().unwrap();
    for n in needles {
        assert!(text.contains(n), "lacks {n:?}:\n{text}");
    }
    let width = b.eval("document.documentElement.scrollWidth").unwrap().as_i64().unwrap();
    assert!(width <= 390, "no sideways scrolling on a phone ({width}px)");
    // A refused form (400) or a bad link (404) is logged by the browser as
    // a failed load of the document itself; nothing else may fail.
    let errors: Vec<String> = b.console_errors().into_iter().filter(|e| !e.contains("the server responded with a status of 40")).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn every_tenant_page_in_each_language_on_a_phone_without_javascript() {
    let pay = stripe();
    let app = App::builder()
        .variable("public_base_url", "http://rent.example")
        .variable("payments_api_base", pay.base.as_str())
        .variable("payments_secret_key", STRIPE_KEY)
        .variable("payments_webhook_secret", "whsec_e2e_lang")
        .start();
    let tenants = load(&app);
    let mut b = browser();
    let words = |lang: &str| -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        // (balance heading, amount, promise error, unsubscribe text, invalid link)
        match lang {
            "en" => ("Balance due", "$125.00", "like 150.00", "Press the button to stop receiving account emails", "This payment link is not valid"),
            "es" => ("Saldo pendiente", "$125.00", "por ejemplo 150.00", "Pulse el botón para dejar de recibir correos", "Este enlace de pago no es válido"),
            _ => ("Solde dû", "125,00 $", "par exemple 150,00", "Appuyez sur le bouton pour ne plus recevoir de courriels", "Ce lien de paiement n'est pas valide"),
        }
    };
    for t in &tenants {
        let (balance, amount, form_error, unsub, invalid) = words(t.lang);
        // The payment page in the tenant's own language.
        b.open(&app.url(&t.pay)).unwrap();
        assert_eq!(b.last_document_status(), Some(200));
        assert_eq!(lang_of(&mut b), t.lang);
        check_text(&mut b, &[balance, amount]);
        b.screenshot(&format!("lang-pay-{}", t.lang)).unwrap();
        let bytes = weight(&app, &t.pay);
        eprintln!("{} payment page: {bytes} bytes", t.lang);

        // The promise form, refused and shown again with the reason.
        let min = b.eval("document.querySelector('#promise-date').min").unwrap().as_str().unwrap().to_owned();
        b.set_value("#promise-date", &min).unwrap();
        b.type_into("#promise-amount", "abc").unwrap();
        b.click_and_wait("button.secondary").unwrap();
        assert_eq!(b.last_document_status(), Some(400));
        assert_eq!(lang_of(&mut b), t.lang);
        check_text(&mut b, &[form_error, amount]);
        assert_eq!(b.eval("document.querySelector('#promise-amount').value").unwrap(), "abc", "what was typed stays");
        b.screenshot(&format!("lang-promise-error-{}", t.lang)).unwrap();

        // The unsubscribe page.
        b.open(&app.url(&t.unsubscribe)).unwrap();
        assert_eq!(b.last_document_status(), Some(200));
        assert_eq!(lang_of(&mut b), t.lang);
        check_text(&mut b, &[unsub]);
        b.screenshot(&format!("lang-unsubscribe-{}", t.lang)).unwrap();
        weight(&app, &t.unsubscribe);

        // The invalid-link page (nobody to take a language from: ?lang=).
        let bad = format!("/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA?lang={}", t.lang);
        b.open(&app.url(&bad)).unwrap();
        assert_eq!(b.last_document_status(), Some(404));
        assert_eq!(lang_of(&mut b), t.lang);
        check_text(&mut b, &[invalid]);
        b.screenshot(&format!("lang-invalid-{}", t.lang)).unwrap();
        weight(&app, &bad);
    }

    // ?lang= switches only the words: the same forms and rows, the same
    // balance in the same currency, written the reader's way.
    let en = tenants.iter().find(|t| t.id == "en1").unwrap();
    b.open(&app.url(&en.pay)).unwrap();
    let english = shape(&mut b);
    for (lang, amount, heading) in [("fr", "125,00 $ US", "Solde dû"), ("es", "$125.00", "Saldo pendiente")] {
        b.open(&app.url(&format!("{}?lang={lang}", en.pay))).unwrap();
        assert_eq!(lang_of(&mut b), lang);
        check_text(&mut b, &[heading, amount]);
        assert_eq!(shape(&mut b), english, "?lang={lang} changes the words only");
        b.screenshot(&format!("lang-pay-en-as-{lang}")).unwrap();
        weight(&app, &format!("{}?lang={lang}", en.pay));
    }
    let fr = tenants.iter().find(|t| t.id == "fr1").unwrap();
    b.open(&app.url(&format!("{}?lang=en", fr.pay))).unwrap();
    assert_eq!(lang_of(&mut b), "en");
    check_text(&mut b, &["Balance due", "CA$125.00"]);
    let us = tenants.iter().find(|t| t.id == "es1").unwrap();
    b.open(&app.url(&format!("{}?lang=en", us.unsubscribe))).unwrap();
    assert_eq!(lang_of(&mut b), "en");
    check_text(&mut b, &["Press the button to stop receiving account emails"]);

    // A French amount typed with a decimal comma is a promise.
    b.open(&app.url(&fr.pay)).unwrap();
    let min = b.eval("document.querySelector('#promise-date').min").unwrap().as_str().unwrap().to_owned();
    b.set_value("#promise-date", &min).unwrap();
    b.type_into("#promise-amount", "100,50").unwrap();
    b.click_and_wait("button.secondary").unwrap();
    assert!(b.url().unwrap().contains("promised=1"), "{}", b.text().unwrap());
    check_text(&mut b, &["votre promesse de paiement est enregistrée", "100,50 $"]);
    b.screenshot("lang-promised-fr").unwrap();

    // Checkout in each property's currency.
    for (t, currency) in [(fr, "cad"), (en, "usd")] {
        pay.clear();
        let r = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap().post(app.url(&format!("{}/checkout", t.pay))).send().unwrap();
        assert_eq!(r.status().as_u16(), 303, "{}", r.text().unwrap_or_default());
        let created: Vec<Recorded> = pay.requests().into_iter().filter(|r| r.method == "POST").collect();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].form_field("line_items[0][price_data][currency]").as_deref(), Some(currency), "{}", t.id);
        assert_eq!(created[0].form_field("line_items[0][price_data][unit_amount]").as_deref(), Some("12500"));
    }
}
