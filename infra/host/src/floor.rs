//! The floor under the host, for benchmarks: a component served by
//! `wasmtime-wasi-http` alone, the way `wasmtime serve` runs one (a fresh
//! store and instance per request from a pre-instantiated component, WASI
//! and WASI HTTP only: no Spin interfaces, routing or `spin-*` headers), on
//! the host's own engine settings. Comparing the host with it separates
//! what the host adds from what any fresh-instance-per-request server on
//! wasmtime costs (`benches/http_overhead.rs`, `examples/micro_floor.rs`).
//! Built only with the `bench-floor` feature; nothing else uses it.

use std::path::Path;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Store data of one request: WASI and WASI HTTP, nothing else.
pub struct FloorState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for FloorState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for FloorState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: wasmtime_wasi_http::default_hooks() }
    }
}

/// The component at `wasm`, compiled and pre-instantiated on a new engine
/// with the host's settings.
pub fn pre_instantiate(wasm: &Path) -> anyhow::Result<(Engine, ProxyPre<FloorState>)> {
    let engine = crate::app::new_engine()?;
    let component = Component::from_file(&engine, wasm)?;
    let mut linker = Linker::<FloorState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
    Ok((engine, pre))
}

/// A fresh store for one request (the guest yields at every epoch tick).
pub fn new_store(engine: &Engine) -> Store<FloorState> {
    let state = FloorState { wasi: WasiCtx::builder().build(), http: WasiHttpCtx::new(), table: ResourceTable::new() };
    let mut store = Store::new(engine, state);
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    store
}
