//! The tenant's payment page: small, fast, accessible, mobile first, no
//! external assets and no JavaScript (forms post and redirect).

use crate::base::error::Result;
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
    /// The unit.
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
.notice{background:#e7f4e8;border-color:#7bb07f}.error{background:#fdecea;border-color:#d9827a}\
:focus-visible{outline:3px solid #f0a500;outline-offset:2px}";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>{{ facility }}: your account</title>
<link rel="icon" href="data:,">
<style>{{ style|safe }}</style>
</head>
<body>
<main>
<h1>{{ facility }}</h1>
<p class="unit">{% if tenant_name %}Account of {{ tenant_name }}{% if unit %}, unit {{ unit }}{% endif %}{% elif unit %}Unit {{ unit }}{% endif %}</p>
{% if notice %}<div class="card notice" role="status"><p>{{ notice }}</p></div>{% endif %}
{% if error %}<div class="card error" role="alert"><p>{{ error }}</p></div>{% endif %}
<section class="card" aria-labelledby="owed">
{% if settled %}
<h2 id="owed">Your balance is settled</h2>
<p class="balance">{{ balance }}</p>
<p>Nothing is owed on this account. Thank you.</p>
{% else %}
<h2 id="owed">Balance due</h2>
<p class="balance">{{ balance }}</p>
{% if days_past_due > 0 %}<p class="late">{{ days_past_due }} day{% if days_past_due != 1 %}s{% endif %} past due</p>{% endif %}
{% if charges %}
<table>
<caption class="hint">How the balance is made up</caption>
<thead><tr><th scope="col">Charge due</th><th scope="col" class="amt">Owed</th></tr></thead>
<tbody>
{% for c in charges %}<tr><td>{{ c.due }}{% if c.overdue %} (overdue){% endif %}</td><td class="amt">{% if c.open %}{{ c.open }} <span class="hint">of {{ c.amount }}</span>{% else %}{{ c.amount }}{% endif %}</td></tr>
{% endfor %}</tbody>
</table>
{% endif %}
{% endif %}
</section>
{% if not settled %}
{% if stop %}
<section class="card" aria-labelledby="stop">
<h2 id="stop">Online payment is not accepted for this account</h2>
<p>Please call {% if office_contact %}{{ office_contact }}{% else %}the {{ facility }} office{% endif %} to arrange payment.</p>
</section>
{% else %}
{% if promise %}
<section class="card" aria-labelledby="promised">
<h2 id="promised">Your promise to pay</h2>
<p>You promised to pay {{ promise.amount }} by {{ promise.date }}. Reminders are paused until then.</p>
</section>
{% endif %}
<section class="card" aria-labelledby="pay">
<h2 id="pay">Pay now</h2>
<form method="post" action="{{ checkout_action }}">
<button type="submit" class="pay">Pay {{ balance }}</button>
</form>
<p class="hint">You will pay securely with our payment provider.</p>
</section>
<section class="card" aria-labelledby="promise">
<h2 id="promise">Can't pay today? Promise to pay</h2>
<form method="post" action="{{ promise_action }}">
<label for="promise-date">Date you will pay</label>
<input id="promise-date" name="date" type="date" required min="{{ min_date }}" max="{{ max_date }}" value="{{ form_date }}" aria-describedby="date-hint">
<p class="hint" id="date-hint">By {{ max_date_text }} at the latest.</p>
<label for="promise-amount">Amount (optional)</label>
<input id="promise-amount" name="amount" type="text" inputmode="decimal" autocomplete="off" placeholder="{{ balance }}" value="{{ form_amount }}" aria-describedby="amount-hint">
<p class="hint" id="amount-hint">Leave empty to promise the whole balance.</p>
<button type="submit" class="secondary">Promise to pay</button>
</form>
</section>
{% endif %}
{% endif %}
</main>
</body>
</html>
"#;

const MESSAGE: &str = r#"<!doctype html>
<html lang="en">
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
<div class="card"><p>{{ text }}</p>{% if back %}<p><a href="{{ back }}">Back to your account</a></p>{% endif %}</div>
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

/// The account page.
pub fn render_page(view: &PageView) -> Result<String> {
    let mut ctx = serde_json::to_value(view).map_err(|e| crate::base::error::Error::Corrupt(e.to_string()))?;
    if let Some(m) = ctx.as_object_mut() {
        m.insert("style".into(), STYLE.into());
    }
    render("pay.html", PAGE, minijinja::Value::from(minijinja::value::Serde(ctx)))
}

/// The one page every invalid, expired or unknown link gets.
pub fn render_invalid() -> Result<String> {
    render_message(
        "Link not valid",
        "This payment link is not valid or has expired. Please use the link in your latest message, or call the office.",
        None,
    )
}

/// A short message page (`back`: a link to the account page).
pub fn render_message(title: &str, text: &str, back: Option<&str>) -> Result<String> {
    render("message.html", MESSAGE, minijinja::context! { style => STYLE, title => title, text => text, back => back })
}

/// `June 7, 2024`.
pub fn long_date(d: chrono::NaiveDate) -> String {
    d.format("%B %-d, %Y").to_string()
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
        let mut v = view();
        v.settled = true;
        v.balance = "$0.00".into();
        let html = render_page(&v).unwrap();
        assert!(html.contains("Your balance is settled"));
        assert!(!html.contains("<form"));
        assert!(render_invalid().unwrap().contains("Link not valid"));
    }

    #[test]
    fn dates_read_naturally() {
        assert_eq!(long_date(chrono::NaiveDate::from_ymd_opt(2024, 6, 7).unwrap()), "June 7, 2024");
    }
}
