//! Reports: what the automation did, per property and date range, from the
//! outbox, the contact log, inbound messages, exclusion events and the
//! ledger. As JSON ([`Report`]), CSV ([`to_csv`]) and a server-rendered SVG
//! bar chart ([`to_svg`], no external assets).
//!
//! The range is `from`..=`to` in UTC calendar days (timestamps are stored
//! in UTC; ledger dates are the AR system's dates). Each figure counts the
//! events that happened in the range:
//! - `queued`: outbox rows (notices and supplemental messages) created;
//! - `sent`: rows the provider accepted; `delivered`: of those, texts whose
//!   delivery the carrier confirmed (email providers send no callback here);
//! - `blocked`: rows compliance blocked (decided in the range), and
//!   `blocked_by_reason`: per rule name (a row blocked by two rules counts
//!   under both);
//! - `failed`: rows that failed for good;
//! - `replies`: free-text replies from the property's tenants' numbers;
//! - `opt_outs`: customer opt-outs (texted STOP or email unsubscribe) of
//!   addresses on the property's tenants;
//! - `links_opened`: payment-link opens (`link_opens`);
//! - `promises`: promises to pay made (link or call); `promises_kept` /
//!   `promises_broken`: promises settled as kept or broken in the range;
//! - `payments_after_notice` / `_cents`: ledger payments dated in the range
//!   made within 30 days after a message was sent to the tenant.
//!
//! Each event counts under the property (and language) its tenant had
//! when the event was recorded: the writers keep these figures per day as
//! they write (see the schema's `report_days`), so a tenant who moves to
//! another property leaves their history with the old one, and a payment
//! counts after notice whether it reaches the ledger before or after the
//! message's send is recorded.
//!
//! Money is never added across currencies. Each property row carries its
//! property's `currency`, and `payments_after_notice_cents_by_currency`
//! splits the cents by ISO code (`{"USD": ..., "CAD": ...}`) on every row
//! and in the totals. `payments_after_notice_cents` stays the single figure
//! of a single-currency report; when the report covers properties in more
//! than one currency the totals' figure is `null` (JSON) or empty (CSV),
//! and the CSV adds one `ALL-<code>` totals row per currency.
//!
//! Split by language ([`Breakdown::Language`], `by=language`): the same
//! figures per tenant language (the tenant's own, else the property's:
//! French in Quebec, else English). Each property row lists its languages
//! (`languages`, in the property's currency), and the report lists each
//! language per currency (`languages`: one entry per language and currency,
//! so no entry adds two currencies). Only languages with a figure other
//! than zero are listed. A reply or opt-out from an address shared by
//! tenants of two languages counts under each. The CSV gains a `language`
//! column: after each property row its language rows, and after the totals
//! one `ALL-<code>` row per language and currency.

use crate::base::db::{Db, Row, Value};
use crate::base::error::{Error, Result};
use crate::base::locale::Language;
use crate::base::time;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// Longest range one report covers.
pub const MAX_DAYS: i64 = 366;
/// How long after a message a payment still counts as "after notice".
pub const PAYMENT_WINDOW_DAYS: i64 = 30;

/// What to report on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    /// First day (UTC), inclusive.
    pub from: NaiveDate,
    /// Last day (UTC), inclusive.
    pub to: NaiveDate,
    /// Only this property.
    pub property_id: Option<String>,
    /// Only properties the caller may see.
    pub scope: crate::records::scope::Scope,
    /// A further split of every figure, if any.
    pub by: Option<Breakdown>,
}

/// A further split of the report's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// By the tenant's language.
    Language,
}

impl std::str::FromStr for Breakdown {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "language" => Ok(Breakdown::Language),
            other => Err(format!("by `{other}` is not a split the report knows; use by=language")),
        }
    }
}

impl ReportQuery {
    /// Check the range.
    pub fn validate(&self) -> Result<()> {
        if self.to < self.from {
            return Err(Error::Invalid("`to` is before `from`".into()));
        }
        if (self.to - self.from).num_days() >= MAX_DAYS {
            return Err(Error::Invalid(format!("a report covers at most {MAX_DAYS} days")));
        }
        Ok(())
    }
}

/// The figures of one property (or of all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Messages queued.
    pub queued: i64,
    /// Messages the provider accepted.
    pub sent: i64,
    /// Of those, texts confirmed delivered.
    pub delivered: i64,
    /// Messages compliance blocked.
    pub blocked: i64,
    /// Blocked messages per rule name.
    pub blocked_by_reason: BTreeMap<String, i64>,
    /// Messages that failed for good.
    pub failed: i64,
    /// Free-text replies.
    pub replies: i64,
    /// Customer opt-outs (STOP, unsubscribe).
    pub opt_outs: i64,
    /// Payment-link opens.
    pub links_opened: i64,
    /// Promises to pay made.
    pub promises: i64,
    /// Promises found kept.
    pub promises_kept: i64,
    /// Promises found broken.
    pub promises_broken: i64,
    /// Payments within 30 days after a message.
    pub payments_after_notice: i64,
    /// Their total, in cents; `None` (null) only in totals over more
    /// than one currency, where one figure would add unlike money.
    pub payments_after_notice_cents: Option<i64>,
    /// Their total in cents per currency (ISO code): the one figure to use
    /// when properties bill in different currencies.
    pub payments_after_notice_cents_by_currency: BTreeMap<String, i64>,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.queued += o.queued;
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.blocked += o.blocked;
        for (k, v) in &o.blocked_by_reason {
            *self.blocked_by_reason.entry(k.clone()).or_default() += v;
        }
        self.failed += o.failed;
        self.replies += o.replies;
        self.opt_outs += o.opt_outs;
        self.links_opened += o.links_opened;
        self.promises += o.promises;
        self.promises_kept += o.promises_kept;
        self.promises_broken += o.promises_broken;
        self.payments_after_notice += o.payments_after_notice;
        for (k, v) in &o.payments_after_notice_cents_by_currency {
            *self.payments_after_notice_cents_by_currency.entry(k.clone()).or_default() += v;
        }
        self.payments_after_notice_cents = match (self.payments_after_notice_cents, o.payments_after_notice_cents) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
}

/// One property's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyReport {
    pub property_id: String,
    /// Its name.
    pub property_name: String,
    /// The property's currency (ISO code): its money figures are in it.
    pub currency: String,
    /// The property's own figures, flattened into its row.
    #[serde(flatten)]
    pub counts: Counts,
    /// Split by language (`by=language` only), in the property's currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<LanguageCounts>>,
}

/// One language's figures within a property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanguageCounts {
    pub language: Language,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One language's figures over every property billing in one currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanguageTotals {
    pub language: Language,
    /// The currency (ISO code) of the properties added up here.
    pub currency: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The report over a date range: the totals and one row per property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day, inclusive.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// The property filter, if any.
    pub property_id: Option<String>,
    /// Per property (every property, zeros included), in id order.
    pub properties: Vec<PropertyReport>,
    /// The currencies of the properties covered (ISO codes, sorted); more
    /// than one means the totals' single money figure is null.
    pub currencies: Vec<String>,
    /// All properties together (money split by currency).
    pub totals: Counts,
    /// Split by language and currency (`by=language` only), by language
    /// then currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<LanguageTotals>>,
}

/// `c` as the figures of a property billing in `currency`: the money
/// figure is a number (zero without payments) and split under its code.
fn in_currency(mut c: Counts, currency: &str) -> Counts {
    let cents = c.payments_after_notice_cents.unwrap_or(0);
    c.payments_after_notice_cents = Some(cents);
    c.payments_after_notice_cents_by_currency = BTreeMap::from([(currency.to_owned(), cents)]);
    c
}

/// Build a report.
pub fn build(db: &dyn Db, q: &ReportQuery) -> Result<Report> {
    q.validate()?;
    let prop: Value = q.property_id.as_deref().into();
    let mut by: BTreeMap<String, PropertyReport> = BTreeMap::new();
    for r in db
        .execute("SELECT property_id, name, currency FROM properties WHERE (?1 IS NULL OR property_id = ?1) ORDER BY property_id", std::slice::from_ref(&prop))?
        .iter()
    {
        let id = r.string("property_id")?;
        // Every count below is kept only for properties in this map, and
        // the totals add them up: leaving a property out here leaves it
        // out of the whole report.
        if !q.scope.allows_property(&id) {
            continue;
        }
        let currency = r.opt_string("currency")?.unwrap_or_else(|| crate::base::locale::Currency::default().code().to_owned());
        let counts = Counts {
            payments_after_notice_cents: Some(0),
            payments_after_notice_cents_by_currency: BTreeMap::from([(currency.clone(), 0)]),
            ..Counts::default()
        };
        by.insert(id.clone(), PropertyReport { property_id: id, property_name: r.string("name")?, currency, counts, languages: None });
    }
    if q.property_id.is_some() && by.is_empty() {
        return Err(Error::NotFound(format!("property `{}` not found", q.property_id.as_deref().unwrap_or_default())));
    }
    let split = q.by == Some(Breakdown::Language);
    let figures = figures(db, q, split)?;
    for (id, c) in figures.property {
        if let Some(p) = by.get_mut(&id) {
            p.counts = in_currency(c, &p.currency);
        }
    }
    let mut language_totals: Option<BTreeMap<(Language, String), Counts>> = None;
    if split {
        let mut sums = BTreeMap::new();
        for p in by.values_mut() {
            p.languages = Some(Vec::new());
        }
        for ((id, language), c) in figures.language {
            let Some(p) = by.get_mut(&id) else { continue };
            let counts = in_currency(c, &p.currency);
            if counts == in_currency(Counts::default(), &p.currency) {
                continue;
            }
            sums.entry((language, p.currency.clone())).or_insert_with(zero).add(&counts);
            p.languages.get_or_insert_with(Vec::new).push(LanguageCounts { language, counts });
        }
        language_totals = Some(sums);
    }
    let properties: Vec<PropertyReport> = by.into_values().collect();
    let currencies: Vec<String> = properties.iter().map(|p| p.currency.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut totals = zero();
    for p in &properties {
        totals.add(&p.counts);
    }
    if currencies.len() > 1 {
        totals.payments_after_notice_cents = None;
    }
    Ok(Report {
        from: time::date_string(q.from),
        to: time::date_string(q.to),
        property_id: q.property_id.clone(),
        properties,
        currencies,
        totals,
        languages: language_totals.map(|sums| {
            sums.into_iter().map(|((language, currency), counts)| LanguageTotals { language, currency, counts }).collect()
        }),
    })
}

/// The figures of a report's range: per property, and per property and
/// tenant language when asked for.
struct Figures {
    property: BTreeMap<String, Counts>,
    language: BTreeMap<(String, Language), Counts>,
}

/// Counts with a money figure (zero), so adding to them keeps one.
fn zero() -> Counts {
    Counts { payments_after_notice_cents: Some(0), ..Counts::default() }
}

/// One `report_days` sum row as counts.
fn day_counts(r: &Row<'_>) -> Result<Counts> {
    Ok(Counts {
        queued: r.i64("queued")?,
        sent: r.i64("sent")?,
        delivered: r.i64("delivered")?,
        blocked: r.i64("blocked")?,
        failed: r.i64("failed")?,
        replies: r.i64("replies")?,
        opt_outs: r.i64("opt_outs")?,
        links_opened: r.i64("links_opened")?,
        promises: r.i64("promises")?,
        promises_kept: r.i64("promises_kept")?,
        promises_broken: r.i64("promises_broken")?,
        payments_after_notice: r.i64("payments")?,
        payments_after_notice_cents: Some(r.i64("payment_cents")?),
        ..Counts::default()
    })
}

/// Every figure of the report's range, from the per-day figures the
/// writers keep (`report_days`, `report_day_blocks`), in one read: a month
/// costs one row per property, day and language. The split by language
/// (`split`) comes from the same rows.
fn figures(db: &dyn Db, q: &ReportQuery, split: bool) -> Result<Figures> {
    let mut params: Vec<Value> = vec![time::date_string(q.from).into(), time::date_string(q.to).into()];
    // One property reads its own rows through the property index.
    let (days, blocks, only) = match &q.property_id {
        Some(p) => {
            params.push(p.as_str().into());
            ("report_days INDEXED BY report_days_property", "report_day_blocks INDEXED BY report_day_blocks_property", " AND property_id = ?3")
        }
        None => ("report_days", "report_day_blocks", ""),
    };
    let language_of = |r: &Row<'_>| r.str("language")?.parse::<Language>().map_err(|e| Error::Corrupt(e.to_string()));
    let mut f = Figures { property: BTreeMap::new(), language: BTreeMap::new() };
    let rows = db.execute(
        &format!(
            "SELECT property_id, language, sum(queued) AS queued, sum(sent) AS sent, sum(delivered) AS delivered, sum(blocked) AS blocked,
                    sum(failed) AS failed, sum(replies) AS replies, sum(opt_outs) AS opt_outs, sum(links_opened) AS links_opened,
                    sum(promises) AS promises, sum(promises_kept) AS promises_kept, sum(promises_broken) AS promises_broken,
                    sum(payments) AS payments, sum(payment_cents) AS payment_cents
             FROM {days} WHERE day >= ?1 AND day <= ?2{only} GROUP BY property_id, language"
        ),
        &params,
    )?;
    for r in rows.iter() {
        let property = r.string("property_id")?;
        let c = day_counts(&r)?;
        let whole = f.property.entry(property.clone()).or_insert_with(zero);
        // Language `*` rows hold the property's replies and opt-outs, once
        // per message; a language's own rows hold everything else, and its
        // replies and opt-outs for the split.
        if r.str("language")? == "*" {
            whole.replies += c.replies;
            whole.opt_outs += c.opt_outs;
            continue;
        }
        whole.add(&Counts { replies: 0, opt_outs: 0, ..c.clone() });
        if split {
            f.language.entry((property, language_of(&r)?)).or_insert_with(zero).add(&c);
        }
    }
    let rules = db.execute(
        &format!("SELECT property_id, language, rule, sum(n) AS n FROM {blocks} WHERE day >= ?1 AND day <= ?2{only} GROUP BY property_id, language, rule"),
        &params,
    )?;
    for r in rules.iter() {
        let n = r.i64("n")?;
        if n == 0 {
            continue;
        }
        let (property, rule) = (r.string("property_id")?, r.string("rule")?);
        *f.property.entry(property.clone()).or_insert_with(zero).blocked_by_reason.entry(rule.clone()).or_default() += n;
        if split {
            *f.language.entry((property, language_of(&r)?)).or_insert_with(zero).blocked_by_reason.entry(rule).or_default() += n;
        }
    }
    Ok(f)
}

/// The column a report split by language adds after [`CSV_COLUMNS`].
pub const CSV_LANGUAGE_COLUMN: &str = "language";

/// CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "property_id",
    "property_name",
    "from",
    "to",
    "queued",
    "sent",
    "delivered",
    "blocked",
    "failed",
    "replies",
    "opt_outs",
    "links_opened",
    "promises",
    "promises_kept",
    "promises_broken",
    "payments_after_notice",
    "payments_after_notice_cents",
    "blocked_by_reason",
    "currency",
];

fn csv_row(id: &str, name: &str, r: &Report, c: &Counts, currency: &str) -> Vec<String> {
    let reasons: Vec<String> = c.blocked_by_reason.iter().map(|(k, v)| format!("{k}={v}")).collect();
    vec![
        id.to_owned(),
        name.to_owned(),
        r.from.clone(),
        r.to.clone(),
        c.queued.to_string(),
        c.sent.to_string(),
        c.delivered.to_string(),
        c.blocked.to_string(),
        c.failed.to_string(),
        c.replies.to_string(),
        c.opt_outs.to_string(),
        c.links_opened.to_string(),
        c.promises.to_string(),
        c.promises_kept.to_string(),
        c.promises_broken.to_string(),
        c.payments_after_notice.to_string(),
        c.payments_after_notice_cents.map(|n| n.to_string()).unwrap_or_default(),
        reasons.join("; "),
        currency.to_owned(),
    ]
}

/// Neutralise cells a spreadsheet would run as a formula.
fn cell(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

/// The report as CSV: a header, one row per property, then a row with
/// property_id `ALL` for the totals (see the module docs for the rows a
/// second currency or the language split adds).
pub fn to_csv(r: &Report) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Corrupt(format!("writing CSV: {e}"));
    // Split by language: one more column, empty on the unsplit rows.
    let split = r.languages.is_some();
    let mut header = CSV_COLUMNS.to_vec();
    if split {
        header.push(CSV_LANGUAGE_COLUMN);
    }
    w.write_record(&header).map_err(err)?;
    let mut write = |mut row: Vec<String>, language: Option<Language>| {
        if split {
            row.push(language.map(Language::as_str).unwrap_or_default().to_owned());
        }
        w.write_record(row.into_iter().map(cell)).map_err(err)
    };
    for p in &r.properties {
        write(csv_row(&p.property_id, &p.property_name, r, &p.counts, &p.currency), None)?;
        for l in p.languages.iter().flatten() {
            write(csv_row(&p.property_id, &p.property_name, r, &l.counts, &p.currency), Some(l.language))?;
        }
    }
    let single = if r.currencies.len() == 1 { r.currencies[0].as_str() } else { "" };
    write(csv_row("ALL", "All properties", r, &r.totals, single), None)?;
    if r.currencies.len() > 1 {
        // One totals row per currency: its money figures and its counts.
        for code in &r.currencies {
            let mut t = zero();
            for p in r.properties.iter().filter(|p| &p.currency == code) {
                t.add(&p.counts);
            }
            write(csv_row(&format!("ALL-{code}"), &format!("All {code} properties"), r, &t, code), None)?;
        }
    }
    for l in r.languages.iter().flatten() {
        write(csv_row(&format!("ALL-{}", l.currency), &format!("All {} properties", l.currency), r, &l.counts, &l.currency), Some(l.language))?;
    }
    w.into_inner().map_err(|e| Error::Corrupt(format!("writing CSV: {e}")))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The totals as a horizontal bar chart (SVG, self-contained: no scripts,
/// no external fonts or images), with the blocked reasons below.
pub fn to_svg(r: &Report) -> String {
    let t = &r.totals;
    let mut bars: Vec<(String, i64)> = vec![
        ("Queued".into(), t.queued),
        ("Sent".into(), t.sent),
        ("Delivered".into(), t.delivered),
        ("Blocked".into(), t.blocked),
        ("Failed".into(), t.failed),
        ("Replies".into(), t.replies),
        ("Opt-outs".into(), t.opt_outs),
        ("Payment links opened".into(), t.links_opened),
        ("Promises made".into(), t.promises),
        ("Promises kept".into(), t.promises_kept),
        ("Promises broken".into(), t.promises_broken),
        ("Payments after notice".into(), t.payments_after_notice),
    ];
    for (rule, n) in &t.blocked_by_reason {
        bars.push((format!("Blocked: {rule}"), *n));
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h, top) = (260, 360, 26, 40);
    let width = label_w + bar_w + 70;
    let height = top + row_h * bars.len() as i64 + 10;
    let scope = match &r.property_id {
        Some(p) => format!("property {p}"),
        None => "all properties".into(),
    };
    let title = format!("Messages and outcomes, {} to {}, {}", r.from, r.to, scope);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"chart-title\" font-family=\"system-ui, sans-serif\" font-size=\"13\">\n<title id=\"chart-title\">{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<text x=\"8\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"#1a1a1a\">{}</text>\n",
        escape(&title),
        escape(&title)
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = top + row_h * i as i64;
        let w = (n * bar_w) / max;
        let fill = if label.starts_with("Blocked") { "#b3261e" } else { "#1f5fa8" };
        s.push_str(&format!(
            "<g><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#1a1a1a\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"><title>{}: {n}</title></rect><text x=\"{}\" y=\"{}\" fill=\"#1a1a1a\">{n}</text></g>\n",
            label_w - 8,
            y + 17,
            escape(label),
            label_w,
            y + 4,
            w,
            row_h - 8,
            escape(label),
            label_w + w + 6,
            y + 17,
        ));
    }
    s.push_str("</svg>\n");
    s
}
