//! Reply keywords: opt-out (STOP...), opt-in (START...) and help (HELP...).
//!
//! A message is a keyword only as a whole message: case-insensitive, with
//! surrounding whitespace and punctuation (including emoji) ignored, and
//! inner runs of spaces or hyphens read as one space (`Opt-out`, `opt  out`
//! and `OPT OUT` are the same word). The lists are data in `sms_keywords`,
//! seeded by migration 4 with the carrier / CTIA defaults and editable
//! through the staff API. Words the law or the carriers require cannot be
//! removed: the per-se revocation words of 47 CFR 64.1200(a)(10), START
//! (named in every opt-out confirmation) and HELP.
//!
//! Each word has a language (`sms_keywords.language`): the confirmation and
//! the HELP answer go out in the language of the word the tenant used.
//! Migration 10 adds Spanish and French words, each spelling (with and
//! without accents) a word of its own, since the match is exact.

use crate::records::audit;
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::locale::Language;
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordAction {
    /// Stop texting this number (the by-customer exclusion).
    OptOut,
    /// Lift the by-customer exclusion.
    OptIn,
    /// Answer with who we are and how to opt out.
    Help,
}

impl KeywordAction {
    /// All actions, in list order.
    pub const ALL: [KeywordAction; 3] = [KeywordAction::OptOut, KeywordAction::OptIn, KeywordAction::Help];

    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeywordAction::OptOut => "opt_out",
            KeywordAction::OptIn => "opt_in",
            KeywordAction::Help => "help",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Keywords that must stay in this list.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            // 47 CFR 64.1200(a)(10): per-se revocation words.
            KeywordAction::OptOut => &["STOP", "QUIT", "END", "REVOKE", "OPT OUT", "CANCEL", "UNSUBSCRIBE"],
            // Every opt-out confirmation tells the tenant to reply START.
            KeywordAction::OptIn => &["START"],
            // CTIA: HELP always works.
            KeywordAction::Help => &["HELP"],
        }
    }
}

/// Longest keyword (characters, after normalising). Longer messages are
/// never looked up.
pub const MAX_KEYWORD_CHARS: usize = 40;

/// Most keywords per list.
pub const MAX_KEYWORDS_PER_LIST: usize = 100;

/// The comparable form of a whole message: surrounding whitespace and
/// punctuation dropped, inner runs of whitespace and hyphens turned into one
/// space, upper-cased.
pub fn normalize(text: &str) -> String {
    let trimmed = text.trim_matches(|c: char| !c.is_alphanumeric());
    let mut out = String::with_capacity(trimmed.len());
    let mut gap = false;
    for c in trimmed.chars() {
        if c.is_whitespace() || c == '-' || c == '\u{2010}' || c == '\u{2011}' {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.extend(c.to_uppercase());
    }
    out
}

/// A keyword as staff typed it → its stored form, or why it is refused.
pub fn validate(raw: &str) -> std::result::Result<String, String> {
    let k = normalize(raw);
    if k.is_empty() {
        return Err(format!("keyword `{}` has no letters or digits", raw.trim()));
    }
    if k.chars().count() > MAX_KEYWORD_CHARS {
        return Err(format!("keyword `{k}` is longer than {MAX_KEYWORD_CHARS} characters"));
    }
    if let Some(bad) = k.chars().find(|c| !(c.is_alphanumeric() || *c == ' ' || *c == '\'')) {
        return Err(format!("keyword `{k}` contains `{bad}`; use letters, digits, spaces and apostrophes"));
    }
    Ok(k)
}

/// The key a whole message is looked up by in `sms_keywords`; None when it
/// cannot be a keyword (empty or too long once normalised).
pub fn lookup_key(body: &str) -> Option<String> {
    let k = normalize(body);
    (!k.is_empty() && k.chars().count() <= MAX_KEYWORD_CHARS).then_some(k)
}

/// An action as stored.
pub fn parse_action(s: &str) -> Result<KeywordAction> {
    KeywordAction::parse(s).ok_or_else(|| Error::Corrupt(format!("keyword action `{s}`")))
}

/// The three lists, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeywordLists {
    /// Opt-out words.
    pub opt_out: Vec<String>,
    /// Opt-in words.
    pub opt_in: Vec<String>,
    /// Help words.
    pub help: Vec<String>,
}

impl KeywordLists {
    fn list_mut(&mut self, action: KeywordAction) -> &mut Vec<String> {
        match action {
            KeywordAction::OptOut => &mut self.opt_out,
            KeywordAction::OptIn => &mut self.opt_in,
            KeywordAction::Help => &mut self.help,
        }
    }

    /// One list.
    pub fn list(&self, action: KeywordAction) -> &[String] {
        match action {
            KeywordAction::OptOut => &self.opt_out,
            KeywordAction::OptIn => &self.opt_in,
            KeywordAction::Help => &self.help,
        }
    }
}

/// The current lists.
pub fn lists(db: &dyn Db) -> Result<KeywordLists> {
    let rows = db.execute("SELECT keyword, action FROM sms_keywords ORDER BY keyword", &[])?;
    let mut out = KeywordLists::default();
    for r in rows.iter() {
        out.list_mut(parse_action(r.str("action")?)?).push(r.string("keyword")?);
    }
    Ok(out)
}

/// A change to the lists: each list given replaces the stored one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordUpdate {
    /// New opt-out list.
    #[serde(default)]
    pub opt_out: Option<Vec<String>>,
    /// New opt-in list.
    #[serde(default)]
    pub opt_in: Option<Vec<String>>,
    /// New help list.
    #[serde(default)]
    pub help: Option<Vec<String>>,
    /// The language of words (any list); a word not named keeps its
    /// language, a new one is English.
    #[serde(default)]
    pub languages: Option<BTreeMap<String, Language>>,
}

impl KeywordUpdate {
    fn given(&self, action: KeywordAction) -> Option<&Vec<String>> {
        match action {
            KeywordAction::OptOut => self.opt_out.as_ref(),
            KeywordAction::OptIn => self.opt_in.as_ref(),
            KeywordAction::Help => self.help.as_ref(),
        }
    }
}

/// Check an update against the current lists and return the lists it would
/// make (pure). Refuses empty or malformed words, a word in two lists, and
/// the removal of a required word.
pub fn plan(current: &KeywordLists, update: &KeywordUpdate) -> Result<KeywordLists> {
    if KeywordAction::ALL.iter().all(|a| update.given(*a).is_none()) && update.languages.is_none() {
        return Err(Error::Invalid("nothing to change: give opt_out, opt_in, help and/or languages".into()));
    }
    let mut next = KeywordLists::default();
    let mut owner: BTreeMap<String, KeywordAction> = BTreeMap::new();
    for action in KeywordAction::ALL {
        let words: Vec<String> = match update.given(action) {
            Some(raw) => {
                if raw.len() > MAX_KEYWORDS_PER_LIST {
                    return Err(Error::Invalid(format!(
                        "{} has more than {MAX_KEYWORDS_PER_LIST} keywords",
                        action.as_str()
                    )));
                }
                raw.iter().map(|w| validate(w).map_err(Error::Invalid)).collect::<Result<_>>()?
            }
            None => current.list(action).to_vec(),
        };
        for required in action.required() {
            if !words.iter().any(|w| w == required) {
                return Err(Error::Invalid(format!(
                    "{} must keep `{required}` (required: {})",
                    action.as_str(),
                    action.required().join(", ")
                )));
            }
        }
        for w in words {
            match owner.get(&w) {
                Some(a) if *a != action => {
                    return Err(Error::Invalid(format!(
                        "keyword `{w}` cannot be in both {} and {}",
                        a.as_str(),
                        action.as_str()
                    )))
                }
                Some(_) => {}
                None => {
                    owner.insert(w.clone(), action);
                    next.list_mut(action).push(w);
                }
            }
        }
    }
    for action in KeywordAction::ALL {
        next.list_mut(action).sort();
    }
    Ok(next)
}

/// The language of every keyword.
pub fn languages(db: &dyn Db) -> Result<BTreeMap<String, Language>> {
    let rows = db.execute("SELECT keyword, language FROM sms_keywords ORDER BY keyword", &[])?;
    rows.iter()
        .map(|r| {
            let lang = r.str("language")?.parse().map_err(|e: crate::base::locale::LanguageError| Error::Corrupt(e.to_string()))?;
            Ok((r.string("keyword")?, lang))
        })
        .collect()
}

/// The languages words get after `update`: as named there (keys normalised
/// like the words), else as stored, else English.
fn next_languages(current: &BTreeMap<String, Language>, next: &KeywordLists, update: &KeywordUpdate) -> Result<BTreeMap<String, Language>> {
    let mut given = BTreeMap::new();
    for (w, l) in update.languages.iter().flatten() {
        given.insert(validate(w).map_err(Error::Invalid)?, *l);
    }
    let words: Vec<&String> = KeywordAction::ALL.iter().flat_map(|a| next.list(*a)).collect();
    if let Some(unknown) = given.keys().find(|w| !words.contains(w)) {
        return Err(Error::Invalid(format!("languages names `{unknown}`, which is in no list")));
    }
    Ok(words
        .into_iter()
        .map(|w| (w.clone(), given.get(w).or_else(|| current.get(w)).copied().unwrap_or_default()))
        .collect())
}

/// Apply an update (validated by [`plan`]); returns the new lists. Audited.
/// Runs its own transaction.
pub fn update(db: &dyn Db, update: &KeywordUpdate, actor: &str, now: DateTime<Utc>) -> Result<KeywordLists> {
    db::transaction(db, |tx| {
        let current = lists(tx)?;
        let next = plan(&current, update)?;
        let current_languages = languages(tx)?;
        let next_languages = next_languages(&current_languages, &next, update)?;
        if next == current && next_languages == current_languages {
            return Ok(next);
        }
        tx.execute("DELETE FROM sms_keywords", &[])?;
        let at = time::timestamp(now);
        let rows: Vec<(&String, KeywordAction)> = KeywordAction::ALL
            .into_iter()
            .flat_map(|a| next.list(a).iter().map(move |w| (w, a)))
            .collect();
        for chunk in rows.chunks(db::MAX_PARAMS / 5) {
            let mut params = Vec::with_capacity(chunk.len() * 5);
            for (w, a) in chunk {
                let lang = next_languages.get(*w).copied().unwrap_or_default();
                params.extend([(*w).into(), a.as_str().into(), lang.as_str().into(), actor.into(), at.as_str().into()]);
            }
            tx.execute(
                &format!(
                    "INSERT INTO sms_keywords (keyword, action, language, updated_by, updated_at) VALUES {}",
                    db::row_placeholders(chunk.len(), 5)
                ),
                &params,
            )?;
        }
        audit::record(
            tx,
            actor,
            "keywords.update",
            "sms_keywords",
            &serde_json::json!({ "before": current, "after": next, "languages_before": current_languages, "languages_after": next_languages }),
            now,
        )?;
        Ok(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_whole_messages() {
        let cases = [
            ("STOP", "STOP"),
            ("stop", "STOP"),
            ("  Stop.  ", "STOP"),
            ("\"stop!!!\"", "STOP"),
            ("STOP 🙏", "STOP"),
            ("¡Stop!", "STOP"),
            ("opt out", "OPT OUT"),
            ("Opt-Out", "OPT OUT"),
            ("opt \t\n out", "OPT OUT"),
            ("optout", "OPTOUT"),
            ("please stop", "PLEASE STOP"),
            ("stop texting me", "STOP TEXTING ME"),
            ("arrêt", "ARRÊT"),
            ("...", ""),
            ("", ""),
            ("\u{00a0}HELP\u{00a0}", "HELP"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn validating_staff_keywords() {
        assert_eq!(validate(" alto "), Ok("ALTO".into()));
        assert_eq!(validate("leave me alone"), Ok("LEAVE ME ALONE".into()));
        assert_eq!(validate("don't text"), Ok("DON'T TEXT".into()));
        assert!(validate("  !!  ").is_err());
        assert!(validate("a/b").is_err());
        assert!(validate(&"x".repeat(MAX_KEYWORD_CHARS + 1)).is_err());
    }

    fn defaults() -> KeywordLists {
        let v = |ws: &[&str]| ws.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        KeywordLists {
            opt_out: v(&["CANCEL", "END", "OPT OUT", "OPTOUT", "QUIT", "REVOKE", "STOP", "STOPALL", "UNSUBSCRIBE"]),
            opt_in: v(&["START", "UNSTOP", "YES"]),
            help: v(&["HELP", "INFO"]),
        }
    }

    #[test]
    fn planning_updates() {
        let cur = defaults();
        let mut add = KeywordUpdate::default();
        let mut opt_out: Vec<String> = cur.opt_out.clone();
        opt_out.push("alto".into());
        opt_out.push("Stop".into());
        add.opt_out = Some(opt_out);
        add.opt_in = Some(vec!["start".into(), "unstop".into()]);
        let next = plan(&cur, &add).unwrap();
        assert!(next.opt_out.contains(&"ALTO".to_string()));
        assert_eq!(next.opt_out.iter().filter(|w| *w == "STOP").count(), 1, "duplicates folded");
        assert_eq!(next.opt_in, vec!["START", "UNSTOP"]);
        assert_eq!(next.help, cur.help);

        let err = |u: &KeywordUpdate| plan(&cur, u).unwrap_err().to_string();
        assert!(err(&KeywordUpdate::default()).contains("nothing to change"));
        let drop_stop = KeywordUpdate { opt_out: Some(vec!["CANCEL".into()]), ..Default::default() };
        assert!(err(&drop_stop).contains("must keep `STOP`"));
        let drop_help = KeywordUpdate { help: Some(vec![]), ..Default::default() };
        assert!(err(&drop_help).contains("must keep `HELP`"));
        let both = KeywordUpdate { opt_in: Some(vec!["START".into(), "stop".into()]), ..Default::default() };
        assert!(err(&both).contains("both"));
        let bad = KeywordUpdate { help: Some(vec!["HELP".into(), "?!".into()]), ..Default::default() };
        assert!(err(&bad).contains("no letters"));
    }
}
