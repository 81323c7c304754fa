//! Shared domain library of the rent-collection messaging components.
//!
//! Everything with logic lives here and is tested natively; the Spin
//! components are thin glue around it. One folder per domain, each layered
//! on the ones before it in this list and never on the ones after:
//!
//! - [`base`]: errors, the [`base::db::Db`] trait and its two
//!   implementations, time, money, channels, normalising, form decoding.
//! - [`schema`]: the numbered migrations; call [`schema::migrate`] first.
//! - [`records`]: typed access to the tenant's records (tenants, ledger,
//!   balances, consent, exclusions, notes, contact log, audit, settings).
//! - [`import`]: CSV imports of properties, tenants and the ledger.
//! - [`compliance`]: allow / block / defer-until for a proposed contact.
//! - [`notices`]: the notice schedule, templates, links, the outbox and the
//!   overdue scan that fills it.
//! - [`sending`]: the paced send pass through the SMS and email providers.
//! - [`inbound`]: SMS provider webhooks and the staff inbox.
//! - [`payments`]: the payment page, checkout, the payment webhook and
//!   promises to pay.
//! - [`staff`]: the manual call list, call results, reports, console assets.
//! - [`api`]: the staff API, independent of the HTTP stack.

#![forbid(unsafe_code)]

pub mod base;
pub mod schema;
pub mod records;
pub mod import;
pub mod compliance;
pub mod notices;
pub mod sending;
pub mod inbound;
pub mod payments;
pub mod staff;
pub mod api;
