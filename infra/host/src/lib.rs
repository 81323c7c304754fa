//! A small Spin-compatible host: runs a Spin app (spin.toml manifest version 2
//! and its wasm components) with Spin's semantics for HTTP and cron triggers,
//! key-value, SQLite, variables, outbound HTTP and component dependencies.
//!
//! Grouped as Spin groups its factors: [`app`] (the app, its loading and
//! per-instance state), [`triggers`] (HTTP, cron, outbound HTTP),
//! [`key_value`] and `sqlite` (the stores and the interfaces guests use).
//! Dependencies go one way: triggers use the app, the app uses key-value
//! and SQLite, key-value uses SQLite's library settings; none the other way.

pub mod app;
mod blocking;
#[cfg(feature = "bench-floor")]
pub mod floor;
pub mod key_value;
pub mod outbound;
mod sqlite;
pub mod triggers;

use std::sync::Arc;

pub use app::{build_cmd, output, HostOptions, Trigger};

/// A loaded app, ready to serve and to fire cron ticks.
#[derive(Clone)]
pub struct Host {
    app: Arc<app::App>,
}

impl Host {
    /// Load and validate the app and its triggers; fails if anything in it is wrong.
    pub async fn load(options: HostOptions) -> anyhow::Result<Host> {
        let app = app::App::load(options).await?;
        triggers::cron::check(&app)?;
        Ok(Host { app })
    }

    /// Serve the HTTP routes on `listener` until `shutdown` completes, then
    /// give requests in flight a grace period to finish.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        triggers::http::serve(self.app.clone(), listener, shutdown).await
    }

    /// Components compiled so far (all at load) and instances made so far
    /// (one per request or cron tick).
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        let s = &self.app.shared.stats;
        (s.compilations.load(Ordering::Relaxed), s.instantiations.load(Ordering::Relaxed))
    }

    /// Physical SQLite connections the host opened so far (all databases).
    pub fn sqlite_connections_opened(&self) -> u64 {
        self.app.shared.sqlite.connections_opened()
    }

    /// SQLite commits written to a WAL so far (all file databases; a
    /// commit group counts once).
    pub fn sqlite_commits(&self) -> u64 {
        self.app.shared.sqlite.commits()
    }

    /// Instances alive now: requests and ticks in progress.
    pub fn live_instances(&self) -> u64 {
        self.app.shared.stats.live.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wait (up to `timeout`) until the guests' stdout and stderr output
    /// queued so far has been written (see [`output`]).
    pub fn flush_guest_output(&self, timeout: std::time::Duration) {
        output::drain(timeout);
    }

    /// Start the cron schedules in the background.
    pub fn start_cron(&self) -> Vec<tokio::task::JoinHandle<()>> {
        triggers::cron::start(self.app.clone())
    }

    /// Run one component's cron handler now.
    pub async fn fire_cron(&self, component: &str) -> anyhow::Result<()> {
        triggers::cron::fire(&self.app, component).await
    }

    /// `(route, component)` pairs of the HTTP trigger.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.app.router.routes().map(|(r, c)| (r.to_string(), c.to_string())).collect()
    }

    /// `(component, cron expression)` pairs of the cron trigger.
    pub fn cron_schedules(&self) -> Vec<(String, String)> {
        self.app
            .manifest
            .cron_triggers
            .iter()
            .map(|t| (t.component.clone(), t.cron_expression.clone()))
            .collect()
    }
}
