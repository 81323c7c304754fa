//! Revocation in the tenant's own words: "please stop texting me", "no más
//! mensajes", "arrêtez de m'écrire". 47 CFR 64.1200(a)(10) lets a consumer
//! revoke consent by any reasonable means, not only the per-se keywords;
//! a reply that clearly asks to stop is an opt-out of texting, with the one
//! confirmation allowed, and stays in the staff inbox flagged for a person
//! to review (and undo, audited, if it was misread).
//!
//! Conservative by construction: the phrases are data
//! (`sms_revocation_phrases`, seeded by migration 7), and a reply matches
//! only when the whole message, normalised, is one of them, optionally with
//! politeness around it ("please", "thanks", "por favor", "merci", "svp").
//! "I'll stop by Friday to pay" or "stop the late fee?" are never phrases,
//! so they stay ordinary inbox text.

use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::locale::Language;
use crate::base::time;
use crate::records::audit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest normalised message looked up; longer ones are never a phrase.
pub const MAX_PHRASE_CHARS: usize = 80;

/// Politeness that may come before a phrase (normalised form).
const LEADING: &[&str] = &["PLEASE", "PLS", "PLZ", "KINDLY", "POR FAVOR", "SVP", "SIL VOUS PLAIT", "SIL TE PLAIT"];

/// Politeness that may come after a phrase (normalised form).
const TRAILING: &[&str] =
    &["PLEASE", "PLS", "PLZ", "THANKS", "THANK YOU", "THX", "POR FAVOR", "GRACIAS", "MERCI", "SVP", "SIL VOUS PLAIT"];

/// Base letter of a Latin-1 / French / Spanish accented letter (upper case).
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
        'Ç' => "C",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'Ñ' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => "O",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'Ý' | 'Ÿ' => "Y",
        'Œ' => "OE",
        'Æ' => "AE",
        _ => return None,
    })
}

/// The comparable form of a message or phrase: upper case, accents folded,
/// apostrophes dropped (`don't` = `dont`, `m'écrire` = `mecrire`), every
/// other run of non-letters and non-digits one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars().flat_map(char::to_uppercase) {
        if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{b4}') {
            continue;
        }
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            match fold(c) {
                Some(base) => out.push_str(base),
                None => out.push(c),
            }
        } else {
            gap = true;
        }
    }
    out
}

fn strip_word<'a>(s: &'a str, words: &[&str], leading: bool) -> Option<&'a str> {
    words.iter().find_map(|w| {
        if leading {
            s.strip_prefix(w).and_then(|rest| rest.strip_prefix(' '))
        } else {
            s.strip_suffix(w).and_then(|rest| rest.strip_suffix(' '))
        }
    })
}

/// The forms a whole message is looked up by: the normalised message, and
/// the same with politeness stripped from both ends. Empty when the message
/// is empty or too long to be a phrase.
pub fn lookup_keys(body: &str) -> Vec<String> {
    let whole = normalize(body);
    if whole.is_empty() || whole.chars().count() > MAX_PHRASE_CHARS {
        return Vec::new();
    }
    let mut core = whole.as_str();
    loop {
        if let Some(rest) = strip_word(core, LEADING, true) {
            core = rest;
        } else if let Some(rest) = strip_word(core, TRAILING, false) {
            core = rest;
        } else {
            break;
        }
    }
    let mut keys = vec![whole.clone()];
    if core != whole && !core.is_empty() {
        keys.push(core.to_owned());
    }
    keys
}

/// Most phrases the list holds: each is looked up on every inbound text.
pub const MAX_PHRASES: usize = 500;

/// One phrase of the list, as staff read and write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrase {
    /// The whole reply that revokes consent, stored normalised ([`normalize`]).
    pub phrase: String,
    /// The language the phrase is in (the confirmation goes out in it).
    pub language: Language,
}

/// The phrase list, by language then phrase.
pub fn phrases(db: &dyn Db) -> Result<Vec<Phrase>> {
    let rows = db.execute("SELECT phrase, language FROM sms_revocation_phrases ORDER BY language, phrase", &[])?;
    rows.iter()
        .map(|r| {
            let language = Language::parse_tag(r.str("language")?).map_err(|e| Error::Corrupt(format!("revocation phrase language: {e}")))?;
            Ok(Phrase { phrase: r.string("phrase")?, language })
        })
        .collect()
}

/// Replace the phrase list; audited in the same transaction. Each phrase is
/// normalised and must still be two words or more (a single word is a
/// keyword, kept in the keyword lists) and at most [`MAX_PHRASE_CHARS`];
/// the list cannot be emptied, so revocations in the tenant's words are
/// always caught.
pub fn replace(db: &dyn Db, wanted: &[Phrase], actor: &str, now: DateTime<Utc>) -> Result<Vec<Phrase>> {
    if wanted.is_empty() {
        return Err(Error::Invalid("the phrase list cannot be empty: replies that revoke consent in the tenant's words must still be caught".into()));
    }
    if wanted.len() > MAX_PHRASES {
        return Err(Error::Invalid(format!("at most {MAX_PHRASES} phrases")));
    }
    let mut next: Vec<Phrase> = Vec::with_capacity(wanted.len());
    for p in wanted {
        let phrase = normalize(&p.phrase);
        if phrase.split(' ').count() < 2 {
            return Err(Error::Invalid(format!("{:?}: a phrase is two words or more; single words belong in the keyword lists", p.phrase)));
        }
        if phrase.chars().count() > MAX_PHRASE_CHARS {
            return Err(Error::Invalid(format!("{:?}: at most {MAX_PHRASE_CHARS} characters", p.phrase)));
        }
        if !next.iter().any(|n| n.phrase == phrase) {
            next.push(Phrase { phrase, language: p.language });
        }
    }
    next.sort_by(|a, b| (a.language, &a.phrase).cmp(&(b.language, &b.phrase)));
    db::transaction(db, |tx| {
        let before = phrases(tx)?;
        if before == next {
            return Ok(next.clone());
        }
        tx.execute("DELETE FROM sms_revocation_phrases", &[])?;
        let at = time::timestamp(now);
        for chunk in next.chunks(db::MAX_PARAMS / 4) {
            let mut params = Vec::with_capacity(chunk.len() * 4);
            for p in chunk {
                params.extend([p.phrase.as_str().into(), p.language.as_str().into(), actor.into(), at.as_str().into()]);
            }
            tx.execute(
                &format!("INSERT INTO sms_revocation_phrases (phrase, language, updated_by, updated_at) VALUES {}", db::row_placeholders(chunk.len(), 4)),
                &params,
            )?;
        }
        audit::record(tx, actor, "revocation_phrases.update", "sms_revocation_phrases", &serde_json::json!({ "before": before, "after": next }), now)?;
        Ok(next.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising() {
        assert_eq!(normalize("Please, stop texting me!!"), "PLEASE STOP TEXTING ME");
        assert_eq!(normalize("Don’t text me"), "DONT TEXT ME");
        assert_eq!(normalize("Arrêtez de m'écrire."), "ARRETEZ DE MECRIRE");
        assert_eq!(normalize("Laissez-moi tranquille"), "LAISSEZ MOI TRANQUILLE");
        assert_eq!(normalize("¡No más mensajes!"), "NO MAS MENSAJES");
        assert_eq!(normalize("  ...  "), "");
    }

    #[test]
    fn politeness_is_stripped_from_the_ends_only() {
        assert_eq!(lookup_keys("Please stop texting me, thanks"), ["PLEASE STOP TEXTING ME THANKS", "STOP TEXTING ME"]);
        assert_eq!(lookup_keys("No more messages please"), ["NO MORE MESSAGES PLEASE", "NO MORE MESSAGES"]);
        assert_eq!(lookup_keys("stop the late fee?"), ["STOP THE LATE FEE"]);
        assert_eq!(lookup_keys("please"), ["PLEASE"]);
        assert!(lookup_keys(&"stop ".repeat(40)).is_empty());
    }
}
