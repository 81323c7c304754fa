//! Spin's outbound Redis (`fermyon:spin/redis@2.0.0`) over the `redis`
//! crate, as Spin answers it.
//!
//! `open` checks the address against `allowed_outbound_hosts` with scheme
//! `redis` (or the address's own scheme, `rediss://` for TLS): a host that is
//! not allowed, or an address that does not parse, is `invalid-address`.
//! Each `open` is one multiplexed connection, closed when the guest drops
//! it. Redis errors are `other(<the Redis error>)`, except a `SADD` on a
//! key of another type, `type-error`. `execute` flattens nested arrays and
//! sets into one list, as Spin does: `nil`, `status` (simple strings and
//! `OK`), `int64` (integers and booleans) and `binary` (bulk strings,
//! doubles and big numbers as their decimal text); maps, attributes and
//! push messages are `other`.

use redis::aio::MultiplexedConnection;
use redis::Value;
use wasmtime::component::Resource;

use super::bindings::fermyon::spin::redis::{self as v2, Error, RedisParameter, RedisResult};
use super::OutboundView;

/// An open connection (the guest's `connection` resource).
pub struct RedisConnection(MultiplexedConnection);

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

/// Whether `address` is allowed, with `redis` as the scheme it implies.
fn allowed(view: &OutboundView<'_>, address: &str) -> bool {
    match url::Url::parse(address) {
        Ok(url) => view.allowed.allows_parts(url.scheme(), url.host_str().unwrap_or_default(), url.port()),
        Err(_) => false,
    }
}

/// Spin's flattening of a reply into `execute`'s results.
fn flatten(value: Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(i) => out.push(RedisResult::Int64(i)),
        Value::BulkString(bytes) => out.push(RedisResult::Binary(bytes)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".into())),
        Value::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                flatten(item, out)?;
            }
        }
        Value::Map(_) => return Err(Error::Other("Redis Map type is not supported".into())),
        Value::Attribute { .. } => return Err(Error::Other("Redis Attribute type is not supported".into())),
        Value::VerbatimString { .. } => {
            return Err(Error::Other("Redis string with format attribute is not supported".into()))
        }
        Value::Push { .. } => return Err(Error::Other("Redis Pub/Sub types are not supported".into())),
        Value::ServerError(e) => return Err(Error::Other(format!("{e:?}"))),
        #[allow(unreachable_patterns)]
        other => out.push(RedisResult::Binary(format!("{other:?}").into_bytes())),
    }
    Ok(())
}

impl OutboundView<'_> {
    fn redis(&self, connection: &Resource<RedisConnection>) -> wasmtime::Result<MultiplexedConnection> {
        Ok(self.table.get(connection)?.0.clone())
    }
}

async fn query<T: redis::FromRedisValue>(mut conn: MultiplexedConnection, cmd: redis::Cmd) -> Result<T, Error> {
    cmd.query_async(&mut conn).await.map_err(other)
}

impl v2::Host for OutboundView<'_> {}

impl v2::HostConnection for OutboundView<'_> {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        if !allowed(self, &address) {
            return Ok(Err(Error::InvalidAddress));
        }
        let Ok(client) = redis::Client::open(address.as_str()) else {
            return Ok(Err(Error::InvalidAddress));
        };
        match client.get_multiplexed_async_connection().await {
            Ok(conn) => Ok(Ok(self.table.push(RedisConnection(conn))?)),
            Err(e) => Ok(Err(other(e))),
        }
    }

    async fn publish(&mut self, c: Resource<RedisConnection>, channel: String, payload: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        Ok(query::<i64>(conn, cmd).await.map(drop))
    }

    async fn get(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        Ok(query(conn, cmd).await)
    }

    async fn set(&mut self, c: Resource<RedisConnection>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        Ok(query(conn, cmd).await)
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<i64, Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("INCRBY");
        cmd.arg(key).arg(1);
        Ok(query(conn, cmd).await)
    }

    async fn del(&mut self, c: Resource<RedisConnection>, keys: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("DEL");
        cmd.arg(keys);
        Ok(query(conn, cmd).await)
    }

    async fn sadd(&mut self, c: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        let mut conn = self.redis(&c)?;
        let mut cmd = redis::cmd("SADD");
        cmd.arg(key).arg(values);
        Ok(cmd.query_async(&mut conn).await.map_err(|e| {
            if e.code() == Some("WRONGTYPE") {
                Error::TypeError
            } else {
                other(e)
            }
        }))
    }

    async fn smembers(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(key);
        Ok(query(conn, cmd).await)
    }

    async fn srem(&mut self, c: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd("SREM");
        cmd.arg(key).arg(values);
        Ok(query(conn, cmd).await)
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let conn = self.redis(&c)?;
        let mut cmd = redis::cmd(&command);
        for argument in arguments {
            match argument {
                RedisParameter::Int64(i) => cmd.arg(i),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: Value = match query(conn, cmd).await {
            Ok(value) => value,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = Vec::new();
        Ok(flatten(value, &mut out).map(|()| out))
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
