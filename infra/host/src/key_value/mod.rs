//! Key-value: the app's stores ([`backend`]: Spin's SQLite file, memory,
//! [`redis`]) and the two interfaces guests reach them through, Spin's
//! ([`spin`], `fermyon:spin/key-value@2.0.0`) and WASI's ([`wasi`],
//! `wasi:keyvalue@0.2.0-draft2`), over the same stores and grants.
//!
//! A component may open only the labels its manifest lists in
//! `key_value_stores`, checked before anything else so that an ungranted
//! label never reveals whether it exists. Every listed label is
//! configured, or the app would not have loaded.
//!
//! This module owns the stores and what guests do with them. It must not
//! touch the app's loading, the triggers or SQLite databases (the SQLite
//! file backend shares only the host's SQLite library settings and busy
//! handler, from [`crate::sqlite`]): an instance reaches it only through
//! [`KeyValueView`], which the app builds.

use std::collections::BTreeSet;

use wasmtime::component::{HasData, Linker, ResourceTable};

pub mod backend;
pub mod redis;
mod spin;
mod wasi;

pub use backend::KeyValueStores;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "local:host/key-value-imports",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": super::spin::StoreHandle,
            "wasi:keyvalue/store.bucket": super::wasi::BucketHandle,
            "wasi:keyvalue/atomics.cas": super::wasi::CasHandle,
        },
    });
}

/// Open stores a single instance may hold at once (Spin's table capacity).
const MAX_OPEN_STORES: usize = 256;

/// Key-value state of one instance (a request or cron tick).
#[derive(Default)]
pub struct Instance {
    /// Stores and buckets the guest holds open, through either interface.
    open_stores: usize,
}

/// What the key-value interfaces see of an instance while the guest calls them.
pub struct KeyValueView<'a> {
    /// The instance's resources (open stores live here).
    pub table: &'a mut ResourceTable,
    /// The app's stores.
    pub stores: &'a KeyValueStores,
    /// Labels the code running now may open; `None` for a dependency that
    /// does not inherit its importer's configuration (Spin 3's deny-all adapter).
    pub granted: Option<&'a BTreeSet<String>>,
    /// The instance's key-value state.
    pub instance: &'a mut Instance,
}

/// Marks [`KeyValueView`] as the data the bindings are added with.
struct KeyValue;

impl HasData for KeyValue {
    type Data<'a> = KeyValueView<'a>;
}

/// Add both key-value interfaces to `linker`, seen through `view`.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> KeyValueView<'_>) -> wasmtime::Result<()> {
    bindings::KeyValueImports::add_to_linker::<T, KeyValue>(linker, view)
}

/// Reasons an `open` fails before touching a backend.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    /// A dependency without inherited configuration is running.
    Isolated,
    /// The label is not in the component's `key_value_stores`.
    NotGranted,
    /// No store is configured under the label.
    Unknown,
}

/// Why the code running now (allowed `granted`) may not open `label`, if it may not.
fn open_refusal(granted: Option<&BTreeSet<String>>, stores: &KeyValueStores, label: &str) -> Option<Refusal> {
    let Some(granted) = granted else {
        return Some(Refusal::Isolated);
    };
    if !granted.contains(label) {
        return Some(Refusal::NotGranted);
    }
    if !stores.contains(label) {
        return Some(Refusal::Unknown);
    }
    None
}
