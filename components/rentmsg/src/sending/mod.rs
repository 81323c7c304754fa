//! The send pass: take allowed outbox rows within the pace budget
//! ([`pacing`]), re-check compliance, render, call the provider
//! ([`providers`]) and record the answer ([`send`]), so that a crash never
//! sends a message twice. [`spin_io`] is the pass's outside world inside a
//! Spin component (outbound HTTP and key-value atomics).
//!
//! Must not import inbound, payments, staff or the API.

pub mod pacing;
pub mod providers;
pub mod send;
#[cfg(feature = "spin")]
pub mod spin_io;
