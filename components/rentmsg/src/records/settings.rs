//! Application settings staff can edit (`app_settings`, JSON values by key),
//! read and written through `GET` / `PUT /api/settings`.

use crate::records::audit;
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days a link works when `link_expiry_days` was never set. Migration 5
/// seeds the same value as a row; a test keeps the two equal.
pub const DEFAULT_LINK_EXPIRY_DAYS: i64 = 30;
/// Days ahead a promise may name when `promise_horizon_days` was never set.
/// Migration 6 seeds the same value as a row; a test keeps the two equal.
pub const DEFAULT_PROMISE_HORIZON_DAYS: i64 = 14;

/// Every setting, with its value in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Days a payment or unsubscribe link works after the message is sent
    /// (default 30).
    pub link_expiry_days: i64,
    /// How many days ahead a promise to pay may name (default 14).
    pub promise_horizon_days: i64,
}

/// A change: only the settings named change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// New link lifetime, 1 to 365 days.
    #[serde(default)]
    pub link_expiry_days: Option<i64>,
    /// New promise horizon, 1 to 90 days.
    #[serde(default)]
    pub promise_horizon_days: Option<i64>,
}

/// The settings in force (defaults for any not stored).
pub fn get(db: &dyn Db) -> Result<Settings> {
    let rows = db.execute("SELECT key, value FROM app_settings", &[])?;
    let mut s = Settings {
        link_expiry_days: DEFAULT_LINK_EXPIRY_DAYS,
        promise_horizon_days: DEFAULT_PROMISE_HORIZON_DAYS,
    };
    for r in rows.iter() {
        let key = r.str("key")?;
        let slot = match key {
            "link_expiry_days" => &mut s.link_expiry_days,
            "promise_horizon_days" => &mut s.promise_horizon_days,
            _ => continue,
        };
        *slot = r.str("value")?.trim().parse().map_err(|_| Error::Corrupt(format!("setting {key} is not a number")))?;
    }
    Ok(s)
}

/// Apply a change after checking it; audited. Runs its own transaction.
pub fn set(db: &dyn Db, change: &SettingsChange, actor: &str, now: DateTime<Utc>) -> Result<Settings> {
    let mut changes: Vec<(&str, i64)> = Vec::new();
    if let Some(days) = change.link_expiry_days {
        if !(1..=365).contains(&days) {
            return Err(Error::Invalid("link_expiry_days must be 1 to 365".into()));
        }
        changes.push(("link_expiry_days", days));
    }
    if let Some(days) = change.promise_horizon_days {
        if !(1..=90).contains(&days) {
            return Err(Error::Invalid("promise_horizon_days must be 1 to 90".into()));
        }
        changes.push(("promise_horizon_days", days));
    }
    if changes.is_empty() {
        return Err(Error::Invalid("nothing to change: give link_expiry_days or promise_horizon_days".into()));
    }
    db::transaction(db, |tx| {
        let mut detail = serde_json::Map::new();
        for (key, days) in &changes {
            tx.execute(
                "INSERT INTO app_settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                &[(*key).into(), days.to_string().into(), actor.into(), time::timestamp(now).into()],
            )?;
            detail.insert((*key).to_owned(), (*days).into());
        }
        audit::record(tx, actor, "settings.set", "", &serde_json::Value::Object(detail), now)?;
        get(tx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::db::NativeDb;

    /// The migrations seed the defaults as rows; an edited constant that no
    /// longer matches them would make a fresh database disagree with the code.
    #[test]
    fn the_seeded_rows_match_the_defaults() {
        let db = NativeDb::open_in_memory().unwrap();
        crate::schema::migrate(&db, chrono::Utc::now()).unwrap();
        let rows = db.execute("SELECT key, value FROM app_settings ORDER BY key", &[]).unwrap();
        let seeded: Vec<(String, String)> =
            rows.iter().map(|r| (r.string("key").unwrap(), r.string("value").unwrap())).collect();
        assert!(seeded.contains(&("link_expiry_days".into(), DEFAULT_LINK_EXPIRY_DAYS.to_string())));
        assert!(seeded.contains(&("promise_horizon_days".into(), DEFAULT_PROMISE_HORIZON_DAYS.to_string())));
        db.execute("DELETE FROM app_settings", &[]).unwrap();
        let s = get(&db).unwrap();
        assert_eq!((s.link_expiry_days, s.promise_horizon_days), (DEFAULT_LINK_EXPIRY_DAYS, DEFAULT_PROMISE_HORIZON_DAYS));
    }
}
