//! Strict `application/x-www-form-urlencoded` decoding for webhook bodies.
//!
//! Unlike lenient decoders (which replace bad bytes with U+FFFD), this one
//! rejects a body whose names or values do not decode to UTF-8 or carry a
//! broken `%` escape: the signature would be checked over altered text, and
//! a tenant's words would be stored altered.

use percent_encoding::percent_decode;
use std::fmt;

/// Why a form body was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A name or value is not UTF-8 once decoded.
    NotUtf8,
    /// A name is empty (`=value`).
    EmptyName,
    /// Too many fields.
    TooManyFields(usize),
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadEscape => f.write_str("the form body has a malformed %-escape"),
            FormError::NotUtf8 => f.write_str("the form body does not decode to UTF-8"),
            FormError::EmptyName => f.write_str("the form body has a field without a name"),
            FormError::TooManyFields(n) => write!(f, "the form body has more than {n} fields"),
        }
    }
}

impl std::error::Error for FormError {}

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

    /// Every value of a field, in body order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn decode(part: &[u8]) -> Result<String, FormError> {
    // `+` is a space in forms; a literal plus arrives as %2B.
    let spaced: Vec<u8> = part.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
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
        let name = decode(name)?;
        if name.is_empty() {
            return Err(FormError::EmptyName);
        }
        fields.push((name, decode(value)?));
    }
    Ok(Form { fields })
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
        assert_eq!(f.get_all("Body").collect::<Vec<_>>(), vec!["Stop now!", "x"]);
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
}
