//! Profiling driver: like `micro`, but `dispatch` runs from many tasks at
//! once on a two-worker multi-thread runtime (as under concurrent load), so
//! contention between requests shows up without TCP in the profile.
//!
//! `target/host/examples/micro_mt [N] [TASKS]`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// The allocator the `spin-host` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let tasks: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("micro-mt-{}", std::process::id()));
        let app = Arc::new(
            spin_host::app::App::load(spin_host::HostOptions {
                manifest: root.join("fixtures/apps/hello.toml"),
                state_dir: Some(dir),
                ..Default::default()
            })
            .await?,
        );
        for round in 0..3 {
            let t = Instant::now();
            let mut handles = Vec::new();
            for _ in 0..tasks {
                let app = app.clone();
                handles.push(tokio::spawn(async move {
                    for _ in 0..n / tasks {
                        let req = http::Request::get("http://127.0.0.1:1/hello")
                            .header("host", "127.0.0.1:1")
                            .body(Full::new(Bytes::new()).map_err(|e: std::convert::Infallible| -> wasmtime_wasi_http::Error { match e {} }))?;
                        let route = app.router.route("/hello").ok_or_else(|| anyhow::anyhow!("no route"))?;
                        let resp = spin_host::triggers::http::dispatch(&app, req, route, "http://127.0.0.1:1/hello", "127.0.0.1:5555").await?;
                        let body = resp.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?.to_bytes();
                        anyhow::ensure!(&body[..] == b"hello", "unexpected body");
                    }
                    anyhow::Ok(())
                }));
            }
            for h in handles {
                h.await??;
            }
            let per = t.elapsed().as_secs_f64() * 1e6 / (n / tasks * tasks) as f64;
            println!("round {round}: {per:.2} us wall/request, {:.2} us CPU/request on 2 workers", per * 2.0);
        }
        anyhow::Ok(())
    })
}
