//! The tenant's records, one module per table or fact: tenants and
//! properties, the ledger and its balances, consent, exclusions, notes, the
//! contact log, the audit log, application settings, and the tenant as
//! staff see it ([`view`]).
//!
//! Typed reads and writes only: no compliance decision, no notice logic, no
//! HTTP. Must not import imports, compliance, notices, sending, inbound,
//! payments, staff or the API.

pub mod audit;
pub mod balances;
pub mod consent;
pub mod contact_log;
pub mod exclusions;
pub mod help_contact;
pub mod ledger;
pub mod notes;
pub mod number_states;
pub mod scope;
pub mod settings;
pub mod tenants;
pub mod view;
