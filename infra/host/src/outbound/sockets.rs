//! `wasi:sockets` under `allowed_outbound_hosts`, as Spin allows them.
//!
//! TCP, UDP and IP name lookup are enabled; every address a socket uses is
//! checked ([`allows`]): a TCP connection needs a rule allowing
//! `tcp://<ip>:<port>` (scheme `tcp` or `*`, CIDR ranges and variable
//! templates as for any rule), a UDP datagram sent or received needs one
//! allowing `udp://<ip>:<port>`. Components cannot listen: binding is
//! allowed only to the unspecified address with port 0 (the bind the OS
//! does before a connection or a first datagram), or for UDP to an
//! address a `udp` rule allows, as Spin checks UDP binds; listening and
//! accepting are always denied. A denied address is `access-denied` for
//! the guest, before any system call.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use spin_host_config::outbound::AllowedHosts;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

/// Whether a socket may use `addr` for `purpose` under `hosts`.
pub fn allows(hosts: &AllowedHosts, addr: SocketAddr, purpose: SocketAddrUse) -> bool {
    let ephemeral = addr.ip().is_unspecified() && addr.port() == 0;
    let rule = |scheme: &str| hosts.allows_parts(scheme, &addr.ip().to_string(), Some(addr.port()));
    match purpose {
        SocketAddrUse::TcpBind => ephemeral,
        SocketAddrUse::TcpConnect => rule("tcp"),
        SocketAddrUse::UdpBind => ephemeral || rule("udp"),
        SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => rule("udp"),
        SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
    }
}

/// Enable sockets on `wasi` with [`allows`] over `hosts` as the address check.
pub fn install(wasi: &mut WasiCtxBuilder, hosts: Arc<AllowedHosts>) {
    wasi.allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
    wasi.socket_addr_check(move |addr, purpose| -> Pin<Box<dyn Future<Output = bool> + Send + Sync>> {
        Box::pin(std::future::ready(allows(&hosts, addr, purpose)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(rules: &[&str]) -> AllowedHosts {
        let rules: Vec<String> = rules.iter().map(ToString::to_string).collect();
        AllowedHosts::parse(&rules, &|t| Ok(t.replace("{{ port }}", "7000"))).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tcp_connect_follows_rules() {
        let h = hosts(&["tcp://127.0.0.1:5000", "*://10.1.0.0/16:6000..6002", "tcp://192.168.0.0/24:{{ port }}"]);
        assert!(allows(&h, addr("127.0.0.1:5000"), SocketAddrUse::TcpConnect));
        assert!(!allows(&h, addr("127.0.0.1:5001"), SocketAddrUse::TcpConnect));
        assert!(!allows(&h, addr("127.0.0.2:5000"), SocketAddrUse::TcpConnect));
        assert!(allows(&h, addr("10.1.200.3:6001"), SocketAddrUse::TcpConnect));
        assert!(!allows(&h, addr("10.1.200.3:6002"), SocketAddrUse::TcpConnect));
        assert!(allows(&h, addr("192.168.0.9:7000"), SocketAddrUse::TcpConnect));
        // A `tcp` rule is not a `udp` rule.
        assert!(!allows(&h, addr("127.0.0.1:5000"), SocketAddrUse::UdpSend));
        assert!(allows(&h, addr("10.1.0.1:6000"), SocketAddrUse::UdpSend));
    }

    #[test]
    fn no_listening() {
        let h = hosts(&["*://*:*"]);
        assert!(allows(&h, addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(!allows(&h, addr("0.0.0.0:8080"), SocketAddrUse::TcpBind));
        assert!(!allows(&h, addr("127.0.0.1:0"), SocketAddrUse::TcpListen));
        assert!(!allows(&h, addr("127.0.0.1:9"), SocketAddrUse::TcpAccept));
        assert!(allows(&h, addr("[::1]:9"), SocketAddrUse::TcpConnect));
        assert!(!allows(&AllowedHosts::none(), addr("127.0.0.1:9"), SocketAddrUse::TcpConnect));
    }
}
