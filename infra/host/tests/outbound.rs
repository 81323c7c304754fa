//! Outbound networking beyond HTTP, with Spin's semantics: `wasi:sockets`
//! TCP connections where `allowed_outbound_hosts` allows them (scheme `tcp`
//! or `*`, CIDR networks, port ranges, variable templates) and
//! `access-denied` elsewhere; outbound Redis against a real `redis-server`;
//! MQTT and PostgreSQL refusing destinations that are not allowed as Spin
//! does, and saying this host has no client for the others.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::*;
use e2e::redis::RedisServer;

/// A loopback TCP server answering each connection's first message with `pong:<message>`.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 64];
            let n = stream.read(&mut buf).unwrap_or(0);
            let _ = stream.write_all(format!("pong:{}", String::from_utf8_lossy(&buf[..n])).as_bytes());
        }
    });
    port
}

fn tcp(addr: String) -> Json {
    json!({ "op": "tcp", "addr": addr, "send": "ping" })
}

fn denied(result: &Json) -> bool {
    result["err"].as_str().is_some_and(|e| e.starts_with("connect:") && e.contains("PermissionDenied"))
}

fn outbound_app(port: u16) -> Start {
    Start::fixture("outbound.toml").variable("port", &port.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_follow_allowed_outbound_hosts() {
    let port = echo_server();
    let app = outbound_app(port).start().await;

    // One address and port: that address and port only.
    let r = app
        .results_at(
            "/tcp-one/",
            json!([
                tcp(format!("127.0.0.1:{port}")),
                tcp(format!("127.0.0.2:{port}")),
                tcp(format!("127.0.0.1:{}", port + 1)),
            ]),
        )
        .await;
    assert_eq!(r[0], ok(json!("pong:ping")), "an allowed address connects");
    assert!(denied(&r[1]), "another address is denied: {:?}", r[1]);
    assert!(denied(&r[2]), "another port is denied: {:?}", r[2]);

    // A CIDR network.
    let r = app
        .results_at("/tcp-cidr/", json!([tcp(format!("127.0.0.1:{port}")), tcp(format!("127.0.1.1:{port}"))]))
        .await;
    assert_eq!(r[0], ok(json!("pong:ping")), "an address in the network connects");
    assert!(denied(&r[1]), "an address outside the network is denied: {:?}", r[1]);

    // `*://{{ net }}:{{ port }}..65535`: scheme `*` covers tcp; the network
    // and the range's start come from variables.
    let r = app
        .results_at("/tcp-templated/", json!([tcp(format!("127.0.0.1:{port}")), tcp(format!("127.0.0.1:{}", port - 1))]))
        .await;
    assert_eq!(r[0], ok(json!("pong:ping")), "an address in the templated range connects");
    assert!(denied(&r[1]), "a port below the range is denied: {:?}", r[1]);

    // HTTP rules allow no sockets.
    let r = app.results_at("/closed/", json!([tcp(format!("127.0.0.1:{port}"))])).await;
    assert!(denied(&r[0]), "{:?}", r[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templated_network_changes_with_its_variable() {
    let port = echo_server();
    let app = outbound_app(port).variable("net", "10.0.0.0/8").start().await;
    let r = app.results_at("/tcp-templated/", json!([tcp(format!("127.0.0.1:{port}"))])).await;
    assert!(denied(&r[0]), "127.0.0.1 is outside 10.0.0.0/8: {:?}", r[0]);
}

fn redis_op(address: &str, calls: Json) -> Json {
    json!({ "op": "redis", "address": address, "calls": calls })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_redis_runs_commands_on_an_allowed_server() {
    let redis = RedisServer::start();
    let app = outbound_app(echo_server()).variable("redis", &redis.url()).start().await;
    let r = app
        .results_at(
            "/services/",
            json!([redis_op(
                &redis.url(),
                json!([
                    ["get", "k"],
                    ["set", "k", "v1"],
                    ["get", "k"],
                    ["incr", "n"],
                    ["incr", "n"],
                    ["sadd", "s", "a", "b", "c"],
                    ["sadd", "s", "a"],
                    ["srem", "s", "b", "zz"],
                    ["smembers", "s"],
                    ["sadd", "k", "x"],
                    ["incr", "k"],
                    ["del", "k", "n", "missing"],
                    ["publish", "channel", "hello"],
                    ["execute", "SET", "x", "7"],
                    ["execute", "INCRBY", "x", 5],
                    ["execute", "MGET", "x", "nope"],
                    ["execute", "NOSUCHCOMMAND"],
                ])
            )]),
        )
        .await;
    let calls = r[0]["ok"].as_array().cloned().unwrap_or_default();
    assert_eq!(calls.len(), 17, "{r:?}");
    assert_eq!(calls[0], ok(Json::Null), "a missing key is none");
    assert_eq!(calls[1], ok(Json::Null));
    assert_eq!(calls[2], ok(json!("v1")));
    assert_eq!(calls[3], ok(json!(1)), "incr starts from 0");
    assert_eq!(calls[4], ok(json!(2)));
    assert_eq!(calls[5], ok(json!(3)));
    assert_eq!(calls[6], ok(json!(0)), "already a member");
    assert_eq!(calls[7], ok(json!(1)));
    assert_eq!(calls[8], ok(json!(["a", "c"])));
    assert_eq!(calls[9], json!({ "err": "Error::TypeError" }), "SADD on a string is type-error");
    assert!(calls[10]["err"].as_str().is_some_and(|e| e.starts_with("Error::Other(")), "{:?}", calls[10]);
    assert_eq!(calls[11], ok(json!(2)), "del counts the keys it removed");
    assert_eq!(calls[12], ok(Json::Null));
    assert_eq!(calls[13], ok(json!([{ "status": "OK" }])));
    assert_eq!(calls[14], ok(json!([{ "int64": 12 }])));
    assert_eq!(calls[15], ok(json!([{ "binary": "12" }, { "nil": null }])), "arrays are flattened");
    assert!(calls[16]["err"].as_str().is_some_and(|e| e.starts_with("Error::Other(")), "{:?}", calls[16]);
    // The data is on the server, in plain keys.
    assert_eq!(redis.get("x"), Some(b"12".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_redis_refuses_hosts_not_allowed() {
    let redis = RedisServer::start();
    let app = outbound_app(echo_server()).variable("redis", &redis.url()).start().await;
    let other = format!("redis://127.0.0.1:{}", redis.url().rsplit(':').next().unwrap_or("0").parse::<u16>().unwrap_or(0) + 1);
    let r = app
        .results_at("/services/", json!([redis_op(&other, json!([])), redis_op("not a url", json!([]))]))
        .await;
    assert_eq!(r[0], json!({ "err": "Error::InvalidAddress" }), "a host not allowed is invalid-address, as Spin answers");
    assert_eq!(r[1], json!({ "err": "Error::InvalidAddress" }));
    let r = app.results_at("/closed/", json!([redis_op(&redis.url(), json!([["get", "k"]]))])).await;
    assert_eq!(r[0], json!({ "err": "Error::InvalidAddress" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_and_postgres_load_and_answer_as_spin() {
    let app = outbound_app(echo_server()).start().await;
    let r = app
        .results_at(
            "/services/",
            json!([
                { "op": "mqtt", "address": "mqtt://evil.example.com:1883" },
                { "op": "mqtt", "address": "mqtt://broker.example.com" },
                { "op": "pg2", "address": "postgres://user:pw@evil.example.com/app" },
                { "op": "pg3", "address": "host=db.example.com port=5433 user=app" },
                { "op": "pg4", "address": "host=/var/run/postgresql" },
                { "op": "pg2", "address": "postgres://user:pw@db.example.com/app" },
                { "op": "pg3", "address": "host=10.1.2.3 port=6543 user=app" },
                { "op": "pg4", "address": "postgresql://db.example.com:5432/app" },
            ]),
        )
        .await;
    let e = |i: usize| r[i]["err"].as_str().unwrap_or_default().to_string();
    assert_eq!(e(0), r#"Error::ConnectionFailed("address mqtt://evil.example.com:1883 is not permitted")"#);
    assert!(e(1).contains("ConnectionFailed") && e(1).contains("not supported by this host"), "{}", e(1));
    assert_eq!(e(2), r#"Error::ConnectionFailed("address postgres://evil.example.com is not permitted")"#);
    assert_eq!(e(3), r#"Error::ConnectionFailed("address postgres://db.example.com:5433 is not permitted")"#);
    assert_eq!(e(4), r#"Error::ConnectionFailed("Unix sockets are not supported on WebAssembly")"#);
    for i in 5..8 {
        assert!(e(i).contains("ConnectionFailed") && e(i).contains("not supported by this host"), "{i}: {}", e(i));
    }
    // Nothing is allowed where the manifest gives only HTTP.
    let r = app.results_at("/closed/", json!([{ "op": "pg4", "address": "postgres://db.example.com/app" }])).await;
    assert!(r[0]["err"].as_str().is_some_and(|e| e.contains("is not permitted")), "{:?}", r[0]);
}
