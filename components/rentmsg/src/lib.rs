//! Shared domain library of the rent-collection messaging components.
//!
//! Everything with logic lives here and is tested natively; the Spin
//! components are thin glue around it.
//!
//! - [`db`]: the [`db::Db`] trait over Spin's SQLite model, with
//!   [`db::SpinDb`] (feature `spin`) and [`db::NativeDb`] (feature `native`).
//! - [`schema`]: numbered migrations; call [`schema::migrate`] first.
//! - [`import`]: CSV imports of properties, tenants and the ledger.
//! - [`tenants`], [`ledger`], [`consent`], [`exclusions`], [`notes`],
//!   [`contact_log`], [`audit`]: typed access to each table.
//! - [`view`]: the tenant as staff see it.
//! - [`api`]: the staff API, independent of the HTTP stack.
//! - [`compliance`]: allow / block / defer-until for a proposed contact.
//! - [`inbound`]: SMS provider webhooks (STOP / START / HELP, free text,
//!   delivery status) and the staff inbox.
//! - [`money`], [`normalize`], [`time`]: parsing and normalising values.
//! - Notices: [`schedule`], [`templates`], [`links`], [`settings`],
//!   [`outbox`], [`scan`] (overdue scan), [`send`] (paced outbound sending
//!   through [`providers`] within the [`pacing`] budget).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod audit;
pub mod channel;
pub mod compliance;
pub mod consent;
pub mod contact_log;
pub mod db;
pub mod error;
pub mod exclusions;
pub mod import;
pub mod inbound;
pub mod ledger;
pub mod money;
pub mod normalize;
pub mod notes;
pub mod schema;
pub mod tenants;
pub mod time;
pub mod view;

// Overdue scan and outbound sending (issue 5).
pub mod balances;
pub mod links;
pub mod notice_migration;
pub mod outbox;
pub mod pacing;
pub mod providers;
pub mod scan;
pub mod schedule;
pub mod send;
pub mod settings;
pub mod templates;
pub mod unsubscribe;
#[cfg(feature = "compliance-client")]
pub mod compliance_client;
#[cfg(feature = "spin")]
pub mod spin_io;

pub use channel::Channel;
pub use error::{Error, Result};
