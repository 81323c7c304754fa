//! Money as integer cents. Never floats.
//!
//! Accepted amount text (after trimming surrounding whitespace):
//! - an optional sign `+` or `-`;
//! - an integer part of digits, optionally grouped by commas in the US
//!   style (`1,234,567`: first group 1–3 digits, then groups of exactly 3);
//! - optionally `.` followed by one or two digits (`12.5` is 12.50).
//!
//! Rejected: empty text, currency symbols, spaces inside, more than two
//! decimals (`12.345`: no silent rounding), a comma as the decimal mark
//! (`12,50`: ambiguous), a bare `.5` or `5.`, exponents, and magnitudes of
//! 10^12 major units or more.

use crate::base::locale::{Currency, Language};

/// Why an amount does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing but whitespace.
    #[error("amount is empty")]
    Empty,
    /// More than two digits after the decimal point.
    #[error("amount `{0}` has more than two decimal places")]
    TooManyDecimals(String),
    /// Digit grouping commas in the wrong places.
    #[error("amount `{0}` has misplaced thousands separators (use 1,234.56 or 1234.56)")]
    BadGrouping(String),
    /// Not a number in the accepted form.
    #[error("amount `{0}` is not a number like 1234.56")]
    NotANumber(String),
    /// At least 10^12 major units.
    #[error("amount `{0}` is too large")]
    TooLarge(String),
}

/// Largest accepted magnitude in cents (just under 10^12 major units).
const MAX_CENTS: i64 = 100_000_000_000_000 - 1;

/// Parse an amount in major units (e.g. dollars) into cents.
pub fn parse_cents(text: &str) -> Result<i64, MoneyError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(MoneyError::Empty);
    }
    let owned = || s.to_owned();
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if int_part.is_empty() {
        return Err(MoneyError::NotANumber(owned()));
    }
    // Integer part: digits, or comma-grouped digits.
    let digits: String = if int_part.contains(',') {
        let groups: Vec<&str> = int_part.split(',').collect();
        let first_ok = (1..=3).contains(&groups[0].len());
        let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
        let all_digits = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
        if !all_digits {
            return Err(MoneyError::NotANumber(owned()));
        }
        if !(first_ok && rest_ok) {
            return Err(MoneyError::BadGrouping(owned()));
        }
        groups.concat()
    } else {
        if !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NotANumber(owned()));
        }
        int_part.to_owned()
    };
    let frac_cents: i64 = match frac_part {
        None => 0,
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MoneyError::NotANumber(owned()));
            }
            match f.len() {
                1 => i64::from(f.as_bytes()[0] - b'0') * 10,
                2 => i64::from(f.as_bytes()[0] - b'0') * 10 + i64::from(f.as_bytes()[1] - b'0'),
                _ => return Err(MoneyError::TooManyDecimals(owned())),
            }
        }
    };
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 12 {
        return Err(MoneyError::TooLarge(owned()));
    }
    let units: i64 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().map_err(|_| MoneyError::NotANumber(owned()))?
    };
    let cents = units
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac_cents))
        .filter(|c| *c <= MAX_CENTS)
        .ok_or_else(|| MoneyError::TooLarge(owned()))?;
    Ok(if negative { -cents } else { cents })
}

/// Parse an amount as a reader of `lang` types it into a form: a `$`
/// before or after is ignored; French also writes a decimal comma and
/// groups with spaces (`150,00`, `1 234,56`). `150.00` reads the same in
/// every language. In French a comma followed by three digits (`1,234`)
/// is refused: it could be either mark.
pub fn parse_cents_in(text: &str, lang: Language) -> Result<i64, MoneyError> {
    let t = text.trim().trim_start_matches('$').trim_end_matches('$').trim();
    if lang != Language::Fr {
        return parse_cents(t);
    }
    let compact: String = t.chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}')).collect();
    if compact.contains('.') {
        return parse_cents(&compact);
    }
    match compact.split_once(',') {
        None => parse_cents(&compact),
        Some((whole, frac)) if (1..=2).contains(&frac.len()) && !frac.contains(',') => parse_cents(&format!("{whole}.{frac}")),
        Some((_, frac)) if frac.len() > 2 && frac.bytes().all(|b| b.is_ascii_digit()) => Err(MoneyError::TooManyDecimals(t.to_owned())),
        Some(_) => Err(MoneyError::NotANumber(t.to_owned())),
    }
}

/// Format cents as English-speaking US readers read money: `$1,234.56`,
/// `-$5.00` (the staff API and console). Without the `$` the text parses back
/// with [`parse_cents`] (US digit grouping is accepted there).
pub fn format_money(cents: i64) -> String {
    format_amount(cents, Language::En, Currency::Usd)
}

/// Format cents for a reader of `lang` in `currency`; the one money
/// formatter.
///
/// - English and Spanish (as written in the US): `$1,234.56`; French:
///   `1 234,56 $`, grouped with a plain space because GSM-7 texts have no
///   no-break space (pages keep an amount on one line with CSS).
/// - A bare `$` is the dollar of the language's home market here: USD for
///   English and Spanish, CAD for French (Quebec). The other dollar is
///   marked so nobody can mistake it: `CA$1,234.56` in English and Spanish,
///   `1 234,56 $ US` in French. A property has one currency, so a tenant only
///   ever sees one; reports that list both also name each total's code.
pub fn format_amount(cents: i64, lang: Language, currency: Currency) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let (group, decimal) = match lang {
        Language::En | Language::Es => (',', '.'),
        Language::Fr => (' ', ','),
    };
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(group);
        }
        grouped.push(ch);
    }
    let number = format!("{grouped}{decimal}{:02}", abs % 100);
    match (lang, currency) {
        (Language::En | Language::Es, Currency::Usd) => format!("{sign}${number}"),
        (Language::En | Language::Es, Currency::Cad) => format!("{sign}CA${number}"),
        (Language::Fr, Currency::Cad) => format!("{sign}{number} $"),
        (Language::Fr, Currency::Usd) => format!("{sign}{number} $ US"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        use MoneyError::*;
        let cases: &[(&str, Result<i64, fn(String) -> MoneyError>)] = &[
            ("12", Ok(1200)),
            ("12.5", Ok(1250)),
            ("12.50", Ok(1250)),
            ("12.05", Ok(1205)),
            ("0.01", Ok(1)),
            ("0", Ok(0)),
            ("-3", Ok(-300)),
            ("+3.10", Ok(310)),
            ("  42.00 ", Ok(4200)),
            ("1,234.00", Ok(123_400)),
            ("1,234,567.89", Ok(123_456_789)),
            ("007.10", Ok(710)),
            ("999999999999.99", Ok(99_999_999_999_999)),
            ("12.345", Err(TooManyDecimals)),
            ("0.001", Err(TooManyDecimals)),
            ("12,50", Err(BadGrouping)),
            ("1,23.00", Err(BadGrouping)),
            ("1234,567", Err(BadGrouping)),
            (",123", Err(BadGrouping)),
            ("$12", Err(NotANumber)),
            ("12 00", Err(NotANumber)),
            ("1e3", Err(NotANumber)),
            (".5", Err(NotANumber)),
            ("5.", Err(NotANumber)),
            ("1.2.3", Err(NotANumber)),
            ("-", Err(NotANumber)),
            ("--3", Err(NotANumber)),
            ("abc", Err(NotANumber)),
            ("١٢", Err(NotANumber)),
            ("1000000000000", Err(TooLarge)),
            ("99999999999999999999999", Err(TooLarge)),
        ];
        for (input, want) in cases {
            let got = parse_cents(input);
            match want {
                Ok(c) => assert_eq!(got, Ok(*c), "{input:?}"),
                Err(make) => assert_eq!(got, Err(make(input.trim().to_owned())), "{input:?}"),
            }
        }
        assert_eq!(parse_cents("   "), Err(Empty));
    }

    #[test]
    fn format_round_trips() {
        for cents in [0, 1, 5, 99, 100, 123_456, -5, -123_456, 99_999_999_999_999] {
            assert_eq!(parse_cents(&format_money(cents).replacen('$', "", 1)), Ok(cents), "{cents}");
        }
        assert_eq!(format_money(0), "$0.00");
        assert_eq!(format_money(5), "$0.05");
        assert_eq!(format_money(-5), "-$0.05");
        assert_eq!(format_money(123_456), "$1,234.56");
        assert_eq!(format_money(100_000_000), "$1,000,000.00");
        assert_eq!(format_money(-500), "-$5.00");
    }

    #[test]
    fn french_readers_type_a_decimal_comma() {
        use Language::*;
        for (text, lang, want) in [
            ("150,00", Fr, Ok(15_000)),
            ("150.00", Fr, Ok(15_000)),
            ("150,5", Fr, Ok(15_050)),
            ("1 234,56", Fr, Ok(123_456)),
            ("1\u{a0}234,56 $", Fr, Ok(123_456)),
            ("150", Fr, Ok(15_000)),
            ("150.00", En, Ok(15_000)),
            ("$150.00", Es, Ok(15_000)),
            ("150,00", En, Err(MoneyError::BadGrouping("150,00".into()))),
            ("1,234", Fr, Err(MoneyError::TooManyDecimals("1,234".into()))),
            ("1,2,3", Fr, Err(MoneyError::NotANumber("1,2,3".into()))),
        ] {
            assert_eq!(parse_cents_in(text, lang), want, "{text:?} {lang}");
        }
    }

    #[test]
    fn formats_per_language_and_currency() {
        use Currency::*;
        use Language::*;
        let cases = [
            (12_500, En, Usd, "$125.00"),
            (12_500, Es, Usd, "$125.00"),
            (12_500, Fr, Cad, "125,00 $"),
            (12_500, Fr, Usd, "125,00 $ US"),
            (12_500, En, Cad, "CA$125.00"),
            (12_500, Es, Cad, "CA$125.00"),
            (123_456_789, Fr, Cad, "1 234 567,89 $"),
            (123_456, En, Usd, "$1,234.56"),
            (-500, Fr, Cad, "-5,00 $"),
            (-500, En, Cad, "-CA$5.00"),
        ];
        for (cents, lang, cur, want) in cases {
            assert_eq!(format_amount(cents, lang, cur), want, "{cents} {lang} {cur:?}");
        }
    }
}
