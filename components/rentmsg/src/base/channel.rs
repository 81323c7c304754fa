//! Contact channels, as the compliance rules and the contact log name them.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A way of contacting a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// SMS to a phone number.
    Text,
    /// Email to an address (the only channel with a subject line).
    Email,
    /// Voice call to a phone number.
    Phone,
    /// Paper letter.
    Letter,
}

impl Channel {
    /// Every channel, in the order reports and settings list them.
    pub const ALL: [Channel; 4] = [Channel::Text, Channel::Email, Channel::Phone, Channel::Letter];

    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Text => "text",
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::Letter => "letter",
        }
    }

    /// Does this channel send to a phone number?
    pub fn uses_phone(self) -> bool {
        matches!(self, Channel::Text | Channel::Phone)
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("channel `{s}` is not one of text, email, phone, letter"))
    }
}
