//! The imports every component gets: WASI 0.2, wasi-http (with relative
//! URLs, as Spin accepts them), `fermyon:spin` key-value, SQLite,
//! variables and outbound Redis / MQTT / PostgreSQL (and
//! `spin:postgres@3.0.0` / `@4.0.0`), and `wasi:keyvalue`.

use wasmtime::component::{Linker, Resource};
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{RequestOptions, WasiHttpView};

use super::state::HostState;

/// The authority Spin gives a relative URL: requests to it go to the app itself.
pub const SELF_AUTHORITY: &str = "self.alt";

/// A linker with every import the host provides.
pub fn base_linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    add_relative_url_support(&mut linker)?;
    crate::key_value::add_to_linker(&mut linker, HostState::key_value)?;
    crate::sqlite::add_to_linker(&mut linker, HostState::sqlite)?;
    crate::outbound::add_to_linker(&mut linker, HostState::outbound)?;
    super::variables::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Replace wasi-http's `outgoing-handler.handle` with one that accepts a
/// relative URL, as Spin does: wasmtime rejects a request without an
/// authority, so give it Spin's self authority first.
fn add_relative_url_support(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let mut instance = linker.instance(OUTGOING_HANDLER)?;
    instance.func_wrap(
        "handle",
        |mut store: wasmtime::StoreContextMut<'_, HostState>,
         (request, options): (Resource<HostOutgoingRequest>, Option<Resource<RequestOptions>>)|
         -> wasmtime::Result<(Result<Resource<HostFutureIncomingResponse>, ErrorCode>,)> {
            let state = store.data_mut();
            let outgoing = state.table.get_mut(&request)?;
            if outgoing.authority.as_deref().is_none_or(str::is_empty) {
                outgoing.authority = Some(SELF_AUTHORITY.to_string());
            }
            let mut view = state.http();
            match wasmtime_wasi_http::p2::bindings::http::outgoing_handler::Host::handle(&mut view, request, options) {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The outgoing-handler interface as wasmtime-wasi-http 48 defines it (guests
/// importing any other 0.2.x version link to it by semver).
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";
