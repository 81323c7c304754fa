//! Outbound networking other than HTTP: `wasi:sockets` ([`sockets`]), and
//! Spin's outbound Redis ([`redis`]), MQTT and PostgreSQL ([`unsupported`]).
//!
//! Every destination is checked against the `allowed_outbound_hosts` of the
//! code running now, in Spin's rule format, with the scheme of the
//! capability: `tcp` / `udp` for sockets, `redis` (or the address's own
//! scheme, e.g. `rediss`), `mqtt`, `postgres`; a rule with scheme `*`
//! allows all of them. A dependency that does not inherit its importer's
//! configuration reaches nothing. Refusals are the values Spin returns:
//! Redis `invalid-address`; MQTT and PostgreSQL
//! `connection-failed("address ... is not permitted")`; sockets
//! `access-denied`.
//!
//! This module must not touch the app's loading, the triggers or storage:
//! an instance reaches it only through [`OutboundView`] (and the socket
//! check [`sockets::install`] puts on its WASI context), which the app builds.

use spin_host_config::outbound::AllowedHosts;
use wasmtime::component::{HasData, Linker, ResourceTable};

pub mod redis;
pub mod sockets;
mod unsupported;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "local:host/outbound-imports",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/redis.connection": super::redis::RedisConnection,
        },
    });
}

/// What the outbound interfaces see of an instance while the guest calls them.
pub struct OutboundView<'a> {
    /// The instance's resources (open connections live here).
    pub table: &'a mut ResourceTable,
    /// Destinations the code running now may reach.
    pub allowed: &'a AllowedHosts,
}

/// Marks [`OutboundView`] as the data the bindings are added with.
struct Outbound;

impl HasData for Outbound {
    type Data<'a> = OutboundView<'a>;
}

/// Add outbound Redis, MQTT and PostgreSQL to `linker`, seen through `view`.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> OutboundView<'_>) -> wasmtime::Result<()> {
    bindings::OutboundImports::add_to_linker::<T, Outbound>(linker, view)
}
