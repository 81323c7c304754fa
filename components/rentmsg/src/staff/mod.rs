//! What staff work with besides the tenant's records: the manual call list
//! ([`call_list`]), call results and promises taken on a call ([`calls`]),
//! reports ([`reports`]) and the console's page assets ([`console`]).
//!
//! Must not import the API; the API routes call into this module.

pub mod call_list;
pub mod calls;
pub mod console;
pub mod reports;
