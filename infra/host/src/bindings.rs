//! wasmtime bindings for the `fermyon:spin@2.0.0` interfaces this host implements.

wasmtime::component::bindgen!({
    path: "wit",
    world: "local:host/spin-imports",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::key_value::StoreHandle,
        "fermyon:spin/sqlite.connection": crate::sqlite::ConnectionHandle,
    },
});

pub use fermyon::spin::{key_value, sqlite, variables};
