//! The tenant's payment page: small, fast, accessible, mobile first, no
//! external assets and no JavaScript (forms post and redirect).

use crate::base::locale::Language;

/// One overdue (or open) charge as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromiseLine {
    /// `$300.00` or `the balance of $1,200.00`.
    pub amount: String,
    /// `June 7, 2024`.
    pub date: String,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// Whom to call (the property's contact line), when known; looked up
    /// for a stop-status page only, the one page that shows it.
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

/// The page's fixed words in one language.
struct Words {
    colon: &'static str,
    your_account: &'static str,
    account_of: &'static str,
    unit: &'static str,
    unit_cap: &'static str,
    settled_title: &'static str,
    settled_text: &'static str,
    balance_due: &'static str,
    made_up: &'static str,
    charge_due: &'static str,
    owed: &'static str,
    overdue: &'static str,
    of: &'static str,
    stop_title: &'static str,
    please_call: &'static str,
    office_of: &'static str,
    to_arrange: &'static str,
    your_promise: &'static str,
    you_promised: &'static str,
    by: &'static str,
    paused: &'static str,
    pay_now: &'static str,
    pay: &'static str,
    securely: &'static str,
    cant_pay: &'static str,
    date_label: &'static str,
    latest_before: &'static str,
    amount_label: &'static str,
    amount_hint: &'static str,
    promise_button: &'static str,
    latest_after: &'static str,
}

/// The page's words in each language, in the order of [`Language::ALL`].
const WORDS: [Words; 3] = [
    Words {
        colon: ":",
        your_account: "your account",
        account_of: "Account of",
        unit: "unit",
        unit_cap: "Unit",
        settled_title: "Your balance is settled",
        settled_text: "Nothing is owed on this account. Thank you.",
        balance_due: "Balance due",
        made_up: "How the balance is made up",
        charge_due: "Charge due",
        owed: "Owed",
        overdue: "overdue",
        of: "of",
        stop_title: "Online payment is not accepted for this account",
        please_call: "Please call",
        office_of: "the {facility} office",
        to_arrange: "to arrange payment.",
        your_promise: "Your promise to pay",
        you_promised: "You promised to pay",
        by: "by",
        paused: "Reminders are paused until then.",
        pay_now: "Pay now",
        pay: "Pay",
        securely: "You will pay securely with our payment provider.",
        cant_pay: "Can't pay today? Promise to pay",
        date_label: "Date you will pay",
        latest_before: "By",
        amount_label: "Amount (optional)",
        amount_hint: "Leave empty to promise the whole balance.",
        promise_button: "Promise to pay",
        latest_after: " at the latest.",
    },
    Words {
        colon: ":",
        your_account: "su cuenta",
        account_of: "Cuenta de",
        unit: "unidad",
        unit_cap: "Unidad",
        settled_title: "Su saldo está al día",
        settled_text: "No hay nada pendiente en esta cuenta. Gracias.",
        balance_due: "Saldo pendiente",
        made_up: "Detalle del saldo",
        charge_due: "Cargo con vencimiento",
        owed: "Pendiente",
        overdue: "vencido",
        of: "de",
        stop_title: "Esta cuenta no acepta pagos en línea",
        please_call: "Llame a",
        office_of: "la oficina de {facility}",
        to_arrange: "para acordar el pago.",
        your_promise: "Su promesa de pago",
        you_promised: "Prometió pagar",
        by: "a más tardar el",
        paused: "Los recordatorios quedan en pausa hasta entonces.",
        pay_now: "Pagar ahora",
        pay: "Pagar",
        securely: "Pagará de forma segura con nuestro proveedor de pagos.",
        cant_pay: "¿No puede pagar hoy? Prometa una fecha",
        date_label: "Fecha en que pagará",
        latest_before: "A más tardar el",
        amount_label: "Monto (opcional)",
        amount_hint: "Déjelo vacío para prometer el saldo total.",
        promise_button: "Prometer el pago",
        latest_after: ".",
    },
    Words {
        colon: " :",
        your_account: "votre compte",
        account_of: "Compte de",
        unit: "unité",
        unit_cap: "Unité",
        settled_title: "Votre solde est réglé",
        settled_text: "Aucun montant n'est dû sur ce compte. Merci.",
        balance_due: "Solde dû",
        made_up: "Détail du solde",
        charge_due: "Échéance",
        owed: "Dû",
        overdue: "en retard",
        of: "sur",
        stop_title: "Le paiement en ligne n'est pas accepté pour ce compte",
        please_call: "Veuillez appeler",
        office_of: "le bureau de {facility}",
        to_arrange: "pour convenir du paiement.",
        your_promise: "Votre promesse de paiement",
        you_promised: "Vous avez promis de payer",
        by: "au plus tard le",
        paused: "Les rappels sont suspendus d'ici là.",
        pay_now: "Payer maintenant",
        pay: "Payer",
        securely: "Vous paierez en toute sécurité avec notre fournisseur de paiement.",
        cant_pay: "Vous ne pouvez pas payer aujourd'hui? Promettez une date",
        date_label: "Date à laquelle vous paierez",
        latest_before: "Au plus tard le",
        amount_label: "Montant (facultatif)",
        amount_hint: "Laissez vide pour promettre le solde complet.",
        promise_button: "Promettre de payer",
        latest_after: ".",
    },
];

fn words(lang: Language) -> &'static Words {
    match lang {
        Language::En => &WORDS[0],
        Language::Es => &WORDS[1],
        Language::Fr => &WORDS[2],
    }
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

/// A page being written: markup as given, every value HTML-escaped (`&`,
/// `<`, `>`, `"`, `'` and `/`, so a value is safe in text and in quoted
/// attributes alike). Built by hand rather than from a template: each open
/// runs in a fresh instance, so a template was parsed on every request (a
/// fifth of the host's CPU time per open).
struct Html(String);

impl Html {
    fn new() -> Self {
        Html(String::with_capacity(4096))
    }

    /// Markup, as is.
    fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// A value, escaped.
    fn text(&mut self, value: &str) -> &mut Self {
        let mut rest = value;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'', '/']) {
            self.0.push_str(&rest[..i]);
            self.0.push_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#x27;",
                _ => "&#x2f;",
            });
            rest = &rest[i + 1..];
        }
        self.0.push_str(rest);
        self
    }

    /// The document up to `<main>`, titled `title` (escaped).
    fn head(&mut self, lang: Language, title: &[&str]) -> &mut Self {
        self.raw("<!doctype html>\n<html lang=\"").text(lang.as_str()).raw(
            "\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"robots\" content=\"noindex, nofollow\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<title>",
        );
        for part in title {
            self.text(part);
        }
        self.raw("</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>").raw(STYLE).raw("</style>\n</head>\n<body>\n<main>\n")
    }

    /// The end of the document, after the last section.
    fn end(mut self) -> String {
        self.raw("</main>\n</body>\n</html>");
        self.0
    }
}

/// A text shown only when present and not empty.
fn shown(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

/// The account page.
pub fn render_page(view: &PageView) -> String {
    let t = words(view.lang);
    let mut h = Html::new();
    h.head(view.lang, &[&view.facility, t.colon, " ", t.your_account]);
    h.raw("<h1>").text(&view.facility).raw("</h1>\n<p class=\"unit\">");
    match (view.tenant_name.is_empty(), shown(&view.unit)) {
        (false, unit) => {
            h.text(t.account_of).raw(" ").text(&view.tenant_name);
            if let Some(unit) = unit {
                h.raw(", ").text(t.unit).raw(" ").text(unit);
            }
        }
        (true, Some(unit)) => {
            h.text(t.unit_cap).raw(" ").text(unit);
        }
        (true, None) => {}
    }
    h.raw("</p>\n");
    if !view.switch.is_empty() {
        h.raw("<p class=\"hint\">");
        for (i, (label, href, lang)) in view.switch.iter().enumerate() {
            if i > 0 {
                h.raw(" · ");
            }
            h.raw("<a href=\"").text(href).raw("\" hreflang=\"").text(lang).raw("\" lang=\"").text(lang).raw("\">").text(label).raw("</a>");
        }
        h.raw("</p>");
    }
    h.raw("\n");
    if let Some(notice) = shown(&view.notice) {
        h.raw("<div class=\"card notice\" role=\"status\"><p>").text(notice).raw("</p></div>");
    }
    h.raw("\n");
    if let Some(error) = shown(&view.error) {
        h.raw("<div class=\"card error\" role=\"alert\"><p>").text(error).raw("</p></div>");
    }
    // Blank lines where the page's earlier template had block tags: the
    // markup is byte for byte what it was.
    h.raw("\n<section class=\"card\" aria-labelledby=\"owed\">\n\n");
    if view.settled {
        h.raw("<h2 id=\"owed\">").text(t.settled_title).raw("</h2>\n<p class=\"balance\">").text(&view.balance);
        h.raw("</p>\n<p>").text(t.settled_text).raw("</p>\n");
    } else {
        h.raw("<h2 id=\"owed\">").text(t.balance_due).raw("</h2>\n<p class=\"balance\">").text(&view.balance).raw("</p>\n");
        if view.days_past_due > 0 {
            h.raw("<p class=\"late\">").text(&late_text(view.lang, view.days_past_due)).raw("</p>");
        }
        h.raw("\n");
        if !view.charges.is_empty() {
            h.raw("\n<table>\n<caption class=\"hint\">").text(t.made_up).raw("</caption>\n<thead><tr><th scope=\"col\">").text(t.charge_due);
            h.raw("</th><th scope=\"col\" class=\"amt\">").text(t.owed).raw("</th></tr></thead>\n<tbody>\n");
            for c in &view.charges {
                h.raw("<tr><td>").text(&c.due);
                if c.overdue {
                    h.raw(" (").text(t.overdue).raw(")");
                }
                h.raw("</td><td class=\"amt\">");
                match shown(&c.open) {
                    Some(open) => h.text(open).raw(" <span class=\"hint\">").text(t.of).raw(" ").text(&c.amount).raw("</span>"),
                    None => h.text(&c.amount),
                };
                h.raw("</td></tr>\n");
            }
            h.raw("</tbody>\n</table>\n");
        }
        h.raw("\n");
    }
    h.raw("\n</section>\n");
    if !view.settled {
        h.raw("\n");
        if view.stop {
            h.raw("\n<section class=\"card\" aria-labelledby=\"stop\">\n<h2 id=\"stop\">").text(t.stop_title).raw("</h2>\n<p>").text(t.please_call).raw(" ");
            match shown(&view.office_contact) {
                Some(contact) => h.text(contact),
                None => h.text(&t.office_of.replace("{facility}", &view.facility)),
            };
            h.raw(" ").text(t.to_arrange).raw("</p>\n</section>\n");
        } else {
            h.raw("\n");
            if let Some(p) = &view.promise {
                h.raw("\n<section class=\"card\" aria-labelledby=\"promised\">\n<h2 id=\"promised\">").text(t.your_promise).raw("</h2>\n<p>");
                h.text(t.you_promised).raw(" ").text(&p.amount).raw(" ").text(t.by).raw(" ").text(&p.date).raw(". ").text(t.paused);
                h.raw("</p>\n</section>\n");
            }
            h.raw("\n<section class=\"card\" aria-labelledby=\"pay\">\n<h2 id=\"pay\">").text(t.pay_now).raw("</h2>\n<form method=\"post\" action=\"");
            h.text(&view.checkout_action).raw("\">\n<button type=\"submit\" class=\"pay\">").text(t.pay).raw(" ").text(&view.balance);
            h.raw("</button>\n</form>\n<p class=\"hint\">").text(t.securely).raw("</p>\n</section>\n");
            h.raw("<section class=\"card\" aria-labelledby=\"promise\">\n<h2 id=\"promise\">").text(t.cant_pay).raw("</h2>\n<form method=\"post\" action=\"");
            h.text(&view.promise_action).raw("\">\n<label for=\"promise-date\">").text(t.date_label).raw("</label>\n");
            h.raw("<input id=\"promise-date\" name=\"date\" type=\"date\" required min=\"").text(&view.min_date).raw("\" max=\"").text(&view.max_date);
            h.raw("\" value=\"").text(&view.form_date).raw("\" aria-describedby=\"date-hint\">\n<p class=\"hint\" id=\"date-hint\">");
            h.text(t.latest_before).raw(" ").text(&view.max_date_text).text(t.latest_after).raw("</p>\n<label for=\"promise-amount\">").text(t.amount_label);
            h.raw("</label>\n<input id=\"promise-amount\" name=\"amount\" type=\"text\" inputmode=\"decimal\" autocomplete=\"off\" placeholder=\"");
            h.text(&view.balance).raw("\" value=\"").text(&view.form_amount).raw("\" aria-describedby=\"amount-hint\">\n<p class=\"hint\" id=\"amount-hint\">");
            h.text(t.amount_hint).raw("</p>\n<button type=\"submit\" class=\"secondary\">").text(t.promise_button).raw("</button>\n</form>\n</section>\n");
        }
        h.raw("\n");
    }
    h.raw("\n");
    h.end()
}

/// The one page every invalid, expired or unknown link gets, in English.
pub fn render_invalid() -> String {
    render_invalid_in(Language::En)
}

/// The invalid-link page in `lang` (a link that resolves to nobody has no
/// tenant language: the `?lang=` of the request, else English).
pub fn render_invalid_in(lang: Language) -> String {
    let (title, text) = match lang {
        Language::En => ("Link not valid", "This payment link is not valid or has expired. Please use the link in your latest message, or call the office."),
        Language::Es => ("Enlace no válido", "Este enlace de pago no es válido o ya venció. Use el enlace de su mensaje más reciente o llame a la oficina."),
        Language::Fr => ("Lien non valide", "Ce lien de paiement n'est pas valide ou a expiré. Utilisez le lien de votre dernier message ou appelez le bureau."),
    };
    render_message_in(lang, title, text, None)
}

/// A short English message page (`back`: a link to the account page).
pub fn render_message(title: &str, text: &str, back: Option<&str>) -> String {
    render_message_in(Language::En, title, text, back)
}

/// A short message page in `lang`.
pub fn render_message_in(lang: Language, title: &str, text: &str, back: Option<&str>) -> String {
    let back_text = match lang {
        Language::En => "Back to your account",
        Language::Es => "Volver a su cuenta",
        Language::Fr => "Retour à votre compte",
    };
    let mut h = Html::new();
    h.head(lang, &[title]).raw("<h1>").text(title).raw("</h1>\n<div class=\"card\"><p>").text(text).raw("</p>");
    if let Some(back) = back.filter(|b| !b.is_empty()) {
        h.raw("<p><a href=\"").text(back).raw("\">").text(back_text).raw("</a></p>");
    }
    h.raw("</div>\n");
    h.end()
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
        let html = render_page(&view());
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
        let html = render_page(&v);
        assert!(html.contains("Online payment is not accepted for this account"));
        assert!(html.contains("Please call 617-555-0123"));
        assert!(!html.contains("<form"));
        // Without a HELP contact, the office is named as each language says it.
        v.office_contact = None;
        let html = render_page(&v);
        assert!(html.contains("Please call the Maple &lt;Court&gt; office to arrange payment."), "{html}");
        let mut v = view();
        v.settled = true;
        v.balance = "$0.00".into();
        let html = render_page(&v);
        assert!(html.contains("Your balance is settled"));
        assert!(!html.contains("<form"));
        assert!(render_invalid().contains("Link not valid"));
    }

    #[test]
    fn spanish_and_french_pages() {
        let mut v = view();
        v.lang = Language::Fr;
        v.balance = "1 200,00 $".into();
        v.switch = vec![("English".into(), "?lang=en".into(), "en".into())];
        let html = render_page(&v);
        assert!(html.contains(r#"<html lang="fr">"#));
        assert!(html.contains("Payer 1 200,00 $") && html.contains("12 jours de retard"), "{html}");
        assert!(html.contains(r#"href="?lang=en""#));
        v.lang = Language::Es;
        let html = render_page(&v);
        assert!(html.contains(r#"<html lang="es">"#) && html.contains("12 días de atraso"));
        assert!(html.len() < 8 * 1024, "{} bytes", html.len());
        let bad = render_invalid_in(Language::Es);
        assert!(bad.contains("Enlace no válido") && bad.contains(r#"lang="es""#));
    }

    #[test]
    fn every_value_is_escaped_for_text_and_attributes() {
        let mut h = Html::new();
        h.raw("<p title=\"").text("a\"b").raw("\">").text("<b>Tom & Jerry's</b>").raw("</p>");
        assert_eq!(h.0, "<p title=\"a&quot;b\">&lt;b&gt;Tom &amp; Jerry&#x27;s&lt;&#x2f;b&gt;</p>");
        let html = render_message("A <b>", "x", Some("/pay/t?lang=es&paid=1"));
        assert!(html.contains("<title>A &lt;b&gt;</title>") && html.contains(r#"<a href="&#x2f;pay&#x2f;t?lang=es&amp;paid=1">Back to your account</a>"#), "{html}");
        assert!(html.ends_with("</html>"), "{html}");
    }

    #[test]
    fn empty_optional_texts_are_left_out() {
        let mut v = view();
        v.tenant_name = String::new();
        v.unit = Some(String::new());
        v.notice = Some(String::new());
        let html = render_page(&v);
        assert!(html.contains(r#"<p class="unit"></p>"#), "{html}");
        assert!(!html.contains("card notice"), "{html}");
        v.unit = Some("4B".into());
        assert!(render_page(&v).contains(r#"<p class="unit">Unit 4B</p>"#));
        assert!(!render_message("T", "x", Some("")).contains("<a href"));
    }

    #[test]
    fn dates_read_naturally() {
        assert_eq!(long_date(chrono::NaiveDate::from_ymd_opt(2024, 6, 7).unwrap()), "June 7, 2024");
    }
}

