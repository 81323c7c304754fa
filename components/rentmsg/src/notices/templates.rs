//! Notice templates (`notice_templates`, one per stage, channel and
//! language), rendered with minijinja, and SMS segment measurement.
//!
//! A tenant gets the template in their language ([`find`]); when there is
//! none, the one in their property's language, then the English one. The
//! shipped defaults exist in English, Spanish and French, and each default
//! text fits one GSM-7 segment with a 30-character `public_base_url`.
//!
//! Variables: `tenant_name`, `unit` (may be empty), `facility`, `balance`
//! (formatted for the language and the property's currency: `$1,234.56`,
//! `1 234,56 $`), `balance_cents`, `days_past_due`, `due_date` (oldest unpaid
//! charge, `YYYY-MM-DD`, read the same in every language), `stage`, `payment_link`, `opt_out`
//! (texts: "Reply STOP to opt out." in the language; emails: the
//! unsubscribe sentence with its link) and, in emails, `unsubscribe_url`.
//! An unknown variable is an error, found when the template is saved.
//!
//! Every text and email carries the opt-out line: a template must print
//! `opt_out` (checked on save), and a rendered message that still lacks it
//! (a condition hid it) gets it appended. Texts are measured, never cut:
//! GSM-7 (160 septets in one segment, 153 per segment beyond; the extension
//! characters take two) or UCS-2 as soon as one character is outside GSM-7
//! (70 / 67 UTF-16 units). A text longer than the provider's 1,600
//! characters is refused, not truncated.

use crate::records::audit;
use crate::base::channel::Channel;
use crate::base::db::{self, Db, Row};
use crate::base::locale::{Currency, Language};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Longest SMS body the provider takes (Twilio: 1,600 characters).
pub const MAX_SMS_CHARS: usize = 1600;
/// Longest template source accepted.
pub const MAX_TEMPLATE_CHARS: usize = 20_000;
/// The opt-out line of every English text.
pub const SMS_OPT_OUT: &str = "Reply STOP to opt out.";

/// The opt-out line of a text in `lang`. Each names a keyword of that
/// language the product honours; the French one writes ARRET without its
/// circumflex because Ê is not in GSM-7 (both spellings are keywords), and
/// the Spanish one uses the carriers' usual "cancelar".
pub fn sms_opt_out(lang: Language) -> &'static str {
    match lang {
        Language::En => SMS_OPT_OUT,
        Language::Es => "Responda PARAR para cancelar.",
        Language::Fr => "Répondez ARRET pour vous désabonner.",
    }
}

/// The opt-out line of an English message on `channel`.
pub fn opt_out_line(channel: Channel, unsubscribe_url: Option<&str>) -> String {
    opt_out_line_in(channel, Language::En, unsubscribe_url)
}

/// The opt-out line of a message on `channel` in `lang`.
pub fn opt_out_line_in(channel: Channel, lang: Language, unsubscribe_url: Option<&str>) -> String {
    let url = unsubscribe_url.unwrap_or("(unsubscribe link)");
    match (channel, lang) {
        (Channel::Email, Language::En) => format!("To stop receiving these emails, unsubscribe here: {url}"),
        (Channel::Email, Language::Es) => format!("Para dejar de recibir estos correos, cancele la suscripción aquí: {url}"),
        (Channel::Email, Language::Fr) => format!("Pour ne plus recevoir ces courriels, désabonnez-vous ici : {url}"),
        _ => sms_opt_out(lang).to_owned(),
    }
}

/// What a template can print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderContext {
    /// Tenant's name.
    pub tenant_name: String,
    /// Unit label (empty when none).
    pub unit: String,
    /// Facility (property) name.
    pub facility: String,
    /// Balance in cents.
    pub balance_cents: i64,
    /// Balance as `$1,234.56`.
    pub balance: String,
    pub days_past_due: i64,
    /// Oldest unpaid due date (`YYYY-MM-DD`, empty when none).
    pub due_date: String,
    /// Notice stage (0 for supplemental messages).
    pub stage: i64,
    /// The personal payment link.
    pub payment_link: String,
    /// The unsubscribe link (emails; empty for texts).
    pub unsubscribe_url: String,
    /// The opt-out line for the channel.
    pub opt_out: String,
}

impl RenderContext {
    /// A context for previews and checks (no real tenant), in English.
    pub fn sample(channel: Channel) -> Self {
        Self::sample_in(channel, Language::En, Currency::Usd)
    }

    /// A context for previews and checks in `lang` and `currency`.
    pub fn sample_in(channel: Channel, lang: Language, currency: Currency) -> Self {
        let unsubscribe_url = if channel == Channel::Email {
            "https://example.invalid/unsubscribe/SAMPLE-TOKEN-0123456789abcdefghijklmnopq".to_owned()
        } else {
            String::new()
        };
        RenderContext {
            tenant_name: "Pat Smith".into(),
            unit: "1A".into(),
            facility: "Maple Court Storage".into(),
            balance_cents: 123_456,
            balance: crate::base::money::format_amount(123_456, lang, currency),
            days_past_due: 12,
            due_date: "2024-03-01".into(),
            stage: 3,
            payment_link: "https://example.invalid/pay/SAMPLE-TOKEN-0123456789abcdefghijklmnopqrs".into(),
            opt_out: opt_out_line_in(channel, lang, Some(&unsubscribe_url)),
            unsubscribe_url,
        }
    }
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The source does not parse or names an unknown variable.
    #[error("template error: {0}")]
    Syntax(String),
    /// The template would never print the opt-out line.
    #[error("the {0} template must print the opt-out line: add {{{{ opt_out }}}}")]
    NoOptOut(&'static str),
    /// Too long.
    #[error("{0}")]
    TooLong(String),
    /// Empty after rendering.
    #[error("the {0} renders empty")]
    Empty(&'static str),
}

/// How a text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// GSM 03.38 7-bit default alphabet (with its extension table).
    Gsm7,
    /// UCS-2 (UTF-16 code units).
    Ucs2,
}

impl Encoding {
    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm-7",
            Encoding::Ucs2 => "ucs-2",
        }
    }
}

/// A text's size on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Measure {
    /// GSM-7 or UCS-2.
    pub encoding: Encoding,
    /// Characters (Unicode scalar values).
    pub characters: usize,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Message segments.
    pub segments: usize,
}

/// GSM 03.38 default alphabet, without the escape code.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (each takes an escape plus itself: two septets).
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character takes in GSM-7, None when it has none.
fn gsm_septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Count segments: characters of `sizes` fill segments of `per` units, and
/// a character never straddles two segments.
fn segments(sizes: impl Iterator<Item = usize>, total: usize, single: usize, per: usize) -> usize {
    if total <= single {
        return 1;
    }
    let mut count = 1;
    let mut used = 0;
    for s in sizes {
        if used + s > per {
            count += 1;
            used = 0;
        }
        used += s;
    }
    count
}

/// Measure a text as the carrier will send it.
fn measure_sms(text: &str) -> Measure {
    let characters = text.chars().count();
    let gsm: Option<Vec<usize>> = text.chars().map(gsm_septets).collect();
    match gsm {
        Some(sizes) => {
            let units: usize = sizes.iter().sum();
            Measure { encoding: Encoding::Gsm7, characters, units, segments: segments(sizes.into_iter(), units, 160, 153) }
        }
        None => {
            let sizes: Vec<usize> = text.chars().map(char::len_utf16).collect();
            let units: usize = sizes.iter().sum();
            Measure { encoding: Encoding::Ucs2, characters, units, segments: segments(sizes.into_iter(), units, 70, 67) }
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rendered {
    /// Email subject (None for texts).
    pub subject: Option<String>,
    /// The body, opt-out line included.
    pub body: String,
    /// Texts: encoding and segments.
    pub measure: Option<Measure>,
    /// The opt-out line was missing from the rendering and was appended.
    pub opt_out_appended: bool,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Unknown variables fail (found on save); `{% if unit %}` still works.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env
}

fn render_one(env: &Environment<'_>, source: &str, ctx: &RenderContext) -> std::result::Result<String, TemplateError> {
    let tmpl = env.template_from_str(source).map_err(|e| TemplateError::Syntax(describe(&e)))?;
    tmpl.render(minijinja::value::Serde(ctx)).map_err(|e| TemplateError::Syntax(describe(&e)))
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    if let Some(detail) = e.detail() {
        if !s.contains(detail) {
            s.push_str(": ");
            s.push_str(detail);
        }
    }
    s
}

/// Render a message for `channel` (subject for emails). The opt-out line is
/// appended if the rendering lacks it; texts are measured and refused past
/// [`MAX_SMS_CHARS`].
pub fn render(
    channel: Channel,
    subject: Option<&str>,
    body: &str,
    ctx: &RenderContext,
) -> std::result::Result<Rendered, TemplateError> {
    let env = environment();
    let subject = match (channel, subject) {
        (Channel::Email, Some(s)) => {
            // Headers are one line.
            let text = render_one(&env, s, ctx)?.split_whitespace().collect::<Vec<_>>().join(" ");
            if text.is_empty() {
                return Err(TemplateError::Empty("subject"));
            }
            Some(text)
        }
        (Channel::Email, None) => return Err(TemplateError::Empty("subject")),
        _ => None,
    };
    let mut text = render_one(&env, body, ctx)?.trim().to_owned();
    if text.is_empty() {
        return Err(TemplateError::Empty("body"));
    }
    let opt_out_appended = !text.contains(&ctx.opt_out);
    if opt_out_appended {
        text.push_str(if channel == Channel::Email { "\n\n" } else { " " });
        text.push_str(&ctx.opt_out);
    }
    let measure = (channel == Channel::Text).then(|| measure_sms(&text));
    if let Some(m) = measure {
        if m.characters > MAX_SMS_CHARS {
            return Err(TemplateError::TooLong(format!(
                "the text is {} characters; the provider takes at most {MAX_SMS_CHARS} (nothing is cut: shorten the template)",
                m.characters
            )));
        }
    }
    Ok(Rendered { subject, body: text, measure, opt_out_appended })
}

/// Check a template before it is stored: it parses, names only known
/// variables, prints the opt-out line, and fits. Returns a sample rendering.
pub fn check(channel: Channel, subject: Option<&str>, body: &str) -> std::result::Result<Rendered, TemplateError> {
    check_in(channel, Language::En, subject, body)
}

/// [`check`] with a sample in `lang` (its usual currency: CAD for French).
pub fn check_in(channel: Channel, lang: Language, subject: Option<&str>, body: &str) -> std::result::Result<Rendered, TemplateError> {
    if body.chars().count() > MAX_TEMPLATE_CHARS || subject.is_some_and(|s| s.chars().count() > 1000) {
        return Err(TemplateError::TooLong(format!("templates are at most {MAX_TEMPLATE_CHARS} characters")));
    }
    let currency = if lang == Language::Fr { Currency::Cad } else { Currency::Usd };
    let ctx = RenderContext::sample_in(channel, lang, currency);
    let rendered = render(channel, subject, body, &ctx)?;
    if rendered.opt_out_appended {
        return Err(TemplateError::NoOptOut(if channel == Channel::Email { "email" } else { "text" }));
    }
    Ok(rendered)
}

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    /// Notice stage.
    pub stage: i64,
    /// Text or email.
    pub channel: Channel,
    /// The language it is written in.
    pub language: Language,
    /// Email subject template (None for texts).
    pub subject: Option<String>,
    /// Body template.
    pub body: String,
    /// Who last changed it.
    pub updated_by: String,
    /// When.
    pub updated_at: String,
}

fn from_row(r: Row<'_>) -> Result<Template> {
    Ok(Template {
        stage: r.i64("stage")?,
        channel: r.str("channel")?.parse().map_err(Error::Corrupt)?,
        language: r.str("language")?.parse().map_err(|e: crate::base::locale::LanguageError| Error::Corrupt(e.to_string()))?,
        subject: r.opt_string("subject")?,
        body: r.string("body")?,
        updated_by: r.string("updated_by")?,
        updated_at: r.string("updated_at")?,
    })
}

/// Every template, by stage, channel, then language (English first).
pub fn list(db: &dyn Db) -> Result<Vec<Template>> {
    let rows = db.execute(
        "SELECT stage, channel, language, subject, body, updated_by, updated_at FROM notice_templates
         ORDER BY stage, channel DESC, CASE language WHEN 'en' THEN 0 WHEN 'es' THEN 1 ELSE 2 END",
        &[],
    )?;
    rows.iter().map(from_row).collect()
}

/// The English template of a stage and channel.
pub fn get(db: &dyn Db, stage: i64, channel: Channel) -> Result<Option<Template>> {
    get_in(db, stage, channel, Language::En)
}

/// One template in exactly `lang`.
pub fn get_in(db: &dyn Db, stage: i64, channel: Channel, lang: Language) -> Result<Option<Template>> {
    let rows = db.execute(
        "SELECT stage, channel, language, subject, body, updated_by, updated_at FROM notice_templates
         WHERE stage = ? AND channel = ? AND language = ?",
        &[stage.into(), channel.as_str().into(), lang.as_str().into()],
    )?;
    rows.first().map(from_row).transpose()
}

/// The template a reader of `reader` at a property speaking `property`
/// gets: theirs, else the property's language, else English.
pub fn find(db: &dyn Db, stage: i64, channel: Channel, reader: Language, property: Language) -> Result<Option<Template>> {
    let rows = db.execute(
        "SELECT stage, channel, language, subject, body, updated_by, updated_at FROM notice_templates
         WHERE stage = ? AND channel = ? AND language IN (?, ?, 'en')
         ORDER BY CASE language WHEN ? THEN 0 WHEN ? THEN 1 ELSE 2 END LIMIT 1",
        &[
            stage.into(),
            channel.as_str().into(),
            reader.as_str().into(),
            property.as_str().into(),
            reader.as_str().into(),
            property.as_str().into(),
        ],
    )?;
    rows.first().map(from_row).transpose()
}

/// Create or replace the English template after [`check`]; audited.
pub fn put(
    db: &dyn Db,
    stage: i64,
    channel: Channel,
    subject: Option<&str>,
    body: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Template, Rendered)> {
    put_in(db, stage, channel, Language::En, subject, body, actor, now)
}

/// Create or replace the template in `lang` after [`check_in`]; audited.
/// Returns the stored template and a sample rendering (texts: encoding and
/// segments).
#[allow(clippy::too_many_arguments)]
pub fn put_in(
    db: &dyn Db,
    stage: i64,
    channel: Channel,
    lang: Language,
    subject: Option<&str>,
    body: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Template, Rendered)> {
    if !(1..=1000).contains(&stage) {
        return Err(Error::Invalid("stage must be 1 to 1000".into()));
    }
    match (channel, subject) {
        (Channel::Text, Some(_)) => return Err(Error::Invalid("texts have no subject; leave subject out".into())),
        (Channel::Email, None) => return Err(Error::Invalid("an email template needs a subject".into())),
        (Channel::Phone | Channel::Letter, _) => {
            return Err(Error::Invalid(format!("notices go by text or email, not {}", channel.as_str())))
        }
        _ => {}
    }
    let sample = check_in(channel, lang, subject, body).map_err(|e| Error::Invalid(e.to_string()))?;
    let at = time::timestamp(now);
    // With its audit row or not at all: a change answered as failed must not
    // have happened.
    let template = db::transaction(db, |tx| -> Result<Template> {
        tx.execute(
            "INSERT INTO notice_templates (stage, channel, language, subject, body, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (stage, channel, language) DO UPDATE SET subject = excluded.subject, body = excluded.body,
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[stage.into(), channel.as_str().into(), lang.as_str().into(), subject.into(), body.into(), actor.into(), at.as_str().into()],
        )?;
        audit::record(
            tx,
            actor,
            "notice_template.set",
            "",
            &serde_json::json!({ "stage": stage, "channel": channel, "language": lang, "subject": subject, "body": body }),
            now,
        )?;
        get_in(tx, stage, channel, lang)?.ok_or_else(|| Error::Corrupt("template vanished".into()))
    })?;
    Ok((template, sample))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_sizes() {
        assert_eq!(GSM_BASIC.chars().count(), 127, "128 codes less the escape");
        assert_eq!(GSM_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn segment_boundaries() {
        let cases: Vec<(String, Encoding, usize, usize)> = vec![
            (String::new(), Encoding::Gsm7, 0, 1),
            ("a".repeat(160), Encoding::Gsm7, 160, 1),
            ("a".repeat(161), Encoding::Gsm7, 161, 2),
            ("a".repeat(306), Encoding::Gsm7, 306, 2),
            ("a".repeat(307), Encoding::Gsm7, 307, 3),
            ("€".repeat(80), Encoding::Gsm7, 160, 1),
            // 152 septets then a 2-septet character: it moves to segment 2.
            (format!("{}€{}", "a".repeat(152), "a".repeat(10)), Encoding::Gsm7, 164, 2),
            (format!("{}€{}", "a".repeat(152), "a".repeat(152)), Encoding::Gsm7, 306, 3),
            ("é".repeat(160), Encoding::Gsm7, 160, 1),
            ("ê".repeat(70), Encoding::Ucs2, 70, 1),
            ("ê".repeat(71), Encoding::Ucs2, 71, 2),
            ("ê".repeat(134), Encoding::Ucs2, 134, 2),
            ("ê".repeat(135), Encoding::Ucs2, 135, 3),
            // One emoji is two UTF-16 units and is never split.
            (format!("{}😀", "a".repeat(66)), Encoding::Ucs2, 68, 1),
            (format!("{}😀{}", "a".repeat(66), "a".repeat(3)), Encoding::Ucs2, 71, 2),
            (format!("{}😀{}", "a".repeat(66), "a".repeat(66)), Encoding::Ucs2, 134, 3),
        ];
        for (text, enc, units, segs) in cases {
            let m = measure_sms(&text);
            assert_eq!((m.encoding, m.units, m.segments), (enc, units, segs), "{text:?}");
        }
    }

    #[test]
    fn renders_and_guarantees_the_opt_out_line() {
        let ctx = RenderContext::sample(Channel::Text);
        let r = render(Channel::Text, None, "{{ facility }}: {{ balance }} due. {{ payment_link }} {{ opt_out }}", &ctx).unwrap();
        assert!(r.body.ends_with(SMS_OPT_OUT), "{}", r.body);
        assert!(!r.opt_out_appended);
        let m = r.measure.unwrap();
        assert_eq!(m.encoding, Encoding::Gsm7);
        // A template that hides the line still sends it.
        let r = render(Channel::Text, None, "Pay {{ payment_link }}{% if false %}{{ opt_out }}{% endif %}", &ctx).unwrap();
        assert!(r.opt_out_appended);
        assert!(r.body.ends_with(SMS_OPT_OUT));
        // UCS-2 is measured, never cut.
        let r = render(Channel::Text, None, "Bonjour {{ tenant_name }} — {{ opt_out }} 😀", &ctx).unwrap();
        assert_eq!(r.measure.unwrap().encoding, Encoding::Ucs2);
        let long = "x".repeat(1700);
        assert!(matches!(render(Channel::Text, None, &long, &ctx), Err(TemplateError::TooLong(_))));
    }

    #[test]
    fn check_refuses_bad_templates() {
        assert!(matches!(check(Channel::Text, None, "Pay {{ payment_link }}"), Err(TemplateError::NoOptOut("text"))));
        assert!(matches!(check(Channel::Text, None, "{{ nope }} {{ opt_out }}"), Err(TemplateError::Syntax(_))));
        assert!(matches!(check(Channel::Text, None, "{% if %} {{ opt_out }}"), Err(TemplateError::Syntax(_))));
        assert!(matches!(check(Channel::Email, None, "{{ opt_out }}"), Err(TemplateError::Empty("subject"))));
        let ok = check(Channel::Email, Some("Hi {{ tenant_name }}"), "Pay {{ payment_link }}\n{{ opt_out }}").unwrap();
        assert_eq!(ok.subject.as_deref(), Some("Hi Pat Smith"));
        assert!(ok.body.contains("/unsubscribe/"));
    }

    #[test]
    fn the_seeded_templates_pass_the_check() {
        let db = crate::base::db::NativeDb::open_in_memory().unwrap();
        crate::schema::migrate(&db, Utc::now()).unwrap();
        let all = list(&db).unwrap();
        // Five stages, text and email, in English, Spanish and French.
        assert_eq!(all.len(), 30);
        for t in all {
            let r = check_in(t.channel, t.language, t.subject.as_deref(), &t.body).unwrap_or_else(|e| panic!("{t:?}: {e}"));
            if let Some(m) = r.measure {
                assert!(m.segments <= 2, "stage {} text is {} segments", t.stage, m.segments);
            }
        }
    }
}
