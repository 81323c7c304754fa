//! Payment links, independent of the HTTP stack: the
//! `payment-link` component turns each request into a [`Request`], calls
//! [`handle`] and writes the [`Response`] (its `outcome` and `log` go to
//! the log line).
//!
//! - `GET /pay/:token`: the tenant's page ([`page`]): facility, unit,
//!   balance and the open charges making it up, days past due, a Pay button
//!   and a promise-to-pay form; stop status shows whom to call instead, a
//!   settled balance shows as settled. Each open is logged on the tenant
//!   (`link_opens`: time and a keyed hash of the client address, never the
//!   address; the contact log gets the first open of a link each day).
//! - `POST /pay/:token/checkout`: a checkout session for the current
//!   balance ([`checkout`]), then 303 to its URL. Never settles anything.
//! - `POST /pay/:token/promise`: records a promise ([`crate::notices::promises`]),
//!   then 303 back to the page (post / redirect / get); a bad date or
//!   amount re-shows the form with the reason (400).
//! - `POST /webhooks/payments`: the provider's signed events
//!   ([`signature`], [`webhook`]).
//!
//! Tokens are the signed links of [`crate::notices::links`] (purpose `pay`): an
//! expired, tampered or unknown token gets the one "Link not valid" page,
//! 404, whatever was wrong.

pub mod checkout;
pub mod page;
pub mod signature;
pub mod webhook;

use crate::base::channel::Channel;
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::http::{Request, Response};
use crate::notices::links::{self, LinkTarget, Purpose};
use crate::notices::promises::{self, PromiseSource};
use crate::sending::providers::{HttpClient, TransportError};
use crate::records::tenants::TenantStatus;
use crate::base::locale::{long_date, Currency, Language};
use crate::base::money::format_amount;
use crate::base::time;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use page::{ChargeLine, PageView, PromiseLine};
use sha2::Sha256;

/// Settings from the Spin variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayConfig {
    /// `public_base_url`: links back to the page (success / cancel URLs).
    pub public_base_url: String,
    /// `link_key`: verifies the tokens.
    pub link_key: String,
    /// `payments_api_base`: where checkout sessions are created.
    pub api_base: String,
    /// `payments_secret_key`: authenticates checkout requests; empty means online payment is off (503).
    pub secret_key: String,
    /// `payments_webhook_secret`: verifies the provider's webhook signatures.
    pub webhook_secret: String,
    /// Currency of a balance whose property is missing (`usd`); otherwise
    /// the property's currency wins.
    pub currency: String,
}

/// What [`handle`] needs.
pub struct PayEnv<'a> {
    /// The database.
    pub db: &'a dyn Db,
    /// Outbound HTTP (the payments API).
    pub http: &'a dyn HttpClient,
    /// Settings.
    pub config: &'a PayConfig,
    /// The time every check of this request uses (link expiry, promise dates).
    pub now: DateTime<Utc>,
}

/// Most bytes read from a tenant's form post.
const MAX_FORM_BYTES: usize = 4096;
/// Most bytes of a webhook body.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// What happened, for the log line: the outcome and its facts (ids,
/// amounts, effects; never tokens, addresses or secrets).
fn logged(mut r: Response, outcome: &'static str, facts: serde_json::Value) -> Response {
    r.outcome = Some(outcome);
    if let serde_json::Value::Object(map) = facts {
        r.log = map;
    }
    r
}

fn html(status: u16, body: String, outcome: &'static str, facts: serde_json::Value) -> Response {
    let r = Response::new(status, "text/html; charset=utf-8", body)
        .with_header("cache-control", "no-store")
        // The token is in the URL: never let it leak as a referrer.
        .with_header("referrer-policy", "no-referrer")
        .with_header("x-robots-tag", "noindex, nofollow")
        .with_header("x-content-type-options", "nosniff")
        .with_header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'",
        );
    logged(r, outcome, facts)
}

fn json(status: u16, body: serde_json::Value, outcome: &'static str, facts: serde_json::Value) -> Response {
    logged(Response::json(status, &body), outcome, facts)
}

fn redirect(location: &str, outcome: &'static str, facts: serde_json::Value) -> Response {
    html(303, String::new(), outcome, facts).with_header("location", location)
}

/// No facts beyond the outcome.
fn none() -> serde_json::Value {
    serde_json::Value::Null
}

fn not_allowed(allow: &str) -> Result<Response> {
    let r = html(405, page::render_message("Not allowed", "Use the link in your message.", None), "method_not_allowed", none());
    Ok(r.with_header("allow", allow))
}

fn invalid_link() -> Result<Response> {
    invalid_link_in(Language::En)
}

fn invalid_link_in(lang: Language) -> Result<Response> {
    Ok(html(404, page::render_invalid_in(lang), "invalid_link", none()))
}

/// The language asked for with `?lang=` (unknown values are ignored).
fn asked_language(req: &Request) -> Option<Language> {
    req.query().split('&').find_map(|p| p.strip_prefix("lang=")).and_then(|l| Language::parse_tag(l).ok())
}

/// Answer one request for the payment-link routes.
pub fn handle(env: &PayEnv<'_>, req: &Request) -> Result<Response> {
    let method = req.method.to_ascii_uppercase();
    let path = req.path_only();
    if path == "/webhooks/payments" {
        if method != "POST" {
            let r = json(405, serde_json::json!({ "error": "use POST" }), "method_not_allowed", none());
            return Ok(r.with_header("allow", "POST"));
        }
        return webhook_route(env, req);
    }
    let Some(rest) = path.strip_prefix("/pay/") else { return invalid_link() };
    let (token, action) = match rest.split_once('/') {
        Some((t, a)) => (t, a),
        None => (rest, ""),
    };
    match (action, method.as_str()) {
        ("", "GET" | "HEAD") => page_route(env, req, token, method == "GET"),
        ("", _) => not_allowed("GET"),
        ("checkout", "POST") => checkout_route(env, req, token),
        ("promise", "POST") => promise_route(env, req, token),
        ("checkout" | "promise", _) => not_allowed("POST"),
        _ => invalid_link_in(asked_language(req).unwrap_or_default()),
    }
}

/// The tenant's facts for the page.
struct Account {
    target: LinkTarget,
    tenant: crate::records::tenants::Tenant,
    facility: String,
    property_id: String,
    zone: chrono_tz::Tz,
    summary: crate::records::ledger::Summary,
    /// The tenant's language (own, else the property's).
    language: Language,
    /// The property's currency (None: no property, the configured one).
    currency: Option<Currency>,
}

fn account(env: &PayEnv<'_>, token: &str) -> Result<Option<Account>> {
    crate::schema::migrate(env.db, env.now)?;
    let target = match links::resolve(env.db, &env.config.link_key, Purpose::Pay, token, env.now)? {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let Some(tenant) = crate::records::tenants::get(env.db, &target.tenant_id)? else { return Ok(None) };
    let property = crate::records::tenants::property(env.db, &tenant.property_id)?;
    let zone = crate::records::tenants::effective(&tenant, property.as_ref()).time_zone;
    let today = time::local_date(env.now, zone);
    let summary = crate::records::ledger::summary(env.db, &tenant.tenant_id, today)?;
    Ok(Some(Account {
        language: crate::records::tenants::language_of(&tenant, property.as_ref()),
        currency: property.as_ref().map(|p| p.currency),
        facility: property.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        property_id: tenant.property_id.clone(),
        target,
        tenant,
        zone,
        summary,
    }))
}

/// `?lang=xx` (or `&lang=xx` after `lead`) when the reader switched: forms
/// and redirects keep the language they chose.
fn lang_query(asked: Option<Language>, lead: char) -> String {
    asked.map(|l| format!("{lead}lang={}", l.as_str())).unwrap_or_default()
}

fn view(env: &PayEnv<'_>, a: &Account, token: &str, lang: Language, asked: Option<Language>) -> Result<PageView> {
    let today = time::local_date(env.now, a.zone);
    let currency = a.currency.unwrap_or_else(|| env.config.currency.parse().unwrap_or_default());
    let money = |c: i64| format_amount(c, lang, currency);
    let the_balance_of = match lang {
        Language::En => "the balance of",
        Language::Es => "el saldo de",
        Language::Fr => "le solde de",
    };
    let (min, max) = promises::allowed_dates(env.db, a.zone, env.now)?;
    let promise = promises::active(env.db, &a.tenant.tenant_id)?.map(|p| PromiseLine {
        amount: match p.amount_cents {
            Some(c) => money(c),
            None => format!("{the_balance_of} {}", money(p.balance_cents)),
        },
        date: time::parse_date(&p.promised_date).map(|d| long_date(lang, d)).unwrap_or(p.promised_date),
    });
    let stop = a.tenant.status == TenantStatus::Stop;
    Ok(PageView {
        tenant_name: a.tenant.name.clone(),
        facility: a.facility.clone(),
        unit: a.tenant.unit.clone(),
        balance: money(a.summary.balance_cents.max(0)),
        settled: a.summary.balance_cents <= 0,
        stop,
        // Only a stop-status page names it: no lookup for the others.
        office_contact: if stop { crate::records::help_contact::get(env.db, &a.property_id)? } else { None },
        days_past_due: a.summary.days_past_due,
        charges: a
            .summary
            .charges
            .iter()
            .filter(|c| c.open_cents > 0)
            .map(|c| ChargeLine {
                due: long_date(lang, c.due_date),
                amount: money(c.amount_cents),
                open: (c.open_cents != c.amount_cents).then(|| money(c.open_cents)),
                overdue: c.due_date < today,
            })
            .collect(),
        checkout_action: format!("/pay/{token}/checkout{}", lang_query(asked, '?')),
        promise_action: format!("/pay/{token}/promise{}", lang_query(asked, '?')),
        min_date: time::date_string(min),
        max_date: time::date_string(max),
        max_date_text: long_date(lang, max),
        promise,
        lang,
        // Switching changes nothing else: the same page, other words.
        switch: Language::ALL
            .into_iter()
            .filter(|l| *l != lang)
            .map(|l| (l.endonym().to_owned(), format!("/pay/{token}?lang={}", l.as_str()), l.as_str().to_owned()))
            .collect(),
        ..Default::default()
    })
}

/// A short keyed hash of the client address: opens from one device can be
/// told apart without storing where anyone was.
fn client_hash(key: &str, addr: Option<&str>) -> Option<String> {
    let addr = addr?.trim();
    // `ip:port`: the port changes per connection; keep the address.
    let ip = if let Some(rest) = addr.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if addr.matches(':').count() == 1 {
        addr.split(':').next().unwrap_or(addr)
    } else {
        // A bare IPv6 address (no port) or a plain IPv4 one.
        addr
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(b"rentmsg-client:");
    mac.update(ip.as_bytes());
    Some(mac.finalize().into_bytes()[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// Log an open: the contact history gets the first open of this link each
/// (UTC) day, `link_opens` every one. One write transaction: every write
/// queues for the database's write turn anyway, and a transaction that
/// others queue behind commits together with them (one WAL sync for the
/// group, where two autocommit inserts paid a sync each), and two
/// simultaneous first opens no longer both reach the contact history.
fn log_open(env: &PayEnv<'_>, a: &Account, client: Option<&str>) -> Result<()> {
    let stamp = time::timestamp(env.now);
    let day_start = format!("{}T00:00:00.000Z", time::date_string(env.now.date_naive()));
    let detail = serde_json::json!({ "notice_id": a.target.outbox_id }).to_string();
    let client = client_hash(&env.config.link_key, client);
    db::transaction(env.db, |tx| -> Result<()> {
        tx.execute(
            "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, detail)
             SELECT ?, ?, 'inbound', ?, 'Opened the payment link', 'link_opened', ?, ?
             WHERE NOT EXISTS (SELECT 1 FROM link_opens WHERE outbox_id = ? AND opened_at >= ?)",
            &[
                a.tenant.tenant_id.as_str().into(),
                a.target.channel.as_str().into(),
                a.target.address.as_deref().unwrap_or("payment link").into(),
                stamp.as_str().into(),
                detail.as_str().into(),
                a.target.outbox_id.into(),
                day_start.as_str().into(),
            ],
        )?;
        tx.execute(
            "INSERT INTO link_opens (tenant_id, outbox_id, opened_at, client_hash) VALUES (?, ?, ?, ?)",
            &[a.tenant.tenant_id.as_str().into(), a.target.outbox_id.into(), stamp.as_str().into(), client.as_deref().into()],
        )?;
        Ok(())
    })
}

fn page_route(env: &PayEnv<'_>, req: &Request, token: &str, log: bool) -> Result<Response> {
    let asked = asked_language(req);
    let Some(a) = account(env, token)? else { return invalid_link_in(asked.unwrap_or_default()) };
    if log {
        log_open(env, &a, req.client_addr.as_deref())?;
    }
    let lang = asked.unwrap_or(a.language);
    let mut v = view(env, &a, token, lang, asked)?;
    for pair in req.query().split('&') {
        match pair {
            "paid=1" => v.notice = Some(thanks(lang, if v.settled { Thanks::Received } else { Thanks::Processing }).into()),
            "promised=1" => v.notice = Some(thanks(lang, Thanks::Promised).into()),
            _ => {}
        }
    }
    let body = if log { page::render_page(&v) } else { String::new() };
    Ok(html(200, body, "page", serde_json::json!({ "notice_id": a.target.outbox_id, "settled": v.settled, "stop": v.stop })))
}

/// Which confirmation the page shows.
#[derive(Clone, Copy)]
enum Thanks {
    Received,
    Processing,
    Promised,
}

fn thanks(lang: Language, which: Thanks) -> &'static str {
    match (lang, which) {
        (Language::En, Thanks::Received) => "Thank you: your payment has been received.",
        (Language::En, Thanks::Processing) => "Thank you: your payment is being processed. The balance below updates once it is confirmed.",
        (Language::En, Thanks::Promised) => "Thank you: your promise to pay is recorded.",
        (Language::Es, Thanks::Received) => "Gracias: recibimos su pago.",
        (Language::Es, Thanks::Processing) => "Gracias: su pago se está procesando. El saldo se actualizará cuando se confirme.",
        (Language::Es, Thanks::Promised) => "Gracias: registramos su promesa de pago.",
        (Language::Fr, Thanks::Received) => "Merci : votre paiement a été reçu.",
        (Language::Fr, Thanks::Processing) => "Merci : votre paiement est en cours de traitement. Le solde sera mis à jour une fois confirmé.",
        (Language::Fr, Thanks::Promised) => "Merci : votre promesse de paiement est enregistrée.",
    }
}

/// The checkout's refusal pages: `(title, text)` in `lang`.
fn checkout_words(lang: Language, which: CheckoutTrouble, office: &str) -> (&'static str, String) {
    match (lang, which) {
        (Language::En, CheckoutTrouble::Stop) => ("Online payment not accepted", format!("Online payment is not accepted for this account. Please call {office}.")),
        (Language::Es, CheckoutTrouble::Stop) => ("Pago en línea no aceptado", format!("Esta cuenta no acepta pagos en línea. Llame a {office}.")),
        (Language::Fr, CheckoutTrouble::Stop) => ("Paiement en ligne non accepté", format!("Le paiement en ligne n'est pas accepté pour ce compte. Veuillez appeler {office}.")),
        (Language::En, CheckoutTrouble::Off) => ("Online payment unavailable", "Online payment is not available just now. Please try again later or call the office.".into()),
        (Language::Es, CheckoutTrouble::Off) => ("Pago en línea no disponible", "El pago en línea no está disponible en este momento. Inténtelo más tarde o llame a la oficina.".into()),
        (Language::Fr, CheckoutTrouble::Off) => ("Paiement en ligne indisponible", "Le paiement en ligne n'est pas disponible pour le moment. Réessayez plus tard ou appelez le bureau.".into()),
        (Language::En, CheckoutTrouble::Failed) => ("Payment not started", "We could not start the payment just now. Please try again in a moment.".into()),
        (Language::Es, CheckoutTrouble::Failed) => ("Pago no iniciado", "No pudimos iniciar el pago en este momento. Inténtelo de nuevo en unos instantes.".into()),
        (Language::Fr, CheckoutTrouble::Failed) => ("Paiement non commencé", "Nous n'avons pas pu commencer le paiement pour le moment. Veuillez réessayer dans un instant.".into()),
    }
}

/// Why no checkout was started.
#[derive(Clone, Copy)]
enum CheckoutTrouble {
    Stop,
    Off,
    Failed,
}

fn checkout_route(env: &PayEnv<'_>, req: &Request, token: &str) -> Result<Response> {
    let asked = asked_language(req);
    let Some(a) = account(env, token)? else { return invalid_link_in(asked.unwrap_or_default()) };
    let lang = asked.unwrap_or(a.language);
    // Absolute for the provider; relative for our own pages.
    let page_url = format!("{}{}", links::url(&env.config.public_base_url, Purpose::Pay, token), lang_query(asked, '?'));
    let back = format!("/pay/{token}{}", lang_query(asked, '?'));
    let notice = serde_json::json!({ "notice_id": a.target.outbox_id });
    if a.tenant.status == TenantStatus::Stop {
        let contact = crate::records::help_contact::get(env.db, &a.property_id)?;
        let office = contact.unwrap_or_else(|| match lang {
            Language::En => format!("the {} office", a.facility),
            Language::Es => format!("la oficina de {}", a.facility),
            Language::Fr => format!("le bureau de {}", a.facility),
        });
        let (title, text) = checkout_words(lang, CheckoutTrouble::Stop, &office);
        return Ok(html(409, page::render_message_in(lang, title, &text, Some(&back)), "checkout_refused_stop", notice));
    }
    if a.summary.balance_cents <= 0 {
        return Ok(redirect(&back, "checkout_nothing_owed", notice));
    }
    if env.config.secret_key.is_empty() {
        let (title, text) = checkout_words(lang, CheckoutTrouble::Off, "");
        return Ok(html(503, page::render_message_in(lang, title, &text, Some(&back)), "checkout_not_configured", notice));
    }
    let amount = a.summary.balance_cents;
    let product = match &a.tenant.unit {
        Some(u) => format!("Balance, {} unit {u}", a.facility),
        None => format!("Balance, {}", a.facility),
    };
    let request = checkout::SessionRequest {
        amount_cents: amount,
        // The property's currency wins over the configured default.
        currency: a.currency.map_or_else(|| env.config.currency.clone(), |c| c.code().to_ascii_lowercase()),
        product_name: product,
        success_url: if asked.is_some() { format!("{page_url}&paid=1") } else { format!("{page_url}?paid=1") },
        cancel_url: page_url.clone(),
        tenant_id: a.tenant.tenant_id.clone(),
        notice_id: a.target.outbox_id,
        // Same notice and same ledger position: the same session.
        idempotency_key: format!("rentmsg-checkout-{}-{}-{}", a.target.outbox_id, a.summary.charges_cents, a.summary.paid_cents),
    };
    let http_request = checkout::build(&env.config.api_base, &env.config.secret_key, &request);
    let failed = |what: &'static str, detail: String| -> Result<Response> {
        let (title, text) = checkout_words(lang, CheckoutTrouble::Failed, "");
        let mut r = html(
            502,
            page::render_message_in(lang, title, &text, Some(&back)),
            what,
            serde_json::json!({ "notice_id": a.target.outbox_id, "detail": detail }),
        );
        if what == "checkout_unreachable" {
            r.status = 503;
        }
        Ok(r)
    };
    let resp = match env.http.send(&http_request) {
        Ok(r) => r,
        Err(TransportError::NotSent(e) | TransportError::NoAnswer(e)) => return failed("checkout_unreachable", e),
    };
    let session = match checkout::parse(&resp) {
        Ok(s) => s,
        Err(e) => return failed("checkout_refused", e.to_string()),
    };
    env.db.execute(
        "INSERT INTO checkout_sessions (session_id, tenant_id, outbox_id, amount_cents, idempotency_key, url, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT (session_id) DO NOTHING",
        &[
            session.id.as_str().into(),
            a.tenant.tenant_id.as_str().into(),
            a.target.outbox_id.into(),
            amount.into(),
            request.idempotency_key.as_str().into(),
            session.url.as_str().into(),
            time::timestamp(env.now).into(),
        ],
    )?;
    Ok(redirect(&session.url, "checkout", serde_json::json!({ "notice_id": a.target.outbox_id, "amount_cents": amount })))
}

/// The promise form as typed: `(date, amount)`, kept to show it again.
type Typed = (String, String);
/// The form refused: what was typed and why.
type FormRefusal = (String, String, String);

/// The promise form's own complaints, in `lang`.
fn form_words(lang: Language, which: FormTrouble) -> &'static str {
    match (lang, which) {
        (Language::En, FormTrouble::NoDate) => "Please choose the date you will pay.",
        (Language::Es, FormTrouble::NoDate) => "Elija la fecha en que pagará.",
        (Language::Fr, FormTrouble::NoDate) => "Veuillez choisir la date à laquelle vous paierez.",
        (Language::En, FormTrouble::BadDate) => "Please give the date as YYYY-MM-DD.",
        (Language::Es, FormTrouble::BadDate) => "Escriba la fecha como AAAA-MM-DD.",
        (Language::Fr, FormTrouble::BadDate) => "Veuillez écrire la date au format AAAA-MM-JJ.",
        (Language::En, FormTrouble::BadAmount) => "Please give the amount in dollars and cents, like 150.00.",
        (Language::Es, FormTrouble::BadAmount) => "Escriba el monto en dólares y centavos, por ejemplo 150.00.",
        (Language::Fr, FormTrouble::BadAmount) => "Veuillez écrire le montant en dollars et en cents, par exemple 150,00.",
        (Language::En, FormTrouble::TooLarge) => "The form is too large.",
        (Language::Es, FormTrouble::TooLarge) => "El formulario es demasiado grande.",
        (Language::Fr, FormTrouble::TooLarge) => "Le formulaire est trop volumineux.",
        (Language::En, FormTrouble::Unreadable) => "The form could not be read. Please try again.",
        (Language::Es, FormTrouble::Unreadable) => "No se pudo leer el formulario. Inténtelo de nuevo.",
        (Language::Fr, FormTrouble::Unreadable) => "Le formulaire n'a pas pu être lu. Veuillez réessayer.",
    }
}

/// What is wrong with the promise form as sent.
#[derive(Clone, Copy)]
enum FormTrouble {
    NoDate,
    BadDate,
    BadAmount,
    TooLarge,
    Unreadable,
}

/// Read the promise form: `date` (YYYY-MM-DD) and optional `amount`, typed
/// as a reader of `lang` types amounts (`150,00` in French).
fn promise_form(body: &[u8], lang: Language) -> std::result::Result<(Typed, NaiveDate, Option<i64>), FormRefusal> {
    let form = crate::base::form::parse(body).map_err(|_| (String::new(), String::new(), form_words(lang, FormTrouble::Unreadable).to_owned()))?;
    let date_text = form.get("date").unwrap_or_default().trim().to_owned();
    let amount_text = form.get("amount").unwrap_or_default().trim().to_owned();
    let keep = |msg: String| (date_text.clone(), amount_text.clone(), msg);
    if date_text.is_empty() {
        return Err(keep(form_words(lang, FormTrouble::NoDate).into()));
    }
    let date = time::parse_date(&date_text).map_err(|_| keep(form_words(lang, FormTrouble::BadDate).into()))?;
    let amount = if amount_text.is_empty() {
        None
    } else {
        Some(crate::base::money::parse_cents_in(&amount_text, lang).map_err(|_| keep(form_words(lang, FormTrouble::BadAmount).into()))?)
    };
    Ok(((date_text.clone(), amount_text.clone()), date, amount))
}

fn promise_route(env: &PayEnv<'_>, req: &Request, token: &str) -> Result<Response> {
    let asked = asked_language(req);
    let Some(a) = account(env, token)? else { return invalid_link_in(asked.unwrap_or_default()) };
    let lang = asked.unwrap_or(a.language);
    let refuse = |date: String, amount: String, msg: String, status: u16| -> Result<Response> {
        let mut v = view(env, &a, token, lang, asked)?;
        v.error = Some(msg);
        v.form_date = date;
        v.form_amount = amount;
        Ok(html(status, page::render_page(&v), "promise_refused", serde_json::json!({ "notice_id": a.target.outbox_id })))
    };
    if req.body.len() > MAX_FORM_BYTES {
        return refuse(String::new(), String::new(), form_words(lang, FormTrouble::TooLarge).into(), 413);
    }
    let ((date_text, amount_text), date, amount) = match promise_form(&req.body, lang) {
        Ok(x) => x,
        Err((d, m, msg)) => return refuse(d, m, msg, 400),
    };
    // The same checks as the promise itself makes, first, so the tenant
    // reads why in their own language (the record's errors are staff English).
    let currency = a.currency.unwrap_or_else(|| env.config.currency.parse().unwrap_or_default());
    let (first, last) = promises::allowed_dates(env.db, a.zone, env.now)?;
    let refusal = if a.tenant.status == TenantStatus::Stop {
        Some((promises::Refusal::Stop, 409))
    } else if a.summary.balance_cents <= 0 {
        Some((promises::Refusal::Settled, 409))
    } else if date < first {
        Some((promises::Refusal::TooEarly(long_date(lang, first)), 400))
    } else if date > last {
        Some((promises::Refusal::TooLate(long_date(lang, last)), 400))
    } else if amount.is_some_and(|c| c <= 0) {
        Some((promises::Refusal::NotPositive, 400))
    } else if amount.is_some_and(|c| c > a.summary.balance_cents) {
        Some((promises::Refusal::OverBalance(format_amount(a.summary.balance_cents, lang, currency)), 400))
    } else {
        None
    };
    if let Some((why, status)) = refusal {
        return refuse(date_text, amount_text, promises::refusal_text(lang, &why), status);
    }
    let contact = a.target.address.as_deref().map(|addr| (a.target.channel, addr));
    let recorded = promises::record_new(
        env.db,
        &promises::NewPromise {
            tenant_id: &a.tenant.tenant_id,
            amount_cents: amount,
            date,
            source: PromiseSource::Link,
            actor: "tenant",
            contact: contact.or(Some((Channel::Text, "payment link"))),
        },
        env.now,
    );
    match recorded {
        // Relative: back to the page on whatever host served it.
        Ok(p) => Ok(redirect(&format!("/pay/{token}?promised=1{}", lang_query(asked, '&')), "promise", serde_json::json!({ "notice_id": a.target.outbox_id, "promise_id": p.id }))),
        // Checked above; only a change between the two reads gets here.
        Err(Error::Invalid(_)) => refuse(date_text, amount_text, promises::refusal_text(lang, &promises::Refusal::Other), 400),
        Err(Error::Conflict(_)) => refuse(date_text, amount_text, promises::refusal_text(lang, &promises::Refusal::Other), 409),
        Err(e) => Err(e),
    }
}

fn webhook_route(env: &PayEnv<'_>, req: &Request) -> Result<Response> {
    if req.body.len() > MAX_EVENT_BYTES {
        return Ok(json(413, serde_json::json!({ "error": "the event is too large" }), "webhook_too_large", none()));
    }
    let verified = signature::verify(
        req.header("stripe-signature"),
        &req.body,
        &env.config.webhook_secret,
        env.now.timestamp(),
        signature::TOLERANCE_SECONDS,
    );
    if let Err(e) = verified {
        let status = if e == signature::SignatureError::NoSecret { 503 } else { 400 };
        return Ok(json(
            status,
            serde_json::json!({ "error": format!("signature not verified: {e}") }),
            "webhook_refused",
            serde_json::json!({ "reason": e.to_string() }),
        ));
    }
    crate::schema::migrate(env.db, env.now)?;
    match webhook::process(env.db, &req.body, env.now) {
        Ok(out) => {
            let facts = serde_json::json!({ "event_type": out.event_type, "effect": out.effect,
                                            "amount_cents": out.amount_cents, "cancelled_notices": out.cancelled_notices });
            Ok(json(200, serde_json::json!({ "received": true, "effect": out.effect }), "webhook", facts))
        }
        Err(Error::Invalid(m)) => Ok(json(400, serde_json::json!({ "error": m }), "webhook_invalid", none())),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hash_hides_the_address_and_ignores_the_port() {
        let a = client_hash("k", Some("203.0.113.9:51234")).unwrap();
        assert_eq!(a, client_hash("k", Some("203.0.113.9:40000")).unwrap());
        assert_ne!(a, client_hash("k", Some("203.0.113.10:40000")).unwrap());
        assert_ne!(a, client_hash("other", Some("203.0.113.9:1")).unwrap());
        assert!(!a.contains("203"));
        assert_eq!(a.len(), 16);
        assert_eq!(client_hash("k", Some("[2001:db8::1]:443")), client_hash("k", Some("2001:db8::1")));
        assert_eq!(client_hash("k", None), None);
    }
}
