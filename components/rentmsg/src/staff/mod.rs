//! What staff work with besides the tenant's records: the manual call list
//! ([`call_list`]), call results and promises taken on a call ([`calls`]),
//! reports ([`reports`]), the console's page assets ([`console`]), and
//! staff accounts, sessions and sign-in throttling ([`accounts`], [`throttle`]).
//!
//! Must not import the API; the API routes call into this module.

pub mod accounts;
pub mod call_list;
pub mod calls;
pub mod console;
pub mod reports;
pub mod throttle;
