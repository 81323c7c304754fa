//! The tenant's payment page: small, fast, accessible, mobile first, no
//! external assets and no JavaScript (forms post and redirect).

use crate::base::error::Result;
use crate::base::locale::Language;
use minijinja::Environment;
use serde::Serialize;

/// One overdue (or open) charge as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeLine {
    /// Due date, written out (`May 24, 2024`).
    pub due: String,
    /// The charge's amount (`$1,200.00`).
    pub amount: String,
    /// What is still open of it, when part was paid.
    pub open: Option<String>,
    /// Whether its due date has passed.
    pub overdue: bool,
}

/// A promise as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromiseLine {
    /// `$300.00` or `the balance of $1,200.00`.
    pub amount: String,
    /// `June 7, 2024`.
    pub date: String,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PageView {
    /// Whose account this is (the tenant's name as the AR system has it): the
    /// link went to that tenant, and the notice that carried it names them too.
    pub tenant_name: String,
    /// The facility (property) name.
    pub facility: String,
    pub unit: Option<String>,
    /// The balance (`$1,200.00`).
    pub balance: String,
    /// Nothing is owed.
    pub settled: bool,
    /// The account is on stop status: no online payment.
    pub stop: bool,
    /// Whom to call (the property's contact line), when known.
    pub office_contact: Option<String>,
    /// Days past due of the oldest unpaid charge.
    pub days_past_due: i64,
    /// The open charges making up the balance, oldest first.
    pub charges: Vec<ChargeLine>,
    /// Form targets (relative to the page).
    pub checkout_action: String,
    /// Promise form target.
    pub promise_action: String,
    /// Earliest date a promise may name (`YYYY-MM-DD`).
    pub min_date: String,
    /// Latest date a promise may name (`YYYY-MM-DD`).
    pub max_date: String,
    /// The latest date, written out.
    pub max_date_text: String,
    /// The active promise, if any.
    pub promise: Option<PromiseLine>,
    /// A confirmation at the top (after paying or promising).
    pub notice: Option<String>,
    /// What was wrong with the form just sent.
    pub error: Option<String>,
    /// The date typed into the promise form (kept after an error).
    pub form_date: String,
    /// The amount typed into the promise form (kept after an error).
    pub form_amount: String,
    /// The language the page is in (`<html lang>`, the words, dates, amounts).
    pub lang: Language,
    /// Links to the page in the other languages (`?lang=es`): `(label, href, lang)`.
    pub switch: Vec<(String, String, String)>,
}

const STYLE: &str = "*{box-sizing:border-box}\
body{margin:0;font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#f5f5f2}\
main{max-width:34rem;margin:0 auto;padding:1rem}\
h1{font-size:1.375rem;margin:.5rem 0 0}\
h2{font-size:1.125rem;margin:1.5rem 0 .5rem}\
.unit{margin:0;color:#444}\
.card{background:#fff;border:1px solid #d6d6d0;border-radius:.5rem;padding:1rem;margin-top:1rem}\
.balance{font-size:2rem;font-weight:700;margin:.25rem 0}\
.late{color:#8a1c00;font-weight:600;margin:0}\
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.375rem 0;border-bottom:1px solid #eee}\
td.amt,th.amt{text-align:right}\
button{display:block;width:100%;min-height:3rem;font:inherit;font-weight:700;border:0;border-radius:.5rem;cursor:pointer}\
.pay{background:#0b5cad;color:#fff;font-size:1.125rem}\
.secondary{background:#e4e4de;color:#1a1a1a;margin-top:.75rem}\
label{display:block;font-weight:600;margin-top:.75rem}\
input{display:block;width:100%;min-height:2.75rem;font:inherit;padding:.375rem .5rem;border:1px solid #767670;border-radius:.375rem;margin-top:.25rem}\
.hint{font-size:.9375rem;color:#555;margin:.25rem 0 0}\
.notice{background:#e7f4e8;border-color:#7bb07f}.balance,.amt{white-space:nowrap}a{color:#0b5cad}.error{background:#fdecea;border-color:#d9827a}\
:focus-visible{outline:3px solid #f0a500;outline-offset:2px}";

const PAGE: &str = r#"<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>{{ facility }}{{ t.colon }} {{ t.your_account }}</title>
<link rel="icon" href="data:,">
<style>{{ style|safe }}</style>
</head>
<body>
<main>
<h1>{{ facility }}</h1>
<p class="unit">{% if tenant_name %}{{ t.account_of }} {{ tenant_name }}{% if unit %}, {{ t.unit }} {{ unit }}{% endif %}{% elif unit %}{{ t.unit_cap }} {{ unit }}{% endif %}</p>
{% if switch %}<p class="hint">{% for s in switch %}<a href="{{ s[1] }}" hreflang="{{ s[2] }}" lang="{{ s[2] }}">{{ s[0] }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>{% endif %}
{% if notice %}<div class="card notice" role="status"><p>{{ notice }}</p></div>{% endif %}
{% if error %}<div class="card error" role="alert"><p>{{ error }}</p></div>{% endif %}
<section class="card" aria-labelledby="owed">
{% if settled %}
<h2 id="owed">{{ t.settled_title }}</h2>
<p class="balance">{{ balance }}</p>
<p>{{ t.settled_text }}</p>
{% else %}
<h2 id="owed">{{ t.balance_due }}</h2>
<p class="balance">{{ balance }}</p>
{% if days_past_due > 0 %}<p class="late">{{ late_text }}</p>{% endif %}
{% if charges %}
<table>
<caption class="hint">{{ t.made_up }}</caption>
<thead><tr><th scope="col">{{ t.charge_due }}</th><th scope="col" class="amt">{{ t.owed }}</th></tr></thead>
<tbody>
{% for c in charges %}<tr><td>{{ c.due }}{% if c.overdue %} ({{ t.overdue }}){% endif %}</td><td class="amt">{% if c.open %}{{ c.open }} <span class="hint">{{ t.of }} {{ c.amount }}</span>{% else %}{{ c.amount }}{% endif %}</td></tr>
{% endfor %}</tbody>
</table>
{% endif %}
{% endif %}
</section>
{% if not settled %}
{% if stop %}
<section class="card" aria-labelledby="stop">
<h2 id="stop">{{ t.stop_title }}</h2>
<p>{{ t.please_call }} {% if office_contact %}{{ office_contact }}{% else %}{{ t.office_of | replace("{facility}", facility) }}{% endif %} {{ t.to_arrange }}</p>
</section>
{% else %}
{% if promise %}
<section class="card" aria-labelledby="promised">
<h2 id="promised">{{ t.your_promise }}</h2>
<p>{{ t.you_promised }} {{ promise.amount }} {{ t.by }} {{ promise.date }}. {{ t.paused }}</p>
</section>
{% endif %}
<section class="card" aria-labelledby="pay">
<h2 id="pay">{{ t.pay_now }}</h2>
<form method="post" action="{{ checkout_action }}">
<button type="submit" class="pay">{{ t.pay }} {{ balance }}</button>
</form>
<p class="hint">{{ t.securely }}</p>
</section>
<section class="card" aria-labelledby="promise">
<h2 id="promise">{{ t.cant_pay }}</h2>
<form method="post" action="{{ promise_action }}">
<label for="promise-date">{{ t.date_label }}</label>
<input id="promise-date" name="date" type="date" required min="{{ min_date }}" max="{{ max_date }}" value="{{ form_date }}" aria-describedby="date-hint">
<p class="hint" id="date-hint">{{ t.latest_before }} {{ max_date_text }}{{ t.latest_after }}</p>
<label for="promise-amount">{{ t.amount_label }}</label>
<input id="promise-amount" name="amount" type="text" inputmode="decimal" autocomplete="off" placeholder="{{ balance }}" value="{{ form_amount }}" aria-describedby="amount-hint">
<p class="hint" id="amount-hint">{{ t.amount_hint }}</p>
<button type="submit" class="secondary">{{ t.promise_button }}</button>
</form>
</section>
{% endif %}
{% endif %}
</main>
</body>
</html>
"#;

const MESSAGE: &str = r#"<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style>{{ style|safe }}</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
<div class="card"><p>{{ text }}</p>{% if back %}<p><a href="{{ back }}">{{ back_text }}</a></p>{% endif %}</div>
</main>
</body>
</html>
"#;

/// Render one template (only the page asked for is parsed; `.html` names
/// turn on HTML auto-escaping of every value).
fn render(name: &str, source: &'static str, ctx: minijinja::Value) -> Result<String> {
    let mut env = Environment::new();
    env.add_template(name, source).map_err(|e| crate::base::error::Error::Corrupt(format!("page template {name}: {e}")))?;
    let t = env.get_template(name).map_err(|e| crate::base::error::Error::Corrupt(e.to_string()))?;
    t.render(ctx).map_err(|e| crate::base::error::Error::Corrupt(format!("page {name}: {e}")))
}

/// The page's words in `lang`.
fn words(lang: Language) -> serde_json::Value {
    let w: [(&str, [&str; 3]); 30] = [
        ("colon", [":", ":", " :"]),
        ("your_account", ["your account", "su cuenta", "votre compte"]),
        ("account_of", ["Account of", "Cuenta de", "Compte de"]),
        ("unit", ["unit", "unidad", "unité"]),
        ("unit_cap", ["Unit", "Unidad", "Unité"]),
        ("settled_title", ["Your balance is settled", "Su saldo está al día", "Votre solde est réglé"]),
        ("settled_text", ["Nothing is owed on this account. Thank you.", "No hay nada pendiente en esta cuenta. Gracias.", "Aucun montant n'est dû sur ce compte. Merci."]),
        ("balance_due", ["Balance due", "Saldo pendiente", "Solde dû"]),
        ("made_up", ["How the balance is made up", "Detalle del saldo", "Détail du solde"]),
        ("charge_due", ["Charge due", "Cargo con vencimiento", "Échéance"]),
        ("owed", ["Owed", "Pendiente", "Dû"]),
        ("overdue", ["overdue", "vencido", "en retard"]),
        ("of", ["of", "de", "sur"]),
        ("stop_title", ["Online payment is not accepted for this account", "Esta cuenta no acepta pagos en línea", "Le paiement en ligne n'est pas accepté pour ce compte"]),
        ("please_call", ["Please call", "Llame a", "Veuillez appeler"]),
        ("office_of", ["the {facility} office", "la oficina de {facility}", "le bureau de {facility}"]),
        ("to_arrange", ["to arrange payment.", "para acordar el pago.", "pour convenir du paiement."]),
        ("your_promise", ["Your promise to pay", "Su promesa de pago", "Votre promesse de paiement"]),
        ("you_promised", ["You promised to pay", "Prometió pagar", "Vous avez promis de payer"]),
        ("by", ["by", "a más tardar el", "au plus tard le"]),
        ("paused", ["Reminders are paused until then.", "Los recordatorios quedan en pausa hasta entonces.", "Les rappels sont suspendus d'ici là."]),
        ("pay_now", ["Pay now", "Pagar ahora", "Payer maintenant"]),
        ("pay", ["Pay", "Pagar", "Payer"]),
        ("securely", ["You will pay securely with our payment provider.", "Pagará de forma segura con nuestro proveedor de pagos.", "Vous paierez en toute sécurité avec notre fournisseur de paiement."]),
        ("cant_pay", ["Can't pay today? Promise to pay", "¿No puede pagar hoy? Prometa una fecha", "Vous ne pouvez pas payer aujourd'hui? Promettez une date"]),
        ("date_label", ["Date you will pay", "Fecha en que pagará", "Date à laquelle vous paierez"]),
        ("latest_before", ["By", "A más tardar el", "Au plus tard le"]),
        ("amount_label", ["Amount (optional)", "Monto (opcional)", "Montant (facultatif)"]),
        ("amount_hint", ["Leave empty to promise the whole balance.", "Déjelo vacío para prometer el saldo total.", "Laissez vide pour promettre le solde complet."]),
        ("promise_button", ["Promise to pay", "Prometer el pago", "Promettre de payer"]),
    ];
    let i = match lang {
        Language::En => 0,
        Language::Es => 1,
        Language::Fr => 2,
    };
    let mut m: serde_json::Map<String, serde_json::Value> = w.iter().map(|(k, v)| ((*k).to_owned(), v[i].into())).collect();
    m.insert("latest_after".into(), (if lang == Language::En { " at the latest." } else { "." }).into());
    serde_json::Value::Object(m)
}

/// "12 days past due" in `lang`.
pub fn late_text(lang: Language, days: i64) -> String {
    match (lang, days) {
        (Language::En, 1) => "1 day past due".into(),
        (Language::En, d) => format!("{d} days past due"),
        (Language::Es, 1) => "1 día de atraso".into(),
        (Language::Es, d) => format!("{d} días de atraso"),
        (Language::Fr, 1) => "1 jour de retard".into(),
        (Language::Fr, d) => format!("{d} jours de retard"),
    }
}

/// The account page.
pub fn render_page(view: &PageView) -> Result<String> {
    let mut ctx = serde_json::to_value(view).map_err(|e| crate::base::error::Error::Corrupt(e.to_string()))?;
    if let Some(m) = ctx.as_object_mut() {
        m.insert("style".into(), STYLE.into());
        m.insert("t".into(), words(view.lang));
        m.insert("late_text".into(), late_text(view.lang, view.days_past_due).into());
    }
    render("pay.html", PAGE, minijinja::Value::from(minijinja::value::Serde(ctx)))
}

/// The one page every invalid, expired or unknown link gets, in English.
pub fn render_invalid() -> Result<String> {
    render_invalid_in(Language::En)
}

/// The invalid-link page in `lang` (a link that resolves to nobody has no
/// tenant language: the `?lang=` of the request, else English).
pub fn render_invalid_in(lang: Language) -> Result<String> {
    let (title, text) = match lang {
        Language::En => ("Link not valid", "This payment link is not valid or has expired. Please use the link in your latest message, or call the office."),
        Language::Es => ("Enlace no válido", "Este enlace de pago no es válido o ya venció. Use el enlace de su mensaje más reciente o llame a la oficina."),
        Language::Fr => ("Lien non valide", "Ce lien de paiement n'est pas valide ou a expiré. Utilisez le lien de votre dernier message ou appelez le bureau."),
    };
    render_message_in(lang, title, text, None)
}

/// A short English message page (`back`: a link to the account page).
pub fn render_message(title: &str, text: &str, back: Option<&str>) -> Result<String> {
    render_message_in(Language::En, title, text, back)
}

/// A short message page in `lang`.
pub fn render_message_in(lang: Language, title: &str, text: &str, back: Option<&str>) -> Result<String> {
    let back_text = match lang {
        Language::En => "Back to your account",
        Language::Es => "Volver a su cuenta",
        Language::Fr => "Retour à votre compte",
    };
    render(
        "message.html",
        MESSAGE,
        minijinja::context! { style => STYLE, title => title, text => text, back => back, back_text => back_text, lang => lang.as_str() },
    )
}

/// `June 7, 2024`.
pub fn long_date(d: chrono::NaiveDate) -> String {
    crate::base::locale::long_date(Language::En, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> PageView {
        PageView {
            tenant_name: "Pat <Q> Tenant".into(),
            facility: "Maple <Court>".into(),
            unit: Some("1A".into()),
            balance: "$1,200.00".into(),
            days_past_due: 12,
            charges: vec![ChargeLine { due: "May 24, 2024".into(), amount: "$1,200.00".into(), open: None, overdue: true }],
            checkout_action: "/pay/T/checkout".into(),
            promise_action: "/pay/T/promise".into(),
            min_date: "2024-06-05".into(),
            max_date: "2024-06-19".into(),
            max_date_text: "June 19, 2024".into(),
            ..Default::default()
        }
    }

    #[test]
    fn escapes_and_shows_the_parts() {
        let html = render_page(&view()).unwrap();
        assert!(html.contains("Maple &lt;Court&gt;"), "{html}");
        assert!(html.contains("Account of Pat &lt;Q&gt; Tenant, unit 1A"), "whose account: {html}");
        assert!(!html.contains("<Court>"));
        assert!(html.contains("12 days past due"));
        assert!(html.contains("Pay $1,200.00"));
        assert!(html.contains(r#"min="2024-06-05" max="2024-06-19""#));
        assert!(!html.contains("<script"), "no JavaScript");
        assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");
    }

    #[test]
    fn stop_and_settled_hide_the_forms() {
        let mut v = view();
        v.stop = true;
        v.office_contact = Some("617-555-0123".into());
        let html = render_page(&v).unwrap();
        assert!(html.contains("Online payment is not accepted for this account"));
        assert!(html.contains("Please call 617-555-0123"));
        assert!(!html.contains("<form"));
        // Without a HELP contact, the office is named as each language says it.
        v.office_contact = None;
        let html = render_page(&v).unwrap();
        assert!(html.contains("Please call the Maple &lt;Court&gt; office to arrange payment."), "{html}");
        let mut v = view();
        v.settled = true;
        v.balance = "$0.00".into();
        let html = render_page(&v).unwrap();
        assert!(html.contains("Your balance is settled"));
        assert!(!html.contains("<form"));
        assert!(render_invalid().unwrap().contains("Link not valid"));
    }

    #[test]
    fn spanish_and_french_pages() {
        let mut v = view();
        v.lang = Language::Fr;
        v.balance = "1 200,00 $".into();
        v.switch = vec![("English".into(), "?lang=en".into(), "en".into())];
        let html = render_page(&v).unwrap();
        assert!(html.contains(r#"<html lang="fr">"#));
        assert!(html.contains("Payer 1 200,00 $") && html.contains("12 jours de retard"), "{html}");
        assert!(html.contains(r#"href="?lang=en""#));
        v.lang = Language::Es;
        let html = render_page(&v).unwrap();
        assert!(html.contains(r#"<html lang="es">"#) && html.contains("12 días de atraso"));
        assert!(html.len() < 8 * 1024, "{} bytes", html.len());
        let bad = render_invalid_in(Language::Es).unwrap();
        assert!(bad.contains("Enlace no válido") && bad.contains(r#"lang="es""#));
    }

    #[test]
    fn dates_read_naturally() {
        assert_eq!(long_date(chrono::NaiveDate::from_ymd_opt(2024, 6, 7).unwrap()), "June 7, 2024");
    }
}
