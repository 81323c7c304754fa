//! Processing one verified inbound message or status callback, each inside
//! one transaction, so that the webhook answers 200 only once everything it
//! implies is committed, and a retried delivery (same MessageSid) finds its
//! row and changes nothing twice.

use crate::records::number_states::{self as carrier, CarrierVerdict};
use super::keywords::{self, KeywordAction};
use crate::base::locale::Language;
use super::{replies, revocation};
use crate::base::channel::Channel;
use crate::records::contact_log::Direction;
use crate::base::db::{self, Db, Value};
use crate::base::error::{Error, Result};
use crate::records::exclusions::{self, CUSTOMER_STOP_REASON};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;

/// The keyword a provider already recognised and acted on (Twilio's
/// `OptOutType`, sent when its Advanced Opt-Out handles keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKeyword {
    Stop,
    Start,
    Help,
}

impl ProviderKeyword {
    /// From the `OptOutType` field (case-insensitive); None for values this
    /// code does not know.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "STOP" => Some(ProviderKeyword::Stop),
            "START" => Some(ProviderKeyword::Start),
            "HELP" => Some(ProviderKeyword::Help),
            _ => None,
        }
    }

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKeyword::Stop => "STOP",
            ProviderKeyword::Start => "START",
            ProviderKeyword::Help => "HELP",
        }
    }

    fn action(self) -> KeywordAction {
        match self {
            ProviderKeyword::Stop => KeywordAction::OptOut,
            ProviderKeyword::Start => KeywordAction::OptIn,
            ProviderKeyword::Help => KeywordAction::Help,
        }
    }
}

/// A verified inbound message, fields already validated.
#[derive(Debug, Clone)]
pub struct InboundSms<'a> {
    /// Provider message id (dedupe key).
    pub message_sid: &'a str,
    /// Sender, E.164.
    pub from: &'a str,
    /// Our number (E.164 or short code).
    pub to: &'a str,
    /// The text as sent.
    pub body: &'a str,
    /// Attached media count.
    pub num_media: i64,
    /// The provider's own keyword verdict, if it sent one.
    pub provider_keyword: Option<ProviderKeyword>,
}

/// Settings the replies need.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplySettings<'a> {
    /// The `sms_from` variable: HELP names it as the contact when the
    /// property has none and it is a phone number.
    pub sms_from: &'a str,
}

/// What a message was taken as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An opt-out keyword.
    OptOut,
    /// An opt-in keyword.
    OptIn,
    /// A help keyword.
    Help,
    /// Anything else.
    Text,
}

impl Kind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OptOut => "opt_out",
            Kind::OptIn => "opt_in",
            Kind::Help => "help",
            Kind::Text => "text",
        }
    }
}

impl From<KeywordAction> for Kind {
    fn from(a: KeywordAction) -> Self {
        match a {
            KeywordAction::OptOut => Kind::OptOut,
            KeywordAction::OptIn => Kind::OptIn,
            KeywordAction::Help => Kind::Help,
        }
    }
}

/// What a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The number is now excluded (by customer).
    OptedOut,
    /// It already was: nothing changed, no second confirmation.
    AlreadyOptedOut,
    /// The by-customer exclusion was lifted.
    OptedIn,
    /// An opt-in word with nothing to lift: read as text, into the inbox
    /// (a "Yes" to a staff question).
    NothingToLift,
    /// Help was answered (by us, or by the provider when it sent OptOutType).
    Help,
    /// Free text: logged and in the staff inbox.
    Inbox,
}

impl Effect {
    /// Every effect.
    pub const ALL: [Effect; 6] =
        [Effect::OptedOut, Effect::AlreadyOptedOut, Effect::OptedIn, Effect::NothingToLift, Effect::Help, Effect::Inbox];

    /// From its stored name; `Corrupt` for a name this code does not know.
    pub fn parse(s: &str) -> Result<Effect> {
        Effect::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| Error::Corrupt(format!("inbound effect `{s}`")))
    }

    /// Stored / log name.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::OptedOut => "opted_out",
            Effect::AlreadyOptedOut => "already_opted_out",
            Effect::OptedIn => "opted_in",
            Effect::NothingToLift => "nothing_to_lift",
            Effect::Help => "help",
            Effect::Inbox => "inbox",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of processing an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOutcome {
    /// Row id in `inbound_messages`.
    pub id: i64,
    /// True when this MessageSid was already processed: nothing changed and
    /// no reply is sent (the first delivery's answer was the one allowed).
    pub duplicate: bool,
    /// What it was taken as.
    pub kind: Kind,
    /// What it did (as first processed, for duplicates).
    pub effect: Effect,
    /// The revocation phrase the message was taken as, when it revoked
    /// consent in the tenant's own words rather than by keyword.
    pub revocation_phrase: Option<String>,
    /// The text to answer with, if any.
    pub reply: Option<String>,
    /// Tenants that have the sending number.
    pub tenant_ids: Vec<String>,
}

/// A tenant matched by number, with the property for the reply.
struct Match {
    tenant_id: String,
    property_id: String,
    property_name: Option<String>,
}

/// Parse the `[[tenant_id, property_id, property_name], ...]` JSON built
/// by the lookup: one entry per contact point with the number, so a tenant
/// whose mobile and home numbers are the same appears twice. Each tenant
/// once, by tenant id (as SQLite orders text), here rather than with
/// `DISTINCT` / `ORDER BY` in the lookup, which made SQLite build and drop
/// two temporary B-trees on every inbound message.
fn parse_matches(json: &str) -> Result<Vec<Match>> {
    let mut rows: Vec<(String, String, Option<String>)> =
        serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("tenant lookup: {e}")))?;
    rows.sort_unstable();
    rows.dedup();
    Ok(rows.into_iter().map(|(tenant_id, property_id, property_name)| Match { tenant_id, property_id, property_name }).collect())
}

/// The outcome of a MessageSid seen before: as first processed, no reply.
fn duplicate(tx: &dyn Db, id: i64) -> Result<InboundOutcome> {
    let rows = tx.execute(
        "SELECT kind, effect, tenant_ids, revocation_phrase FROM inbound_messages WHERE id = ?",
        &[id.into()],
    )?;
    let r = rows.first().ok_or_else(|| Error::Corrupt(format!("inbound message {id} vanished")))?;
    let kind = match r.str("kind")? {
        "opt_out" => Kind::OptOut,
        "opt_in" => Kind::OptIn,
        "help" => Kind::Help,
        "text" => Kind::Text,
        other => return Err(Error::Corrupt(format!("inbound message {id}: kind `{other}`"))),
    };
    let tenant_ids = parse_tenant_ids(r.str("tenant_ids")?)?;
    Ok(InboundOutcome {
        id,
        duplicate: true,
        kind,
        effect: Effect::parse(r.str("effect")?)?,
        revocation_phrase: r.opt_string("revocation_phrase")?,
        reply: None,
        tenant_ids,
    })
}

/// The stored `tenant_ids` JSON array; `Corrupt` when it is not one.
pub fn parse_tenant_ids(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("inbound tenant_ids `{json}`: {e}")))
}

/// The contact HELP names: the first matched property's own contact, else
/// `sms_from` when it is a number, else the number the tenant texted.
fn help_contact(db: &dyn Db, matches: &[Match], settings: &ReplySettings<'_>, to: &str) -> Result<Option<String>> {
    let mut ids: Vec<&str> = Vec::new();
    for m in matches {
        if !ids.contains(&m.property_id.as_str()) {
            ids.push(m.property_id.as_str());
        }
    }
    if !ids.is_empty() {
        let params: Vec<Value> = ids.iter().map(|i| (*i).into()).collect();
        let rows = db.execute(
            &format!(
                "SELECT property_id, contact FROM property_sms_help WHERE property_id IN ({})",
                db::placeholders(ids.len())
            ),
            &params,
        )?;
        for id in &ids {
            if let Some(r) = rows.iter().find(|r| r.str("property_id").ok() == Some(*id)) {
                return Ok(Some(r.string("contact")?));
            }
        }
    }
    let from = settings.sms_from.trim();
    if from.starts_with('+') {
        return Ok(Some(replies::display_contact(from)));
    }
    if to.starts_with('+') {
        return Ok(Some(replies::display_contact(to)));
    }
    Ok(None)
}

/// Process one verified inbound message: keyword effects (opt-out committed
/// before this returns), contact log rows on every tenant with the number
/// (or one unmatched row), the inbox, and the reply. Runs its own
/// transaction; a MessageSid seen before changes nothing.
pub fn receive(db: &dyn Db, msg: &InboundSms<'_>, settings: &ReplySettings<'_>, now: DateTime<Utc>) -> Result<InboundOutcome> {
    let key = keywords::lookup_key(msg.body);
    // Up to two forms of the message, the whole one first and the one
    // without politeness (always shorter) second: the first that is a
    // phrase is the longest match. An absent one is bound as NULL, which
    // matches no phrase.
    let phrase_keys = revocation::lookup_keys(msg.body);
    let phrase_key = |i: usize| phrase_keys.get(i).map(String::as_str);
    db::transaction(db, |tx| {
        // Everything the decision needs, in one statement under the write
        // lock (each statement is a host call; the lock is held across them).
        let facts = tx.execute(
            "SELECT
                (SELECT id FROM inbound_messages WHERE message_sid = ?) AS seen_id,
                (SELECT action FROM sms_keywords WHERE keyword = ?) AS action,
                (SELECT language FROM sms_keywords WHERE keyword = ?) AS keyword_language,
                coalesce((SELECT phrase FROM sms_revocation_phrases WHERE phrase = ?),
                         (SELECT phrase FROM sms_revocation_phrases WHERE phrase = ?)) AS phrase,
                (SELECT json_group_array(json_array(t.tenant_id, t.property_id, p.name))
                    FROM contact_points cp JOIN tenants t ON t.tenant_id = cp.tenant_id
                    LEFT JOIN properties p ON p.property_id = t.property_id
                    WHERE cp.address = ? AND cp.channel = 'phone') AS tenants",
            &[msg.message_sid.into(), key.as_deref().into(), key.as_deref().into(), phrase_key(0).into(), phrase_key(1).into(), msg.from.into()],
        )?;
        let facts = facts.first().ok_or_else(|| Error::Corrupt("no row from a scalar select".into()))?;
        if let Some(seen) = facts.opt_i64("seen_id")? {
            return duplicate(tx, seen);
        }
        let matched_keyword = match facts.opt_str("action")? {
            Some(a) => Some((keywords::parse_action(a)?, key.clone().unwrap_or_default())),
            None => None,
        };
        // A keyword (the provider's or ours) decides; otherwise a whole
        // message that is a revocation phrase is an opt-out in the
        // tenant's own words.
        let revocation_phrase = match (msg.provider_keyword, &matched_keyword) {
            (None, None) => facts.opt_string("phrase")?,
            _ => None,
        };
        let (action, provider_handled) = match msg.provider_keyword {
            Some(p) => (Some(p.action()), true),
            None => (matched_keyword.as_ref().map(|(a, _)| *a).or(revocation_phrase.as_ref().map(|_| KeywordAction::OptOut)), false),
        };
        let keyword = match msg.provider_keyword {
            Some(p) => Some(matched_keyword.map_or_else(|| p.as_str().to_owned(), |(_, k)| k)),
            None => matched_keyword.map(|(_, k)| k),
        };
        // Answered in the language of the word the tenant used.
        let lang: Language = facts.opt_str("keyword_language")?.and_then(|l| l.parse().ok()).unwrap_or_default();
        let matches = parse_matches(facts.str("tenants")?)?;
        let facility = replies::facility_label(matches.iter().filter_map(|m| m.property_name.as_deref()));
        let facility = facility.as_deref();
        let kind = action.map_or(Kind::Text, Kind::from);
        let (effect, reply) = match action {
            Some(KeywordAction::OptOut) => {
                let reason = match &revocation_phrase {
                    Some(p) => format!("the customer revoked consent in their own words (\"{p}\")"),
                    None => CUSTOMER_STOP_REASON.to_owned(),
                };
                let changed = exclusions::set_customer_opt_out_in_tx(tx, msg.from, now, Some(msg.message_sid), &reason)?;
                if changed {
                    // The one confirmation allowed; the provider sent its own
                    // when it reports OptOutType.
                    (Effect::OptedOut, (!provider_handled).then(|| replies::stop_confirmation_in(facility, lang)))
                } else {
                    (Effect::AlreadyOptedOut, None)
                }
            }
            Some(KeywordAction::OptIn) => {
                if exclusions::clear_customer_opt_out_in_tx(tx, msg.from, now, Some(msg.message_sid))? {
                    (Effect::OptedIn, (!provider_handled).then(|| replies::start_confirmation_in(facility, lang)))
                } else {
                    (Effect::NothingToLift, None)
                }
            }
            Some(KeywordAction::Help) => {
                let reply = if provider_handled {
                    None
                } else {
                    let contact = help_contact(tx, &matches, settings, msg.to)?;
                    Some(replies::help_reply_in(facility, contact.as_deref(), lang))
                };
                (Effect::Help, reply)
            }
            None => (Effect::Inbox, None),
        };
        // A revocation in the tenant's words also goes to the inbox, for a
        // person to confirm it was read right.
        let in_inbox = matches!(effect, Effect::Inbox | Effect::NothingToLift) || revocation_phrase.is_some();
        let tenant_ids: Vec<String> = matches.iter().map(|m| m.tenant_id.clone()).collect();
        let at = time::timestamp(now);
        let inserted = tx.execute(
            "INSERT INTO inbound_messages (message_sid, from_address, to_address, body, num_media, kind, keyword,
                provider_opt_out_type, effect, tenant_ids, reply, received_at, in_inbox, revocation_phrase)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                msg.message_sid.into(),
                msg.from.into(),
                msg.to.into(),
                msg.body.into(),
                msg.num_media.into(),
                kind.as_str().into(),
                keyword.as_deref().into(),
                msg.provider_keyword.map(ProviderKeyword::as_str).into(),
                effect.as_str().into(),
                serde_json::to_string(&tenant_ids).map_err(|e| Error::Corrupt(e.to_string()))?.into(),
                reply.as_deref().into(),
                at.as_str().into(),
                in_inbox.into(),
                revocation_phrase.as_deref().into(),
            ],
        )?;
        let id = inserted.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| Error::Corrupt("no id returned".into()))?;
        log_contacts(tx, msg, &tenant_ids, id, kind, effect, keyword.as_deref(), revocation_phrase.as_deref(), reply.as_deref(), &at)?;
        Ok(InboundOutcome { id, duplicate: false, kind, effect, revocation_phrase, reply, tenant_ids })
    })
}

/// The `detail` of an inbound message's contact-log row. Fields in name
/// order, the order the stored JSON has always had.
#[derive(Serialize)]
struct InboundDetail<'a> {
    effect: Effect,
    inbound_id: i64,
    keyword: Option<&'a str>,
    kind: Kind,
    num_media: i64,
    provider_opt_out_type: Option<&'static str>,
    revocation_phrase: Option<&'a str>,
}

/// The `detail` of an automatic reply's contact-log row.
#[derive(Serialize)]
struct ReplyDetail<'a> {
    auto_reply: Kind,
    in_reply_to: &'a str,
    via: &'static str,
}

/// The inbound message and its reply on every matched tenant's record (one
/// row with no tenant for an unknown number), in one statement.
#[allow(clippy::too_many_arguments)]
fn log_contacts(
    tx: &dyn Db,
    msg: &InboundSms<'_>,
    tenant_ids: &[String],
    inbound_id: i64,
    kind: Kind,
    effect: Effect,
    keyword: Option<&str>,
    revocation_phrase: Option<&str>,
    reply: Option<&str>,
    at: &str,
) -> Result<()> {
    let inbound_detail = serde_json::to_string(&InboundDetail {
        effect,
        inbound_id,
        keyword,
        kind,
        num_media: msg.num_media,
        provider_opt_out_type: msg.provider_keyword.map(ProviderKeyword::as_str),
        revocation_phrase,
    })
    .map_err(|e| Error::Corrupt(e.to_string()))?;
    let reply_detail = serde_json::to_string(&ReplyDetail { auto_reply: kind, in_reply_to: msg.message_sid, via: "twiml" })
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    let owners: Vec<Option<&str>> =
        if tenant_ids.is_empty() { vec![None] } else { tenant_ids.iter().map(|t| Some(t.as_str())).collect() };
    let mut params: Vec<Value> = Vec::new();
    let mut rows = 0;
    for owner in &owners {
        params.extend([
            (*owner).into(),
            Channel::Text.as_str().into(),
            Direction::Inbound.as_str().into(),
            msg.from.into(),
            msg.body.into(),
            "received".into(),
            at.into(),
            msg.message_sid.into(),
            inbound_detail.as_str().into(),
        ]);
        rows += 1;
        if let Some(text) = reply {
            params.extend([
                (*owner).into(),
                Channel::Text.as_str().into(),
                Direction::Outbound.as_str().into(),
                msg.from.into(),
                text.into(),
                "sent".into(),
                at.into(),
                Value::Null,
                reply_detail.as_str().into(),
            ]);
            rows += 1;
        }
    }
    for (chunk_rows, chunk) in chunked(rows, &params, 9) {
        tx.execute(
            &format!(
                "INSERT INTO contact_log (tenant_id, channel, direction, address, body, status, at, provider_id, detail) VALUES {}",
                db::row_placeholders(chunk_rows, 9)
            ),
            chunk,
        )?;
    }
    Ok(())
}

/// Split `rows` rows of `cols` parameters into statements under the
/// parameter limit.
fn chunked(rows: usize, params: &[Value], cols: usize) -> Vec<(usize, &[Value])> {
    let per = (db::MAX_PARAMS / cols).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = per.min(rows - start);
        out.push((n, &params[start * cols..(start + n) * cols]));
        start += n;
    }
    out
}

// ---------------------------------------------------------------- status callbacks

/// A verified delivery status callback, fields already validated.
#[derive(Debug, Clone)]
pub struct StatusCallback<'a> {
    /// The outbound message's provider id.
    pub message_sid: &'a str,
    /// Lower-case status (`queued`, `sent`, `delivered`, `undelivered`, `failed`...).
    pub status: &'a str,
    /// Provider error code, if any.
    pub error_code: Option<&'a str>,
    /// Recipient, E.164, if the provider sent it.
    pub to: Option<&'a str>,
}

/// What a status callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOutcome {
    /// Seen before (same MessageSid, status and error code): nothing changed.
    pub duplicate: bool,
    /// Contact log rows whose status changed.
    pub updated: usize,
    /// What it did to the number, if anything (`opted_out`,
    /// `already_opted_out`, `marked_invalid`, `already_invalid`,
    /// `invalid_cleared`).
    pub number_effect: Option<&'static str>,
}

/// Order of delivery statuses: a status only replaces an earlier one, so a
/// late `sent` never overwrites `delivered`. 0 = not an outbound delivery
/// status (never applied).
pub fn status_rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" | "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "delivered" | "undelivered" | "failed" | "canceled" | "partially_delivered" => 4,
        "read" => 5,
        _ => 0,
    }
}

/// Process one verified status callback: update the message's status in
/// the contact log, and the number's state for carrier opt-out / invalid
/// number codes. Runs its own transaction; a repeat changes nothing.
pub fn record_status(db: &dyn Db, cb: &StatusCallback<'_>, now: DateTime<Utc>) -> Result<StatusOutcome> {
    let error_code = cb.error_code.unwrap_or("");
    db::transaction(db, |tx| {
        let seen = tx.execute(
            "SELECT 1 AS x FROM sms_status_events WHERE message_sid = ? AND status = ? AND error_code = ?",
            &[cb.message_sid.into(), cb.status.into(), error_code.into()],
        )?;
        if !seen.is_empty() {
            return Ok(StatusOutcome { duplicate: true, updated: 0, number_effect: None });
        }
        let logged = tx.execute(
            "SELECT id, status, address FROM contact_log WHERE provider_id = ? AND direction = 'outbound' ORDER BY id",
            &[cb.message_sid.into()],
        )?;
        let new_rank = status_rank(cb.status);
        let mut to_update = Vec::new();
        let mut logged_address = None;
        for r in logged.iter() {
            logged_address.get_or_insert(r.string("address")?);
            let old = r.str("status")?;
            if new_rank > 0 && new_rank > status_rank(old) {
                to_update.push(r.i64("id")?);
            }
        }
        let at = time::timestamp(now);
        if !to_update.is_empty() {
            let mut params: Vec<Value> = vec![cb.status.into(), error_code.into(), error_code.into(), at.as_str().into()];
            params.extend(to_update.iter().map(|id| Value::Integer(*id)));
            tx.execute(
                &format!(
                    "UPDATE contact_log SET status = ?,
                        detail = json_set(CASE WHEN json_valid(detail) THEN detail ELSE '{{}}' END,
                                          '$.error_code', CASE WHEN ? = '' THEN NULL ELSE ? END,
                                          '$.status_at', ?)
                     WHERE id IN ({})",
                    db::placeholders(to_update.len())
                ),
                &params,
            )?;
        }
        let address = cb.to.map(str::to_owned).or(logged_address);
        let number_effect = match address.as_deref() {
            Some(address) => number_effect(tx, cb, error_code, address, now)?,
            None => None,
        };
        tx.execute(
            "INSERT INTO sms_status_events (message_sid, status, error_code, to_address, applied, effect, received_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                cb.message_sid.into(),
                cb.status.into(),
                error_code.into(),
                address.as_deref().into(),
                (!to_update.is_empty()).into(),
                number_effect.into(),
                at.into(),
            ],
        )?;
        Ok(StatusOutcome { duplicate: false, updated: to_update.len(), number_effect })
    })
}

fn number_effect(
    tx: &dyn Db,
    cb: &StatusCallback<'_>,
    error_code: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>> {
    // Only phone numbers carry texting state.
    if !address.starts_with('+') {
        return Ok(None);
    }
    match cb.status {
        "undelivered" | "failed" => match carrier::verdict(error_code) {
            Some(CarrierVerdict::OptedOut) => {
                let reason = format!("carrier reports the recipient opted out (error {error_code})");
                let changed = exclusions::set_customer_opt_out_in_tx(tx, address, now, Some(cb.message_sid), &reason)?;
                Ok(Some(if changed { "opted_out" } else { "already_opted_out" }))
            }
            Some(CarrierVerdict::InvalidForTexting) => {
                let changed = carrier::mark_invalid_in_tx(tx, address, error_code, Some(cb.message_sid), now)?;
                Ok(Some(if changed { "marked_invalid" } else { "already_invalid" }))
            }
            None => Ok(None),
        },
        "delivered" | "read" => {
            Ok(carrier::clear_invalid_in_tx(tx, address, cb.message_sid, now)?.then_some("invalid_cleared"))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks() {
        assert!(status_rank("queued") < status_rank("sent"));
        assert!(status_rank("sent") < status_rank("delivered"));
        assert_eq!(status_rank("delivered"), status_rank("failed"));
        assert!(status_rank("delivered") < status_rank("read"));
        assert_eq!(status_rank("received"), 0);
        assert_eq!(status_rank("whatever"), 0);
    }

    #[test]
    fn provider_keywords() {
        assert_eq!(ProviderKeyword::parse("stop"), Some(ProviderKeyword::Stop));
        assert_eq!(ProviderKeyword::parse(" START "), Some(ProviderKeyword::Start));
        assert_eq!(ProviderKeyword::parse("HELP"), Some(ProviderKeyword::Help));
        assert_eq!(ProviderKeyword::parse("OTHER"), None);
    }

    #[test]
    fn chunking_rows() {
        let params: Vec<Value> = (0..(250 * 9)).map(Value::Integer).collect();
        let chunks = chunked(250, &params, 9);
        assert_eq!(chunks.iter().map(|(n, _)| *n).sum::<usize>(), 250);
        assert!(chunks.iter().all(|(n, p)| p.len() == n * 9 && p.len() <= db::MAX_PARAMS));
    }
}
