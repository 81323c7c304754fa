//! `X-Twilio-Signature` verification against vectors made by Twilio's
//! official library (`tests/fixtures/twilio/make_vectors.py`): every signed
//! request verifies, and our verdict on every variant (port added or
//! removed, fields reordered, tampered, wrong key) is the library's.

use rentmsg::base::form;
use rentmsg::inbound::signature;
use serde_json::Value as Json;

fn fixture() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/twilio/vectors.json");
    let text = std::fs::read_to_string(path).expect("read vectors.json");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

fn s(v: &Json) -> &str {
    v.as_str().expect("string")
}

#[test]
fn every_vector_and_every_check_agrees_with_the_official_library() {
    let doc = fixture();
    let token = s(&doc["auth_token"]);
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 10, "the fixture has all its vectors");
    let (mut valid, mut invalid) = (0, 0);
    for v in vectors {
        let name = s(&v["name"]);
        let params: Vec<(String, String)> = v["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| (s(&p[0]).to_owned(), s(&p[1]).to_owned()))
            .collect();
        // Our decoder reads the body back into exactly the fields signed.
        let decoded = form::parse(s(&v["body"]).as_bytes()).expect("body decodes");
        assert_eq!(decoded.fields, params, "{name}: body round trip");
        assert_eq!(signature::compute(token, s(&v["url"]), &params), s(&v["signature"]), "{name}: compute");
        for c in v["checks"].as_array().expect("checks") {
            let fields = form::parse(s(&c["body"]).as_bytes()).expect("check body decodes").fields;
            let want = c["valid"].as_bool().expect("valid");
            let got = signature::verify(token, s(&c["url"]), &fields, s(&c["signature"]));
            assert_eq!(got, want, "{name} / {}: url {}", s(&c["what"]), s(&c["url"]));
            if want {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
    }
    assert!(valid >= 30 && invalid >= 80, "both verdicts exercised: {valid} valid, {invalid} invalid");
}

#[test]
fn a_signature_made_with_another_token_never_verifies() {
    let doc = fixture();
    for v in doc["vectors"].as_array().expect("vectors") {
        let fields = form::parse(s(&v["body"]).as_bytes()).expect("decodes").fields;
        assert!(!signature::verify("not-the-token", s(&v["url"]), &fields, s(&v["signature"])));
        assert!(!signature::verify("", s(&v["url"]), &fields, s(&v["signature"])));
    }
}
