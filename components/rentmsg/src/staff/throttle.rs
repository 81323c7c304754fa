//! Password guessing, slowed then refused: failed sign-ins are counted per
//! username and per client address in fixed 15-minute windows in the
//! shared key-value store (so every replica sees the same counts). After
//! [`SLOW_AFTER`] failures for a username each further answer is delayed;
//! at [`USER_LIMIT`] failures for a username, or [`ADDRESS_LIMIT`] from one
//! address, sign-ins are refused (429) until the window ends. A successful
//! sign-in clears the username's count. The store sits behind
//! [`Counter`], so all of it is tested natively.
//!
//! Keys hold a SHA-256 of the username or address, never the value itself.

use crate::sending::pacing::Counter;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Length of one counting window, in seconds.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures for one username before answers are slowed.
pub const SLOW_AFTER: i64 = 3;
/// Failures for one username that lock it for the rest of the window.
pub const USER_LIMIT: i64 = 10;
/// Failures from one address that lock it for the rest of the window
/// (higher: an office shares one address).
pub const ADDRESS_LIMIT: i64 = 50;
/// How long a slowed answer waits.
pub const SLOW_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// What to do with a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allow,
    /// Refuse without checking; try again after this many seconds.
    Refuse {
        /// Seconds until the window ends.
        retry_after: i64,
    },
}

/// The counters of one sign-in attempt.
pub struct Throttle<'a> {
    counter: &'a dyn Counter,
    user_key: String,
    addr_key: Option<String>,
    window_end: i64,
    now: i64,
}

fn keyed(kind: &str, value: &str, window: i64) -> String {
    let h: String = Sha256::digest(value.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("signin-fail:{kind}:{h}:{window}")
}

/// The address without its port (`1.2.3.4:5678`, `[::1]:5678`).
pub fn address_only(client_addr: &str) -> &str {
    let a = client_addr.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match a.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => a,
    }
}

impl<'a> Throttle<'a> {
    /// The counters for `username` (case-folded) from `client_addr`, now.
    pub fn new(counter: &'a dyn Counter, username: &str, client_addr: Option<&str>, now: DateTime<Utc>) -> Self {
        let t = now.timestamp();
        let window = t.div_euclid(WINDOW_SECS);
        Throttle {
            counter,
            user_key: keyed("u", &username.to_lowercase(), window),
            addr_key: client_addr.map(|a| keyed("a", address_only(a), window)),
            window_end: (window + 1) * WINDOW_SECS,
            now: t,
        }
    }

    fn read(&self, key: &str) -> Result<i64, String> {
        self.counter.increment(key, 0)
    }

    /// May this attempt be checked? A store that cannot be read refuses
    /// (fail closed).
    pub fn check(&self) -> Result<Verdict, String> {
        let refuse = Verdict::Refuse { retry_after: (self.window_end - self.now).max(1) };
        if self.read(&self.user_key)? >= USER_LIMIT {
            return Ok(refuse);
        }
        if let Some(k) = &self.addr_key {
            if self.read(k)? >= ADDRESS_LIMIT {
                return Ok(refuse);
            }
        }
        Ok(Verdict::Allow)
    }

    /// Count a failure; returns how long to delay the answer.
    pub fn failed(&self) -> Result<Option<std::time::Duration>, String> {
        let n = self.counter.increment(&self.user_key, 1)?;
        if let Some(k) = &self.addr_key {
            self.counter.increment(k, 1)?;
        }
        Ok((n > SLOW_AFTER).then_some(SLOW_DELAY))
    }

    /// A successful sign-in clears the username's failures (not the
    /// address's: one good password must not reset guessing at others).
    pub fn succeeded(&self) -> Result<(), String> {
        self.counter.delete(&self.user_key)
    }
}

/// An in-memory [`Counter`] (tests, native tools, benchmarks).
#[derive(Default)]
pub struct MemCounter(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl Counter for MemCounter {
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        let mut m = self.0.lock().map_err(|_| "poisoned".to_owned())?;
        let v = m.entry(key.to_owned()).or_insert(0);
        *v += delta;
        Ok(*v)
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.lock().map_err(|_| "poisoned".to_owned())?.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn slowed_then_refused_then_recovered_after_the_window() {
        let c = MemCounter::default();
        let t0 = Utc.with_ymd_and_hms(2024, 3, 10, 16, 0, 0).unwrap();
        for i in 1..=USER_LIMIT {
            let th = Throttle::new(&c, "Amy", Some("10.0.0.1:5555"), t0);
            assert_eq!(th.check().unwrap(), Verdict::Allow);
            assert_eq!(th.failed().unwrap().is_some(), i > SLOW_AFTER);
        }
        let th = Throttle::new(&c, "amy", Some("10.0.0.2:1"), t0);
        assert_eq!(th.check().unwrap(), Verdict::Refuse { retry_after: WINDOW_SECS });
        let later = t0 + chrono::Duration::seconds(WINDOW_SECS);
        assert_eq!(Throttle::new(&c, "amy", None, later).check().unwrap(), Verdict::Allow);
    }

    #[test]
    fn addresses_lose_their_port() {
        assert_eq!(address_only("1.2.3.4:80"), "1.2.3.4");
        assert_eq!(address_only("[::1]:80"), "::1");
        assert_eq!(address_only("::1"), "::1");
    }
}
