//! The per-instance state (`T` of `Store<T>`): one per HTTP request or cron tick.

use std::sync::Arc;

use wasmtime::component::{Instance, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::app::AppShared;
use crate::grants::{Grants, Isolation};
use crate::outbound_http::OutboundHooks;

/// Source of [`HostState::store_id`].
static NEXT_STORE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

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
    /// Key-value stores and buckets the guest holds open (Spin caps this per instance).
    pub open_stores: usize,
    /// Distinguishes this store from every other of the process (never 0).
    pub store_id: u64,
    /// SQLite write turns this store's sessions hold (each blocks every
    /// other writer of its database until it ends).
    pub write_turns: Arc<std::sync::atomic::AtomicUsize>,
    /// Epoch ticks the guest ran on without yielding because it held a write turn.
    pub ticks_holding_turn: u32,
}

impl HostState {
    /// State for one run of the component with `grants`.
    pub fn new(app: Arc<AppShared>, grants: Arc<Grants>, wasi: WasiCtx, trigger: crate::outbound_http::Trigger) -> Self {
        let hooks = OutboundHooks::new(grants.clone(), app.clone(), trigger);
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
            open_stores: 0,
            store_id: NEXT_STORE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            write_turns: Arc::default(),
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
        self.hooks.set_grants(grants.clone());
        self.grants.push(grants);
    }

    /// Leave a dependency call.
    pub fn pop_grants(&mut self) {
        if self.grants.len() > 1 {
            self.grants.pop();
        }
        let current = self.grants().clone();
        self.hooks.set_grants(current);
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
