//! The per-instance state (`T` of `Store<T>`): one per HTTP request or cron
//! tick, and the views each capability gets of it.

use std::sync::Arc;

use wasmtime::component::{Instance, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::grants::{Grants, Isolation};
use super::AppShared;
use crate::key_value::{self, KeyValueView};
use crate::outbound::OutboundView;
use crate::sqlite::{self, SqliteView};

/// What started the instance (decides whether in-app requests can be served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An HTTP request.
    Http,
    /// A cron tick.
    Cron,
}

/// What the outbound HTTP policy of one instance decides with. The policy
/// itself (`WasiHttpHooks`) is in `triggers::outbound_http`.
pub struct OutboundHooks {
    /// Grants of the code running now (changes while a dependency runs).
    pub grants: Arc<Grants>,
    /// The app (for requests to itself).
    pub app: Arc<AppShared>,
    /// What started the instance.
    pub trigger: Trigger,
}

/// Store data for one instantiation of a component (and its dependencies).
pub struct HostState {
    /// WASI context of the component (environment, preopened files, stdio).
    pub wasi: WasiCtx,
    /// WASI context of isolated dependencies: stdio only, no environment or files.
    pub isolated_wasi: Option<WasiCtx>,
    /// Resources the guest holds (streams, key-value stores, connections...).
    pub table: ResourceTable,
    /// wasi-http context.
    pub http: WasiHttpCtx,
    /// Outbound HTTP policy for the code currently running.
    pub hooks: OutboundHooks,
    /// State shared by the whole app (stores, databases, variables).
    pub app: Arc<AppShared>,
    /// Grants of the importer component, and on top those of any dependency
    /// currently executing a call on its behalf.
    grants: Vec<Arc<Grants>>,
    /// Instances of this component's dependencies, by dependency index.
    pub dependency_instances: Vec<Option<Instance>>,
    /// Key-value state (open stores).
    key_value: key_value::Instance,
    /// SQLite state (write turns held).
    pub sqlite: sqlite::Instance,
    /// Epoch ticks the guest ran on without yielding because it held a write turn.
    pub ticks_holding_turn: u32,
}

impl HostState {
    /// State for one run of the component with `grants`.
    pub fn new(app: Arc<AppShared>, grants: Arc<Grants>, wasi: WasiCtx, trigger: Trigger) -> Self {
        let hooks = OutboundHooks { grants: grants.clone(), app: app.clone(), trigger };
        app.stats.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HostState {
            wasi,
            isolated_wasi: None,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks,
            app,
            grants: vec![grants],
            dependency_instances: Vec::new(),
            key_value: key_value::Instance::default(),
            sqlite: sqlite::Instance::default(),
            ticks_holding_turn: 0,
        }
    }

    /// The grants of the code running right now.
    pub fn grants(&self) -> &Arc<Grants> {
        // `grants` is created with one entry and `pop_grants` never removes it.
        &self.grants[self.grants.len() - 1]
    }

    /// Enter a dependency call: its grants apply until `pop_grants`.
    pub fn push_grants(&mut self, grants: Arc<Grants>) {
        self.hooks.grants = grants.clone();
        self.grants.push(grants);
    }

    /// Leave a dependency call.
    pub fn pop_grants(&mut self) {
        if self.grants.len() > 1 {
            self.grants.pop();
        }
        self.hooks.grants = self.grants().clone();
    }

    /// The key-value interfaces' view of this instance.
    pub fn key_value(&mut self) -> KeyValueView<'_> {
        let grants = &self.grants[self.grants.len() - 1];
        KeyValueView {
            table: &mut self.table,
            stores: &self.app.key_value,
            granted: (grants.isolation == Isolation::Component).then_some(&grants.key_value_stores),
            instance: &mut self.key_value,
        }
    }

    /// The outbound Redis, MQTT and PostgreSQL interfaces' view of this instance.
    pub fn outbound(&mut self) -> OutboundView<'_> {
        let grants = &self.grants[self.grants.len() - 1];
        OutboundView { table: &mut self.table, allowed: &grants.allowed_hosts }
    }

    /// The SQLite interface's view of this instance.
    pub fn sqlite(&mut self) -> SqliteView<'_> {
        let grants = &self.grants[self.grants.len() - 1];
        SqliteView {
            table: &mut self.table,
            databases: &self.app.sqlite,
            granted: (grants.isolation == Isolation::Component).then_some(&grants.sqlite_databases),
            instance: &self.sqlite,
        }
    }
}

impl Drop for HostState {
    fn drop(&mut self) {
        self.app.stats.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let isolated = self.grants[self.grants.len() - 1].isolation == Isolation::Isolated;
        let ctx = match (&mut self.isolated_wasi, isolated) {
            (Some(ctx), true) => ctx,
            _ => &mut self.wasi,
        };
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
