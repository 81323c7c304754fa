//! Spin's outbound MQTT (`fermyon:spin/mqtt@2.0.0`) and PostgreSQL
//! (`fermyon:spin/postgres@2.0.0`, `spin:postgres/postgres@3.0.0` and
//! `@4.0.0`): linked so that apps importing them load, with Spin's answers
//! to destinations `allowed_outbound_hosts` does not allow, but no client.
//!
//! `open` refuses a destination that is not allowed as Spin does,
//! `connection-failed("address <address> is not permitted")` (scheme
//! `mqtt`; for PostgreSQL each host of the connection string, URL or
//! `key=value` form, with scheme `postgres`, the message naming
//! `postgres://<host>[:<port>]`); an allowed destination is
//! `connection-failed("... is not supported by this host")`. No connection
//! is ever opened, so the other functions are never reached with a valid
//! handle.

use wasmtime::component::Resource;

use super::bindings::fermyon::spin::{mqtt, postgres as pg2, rdbms_types};
use super::bindings::spin::postgres3_0_0::postgres as pg3;
use super::bindings::spin::postgres4_0_0::postgres as pg4;
use super::OutboundView;

const MQTT_UNSUPPORTED: &str = "outbound MQTT is not supported by this host (spin-host)";
const PG_UNSUPPORTED: &str = "outbound PostgreSQL is not supported by this host (spin-host)";

/// Spin's refusal of an MQTT address, if `address` is not allowed.
fn mqtt_refusal(view: &OutboundView<'_>, address: &str) -> Option<String> {
    let allowed = match url::Url::parse(address) {
        Ok(url) => view.allowed.allows_parts(url.scheme(), url.host_str().unwrap_or_default(), url.port()),
        Err(_) => view.allowed.allows_url(&format!("mqtt://{address}")),
    };
    (!allowed).then(|| format!("address {address} is not permitted"))
}

/// Hosts (each with its port, if given) of a PostgreSQL connection string,
/// in URL form (`postgres://user:pw@h1:5432,h2/db`) or `key=value` form
/// (`host=h1,h2 port=5432 ...`).
fn pg_hosts(address: &str) -> Vec<(String, Option<u16>)> {
    let address = address.trim();
    let (hosts, ports): (Vec<String>, Vec<Option<u16>>) =
        if let Some(rest) = address.strip_prefix("postgres://").or_else(|| address.strip_prefix("postgresql://")) {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            authority
                .split(',')
                .filter(|h| !h.is_empty())
                .map(|h| {
                    let (host, port) = match h.strip_prefix('[') {
                        Some(v6) => match v6.split_once(']') {
                            Some((host, tail)) => (host.to_string(), tail.strip_prefix(':')),
                            None => (v6.to_string(), None),
                        },
                        None => match h.rsplit_once(':') {
                            Some((host, port)) => (host.to_string(), Some(port)),
                            None => (h.to_string(), None),
                        },
                    };
                    (host, port.and_then(|p| p.parse().ok()))
                })
                .unzip()
        } else {
            let mut hosts = Vec::new();
            let mut ports = Vec::new();
            for pair in address.split_whitespace() {
                if let Some((key, value)) = pair.split_once('=') {
                    let value = value.trim_matches('\'');
                    match key.trim() {
                        "host" => hosts = value.split(',').map(str::to_string).collect(),
                        "port" => ports = value.split(',').map(|p| p.parse().ok()).collect(),
                        _ => {}
                    }
                }
            }
            (hosts, ports)
        };
    let one_port = (ports.len() == 1).then(|| ports[0]).flatten();
    hosts.into_iter().enumerate().map(|(i, h)| (h, ports.get(i).copied().flatten().or(one_port))).collect()
}

/// Spin's refusal of a PostgreSQL connection string, if any host of it is not allowed.
fn pg_refusal(view: &OutboundView<'_>, address: &str) -> Option<String> {
    for (host, port) in pg_hosts(address) {
        if host.starts_with('/') {
            return Some("Unix sockets are not supported on WebAssembly".into());
        }
        if !view.allowed.allows_parts("postgres", &host, port) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            return Some(format!("address postgres://{host}{port} is not permitted"));
        }
    }
    None
}

impl mqtt::Host for OutboundView<'_> {}

impl mqtt::HostConnection for OutboundView<'_> {
    async fn open(
        &mut self,
        address: String,
        _username: String,
        _password: String,
        _keep_alive_interval_in_secs: u64,
    ) -> wasmtime::Result<Result<Resource<mqtt::Connection>, mqtt::Error>> {
        let why = mqtt_refusal(self, &address).unwrap_or_else(|| MQTT_UNSUPPORTED.into());
        Ok(Err(mqtt::Error::ConnectionFailed(why)))
    }

    async fn publish(
        &mut self,
        _c: Resource<mqtt::Connection>,
        _topic: String,
        _payload: Vec<u8>,
        _qos: mqtt::Qos,
    ) -> wasmtime::Result<Result<(), mqtt::Error>> {
        Ok(Err(mqtt::Error::Other(MQTT_UNSUPPORTED.into())))
    }

    async fn drop(&mut self, _c: Resource<mqtt::Connection>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl rdbms_types::Host for OutboundView<'_> {}

/// Implement one version of the PostgreSQL interface: `open` refuses, as
/// above; nothing else can be reached.
macro_rules! postgres_unsupported {
    ($m:ident) => {
        impl $m::Host for OutboundView<'_> {}

        impl $m::HostConnection for OutboundView<'_> {
            async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<$m::Connection>, $m::Error>> {
                let why = pg_refusal(self, &address).unwrap_or_else(|| PG_UNSUPPORTED.into());
                Ok(Err($m::Error::ConnectionFailed(why)))
            }

            async fn query(
                &mut self,
                _c: Resource<$m::Connection>,
                _statement: String,
                _params: Vec<$m::ParameterValue>,
            ) -> wasmtime::Result<Result<$m::RowSet, $m::Error>> {
                Ok(Err($m::Error::Other(PG_UNSUPPORTED.into())))
            }

            async fn execute(
                &mut self,
                _c: Resource<$m::Connection>,
                _statement: String,
                _params: Vec<$m::ParameterValue>,
            ) -> wasmtime::Result<Result<u64, $m::Error>> {
                Ok(Err($m::Error::Other(PG_UNSUPPORTED.into())))
            }

            async fn drop(&mut self, _c: Resource<$m::Connection>) -> wasmtime::Result<()> {
                Ok(())
            }
        }
    };
}

postgres_unsupported!(pg2);
postgres_unsupported!(pg3);
postgres_unsupported!(pg4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_hosts_from_both_forms() {
        assert_eq!(pg_hosts("postgres://u:p@db.example.com:6543/app"), vec![("db.example.com".into(), Some(6543))]);
        assert_eq!(
            pg_hosts("postgresql://a,b:7000/x?sslmode=require"),
            vec![("a".into(), None), ("b".into(), Some(7000))]
        );
        assert_eq!(
            pg_hosts("host=localhost user=postgres password=secret dbname=mydb"),
            vec![("localhost".into(), None)]
        );
        assert_eq!(pg_hosts("host=a,b port=5433"), vec![("a".into(), Some(5433)), ("b".into(), Some(5433))]);
        assert_eq!(pg_hosts("postgres://[::1]:5432/db"), vec![("::1".into(), Some(5432))]);
    }
}
