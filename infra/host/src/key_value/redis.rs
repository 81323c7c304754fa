//! Key-value on Redis (`[key_value_store.<label>] type = "redis"`, `url =
//! "redis://..."` or `rediss://` for TLS), with the semantics of Spin's own
//! Redis backend (`spin-key-value-redis`), so data and guests move between
//! this host, the Spin CLI and SpinKube unchanged:
//!
//! - keys are stored as they are, without a store prefix: the Redis
//!   database *is* the store (two labels on one URL share keys, as in Spin;
//!   give each label its own database number, `redis://host/1`, to keep
//!   them apart);
//! - `increment` is `INCRBY`, so a counter is stored as Redis stores
//!   integers: decimal text (`"42"`), not the 8 little-endian bytes of the
//!   SQLite file. Guests that only touch counters through `increment` (a
//!   `delta` of 0 reads one) see no difference;
//! - batches are `MGET` / `MSET` / `DEL`, listing keys is `SCAN` (Spin uses
//!   `KEYS *`, which stalls a busy server; the answer is the same).
//!
//! Compare-and-swap differs in mechanism, not in meaning: Spin `WATCH`es the
//! key on `current` and `MULTI`/`EXEC`s on `swap`, which needs a connection
//! per swap; here `swap` is one Lua script that compares and sets
//! atomically on the server, over the shared connection. A swap whose
//! `current` saw the key absent only inserts (Spin's `WATCH` gives the same).
//!
//! Calls are async over one multiplexed connection per URL (the redis
//! crate's `ConnectionManager`), which reconnects by itself; the first
//! connection is made on first use, as Spin does, so an app loads while its
//! Redis is still starting and requests fail (`other(...)`) until it is up.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::backend::{KvBackend, KvError};

/// How long to wait for a connection before failing the call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for any answer before failing the call.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keys asked for per `SCAN` step.
const SCAN_COUNT: u32 = 1000;

/// Write `ARGV[3]` if the key holds `ARGV[2]` (`ARGV[1] == "1"`) or is
/// absent (`ARGV[1] == "0"`); 1 when written. Lua strings are binary safe.
static COMPARE_AND_SET: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
",
    )
});

/// One Redis server (database) serving one or more store labels.
pub struct RedisKv {
    /// The multiplexed connection; clones share it.
    conn: ConnectionManager,
    /// `host:port/db`, for error messages (never the password).
    addr: String,
}

impl RedisKv {
    /// Prepare a client for `url`; connects on first use.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("invalid Redis URL: {e}"))?;
        let info = client.get_connection_info();
        let addr = format!("{}/{}", info.addr(), info.redis_settings().db());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("Redis at {addr}: {e}"))?;
        Ok(RedisKv { conn, addr })
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, KvError> {
        cmd.query_async(&mut self.conn.clone()).await.map_err(|e| self.error(e))
    }

    fn error(&self, e: redis::RedisError) -> KvError {
        KvError(format!("Redis at {}: {e}", self.addr))
    }
}

#[async_trait::async_trait]
impl KvBackend for RedisKv {
    async fn get(&self, _store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    async fn set(&self, _store: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.query(redis::cmd("SET").arg(key).arg(value)).await
    }

    async fn delete(&self, _store: &str, key: &str) -> Result<(), KvError> {
        self.query::<i64>(redis::cmd("DEL").arg(key)).await.map(drop)
    }

    async fn exists(&self, _store: &str, key: &str) -> Result<bool, KvError> {
        Ok(self.query::<i64>(redis::cmd("EXISTS").arg(key)).await? > 0)
    }

    async fn keys(&self, _store: &str) -> Result<Vec<String>, KvError> {
        // SCAN may return a key twice while the keyspace is rehashed.
        let mut seen = HashSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) =
                self.query(redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(SCAN_COUNT)).await?;
            seen.extend(batch);
            if next == 0 {
                return Ok(seen.into_iter().collect());
            }
            cursor = next;
        }
    }

    async fn get_many(&self, _store: &str, keys: Vec<String>) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self.query(redis::cmd("MGET").arg(&keys)).await?;
        Ok(keys.into_iter().zip(values).filter_map(|(k, v)| Some((k, v?))).collect())
    }

    async fn set_many(&self, _store: &str, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.query(redis::cmd("MSET").arg(&entries)).await
    }

    async fn delete_many(&self, _store: &str, keys: Vec<String>) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.query::<i64>(redis::cmd("DEL").arg(&keys)).await.map(drop)
    }

    async fn increment(&self, _store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        self.query(redis::cmd("INCRBY").arg(key).arg(delta)).await
    }

    async fn compare_and_swap(&self, _store: &str, key: &str, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError> {
        let mut call = COMPARE_AND_SET.key(key);
        match &expected {
            Some(old) => call.arg("1").arg(old.as_slice()),
            None => call.arg("0").arg(""),
        };
        call.arg(value);
        let written: i64 = call.invoke_async(&mut self.conn.clone()).await.map_err(|e| self.error(e))?;
        Ok(written == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use e2e::redis::RedisServer;

    #[tokio::test]
    async fn crud_batches_and_plain_keys() {
        let server = RedisServer::start();
        let kv = RedisKv::new(&server.url()).unwrap();
        assert_eq!(kv.get("default", "k").await.unwrap(), None);
        kv.set("default", "k", b"v1".to_vec()).await.unwrap();
        kv.set("default", "k", b"v2".to_vec()).await.unwrap();
        assert_eq!(kv.get("default", "k").await.unwrap().as_deref(), Some(&b"v2"[..]));
        assert!(kv.exists("default", "k").await.unwrap());
        // Spin's layout: the key is stored as it is, the label is not part of it.
        assert_eq!(server.get("k").as_deref(), Some(&b"v2"[..]));
        assert_eq!(kv.get("other-label", "k").await.unwrap().as_deref(), Some(&b"v2"[..]));
        kv.delete("default", "k").await.unwrap();
        kv.delete("default", "k").await.unwrap();
        assert!(!kv.exists("default", "k").await.unwrap());

        kv.set_many("s", vec![("x".into(), b"1".to_vec()), ("y".into(), vec![0, 255, 10])]).await.unwrap();
        let mut got = kv.get_many("s", vec!["x".into(), "nope".into(), "y".into()]).await.unwrap();
        got.sort();
        assert_eq!(got, vec![("x".into(), b"1".to_vec()), ("y".into(), vec![0, 255, 10])], "binary values survive");
        assert_eq!(kv.get_many("s", vec![]).await.unwrap(), vec![]);
        kv.set_many("s", vec![]).await.unwrap();
        kv.delete_many("s", vec![]).await.unwrap();
        kv.delete_many("s", vec!["x".into(), "nope".into()]).await.unwrap();
        assert_eq!(kv.keys("s").await.unwrap(), vec!["y".to_string()]);
    }

    #[tokio::test]
    async fn list_keys_walks_the_whole_keyspace() {
        let server = RedisServer::start();
        let kv = RedisKv::new(&server.url()).unwrap();
        let entries: Vec<(String, Vec<u8>)> = (0..2500).map(|i| (format!("key-{i}"), b"v".to_vec())).collect();
        kv.set_many("s", entries).await.unwrap();
        let keys = kv.keys("s").await.unwrap();
        assert_eq!(keys.len(), 2500);
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 2500);
    }

    #[tokio::test]
    async fn increment_is_incrby_and_cas_compares_bytes() {
        let server = RedisServer::start();
        let kv = RedisKv::new(&server.url()).unwrap();
        assert_eq!(kv.increment("s", "n", 5).await.unwrap(), 5);
        assert_eq!(kv.increment("s", "n", -7).await.unwrap(), -2);
        // Stored as Redis stores integers, as Spin's Redis backend leaves it.
        assert_eq!(server.get("n").as_deref(), Some(&b"-2"[..]));
        kv.set("s", "text", b"abc".to_vec()).await.unwrap();
        let e = kv.increment("s", "text", 1).await.unwrap_err();
        assert!(e.0.contains("not an integer"), "{e}");
        kv.set("s", "max", i64::MAX.to_string().into_bytes()).await.unwrap();
        assert!(kv.increment("s", "max", 1).await.is_err(), "overflow is an error, not a wrap");

        assert!(kv.compare_and_swap("s", "lease", None, b"me".to_vec()).await.unwrap());
        assert!(!kv.compare_and_swap("s", "lease", None, b"you".to_vec()).await.unwrap(), "insert-only when expecting absence");
        assert!(!kv.compare_and_swap("s", "lease", Some(b"you".to_vec()), b"x".to_vec()).await.unwrap());
        assert!(!kv.compare_and_swap("s", "lease", Some(b"m".to_vec()), b"x".to_vec()).await.unwrap(), "whole value, not a prefix");
        assert!(kv.compare_and_swap("s", "lease", Some(b"me".to_vec()), b"me2".to_vec()).await.unwrap());
        assert_eq!(kv.get("s", "lease").await.unwrap().as_deref(), Some(&b"me2"[..]));
        assert!(!kv.compare_and_swap("s", "gone", Some(b"x".to_vec()), b"y".to_vec()).await.unwrap(), "expecting a value, key absent");
        assert!(kv.compare_and_swap("s", "bin", None, vec![0, 1, 2]).await.unwrap());
        assert!(kv.compare_and_swap("s", "bin", Some(vec![0, 1, 2]), vec![3]).await.unwrap(), "binary expected values compare exactly");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn atomic_across_clients() {
        // Two backends on one server stand for two host processes.
        let server = RedisServer::start();
        let (a, b) = (std::sync::Arc::new(RedisKv::new(&server.url()).unwrap()), std::sync::Arc::new(RedisKv::new(&server.url()).unwrap()));
        let mut tasks = Vec::new();
        for (i, kv) in [a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut won = 0;
                for _ in 0..200 {
                    kv.increment("s", "n", 1).await.unwrap();
                    if kv.compare_and_swap("s", "lease", None, format!("w{i}").into_bytes()).await.unwrap() {
                        won += 1;
                    }
                }
                won
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += t.await.unwrap();
        }
        assert_eq!(wins, 1);
        assert_eq!(a.increment("s", "n", 0).await.unwrap(), 800);
    }

    #[tokio::test]
    async fn a_server_that_is_down_fails_calls_until_it_is_up() {
        let port = e2e::redis::free_port();
        let kv = RedisKv::new(&format!("redis://127.0.0.1:{port}")).unwrap();
        let e = kv.get("s", "k").await.unwrap_err();
        assert!(e.0.contains(&format!("127.0.0.1:{port}")), "{e}");
        let _server = RedisServer::start_on(port);
        let mut last = None;
        for _ in 0..50 {
            match kv.set("s", "k", b"v".to_vec()).await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(last, None, "the backend reconnects once the server is up");
        assert_eq!(kv.get("s", "k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn bad_urls_are_load_errors() {
        assert!(RedisKv::new("http://127.0.0.1").is_err());
    }
}
