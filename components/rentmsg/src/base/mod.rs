//! The ground every other module stands on: error types, the [`db::Db`]
//! trait with its Spin and native implementations, time, money, languages
//! and currencies, channels,
//! normalising of addresses and names (phone numbers here or through the
//! phone-numbers component), form decoding, and the components' log line.
//!
//! Owns no table and no domain rule; must not import any other module of
//! this crate.

pub mod channel;
pub mod db;
pub mod error;
pub mod form;
pub mod http;
pub mod locale;
pub mod log;
pub mod money;
pub mod normalize;
#[cfg(feature = "phone-client")]
mod phone_client;
pub mod time;
