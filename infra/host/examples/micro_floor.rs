//! Profiling driver: the floor's per-request cost for the trivial component
//! without TCP or HTTP parsing (`spin_host::floor`: wasmtime-wasi-http alone,
//! a fresh store and instance per request), to set beside
//! `target/host/examples/micro` (the host's own `dispatch`).
//!
//! `cargo build --profile host -p spin-host --example micro_floor`, then
//! `target/host/examples/micro_floor [N] [--spin-headers]` (fixtures built:
//! `cargo xtask build-wasm`). `--spin-headers` adds the seven `spin-*`
//! request headers the host sets, so the guest handles the same request as
//! under the host.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::WasiHttpView as _;

/// The allocator the `spin-host` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The headers the host adds for the hello app's `/...` route.
const SPIN_HEADERS: [(&str, &str); 7] = [
    ("spin-full-url", "http://127.0.0.1:1/hello"),
    ("spin-path-info", "/hello"),
    ("spin-matched-route", "/..."),
    ("spin-base-path", "/"),
    ("spin-raw-component-route", "/..."),
    ("spin-component-route", ""),
    ("spin-client-addr", "127.0.0.1:5555"),
];

fn main() -> anyhow::Result<()> {
    let mut n = 20000;
    let mut spin_headers = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--spin-headers" => spin_headers = true,
            count => n = count.parse()?,
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (engine, pre) = spin_host::floor::pre_instantiate(&root.join("../../target/wasm32-wasip2/release/fixture_hello.wasm"))?;
        for round in 0..3 {
            let started = Instant::now();
            for _ in 0..n {
                let mut store = spin_host::floor::new_store(&engine);
                let mut req = http::Request::get("http://127.0.0.1:1/hello").header("host", "127.0.0.1:1");
                if spin_headers {
                    for (name, value) in SPIN_HEADERS {
                        req = req.header(name, value);
                    }
                }
                let req = req.body(Full::new(Bytes::new()).map_err(|e: std::convert::Infallible| -> wasmtime_wasi_http::Error { match e {} }))?;
                let (sender, receiver) = tokio::sync::oneshot::channel();
                let request = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
                let outparam = store.data_mut().http().new_response_outparam(sender)?;
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await?;
                let body = receiver.await??.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?.to_bytes();
                anyhow::ensure!(&body[..] == b"hello", "unexpected body {body:?}");
            }
            println!("round {round}: {:.2} us/request", started.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        anyhow::Ok(())
    })
}
