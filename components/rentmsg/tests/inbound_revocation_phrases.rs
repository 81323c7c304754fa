//! The revocation phrase list through the staff API: staff read it, replace
//! it (normalised, audited), and the webhook acts on the list as stored; a
//! single word or an empty list is refused and changes nothing.

mod common;

use common::Env;
use rentmsg::base::db::Db;
use rentmsg::inbound::process::{self, InboundSms, ReplySettings};
use serde_json::json;

#[test]
fn staff_replace_the_phrase_list_and_refusals_change_nothing() {
    let env = Env::new();
    env.seed();
    let shipped = env.get_ok("/api/revocation-phrases");
    let phrases = shipped["phrases"].as_array().unwrap();
    assert!(phrases.iter().any(|p| p["phrase"] == json!("STOP TEXTING ME") && p["language"] == json!("en")), "{shipped}");
    assert!(phrases.iter().any(|p| p["language"] == json!("es")) && phrases.iter().any(|p| p["language"] == json!("fr")));

    // Replaced: normalised (case, accents, apostrophes), duplicates folded.
    let r = env.put_json(
        "/api/revocation-phrases",
        &json!({ "phrases": [
            { "phrase": "Don't message me anymore", "language": "en" },
            { "phrase": "dont message me  anymore!", "language": "en" },
            { "phrase": "Arrêtez les messages", "language": "fr" }
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.body_json()["phrases"],
        json!([{ "phrase": "DONT MESSAGE ME ANYMORE", "language": "en" }, { "phrase": "ARRETEZ LES MESSAGES", "language": "fr" }])
    );
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'revocation_phrases.update'"), 1);

    // The webhook acts on the list as stored: the new phrase opts out, a
    // shipped one that staff removed is ordinary inbox text again.
    let receive = |sid: &str, body: &str| {
        let msg = InboundSms { message_sid: sid, from: "+14155552671", to: "+15005550006", body, num_media: 0, provider_keyword: None };
        process::receive(&env.db, &msg, &ReplySettings { sms_from: "+15005550006" }, env.now).unwrap().effect.as_str().to_owned()
    };
    assert_eq!(receive("SMphrase1", "stop texting me"), "inbox");
    assert_eq!(receive("SMphrase2", "Don’t message me anymore, thanks"), "opted_out");

    // Refused: a single word (a keyword's job), an empty list, an unknown language.
    for bad in [
        json!({ "phrases": [{ "phrase": "unsubscribe", "language": "en" }] }),
        json!({ "phrases": [] }),
        json!({ "phrases": [{ "phrase": "stop texting me", "language": "de" }] }),
    ] {
        let r = env.put_json("/api/revocation-phrases", &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.body_json()["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert_eq!(env.get_ok("/api/revocation-phrases")["phrases"].as_array().unwrap().len(), 2, "refusals changed nothing");
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'revocation_phrases.update'"), 1);
}

/// When both forms of a message are phrases (the whole text, and the text
/// without its politeness), the whole, longer one is what the message was
/// taken as.
#[test]
fn the_longest_matching_phrase_is_recorded() {
    let env = Env::new();
    env.seed();
    let r = env.put_json(
        "/api/revocation-phrases",
        &json!({ "phrases": [
            { "phrase": "stop texting me", "language": "en" },
            { "phrase": "stop texting me please", "language": "en" }
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let receive = |sid: &str, body: &str| {
        let msg = InboundSms { message_sid: sid, from: "+14155552671", to: "+15005550006", body, num_media: 0, provider_keyword: None };
        process::receive(&env.db, &msg, &ReplySettings { sms_from: "+15005550006" }, env.now).unwrap().revocation_phrase
    };
    assert_eq!(receive("SMl1", "Stop texting me please").as_deref(), Some("STOP TEXTING ME PLEASE"));
    env.db.execute("DELETE FROM exclusions", &[]).unwrap();
    // Only the form without politeness is a phrase here.
    assert_eq!(receive("SMl2", "Please stop texting me").as_deref(), Some("STOP TEXTING ME"));
}
