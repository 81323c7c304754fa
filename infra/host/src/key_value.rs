//! Key-value capability (`fermyon:spin/key-value@2.0.0`).
//!
//! A component may open only the labels its manifest lists in
//! `key_value_stores` (`access-denied` otherwise, checked before anything
//! else so an ungranted label never reveals whether it exists). Every listed
//! label is configured, or the app would not have loaded.

use std::sync::Arc;

use wasmtime::component::Resource;

use crate::bindings::key_value::{self, Error};
use crate::grants::Isolation;
use crate::kv_backend::{KvBackend, KvError, MAX_VALUE_BYTES};
use crate::state::HostState;

/// Open stores a single instance may hold at once (Spin's table capacity).
pub const MAX_OPEN_STORES: usize = 256;

/// The guest's handle on an open store.
pub struct StoreHandle {
    /// Label the guest opened.
    pub label: String,
    /// Where the data lives.
    pub backend: Arc<dyn KvBackend>,
}

/// Why the code running now may not open `label`, if it may not.
pub fn open_refusal(state: &HostState, label: &str) -> Option<Refusal> {
    let grants = state.grants();
    if grants.isolation == Isolation::Isolated {
        return Some(Refusal::Isolated);
    }
    if !grants.key_value_stores.contains(label) {
        return Some(Refusal::NotGranted);
    }
    if !state.app.key_value.contains(label) {
        return Some(Refusal::Unknown);
    }
    None
}

/// Reasons an `open` fails before touching a backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// A dependency without inherited configuration is running.
    Isolated,
    /// The label is not in the component's `key_value_stores`.
    NotGranted,
    /// No store is configured under the label.
    Unknown,
}

fn kv_error(e: KvError) -> Error {
    Error::Other(e.0)
}

impl HostState {
    fn store_handle(&self, store: &Resource<StoreHandle>) -> wasmtime::Result<(String, Arc<dyn KvBackend>)> {
        let handle = self.table.get(store)?;
        Ok((handle.label.clone(), handle.backend.clone()))
    }
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<StoreHandle>, Error>> {
        match open_refusal(self, &label) {
            // Spin 3's deny-all adapter answers `no-such-store` to a dependency
            // that does not inherit its importer's configuration.
            Some(Refusal::Isolated) | Some(Refusal::Unknown) => return Ok(Err(Error::NoSuchStore)),
            Some(Refusal::NotGranted) => return Ok(Err(Error::AccessDenied)),
            None => {}
        }
        let Some(backend) = self.app.key_value.get(&label) else {
            return Ok(Err(Error::NoSuchStore));
        };
        if self.open_stores >= MAX_OPEN_STORES {
            return Ok(Err(Error::StoreTableFull));
        }
        self.open_stores += 1;
        Ok(Ok(self.table.push(StoreHandle { label, backend })?))
    }

    async fn get(&mut self, store: Resource<StoreHandle>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.get(&label, &key).await.map_err(kv_error))
    }

    async fn set(&mut self, store: Resource<StoreHandle>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(Error::Other(format!("value of {} bytes exceeds the 128 MiB limit", value.len()))));
        }
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.set(&label, &key, value).await.map_err(kv_error))
    }

    async fn delete(&mut self, store: Resource<StoreHandle>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.delete(&label, &key).await.map_err(kv_error))
    }

    async fn exists(&mut self, store: Resource<StoreHandle>, key: String) -> wasmtime::Result<Result<bool, Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.exists(&label, &key).await.map_err(kv_error))
    }

    async fn get_keys(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.keys(&label).await.map_err(kv_error))
    }

    async fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        self.open_stores = self.open_stores.saturating_sub(1);
        Ok(())
    }
}
