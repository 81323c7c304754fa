//! The notice schedule: which notice goes out when, stored as one JSON row
//! (`notice_schedule`) that staff read and replace through the API.
//!
//! Defaults (migration 5): stages at 1, 5, 10, 15 and 30 days past due, each
//! by text and email; minimum balance $25.00; send window 09:00-19:00 in the
//! facility's (property's) local time; no notices on Sundays; no holidays
//! listed; no reset after payments.
//!
//! - **Stages** are numbered (`stage`, the key templates and the outbox use)
//!   with strictly increasing `days_past_due`. The due stage of a tenant is
//!   the last one whose days have passed: a scan after downtime catches up to
//!   that stage only, never the stale ones before it.
//! - **Billing cycle**: the due date of the oldest unpaid charge. A payment
//!   that covers it starts a new cycle. With `reset_after_any_payment`, any
//!   payment made while overdue also starts a new cycle and the day count
//!   restarts from the payment date.
//! - **Send window**: notices go out only inside it, in the facility's zone,
//!   skipping Sundays (if set) and the listed holidays: `YYYY-MM-DD` for one
//!   date, or a recurring form (`MM-DD`, `MM/ddd#N`, `MM-DD/ddd<`,
//!   `easter±N`, as in the contact controls).

use crate::records::audit;
use crate::base::channel::Channel;
use crate::compliance::hours::{DayRule, Holiday, Hours, Span};
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One stage as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Stage number (1, 2, ...): templates and outbox rows refer to it.
    pub stage: i64,
    /// Days past due at which the stage is due.
    pub days_past_due: i64,
    /// Channels the stage goes out on (`text`, `email`).
    pub channels: Vec<Channel>,
}

/// The schedule as stored and as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Off: the scan queues nothing.
    pub enabled: bool,
    /// The stages, in increasing days.
    pub stages: Vec<StageSpec>,
    /// No notices while the balance is below this (cents).
    pub min_balance_cents: i64,
    /// `HH:MM-HH:MM` in the facility's local time.
    pub send_window: String,
    /// No notices on Sundays (facility's local date).
    pub skip_sundays: bool,
    /// Days with no notices: `YYYY-MM-DD` or a recurring holiday form.
    pub holidays: Vec<String>,
    /// Any payment while overdue starts a new cycle and restarts the count.
    pub reset_after_any_payment: bool,
}

/// A validated schedule, ready to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// What staff wrote.
    pub spec: ScheduleSpec,
    /// Send window, Sundays and recurring holidays.
    hours: Hours,
    /// One-off holiday dates.
    dates: Vec<NaiveDate>,
}

/// Most stages a schedule may have.
pub const MAX_STAGES: usize = 20;
/// Largest `days_past_due` of a stage.
pub const MAX_DAYS: i64 = 3650;

impl ScheduleSpec {
    /// Check every field and build the schedule; the error says what is wrong.
    pub fn validate(self) -> std::result::Result<Schedule, String> {
        if self.stages.is_empty() {
            return Err("stages: give at least one stage".into());
        }
        if self.stages.len() > MAX_STAGES {
            return Err(format!("stages: at most {MAX_STAGES}"));
        }
        let mut last: Option<&StageSpec> = None;
        let mut numbers = Vec::new();
        for s in &self.stages {
            if s.stage < 1 || s.stage > 1000 {
                return Err(format!("stage {}: the number must be 1 to 1000", s.stage));
            }
            if numbers.contains(&s.stage) {
                return Err(format!("stage {} appears twice", s.stage));
            }
            numbers.push(s.stage);
            if s.days_past_due < 1 || s.days_past_due > MAX_DAYS {
                return Err(format!("stage {}: days_past_due must be 1 to {MAX_DAYS}", s.stage));
            }
            if let Some(prev) = last {
                if s.days_past_due <= prev.days_past_due {
                    return Err(format!(
                        "stage {}: days_past_due {} must be more than stage {}'s {} (list stages in increasing days)",
                        s.stage, s.days_past_due, prev.stage, prev.days_past_due
                    ));
                }
            }
            if s.channels.is_empty() {
                return Err(format!("stage {}: give at least one channel", s.stage));
            }
            for (i, c) in s.channels.iter().enumerate() {
                if !matches!(c, Channel::Text | Channel::Email) {
                    return Err(format!("stage {}: notices go by text or email, not {}", s.stage, c.as_str()));
                }
                if s.channels[..i].contains(c) {
                    return Err(format!("stage {}: channel {} appears twice", s.stage, c.as_str()));
                }
            }
            last = Some(s);
        }
        if self.min_balance_cents < 1 {
            return Err("min_balance_cents must be at least 1".into());
        }
        let span = Span::parse(&self.send_window).map_err(|e| format!("send_window: {e}"))?;
        let mut hours = Hours { daily: Some(span), ..Hours::default() };
        if self.skip_sundays {
            hours.days[Weekday::Sun.num_days_from_monday() as usize] = Some(DayRule::Closed);
        }
        let mut dates = Vec::new();
        for h in &self.holidays {
            match time::parse_date(h) {
                Ok(d) => dates.push(d),
                Err(_) if h.trim().len() == 10 && h.trim().as_bytes()[4] == b'-' => {
                    return Err(format!("holidays: `{h}` is not a real calendar date"));
                }
                Err(_) => hours.holidays.push(Holiday::parse(h).map_err(|e| format!("holidays: {e}"))?),
            }
        }
        if self.holidays.len() > 100 {
            return Err("holidays: at most 100 entries".into());
        }
        Ok(Schedule { spec: self, hours, dates })
    }
}

/// How a tenant stands against the schedule today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Billing-cycle key of the notices.
    pub cycle: String,
    /// Days counted for the stages.
    pub days_past_due: i64,
}

impl Schedule {
    /// The stage due after `days` days past due: the last whose days have
    /// passed (catch-up goes to it alone), None before the first.
    pub fn due_stage(&self, days: i64) -> Option<&StageSpec> {
        self.spec.stages.iter().rev().find(|s| s.days_past_due <= days)
    }

    /// The stage with this number.
    pub fn stage(&self, stage: i64) -> Option<&StageSpec> {
        self.spec.stages.iter().find(|s| s.stage == stage)
    }

    /// The smallest `days_past_due` of any stage.
    pub fn first_days(&self) -> i64 {
        self.spec.stages.first().map_or(1, |s| s.days_past_due)
    }

    /// The cycle and the day count of a tenant whose oldest unpaid charge
    /// was due `oldest_due`, whose latest payment was posted `last_payment`,
    /// on local date `today`.
    pub fn standing(&self, oldest_due: NaiveDate, last_payment: Option<NaiveDate>, today: NaiveDate) -> Standing {
        match last_payment.filter(|p| self.spec.reset_after_any_payment && *p >= oldest_due) {
            Some(paid) => Standing {
                cycle: format!("{}~{}", time::date_string(oldest_due), time::date_string(paid)),
                days_past_due: (today - paid).num_days(),
            },
            None => Standing { cycle: time::date_string(oldest_due), days_past_due: (today - oldest_due).num_days() },
        }
    }

    /// Can a notice go out at `t` in the facility's zone `tz`?
    pub fn allows(&self, t: DateTime<Utc>, tz: Tz) -> bool {
        let date = time::local_date(t, tz);
        !self.dates.contains(&date) && self.hours.allows(t, tz)
    }

    /// The first moment at or after `t` when a notice may go out in `tz`;
    /// None when closed for weeks on end (a schedule that never opens).
    pub fn next_send_time(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let mut at = t;
        for _ in 0..400 {
            let open = self.hours.next_open(at, tz)?;
            let date = time::local_date(open, tz);
            if !self.dates.contains(&date) {
                return Some(open);
            }
            // A one-off holiday: try from the start of the next local day.
            let next_day = date.succ_opt()?;
            at = crate::compliance::hours::start_of_day(next_day, tz)?.max(open + Duration::seconds(1));
        }
        None
    }
}

impl Default for ScheduleSpec {
    /// The shipped defaults (the same as migration 5 seeds).
    fn default() -> Self {
        let both = vec![Channel::Text, Channel::Email];
        ScheduleSpec {
            enabled: true,
            stages: [1, 5, 10, 15, 30]
                .iter()
                .enumerate()
                .map(|(i, d)| StageSpec { stage: i as i64 + 1, days_past_due: *d, channels: both.clone() })
                .collect(),
            min_balance_cents: 2500,
            send_window: "09:00-19:00".into(),
            skip_sundays: true,
            holidays: Vec::new(),
            reset_after_any_payment: false,
        }
    }
}

/// The stored schedule.
pub fn load(db: &dyn Db) -> Result<Schedule> {
    let rows = db.execute("SELECT spec FROM notice_schedule WHERE id = 1", &[])?;
    let Some(row) = rows.first() else {
        return ScheduleSpec::default().validate().map_err(Error::Corrupt);
    };
    let spec: ScheduleSpec =
        serde_json::from_str(row.str("spec")?).map_err(|e| Error::Corrupt(format!("notice schedule: {e}")))?;
    spec.validate().map_err(|e| Error::Corrupt(format!("notice schedule: {e}")))
}

/// Replace the schedule after checking it, and that every stage and channel
/// has a template. Audited. Runs its own transaction.
pub fn save(db: &dyn Db, spec: ScheduleSpec, actor: &str, now: DateTime<Utc>) -> Result<Schedule> {
    let schedule = spec.validate().map_err(Error::Invalid)?;
    let text = serde_json::to_string(&schedule.spec).map_err(|e| Error::Corrupt(e.to_string()))?;
    db::transaction(db, |tx| {
        for s in &schedule.spec.stages {
            for c in &s.channels {
                let found = tx.execute(
                    "SELECT 1 AS x FROM notice_templates WHERE stage = ? AND channel = ?",
                    &[s.stage.into(), c.as_str().into()],
                )?;
                if found.is_empty() {
                    return Err(Error::Invalid(format!(
                        "stage {} has no {} template: add it first (PUT /api/notice-templates/{}/{})",
                        s.stage,
                        c.as_str(),
                        s.stage,
                        c.as_str()
                    )));
                }
            }
        }
        tx.execute(
            "INSERT INTO notice_schedule (id, spec, updated_by, updated_at) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[text.as_str().into(), actor.into(), time::timestamp(now).into()],
        )?;
        audit::record(tx, actor, "notice_schedule.set", "", &serde_json::to_value(&schedule.spec).unwrap_or_default(), now)?;
        Ok(schedule)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(s: &str) -> NaiveDate {
        time::parse_date(s).unwrap()
    }

    #[test]
    fn default_spec_is_valid_and_matches_the_migration_seed() {
        let s = ScheduleSpec::default().validate().unwrap();
        let days: Vec<i64> = s.spec.stages.iter().map(|s| s.days_past_due).collect();
        assert_eq!(days, [1, 5, 10, 15, 30]);
        let db = crate::base::db::NativeDb::open_in_memory().unwrap();
        crate::schema::migrate(&db, Utc::now()).unwrap();
        assert_eq!(load(&db).unwrap().spec, ScheduleSpec::default());
    }

    #[test]
    fn due_stage_catches_up_to_the_latest_only() {
        let s = ScheduleSpec::default().validate().unwrap();
        let due = |days| s.due_stage(days).map(|st| st.stage);
        assert_eq!(due(0), None);
        assert_eq!(due(-3), None);
        assert_eq!(due(1), Some(1));
        assert_eq!(due(4), Some(1));
        assert_eq!(due(5), Some(2));
        assert_eq!(due(29), Some(4));
        assert_eq!(due(30), Some(5));
        assert_eq!(due(400), Some(5));
    }

    #[test]
    fn cycles_and_resets() {
        let mut spec = ScheduleSpec::default();
        let plain = spec.clone().validate().unwrap();
        let st = plain.standing(d("2024-03-01"), Some(d("2024-03-05")), d("2024-03-12"));
        assert_eq!(st, Standing { cycle: "2024-03-01".into(), days_past_due: 11 });
        spec.reset_after_any_payment = true;
        let reset = spec.validate().unwrap();
        let st = reset.standing(d("2024-03-01"), Some(d("2024-03-05")), d("2024-03-12"));
        assert_eq!(st, Standing { cycle: "2024-03-01~2024-03-05".into(), days_past_due: 7 });
        // A payment before the oldest unpaid charge was due does not reset.
        let st = reset.standing(d("2024-03-01"), Some(d("2024-02-20")), d("2024-03-12"));
        assert_eq!(st, Standing { cycle: "2024-03-01".into(), days_past_due: 11 });
    }

    #[test]
    fn validation_names_the_problem() {
        let base = ScheduleSpec::default();
        type Change = Box<dyn Fn(&mut ScheduleSpec)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|s| s.stages.clear()), "at least one stage"),
            (Box::new(|s| s.stages[1].days_past_due = 1), "must be more than stage 1"),
            (Box::new(|s| s.stages[2].stage = 1), "appears twice"),
            (Box::new(|s| s.stages[0].channels = vec![Channel::Phone]), "not phone"),
            (Box::new(|s| s.stages[0].channels.clear()), "at least one channel"),
            (Box::new(|s| s.stages[0].days_past_due = 0), "days_past_due must be 1"),
            (Box::new(|s| s.send_window = "19:00-09:00".into()), "send_window"),
            (Box::new(|s| s.holidays = vec!["2024-02-30".into()]), "not a real calendar date"),
            (Box::new(|s| s.holidays = vec!["someday".into()]), "holidays"),
            (Box::new(|s| s.min_balance_cents = 0), "min_balance_cents"),
        ];
        for (change, want) in cases {
            let mut s = base.clone();
            change(&mut s);
            let err = s.validate().unwrap_err();
            assert!(err.contains(want), "{err} should mention {want}");
        }
    }

    #[test]
    fn send_window_skips_sundays_and_holidays() {
        let spec = ScheduleSpec { holidays: vec!["2024-06-03".into(), "07-04".into()], ..Default::default() };
        let s = spec.validate().unwrap();
        let ny = chrono_tz::America::New_York;
        // Saturday 2024-06-01 20:00 New York: past the window; Sunday
        // skipped; Monday 06-03 a listed date: Tuesday 09:00.
        let t = Utc.with_ymd_and_hms(2024, 6, 2, 0, 0, 0).unwrap();
        assert!(!s.allows(t, ny));
        assert_eq!(s.next_send_time(t, ny), Some(Utc.with_ymd_and_hms(2024, 6, 4, 13, 0, 0).unwrap()));
        // Inside the window: now.
        let noon = Utc.with_ymd_and_hms(2024, 6, 4, 16, 0, 0).unwrap();
        assert!(s.allows(noon, ny));
        assert_eq!(s.next_send_time(noon, ny), Some(noon));
        // A recurring holiday (July 4th, a Thursday in 2024): Friday.
        let t = Utc.with_ymd_and_hms(2024, 7, 4, 14, 0, 0).unwrap();
        assert!(!s.allows(t, ny), "no notices on the holiday");
        assert_eq!(s.next_send_time(t, ny), Some(Utc.with_ymd_and_hms(2024, 7, 5, 13, 0, 0).unwrap()));
    }
}
