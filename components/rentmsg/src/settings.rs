//! Application settings staff can edit (`app_settings`, JSON values by key),
//! read and written through `GET` / `PUT /api/settings`.

use crate::audit;
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Every setting, with its value in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Days a payment or unsubscribe link works after the message is sent
    /// (default 30).
    pub link_expiry_days: i64,
}

/// A change: only the settings named change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// New link lifetime, 1 to 365 days.
    #[serde(default)]
    pub link_expiry_days: Option<i64>,
}

/// The settings in force (defaults for any not stored).
pub fn get(db: &dyn Db) -> Result<Settings> {
    let rows = db.execute("SELECT key, value FROM app_settings", &[])?;
    let mut s = Settings { link_expiry_days: crate::links::DEFAULT_EXPIRY_DAYS };
    for r in rows.iter() {
        if r.str("key")? == "link_expiry_days" {
            s.link_expiry_days = r
                .str("value")?
                .trim()
                .parse()
                .map_err(|_| Error::Corrupt("setting link_expiry_days is not a number".into()))?;
        }
    }
    Ok(s)
}

/// Apply a change after checking it; audited. Runs its own transaction.
pub fn set(db: &dyn Db, change: &SettingsChange, actor: &str, now: DateTime<Utc>) -> Result<Settings> {
    let Some(days) = change.link_expiry_days else {
        return Err(Error::Invalid("nothing to change: give link_expiry_days".into()));
    };
    if !(1..=365).contains(&days) {
        return Err(Error::Invalid("link_expiry_days must be 1 to 365".into()));
    }
    db::transaction(db, |tx| {
        tx.execute(
            "INSERT INTO app_settings (key, value, updated_by, updated_at) VALUES ('link_expiry_days', ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[days.to_string().into(), actor.into(), time::timestamp(now).into()],
        )?;
        audit::record(tx, actor, "settings.set", "", &serde_json::json!({ "link_expiry_days": days }), now)?;
        get(tx)
    })
}
