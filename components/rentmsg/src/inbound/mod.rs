//! Inbound contact: SMS provider webhooks behind `POST /webhooks/sms` and
//! `POST /webhooks/sms/status` (Twilio-compatible), and the staff inbox.
//!
//! - [`signature`]: `X-Twilio-Signature` verification (constant-time).
//! - [`keywords`]: opt-out / opt-in / help keyword lists (data, editable).
//! - [`revocation`]: revocation phrases in the tenant's own words (data).
//! - [`replies`]: the automatic replies and TwiML.
//! - [`process`]: one inbound message or status callback in one
//!   transaction, deduplicated by MessageSid.
//! - [`inbox`]: the staff inbox (read / handled).
//! - [`calls`]: calls the tenant places to staff (a conversation that
//!   starts the hold-for period).
//! - [`webhook`]: the HTTP-independent request handler the component calls.
//!
//! Tables (migration 4): `sms_keywords`, `inbound_messages` (also the
//! inbox), `sms_status_events`, `sms_number_states`, `property_sms_help`;
//! (migration 7) `sms_revocation_phrases`.
//! STOP writes the `exclusions` row of kind `number_by_customer` (every
//! tenant with the number); every message and auto-reply goes to
//! `contact_log`.

pub mod calls;
pub mod inbox;
pub mod keywords;
pub mod process;
pub mod replies;
pub mod revocation;
pub mod signature;
pub mod webhook;
