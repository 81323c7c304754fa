//! The automatic replies and their TwiML envelope.
//!
//! Texts are short (one GSM-7 segment where the facility name allows), name
//! the facility so the tenant knows who is writing (CTIA), and carry the
//! disclosures CTIA expects: the opt-in confirmation and the HELP answer say
//! "Msg & data rates may apply" and how to opt out; the opt-out confirmation
//! says how to come back. The opt-out confirmation is the one text 47 CFR
//! 64.1200(a)(12) allows after a revocation.

use crate::base::locale::Language;

/// Longest facility label put into a reply (characters).
const MAX_FACILITY_CHARS: usize = 60;

/// The facility label for a reply: the distinct names given, joined; None
/// when there are none (unknown number).
pub fn facility_label<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut distinct: Vec<&str> = Vec::new();
    for n in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
        if !distinct.contains(&n) {
            distinct.push(n);
        }
    }
    if distinct.is_empty() {
        return None;
    }
    let joined = distinct.join(" / ");
    if joined.chars().count() <= MAX_FACILITY_CHARS {
        return Some(joined);
    }
    let cut: String = joined.chars().take(MAX_FACILITY_CHARS - 3).collect();
    Some(format!("{}...", cut.trim_end()))
}

fn prefixed(facility: Option<&str>, text: &str) -> String {
    match facility {
        Some(f) => format!("{f}: {text}"),
        None => text.to_owned(),
    }
}

/// The confirmation of an opt-out.
pub fn stop_confirmation(facility: Option<&str>) -> String {
    stop_confirmation_in(facility, Language::En)
}

/// The confirmation of an opt-out, in the language of the word used. The
/// Spanish and French texts keep to GSM-7 (no ó, ú, ê...), one segment
/// where the facility name allows.
pub fn stop_confirmation_in(facility: Option<&str>, lang: Language) -> String {
    let text = match lang {
        Language::En => "You are unsubscribed and will get no more texts from this number. Reply START to resubscribe.",
        Language::Es => "Le dimos de baja y no le enviaremos mensajes a este celular. Responda COMENZAR para volver a suscribirse.",
        Language::Fr => "Votre désabonnement est confirmé; vous ne recevrez plus de textos de ce numéro. Répondez COMMENCER pour vous réabonner.",
    };
    prefixed(facility, text)
}

/// The confirmation of an opt-in (START after a STOP).
pub fn start_confirmation(facility: Option<&str>) -> String {
    start_confirmation_in(facility, Language::En)
}

/// The confirmation of an opt-in, in the language of the word used.
pub fn start_confirmation_in(facility: Option<&str>, lang: Language) -> String {
    let text = match lang {
        Language::En => "You are resubscribed to account texts. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
        Language::Es => "Volvera a recibir mensajes de su cuenta. Pueden aplicarse tarifas de mensajes y datos. Responda AYUDA para ayuda, PARAR para cancelar.",
        Language::Fr => "Vous recevrez de nouveau les textos de votre compte. Des frais de messagerie et de données peuvent s'appliquer. Répondez AIDE pour de l'aide, ARRET pour vous désabonner.",
    };
    prefixed(facility, text)
}

/// The answer to HELP: who we are, a contact, the rates disclosure and how
/// to opt out.
pub fn help_reply(facility: Option<&str>, contact: Option<&str>) -> String {
    help_reply_in(facility, contact, Language::En)
}

/// The answer to HELP in the language of the word used.
pub fn help_reply_in(facility: Option<&str>, contact: Option<&str>, lang: Language) -> String {
    let contact = contact.map(str::trim).filter(|c| !c.is_empty());
    match lang {
        Language::En => {
            let who = match facility {
                Some(f) => format!("{f} account texts."),
                None => "Rent account texts.".to_owned(),
            };
            let contact = contact.map(|c| format!(" Help: {c}.")).unwrap_or_default();
            format!("{who}{contact} Msg freq varies. Msg & data rates may apply. Reply STOP to opt out.")
        }
        Language::Es => {
            let who = match facility {
                Some(f) => format!("{f}: mensajes de su cuenta."),
                None => "Mensajes de su cuenta de alquiler.".to_owned(),
            };
            let contact = contact.map(|c| format!(" Ayuda: {c}.")).unwrap_or_default();
            format!("{who}{contact} Frecuencia variable. Pueden aplicarse tarifas de mensajes y datos. Responda PARAR para cancelar.")
        }
        Language::Fr => {
            let who = match facility {
                Some(f) => format!("{f} : textos de votre compte."),
                None => "Textos de votre compte de location.".to_owned(),
            };
            let contact = contact.map(|c| format!(" Aide : {c}.")).unwrap_or_default();
            format!("{who}{contact} Fréquence variable. Des frais de messagerie et de données peuvent s'appliquer. Répondez ARRET pour vous désabonner.")
        }
    }
}

/// A phone number as people read it: `(415) 555-2671` for North American
/// numbers, E.164 otherwise; anything that is not a number as given.
/// (Formatted by hand: the webhook component stays free of the
/// numbering-plan tables, which make every instance slower to start.)
pub fn display_contact(contact: &str) -> String {
    let c = contact.trim();
    match c.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => c.to_owned(),
    }
}

/// Escape text for an XML element, dropping characters XML 1.0 cannot carry.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The TwiML answer: an empty `<Response/>`, or one `<Message>`.
pub fn twiml(message: Option<&str>) -> String {
    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    match message {
        None => format!("{DECL}<Response/>"),
        Some(m) => format!("{DECL}<Response><Message>{}</Message></Response>", xml_escape(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_carry_the_disclosures() {
        let stop = stop_confirmation(Some("Maple Court"));
        assert!(stop.starts_with("Maple Court: "));
        assert!(stop.contains("START"));
        assert!(stop.chars().count() <= 160, "{stop}");
        let start = start_confirmation(None);
        assert!(start.contains("Msg & data rates may apply") && start.contains("STOP"));
        let help = help_reply(Some("Maple Court"), Some("(617) 555-0123"));
        assert!(help.contains("Maple Court") && help.contains("(617) 555-0123"));
        assert!(help.contains("Msg & data rates may apply") && help.contains("Reply STOP to opt out"));
        assert!(help.chars().count() <= 160, "{help}");
        let generic = help_reply(None, None);
        assert!(generic.starts_with("Rent account texts. Msg freq"));
    }

    #[test]
    fn replies_in_spanish_and_french() {
        let es = stop_confirmation_in(Some("Maple Court"), Language::Es);
        assert!(es.starts_with("Maple Court: ") && es.contains("COMENZAR"), "{es}");
        let fr = stop_confirmation_in(Some("Maple Court"), Language::Fr);
        assert!(fr.contains("COMMENCER") && fr.contains("désabonnement"), "{fr}");
        assert!(start_confirmation_in(None, Language::Es).contains("PARAR"));
        assert!(start_confirmation_in(None, Language::Fr).contains("ARRET"));
        let help = help_reply_in(Some("Maple Court"), Some("(617) 555-0123"), Language::Fr);
        assert!(help.contains("Aide : (617) 555-0123") && help.contains("Répondez ARRET"), "{help}");
        assert!(help_reply_in(None, None, Language::Es).contains("Responda PARAR para cancelar"));
        // The confirmations stay within GSM-7: no switch to 70-character segments.
        for t in [es, fr] {
            assert!(!t.chars().any(|c| "áíóúêâîôûç".contains(c)), "{t}");
        }
    }

    #[test]
    fn facility_labels() {
        assert_eq!(facility_label([]), None);
        assert_eq!(facility_label(["A", " A ", "B"]).as_deref(), Some("A / B"));
        let long = "x".repeat(100);
        let label = facility_label([long.as_str()]).unwrap();
        assert_eq!(label.chars().count(), MAX_FACILITY_CHARS);
        assert!(label.ends_with("..."));
    }

    #[test]
    fn contacts_for_people() {
        assert_eq!(display_contact("+16175550123"), "(617) 555-0123");
        assert_eq!(display_contact("+442079460958"), "+442079460958");
        assert_eq!(display_contact("office@example.com"), "office@example.com");
        assert_eq!(display_contact("+1"), "+1");
    }

    #[test]
    fn twiml_is_escaped() {
        assert_eq!(twiml(None), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
        assert_eq!(
            twiml(Some("A & B <Storage> \"1\"\u{7}")),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>A &amp; B &lt;Storage&gt; &quot;1&quot;</Message></Response>"
        );
    }
}
