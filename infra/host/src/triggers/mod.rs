//! The triggers: what runs a component. [`http`] serves the app's routes,
//! [`cron`] fires components on their schedules, and [`outbound_http`]
//! decides where a request a component sends goes (the network, or back
//! into the app through the HTTP trigger).
//!
//! Triggers drive the app (they make instances through [`crate::app::App`]);
//! the app never calls them. They must not touch key-value or SQLite.

pub mod cron;
pub mod http;
mod outbound_http;
