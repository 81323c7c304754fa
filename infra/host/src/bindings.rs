//! wasmtime bindings for the Spin host interfaces this host implements
//! (`fermyon:spin@2.0.0` key-value, SQLite, variables; `wasi:keyvalue@0.2.0-draft2`).

wasmtime::component::bindgen!({
    path: "wit",
    world: "local:host/spin-imports",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::key_value::StoreHandle,
        "fermyon:spin/sqlite.connection": crate::sqlite::ConnectionHandle,
        "wasi:keyvalue/store.bucket": crate::wasi_keyvalue::BucketHandle,
        "wasi:keyvalue/atomics.cas": crate::wasi_keyvalue::CasHandle,
    },
});

pub use fermyon::spin::{key_value, sqlite, variables};
