//! Notices: which stage is due when ([`schedule`]), what it says
//! ([`templates`]), the signed links it carries ([`links`]), the outbox of
//! queued messages with their compliance decision ([`outbox`]), the overdue
//! scan that fills it ([`scan`]), pauses of a tenant's notices ([`pauses`]),
//! promises to pay ([`promises`]), staff-written supplemental messages
//! ([`supplemental`]) and the unsubscribe page ([`unsubscribe`]).
//!
//! Owns the outbox and the notice tables; sending them is the send pass's
//! job, and this module must not import it, nor payments, staff or the API.

pub mod links;
pub mod outbox;
pub mod pauses;
pub mod promises;
pub mod scan;
pub mod schedule;
pub mod supplemental;
pub mod templates;
pub mod unsubscribe;
