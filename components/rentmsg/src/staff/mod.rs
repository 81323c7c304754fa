//! What staff work with besides the tenant's records: the manual call list
//! ([`call_list`]), call results and promises taken on a call ([`calls`]),
//! reports ([`reports`]), the console's page assets ([`console`]), a
//! tenant's conversation ([`conversation`]), answering a reply at once
//! ([`reply`]), the start page's figures ([`today`]), and
//! staff accounts, sessions and sign-in throttling ([`accounts`], [`throttle`]).
//!
//! Must not import the API; the API routes call into this module.

pub mod accounts;
pub mod call_list;
pub mod calls;
pub mod console;
pub mod conversation;
pub mod reply;
pub mod reports;
pub mod throttle;
pub mod today;
