//! Key-value capability (`fermyon:spin/key-value@2.0.0`).
//!
//! Stores are configured per label (the default `default` store is a SQLite
//! file under the state directory); a component may open only the labels its
//! manifest lists in `key_value_stores`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::OptionalExtension;
use spin_host_config::runtime_config::KeyValueStoreConfig;
use wasmtime::component::Resource;

use crate::bindings::key_value::{self, Error};
use crate::blocking;
use crate::state::HostState;

/// Largest value Spin accepts in a key-value store.
pub const MAX_VALUE_BYTES: usize = 128 * 1024 * 1024;

/// Open stores a single instance may hold at once.
const MAX_OPEN_STORES: usize = 256;

/// The configured key-value stores of the app, by label.
#[derive(Default)]
pub struct KeyValueStores {
    /// Backend for each configured label.
    stores: HashMap<String, Arc<Backend>>,
}

impl KeyValueStores {
    /// Open every configured store (creating files as needed).
    pub fn open(config: &BTreeMap<String, KeyValueStoreConfig>) -> anyhow::Result<Self> {
        let mut files: HashMap<std::path::PathBuf, Arc<SqliteFile>> = HashMap::new();
        let mut stores = HashMap::new();
        for (label, cfg) in config {
            let backend = match cfg {
                KeyValueStoreConfig::Spin { path } => {
                    // Labels sharing a file share one connection.
                    let file = match files.get(path) {
                        Some(f) => f.clone(),
                        None => {
                            let f = Arc::new(SqliteFile::open(path).with_context(|| {
                                format!("key-value store {label:?}: cannot open {}", path.display())
                            })?);
                            files.insert(path.clone(), f.clone());
                            f
                        }
                    };
                    Backend::Sqlite(file)
                }
                KeyValueStoreConfig::InMemory => Backend::Memory(Mutex::new(BTreeMap::new())),
                KeyValueStoreConfig::Redis { .. } => anyhow::bail!(
                    "key-value store {label:?}: type \"redis\" is not supported by this host yet"
                ),
            };
            stores.insert(label.clone(), Arc::new(backend));
        }
        Ok(KeyValueStores { stores })
    }

    /// Whether `label` is configured.
    pub fn contains(&self, label: &str) -> bool {
        self.stores.contains_key(label)
    }

    fn get(&self, label: &str) -> Option<Arc<Backend>> {
        self.stores.get(label).cloned()
    }
}

/// One storage backend.
enum Backend {
    /// Spin's SQLite key-value layout: table `spin_key_value(store, key, value)`.
    Sqlite(Arc<SqliteFile>),
    /// Process memory (runtime config `type = "spin"` without a path).
    Memory(Mutex<BTreeMap<(String, String), Vec<u8>>>),
}

/// A SQLite file holding one or more key-value stores.
pub struct SqliteFile {
    /// The single connection to the file; access is serialised.
    conn: Mutex<rusqlite::Connection>,
}

impl SqliteFile {
    fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (store, key))",
            [],
        )?;
        Ok(SqliteFile { conn: Mutex::new(conn) })
    }

    fn with<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R>) -> Result<R, String> {
        let conn = self.conn.lock().map_err(|_| "key-value store lock poisoned".to_string())?;
        f(&conn).map_err(|e| e.to_string())
    }
}

/// The guest's handle on an open store.
pub struct StoreHandle {
    /// Label the guest opened.
    label: String,
    /// Where the data lives.
    backend: Arc<Backend>,
}

/// Operations on a backend, run off the async executor because they block.
impl Backend {
    async fn run<R: Send + 'static>(
        self: Arc<Self>,
        op: impl FnOnce(&Backend) -> Result<R, String> + Send + 'static,
    ) -> Result<R, String> {
        blocking::run(move || op(&self)).await.map_err(|e| e.to_string())?
    }

    async fn get(self: Arc<Self>, store: String, key: String) -> Result<Option<Vec<u8>>, String> {
        self.run(move |b| match b {
            Backend::Sqlite(f) => f.with(|c| {
                c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                    .query_row((&store, &key), |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            }),
            Backend::Memory(m) => Ok(lock(m)?.get(&(store, key)).cloned()),
        })
        .await
    }

    async fn set(self: Arc<Self>, store: String, key: String, value: Vec<u8>) -> Result<(), String> {
        self.run(move |b| match b {
            Backend::Sqlite(f) => f.with(|c| {
                c.prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                )?
                .execute((&store, &key, &value))
                .map(|_| ())
            }),
            Backend::Memory(m) => {
                lock(m)?.insert((store, key), value);
                Ok(())
            }
        })
        .await
    }

    async fn delete(self: Arc<Self>, store: String, key: String) -> Result<(), String> {
        self.run(move |b| match b {
            Backend::Sqlite(f) => f.with(|c| {
                c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                    .execute((&store, &key))
                    .map(|_| ())
            }),
            Backend::Memory(m) => {
                lock(m)?.remove(&(store, key));
                Ok(())
            }
        })
        .await
    }

    async fn exists(self: Arc<Self>, store: String, key: String) -> Result<bool, String> {
        self.run(move |b| match b {
            Backend::Sqlite(f) => f.with(|c| {
                c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                    .query_row((&store, &key), |_| Ok(()))
                    .optional()
                    .map(|found| found.is_some())
            }),
            Backend::Memory(m) => Ok(lock(m)?.contains_key(&(store, key))),
        })
        .await
    }

    async fn keys(self: Arc<Self>, store: String) -> Result<Vec<String>, String> {
        self.run(move |b| match b {
            Backend::Sqlite(f) => f.with(|c| {
                let mut stmt = c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?;
                let rows = stmt.query_map([&store], |r| r.get::<_, String>(0))?;
                rows.collect()
            }),
            Backend::Memory(m) => {
                Ok(lock(m)?.keys().filter(|(s, _)| *s == store).map(|(_, k)| k.clone()).collect())
            }
        })
        .await
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, String> {
    m.lock().map_err(|_| "key-value store lock poisoned".to_string())
}

impl HostState {
    fn store_handle(&self, store: &Resource<StoreHandle>) -> wasmtime::Result<(String, Arc<Backend>)> {
        let handle = self.table.get(store)?;
        Ok((handle.label.clone(), handle.backend.clone()))
    }
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<StoreHandle>, Error>> {
        // Spin checks the grant before the label's existence, so an ungranted
        // label never reveals whether it is configured.
        if !self.grants().key_value_stores.contains(&label) {
            return Ok(Err(Error::AccessDenied));
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
        Ok(backend.get(label, key).await.map_err(Error::Other))
    }

    async fn set(&mut self, store: Resource<StoreHandle>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(Error::Other(format!("value of {} bytes exceeds the 128 MiB limit", value.len()))));
        }
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.set(label, key, value).await.map_err(Error::Other))
    }

    async fn delete(&mut self, store: Resource<StoreHandle>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.delete(label, key).await.map_err(Error::Other))
    }

    async fn exists(&mut self, store: Resource<StoreHandle>, key: String) -> wasmtime::Result<Result<bool, Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.exists(label, key).await.map_err(Error::Other))
    }

    async fn get_keys(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let (label, backend) = self.store_handle(&store)?;
        Ok(backend.keys(label).await.map_err(Error::Other))
    }

    async fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        self.open_stores = self.open_stores.saturating_sub(1);
        Ok(())
    }
}
