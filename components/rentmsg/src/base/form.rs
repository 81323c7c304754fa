//! Strict percent-decoding: `application/x-www-form-urlencoded` bodies
//! (SMS webhooks, the payment page's forms), URL query strings and path
//! segments (the staff API).
//!
//! Unlike lenient decoders (which replace bad bytes with U+FFFD), this one
//! rejects text whose names or values do not decode to UTF-8 or carry a
//! broken `%` escape: a webhook signature would be checked over altered
//! text, a tenant's words would be stored altered, and a staff filter would
//! silently match something else.

use percent_encoding::percent_decode;

/// Why a form body, query string or path segment was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    #[error("the form body has a malformed %-escape")]
    BadEscape,
    /// A name or value is not UTF-8 once decoded.
    #[error("the form body does not decode to UTF-8")]
    NotUtf8,
    /// A name is empty (`=value`).
    #[error("the form body has a field without a name")]
    EmptyName,
    /// More fields than [`MAX_FIELDS`].
    #[error("the form body has more than {0} fields")]
    TooManyFields(usize),
}

/// Most fields accepted in one webhook body (Twilio sends about 20).
pub const MAX_FIELDS: usize = 200;

/// Decoded form fields in body order; names may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// `(name, value)` pairs.
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn decode(part: &[u8], plus_is_space: bool) -> Result<String, FormError> {
    // `+` is a space in forms and queries; a literal plus arrives as %2B.
    let spaced: Vec<u8> = part.iter().map(|&b| if plus_is_space && b == b'+' { b' ' } else { b }).collect();
    let mut i = 0;
    while let Some(pos) = spaced[i..].iter().position(|&b| b == b'%') {
        let at = i + pos;
        let hex = spaced.get(at + 1..at + 3).ok_or(FormError::BadEscape)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(FormError::BadEscape);
        }
        i = at + 3;
    }
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| FormError::NotUtf8)
}

/// Decode a form body. Empty pairs (`a=1&&b=2`) are skipped; a pair without
/// `=` is a name with an empty value.
pub fn parse(body: &[u8]) -> Result<Form, FormError> {
    let mut fields = Vec::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        if fields.len() == MAX_FIELDS {
            return Err(FormError::TooManyFields(MAX_FIELDS));
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode(name, true)?;
        if name.is_empty() {
            return Err(FormError::EmptyName);
        }
        fields.push((name, decode(value, true)?));
    }
    Ok(Form { fields })
}

/// Decode a URL query string (without the `?`). `+` is a space, as in a
/// form body. Unlike [`parse`], a field without a name (`=x`) is kept with
/// an empty name and the number of fields is not capped: staff API queries
/// have always been read that way, and unknown names are ignored anyway.
pub fn parse_query(query: &str) -> Result<Form, FormError> {
    let mut fields = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.push((decode(name.as_bytes(), true)?, decode(value.as_bytes(), true)?));
    }
    Ok(Form { fields })
}

/// Decode one URL path segment: `%XX` escapes only, and `+` stays a plus,
/// so `/api/sms-numbers/+14155552671` names the number as typed.
pub fn decode_path_segment(segment: &str) -> Result<String, FormError> {
    decode(segment.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(f: &Form) -> Vec<(&str, &str)> {
        f.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn decodes_twilio_style_bodies() {
        let f = parse(b"From=%2B14155552671&Body=Stop+now%21&Body=x&Empty=&Flag").unwrap();
        assert_eq!(pairs(&f), vec![("From", "+14155552671"), ("Body", "Stop now!"), ("Body", "x"), ("Empty", ""), ("Flag", "")]);
        assert_eq!(f.get("Body"), Some("Stop now!"));
        assert_eq!(f.get("Nope"), None);
        let unicode = parse("Body=St%C3%B6p+%E2%9C%8B".as_bytes()).unwrap();
        assert_eq!(unicode.get("Body"), Some("Stöp ✋"));
        assert_eq!(parse(b"").unwrap(), Form::default());
        assert_eq!(pairs(&parse(b"a=1&&b=2&").unwrap()), vec![("a", "1"), ("b", "2")]);
        // Only the first `=` splits.
        assert_eq!(parse(b"a=b=c").unwrap().get("a"), Some("b=c"));
    }

    #[test]
    fn rejects_what_cannot_be_decoded_faithfully() {
        assert_eq!(parse(b"Body=%FF%FE"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"Body=\xff"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"Body=%C3"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"Body=100%"), Err(FormError::BadEscape));
        assert_eq!(parse(b"Body=%2"), Err(FormError::BadEscape));
        assert_eq!(parse(b"Body=%zz"), Err(FormError::BadEscape));
        assert_eq!(parse(b"=x"), Err(FormError::EmptyName));
        let many = vec!["a=1"; MAX_FIELDS + 1].join("&");
        assert_eq!(parse(many.as_bytes()), Err(FormError::TooManyFields(MAX_FIELDS)));
    }

    #[test]
    fn query_strings_read_plus_as_space_and_keep_what_forms_refuse() {
        let q = parse_query("a+b=c+d&email=pat%40example.com&=x&flag").unwrap();
        assert_eq!(pairs(&q), vec![("a b", "c d"), ("email", "pat@example.com"), ("", "x"), ("flag", "")]);
        assert_eq!(parse_query("p=%2B1415").unwrap().get("p"), Some("+1415"));
        let many = vec!["a=1"; MAX_FIELDS + 1].join("&");
        assert_eq!(parse_query(&many).unwrap().fields.len(), MAX_FIELDS + 1);
        assert_eq!(parse_query("a=%zz"), Err(FormError::BadEscape));
        assert_eq!(parse_query("a=%ff"), Err(FormError::NotUtf8));
    }

    #[test]
    fn path_segments_keep_plus() {
        assert_eq!(decode_path_segment("%2B1415").as_deref(), Ok("+1415"));
        assert_eq!(decode_path_segment("+1415").as_deref(), Ok("+1415"));
        assert_eq!(decode_path_segment("a+b").as_deref(), Ok("a+b"));
        assert_eq!(decode_path_segment("pat%40example.com").as_deref(), Ok("pat@example.com"));
        assert_eq!(decode_path_segment("%zz"), Err(FormError::BadEscape));
        assert_eq!(decode_path_segment("%2"), Err(FormError::BadEscape));
        assert_eq!(decode_path_segment("%ff"), Err(FormError::NotUtf8));
    }
}
