//! Key-value capability, WASI flavour (`wasi:keyvalue@0.2.0-draft2`:
//! `store`, `atomics`, `batch`), as Spin 3 provides it.
//!
//! Same stores, same grants as `fermyon:spin/key-value`: `store.open(id)`
//! takes a store label from the component's `key_value_stores`. `increment`
//! and compare-and-swap are atomic across instances and across processes
//! sharing a SQLite key-value file or a Redis (see [`super::backend`]).
//! Counters are stored as Spin stores them: 8 little-endian bytes in the
//! SQLite file, decimal text on Redis (`INCRBY`).
//!
//! Compare-and-swap follows Spin: `cas.new` reads nothing; `cas.current`
//! reads the value and remembers it; `swap` writes only if the key still
//! holds what `current` returned (or is still absent). A `swap` without a
//! prior `current` expects the key to be absent, so it can only insert.
//! On `cas-failed` the guest gets a fresh handle whose `current` is loaded.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::backend::{KvBackend, KvError, MAX_VALUE_BYTES};
use super::bindings::wasi::keyvalue::atomics::{self, CasError};
use super::bindings::wasi::keyvalue::batch;
use super::bindings::wasi::keyvalue::store::{self, Error, KeyResponse};
use super::{open_refusal, KeyValueView, Refusal, MAX_OPEN_STORES};

/// The guest's handle on an open bucket (a store label).
pub struct BucketHandle {
    /// Label the guest opened.
    label: String,
    /// Where the data lives.
    backend: Arc<dyn KvBackend>,
}

/// One compare-and-swap in progress.
pub struct CasHandle {
    /// Label of the bucket it was made from.
    label: String,
    /// Where the data lives.
    backend: Arc<dyn KvBackend>,
    /// The key being swapped.
    key: String,
    /// The value `current` returned (`None`: absent, or `current` not called).
    expected: Option<Vec<u8>>,
}

fn other(e: KvError) -> Error {
    Error::Other(e.0)
}

impl KeyValueView<'_> {
    fn bucket(&self, bucket: &Resource<BucketHandle>) -> wasmtime::Result<(String, Arc<dyn KvBackend>)> {
        let b = self.table.get(bucket)?;
        Ok((b.label.clone(), b.backend.clone()))
    }
}

impl store::Host for KeyValueView<'_> {
    async fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<BucketHandle>, Error>> {
        match open_refusal(self.granted, self.stores, &identifier) {
            // Spin's deny adapter answers `access-denied` to an isolated dependency.
            Some(Refusal::Isolated) | Some(Refusal::NotGranted) => return Ok(Err(Error::AccessDenied)),
            Some(Refusal::Unknown) => return Ok(Err(Error::NoSuchStore)),
            None => {}
        }
        let Some(backend) = self.stores.get(&identifier) else {
            return Ok(Err(Error::NoSuchStore));
        };
        if self.instance.open_stores >= MAX_OPEN_STORES {
            return Ok(Err(Error::Other("store table full".into())));
        }
        self.instance.open_stores += 1;
        Ok(Ok(self.table.push(BucketHandle { label: identifier, backend })?))
    }
}

impl store::HostBucket for KeyValueView<'_> {
    async fn get(&mut self, bucket: Resource<BucketHandle>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.get(&label, &key).await.map_err(other))
    }

    async fn set(&mut self, bucket: Resource<BucketHandle>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(Error::Other(format!("value of {} bytes exceeds the 128 MiB limit", value.len()))));
        }
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.set(&label, &key, value).await.map_err(other))
    }

    async fn delete(&mut self, bucket: Resource<BucketHandle>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.delete(&label, &key).await.map_err(other))
    }

    async fn exists(&mut self, bucket: Resource<BucketHandle>, key: String) -> wasmtime::Result<Result<bool, Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.exists(&label, &key).await.map_err(other))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        if cursor.is_some() {
            // All keys come back in one page, so there is never a cursor to continue from.
            return Ok(Err(Error::Other("list_keys: cursor not supported".into())));
        }
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.keys(&label).await.map(|keys| KeyResponse { keys, cursor: None }).map_err(other))
    }

    async fn drop(&mut self, bucket: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        self.instance.open_stores = self.instance.open_stores.saturating_sub(1);
        Ok(())
    }
}

impl batch::Host for KeyValueView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        // Absent keys are left out of the answer, as Spin does.
        Ok(backend
            .get_many(&label, keys)
            .await
            .map(|found| found.into_iter().map(|(k, v)| (k, Some(v))).collect())
            .map_err(other))
    }

    async fn set_many(&mut self, bucket: Resource<BucketHandle>, key_values: Vec<(String, Vec<u8>)>) -> wasmtime::Result<Result<(), Error>> {
        if let Some((key, v)) = key_values.iter().find(|(_, v)| v.len() > MAX_VALUE_BYTES) {
            return Ok(Err(Error::Other(format!("value of {key:?} ({} bytes) exceeds the 128 MiB limit", v.len()))));
        }
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.set_many(&label, key_values).await.map_err(other))
    }

    async fn delete_many(&mut self, bucket: Resource<BucketHandle>, keys: Vec<String>) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.delete_many(&label, keys).await.map_err(other))
    }
}

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Resource<BucketHandle>, key: String, delta: i64) -> wasmtime::Result<Result<i64, Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        Ok(backend.increment(&label, &key, delta).await.map_err(other))
    }

    async fn swap(&mut self, cas: Resource<CasHandle>, value: Vec<u8>) -> wasmtime::Result<Result<(), CasError>> {
        let handle = self.table.delete(cas)?;
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(CasError::StoreError(Error::Other(format!(
                "value of {} bytes exceeds the 128 MiB limit",
                value.len()
            )))));
        }
        let CasHandle { label, backend, key, expected } = handle;
        match backend.compare_and_swap(&label, &key, expected, value).await {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                let current = match backend.get(&label, &key).await {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(CasError::StoreError(other(e)))),
                };
                let retry = self.table.push(CasHandle { label, backend, key, expected: current })?;
                Ok(Err(CasError::CasFailed(retry)))
            }
            Err(e) => Ok(Err(CasError::StoreError(other(e)))),
        }
    }
}

impl atomics::HostCas for KeyValueView<'_> {
    async fn new(&mut self, bucket: Resource<BucketHandle>, key: String) -> wasmtime::Result<Result<Resource<CasHandle>, Error>> {
        let (label, backend) = self.bucket(&bucket)?;
        Ok(Ok(self.table.push(CasHandle { label, backend, key, expected: None })?))
    }

    async fn current(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let handle = self.table.get(&cas)?;
        let (label, key, backend) = (handle.label.clone(), handle.key.clone(), handle.backend.clone());
        let value = match backend.get(&label, &key).await {
            Ok(v) => v,
            Err(e) => return Ok(Err(other(e))),
        };
        self.table.get_mut(&cas)?.expected = value.clone();
        Ok(Ok(value))
    }

    async fn drop(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}
