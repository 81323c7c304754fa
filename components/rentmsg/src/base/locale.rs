//! The languages tenants read and write (English, Spanish, French) and the
//! currencies balances are kept in (US and Canadian dollars), with their
//! defaults: a property in Quebec speaks French, every other one English; a
//! property in Canada bills in CAD, every other one in USD.

use serde::{Deserialize, Serialize};

/// A language a tenant reads notices, pages and replies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English (the fallback of every text).
    #[default]
    En,
    /// Spanish.
    Es,
    /// French.
    Fr,
}

/// Why a language tag is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanguageError {
    /// Not a BCP 47 tag of a language the product speaks.
    #[error("language `{0}` is not supported (use en, es or fr; tags like es-MX or fr-CA are read as their language)")]
    Unsupported(String),
}

impl Language {
    /// Every language, English first.
    pub const ALL: [Language; 3] = [Language::En, Language::Es, Language::Fr];

    /// Stored / wire name, the BCP 47 primary subtag (`<html lang>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::Fr => "fr",
        }
    }

    /// The language's own name, as a switcher link shows it.
    pub fn endonym(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Español",
            Language::Fr => "Français",
        }
    }

    /// Read a BCP 47 tag: its primary subtag decides (`es-MX` is Spanish,
    /// `fr_CA` too, any case); anything else is refused.
    pub fn parse_tag(tag: &str) -> Result<Language, LanguageError> {
        let t = tag.trim();
        let primary = t.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        let lang = match primary.as_str() {
            "en" => Language::En,
            "es" => Language::Es,
            "fr" => Language::Fr,
            _ => return Err(LanguageError::Unsupported(t.to_owned())),
        };
        // The rest must still look like subtags, so `fr-!!` is not French.
        let rest_ok = t.split(['-', '_']).skip(1).all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()));
        if rest_ok {
            Ok(lang)
        } else {
            Err(LanguageError::Unsupported(t.to_owned()))
        }
    }

    /// The default language of a property: French in Quebec, else English.
    pub fn for_property(state: Option<&str>, country: Option<&str>) -> Language {
        let quebec = state.is_some_and(|s| s.eq_ignore_ascii_case("QC")) && country.is_none_or(|c| c.eq_ignore_ascii_case("CA"));
        if quebec {
            Language::Fr
        } else {
            Language::En
        }
    }
}

impl std::str::FromStr for Language {
    type Err = LanguageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::parse_tag(s)
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A currency balances are kept and charged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// US dollar.
    #[default]
    Usd,
    /// Canadian dollar.
    Cad,
}

/// Why a currency code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    /// Not USD or CAD.
    #[error("currency `{0}` is not supported (use USD or CAD)")]
    Unsupported(String),
}

impl Currency {
    /// Every currency.
    pub const ALL: [Currency; 2] = [Currency::Usd, Currency::Cad];

    /// ISO 4217 code, upper case (stored form).
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Cad => "CAD",
        }
    }

    /// The default currency of a property in `country`: CAD in Canada, else USD.
    pub fn for_country(country: Option<&str>) -> Currency {
        if country.is_some_and(|c| c.eq_ignore_ascii_case("CA")) {
            Currency::Cad
        } else {
            Currency::Usd
        }
    }
}

impl std::str::FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "USD" => Ok(Currency::Usd),
            "CAD" => Ok(Currency::Cad),
            _ => Err(CurrencyError::Unsupported(s.trim().to_owned())),
        }
    }
}

/// A date written out for readers of `lang`: `June 7, 2024`,
/// `7 de junio de 2024`, `7 juin 2024`.
pub fn long_date(lang: Language, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    const ES: [&str; 12] =
        ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"];
    const FR: [&str; 12] =
        ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];
    let m = d.month0() as usize;
    match lang {
        Language::En => d.format("%B %-d, %Y").to_string(),
        Language::Es => format!("{} de {} de {}", d.day(), ES[m], d.year()),
        // French writes the first of the month as an ordinal.
        Language::Fr if d.day() == 1 => format!("1er {} {}", FR[m], d.year()),
        Language::Fr => format!("{} {} {}", d.day(), FR[m], d.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_reduce_to_languages() {
        for (tag, want) in [("en", Language::En), ("EN-us", Language::En), ("es-MX", Language::Es), ("es_419", Language::Es), ("fr-CA", Language::Fr), (" fr ", Language::Fr)] {
            assert_eq!(Language::parse_tag(tag), Ok(want), "{tag}");
        }
        for bad in ["", "de", "english", "e", "fr-!!", "pt-BR", "es--"] {
            assert!(Language::parse_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn property_defaults() {
        assert_eq!(Language::for_property(Some("QC"), Some("CA")), Language::Fr);
        assert_eq!(Language::for_property(Some("qc"), None), Language::Fr);
        assert_eq!(Language::for_property(Some("ON"), Some("CA")), Language::En);
        assert_eq!(Language::for_property(None, None), Language::En);
        assert_eq!(Currency::for_country(Some("CA")), Currency::Cad);
        assert_eq!(Currency::for_country(Some("US")), Currency::Usd);
        assert_eq!(Currency::for_country(None), Currency::Usd);
        assert_eq!("cad".parse::<Currency>(), Ok(Currency::Cad));
        assert!("EUR".parse::<Currency>().is_err());
    }

    #[test]
    fn dates_per_language() {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 6, 7).unwrap();
        assert_eq!(long_date(Language::En, d), "June 7, 2024");
        assert_eq!(long_date(Language::Es, d), "7 de junio de 2024");
        assert_eq!(long_date(Language::Fr, d), "7 juin 2024");
        let first = chrono::NaiveDate::from_ymd_opt(2024, 8, 1).unwrap();
        assert_eq!(long_date(Language::Fr, first), "1er août 2024");
    }
}
