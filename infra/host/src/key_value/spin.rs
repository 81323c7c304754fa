//! Spin's key-value interface (`fermyon:spin/key-value@2.0.0`) on a
//! [`KeyValueView`].
//!
//! Refusals follow Spin 3: `access-denied` for a label not granted,
//! `no-such-store` for a dependency that does not inherit its importer's
//! configuration.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::backend::{KvBackend, KvError, MAX_VALUE_BYTES};
use super::bindings::fermyon::spin::key_value::{self, Error};
use super::{open_refusal, KeyValueView, Refusal, MAX_OPEN_STORES};

/// The guest's handle on an open store.
pub struct StoreHandle {
    /// Label the guest opened.
    pub label: String,
    /// Where the data lives.
    pub backend: Arc<dyn KvBackend>,
}

fn kv_error(e: KvError) -> Error {
    Error::Other(e.0)
}

impl KeyValueView<'_> {
    fn store_handle(&self, store: &Resource<StoreHandle>) -> wasmtime::Result<(String, Arc<dyn KvBackend>)> {
        let handle = self.table.get(store)?;
        Ok((handle.label.clone(), handle.backend.clone()))
    }
}

impl key_value::Host for KeyValueView<'_> {}

impl key_value::HostStore for KeyValueView<'_> {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<StoreHandle>, Error>> {
        match open_refusal(self.granted, self.stores, &label) {
            // Spin 3's deny-all adapter answers `no-such-store` to a dependency
            // that does not inherit its importer's configuration.
            Some(Refusal::Isolated) | Some(Refusal::Unknown) => return Ok(Err(Error::NoSuchStore)),
            Some(Refusal::NotGranted) => return Ok(Err(Error::AccessDenied)),
            None => {}
        }
        let Some(backend) = self.stores.get(&label) else {
            return Ok(Err(Error::NoSuchStore));
        };
        if self.instance.open_stores >= MAX_OPEN_STORES {
            return Ok(Err(Error::StoreTableFull));
        }
        self.instance.open_stores += 1;
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
        self.instance.open_stores = self.instance.open_stores.saturating_sub(1);
        Ok(())
    }
}
