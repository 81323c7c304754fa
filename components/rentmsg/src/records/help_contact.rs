//! The per-property contact that HELP replies name (a phone number, email
//! or short line such as "the office, 617-555-0123"). Without one, HELP
//! names the sending number (`sms_from`, else the number texted).

use crate::records::audit;
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::base::time;
use chrono::{DateTime, Utc};

/// Longest contact line (characters): it must fit in a one-segment reply.
pub const MAX_CONTACT_CHARS: usize = 60;

/// The property's HELP contact, if set.
pub fn get(db: &dyn Db, property_id: &str) -> Result<Option<String>> {
    let rows = db.execute("SELECT contact FROM property_sms_help WHERE property_id = ?", &[property_id.into()])?;
    rows.first().map(|r| r.string("contact")).transpose().map_err(Into::into)
}

/// Set (Some) or remove (None) a property's HELP contact; returns the new
/// value. The property must exist. Audited. Runs its own transaction.
pub fn set(db: &dyn Db, property_id: &str, contact: Option<&str>, actor: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    let contact = contact.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = contact {
        if c.chars().count() > MAX_CONTACT_CHARS {
            return Err(Error::Invalid(format!("contact is longer than {MAX_CONTACT_CHARS} characters")));
        }
        if c.chars().any(char::is_control) {
            return Err(Error::Invalid("contact contains control characters".into()));
        }
    }
    db::transaction(db, |tx| {
        let exists = tx.execute("SELECT 1 AS x FROM properties WHERE property_id = ?", &[property_id.into()])?;
        if exists.is_empty() {
            return Err(Error::NotFound(format!("property `{property_id}` not found")));
        }
        let before = get(tx, property_id)?;
        if before.as_deref() == contact {
            return Ok(before);
        }
        match contact {
            Some(c) => tx.execute(
                "INSERT INTO property_sms_help (property_id, contact, updated_by, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (property_id) DO UPDATE SET contact = excluded.contact,
                    updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                &[property_id.into(), c.into(), actor.into(), time::timestamp(now).into()],
            )?,
            None => tx.execute("DELETE FROM property_sms_help WHERE property_id = ?", &[property_id.into()])?,
        };
        audit::record(
            tx,
            actor,
            "property.sms_help_contact",
            &format!("property:{property_id}"),
            &serde_json::json!({ "before": before, "after": contact }),
            now,
        )?;
        Ok(contact.map(str::to_owned))
    })
}
