//! The payment page's forms and checkout in the tenant's language and the
//! property's currency: a Quebec (CAD) tenant's checkout is in `cad`, a US
//! one's in `usd`; French amounts typed with a decimal comma; every refusal
//! and checkout error page in the reader's language, `?lang=` kept through
//! the forms.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rentmsg::base::db::{Db, NativeDb};
use rentmsg::base::http::{Request, Response};
use rentmsg::import::{self, ImportKind};
use rentmsg::notices::links::{self, Purpose};
use rentmsg::payments::{self, PayConfig, PayEnv};
use rentmsg::sending::providers::{HttpClient, HttpRequest, HttpResponse, TransportError};
use std::cell::RefCell;

const KEY: &str = "native-link-key";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 5, 15, 30, 0).unwrap()
}

struct Fake {
    requests: RefCell<Vec<HttpRequest>>,
    status: RefCell<u16>,
}

impl HttpClient for Fake {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.borrow_mut().push(r.clone());
        let status = *self.status.borrow();
        let body = if status == 200 { r#"{"id":"cs_test_1","url":"https://checkout.example/c/cs_test_1"}"#.as_bytes().to_vec() } else { br#"{"error":{"message":"no"}}"#.to_vec() };
        Ok(HttpResponse { status, headers: vec![], body })
    }
}

/// Two properties: Quebec (French, CAD) and Texas (English, USD); a
/// Spanish-speaking tenant in Texas. Each owes 125.00; each has a sent
/// email notice whose link id we sign ourselves.
fn fixture() -> (NativeDb, Vec<(&'static str, String)>) {
    let db = NativeDb::open_in_memory().unwrap();
    rentmsg::schema::migrate(&db, now()).unwrap();
    let csvs = [
        (ImportKind::Properties, "property_id,name,time_zone,state,country\nQ,Les Érables,America/Toronto,QC,CA\nT,Maple Court,America/Chicago,TX,US\n".to_owned()),
        (
            ImportKind::Tenants,
            "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status,language\n\
             FR,Q,Fleur,1,,,,fr@example.com,,,,,,,\nEN,T,Ed,2,,,,en@example.com,,,,,,,\nES,T,Eva,3,,,,es@example.com,,,,,,,es\n"
                .to_owned(),
        ),
        (ImportKind::Ledger, "tenant_id,date,due_date,kind,amount,reference\nFR,2024-05-24,2024-05-24,charge,125.00,R1\nEN,2024-05-24,2024-05-24,charge,125.00,R2\nES,2024-05-24,2024-05-24,charge,125.00,R3\n".to_owned()),
    ];
    for (kind, csv) in csvs {
        let r = import::import(&db, kind, csv.as_bytes(), "test", now()).unwrap();
        assert!(r.rejected.is_empty(), "{kind:?}: {:?}", r.rejected);
    }
    let mut tokens = Vec::new();
    for (i, t) in ["FR", "EN", "ES"].into_iter().enumerate() {
        let link_id = format!("{:024x}", i + 1);
        db.execute(
            "INSERT INTO outbox (kind, tenant_id, channel, address, state, not_before, custom_body, link_id, link_expires_at, created_by, created_at, updated_at)
             VALUES ('supplemental', ?, 'email', ?, 'sent', ?, 'x', ?, ?, 'test', ?, ?)",
            &[
                t.into(),
                format!("{}@example.com", t.to_lowercase()).into(),
                rentmsg::base::time::timestamp(now()).into(),
                link_id.as_str().into(),
                rentmsg::base::time::timestamp(now() + Duration::days(30)).into(),
                rentmsg::base::time::timestamp(now()).into(),
                rentmsg::base::time::timestamp(now()).into(),
            ],
        )
        .unwrap();
        tokens.push((t, links::sign(KEY, Purpose::Pay, &link_id).unwrap()));
    }
    (db, tokens)
}

fn call(db: &dyn Db, http: &Fake, method: &str, path: &str, body: &[u8]) -> Response {
    let config = PayConfig {
        public_base_url: "https://rent.example".into(),
        link_key: KEY.into(),
        api_base: "https://payments.example".into(),
        secret_key: "sk_test_native".into(),
        webhook_secret: "whsec".into(),
        currency: "usd".into(),
    };
    let env = PayEnv { db, http, config: &config, now: now() };
    let req = Request { method: method.into(), path: path.into(), headers: vec![], body: body.to_vec(), client_addr: None };
    payments::handle(&env, &req).unwrap()
}

/// The page as a browser reads attribute values (the templates escape `/`).
fn html(r: &Response) -> String {
    r.text().replace("&#x2f;", "/")
}

fn fake() -> Fake {
    Fake { requests: RefCell::new(Vec::new()), status: RefCell::new(200) }
}

fn token<'a>(tokens: &'a [(&str, String)], t: &str) -> &'a str {
    &tokens.iter().find(|(id, _)| *id == t).unwrap().1
}

#[test]
fn checkout_is_in_the_property_currency() {
    let (db, tokens) = fixture();
    for (tenant, currency) in [("FR", "cad"), ("EN", "usd"), ("ES", "usd")] {
        let http = fake();
        let r = call(&db, &http, "POST", &format!("/pay/{}/checkout", token(&tokens, tenant)), b"");
        assert_eq!(r.status, 303, "{tenant}: {}", r.text());
        let req = http.requests.borrow()[0].clone();
        let form = rentmsg::base::form::parse(&req.body).unwrap();
        assert_eq!(form.get("line_items[0][price_data][currency]"), Some(currency), "{tenant}");
        assert_eq!(form.get("line_items[0][price_data][unit_amount]"), Some("12500"), "{tenant}");
    }
}

#[test]
fn checkout_errors_follow_the_reader() {
    let (db, tokens) = fixture();
    let http = fake();
    *http.status.borrow_mut() = 401;
    let fr = token(&tokens, "FR");
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/checkout"), b"");
    assert_eq!(r.status, 502);
    assert!(r.text().contains(r#"<html lang="fr">"#) && r.text().contains("Paiement non commencé"), "{}", r.text());
    assert!(html(&r).contains(&format!(r#"href="/pay/{fr}""#)), "{}", r.text());
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/checkout?lang=es"), b"");
    assert!(r.text().contains(r#"<html lang="es">"#) && r.text().contains("Pago no iniciado"), "{}", r.text());
    assert!(html(&r).contains(&format!(r#"href="/pay/{fr}?lang=es""#)), "back to the page in the language chosen");
    // A stopped account, in Spanish (the tenant's own language).
    db.execute("UPDATE tenants SET status = 'stop' WHERE tenant_id = 'ES'", &[]).unwrap();
    let r = call(&db, &http, "POST", &format!("/pay/{}/checkout", token(&tokens, "ES")), b"");
    assert_eq!(r.status, 409);
    assert!(r.text().contains("Esta cuenta no acepta pagos en línea") && r.text().contains("la oficina de Maple Court"), "{}", r.text());
    // A switched page's success URL keeps the language.
    *http.status.borrow_mut() = 200;
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/checkout?lang=en"), b"");
    assert_eq!(r.status, 303);
    let form = rentmsg::base::form::parse(&http.requests.borrow().last().unwrap().body).unwrap();
    assert_eq!(form.get("success_url").map(str::to_owned), Some(format!("https://rent.example/pay/{fr}?lang=en&paid=1")));
}

#[test]
fn promise_amounts_typed_in_french_and_refusals_in_each_language() {
    let (db, tokens) = fixture();
    let http = fake();
    let fr = token(&tokens, "FR");
    // French: a decimal comma is an amount.
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/promise"), b"date=2024-06-07&amount=150%2C00");
    assert_eq!(r.status, 400, "more than the balance");
    assert!(r.text().contains("Le montant promis ne peut pas dépasser le solde (125,00 $)."), "{}", r.text());
    assert!(r.text().contains(r#"value="150,00""#), "the form keeps what was typed");
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/promise"), b"date=2024-06-07&amount=100%2C50");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(rentmsg::notices::promises::active(&db, "FR").unwrap().unwrap().amount_cents, Some(10_050));
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/promise"), b"date=2024-06-07&amount=100.25");
    assert_eq!(r.status, 303, "a point reads the same in French");
    assert_eq!(rentmsg::notices::promises::active(&db, "FR").unwrap().unwrap().amount_cents, Some(10_025));
    let r = call(&db, &http, "POST", &format!("/pay/{fr}/promise"), b"date=2024-06-07&amount=1%2C234");
    assert!(r.status == 400 && r.text().contains("par exemple 150,00"), "{}", r.text());
    // English refuses a decimal comma, in English.
    let en = token(&tokens, "EN");
    let r = call(&db, &http, "POST", &format!("/pay/{en}/promise"), b"date=2024-06-07&amount=100%2C50");
    assert!(r.status == 400 && r.text().contains("like 150.00"), "{}", r.text());
    // Each refusal in the reader's language; ?lang= wins and is kept.
    let es = token(&tokens, "ES");
    for (path, want) in [
        (format!("/pay/{es}/promise"), "Elija la fecha en que pagará."),
        (format!("/pay/{es}/promise?lang=fr"), "Veuillez choisir la date"),
        (format!("/pay/{en}/promise"), "Please choose the date you will pay."),
    ] {
        let r = call(&db, &http, "POST", &path, b"date=&amount=");
        assert_eq!(r.status, 400);
        assert!(r.text().contains(want), "{path}: {}", r.text());
    }
    let r = call(&db, &http, "POST", &format!("/pay/{es}/promise?lang=fr"), b"date=2024-12-30");
    assert!(r.text().contains("La date promise doit être au plus tard le"), "{}", r.text());
    assert!(html(&r).contains(&format!(r#"action="/pay/{es}/promise?lang=fr""#)), "the re-shown form keeps the language");
    let r = call(&db, &http, "POST", &format!("/pay/{es}/promise"), b"date=2024-06-01");
    assert!(r.text().contains("La fecha prometida debe ser hoy (5 de junio de 2024) o posterior."), "{}", r.text());
    let r = call(&db, &http, "POST", &format!("/pay/{es}/promise?lang=fr"), b"date=2024-06-07");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").map(str::to_owned), Some(format!("/pay/{es}?promised=1&lang=fr")));
    let page = call(&db, &http, "GET", &format!("/pay/{es}?promised=1&lang=fr"), b"");
    assert!(page.text().contains("votre promesse de paiement est enregistrée") && page.text().contains("125,00 $ US"), "{}", page.text());
}
