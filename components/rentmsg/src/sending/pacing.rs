//! The send budget: at most `send_rate_per_minute` messages in any calendar
//! minute, across every invocation, spread evenly over the minute.
//!
//! Each send claims a slot by incrementing the minute's counter in the
//! shared key-value store (`send-budget:<unix minute>`, Spin's 8-byte
//! little-endian counter; `wasi:keyvalue/atomics.increment` is atomic across
//! instances and hosts). Claim number `c` of minute `m` may go out at
//! `m*60 s + (c-1) * 60 s / rate`, not before: so 10,000 due notices leave
//! at the configured pace, not in one burst. A result above the rate means
//! the minute is spent: nothing is sent and nothing is given back (the
//! counter only grows; it can be under-used, never over). A sender that fell
//! behind (its claimed slot is already past) skips the stale slots with one
//! increment instead of sending them in a burst later.
//!
//! The key-value calls sit behind [`Counter`] and time behind [`Clock`], so
//! the arithmetic and the concurrency are tested natively.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// A shared atomic counter store (wasi:keyvalue atomics in components).
pub trait Counter {
    /// Add `delta` to `key` (absent = 0) and return the new value, atomically.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String>;
    /// Remove `key` (absent is fine).
    fn delete(&self, key: &str) -> Result<(), String>;
}

/// The time source of a send pass.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    /// Wait until `t` (returns at once if it has passed).
    fn sleep_until(&self, t: DateTime<Utc>);
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) {
        if let Ok(wait) = (t - Utc::now()).to_std() {
            std::thread::sleep(wait);
        }
    }
}

/// The counter key of a minute.
fn bucket_key(unix_minute: i64) -> String {
    format!("send-budget:{unix_minute}")
}

/// A claimed send slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Send at (not before) this time.
    At(DateTime<Utc>),
    /// This minute's budget is spent; the next minute starts then.
    Exhausted(DateTime<Utc>),
}

/// Claims slots from the shared budget.
pub struct Pacer<'a> {
    /// The shared counters.
    counter: &'a dyn Counter,
    /// Messages per minute (at least 1).
    rate: i64,
}

fn minute_start(minute: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(minute * 60, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl<'a> Pacer<'a> {
    /// A pacer for `rate` messages per minute (values below 1 count as 1).
    pub fn new(counter: &'a dyn Counter, rate: i64) -> Self {
        Pacer { counter, rate: rate.max(1) }
    }

    /// The configured rate.
    pub fn rate(&self) -> i64 {
        self.rate
    }

    /// The time of slot `index` (0-based) of `minute`.
    fn slot_time(&self, minute: i64, index: i64) -> DateTime<Utc> {
        minute_start(minute) + Duration::microseconds(index * 60_000_000 / self.rate)
    }

    /// Claim the next slot of the minute `now` is in.
    pub fn claim(&self, now: DateTime<Utc>) -> Result<Slot, String> {
        let minute = now.timestamp().div_euclid(60);
        let key = bucket_key(minute);
        let next_minute = minute_start(minute + 1);
        let mut claimed = self.counter.increment(&key, 1)?;
        if claimed > self.rate {
            return Ok(Slot::Exhausted(next_minute));
        }
        // The slot `now` falls in; an earlier claimed slot is stale.
        let elapsed = (now - minute_start(minute)).num_microseconds().unwrap_or(0).max(0);
        let current = (elapsed * self.rate / 60_000_000).min(self.rate - 1);
        if claimed - 1 < current {
            claimed = self.counter.increment(&key, current - (claimed - 1))?;
            if claimed > self.rate {
                return Ok(Slot::Exhausted(next_minute));
            }
        }
        Ok(Slot::At(self.slot_time(minute, claimed - 1)))
    }

    /// Forget the counters of the two minutes before `now` (best effort;
    /// a pass runs inside one minute, so nobody claims from them again).
    pub fn cleanup(&self, now: DateTime<Utc>) {
        let minute = now.timestamp().div_euclid(60);
        for m in [minute - 2, minute - 1] {
            let _ = self.counter.delete(&bucket_key(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(RefCell<HashMap<String, i64>>);

    impl Counter for Mem {
        fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
            let mut m = self.0.borrow_mut();
            let v = m.entry(key.to_owned()).or_insert(0);
            *v += delta;
            Ok(*v)
        }
        fn delete(&self, key: &str) -> Result<(), String> {
            self.0.borrow_mut().remove(key);
            Ok(())
        }
    }

    fn t(secs: i64, micros: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_717_243_200 + secs, 0).unwrap() + Duration::microseconds(micros)
    }

    #[test]
    fn slots_spread_over_the_minute_and_stop_at_the_rate() {
        let mem = Mem::default();
        let p = Pacer::new(&mem, 4);
        let now = t(0, 0);
        let got: Vec<Slot> = (0..6).map(|_| p.claim(now).unwrap()).collect();
        assert_eq!(
            got,
            [
                Slot::At(t(0, 0)),
                Slot::At(t(15, 0)),
                Slot::At(t(30, 0)),
                Slot::At(t(45, 0)),
                Slot::Exhausted(t(60, 0)),
                Slot::Exhausted(t(60, 0)),
            ]
        );
        // A new minute has a new budget.
        assert_eq!(p.claim(t(60, 5)).unwrap(), Slot::At(t(60, 0)));
    }

    #[test]
    fn a_late_sender_skips_stale_slots_instead_of_bursting() {
        let mem = Mem::default();
        let p = Pacer::new(&mem, 60);
        // Nothing claimed until 30.5 s into the minute: the first claim is
        // the slot at 30 s, not the one at 0 s.
        assert_eq!(p.claim(t(30, 500_000)).unwrap(), Slot::At(t(30, 0)));
        assert_eq!(p.claim(t(30, 600_000)).unwrap(), Slot::At(t(31, 0)));
        assert_eq!(mem.0.borrow()[&bucket_key(t(0, 0).timestamp() / 60)], 32);
        // At 59.9 s the last slot remains; then the minute is spent.
        assert_eq!(p.claim(t(59, 900_000)).unwrap(), Slot::At(t(59, 0)));
        assert_eq!(p.claim(t(59, 950_000)).unwrap(), Slot::Exhausted(t(60, 0)));
    }

    #[test]
    fn never_more_than_the_rate_in_a_minute_whatever_the_timing() {
        use proptest::prelude::*;
        proptest!(|(rate in 1i64..500, times in proptest::collection::vec(0i64..180_000_000, 1..800))| {
            let mem = Mem::default();
            let p = Pacer::new(&mem, rate);
            let mut sorted = times.clone();
            sorted.sort();
            let mut per_minute: HashMap<i64, i64> = HashMap::new();
            let mut last_slot: HashMap<i64, DateTime<Utc>> = HashMap::new();
            for us in sorted {
                let now = t(0, us);
                if let Slot::At(at) = p.claim(now).unwrap() {
                    let minute = at.timestamp().div_euclid(60);
                    prop_assert_eq!(minute, now.timestamp().div_euclid(60));
                    // Never a slot more than one slot length in the past
                    // (slot times are whole microseconds: 1 µs of rounding).
                    prop_assert!(now - at <= Duration::microseconds(60_000_000 / rate + 1));
                    if let Some(prev) = last_slot.insert(minute, at) {
                        prop_assert!(at > prev);
                    }
                    *per_minute.entry(minute).or_default() += 1;
                }
            }
            for (_, n) in per_minute {
                prop_assert!(n <= rate);
            }
        });
    }
}
