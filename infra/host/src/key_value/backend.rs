//! Key-value backends, picked by store label from the runtime config.
//!
//! Both guest interfaces (`fermyon:spin/key-value@2.0.0` and
//! `wasi:keyvalue@0.2.0-draft2`) run over the same [`KvBackend`], so a value
//! written through one is read through the other. A backend is one more
//! `impl KvBackend` and one more arm in [`KeyValueStores::open`]: Spin's
//! SQLite file ([`SqliteKv`]), process memory ([`MemoryKv`]) and Redis
//! ([`super::redis::RedisKv`]).
//!
//! The SQLite backend uses Spin's own layout (table `spin_key_value(store,
//! key, value)`), so a `.spin/sqlite_key_value.db` written by the Spin CLI
//! reads here and the other way round. Its atomic operations are atomic
//! across every instance of this process *and* across processes sharing the
//! file: each is one SQLite write transaction taken with `BEGIN IMMEDIATE` or
//! a single conditional statement. File and memory backends are synchronous
//! ([`BlockingKv`]) and run on the blocking pool ([`OnBlockingPool`]); Redis
//! is natively async.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use rusqlite::{OptionalExtension, TransactionBehavior};
use spin_host_config::runtime_config::KeyValueStoreConfig;

use super::redis::RedisKv;

/// Largest value Spin accepts in a key-value store.
pub const MAX_VALUE_BYTES: usize = 128 * 1024 * 1024;

/// A backend failure, reported to the guest as `other(message)`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

impl From<rusqlite::Error> for KvError {
    fn from(e: rusqlite::Error) -> Self {
        KvError(e.to_string())
    }
}

/// Storage for one or more key-value stores, as the guest interfaces use
/// it. `store` is the label the guest opened; several labels may share one
/// backend (whether they then share keys is the backend's business: the
/// SQLite file keeps them apart, Redis does not, as in Spin).
#[async_trait::async_trait]
pub trait KvBackend: Send + Sync {
    /// The value of `key`, or `None` when absent.
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Insert or overwrite `key`.
    async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), KvError>;
    /// Remove `key`; removing an absent key succeeds.
    async fn delete(&self, store: &str, key: &str) -> Result<(), KvError>;
    /// Whether `key` is present.
    async fn exists(&self, store: &str, key: &str) -> Result<bool, KvError>;
    /// Every key of the store, in no particular order.
    async fn keys(&self, store: &str) -> Result<Vec<String>, KvError>;
    /// Values of the present keys among `keys` (absent keys are left out, as Spin does).
    async fn get_many(&self, store: &str, keys: Vec<String>) -> Result<Vec<(String, Vec<u8>)>, KvError>;
    /// Set every pair.
    async fn set_many(&self, store: &str, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError>;
    /// Delete every key.
    async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), KvError>;
    /// Atomically add `delta` to the integer at `key` (absent = 0) and return
    /// the new value. The stored form is the backend's, as in Spin: 8
    /// little-endian bytes in the SQLite file, decimal text on Redis.
    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Atomically write `value` if `key` currently holds `expected` (`None`:
    /// the key is absent). Returns whether the write happened.
    async fn compare_and_swap(&self, store: &str, key: &str, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError>;
}

/// A synchronous backend (file or memory): its calls may block on I/O or on
/// another process's write lock, so [`OnBlockingPool`] runs them off the
/// async runtime's workers.
pub trait BlockingKv: Send + Sync + 'static {
    /// See [`KvBackend::get`].
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// See [`KvBackend::set`].
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// See [`KvBackend::delete`].
    fn delete(&self, store: &str, key: &str) -> Result<(), KvError>;
    /// See [`KvBackend::exists`].
    fn exists(&self, store: &str, key: &str) -> Result<bool, KvError> {
        Ok(self.get(store, key)?.is_some())
    }
    /// See [`KvBackend::keys`].
    fn keys(&self, store: &str) -> Result<Vec<String>, KvError>;
    /// See [`KvBackend::get_many`].
    fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let mut out = Vec::new();
        for key in keys {
            if let Some(value) = self.get(store, key)? {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }
    /// See [`KvBackend::set_many`].
    fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        entries.iter().try_for_each(|(k, v)| self.set(store, k, v))
    }
    /// See [`KvBackend::delete_many`].
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), KvError> {
        keys.iter().try_for_each(|k| self.delete(store, k))
    }
    /// See [`KvBackend::increment`]; integers are 8 little-endian bytes, as Spin stores them.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError>;
    /// See [`KvBackend::compare_and_swap`].
    fn compare_and_swap(&self, store: &str, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, KvError>;
}

/// Runs a [`BlockingKv`] on tokio's blocking pool.
pub struct OnBlockingPool<B>(pub Arc<B>);

impl<B: BlockingKv> OnBlockingPool<B> {
    async fn run<R: Send + 'static>(
        &self,
        op: impl FnOnce(&B) -> Result<R, KvError> + Send + 'static,
    ) -> Result<R, KvError> {
        let backend = self.0.clone();
        crate::blocking::run(move || op(&backend)).await.map_err(|e| KvError(e.to_string()))?
    }
}

#[async_trait::async_trait]
impl<B: BlockingKv> KvBackend for OnBlockingPool<B> {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let (store, key) = (store.to_string(), key.to_string());
        self.run(move |b| b.get(&store, &key)).await
    }

    async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        let (store, key) = (store.to_string(), key.to_string());
        self.run(move |b| b.set(&store, &key, &value)).await
    }

    async fn delete(&self, store: &str, key: &str) -> Result<(), KvError> {
        let (store, key) = (store.to_string(), key.to_string());
        self.run(move |b| b.delete(&store, &key)).await
    }

    async fn exists(&self, store: &str, key: &str) -> Result<bool, KvError> {
        let (store, key) = (store.to_string(), key.to_string());
        self.run(move |b| b.exists(&store, &key)).await
    }

    async fn keys(&self, store: &str) -> Result<Vec<String>, KvError> {
        let store = store.to_string();
        self.run(move |b| b.keys(&store)).await
    }

    async fn get_many(&self, store: &str, keys: Vec<String>) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let store = store.to_string();
        self.run(move |b| b.get_many(&store, &keys)).await
    }

    async fn set_many(&self, store: &str, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        let store = store.to_string();
        self.run(move |b| b.set_many(&store, &entries)).await
    }

    async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), KvError> {
        let store = store.to_string();
        self.run(move |b| b.delete_many(&store, &keys)).await
    }

    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let (store, key) = (store.to_string(), key.to_string());
        self.run(move |b| b.increment(&store, &key, delta)).await
    }

    async fn compare_and_swap(&self, store: &str, key: &str, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError> {
        let (store, key) = (store.to_string(), key.to_string());
        self.run(move |b| b.compare_and_swap(&store, &key, expected.as_deref(), &value)).await
    }
}

/// Decode a stored counter.
fn decode_counter(bytes: &[u8]) -> Result<i64, KvError> {
    let raw: [u8; 8] = bytes
        .try_into()
        .map_err(|_| KvError(format!("value is {} bytes, not a 64-bit integer (8 little-endian bytes)", bytes.len())))?;
    Ok(i64::from_le_bytes(raw))
}

fn add(current: i64, delta: i64) -> Result<i64, KvError> {
    current.checked_add(delta).ok_or_else(|| KvError(format!("increment overflows: {current} + {delta}")))
}

/// The configured key-value stores of the app, by label.
#[derive(Default)]
pub struct KeyValueStores {
    /// Backend for each configured label.
    stores: HashMap<String, Arc<dyn KvBackend>>,
}

impl KeyValueStores {
    /// Open every configured store (creating files as needed; Redis
    /// connects on first use, as Spin does, so a Redis that is down fails
    /// requests, not the load).
    pub fn open(config: &BTreeMap<String, KeyValueStoreConfig>) -> anyhow::Result<Self> {
        let mut files: HashMap<PathBuf, Arc<dyn KvBackend>> = HashMap::new();
        let mut servers: HashMap<String, Arc<dyn KvBackend>> = HashMap::new();
        let mut stores: HashMap<String, Arc<dyn KvBackend>> = HashMap::new();
        for (label, cfg) in config {
            let backend: Arc<dyn KvBackend> = match cfg {
                KeyValueStoreConfig::Spin { path } => {
                    // Labels sharing a file share one connection.
                    match files.get(path) {
                        Some(f) => f.clone(),
                        None => {
                            let f: Arc<dyn KvBackend> = Arc::new(OnBlockingPool(Arc::new(SqliteKv::open(path).with_context(|| {
                                format!("key-value store {label:?}: cannot open {}", path.display())
                            })?)));
                            files.insert(path.clone(), f.clone());
                            f
                        }
                    }
                }
                KeyValueStoreConfig::InMemory => Arc::new(OnBlockingPool(Arc::new(MemoryKv::default()))),
                // Labels on one URL share one connection (and, as in Spin, one keyspace).
                KeyValueStoreConfig::Redis { url } => match servers.get(url) {
                    Some(r) => r.clone(),
                    None => {
                        let r: Arc<dyn KvBackend> =
                            Arc::new(RedisKv::new(url).with_context(|| format!("key-value store {label:?}"))?);
                        servers.insert(url.clone(), r.clone());
                        r
                    }
                },
            };
            stores.insert(label.clone(), backend);
        }
        Ok(KeyValueStores { stores })
    }

    /// Whether `label` is configured.
    pub fn contains(&self, label: &str) -> bool {
        self.stores.contains_key(label)
    }

    /// The backend of `label`.
    pub fn get(&self, label: &str) -> Option<Arc<dyn KvBackend>> {
        self.stores.get(label).cloned()
    }
}

/// Spin's SQLite-file backend.
pub struct SqliteKv {
    /// The single connection of this process to the file; access is serialised.
    conn: Mutex<rusqlite::Connection>,
}

const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                      ON CONFLICT (store, key) DO UPDATE SET value = excluded.value";
const SELECT: &str = "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2";
const DELETE: &str = "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2";

impl SqliteKv {
    /// Open (creating) the file and Spin's table.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::sqlite::configure_library();
        let conn = rusqlite::Connection::open(path)?;
        // Other processes (a second host, `spin-host cron`) may hold the write lock briefly.
        conn.busy_handler(Some(crate::sqlite::wait_while_busy))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A write the guest is told about survives power loss (the WAL is
        // synced at each commit), as with Spin's own SQLite store.
        conn.pragma_update(None, "synchronous", crate::sqlite::SYNCHRONOUS)?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (store, key))",
            [],
        )?;
        Ok(SqliteKv { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<MutexGuard<'_, rusqlite::Connection>, KvError> {
        self.conn.lock().map_err(|_| KvError("key-value store lock poisoned".into()))
    }

    /// Run `f` in a write transaction begun with `BEGIN IMMEDIATE`: it holds
    /// the file's write lock from its first statement, so a read-modify-write
    /// inside it cannot interleave with another process's.
    fn write_transaction<R>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R, KvError>) -> Result<R, KvError> {
        let mut conn = self.conn()?;
        let tx = rusqlite::Transaction::new(&mut conn, TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl BlockingKv for SqliteKv {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(SELECT)?;
        Ok(stmt.query_row((store, key), |r| r.get::<_, Vec<u8>>(0)).optional()?)
    }

    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.conn()?.prepare_cached(UPSERT)?.execute((store, key, value))?;
        Ok(())
    }

    fn delete(&self, store: &str, key: &str) -> Result<(), KvError> {
        self.conn()?.prepare_cached(DELETE)?.execute((store, key))?;
        Ok(())
    }

    fn exists(&self, store: &str, key: &str) -> Result<bool, KvError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?;
        Ok(stmt.query_row((store, key), |_| Ok(())).optional()?.is_some())
    }

    fn keys(&self, store: &str) -> Result<Vec<String>, KvError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?;
        let rows = stmt.query_map([store], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(SELECT)?;
        let mut out = Vec::new();
        for key in keys {
            if let Some(value) = stmt.query_row((store, key), |r| r.get::<_, Vec<u8>>(0)).optional()? {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }

    fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        self.write_transaction(|tx| {
            let mut stmt = tx.prepare_cached(UPSERT)?;
            for (key, value) in entries {
                stmt.execute((store, key, value))?;
            }
            Ok(())
        })
    }

    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), KvError> {
        self.write_transaction(|tx| {
            let mut stmt = tx.prepare_cached(DELETE)?;
            for key in keys {
                stmt.execute((store, key))?;
            }
            Ok(())
        })
    }

    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        self.write_transaction(|tx| {
            let current = tx.prepare_cached(SELECT)?.query_row((store, key), |r| r.get::<_, Vec<u8>>(0)).optional()?;
            let next = add(current.as_deref().map(decode_counter).transpose()?.unwrap_or(0), delta)?;
            tx.prepare_cached(UPSERT)?.execute((store, key, &next.to_le_bytes()[..]))?;
            Ok(next)
        })
    }

    fn compare_and_swap(&self, store: &str, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, KvError> {
        // One conditional statement each: SQLite runs it atomically against
        // every other connection to the file.
        let conn = self.conn()?;
        let changed = match expected {
            Some(old) => conn
                .prepare_cached("UPDATE spin_key_value SET value = ?4 WHERE store = ?1 AND key = ?2 AND value = ?3")?
                .execute((store, key, old, value))?,
            None => conn
                .prepare_cached("INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (store, key) DO NOTHING")?
                .execute((store, key, value))?,
        };
        Ok(changed == 1)
    }
}

/// Values by (store, key).
type MemoryMap = BTreeMap<(String, String), Vec<u8>>;

/// Process memory (`type = "spin"` without a `path`): gone on restart.
#[derive(Default)]
pub struct MemoryKv {
    /// Values by (store, key).
    map: Mutex<MemoryMap>,
}

impl MemoryKv {
    fn map(&self) -> Result<MutexGuard<'_, MemoryMap>, KvError> {
        self.map.lock().map_err(|_| KvError("key-value store lock poisoned".into()))
    }
}

fn entry(store: &str, key: &str) -> (String, String) {
    (store.to_string(), key.to_string())
}

impl BlockingKv for MemoryKv {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.map()?.get(&entry(store, key)).cloned())
    }

    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.map()?.insert(entry(store, key), value.to_vec());
        Ok(())
    }

    fn delete(&self, store: &str, key: &str) -> Result<(), KvError> {
        self.map()?.remove(&entry(store, key));
        Ok(())
    }

    fn keys(&self, store: &str) -> Result<Vec<String>, KvError> {
        Ok(self.map()?.keys().filter(|(s, _)| s == store).map(|(_, k)| k.clone()).collect())
    }

    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut map = self.map()?;
        let slot = map.entry(entry(store, key)).or_insert_with(|| 0i64.to_le_bytes().to_vec());
        let next = add(decode_counter(slot)?, delta)?;
        *slot = next.to_le_bytes().to_vec();
        Ok(next)
    }

    fn compare_and_swap(&self, store: &str, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, KvError> {
        let mut map = self.map()?;
        let k = entry(store, key);
        if map.get(&k).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        map.insert(k, value.to_vec());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends() -> (tempfile::TempDir, Vec<Arc<dyn BlockingKv>>) {
        let dir = tempfile::tempdir().unwrap();
        let sqlite: Arc<dyn BlockingKv> = Arc::new(SqliteKv::open(&dir.path().join("kv.db")).unwrap());
        (dir, vec![sqlite, Arc::new(MemoryKv::default())])
    }

    #[test]
    fn file_store_commits_survive_power_loss() {
        // WAL with synchronous=FULL (2): each commit syncs the WAL.
        let dir = tempfile::tempdir().unwrap();
        let kv = SqliteKv::open(&dir.path().join("kv.db")).unwrap();
        let conn = kv.conn().unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }

    #[test]
    fn crud_and_store_isolation() {
        let (_dir, all) = backends();
        for kv in all {
            assert_eq!(kv.get("a", "k").unwrap(), None);
            kv.set("a", "k", b"v1").unwrap();
            kv.set("a", "k", b"v2").unwrap();
            assert_eq!(kv.get("a", "k").unwrap().as_deref(), Some(&b"v2"[..]));
            assert_eq!(kv.get("b", "k").unwrap(), None, "stores are separate");
            assert!(kv.exists("a", "k").unwrap());
            assert_eq!(kv.keys("a").unwrap(), vec!["k".to_string()]);
            kv.delete("a", "k").unwrap();
            kv.delete("a", "k").unwrap();
            assert!(!kv.exists("a", "k").unwrap());
        }
    }

    #[test]
    fn batches_leave_out_absent_keys() {
        let (_dir, all) = backends();
        for kv in all {
            kv.set_many("s", &[("x".into(), b"1".to_vec()), ("y".into(), b"2".to_vec())]).unwrap();
            let mut got = kv.get_many("s", &["x".into(), "nope".into(), "y".into()]).unwrap();
            got.sort();
            assert_eq!(got, vec![("x".into(), b"1".to_vec()), ("y".into(), b"2".to_vec())]);
            kv.delete_many("s", &["x".into(), "nope".into()]).unwrap();
            assert_eq!(kv.keys("s").unwrap(), vec!["y".to_string()]);
        }
    }

    #[test]
    fn increment_and_cas() {
        let (_dir, all) = backends();
        for kv in all {
            assert_eq!(kv.increment("s", "n", 5).unwrap(), 5);
            assert_eq!(kv.increment("s", "n", -2).unwrap(), 3);
            assert_eq!(kv.get("s", "n").unwrap().unwrap(), 3i64.to_le_bytes().to_vec());
            kv.set("s", "text", b"abc").unwrap();
            assert!(kv.increment("s", "text", 1).unwrap_err().0.contains("not a 64-bit integer"));
            kv.set("s", "max", &i64::MAX.to_le_bytes()).unwrap();
            assert!(kv.increment("s", "max", 1).unwrap_err().0.contains("overflows"));

            assert!(kv.compare_and_swap("s", "lease", None, b"me").unwrap());
            assert!(!kv.compare_and_swap("s", "lease", None, b"you").unwrap(), "insert-only when expecting absence");
            assert!(!kv.compare_and_swap("s", "lease", Some(b"you"), b"x").unwrap());
            assert!(kv.compare_and_swap("s", "lease", Some(b"me"), b"me2").unwrap());
            assert_eq!(kv.get("s", "lease").unwrap().as_deref(), Some(&b"me2"[..]));
        }
    }

    #[test]
    fn increments_are_atomic_across_connections() {
        // Two backends on one file stand for two host processes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        let a = Arc::new(SqliteKv::open(&path).unwrap());
        let b = Arc::new(SqliteKv::open(&path).unwrap());
        let threads: Vec<_> = [a.clone(), b.clone(), a, b]
            .into_iter()
            .map(|kv| std::thread::spawn(move || (0..200).for_each(|_| { kv.increment("s", "n", 1).unwrap(); })))
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let check = SqliteKv::open(&path).unwrap();
        assert_eq!(decode_counter(&check.get("s", "n").unwrap().unwrap()).unwrap(), 800);
    }
}
