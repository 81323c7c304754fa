//! Legal contact hours: a daily window, per-weekday replacements (Ontario's
//! Sunday 13:00-17:00, Québec's closed Sunday) and closed holidays, all in a
//! local time zone. Evaluated with the zone's real rules (`base::time`), so a
//! window holds in local wall-clock time across DST changes.

use crate::base::time;
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use std::fmt;

/// A local time span `from` (inclusive) to `to` (exclusive), same day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start, inclusive.
    pub from: NaiveTime,
    /// End, exclusive.
    pub to: NaiveTime,
}

impl Span {
    /// Parse `HH:MM-HH:MM` (24-hour clock, start before end).
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        let (a, b) = s.split_once('-').ok_or_else(|| format!("`{s}` is not a span like 08:00-21:00"))?;
        let from = parse_hm(a)?;
        let to = parse_hm(b)?;
        if from >= to {
            return Err(format!("`{s}`: the start must be before the end"));
        }
        Ok(Span { from, to })
    }

    fn contains(&self, t: NaiveTime) -> bool {
        self.from <= t && t < self.to
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.from.format("%H:%M"), self.to.format("%H:%M"))
    }
}

fn parse_hm(s: &str) -> Result<NaiveTime, String> {
    let s = s.trim();
    let b = s.as_bytes();
    let shaped = b.len() == 5 && b[2] == b':' && b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit());
    if s == "24:00" {
        // End of day: the last representable instant of the day.
        return NaiveTime::from_hms_milli_opt(23, 59, 59, 999).ok_or_else(|| "24:00".to_owned());
    }
    if !shaped {
        return Err(format!("`{s}` is not a time like 08:00"));
    }
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("`{s}` is not a time of day"))
}

/// What one weekday allows, replacing the daily window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// No contact that day.
    Closed,
    /// Only this span that day.
    Open(Span),
}

/// A recurring holiday, as data.
///
/// Forms: `MM-DD` (fixed date); `MM/ddd#N` (N-th weekday of the month, N 1-5
/// or -1 for the last, e.g. `09/mon#1` Labour Day); `MM-DD/ddd<` (the last
/// weekday before a date, e.g. `05-25/mon<` Victoria Day); `easter+N` /
/// `easter-N` (days from Western Easter Sunday, e.g. `easter-2` Good Friday);
/// `MM-DD/ddd>N` (a moved holiday: in the years the date falls on that
/// weekday, the day N days after it, 1-7; e.g. `07-01/sun>1`, Canada Day on
/// July 2 when July 1 is a Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    /// The same date every year.
    Fixed {
        /// Month 1-12.
        month: u32,
        /// Day of month.
        day: u32,
    },
    /// The N-th (or last, n = -1) given weekday of a month.
    NthWeekday {
        /// Month 1-12.
        month: u32,
        /// The weekday counted.
        weekday: Weekday,
        /// 1-5, or -1 for the last.
        n: i8,
    },
    /// The last given weekday strictly before a date.
    WeekdayBefore {
        /// Month 1-12.
        month: u32,
        /// Day of month.
        day: u32,
        /// The weekday sought before that date.
        weekday: Weekday,
    },
    /// Days after (or before, negative) Easter Sunday.
    Easter {
        /// Offset in days.
        offset: i32,
    },
    /// The day `days` after a date, in the years that date falls on `when`.
    Moved {
        /// Month 1-12 of the date that moves.
        month: u32,
        /// Day of month of the date that moves.
        day: u32,
        /// The weekday that moves it.
        when: Weekday,
        /// Days after the date, 1-7.
        days: u8,
    },
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Ok(Weekday::Mon),
        "tue" => Ok(Weekday::Tue),
        "wed" => Ok(Weekday::Wed),
        "thu" => Ok(Weekday::Thu),
        "fri" => Ok(Weekday::Fri),
        "sat" => Ok(Weekday::Sat),
        "sun" => Ok(Weekday::Sun),
        other => Err(format!("`{other}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)")),
    }
}

/// The three-letter name of a weekday (`mon`...).
pub fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn parse_month_day(s: &str) -> Result<(u32, u32), String> {
    let (m, d) = s.split_once('-').ok_or_else(|| format!("`{s}` is not MM-DD"))?;
    let month: u32 = m.parse().map_err(|_| format!("`{s}` is not MM-DD"))?;
    let day: u32 = d.parse().map_err(|_| format!("`{s}` is not MM-DD"))?;
    // 2024 is a leap year, so 02-29 is accepted (it applies in leap years only).
    NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(|| format!("`{s}` is not a calendar day"))?;
    Ok((month, day))
}

impl Holiday {
    /// Parse one holiday spec (see the type's docs for the forms).
    pub fn parse(raw: &str) -> Result<Holiday, String> {
        let s = raw.trim().to_ascii_lowercase();
        if let Some(off) = s.strip_prefix("easter") {
            let offset = if off.is_empty() {
                0
            } else {
                off.parse::<i32>().map_err(|_| format!("`{raw}`: easter offset must be like easter-2 or easter+1"))?
            };
            if offset.abs() > 200 {
                return Err(format!("`{raw}`: easter offset is too large"));
            }
            return Ok(Holiday::Easter { offset });
        }
        if let Some((md, wd)) = s.split_once('/') {
            if let Some((wd, n)) = wd.split_once('>') {
                let (month, day) = parse_month_day(md)?;
                let days: u8 = n.parse().map_err(|_| format!("`{raw}`: the days after must be 1-7"))?;
                if !(1..=7).contains(&days) {
                    return Err(format!("`{raw}`: the days after must be 1-7"));
                }
                return Ok(Holiday::Moved { month, day, when: parse_weekday(wd)?, days });
            }
            if let Some(wd) = wd.strip_suffix('<') {
                let (month, day) = parse_month_day(md)?;
                return Ok(Holiday::WeekdayBefore { month, day, weekday: parse_weekday(wd)? });
            }
            let (wd, n) = wd.split_once('#').ok_or_else(|| format!("`{raw}`: expected MM/ddd#N or MM-DD/ddd<"))?;
            let month: u32 = md.parse().map_err(|_| format!("`{raw}`: bad month"))?;
            if !(1..=12).contains(&month) {
                return Err(format!("`{raw}`: bad month"));
            }
            let n: i8 = n.parse().map_err(|_| format!("`{raw}`: N must be 1-5 or -1"))?;
            if !(n == -1 || (1..=5).contains(&n)) {
                return Err(format!("`{raw}`: N must be 1-5 or -1"));
            }
            return Ok(Holiday::NthWeekday { month, weekday: parse_weekday(wd)?, n });
        }
        let (month, day) = parse_month_day(&s).map_err(|_| {
            format!("`{raw}` is not a holiday (MM-DD, MM/ddd#N, MM-DD/ddd<, MM-DD/ddd>N, easter+N)")
        })?;
        Ok(Holiday::Fixed { month, day })
    }

    /// The date of this holiday in `year`, if it falls in it.
    pub fn date_in(&self, year: i32) -> Option<NaiveDate> {
        match *self {
            Holiday::Fixed { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            Holiday::NthWeekday { month, weekday, n } => {
                if n > 0 {
                    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8)
                } else {
                    let first_next = if month == 12 {
                        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
                    } else {
                        NaiveDate::from_ymd_opt(year, month + 1, 1)?
                    };
                    let mut d = first_next.pred_opt()?;
                    while d.weekday() != weekday {
                        d = d.pred_opt()?;
                    }
                    Some(d)
                }
            }
            Holiday::WeekdayBefore { month, day, weekday } => {
                let mut d = NaiveDate::from_ymd_opt(year, month, day)?.pred_opt()?;
                while d.weekday() != weekday {
                    d = d.pred_opt()?;
                }
                Some(d)
            }
            Holiday::Easter { offset } => easter(year)?.checked_add_signed(Duration::days(i64::from(offset))),
            Holiday::Moved { month, day, when, days } => {
                let date = NaiveDate::from_ymd_opt(year, month, day)?;
                if date.weekday() == when {
                    date.checked_add_signed(Duration::days(i64::from(days)))
                } else {
                    None
                }
            }
        }
    }

    /// Is `date` this holiday?
    pub fn is_on(&self, date: NaiveDate) -> bool {
        // Easter offsets can cross a year boundary only by far-fetched offsets;
        // check the neighbouring years too so they are still exact.
        [date.year() - 1, date.year(), date.year() + 1].iter().any(|y| self.date_in(*y) == Some(date))
    }
}

impl fmt::Display for Holiday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Holiday::Fixed { month, day } => write!(f, "{month:02}-{day:02}"),
            Holiday::NthWeekday { month, weekday, n } => write!(f, "{month:02}/{}#{n}", weekday_name(weekday)),
            Holiday::WeekdayBefore { month, day, weekday } => {
                write!(f, "{month:02}-{day:02}/{}<", weekday_name(weekday))
            }
            Holiday::Moved { month, day, when, days } => write!(f, "{month:02}-{day:02}/{}>{days}", weekday_name(when)),
            Holiday::Easter { offset } if offset >= 0 => write!(f, "easter+{offset}"),
            Holiday::Easter { offset } => write!(f, "easter{offset}"),
        }
    }
}

/// Western (Gregorian) Easter Sunday: the anonymous Gregorian computus.
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// Contact hours: when contact is allowed, in local time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hours {
    /// The window on ordinary days; None = all day.
    pub daily: Option<Span>,
    /// Weekday replacements of the daily window (index: Monday = 0).
    pub days: [Option<DayRule>; 7],
    /// Days with no contact at all.
    pub holidays: Vec<Holiday>,
}

/// How far ahead [`Hours::next_open`] looks (covers a week of closed days
/// plus holidays next to it).
const LOOKAHEAD_DAYS: i64 = 21;

impl Hours {
    /// The span open on a local date, or None if closed all day.
    pub fn span_on(&self, date: NaiveDate) -> Option<Span> {
        if self.holidays.iter().any(|h| h.is_on(date)) {
            return None;
        }
        let all_day = Span { from: NaiveTime::MIN, to: NaiveTime::from_hms_milli_opt(23, 59, 59, 999)? };
        match self.days[date.weekday().num_days_from_monday() as usize] {
            Some(DayRule::Closed) => None,
            Some(DayRule::Open(span)) => Some(span),
            None => Some(self.daily.unwrap_or(all_day)),
        }
    }

    /// Is contact allowed at `t` in zone `tz`?
    pub fn allows(&self, t: DateTime<Utc>, tz: Tz) -> bool {
        let local = time::local(t, tz);
        self.span_on(local.date()).is_some_and(|s| s.contains(local.time()))
    }

    /// The first instant at or after `t` when contact is allowed in `tz`;
    /// None if closed for the whole lookahead.
    pub fn next_open(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.allows(t, tz) {
            return Some(t);
        }
        let local = time::local(t, tz);
        let mut date = local.date();
        for _ in 0..=LOOKAHEAD_DAYS {
            if let Some(span) = self.span_on(date) {
                let start = first_instant_at_or_after(date, span.from, tz)?;
                if start > t && self.allows(start, tz) {
                    return Some(start);
                }
            }
            date = date.succ_opt()?;
        }
        None
    }
}

/// The instant of local `date` + `time` in `tz`; during a DST gap (that
/// local time does not exist) the first instant after the gap; when the
/// local time happens twice, the earlier.
pub fn first_instant_at_or_after(date: NaiveDate, time: NaiveTime, tz: Tz) -> Option<DateTime<Utc>> {
    let mut naive = date.and_time(time);
    // Gaps are at most a few hours; step forward a minute at a time.
    for _ in 0..(24 * 60) {
        // The module, not the `time` argument.
        match crate::base::time::from_local(naive, tz) {
            LocalResult::Single(t) => return Some(t),
            LocalResult::Ambiguous(a, b) => return Some(a.min(b)),
            LocalResult::None => {
                naive += Duration::minutes(1);
                naive = naive.with_second_zero();
            }
        }
    }
    None
}

trait SecondZero {
    fn with_second_zero(self) -> Self;
}

impl SecondZero for chrono::NaiveDateTime {
    fn with_second_zero(self) -> Self {
        use chrono::Timelike;
        self.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(self)
    }
}

/// Local midnight starting `date` in `tz` (first instant of that date).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    first_instant_at_or_after(date, NaiveTime::MIN, tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::{New_York, Toronto};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_dates() {
        for (y, m, day) in [(2024, 3, 31), (2025, 4, 20), (2026, 4, 5), (2019, 4, 21), (2000, 4, 23), (2038, 4, 25)] {
            assert_eq!(easter(y), Some(d(y, m, day)), "{y}");
        }
    }

    #[test]
    fn holiday_specs_parse_and_resolve() {
        let cases: &[(&str, i32, NaiveDate)] = &[
            ("07-01", 2024, d(2024, 7, 1)),
            ("02/mon#3", 2024, d(2024, 2, 19)),  // Family Day
            ("09/mon#1", 2025, d(2025, 9, 1)),   // Labour Day
            ("10/mon#2", 2024, d(2024, 10, 14)), // Thanksgiving (CA)
            ("05/mon#-1", 2024, d(2024, 5, 27)), // Memorial Day
            ("05-25/mon<", 2024, d(2024, 5, 20)), // Victoria Day
            ("05-25/mon<", 2026, d(2026, 5, 18)),
            ("easter-2", 2024, d(2024, 3, 29)), // Good Friday
            ("easter+1", 2025, d(2025, 4, 21)), // Easter Monday
            ("07-01/sun>1", 2029, d(2029, 7, 2)), // 2029-07-01 is a Sunday
            ("12-25/sat>2", 2027, d(2027, 12, 27)), // 2027-12-25 is a Saturday
            ("12-25/sun>2", 2022, d(2022, 12, 27)), // 2022-12-25 is a Sunday
        ];
        for (spec, year, want) in cases {
            let h = Holiday::parse(spec).unwrap();
            assert_eq!(h.date_in(*year), Some(*want), "{spec}");
            assert!(h.is_on(*want));
            assert_eq!(Holiday::parse(&h.to_string()).unwrap(), h, "round trip {spec}");
        }
        // In the years the date is another weekday, the moved day does not exist.
        assert_eq!(Holiday::parse("07-01/sun>1").unwrap().date_in(2028), None);
        assert!(!Holiday::parse("07-01/sun>1").unwrap().is_on(d(2028, 7, 2)));
        for bad in ["13-01", "02-30", "x", "02/mon#6", "02/xyz#1", "easterx", "05-25/mon", "", "07-01/sun>0", "07-01/sun>8", "07-01/xyz>1", "07-01/sun>"] {
            assert!(Holiday::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_parse() {
        assert_eq!(Span::parse("08:00-21:00").unwrap().to_string(), "08:00-21:00");
        assert!(Span::parse("21:00-08:00").is_err());
        assert!(Span::parse("8:00-21:00").is_err());
        assert!(Span::parse("08:00").is_err());
        assert!(Span::parse("08:00-25:00").is_err());
        assert!(Span::parse("00:00-24:00").is_ok());
    }

    #[test]
    fn window_across_dst() {
        let hours = Hours { daily: Some(Span::parse("08:00-21:00").unwrap()), ..Default::default() };
        // 2024-03-10 is the US spring-forward day: 08:00 EDT = 12:00 UTC (not 13:00).
        let before = Utc.with_ymd_and_hms(2024, 3, 10, 11, 59, 0).unwrap();
        let open = Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap();
        assert!(!hours.allows(before, New_York));
        assert!(hours.allows(open, New_York));
        assert_eq!(hours.next_open(before, New_York), Some(open));
        // The day before, still EST: 08:00 = 13:00 UTC.
        let sat = Utc.with_ymd_and_hms(2024, 3, 9, 12, 30, 0).unwrap();
        assert_eq!(hours.next_open(sat, New_York), Some(Utc.with_ymd_and_hms(2024, 3, 9, 13, 0, 0).unwrap()));
        // 21:00 is already closed: the next opening is tomorrow 08:00.
        let late = Utc.with_ymd_and_hms(2024, 11, 4, 2, 0, 0).unwrap(); // 21:00 EST Nov 3
        assert!(!hours.allows(late, New_York));
        assert_eq!(hours.next_open(late, New_York), Some(Utc.with_ymd_and_hms(2024, 11, 4, 13, 0, 0).unwrap()));
    }

    #[test]
    fn gap_times_move_to_after_the_gap() {
        // 02:30 does not exist in New York on 2024-03-10.
        let t = first_instant_at_or_after(d(2024, 3, 10), NaiveTime::from_hms_opt(2, 30, 0).unwrap(), New_York).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2024, 3, 10, 7, 0, 0).unwrap()); // 03:00 EDT
        // 01:30 happens twice on 2024-11-03: the earlier one (EDT).
        let t = first_instant_at_or_after(d(2024, 11, 3), NaiveTime::from_hms_opt(1, 30, 0).unwrap(), New_York).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2024, 11, 3, 5, 30, 0).unwrap());
    }

    #[test]
    fn sundays_and_holidays() {
        let mut ontario = Hours { daily: Some(Span::parse("07:00-21:00").unwrap()), ..Default::default() };
        ontario.days[6] = Some(DayRule::Open(Span::parse("13:00-17:00").unwrap()));
        ontario.holidays.push(Holiday::parse("07-01").unwrap());
        // Sunday 2024-06-30 10:00 Toronto: closed until 13:00.
        let sun10 = Toronto.with_ymd_and_hms(2024, 6, 30, 10, 0, 0).unwrap().with_timezone(&Utc);
        assert!(!ontario.allows(sun10, Toronto));
        let next = ontario.next_open(sun10, Toronto).unwrap();
        assert_eq!(next, Toronto.with_ymd_and_hms(2024, 6, 30, 13, 0, 0).unwrap().with_timezone(&Utc));
        // Sunday 18:00: Monday is Canada Day, so Tuesday 07:00.
        let sun18 = Toronto.with_ymd_and_hms(2024, 6, 30, 18, 0, 0).unwrap().with_timezone(&Utc);
        let next = ontario.next_open(sun18, Toronto).unwrap();
        assert_eq!(next, Toronto.with_ymd_and_hms(2024, 7, 2, 7, 0, 0).unwrap().with_timezone(&Utc));
        let mut quebec = Hours { daily: Some(Span::parse("08:00-20:00").unwrap()), ..Default::default() };
        quebec.days[6] = Some(DayRule::Closed);
        let sat21 = Toronto.with_ymd_and_hms(2024, 6, 29, 21, 0, 0).unwrap().with_timezone(&Utc);
        assert_eq!(
            quebec.next_open(sat21, Toronto),
            Some(Toronto.with_ymd_and_hms(2024, 7, 1, 8, 0, 0).unwrap().with_timezone(&Utc))
        );
        let closed = Hours { days: [Some(DayRule::Closed); 7], ..Default::default() };
        assert_eq!(closed.next_open(sat21, Toronto), None);
    }
}
