//! Dates and timestamps. The clock is always passed in; nothing here reads it.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;

/// The stored form of an instant: RFC 3339 in UTC with milliseconds
/// (`2024-05-01T13:45:00.000Z`), which sorts as text.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse a stored timestamp back.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Parse a strict ISO date `YYYY-MM-DD` (zero-padded, nothing else).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(format!("`{s}` is not a date in YYYY-MM-DD form"));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a real calendar date"))
}

/// The stored form of a date.
pub fn date_string(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The calendar date at `now` in time zone `tz`.
pub fn local_date(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates() {
        let cases: &[(&str, Option<(i32, u32, u32)>)] = &[
            ("2024-02-29", Some((2024, 2, 29))),
            (" 2024-01-05 ", Some((2024, 1, 5))),
            ("2023-02-29", None),
            ("2024-1-5", None),
            ("2024/01/05", None),
            ("01/05/2024", None),
            ("2024-13-01", None),
            ("", None),
            ("2024-01-05T00:00:00", None),
        ];
        for (input, want) in cases {
            let got = parse_date(input).ok();
            let want = want.map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap());
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn timestamps_round_trip_and_local_dates() {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 3, 30, 0).unwrap();
        assert_eq!(timestamp(t), "2024-05-01T03:30:00.000Z");
        assert_eq!(parse_timestamp(&timestamp(t)), Some(t));
        // 03:30 UTC is still the previous evening in New York.
        assert_eq!(local_date(t, chrono_tz::America::New_York), NaiveDate::from_ymd_opt(2024, 4, 30).unwrap());
        assert_eq!(local_date(t, chrono_tz::Europe::Paris), NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
    }
}
