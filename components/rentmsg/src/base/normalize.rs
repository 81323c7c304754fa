//! Normalising imported values: phone numbers (E.164), emails, countries,
//! states, IANA time zones and identifiers. Each function returns the stored
//! form or a short reason suitable for a rejected CSV row.

use chrono_tz::Tz;
use phonenumber::country::Id as CountryId;
use phonenumber::Mode;
use std::str::FromStr;

/// Country used for phone numbers when neither the row nor the property has one.
pub const DEFAULT_COUNTRY: &str = "US";

/// An ISO 3166-1 alpha-2 country code (case-insensitive), upper-cased.
/// Empty → `None`.
pub fn country(raw: &str) -> Result<Option<String>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let upper = s.to_ascii_uppercase();
    if upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase()) && CountryId::from_str(&upper).is_ok() {
        Ok(Some(upper))
    } else {
        Err(format!("country `{s}` is not an ISO 3166 two-letter code like US or CA"))
    }
}

/// A state / province code: 1–3 letters or digits (ISO 3166-2 subdivision
/// style, e.g. `MA`, `ON`, `QC`), upper-cased. Empty → `None`.
pub fn state(raw: &str) -> Result<Option<String>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(Some(s.to_ascii_uppercase()))
    } else {
        Err(format!("state `{s}` is not a state or province code like MA or ON"))
    }
}

/// A phone number in E.164 form (`+15551234567`). `country` (alpha-2) is
/// used for numbers written without a `+` country prefix. Extensions are
/// dropped: E.164 has none and texts cannot use them. Validated by
/// [`parse_phone`], here or (feature `phone-client`) in the phone-numbers
/// component through its WIT import.
pub fn phone_e164(raw: &str, country: &str) -> Result<String, String> {
    #[cfg(feature = "phone-client")]
    return super::phone_client::e164(raw, country);
    #[cfg(not(feature = "phone-client"))]
    return parse_phone(raw, country);
}

/// [`phone_e164`] by the numbering plan's metadata, in this process.
pub fn parse_phone(raw: &str, country: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("phone number is empty".into());
    }
    if s.len() > 40 {
        return Err("phone number is too long".into());
    }
    let id = CountryId::from_str(country).map_err(|_| format!("unknown country `{country}` for phone numbers"))?;
    let number = phonenumber::parse(Some(id), s).map_err(|_| format!("`{s}` is not a phone number"))?;
    if !phonenumber::is_valid(&number) {
        return Err(format!("`{s}` is not a valid phone number for {country}"));
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// Is `s` shaped like an E.164 number (`+`, then up to 15 digits, the
/// first not 0)? Shape only: [`phone_e164`] is the validation.
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}

/// A reasonable email check (not full RFC 5322): one `@`, a non-empty local
/// part without spaces or control characters, a domain of at least two
/// dot-separated labels of letters, digits and hyphens. Returned lower-cased
/// so that matching (exclusions, unsubscribes) is case-insensitive.
pub fn email(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let bad = || format!("`{s}` is not an email address");
    if s.is_empty() {
        return Err("email address is empty".into());
    }
    if s.len() > 254 {
        return Err("email address is too long".into());
    }
    let (local, domain) = s.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || local.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    if !labels_ok {
        return Err(bad());
    }
    Ok(s.to_lowercase())
}

/// An IANA time zone name (`America/New_York`), exact spelling.
pub fn time_zone(raw: &str) -> Result<Tz, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("time zone is empty".into());
    }
    Tz::from_str(s).map_err(|_| format!("time zone `{s}` is not an IANA name like America/New_York"))
}

/// An identifier from the AR system (property, tenant, ledger reference):
/// non-empty after trimming, at most 128 characters, no control characters.
pub fn identifier(raw: &str, field: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(format!("{field} is required"));
    }
    if s.chars().count() > 128 {
        return Err(format!("{field} is longer than 128 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(s.to_owned())
}

/// Free text with a length limit; empty → `None`.
pub fn optional_text(raw: &str, field: &str, max_chars: usize) -> Result<Option<String>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > max_chars {
        return Err(format!("{field} is longer than {max_chars} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(Some(s.to_owned()))
}

/// Does this look like an email address (vs a phone number)?
pub fn looks_like_email(address: &str) -> bool {
    address.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("(415) 555-2671", "US", Some("+14155552671")),
            ("415.555.2671", "US", Some("+14155552671")),
            ("4155552671", "US", Some("+14155552671")),
            ("1-415-555-2671", "US", Some("+14155552671")),
            ("+1 415 555 2671", "US", Some("+14155552671")),
            ("+1 415 555 2671", "GB", Some("+14155552671")),
            ("415-555-2671 x12", "US", Some("+14155552671")),
            ("(416) 555-0199", "CA", Some("+14165550199")),
            ("020 7946 0958", "GB", Some("+442079460958")),
            ("+44 20 7946 0958", "US", Some("+442079460958")),
            ("06 12 34 56 78", "FR", Some("+33612345678")),
            ("555-1234", "US", None),
            ("123", "US", None),
            ("(000) 555-2671", "US", None),
            ("not a phone", "US", None),
            ("", "US", None),
            ("4155552671", "XX", None),
        ];
        for (raw, country, want) in cases {
            let got = phone_e164(raw, country).ok();
            assert_eq!(got.as_deref(), *want, "{raw:?} in {country}");
        }
    }

    // Any text a person or a file can put in a phone cell is answered with
    // a number or a reason, never a panic (a trapped request): the parser
    // is third-party code running on untrusted text in every import.
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]
        #[test]
        fn any_phone_text_gets_an_answer(raw in "[0-9+()x#*. \\-]{0,24}|\\PC{0,40}", country in "US|CA|GB|FR|MX|[A-Z]{2}|\\PC{0,3}") {
            if let Ok(e164) = parse_phone(&raw, &country) {
                proptest::prop_assert!(is_e164(&e164), "{raw:?} in {country:?} gave {e164:?}");
            }
        }
    }

    #[test]
    fn e164_shape() {
        for ok in ["+14155552671", "+442079460958", "+33612345678", "+1"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in ["14155552671", "(415) 555-2671", "+1 415 555 2671", "+0412345678", "+1234567890123456", "+", "", "pat@example.com"] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn email_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("pat@example.com", Some("pat@example.com")),
            ("  Pat.Smith+rent@Example.CO.uk ", Some("pat.smith+rent@example.co.uk")),
            ("o'brien@mail.example.org", Some("o'brien@mail.example.org")),
            ("pat@localhost", None),
            ("pat@@example.com", None),
            ("pat@exa mple.com", None),
            ("pat example@example.com", None),
            ("@example.com", None),
            ("pat@", None),
            ("pat@-example.com", None),
            ("pat@example.c0m", None),
            (".pat@example.com", None),
            ("pa..t@example.com", None),
            ("pat", None),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(email(raw).ok().as_deref(), *want, "{raw:?}");
        }
    }

    #[test]
    fn zones_countries_states() {
        assert_eq!(time_zone("America/New_York").unwrap(), chrono_tz::America::New_York);
        assert_eq!(time_zone(" America/Toronto ").unwrap(), chrono_tz::America::Toronto);
        assert!(time_zone("Eastern").is_err());
        assert!(time_zone("america/new_york").is_err());
        assert!(time_zone("").is_err());
        assert_eq!(country("us").unwrap().as_deref(), Some("US"));
        assert_eq!(country(" CA ").unwrap().as_deref(), Some("CA"));
        assert_eq!(country("").unwrap(), None);
        assert!(country("USA").is_err());
        assert!(country("ZZ").is_err());
        assert_eq!(state("ma").unwrap().as_deref(), Some("MA"));
        assert_eq!(state("").unwrap(), None);
        assert!(state("Massachusetts").is_err());
        assert!(state("M A").is_err());
    }

    #[test]
    fn identifiers() {
        assert_eq!(identifier(" T-1 ", "tenant_id").unwrap(), "T-1");
        assert_eq!(identifier("", "tenant_id").unwrap_err(), "tenant_id is required");
        assert!(identifier(&"x".repeat(129), "tenant_id").is_err());
        assert!(identifier("a\u{7}b", "tenant_id").is_err());
        assert_eq!(optional_text("  ", "unit", 10).unwrap(), None);
        assert!(optional_text("12345678901", "unit", 10).is_err());
    }
}
