//! Profiling driver: the host's per-request cost for the trivial component
//! without TCP or HTTP parsing (`dispatch` called in a loop on one thread),
//! so `perf record` / callgrind see only instance setup, the guest and teardown.
//!
//! `cargo build --profile host -p spin-host --example micro`, then
//! `target/host/examples/micro [N]` (fixtures built: `cargo xtask build-wasm`).

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// The allocator the `spin-host` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(20000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("micro-{}", std::process::id()));
        let app = spin_host::app::App::load(spin_host::HostOptions {
            manifest: root.join("fixtures/apps/hello.toml"),
            state_dir: Some(dir),
            ..Default::default()
        }).await?;
        for round in 0..3 {
            let t = Instant::now();
            for _ in 0..n {
                let req = http::Request::get("http://127.0.0.1:1/hello").header("host", "127.0.0.1:1").body(Full::new(Bytes::new()).map_err(|e: std::convert::Infallible| -> wasmtime_wasi_http::Error { match e {} }))?;
                let route = app.router.route("/hello").unwrap();
                let resp = spin_host::triggers::http::dispatch(&app, req, route, "http://127.0.0.1:1/hello", "127.0.0.1:5555").await?;
                let body = resp.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?.to_bytes();
                assert_eq!(&body[..], b"hello");
            }
            println!("round {round}: {:.2} us/request", t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        anyhow::Ok(())
    })
}
