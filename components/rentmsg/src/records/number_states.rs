//! What an undelivered / failed status callback's error code says about the
//! number, and the per-number texting state it leads to.
//!
//! | code | provider meaning | we do |
//! |---|---|---|
//! | 21610 | recipient has opted out (replied STOP at the carrier / provider) | by-customer exclusion, as a STOP |
//! | 21211 | invalid `To` number | number invalid for texting |
//! | 21217 | number does not appear to be valid | number invalid for texting |
//! | 21401 | invalid phone number | number invalid for texting |
//! | 21407 | number type does not support SMS | number invalid for texting |
//! | 21612 | number not reachable via SMS | number invalid for texting |
//! | 21614 | not a mobile number (landline) | number invalid for texting |
//! | 30003 | unreachable destination handset | number invalid for texting |
//! | 30005 | unknown destination handset (number no longer exists) | number invalid for texting |
//! | 30006 | landline or unreachable carrier | number invalid for texting |
//!
//! Every other code (filtering 30007, unknown 30008, queue overflow, ...)
//! says nothing about the number and changes nothing. A number marked
//! invalid gets no texts until a later `delivered` (or `read`) status for it
//! shows the carrier reaches it again (30003 in particular can be a phone
//! that was off), which lifts the state.

use crate::records::audit;
use crate::base::db::Db;
use crate::base::error::Result;
use crate::base::time;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Actor recorded for changes reported by the carrier.
pub const CARRIER_ACTOR: &str = "carrier";

/// What an error code says about the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierVerdict {
    /// The recipient opted out at the carrier / provider: treat as STOP.
    OptedOut,
    /// The number cannot receive texts.
    InvalidForTexting,
}

/// The codes that say something about the number: code, verdict, what the
/// provider means by it (the table above, as data).
const CODES: &[(&str, CarrierVerdict, &str)] = &[
    ("21610", CarrierVerdict::OptedOut, "recipient has opted out"),
    ("21211", CarrierVerdict::InvalidForTexting, "invalid number"),
    ("21217", CarrierVerdict::InvalidForTexting, "number does not appear to be valid"),
    ("21401", CarrierVerdict::InvalidForTexting, "invalid phone number"),
    ("21407", CarrierVerdict::InvalidForTexting, "number type does not support SMS"),
    ("21612", CarrierVerdict::InvalidForTexting, "number not reachable via SMS"),
    ("21614", CarrierVerdict::InvalidForTexting, "not a mobile number"),
    ("30003", CarrierVerdict::InvalidForTexting, "unreachable destination handset"),
    ("30005", CarrierVerdict::InvalidForTexting, "unknown destination handset"),
    ("30006", CarrierVerdict::InvalidForTexting, "landline or unreachable carrier"),
];

/// The verdict for a provider error code, if the code is about the number.
pub fn verdict(error_code: &str) -> Option<CarrierVerdict> {
    let code = error_code.trim();
    CODES.iter().find(|(c, _, _)| *c == code).map(|(_, v, _)| *v)
}

/// What the provider means by an error code that is about the number (for
/// staff-facing explanations), None for any other code.
pub fn meaning(error_code: &str) -> Option<&'static str> {
    let code = error_code.trim();
    CODES.iter().find(|(c, _, _)| *c == code).map(|(_, _, m)| *m)
}

/// A number's texting state, when the carrier has said it is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberState {
    /// E.164 number.
    pub address: String,
    /// `invalid`.
    pub state: String,
    /// The provider error code that set it.
    pub error_code: String,
    /// The message whose status reported it.
    pub message_sid: Option<String>,
    /// When (RFC 3339 UTC).
    pub set_at: String,
}

/// The number's state, None when it is usable (no carrier verdict on it).
pub fn number_state(db: &dyn Db, address: &str) -> Result<Option<NumberState>> {
    let rows = db.execute(
        "SELECT address, state, error_code, message_sid, set_at FROM sms_number_states WHERE address = ?",
        &[address.into()],
    )?;
    rows.first()
        .map(|r| {
            Ok(NumberState {
                address: r.string("address")?,
                state: r.string("state")?,
                error_code: r.string("error_code")?,
                message_sid: r.opt_string("message_sid")?,
                set_at: r.string("set_at")?,
            })
        })
        .transpose()
}

/// Mark a number invalid for texting; false if it already was. Audited.
/// Call inside a transaction. `message_sid` is the message whose status
/// reported the code; None when the provider refused the send outright.
pub fn mark_invalid_in_tx(
    tx: &dyn Db,
    address: &str,
    error_code: &str,
    message_sid: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let inserted = tx.execute(
        "INSERT INTO sms_number_states (address, state, error_code, message_sid, set_at) VALUES (?, 'invalid', ?, ?, ?)
         ON CONFLICT (address) DO NOTHING RETURNING address",
        &[address.into(), error_code.into(), message_sid.into(), time::timestamp(now).into()],
    )?;
    if inserted.is_empty() {
        return Ok(false);
    }
    audit::record(
        tx,
        CARRIER_ACTOR,
        "sms_number.invalid",
        &format!("address:{address}"),
        &serde_json::json!({ "on": true, "error_code": error_code, "message_sid": message_sid }),
        now,
    )?;
    Ok(true)
}

/// Lift a number's invalid state after the carrier delivered to it; false
/// if it had none. Audited. Call inside a transaction.
pub fn clear_invalid_in_tx(tx: &dyn Db, address: &str, message_sid: &str, now: DateTime<Utc>) -> Result<bool> {
    let deleted =
        tx.execute("DELETE FROM sms_number_states WHERE address = ? RETURNING error_code", &[address.into()])?;
    let Some(row) = deleted.first() else {
        return Ok(false);
    };
    audit::record(
        tx,
        CARRIER_ACTOR,
        "sms_number.invalid",
        &format!("address:{address}"),
        &serde_json::json!({ "on": false, "was_error_code": row.string("error_code")?, "delivered_message_sid": message_sid }),
        now,
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(verdict("21610"), Some(CarrierVerdict::OptedOut));
        for code in ["21211", "21217", "21401", "21407", "21612", "21614", "30003", "30005", "30006", " 30006 "] {
            assert_eq!(verdict(code), Some(CarrierVerdict::InvalidForTexting), "{code}");
        }
        for code in ["", "30007", "30008", "30004", "21408", "abc"] {
            assert_eq!(verdict(code), None, "{code}");
            assert_eq!(meaning(code), None, "{code}");
        }
        assert_eq!(meaning(" 30006"), Some("landline or unreachable carrier"));
        assert_eq!(meaning("21614"), Some("not a mobile number"));
    }
}
