//! Supplemental messages: a one-off text or email staff write to
//! an overdue tenant, from an approved template (a notice template) or free
//! text limited to account matters. It is queued in the outbox as kind
//! `supplemental` ([`outbox::queue_supplemental`]): compliance decides it
//! like any automatic message, the paced sender sends it, the template
//! layer adds the opt-out line, and the contact log records it.
//!
//! "Limited to account matters": staff name the purpose from a fixed list
//! ([`PURPOSES`]), the tenant must owe an overdue balance, and free text
//! may not carry web links of its own (the personal payment link is
//! `{{ payment_link }}`) — these are collection messages, never marketing.
//!
//! Language: staff may pick the language they write in (or whose template
//! they want). A picked language is kept exactly: a template missing in it
//! is an error, never another language's. Without one, a template comes in
//! the tenant's language (else the property's, else English) and free text
//! is taken to be in the tenant's language. The row records the language,
//! and the opt-out line and amounts follow it.

use crate::base::channel::Channel;
use crate::compliance::ComplianceCheck;
use crate::base::db::Db;
use crate::base::error::{Error, Result};
use crate::base::locale::Language;
use crate::notices::outbox::{self, OutboxRow, Supplemental};
use crate::{records::ledger, notices::templates, records::tenants, base::time};
use chrono::{DateTime, Utc};

/// The account matters a supplemental message may be about.
pub const PURPOSES: &[&str] = &["balance_reminder", "payment_arrangement", "promise_follow_up", "account_question", "payment_received"];

/// Longest free-text body.
pub const MAX_BODY_CHARS: usize = 2000;
/// Longest subject.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// What staff asked to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub tenant_id: &'a str,
    /// `text` or `email`.
    pub channel: Channel,
    /// One of [`PURPOSES`].
    pub purpose: &'a str,
    /// An approved template: the notice template of this stage for the channel.
    pub template_stage: Option<i64>,
    /// Free-text subject (email, without a template).
    pub subject: Option<&'a str>,
    /// Free-text body (without a template).
    pub body: Option<&'a str>,
    /// The language staff picked (None: the tenant's).
    pub language: Option<Language>,
    /// Who writes it.
    pub actor: &'a str,
}

/// Does free text carry a web address of its own?
pub fn has_link(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["http://", "https://", "www."].iter().any(|p| lower.contains(p))
}

/// Validate and queue a supplemental message; returns the outbox row (its
/// state says what compliance decided: queued, deferred or blocked).
pub fn queue(db: &dyn Db, checker: &dyn ComplianceCheck, req: &Request<'_>, now: DateTime<Utc>) -> Result<OutboxRow> {
    if !PURPOSES.contains(&req.purpose) {
        return Err(Error::Invalid(format!("purpose must be one of {}", PURPOSES.join(", "))));
    }
    if !matches!(req.channel, Channel::Text | Channel::Email) {
        return Err(Error::Invalid(format!("messages go by text or email, not {}", req.channel.as_str())));
    }
    let tenant = tenants::require(db, req.tenant_id)?;
    let property = tenants::property(db, &tenant.property_id)?;
    let (subject, body, language) = match (req.template_stage, req.body.map(str::trim).filter(|b| !b.is_empty())) {
        (Some(_), Some(_)) => return Err(Error::Invalid("give template_stage or body, not both".into())),
        (None, None) => return Err(Error::Invalid("give template_stage (an approved template) or body (free text)".into())),
        (Some(stage), None) => {
            if req.subject.is_some() {
                return Err(Error::Invalid("a template brings its own subject; leave subject out".into()));
            }
            let t = match req.language {
                Some(lang) => templates::get_in(db, stage, req.channel, lang)?.ok_or_else(|| {
                    Error::Invalid(format!(
                        "no {} template for stage {stage} in {} ({}); pick another language or write the template first",
                        req.channel.as_str(),
                        lang.endonym(),
                        lang.as_str()
                    ))
                })?,
                None => {
                    // The tenant's language first, as the scheduled notices choose.
                    let reader = tenants::language_of(&tenant, property.as_ref());
                    let home = property.as_ref().map(|p| p.language()).unwrap_or_default();
                    templates::find(db, stage, req.channel, reader, home)?
                        .ok_or_else(|| Error::Invalid(format!("no {} template for stage {stage}", req.channel.as_str())))?
                }
            };
            (t.subject, t.body, t.language)
        }
        (None, Some(body)) => {
            if body.chars().count() > MAX_BODY_CHARS {
                return Err(Error::Invalid(format!("body must be at most {MAX_BODY_CHARS} characters")));
            }
            let subject = req.subject.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
            if subject.as_ref().is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS || s.contains(['\r', '\n'])) {
                return Err(Error::Invalid(format!("subject must be one line of at most {MAX_SUBJECT_CHARS} characters")));
            }
            if has_link(body) || subject.as_deref().is_some_and(has_link) {
                return Err(Error::Invalid(
                    "free text may not contain web links; use {{ payment_link }} for the tenant's payment page".into(),
                ));
            }
            (subject, body.to_owned(), req.language.unwrap_or_else(|| tenants::language_of(&tenant, property.as_ref())))
        }
    };
    let eff = tenants::effective(&tenant, property.as_ref());
    let summary = ledger::summary(db, &tenant.tenant_id, time::local_date(now, eff.time_zone))?;
    if summary.overdue_cents <= 0 {
        return Err(Error::Conflict(format!(
            "tenant `{}` has no overdue balance; supplemental messages go to overdue tenants only",
            tenant.tenant_id
        )));
    }
    outbox::queue_supplemental(
        db,
        checker,
        &Supplemental {
            tenant_id: &tenant.tenant_id,
            channel: req.channel,
            subject: subject.as_deref(),
            body: &body,
            language: Some(language),
            actor: req.actor,
            asked: serde_json::json!({ "purpose": req.purpose, "template_stage": req.template_stage, "language_picked": req.language.is_some() }),
        },
        now,
    )
}
